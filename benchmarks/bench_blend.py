"""Part ``blend``: the runtime's Numba strip kernels against the same maths in numpy."""

from __future__ import annotations

from benchmarks.context import Context
from benchmarks.harness import Contender, compare, median_of
from benchmarks.report import Report, Table, runs_json

__all__ = ["run"]


def run(ctx: Context) -> Report:
    """Blend (accumulate + finalize) and batch filling, Numba vs numpy, on full-width strips."""
    reps = ctx.n_reps(3)
    h, w = ctx.scene_shape(1.0)
    folder = ctx.scene(1.0)
    tile, padding = (128, 32) if ctx.quick else (256, 64)
    strips = 2 if ctx.quick else -(-h // (tile - 2 * padding))  # every strip of the scene
    report = Report("blend", "Numba blending kernels vs numpy twins", ctx.quick)
    report.params = {"scene": f"{h} x {w}", "tile": tile, "padding": padding, "strips": strips,
                     "reps": reps}  # fmt: skip
    base = {"scene": str(folder), "tile": tile, "padding": padding, "strips": strips}
    table = Table(
        f"Strip kernels over {strips} full-width strips ({strips * (tile - 2 * padding)} x {w} "
        f"px), tile {tile}, padding {padding}, hann weights; median of {reps}",
        ["kernel", "numba s", "numpy s", "numba Mpx/s", "numpy Mpx/s", "numba speed-up"],
    )
    for blend in ("hann",) if ctx.quick else ("hann", "crop"):
        contenders = [
            Contender(f"numba-{blend}", "tasks_blend:blend_kernels",
                      {**base, "backend": "numba", "blend": blend}),
            Contender(f"numpy-{blend}", "tasks_blend:blend_kernels",
                      {**base, "backend": "numpy", "blend": blend}),
        ]  # fmt: skip
        runs = compare(contenders, reps, progress=ctx.progress)
        report.data[f"runs_{blend}"] = runs_json(runs)
        nb, npy = runs[f"numba-{blend}"], runs[f"numpy-{blend}"]
        mpx = median_of(nb, "mpx")
        for label, key in (("blend: accumulate + finalize", "blend_s"),
                           ("validity + fill batch (normalise tiles)", "fill_s"),
                           ("all three", "total_s")):  # fmt: skip
            a, b = median_of(nb, key), median_of(npy, key)
            table.rows.append([f"{label} ({blend})", a, b, mpx / a, mpx / b, b / a])
        table.notes.append(
            f"{blend}: first call (JIT compile or cache load) numba "
            f"{median_of(nb, 'first_call_s'):.2f} s, numpy {median_of(npy, 'first_call_s'):.2f} s; "
            f"peak RSS numba {median_of(nb, 'peak_rss_mb'):.0f} MB, numpy "
            f"{median_of(npy, 'peak_rss_mb'):.0f} MB"
        )
    table.notes.append(
        "Mpx/s counts output (scene) pixels; each is covered by (tile/stride)^2 tiles, "
        "so the kernels touch that many more tile pixels."
    )
    report.tables.append(table)
    report.tables.append(_stores(ctx, base, reps, strips, w))
    return report


def _stores(ctx: Context, base: dict[str, object], reps: int, strips: int, w: int) -> Table:
    """The Numba tile cut with non-temporal stores (the runtime's) and with ordinary ones."""
    contenders = [
        Contender(f"cut-{stores}", "tasks_blend:blend_kernels",
                  {**base, "backend": "numba", "stores": stores, "n_batches": 3})
        for stores in ("streamed", "ordinary")
    ]  # fmt: skip
    runs = compare(contenders, reps, progress=ctx.progress)
    t = Table(
        f"Tile cut only (cut_tiles) over the same {strips} strips, cycling 3 batch buffers "
        f"(the 2-core pipeline's); median of {reps}",
        ["stores", "cut s", "GB/s written", "x streamed"],
    )
    gb = median_of(runs["cut-streamed"], "cut_gb")
    first = median_of(runs["cut-streamed"], "cut_s")
    for stores in ("streamed", "ordinary"):
        s = median_of(runs[f"cut-{stores}"], "cut_s")
        t.rows.append([stores, s, gb / s, s / first])
    t.notes.append(
        "streamed: non-temporal stores into 64-byte-aligned buffers (x86-64; what the runtime "
        "does); ordinary: the same kernel compiled with plain stores (every line read first)"
    )
    return t

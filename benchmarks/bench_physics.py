"""Part ``physics``: the LST chain's kernels (Numba against the numpy twins) and whole scenes."""

from __future__ import annotations

from benchmarks.context import Context
from benchmarks.harness import Contender, compare, median_of
from benchmarks.report import Report, Table, runs_json

__all__ = ["run"]


def run(ctx: Context) -> Report:
    """Kernels in memory (Mpx/s) and whole scenes end to end (s, peak RSS), numba vs numpy."""
    reps = ctx.n_reps(3)
    shape = ctx.scene_shape(1.0)
    folder = str(ctx.scene(1.0))
    report = Report("physics", "Physics chain: Numba vs numpy", ctx.quick)
    report.params = {"scene": f"{shape[0]} x {shape[1]}", "reps": reps}
    inner = 1 if ctx.quick else 3
    kern = compare(
        [Contender(f"kernels-{e}", "tasks_physics:lst_kernels",
                   {"engine": e, "scene": folder, "reps": inner}) for e in ("numba", "numpy")],
        reps, progress=ctx.progress,
    )  # fmt: skip
    report.data["runs_kernels"] = runs_json(kern)
    nb, npy = kern["kernels-numba"], kern["kernels-numpy"]
    t = Table(
        f"Kernels on data in memory, {shape[0]} x {shape[1]} px scene; median of {reps} "
        f"processes x {inner} calls",
        ["kernel", "numba s", "numpy s", "numba Mpx/s", "numpy Mpx/s", "speed-up"],
    )
    for label, key, mkey in (
        ("LST chain, whole scene (B4, B5, B10 DN -> LST K)", "lst_s", "lst_mpx_per_s"),
        ("calibrate composite, 8 bands x 512 rows (DN -> TOA/BT)", "calibrate_s",
         "calibrate_mpx_per_s"),
    ):  # fmt: skip
        a, b = median_of(nb, key), median_of(npy, key)
        t.rows.append([label, a, b, median_of(nb, mkey), median_of(npy, mkey), b / a])
    t.notes.append(
        f"first call (JIT compile or cache load) numba LST {median_of(nb, 'lst_first_s'):.2f} s; "
        "numpy = the same functions with engine='numpy' (the plain-numpy twins)"
    )
    report.tables.append(t)
    e2e = compare(
        [Contender(p, "tasks_physics:write_scene",
                   {"product": p, "scene": folder, "dst": str(ctx.work / f"physics-{p}.tif")})
         for p in ("lst", "composite")],
        reps, progress=ctx.progress,
    )  # fmt: skip
    report.data["runs_e2e"] = runs_json(e2e)
    t2 = Table(
        f"Whole scene end to end ({shape[0]} x {shape[1]} px): compressed bands in, compressed "
        f"GeoTIFF out; median of {reps}",
        ["product", "wall s", "Mpx/s", "peak RSS MB", "output MB"],
    )
    for p, label in (("lst", "write_lst"), ("composite", "write_composite (toa)")):
        rs = e2e[p]
        t2.rows.append([label, median_of(rs, "wall_s"), median_of(rs, "mpx_per_s"),
                        median_of(rs, "peak_rss_mb"), median_of(rs, "output_mb")])  # fmt: skip
    report.tables.append(t2)
    report.data["summary"] = {
        "lst_kernel_mpx_per_s_numba": median_of(nb, "lst_mpx_per_s"),
        "lst_kernel_mpx_per_s_numpy": median_of(npy, "lst_mpx_per_s"),
        "write_lst_s": median_of(e2e["lst"], "wall_s"),
        "write_lst_peak_rss_mb": median_of(e2e["lst"], "peak_rss_mb"),
    }
    return report

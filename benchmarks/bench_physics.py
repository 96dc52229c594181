"""Part ``physics``: the LST chain and the composite, Numba against the numpy twins."""

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
        "goal: kernels >= 50 Mpx/s"
    )
    report.tables.append(t)
    e2e_contenders = [
        Contender(f"{p}-{e}", "tasks_physics:write_scene",
                  {"product": p, "engine": e, "scene": folder,
                   "dst": str(ctx.work / f"physics-{p}-{e}.tif")})
        for p, e in (("lst", "numba"), ("lst", "numpy"), ("composite", "numba"))
    ]  # fmt: skip
    e2e = compare(e2e_contenders, reps, progress=ctx.progress)
    report.data["runs_e2e"] = runs_json(e2e)
    t2 = Table(
        f"Whole scene end to end ({shape[0]} x {shape[1]} px): compressed bands in, compressed "
        f"GeoTIFF out; median of {reps}",
        ["product", "engine", "wall s", "Mpx/s", "peak RSS MB", "output MB", "numpy / numba"],
    )
    for p in ("lst", "composite"):
        ref = median_of(e2e[f"{p}-numba"], "wall_s")
        for e in ("numba", "numpy"):
            if f"{p}-{e}" not in e2e:
                continue
            rs = e2e[f"{p}-{e}"]
            t2.rows.append([
                "write_lst" if p == "lst" else "write_composite (toa)", e, median_of(rs, "wall_s"),
                median_of(rs, "mpx_per_s"), median_of(rs, "peak_rss_mb"),
                median_of(rs, "output_mb"), median_of(rs, "wall_s") / ref,
            ])  # fmt: skip
    t2.notes.append(
        "goal: write_lst of a full scene < 15 s and < 1 GB peak; numpy = the writer with "
        "its Numba kernel swapped for the numpy twin (same signature), in that process only; "
        "the composite's numpy twin is compared in memory above (its e2e run is left out "
        "to keep the full run short)"
    )
    report.tables.append(t2)
    report.data["summary"] = {
        "lst_kernel_mpx_per_s_numba": median_of(nb, "lst_mpx_per_s"),
        "lst_kernel_mpx_per_s_numpy": median_of(npy, "lst_mpx_per_s"),
        "write_lst_s": median_of(e2e["lst-numba"], "wall_s"),
        "write_lst_peak_rss_mb": median_of(e2e["lst-numba"], "peak_rss_mb"),
    }
    return report

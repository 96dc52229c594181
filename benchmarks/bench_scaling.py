"""Part ``scaling``: time and peak memory against scene area (1/16, 1/4, 1, 4 full scenes),
and prediction against scene height at a full scene's width (1/4, 1, 2 full heights).

Prediction (default model, default padding, scene folder in, GeoTIFF out) and the
physics chain (``write_lst``) on mirror-tiled scenes of each size. Streaming
should make time grow linearly with area (constant s/Mpx); the runtime's buffers
are a few ``tile x width`` arrays, so its peak memory grows with the width of a
scene but must not grow with its height (the height series checks that). Every scene, the 4x one included (15,642 x 15,322 px), is a real folder of
compressed GeoTIFF bands. One repetition per size by default (a 4x scene takes
minutes); ``--reps`` raises it.
"""

from __future__ import annotations

from benchmarks import scenes
from benchmarks.context import Context
from benchmarks.harness import Contender, compare, median_of
from benchmarks.report import Report, Table, runs_json
from benchmarks.scenes import SCALES

HEIGHTS = {"1/4": 0.25, "1": 1.0, "2": 2.0}
"""Scene heights of the height series, as fractions of a full scene's (full width)."""

__all__ = ["run"]


def run(ctx: Context) -> Report:
    """Time and peak RSS of prediction and write_lst at each scale."""
    reps = ctx.n_reps(1)
    spec = ctx.default_model()
    padding = spec.tile // 4
    report = Report("scaling", "Scaling with scene area", ctx.quick)
    report.params = {"reps": reps, "model": spec.as_dict(), "padding": padding,
                     "scales": list(SCALES)}  # fmt: skip
    contenders = []
    shapes = {}
    for label, area in SCALES.items():
        folder = ctx.scene(area)
        shapes[label] = ctx.scene_shape(area)
        contenders.append(Contender(
            f"predict-{label}", "tasks_predict:predict_e2e",
            {"model": spec.onnx, "src": str(folder), "dst": str(ctx.work / "scaling-pred.tif"),
             "padding": padding},
        ))  # fmt: skip
        contenders.append(Contender(
            f"write_lst-{label}", "tasks_physics:write_scene",
            {"product": "lst", "engine": "numba", "scene": str(folder),
             "dst": str(ctx.work / "scaling-lst.tif")},
        ))  # fmt: skip
    tall = {}
    for label, k in HEIGHTS.items():
        h, w = ctx.scene_shape(1.0)
        tall[label] = (max(64, round(h * k)), w)
        if k == 1.0:
            continue  # the area series' full scene
        folder = scenes.scene_folder(ctx.cache, tall[label], progress=ctx.progress)
        contenders.append(Contender(
            f"predict-h{label}", "tasks_predict:predict_e2e",
            {"model": spec.onnx, "src": str(folder), "dst": str(ctx.work / "scaling-pred.tif"),
             "padding": padding},
        ))  # fmt: skip
    runs = compare(contenders, reps, progress=ctx.progress)
    report.data["runs"] = runs_json(runs)
    for what, title in (("predict", f"Prediction ({spec.label}, padding {padding})"),
                        ("write_lst", "Physics chain (write_lst)")):  # fmt: skip
        t = Table(
            f"{title}; median of {reps}",
            ["scene area", "size px", "Mpx", "run s", "s per Mpx", "Mpx/s", "peak RSS MB",
             "time vs 1x", "RSS vs 1x"],
        )  # fmt: skip
        ref = runs[f"{what}-1"]
        for label in SCALES:
            rs = runs[f"{what}-{label}"]
            h, w = shapes[label]
            mpx = h * w / 1e6
            run_s = median_of(rs, "run_s")
            t.rows.append([
                f"{label} x", f"{h} x {w}", mpx, run_s, run_s / mpx, mpx / run_s,
                median_of(rs, "peak_rss_mb"), run_s / median_of(ref, "run_s"),
                median_of(rs, "peak_rss_mb") / median_of(ref, "peak_rss_mb"),
            ])  # fmt: skip
        t.notes.append("linear time: constant s per Mpx; flat memory: RSS ratio ~1 at every size")
        report.tables.append(t)
    t = Table(
        f"Prediction ({spec.label}, padding {padding}) against scene height at full width; "
        f"median of {reps}",
        ["scene height", "size px", "Mpx", "run s", "s per Mpx", "peak RSS MB", "RSS vs 1x"],
    )  # fmt: skip
    ref = runs["predict-1"]
    for label in HEIGHTS:
        rs = runs["predict-1" if label == "1" else f"predict-h{label}"]
        h, w = tall[label]
        run_s = median_of(rs, "run_s")
        t.rows.append([
            f"{label} x", f"{h} x {w}", h * w / 1e6, run_s, run_s / (h * w / 1e6),
            median_of(rs, "peak_rss_mb"),
            median_of(rs, "peak_rss_mb") / median_of(ref, "peak_rss_mb"),
        ])  # fmt: skip
    t.notes.append("streaming: peak memory must not grow with height (RSS ratio ~1)")
    report.tables.append(t)
    if spec.stand_in:
        report.notes.append(f"The default model is a STAND-IN: {spec.label}.")
    return report

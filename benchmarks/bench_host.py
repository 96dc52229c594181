"""Part ``host``: the pipeline's host side alone, with a null model, on a full scene.

The null model (:mod:`benchmarks.null_model`) carries the shipped model's metadata
and returns zeros, so ONNX Runtime does next to nothing and what is left is
decoding, calibration, normalisation, tile copies, blending, compression and
writing. Contenders, alternating:

* ``scene folder, 1 reader``: the input read and calibrated by one thread (the
  pipeline before parallel readers);
* ``scene folder``: as a user runs it (one reader per usable core, at most 8,
  each decoding its own columns, blocks decoded by :mod:`pix2lst.geo.decode`);
* ``scene folder, GDAL decoding``: the same with GDAL decoding the blocks;
* ``scene folder, tile 512``: the same cut into tiles twice the model's size (batch 2,
  the same pixels per batch): 1.8x the scene's pixels go through the tiles instead of 4x;
* ``scene folder, doing less``: not a product setting; the three ways the product could
  do less work that earlier runs measured one by one, together, to show what the owner's
  choice would buy: tile 512 (as above), the output compressed by ZSTD without the
  floating-point predictor (a larger file), and checked complete at the end but not read
  back (``predict_e2e(output="lean")``);
* ``composite``: the same from the 8-band float32 composite;
* ``scene folder, device tiling``: whole strips handed to ORT, which cuts the tiles
  itself (``tiling="device"``, what ``"auto"`` does on CUDA; on the CPU the host's
  copies are cheaper, and this row measures by how much);
* ``GPU layout``: the same sized and threaded as on the 16-core GPU box (device tiling,
  the DN upload, normal priority, 16 cores) with the CPU provider standing in for the
  GPU (``as_gpu``): its wall time is ORT's on this CPU and says nothing, its threads'
  CPU times (the "by thread" table) say which host stage a GPU box would wait on.

Figures: wall seconds of ``predict_file`` and the process's CPU seconds (all
threads, ``getrusage``) over the same span. Goal (issue 11, 2-core machine):
<= 4 s wall and <= 7 core-s for the scene folder.

A second table runs the same work with no overlap: each stage alone over the scene, one
after another, in a process sized for one core (:mod:`benchmarks.tasks_floor`). Its sum
is what the host side costs without competing for cores and caches: the pipeline's
core-s can come near it, not below, unless a stage does less.
"""

from __future__ import annotations

from typing import Any

from benchmarks.context import Context
from benchmarks.harness import Contender, compare, median_of, run_task
from benchmarks.null_model import null_model
from benchmarks.report import STEAL_NOTE, Report, Table, runs_json
from benchmarks.thread_clock import roles_table

__all__ = ["run"]


def run(ctx: Context) -> Report:
    """The null model through the pipeline: wall and core seconds per input kind."""
    reps = ctx.n_reps(3)
    report = Report("host", "Host side alone (null model)", ctx.quick)
    spec = ctx.default_model()
    model = null_model(spec.onnx, ctx.cache / "models" / f"null_{spec.key}_t{spec.tile}_hw.onnx")
    shape = ctx.scene_shape(1.0)
    folder = ctx.scene(1.0)
    comp = ctx.composite(folder)
    padding = spec.tile // 4
    report.params = {"reps": reps, "model": str(model), "like": spec.as_dict(),
                     "padding": padding, "batch_size": 8}  # fmt: skip
    common = {"model": str(model), "padding": padding, "providers": "cpu", "sessions": 1}
    contenders = [
        Contender("scene-1-reader", "tasks_predict:predict_e2e",
                  {**common, "src": str(folder), "dst": str(ctx.work / "host-1.tif"), "readers": 1}),
        Contender("scene", "tasks_predict:predict_e2e",
                  {**common, "src": str(folder), "dst": str(ctx.work / "host-n.tif")}),
        Contender("scene-gdal", "tasks_predict:predict_e2e",
                  {**common, "src": str(folder), "dst": str(ctx.work / "host-g.tif"),
                   "decoder": "gdal"}),
        Contender("scene-tile-512", "tasks_predict:predict_e2e",
                  {**common, "src": str(folder), "dst": str(ctx.work / "host-t.tif"),
                   "tile_size": 2 * spec.tile, "batch_size": 2}),
        Contender("scene-less", "tasks_predict:predict_e2e",
                  {**common, "src": str(folder), "dst": str(ctx.work / "host-l.tif"),
                   "tile_size": 2 * spec.tile, "batch_size": 2, "output": "lean"}),
        Contender("composite", "tasks_predict:predict_e2e",
                  {**common, "src": str(comp), "dst": str(ctx.work / "host-c.tif")}),
        Contender("scene-device-tiling", "tasks_predict:predict_e2e",
                  {**common, "src": str(folder), "dst": str(ctx.work / "host-d.tif"),
                   "tiling": "device", "batch_size": 8}),
        Contender("gpu-layout", "tasks_predict:predict_e2e",
                  {**common, "src": str(folder), "dst": str(ctx.work / "host-gpu.tif"),
                   "tiling": "device", "batch_size": 8, "upload_dn": True,
                   "io_priority": "normal", "cores": 16, "as_gpu": True}),
    ]  # fmt: skip
    runs = compare(contenders, reps, progress=ctx.progress)
    report.data["runs"] = runs_json(runs)
    t = Table(
        f"Null model ({spec.label} metadata, zeros out), padding {padding}, "
        f"{shape[0]} x {shape[1]} px; median of {reps}",
        ["input", "readers", "run s", "core s", "cores busy", "s in ORT", "peak RSS MB", "steal s"],
    )
    labels = {"scene-1-reader": "scene folder, 1 reader", "scene": "scene folder",
              "scene-gdal": "scene folder, GDAL decoding",
              "scene-tile-512": f"scene folder, tile {2 * spec.tile} (batch 2)",
              "scene-less": f"scene folder, doing less: tile {2 * spec.tile}, ZSTD alone, "
                            "no read-back (not a product setting)",
              "composite": "composite", "scene-device-tiling": "scene folder, device tiling",
              "gpu-layout": "GPU layout, CPU provider as the GPU (wall: not a GPU's)"}  # fmt: skip
    summary = {}
    for name, rs in runs.items():
        ort_s = [float(r.result["summary"].get("inference_seconds", float("nan"))) for r in rs]
        t.rows.append([
            labels[name], int(median_of(rs, "readers")), median_of(rs, "run_s"),
            median_of(rs, "core_s"), median_of(rs, "cores_busy"), sorted(ort_s)[len(ort_s) // 2],
            median_of(rs, "peak_rss_mb"), median_of(rs, "steal_s"),
        ])  # fmt: skip
        summary[name] = {"run_s": median_of(rs, "run_s"), "core_s": median_of(rs, "core_s")}
    s = summary["scene"]
    t.notes.append(
        f"goal on 2 cores: scene folder <= 4 s wall and <= 7 core-s; measured {s['run_s']:.2f} s "
        f"and {s['core_s']:.2f} core-s; with one reader {summary['scene-1-reader']['run_s']:.2f} "
        f"s and {summary['scene-1-reader']['core_s']:.2f} core-s"
    )
    less = summary["scene-less"]
    t.notes.append(
        f"doing less (tile {2 * spec.tile}, ZSTD without the floating-point predictor, no "
        f"read-back; each an owner's decision, none a default): {less['run_s']:.2f} s and "
        f"{less['core_s']:.2f} core-s"
    )
    t.notes.append(
        "run s = predict_file (reading to writing, GeoTIFF out); core s = CPU time of the "
        "process over the same span (all threads, getrusage); cores busy = core s / run s."
    )
    t.notes.append(STEAL_NOTE)
    report.data["summary"] = summary
    report.tables.append(t)
    report.tables.append(roles_table(
        "Where the core-seconds go, by thread (the median run of each)",
        {k: runs[k] for k in ("scene", "scene-tile-512", "gpu-layout") if k in runs}, labels,
    ))  # fmt: skip
    report.tables.append(_floors(ctx, model, folder, padding, reps, s["core_s"], report))
    return report


_STAGES = {
    "decode": "read the 8 bands' DN: inflate, undo the predictor, copy (`read_dn`)",
    "lookup": "DN to model input and validity, the residual band's values",
    "cut": "tiles into 3 cycling batch buffers (4x the scene's pixels)",
    "ort": "the null model on every batch",
    "accumulate": "blending: weighted predictions into the accumulators",
    "finalize": "finished rows out of the accumulators",
    "write": "GDAL's compression of the rows, range count, overview pyramid",
    "close": "overviews appended, every block read back, renamed",
}


def _floors(
    ctx: Context, model: Any, folder: Any, padding: int, reps: int, pipeline_core_s: float,
    report: Report,
) -> Table:  # fmt: skip
    """Each stage alone (benchmarks.tasks_floor), medians of ``reps`` fresh processes."""
    params = {"model": str(model), "src": str(folder), "work": str(ctx.work),
              "padding": padding, "batch_size": 8}  # fmt: skip
    results = []
    for rep in range(reps):
        ctx.progress(f"  stages alone, rep {rep + 1}/{reps}")
        result, _, _ = run_task("tasks_floor:stage_floors", params)
        results.append(result)
    report.data["stages_alone"] = results
    t = Table(
        f"Each stage alone, one after another, one core (the same scene); median of {reps}",
        ["stage", "core s", "what"],
    )
    for name, what in _STAGES.items():
        values = sorted(r["stages"][name] for r in results)
        t.rows.append([name, values[len(values) // 2], what])
    totals = sorted(r["total_core_s"] for r in results)
    total = totals[len(totals) // 2]
    t.rows.append(["sum", total, "the host side's work with no overlap and no competition"])
    t.notes.append(
        f"the pipeline above (scene folder, median) took {pipeline_core_s:.2f} core-s: "
        f"{pipeline_core_s / total:.2f}x the stages' sum alone; the goal is <= 7 core-s"
    )
    t.notes.append(
        "core s: CPU time of the process over each stage (all its threads: tifffile's "
        "and the final check's are in close), sized for one core (PYTHON_CPU_COUNT=1)."
    )
    return t

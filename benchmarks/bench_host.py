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
"""

from __future__ import annotations

from benchmarks.context import Context
from benchmarks.harness import Contender, compare, median_of
from benchmarks.null_model import null_model
from benchmarks.report import Report, Table, runs_json
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
        ["input", "readers", "run s", "core s", "cores busy", "s in ORT", "peak RSS MB"],
    )
    labels = {"scene-1-reader": "scene folder, 1 reader", "scene": "scene folder",
              "scene-gdal": "scene folder, GDAL decoding",
              "scene-tile-512": f"scene folder, tile {2 * spec.tile} (batch 2)",
              "composite": "composite", "scene-device-tiling": "scene folder, device tiling",
              "gpu-layout": "GPU layout, CPU provider as the GPU (wall: not a GPU's)"}  # fmt: skip
    summary = {}
    for name, rs in runs.items():
        ort_s = [float(r.result["summary"].get("inference_seconds", float("nan"))) for r in rs]
        t.rows.append([
            labels[name], int(median_of(rs, "readers")), median_of(rs, "run_s"),
            median_of(rs, "core_s"), median_of(rs, "cores_busy"), sorted(ort_s)[len(ort_s) // 2],
            median_of(rs, "peak_rss_mb"),
        ])  # fmt: skip
        summary[name] = {"run_s": median_of(rs, "run_s"), "core_s": median_of(rs, "core_s")}
    s = summary["scene"]
    t.notes.append(
        f"goal on 2 cores: scene folder <= 4 s wall and <= 7 core-s; measured {s['run_s']:.2f} s "
        f"and {s['core_s']:.2f} core-s; with one reader {summary['scene-1-reader']['run_s']:.2f} "
        f"s and {summary['scene-1-reader']['core_s']:.2f} core-s"
    )
    t.notes.append(
        "run s = predict_file (reading to writing, GeoTIFF out); core s = CPU time of the "
        "process over the same span (all threads, getrusage); cores busy = core s / run s."
    )
    report.data["summary"] = summary
    report.tables.append(t)
    report.tables.append(roles_table(
        "Where the core-seconds go, by thread (the median run of each)",
        {k: runs[k] for k in ("scene", "scene-tile-512", "gpu-layout") if k in runs}, labels,
    ))  # fmt: skip
    return report

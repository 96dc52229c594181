"""Part ``host``: the product's host side alone, with a null model, on the full scene.

The null model (:mod:`benchmarks.null_model`) carries the default model's metadata and
returns zeros, so ONNX Runtime does next to nothing and what is left is reading,
calibration, normalisation, tile copies, blending, compression and writing. Contenders,
alternating, each a product setting: the scene folder with default options, the 8-band
composite, one session, and tiles twice the model's size (batch 2, the same pixels per
batch: fewer overlapping pixels to cut and blend).

Figures: wall seconds of ``predict_file`` and the process's CPU seconds (all threads,
``getrusage``) over the same span.
"""

from __future__ import annotations

from typing import Any

from benchmarks.context import Context
from benchmarks.harness import Contender, compare, median_of
from benchmarks.null_model import null_model
from benchmarks.report import Report, Table, runs_json

__all__ = ["run"]

STEAL_NOTE = (
    "steal s: CPU time the hypervisor gave to others while this machine's CPUs wanted it, "
    "over the run, all CPUs (/proc/stat; - where there is none)"
)


def run(ctx: Context) -> Report:
    """The null model through the product: wall and core seconds per input and setting."""
    reps = ctx.n_reps(3)
    report = Report("host", "Host side alone (null model)", ctx.quick)
    spec = ctx.default_model()
    model = null_model(spec.onnx, ctx.cache / "models" / f"null_{spec.key}_t{spec.tile}.onnx")
    shape = ctx.scene_shape(1.0)
    folder = ctx.scene(1.0)
    comp = ctx.composite(folder)
    padding = spec.tile // 4
    report.params = {"reps": reps, "model": str(model), "like": spec.as_dict(),
                     "padding": padding}  # fmt: skip
    common = {"model": str(model), "padding": padding, "providers": "cpu"}
    labels = {
        "scene": "scene folder",
        "composite": "composite",
        "scene-sessions-1": "scene folder, sessions=1",
        "scene-tile-2x": f"scene folder, tile_size={2 * spec.tile}, batch_size=2",
    }
    params: dict[str, dict[str, Any]] = {
        "scene": {"src": str(folder)},
        "composite": {"src": str(comp)},
        "scene-sessions-1": {"src": str(folder), "sessions": 1},
        "scene-tile-2x": {"src": str(folder), "tile_size": 2 * spec.tile, "batch_size": 2},
    }
    contenders = [
        Contender(name, "tasks:predict_e2e", {**common, **p, "dst": str(ctx.work / f"host-{name}.tif")})
        for name, p in params.items()
    ]  # fmt: skip
    runs = compare(contenders, reps, progress=ctx.progress)
    report.data["runs"] = runs_json(runs)
    t = Table(
        f"Null model ({spec.label} metadata, zeros out), padding {padding}, "
        f"{shape[0]} x {shape[1]} px; median of {reps}",
        ["input", "run s", "core s", "cores busy", "s in ORT", "peak RSS MB", "steal s"],
    )
    for name, rs in runs.items():
        t.rows.append([labels[name], median_of(rs, "run_s"), median_of(rs, "core_s"),
                       median_of(rs, "cores_busy"), median_of(rs, "inference_s"),
                       median_of(rs, "peak_rss_mb"), median_of(rs, "steal_s")])  # fmt: skip
    t.notes.append(
        "run s = predict_file (reading to writing, GeoTIFF out); core s = CPU time of the "
        "process over the same span (all threads); cores busy = core s / run s."
    )
    t.notes.append(STEAL_NOTE)
    report.data["summary"] = {
        name: {"run_s": median_of(rs, "run_s"), "core_s": median_of(rs, "core_s")}
        for name, rs in runs.items()
    }
    report.tables.append(t)
    return report

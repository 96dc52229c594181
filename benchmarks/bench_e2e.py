"""Part ``e2e``: the product end to end on the full benchmark scene, against its ceiling and
a baseline.

With the default model at its default padding (a quarter of its tile), alternating:

* ``ours``: ``LSTPredictor.predict_file`` on the scene folder with default options
  (band files calibrated on the fly, a compressed GeoTIFF with overviews written);
* ``ours, composite``: the same from the 8-band TOA composite;
* ``ours, sessions=1``: one ONNX Runtime session with every core, as the ceiling runs;
* ``ORT ceiling``: that one session alone on the scene's tiles, in memory;
* ``baseline``: the whole composite in RAM, torch eager sliding window, numpy blending
  (what users write by hand; the same weights and window, so the same mosaic).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import rasterio

from benchmarks.context import Context
from benchmarks.harness import Contender, Run, compare, median_of
from benchmarks.report import Report, Table, runs_json

__all__ = ["run"]

_LABELS = {
    "ours": ("ours", "scene folder"),
    "ours-composite": ("ours", "composite"),
    "ours-sessions-1": ("ours, sessions=1", "scene folder"),
    "ceiling": ("ORT ceiling, one session", "tiles in RAM"),
    "baseline": ("baseline (torch eager, numpy blend)", "composite in RAM"),
}


def _diff(a: Path, b: Path) -> dict[str, float]:
    with rasterio.open(a) as da, rasterio.open(b) as db:
        x, y = da.read(1), db.read(1)
    ok = np.isfinite(x) & np.isfinite(y)
    d = np.abs(x[ok].astype(np.float64) - y[ok])
    return {"mean_abs_k": float(d.mean()), "max_abs_k": float(d.max()), "pixels": int(ok.sum())}


def _row(name: str, runs: list[Run], ours: list[Run]) -> list[Any]:
    run_s = median_of(runs, "run_s")
    return [*_LABELS[name], int(median_of(runs, "tiles")), median_of(runs, "setup_s"), run_s,
            median_of(runs, "mpx_per_s"), median_of(runs, "peak_rss_mb"),
            run_s / median_of(ours, "run_s")]  # fmt: skip


def run(ctx: Context) -> Report:
    """The default model on the full scene: ours, the ORT ceiling, the torch baseline."""
    reps = ctx.n_reps(3)
    report = Report("e2e", "End-to-end scene prediction", ctx.quick)
    spec = ctx.default_model()
    shape = ctx.scene_shape(1.0)
    folder = ctx.scene(1.0)
    comp = ctx.composite(folder)
    padding = spec.tile // 4
    work = ctx.work
    report.params = {"reps": reps, "model": spec.as_dict(), "padding": padding, "blend": "hann"}
    if spec.stand_in:
        report.notes.append(f"The default model is a STAND-IN: {spec.label}.")
    e2e = {"model": spec.onnx, "padding": padding}
    contenders = [
        Contender("ours", "tasks:predict_e2e",
                  {**e2e, "src": str(folder), "dst": str(work / "e2e-ours.tif"), "keep": True}),
        Contender("ours-composite", "tasks:predict_e2e",
                  {**e2e, "src": str(comp), "dst": str(work / "e2e-comp.tif")}),
        Contender("ours-sessions-1", "tasks:predict_e2e",
                  {**e2e, "src": str(folder), "dst": str(work / "e2e-s1.tif"), "sessions": 1}),
        Contender("ceiling", "tasks:ort_ceiling",
                  {**e2e, "src": str(comp), "height": shape[0], "width": shape[1]}),
        Contender("baseline", "baseline:torch_baseline",
                  {"model": spec.as_dict(), "composite": str(comp),
                   "dst": str(work / "e2e-baseline.tif"), "padding": padding}),
    ]  # fmt: skip
    runs = compare(contenders, reps, progress=ctx.progress)
    report.data["runs"] = runs_json(runs)
    ours, ceiling, base = runs["ours"], runs["ceiling"], runs["baseline"]
    table = Table(
        f"{spec.label}: padding {padding}, {shape[0]} x {shape[1]} px; median of {reps}",
        ["contender", "input", "tiles", "setup s", "run s", "Mpx/s", "peak RSS MB",
         "run s / ours"],
    )  # fmt: skip
    table.rows = [_row(name, runs[name], ours) for name in _LABELS]
    over = median_of(ours, "run_s") / median_of(ceiling, "run_s")
    speedup = median_of(base, "run_s") / median_of(ours, "run_s")
    memory = median_of(base, "peak_rss_mb") / median_of(ours, "peak_rss_mb")
    out, bout = work / "e2e-ours.tif", work / "e2e-baseline.tif"
    diff = _diff(out, bout) if out.exists() and bout.exists() else None
    report.data["summary"] = {"over_ceiling": over, "speedup_vs_baseline": speedup,
                              "baseline_memory_ratio": memory, "ours_vs_baseline": diff,
                              "ours_run_s": median_of(ours, "run_s")}  # fmt: skip
    table.notes.append(
        f"ours takes {over:.2f} x the one-session ORT ceiling; the baseline takes {speedup:.2f} x "
        f"ours' time and {memory:.2f} x its peak memory"
    )
    if diff:
        table.notes.append(
            f"ours vs baseline output: mean |diff| {diff['mean_abs_k']:.2g} K, max "
            f"{diff['max_abs_k']:.2g} K (same weights, same hann window)"
        )
    table.notes.append(
        "setup = model load and session creation (with the warm-up); run = the prediction "
        "(ours: predict_file, reading to writing; ceiling: session runs only); peak RSS per "
        "contender process, interpreter and imports included."
    )
    report.tables.append(table)
    for p in (out, bout):
        p.unlink(missing_ok=True)
    report.notes.append(
        "Scene: mirror-tiled from the real embedded sample (benchmarks/scenes.py), every pixel "
        "valid (no nodata tiles skipped: the worst case)."
    )
    return report

"""Ad hoc (issue 11): the shipped model at run tiles 256, 384, 512 (padding 64), accuracy and time.

``python -m benchmarks.run_tiles accuracy [--work DIR]``: every real scene of
``../shared/data`` the physics chain can score (Maui, the Greenland L2 scene), the
embedded sample and the mirror-tiled 1/16-area scene, through
``tasks_accuracy:tile_accuracy`` (RMSE/MAE/bias against the physics LST, and
max/mean |difference| from the 256 px mosaic); prints one line per scene and tile.

``python -m benchmarks.run_tiles timing [SCENE] [--reps 2]``: ``predict_file`` of the
shipped model over the full benchmark scene at tile 256 (batch 8) and 512 (batch 2: the
same pixels per batch), alternating; prints wall and core-s per run, the medians and the
max/mean |difference| between the two outputs. The accuracy part of the harness has
the same table (``python -m benchmarks accuracy``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import numpy as np
import rasterio

from benchmarks import scenes as sc
from benchmarks.bench_accuracy import EVAL_SCENES, SHARED
from benchmarks.harness import run_task
from pix2lst.data import default_model_path, sample_scene_path

CACHE = Path(__file__).parent / "cache"
DEFAULT = CACHE / "scenes" / "mirror_7821x7661"
TILES = (256, 384, 512)


def accuracy(work: Path) -> dict[str, object]:
    shape = sc.scale_shape(1 / 16)
    folder = sc.scene_folder(CACHE, shape, progress=print)
    todo = {"embedded_sample": str(sample_scene_path())}
    todo.update({n: str(SHARED / n) for n in EVAL_SCENES if (SHARED / n).is_dir()})
    todo[f"mirror_{shape[0]}x{shape[1]}"] = str(folder)
    res, _, _ = run_task("tasks_accuracy:tile_accuracy",
                         {"model": str(default_model_path()), "scenes": todo,
                          "tiles": list(TILES), "work": str(work)})  # fmt: skip
    for r in res["rows"]:
        print(f"{r['scene'][:32]:32} {r['height']}x{r['width']} tile {r['tile']} "
              f"tiles {r['tiles']} RMSE {r['rmse_k']:.4f} MAE {r['mae_k']:.4f} "
              f"bias {r['bias_k']:+.4f} max|d| {r['max_abs_diff_vs_first_k']:.4f} "
              f"mean|d| {r['mean_abs_diff_vs_first_k']:.4f} n {r['n_pixels']}")  # fmt: skip
    return res


def timing(scene: Path, reps: int, work: Path) -> dict[str, object]:
    from pix2lst.runtime import LSTPredictor

    preds = {256: LSTPredictor(None, providers="cpu", batch_size=8),
             512: LSTPredictor(None, providers="cpu", batch_size=2, tile_size=512)}  # fmt: skip
    walls: dict[int, list[float]] = {t: [] for t in preds}
    cores: dict[int, list[float]] = {t: [] for t in preds}
    for rep in range(reps):
        for tile, pred in preds.items():
            c0, t0 = os.times(), time.perf_counter()
            summary = pred.predict_file(scene, work / f"lst_{tile}.tif", overwrite=True)
            walls[tile].append(time.perf_counter() - t0)
            c1 = os.times()
            cores[tile].append(c1.user - c0.user + c1.system - c0.system)
            print(f"tile {tile} rep {rep}: {summary.line()}; {cores[tile][-1]:.1f} core-s",
                  flush=True)  # fmt: skip
    out: dict[str, object] = {
        str(t): {"wall_s": walls[t], "core_s": cores[t], "median_wall_s": statistics.median(walls[t]),
                 "median_core_s": statistics.median(cores[t]), "batch_size": preds[t].batch_size,
                 "padding": preds[t].padding} for t in preds
    }  # fmt: skip
    worst, total, n = 0.0, 0.0, 0
    with rasterio.open(work / "lst_256.tif") as a, rasterio.open(work / "lst_512.tif") as b:
        for _, win in a.block_windows(1):
            x = a.read(1, window=win).astype(np.float64)
            y = b.read(1, window=win).astype(np.float64)
            ok = np.isfinite(x) & np.isfinite(y)
            d = np.abs(x[ok] - y[ok])
            if d.size:
                worst, total, n = max(worst, float(d.max())), total + float(d.sum()), n + d.size
    out["diff_256_512"] = {"max_abs_k": worst, "mean_abs_k": total / max(n, 1), "pixels": n}
    print(json.dumps(out, indent=1))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", choices=["accuracy", "timing"])
    ap.add_argument("scene", nargs="?", type=Path, default=DEFAULT)
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--work", type=Path, default=CACHE / "work" / "run_tiles")
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    if args.what == "accuracy":
        accuracy(args.work)
    else:
        timing(args.scene, args.reps, args.work)


if __name__ == "__main__":
    main()

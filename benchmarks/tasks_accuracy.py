"""Child tasks: model accuracy against the physics LST, and the seam score of the mosaic.

Seam score: the mean absolute difference between horizontally (and vertically)
adjacent output pixels that straddle a tile boundary, divided by the same
statistic for adjacent pixels that do not. Boundaries are where a tile's centre
region ends (every ``stride`` px) and where a tile's window ends (``padding`` px
either side of those); with ``padding`` 0 they coincide. 1.0 means the mosaic
is as smooth across tile borders as inside tiles; crop blending at low padding
shows values above 1.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["model_accuracy", "seam_scores", "seam_statistic", "tile_accuracy"]


def _edges(n: int, stride: int, padding: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices j of diffs (j, j+1) at centre edges and at tile-window edges."""
    centre = np.arange(stride, n, stride) - 1
    window = np.concatenate([centre - padding, centre + padding]) if padding else centre
    window = window[(window >= 0) & (window < n - 1)]
    return centre, np.unique(window)


def seam_statistic(img: np.ndarray, stride: int, padding: int) -> dict[str, float]:
    """Seam ratios of a 2-D mosaic (NaN ignored) for tiles of ``stride`` and ``padding``."""
    ratios: dict[str, list[float]] = {"centre": [], "window": []}
    for arr in (img, img.T):
        d = np.abs(np.diff(arr.astype(np.float64), axis=1))
        n = arr.shape[1]
        centre, window = _edges(n, stride, padding)
        border = np.zeros(n - 1, bool)
        border[centre] = True
        border[window] = True
        inside = np.nanmean(d[:, ~border]) if (~border).any() else np.nan
        ratios["centre"].append(float(np.nanmean(d[:, centre]) / inside) if len(centre) else np.nan)
        ratios["window"].append(float(np.nanmean(d[:, window]) / inside) if len(window) else np.nan)
    c = float(np.nanmean(ratios["centre"]))
    w = float(np.nanmean(ratios["window"]))
    return {"centre_edge_ratio": c, "window_edge_ratio": w, "seam_score": float(np.nanmax([c, w]))}


def seam_scores(
    model: str, composite: str, blends: list[str], paddings: list[int]
) -> dict[str, Any]:
    """Predict ``composite`` for every blend and padding; return the seam statistics."""
    from pix2lst.export.evaluate import read_composite
    from pix2lst.runtime import LSTPredictor

    out: dict[str, Any] = {"rows": []}
    t0 = time.perf_counter()
    x = None
    for padding in paddings:
        for blend in blends:
            pred = LSTPredictor(model, providers="cpu", padding=padding, blend=blend)
            if x is None:
                x = read_composite(composite, pred.metadata.bands)
            img = pred.predict_array(x, units="K")
            stats = seam_statistic(img, pred.tile_size - 2 * padding, padding)
            out["rows"].append(
                {"blend": blend, "padding": padding, "tile": pred.tile_size, **stats}
            )
    out["wall_s"] = time.perf_counter() - t0
    return out


# Short names used by scripts/train_default.py for the folders of ../shared/data.
_ALIASES = {
    "mobile": ("LC08_p020r039", "embedded_sample"),
    "greenland": ("LC08_L2SP_005009",),
    "maui": ("LC09_L1TP_063046_20230714",),
}


def _trained_on(scene: str, training_scenes: list[str]) -> bool:
    """Whether ``scene`` (folder name) is among the model's training scenes (any naming)."""
    for t in training_scenes:
        keys = (t, *_ALIASES.get(t.lower(), ()))
        if any(k and (k in scene or scene in k) for k in keys):
            return True
    return False


def _prepared(folder: str, dest: Path) -> tuple[Path, Path]:
    """The scene's TOA composite and physics LST (planck) in ``dest``, written once."""
    import pix2lst.lst_physics as physics

    dest.mkdir(parents=True, exist_ok=True)
    comp, lst = dest / "composite_toa.tif", dest / "lst_planck.tif"
    if not comp.exists():
        physics.write_composite(folder, comp, units="toa")
    if not lst.exists():
        physics.write_lst(folder, lst)
    return comp, lst


def model_accuracy(model: str, scenes: dict[str, str], work: str) -> dict[str, Any]:
    """Score ``model`` on each scene folder against its physics LST (``write_lst``, planck)."""
    from pix2lst.export.evaluate import evaluate_scene
    from pix2lst.runtime.model import load_model

    meta = load_model(model).metadata
    trained_on = list(meta.training_scenes)
    rows = []
    t0 = time.perf_counter()
    for name, folder in scenes.items():
        comp, lst = _prepared(folder, Path(work) / name)
        ev = evaluate_scene(model, comp, lst)
        seen = _trained_on(name, trained_on)
        rows.append({"scene": name, "in_training_set": seen, **ev.metrics.to_dict()})
    return {
        "wall_s": time.perf_counter() - t0,
        "rows": rows,
        "card_metrics": dict(meta.metrics),
        "training_scenes": trained_on,
        "target": meta.target,
    }


def tile_accuracy(
    model: str, scenes: dict[str, str], work: str, tiles: list[int], padding: int | None = None
) -> dict[str, Any]:
    """Score ``model`` cut into each run tile of ``tiles`` (same padding) against the physics LST.

    Per scene and tile: RMSE/MAE/bias over the pixels valid in both the prediction
    and the physics LST (as :func:`model_accuracy`), and the max/mean |difference|
    from the mosaic of the first tile. Scenes are prepared as in :func:`model_accuracy`.
    """
    from pix2lst.export.evaluate import read_composite
    from pix2lst.export.metrics import evaluate_lst
    from pix2lst.runtime import LSTPredictor
    from pix2lst.runtime.model import load_model

    meta = load_model(model).metadata
    rows = []
    t0 = time.perf_counter()
    for name, folder in scenes.items():
        comp, lst = _prepared(folder, Path(work) / name)
        x = read_composite(comp, meta.bands)
        import rasterio

        with rasterio.open(lst) as src:
            target = src.read(1, out_dtype="float32", masked=True).filled(np.nan)
        first = None
        for tile in tiles:
            pred = LSTPredictor(model, providers="cpu", batch_size=max(1, 8 * 256**2 // tile**2),
                                padding=padding, tile_size=tile)  # fmt: skip
            t1 = time.perf_counter()
            img = pred.predict_array(x, units="K")
            seconds = time.perf_counter() - t1
            m = evaluate_lst([(img, target)]).to_dict()
            row = {"scene": name, "in_training_set": _trained_on(name, list(meta.training_scenes)),
                   "height": int(img.shape[0]), "width": int(img.shape[1]), "tile": tile,
                   "padding": pred.padding, "tiles": pred.grid(*img.shape).n_tiles,
                   "predict_s": seconds, **m}  # fmt: skip
            if first is None:
                first = img
            ok = np.isfinite(first) & np.isfinite(img)
            d = np.abs(img[ok].astype(np.float64) - first[ok])
            row["max_abs_diff_vs_first_k"] = float(d.max()) if d.size else float("nan")
            row["mean_abs_diff_vs_first_k"] = float(d.mean()) if d.size else float("nan")
            rows.append(row)
    return {"wall_s": time.perf_counter() - t0, "rows": rows, "tiles": tiles,
            "training_scenes": list(meta.training_scenes)}  # fmt: skip

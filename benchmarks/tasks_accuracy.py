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

import math
import time
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "atmosphere_validation",
    "model_accuracy",
    "seam_scores",
    "seam_statistic",
    "tile_accuracy",
    "validation_scenes",
]


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
    rows: list[dict[str, Any]] = []
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
    rows: list[dict[str, Any]] = []
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


# -- physics against USGS surface temperature, by atmosphere ------------------

_ATMOS_BANDS = ("ST_ATRAN", "ST_URAD", "ST_DRAD")


def validation_scenes(root: str) -> dict[str, str]:
    """Folders under ``root`` holding a Level-2 scene with ST_B10 and QA_PIXEL."""
    from pix2lst.lst_physics import find_scene

    found = {}
    for folder in sorted(Path(root).iterdir()):
        if not folder.is_dir():
            continue
        try:
            sc = find_scene(folder)
        except Exception:  # not a scene folder (licences, other files)
            continue
        if sc.level == "L2" and sc.has("ST_B10") and sc.has("QA_PIXEL"):
            found[folder.name] = str(folder)
    return found


def _median_atmosphere(sc: Any) -> tuple[float, float, float, int]:
    """The scene's median tau, Lu, Ld over clear land (QA_PIXEL clear bit set, water bit not)."""
    import rasterio

    def band(name: str) -> np.ndarray:
        with rasterio.open(sc.band_path(name)) as ds:
            return ds.read(1)

    qa = band("QA_PIXEL")
    tau, lu, ld = (band(b) for b in _ATMOS_BANDS)
    ok = (((qa >> 6) & 1) == 1) & (((qa >> 7) & 1) == 0)
    ok &= (tau != -9999) & (lu != -9999) & (ld != -9999)
    return (float(np.median(tau[ok]) * 1e-4), float(np.median(lu[ok]) * 1e-3),
            float(np.median(ld[ok]) * 1e-3), int(ok.sum()))  # fmt: skip


def _coarse_atmosphere(sc: Any, out: Path, factor: int) -> Path:
    """ST_ATRAN/URAD/DRAD as one 3-band float32 raster ``factor`` times coarser (average)."""
    import rasterio
    from rasterio.enums import Resampling
    from rasterio.warp import reproject

    from pix2lst.lst_physics.constants import L2_AUX_SCALE

    with rasterio.open(sc.band_path(_ATMOS_BANDS[0])) as ref:
        h, w = -(-ref.height // factor), -(-ref.width // factor)
        transform = ref.transform * ref.transform.scale(factor, factor)
        profile = {"driver": "GTiff", "width": w, "height": h, "count": 3, "dtype": "float32",
                   "crs": ref.crs, "transform": transform, "nodata": float("nan")}  # fmt: skip
    with rasterio.open(out, "w", **profile) as dst:
        for i, name in enumerate(_ATMOS_BANDS, 1):
            with rasterio.open(sc.band_path(name)) as src:
                data = np.full((h, w), np.nan, np.float32)
                reproject(
                    src.read(1).astype(np.float32) * np.float32(L2_AUX_SCALE[name]), data,
                    src_transform=src.transform, src_crs=src.crs, dst_transform=transform,
                    dst_crs=src.crs, src_nodata=-9999 * np.float32(L2_AUX_SCALE[name]),
                    dst_nodata=np.nan, resampling=Resampling.average,
                )  # fmt: skip
            dst.write(data, i)
    return out


def _rmse_between(a: Path, b: Path) -> float:
    """RMSE (K) between two LST rasters of one grid over the pixels valid in both."""
    import rasterio

    with rasterio.open(a) as da, rasterio.open(b) as db:
        x, y = da.read(1).astype(np.float64), db.read(1).astype(np.float64)
    ok = np.isfinite(x) & np.isfinite(y)
    return float(np.sqrt(np.mean((x[ok] - y[ok]) ** 2))) if ok.any() else math.nan


def atmosphere_validation(scenes: dict[str, str], work: str, factor: int = 8) -> dict[str, Any]:
    """Every atmosphere on every scene: ``write_lst`` then ``validate_lst`` against ST_B10.

    Methods: planck with no correction; with three numbers (the scene's median clear-land
    tau/Lu/Ld); with a 3-band raster of ST_ATRAN/URAD/DRAD ``factor`` times coarser;
    with the bundle's own bands; the rte method (bundle atmosphere, ST_EMIS); ST_EMIS
    with the three numbers; and the shipped model with no correction, the three numbers
    and the bundle's atmosphere, each also compared with planck under the same atmosphere. No water-vapour value is known for these scenes, so the
    statistical mono-window correction is not run.
    """
    from pix2lst.data import default_model_path
    from pix2lst.lst_physics import find_scene, parse_atmosphere, validate_lst, write_lst
    from pix2lst.runtime import LSTPredictor

    predictor = LSTPredictor(default_model_path())
    rows: list[dict[str, Any]] = []
    t0 = time.perf_counter()
    for name, folder in scenes.items():
        sc = find_scene(folder)
        dest = Path(work) / name
        dest.mkdir(parents=True, exist_ok=True)
        tau, lu, ld, n_med = _median_atmosphere(sc)
        numbers = f"{tau:.4f},{lu:.3f},{ld:.3f}"
        raster = _coarse_atmosphere(sc, dest / "atmosphere_coarse.tif", factor)
        methods = [
            ("planck, no correction", "planck", None),
            (f"planck, three numbers {numbers}", "planck", numbers),
            (f"planck, raster (bundle atmosphere {factor}x coarser)", "planck", str(raster)),
            ("planck, bundle atmosphere", "planck", "bundle"),
            ("rte (bundle atmosphere, ST_EMIS)", "rte", None),
            (f"rte emissivity (ST_EMIS), three numbers {numbers}", "rte", numbers),
            ("shipped model, no correction", "model", None),
            (f"shipped model, three numbers {numbers}", "model", numbers),
            ("shipped model, bundle atmosphere", "model", "bundle"),
        ]
        physics_of: dict[str | None, Path] = {}  # planck output by atmosphere, for the model rows
        for label, method, atm in methods:
            out = dest / f"lst_{len(rows)}.tif"
            t1 = time.perf_counter()
            spec = parse_atmosphere(atm, None)
            if method == "model":
                predictor.predict_file(sc, out, atmosphere=spec, overwrite=True)
            else:
                write_lst(sc, out, method=method, atmosphere=spec, overwrite=True)  # type: ignore[arg-type]
                if method == "planck":
                    physics_of[atm] = out
            seconds = time.perf_counter() - t1
            v = validate_lst(out, sc)
            versus = _rmse_between(out, physics_of[atm]) if method == "model" else math.nan
            rows.append({"scene": name, "method": label, "write_s": seconds,
                         "rmse_vs_physics": versus,
                         **{k: getattr(v.overall, k) for k in
                            ("n", "bias", "rmse", "mae", "p95", "p99")},
                         "by_class": {k: {"n": s.n, "bias": s.bias, "rmse": s.rmse}
                                      for k, s in v.by_class.items()}})  # fmt: skip
        rows[-1]["median_atmosphere"] = {"tau": tau, "lu": lu, "ld": ld, "pixels": n_med}
    return {"wall_s": time.perf_counter() - t0, "rows": rows}

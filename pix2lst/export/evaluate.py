"""Whole-scene evaluation of an exported ONNX model against a physics LST raster.

The composite goes through the torch-free runtime (:class:`pix2lst.runtime.LSTPredictor`:
padded tiles, blending, de-normalisation from the model's metadata), exactly as
users run it; the result is scored with :func:`pix2lst.export.metrics.evaluate_lst`
on the pixels valid in both rasters (one image: PSNR/SSIM on the [-1, 1] scale
of that scene's LST min/max, and RMSE/MAE/bias in kelvin).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import numpy as np
import rasterio

from pix2lst.export.metrics import Metrics, evaluate_lst
from pix2lst.export.tiles import check_same_grid
from pix2lst.geo.bands import band_indexes

__all__ = ["SceneEvaluation", "evaluate_scene", "read_composite"]


@dataclass(frozen=True)
class SceneEvaluation:
    metrics: Metrics
    tile_size: int
    padding: int
    blend: str
    seconds: float
    prediction: np.ndarray


def read_composite(path: str | os.PathLike[str], bands: tuple[str, ...]) -> np.ndarray:
    """Bands of a composite GeoTIFF in the order ``bands`` (by band description), float32."""
    with rasterio.open(path) as src:
        idx = band_indexes(src.descriptions, bands, source=str(path), allow_unnamed=False)
        return src.read(idx, out_dtype="float32", masked=True).filled(np.nan)


def evaluate_scene(
    model: str | os.PathLike[str],
    composite: str | os.PathLike[str],
    lst: str | os.PathLike[str],
    *,
    padding: int | None = None,
    blend: str = "hann",
    batch_size: int = 4,
) -> SceneEvaluation:
    """Predict ``composite`` with the ONNX ``model`` and score it against ``lst`` (K)."""
    from pix2lst.runtime import LSTPredictor

    check_same_grid(composite, lst)
    predictor = LSTPredictor(model, providers="cpu", batch_size=batch_size, padding=padding,
                             blend=blend)  # fmt: skip
    x = read_composite(composite, predictor.metadata.bands)
    with rasterio.open(lst) as src:
        target = src.read(1, out_dtype="float32", masked=True).filled(np.nan)
    t0 = time.perf_counter()
    pred = predictor.predict_array(x, units="K", check_range=False)  # scored, not refused
    seconds = time.perf_counter() - t0
    metrics = evaluate_lst([(pred, target)])
    return SceneEvaluation(metrics, predictor.tile_size, predictor.padding, blend, seconds, pred)

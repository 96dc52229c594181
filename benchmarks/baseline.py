"""The baseline users write today: whole scene in RAM, torch eager sliding window, numpy blending.

This is the common pattern of pytorch-toolbelt's tiled inference and of the
"smoothly blend image patches" recipe, written here from scratch for the
benchmark: read the whole composite into memory, normalise it, pad it by
reflection, slide a ``tile`` window with stride ``tile - 2 * padding``, run the
torch generator in eager mode on batches, add ``window * prediction`` and
``window`` into two full-scene float32 arrays, divide, crop and write the
GeoTIFF in one go. The window is the same ``hann`` window as pix2lst's default
blend, so the two outputs can be compared pixel for pixel.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import rasterio
import torch

from benchmarks.models import load_torch, read_metadata

__all__ = ["torch_baseline"]


def _hann(tile: int) -> np.ndarray:
    w = np.sin(np.pi * (np.arange(tile) + 0.5) / tile) ** 2
    return np.outer(w, w).astype(np.float32)


def torch_baseline(
    model: dict[str, Any], composite: str, dst: str, padding: int, batch_size: int = 8
) -> dict[str, Any]:
    """Predict ``composite`` into ``dst`` the baseline way; return timings and figures."""
    torch.set_num_threads(max(1, torch.get_num_threads()))
    t0 = time.perf_counter()
    meta = read_metadata(model["onnx"])
    net = load_torch(model)
    tile = meta.tile_size
    stride = tile - 2 * padding
    t_load = time.perf_counter()
    with rasterio.open(composite) as ds:
        names = [d or f"band{i + 1}" for i, d in enumerate(ds.descriptions)]
        order = [names.index(b) + 1 if b in names else i + 1 for i, b in enumerate(meta.bands)]
        x = ds.read(order, out_dtype="float32")
        profile = ds.profile
    _, h, w = x.shape
    t_read = time.perf_counter()
    valid = np.isfinite(x).all(axis=0)
    scale = np.asarray(meta.input_scale, np.float32)[:, None, None]
    offset = np.asarray(meta.input_offset, np.float32)[:, None, None]
    x = np.nan_to_num(x * scale + offset, nan=0.0)
    bt = None
    if meta.target == "lst_minus_bt" and meta.residual_band:
        with rasterio.open(composite) as ds:
            bt = ds.read(order[meta.bands.index(meta.residual_band)], out_dtype="float32")
    pad_b = padding + (-(h) % stride)
    pad_r = padding + (-(w) % stride)
    xp = np.pad(x, ((0, 0), (padding, pad_b), (padding, pad_r)), mode="reflect")
    del x
    hp, wp = xp.shape[1:]
    acc = np.zeros((hp, wp), np.float32)
    wsum = np.zeros((hp, wp), np.float32)
    win = _hann(tile)
    origins = [
        (r, c) for r in range(0, hp - tile + 1, stride) for c in range(0, wp - tile + 1, stride)
    ]
    t_prep = time.perf_counter()
    infer_s = 0.0
    with torch.inference_mode():
        for i in range(0, len(origins), batch_size):
            chunk = origins[i : i + batch_size]
            batch = np.stack([xp[:, r : r + tile, c : c + tile] for r, c in chunk])
            ti = time.perf_counter()
            pred = net(torch.from_numpy(batch)).numpy()[:, 0]
            infer_s += time.perf_counter() - ti
            for (r, c), p in zip(chunk, pred, strict=True):
                acc[r : r + tile, c : c + tile] += win * p
                wsum[r : r + tile, c : c + tile] += win
    t_pred = time.perf_counter()
    out = (acc / wsum)[padding : padding + h, padding : padding + w]
    del acc, wsum, xp
    out = out * np.float32(meta.output_scale) + np.float32(meta.output_offset)
    if bt is not None:
        out += bt
    out[~valid] = np.nan
    profile.update(count=1, dtype="float32", nodata=np.nan, tiled=True, blockxsize=512,
                   blockysize=512, compress="deflate", predictor=3, bigtiff="if_safer")  # fmt: skip
    with rasterio.open(dst, "w", **profile) as ds:
        ds.write(out.astype(np.float32), 1)
    t_end = time.perf_counter()
    return {
        "wall_s": t_end - t0,
        "setup_s": t_load - t0,
        "run_s": t_end - t_load,
        "read_s": t_read - t_load,
        "prep_s": t_prep - t_read,
        "predict_blend_s": t_pred - t_prep,
        "infer_s": infer_s,
        "write_s": t_end - t_pred,
        "tiles": len(origins),
        "mpx": h * w / 1e6,
        "mpx_per_s": h * w / 1e6 / (t_end - t_load),
        "weights_matched": getattr(net, "matched_weights", ""),
    }

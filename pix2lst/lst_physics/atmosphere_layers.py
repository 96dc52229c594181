"""Atmosphere rasters read row by row on a scene's grid (rasterio, WarpedVRT where grids differ).

A :class:`Layer` is one band as a physical quantity (``DN * scale + offset``, fill
-> NaN); :class:`Layers` opens several, checks that each covers the grid, and reads
rows ``[start, start + n)`` of all of them on that grid: directly where a band's grid
is the scene's, else warped bilinearly, so a coarse reanalysis or calculator raster
streams onto a 30 m scene strip by strip.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import rasterio
from rasterio.enums import Resampling
from rasterio.vrt import WarpedVRT
from rasterio.warp import transform_bounds
from rasterio.windows import Window

from pix2lst.errors import BandNotFoundError, GridMismatchError, SceneError
from pix2lst.geo.grid import Grid, crs_name, grid_of
from pix2lst.geo.scene import Location
from pix2lst.geo.stream import gdal_env

__all__ = ["Layer", "Layers", "band_count"]


@dataclass(frozen=True)
class Layer:
    """One raster band as a physical quantity: ``value = DN * scale + offset``, ``fill`` -> NaN."""

    location: Location
    band: int = 1
    scale: float | None = None  # None: the band's own scale/offset
    offset: float = 0.0
    fill: float | None = None  # None: the band's own nodata


def band_count(path: str) -> int:
    try:
        with gdal_env(), rasterio.open(path) as ds:
            return int(ds.count)
    except rasterio.errors.RasterioIOError as exc:
        raise SceneError(f"atmosphere raster {path} cannot be read ({exc})") from exc


class Layers:
    """Rows of several rasters on one grid: read directly where the grid matches, else warped.

    Each source is checked to cover the grid; warping is bilinear (rasterio WarpedVRT),
    so a coarse reanalysis or calculator raster streams onto a 30 m scene row by row.
    """

    def __init__(self, layers: Sequence[Layer], grid: Grid) -> None:
        self.grid = grid
        self.layers = list(layers)
        self._closed = False
        self._open: dict[str, Any] = {}
        self._readers: list[tuple[Any, int, float, float, float | None]] = []
        try:
            for layer in self.layers:
                self._readers.append(self._reader(layer))
        except BaseException:
            self.close()
            raise

    def _reader(self, layer: Layer) -> tuple[Any, int, float, float, float | None]:
        key = str(layer.location)
        if key not in self._open:
            try:
                self._open[key] = rasterio.open(layer.location)
            except rasterio.errors.RasterioIOError as exc:
                raise SceneError(f"atmosphere raster {key} cannot be read ({exc})") from exc
        ds = self._open[key]
        if layer.band > ds.count:
            raise BandNotFoundError(f"atmosphere raster {key} has {ds.count} band(s), needs 3")
        fill = layer.fill if layer.fill is not None else ds.nodata
        scale = layer.scale if layer.scale is not None else float(ds.scales[layer.band - 1])
        offset = layer.offset if layer.scale is not None else float(ds.offsets[layer.band - 1])
        src_grid = grid_of(ds)
        if not src_grid.differences(self.grid):
            return ds, layer.band, scale, offset, fill
        check_covers(key, src_grid, self.grid)
        vkey = f"{key}#warped"
        if vkey not in self._open:
            g = self.grid
            self._open[vkey] = WarpedVRT(
                ds, crs=g.crs if g.crs is not None else ds.crs, transform=g.transform,
                width=g.width, height=g.height, resampling=Resampling.bilinear,
                src_nodata=fill, nodata=math.nan, dtype="float32",
            )  # fmt: skip
        return self._open[vkey], layer.band, scale, offset, math.nan

    def read(self, start: int, n: int) -> list[np.ndarray]:
        """Rows ``[start, start + n)`` of every layer on the grid, float64, NaN at fill."""
        window = Window(0, start, self.grid.width, n)
        out = []
        for ds, band, scale, offset, fill in self._readers:
            v = ds.read(band, window=window).astype(np.float64)
            if fill is not None and not math.isnan(fill):
                v[v == fill] = np.nan
            out.append(v * scale + offset)
        return out

    def read_decimated(self, size: int = 256) -> list[np.ndarray]:
        """Every layer over the whole grid at most ``size x size`` (for range checks)."""
        h, w = min(self.grid.height, size), min(self.grid.width, size)
        out = []
        for ds, band, scale, offset, fill in self._readers:
            v = ds.read(band, out_shape=(h, w), resampling=Resampling.bilinear)
            v = v.astype(np.float64)
            if fill is not None and not math.isnan(fill):
                v[v == fill] = np.nan
            out.append(v * scale + offset)
        return out

    def close(self) -> None:
        if self._closed:
            return
        for ds in reversed(list(self._open.values())):
            ds.close()
        self._open.clear()
        self._readers.clear()
        self._closed = True


def check_covers(name: str, src: Grid, grid: Grid) -> None:
    if (src.crs is None) != (grid.crs is None):
        raise GridMismatchError(
            f"atmosphere raster {name} has CRS {crs_name(src.crs)}, the scene {crs_name(grid.crs)}:"
            " give the raster a CRS (e.g. gdal_edit.py -a_srs EPSG:4326)"
        )
    b = src.bounds
    if src.crs is not None and grid.crs is not None and src.crs != grid.crs:
        b = transform_bounds(src.crs, grid.crs, *b, densify_pts=21)
    gl, gb, gr, gt = grid.bounds
    tol = 0.01 * min(grid.res)
    if not (b[0] <= gl + tol and b[1] <= gb + tol and b[2] >= gr - tol and b[3] >= gt - tol):
        raise GridMismatchError(
            f"atmosphere raster {name} does not cover the scene (raster bounds "
            f"{tuple(round(x, 1) for x in b)}, scene {tuple(round(x, 1) for x in grid.bounds)} in "
            f"{crs_name(grid.crs)}): give a raster that covers the whole scene"
        )

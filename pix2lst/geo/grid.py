"""The one grid check: CRS, affine transform and size, every difference named.

A :class:`Grid` is a value object (frozen, validated); :func:`check_grid` compares
any number of named rasters against the first and raises one
:class:`~pix2lst.errors.GridMismatchError` that lists every difference, with the
caller's hint on how to fix it. Pure maths: no file is opened here except by
:func:`read_grid`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import rasterio
from affine import Affine
from rasterio.crs import CRS

from pix2lst.errors import GridMismatchError, ParameterError, SceneError

__all__ = ["Grid", "check_grid", "crs_name", "decimated_shape", "grid_of", "read_grid"]

#: Transforms closer than this (in map units and pixel fractions) are the same grid.
TRANSFORM_PRECISION = 1e-6


def decimated_shape(height: int, width: int, max_pixels: int | None) -> tuple[int, int]:
    """Shape of a ``height x width`` raster decimated by one integer factor to ``max_pixels``.

    ``f = ceil(sqrt(h * w / max_pixels))``, shape ``ceil(h / f) x ceil(w / f)``
    (None: no cap).
    """
    if max_pixels is None or height * width <= max_pixels:
        return height, width
    if max_pixels < 1:
        raise ParameterError(f"max_pixels must be positive, got {max_pixels}")
    f = math.ceil(math.sqrt(height * width / max_pixels))
    return math.ceil(height / f), math.ceil(width / f)


@dataclass(frozen=True)
class Grid:
    """A raster grid: CRS, affine transform (pixel corner -> map) and size in pixels."""

    crs: CRS | None
    transform: Affine
    width: int
    height: int

    def __post_init__(self) -> None:
        if self.width < 1 or self.height < 1:
            raise ParameterError(f"grid size must be positive, got {self.width} x {self.height}")

    @property
    def shape(self) -> tuple[int, int]:
        """``(height, width)``."""
        return self.height, self.width

    @property
    def res(self) -> tuple[float, float]:
        """Pixel size ``(x, y)`` in map units (positive)."""
        return abs(self.transform.a), abs(self.transform.e)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """``(left, bottom, right, top)`` in map units."""
        left, top = self.transform * (0, 0)
        right, bottom = self.transform * (self.width, self.height)
        return min(left, right), min(top, bottom), max(left, right), max(top, bottom)

    def differences(self, other: Grid) -> list[str]:
        """Human-readable list of what differs from ``other`` (empty when the grids match)."""
        out = []
        if (self.crs is None) != (other.crs is None) or (
            self.crs is not None and other.crs is not None and self.crs != other.crs
        ):
            out.append(f"CRS {crs_name(self.crs)} vs {crs_name(other.crs)}")
        if (self.width, self.height) != (other.width, other.height):
            out.append(f"size {self.width}x{self.height} vs {other.width}x{other.height} (w x h)")
        if not self.transform.almost_equals(other.transform, precision=TRANSFORM_PRECISION):
            out.append(f"transform {tuple(self.transform)[:6]} vs {tuple(other.transform)[:6]}")
        return out

    def display(self, max_pixels: int | None) -> Grid:
        """The decimated grid used for display (same extent, coarser pixels)."""
        h, w = decimated_shape(self.height, self.width, max_pixels)
        scale = Affine.scale(self.width / w, self.height / h)
        return Grid(self.crs, self.transform @ scale, w, h)


def crs_name(crs: CRS | None) -> str:
    """``EPSG:32616`` where the CRS has an EPSG code, else its WKT/PROJ string; ``none``."""
    if crs is None:
        return "none"
    epsg = crs.to_epsg()
    return f"EPSG:{epsg}" if epsg else crs.to_string()


def grid_of(dataset: Any) -> Grid:
    """The grid of an open rasterio dataset (or anything with crs/transform/width/height)."""
    return Grid(dataset.crs, dataset.transform, int(dataset.width), int(dataset.height))


def read_grid(path: str | os.PathLike[str]) -> Grid:
    """The grid of the raster at ``path``."""
    try:
        with rasterio.open(path) as src:
            return grid_of(src)
    except rasterio.errors.RasterioIOError as exc:
        raise SceneError(f"{path} is not a raster rasterio can read ({exc})") from exc


def check_grid(
    grids: Sequence[tuple[str, Grid]],
    *,
    hint: str = "resample or crop them onto one grid first",
) -> None:
    """Raise :class:`GridMismatchError` unless every named grid equals the first.

    The message names each raster that differs and every difference (CRS, size,
    transform), then ``hint``: how to fix it.
    """
    if len(grids) < 2:
        return
    ref_name, ref = grids[0]
    problems = []
    for name, grid in grids[1:]:
        diffs = ref.differences(grid)
        if diffs:
            problems.append(f"{ref_name} vs {name}: {'; '.join(diffs)}")
    if problems:
        raise GridMismatchError(f"not on one grid: {' | '.join(problems)}; {hint}")

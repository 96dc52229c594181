"""Padded tiling as pure window maths (no I/O), with the ArcGIS meaning of ``padding``.

A model sees square tiles of ``tile`` pixels. ``padding`` is the border of each
tile whose predictions are blended with the neighbours: tiles advance by
``stride = tile - 2 * padding``, and tile ``(r, c)`` covers the raster rows
``[r * stride - padding, r * stride - padding + tile)`` (columns likewise), so
its centre ``[padding, tile - padding)`` covers ``[r * stride, (r + 1) * stride)``
and the centres of all tiles partition the raster exactly. Pixels outside the
raster (at the scene border, or beyond a raster smaller than one tile) are
filled by reflection (:func:`reflect_index`, numpy's ``"reflect"`` mode,
repeated as often as needed).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from pix2lst.errors import ModelError, ParameterError

__all__ = ["TILINGS", "TileGrid", "default_padding", "reflect_index", "resolve_tiling"]


def default_padding(tile: int) -> int:
    """The default padding, ``tile // 4`` (64 for 256 px tiles, the notebook's setting)."""
    return tile // 4


def reflect_index(index: npt.ArrayLike, size: int) -> npt.NDArray[np.int64]:
    """Map (possibly out-of-range) indices into ``[0, size)`` by mirror reflection.

    The edge pixel is not repeated (``-1 -> 1``, ``size -> size - 2``), as numpy's
    ``np.pad(mode="reflect")``; indices far outside reflect again (period
    ``2 * (size - 1)``). A size of 1 maps everything to 0.
    """
    if size < 1:
        raise ParameterError(f"size must be positive, not {size}")
    idx = np.asarray(index, dtype=np.int64)
    if size == 1:
        return np.zeros_like(idx)
    period = 2 * (size - 1)
    m = np.mod(idx, period)
    return np.where(m < size, m, period - m)


@dataclass(frozen=True)
class TileGrid:
    """The tiles that cover a ``height`` x ``width`` raster for a model of ``tile`` px."""

    height: int
    width: int
    tile: int
    padding: int

    def __post_init__(self) -> None:
        if self.height < 1 or self.width < 1:
            raise ParameterError(
                f"raster must be at least 1 x 1 px, not {self.height} x {self.width}"
            )
        if self.tile < 1:
            raise ModelError(f"tile size must be positive, not {self.tile}")
        if not 0 <= 2 * self.padding < self.tile:
            raise ParameterError(
                f"padding {self.padding} does not fit {self.tile} px tiles: it must be at "
                f"least 0 and less than half the tile (at most {(self.tile - 1) // 2}); the "
                f"default is {default_padding(self.tile)}"
            )

    @property
    def stride(self) -> int:
        """Distance between consecutive tile origins: ``tile - 2 * padding``."""
        return self.tile - 2 * self.padding

    @property
    def n_rows(self) -> int:
        """Number of tile rows (strips)."""
        return math.ceil(self.height / self.stride)

    @property
    def n_cols(self) -> int:
        """Number of tiles in each strip."""
        return math.ceil(self.width / self.stride)

    @property
    def n_tiles(self) -> int:
        """Number of tiles that cover the raster (before skipping nodata tiles)."""
        return self.n_rows * self.n_cols

    @property
    def padded_width(self) -> int:
        """Width of a strip in padded coordinates (columns ``[-padding, padded_width - padding)``)."""
        return self.n_cols * self.stride + 2 * self.padding

    def row_origin(self, row: int) -> int:
        """First raster row (may be negative) covered by tile row ``row``."""
        return row * self.stride - self.padding

    def col_origin(self, col: int) -> int:
        """First raster column (may be negative) covered by tile column ``col``."""
        return col * self.stride - self.padding

    def strip_rows(self, row: int) -> npt.NDArray[np.int64]:
        """Raster row of each of the ``tile`` rows of strip ``row``, after reflection."""
        start = self.row_origin(row)
        return reflect_index(np.arange(start, start + self.tile), self.height)

    def strip_cols(self) -> npt.NDArray[np.int64]:
        """Raster column of each padded column of a strip, after reflection."""
        return reflect_index(np.arange(-self.padding, self.padded_width - self.padding), self.width)

    def finished_rows(self, row: int) -> tuple[int, int]:
        """Raster rows ``[start, stop)`` that are final once strip ``row`` is accumulated.

        Clipped to the raster; for the last strip this runs to the bottom.
        """
        start = 0 if row == 0 else self.row_origin(row)
        stop = self.height if row == self.n_rows - 1 else self.row_origin(row + 1)
        return max(start, 0), min(max(stop, 0), self.height)


TILINGS = ("auto", "host", "device")
"""Where tiles are cut (:mod:`pix2lst.runtime.strips`): ``host`` (filler threads copy
float32 tiles, ORT uploads them), ``device`` (a strip is uploaded once and cut where the
model runs; only when asked), ``auto`` (host: no GPU has measured device tiling yet)."""


def resolve_tiling(tiling: str, provider: str | None = None) -> str:
    """``"host"`` or ``"device"`` for ``tiling`` (``"auto"`` is ``"host"`` on every
    provider: device tiling is an expert's choice until a GPU has measured it)."""
    if tiling not in TILINGS:
        raise ParameterError(f"tiling must be one of {', '.join(TILINGS)}, not {tiling!r}")
    return "host" if tiling == "auto" else tiling

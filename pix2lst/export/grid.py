"""Pure tile-grid maths for training-tile export, kept apart from I/O.

No torch and no file access here: a scene of ``height x width`` pixels is cut
into square windows of ``tile`` pixels every ``stride`` pixels; the last row and
column of tiles are snapped to the scene edge so that the whole scene is
covered (those edge tiles overlap their neighbours by more than ``tile - stride``).
"""

from __future__ import annotations

from dataclasses import dataclass

from pix2lst.errors import DatasetError

__all__ = ["TileWindow", "tile_offsets", "tile_windows", "windows_overlap"]


@dataclass(frozen=True)
class TileWindow:
    """A square tile window in pixel coordinates of its scene."""

    row_off: int
    col_off: int
    size: int

    def __post_init__(self) -> None:
        if self.size <= 0:
            raise DatasetError(f"tile size must be positive, not {self.size}")
        if self.row_off < 0 or self.col_off < 0:
            raise DatasetError(f"tile offsets must be >= 0, not ({self.row_off}, {self.col_off})")

    @property
    def row_stop(self) -> int:
        return self.row_off + self.size

    @property
    def col_stop(self) -> int:
        return self.col_off + self.size


def tile_offsets(length: int, tile: int, stride: int) -> list[int]:
    """Offsets ``0, stride, 2*stride, ...`` plus one snapped to ``length - tile``.

    Raise :class:`DatasetError` when the scene is smaller than one tile or the
    stride is not in ``1..tile`` (a larger stride would leave gaps).
    """
    if tile <= 0:
        raise DatasetError(f"tile size must be positive, not {tile}")
    if not 0 < stride <= tile:
        raise DatasetError(f"stride must be between 1 and the tile size {tile}, not {stride}")
    if length < tile:
        raise DatasetError(
            f"the raster is {length} px along one axis, smaller than one {tile} px tile; "
            "choose a smaller --tile"
        )
    offsets = list(range(0, length - tile + 1, stride))
    if offsets[-1] != length - tile:
        offsets.append(length - tile)
    return offsets


def tile_windows(height: int, width: int, tile: int, stride: int) -> list[TileWindow]:
    """All tile windows of a ``height x width`` scene, row-major."""
    return [
        TileWindow(r, c, tile)
        for r in tile_offsets(height, tile, stride)
        for c in tile_offsets(width, tile, stride)
    ]


def windows_overlap(a: TileWindow, b: TileWindow) -> bool:
    """True when two windows of the same scene share at least one pixel."""
    return (
        a.row_off < b.row_stop
        and b.row_off < a.row_stop
        and a.col_off < b.col_stop
        and b.col_off < a.col_stop
    )

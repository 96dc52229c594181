"""Per-tile blending weights: ``hann`` (default), ``linear`` and ``crop``.

The mosaic is ``sum(w * prediction) / sum(w)`` over the tiles covering a pixel.
``hann`` and ``linear`` are strictly positive everywhere (the half-sample offset
keeps the edge weights above zero), so every pixel covered by a tile gets a
prediction; ``crop`` keeps only the tile centre ``[padding, tile - padding)``,
which the tile grid makes an exact partition of the raster.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from pix2lst.errors import ParameterError

__all__ = ["BLENDS", "blend_weights"]

BLENDS = ("hann", "linear", "crop")
"""The blend modes, default first."""


def _window_1d(kind: str, tile: int, padding: int) -> npt.NDArray[np.float64]:
    centre = np.arange(tile, dtype=np.float64) + 0.5
    if kind == "hann":
        w = np.sin(np.pi * centre / tile) ** 2
        return 0.5 * (w + w[::-1])  # exactly symmetric
    if kind == "linear":
        return np.minimum(centre, tile - centre) / (tile / 2)
    if kind == "crop":
        w = np.zeros(tile, dtype=np.float64)
        w[padding : tile - padding] = 1.0
        return w
    raise ParameterError(f"blend must be one of {', '.join(BLENDS)}, not {kind!r}")


def blend_weights(kind: str, tile: int, padding: int) -> npt.NDArray[np.float64]:
    """The ``(tile, tile)`` float64 weight window of blend mode ``kind``."""
    w = _window_1d(kind, tile, padding)
    return np.ascontiguousarray(np.outer(w, w))

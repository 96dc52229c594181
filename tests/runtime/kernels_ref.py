"""Plain-numpy twins of :mod:`pix2lst.runtime.kernels`, and an in-memory reference.

The twins have the kernels' signatures and semantics; tests compare them on
random inputs. :func:`reference_mosaic` is the whole-array-in-RAM version of the
streaming pipeline (same tiles, weights and float64 sums), written as simply as
possible so that the streaming output can be checked against it.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from pix2lst.runtime.blending import blend_weights
from pix2lst.runtime.tiling import TileGrid, reflect_index

__all__ = [
    "accumulate_np",
    "cut_strip_np",
    "cut_tiles_np",
    "finalize_rows_np",
    "gather_valid_np",
    "lookup_rows_np",
    "lookup_values_np",
    "normalise_rows_np",
    "reference_mosaic",
    "strip_valid_np",
    "tiles_with_data_np",
    "valid_rows_np",
]

F32 = npt.NDArray[np.float32]
F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
U8 = npt.NDArray[np.uint8]


def strip_valid_np(buf: F32, rmap: I64, cmap: I64, valid: U8) -> None:
    valid[...] = np.isfinite(buf[:, rmap][:, :, cmap]).all(axis=0)


def gather_valid_np(row_valid: U8, rmap: I64, cmap: I64, valid: U8) -> None:
    valid[...] = row_valid[rmap][:, cmap]


def tiles_with_data_np(valid: U8, n_cols: int, stride: int, tile: int) -> npt.NDArray[np.bool_]:
    return np.array(
        [bool(valid[:, c * stride : c * stride + tile].any()) for c in range(n_cols)], dtype=bool
    )


def normalise_rows_np(rows: F32, scale: F32, offset: F32, valid: U8) -> None:
    finite = np.isfinite(rows)
    valid[...] = finite.all(axis=0)
    y = rows * scale[:, None, None] + offset[:, None, None]
    rows[...] = np.where(finite, y, np.float32(0))


def lookup_rows_np(dn: npt.NDArray[np.unsignedinteger], inputs: F32, out: F32, valid: U8) -> None:
    looked_up = np.stack([inputs[b][dn[b]] for b in range(dn.shape[0])])
    ok = ~np.isnan(looked_up)
    out[...] = np.where(ok, looked_up, np.float32(0))
    valid[...] = ok.all(axis=0)


def lookup_values_np(dn: npt.NDArray[np.unsignedinteger], table: F32, out: F32) -> None:
    out[...] = table[dn]


def cut_tiles_np(buf: F32, rmap: I64, cmap: I64, col_starts: I64, batch: F32) -> None:
    tile = rmap.shape[0]
    for k, cs in enumerate(col_starts):
        batch[k] = buf[:, rmap][:, :, cmap[cs : cs + tile]]


def cut_strip_np(buf: F32, rmap: I64, cmap: I64, out: F32) -> None:
    out[...] = buf[:, rmap][:, :, cmap]


def accumulate_np(
    acc: F64, wacc: F64, preds: F32, col_starts: I64, weights: F64, valid: U8, arows: I64,
    first: int, stop: int,
) -> None:  # fmt: skip
    tile = weights.shape[1]
    rows, w = arows[first:stop], weights[first:stop]
    for k, cs in enumerate(col_starts):
        p = preds[k, first:stop].astype(np.float64)
        ok = valid[first:stop, cs : cs + tile].astype(bool) & np.isfinite(p)
        acc[rows, cs : cs + tile] += np.where(ok, w * np.where(ok, p, 0.0), 0.0)
        wacc[rows, cs : cs + tile] += np.where(ok, w, 0.0)


def finalize_rows_np(
    acc: F64,
    wacc: F64,
    arows: I64,
    padding: int,
    scale: float,
    offset: float,
    shift: float,
    resid: F32,
    has_resid: bool,
    out: F32,
) -> None:
    width = out.shape[1]
    a = acc[arows, padding : padding + width]
    w = wacc[arows, padding : padding + width]
    with np.errstate(invalid="ignore", divide="ignore"):
        v = (a / w) * scale + offset
    if has_resid:
        v = v + resid.astype(np.float64)
    out[...] = np.where(w > 0, v + shift, np.nan).astype(np.float32)


def reference_mosaic(
    array: F32,
    model: Callable[[F32], F32],
    *,
    tile: int,
    padding: int,
    blend: str,
    scale: F32,
    offset: F32,
    output_scale: float = 1.0,
    output_offset: float = 0.0,
    residual_index: int | None = None,
    shift: float = 0.0,
) -> F32:
    """Predict a whole ``(n_bands, h, w)`` array held in RAM, tile by tile.

    ``model`` maps a normalised ``(k, n_bands, tile, tile)`` batch to
    ``(k, 1, tile, tile)``. Same maths as the streaming pipeline; no rolling buffers.
    """
    _, height, width = array.shape
    grid = TileGrid(height, width, tile, padding)
    weights = blend_weights(blend, tile, padding)
    rows = reflect_index(np.arange(-padding, grid.n_rows * grid.stride + padding), height)
    cols = reflect_index(np.arange(-padding, grid.padded_width - padding), width)
    padded = array[:, rows][:, :, cols]  # the whole scene, padded by reflection
    valid: npt.NDArray[np.bool_] = np.asarray(np.isfinite(padded).all(axis=0))
    norm = np.where(
        np.isfinite(padded), padded * scale[:, None, None] + offset[:, None, None], np.float32(0)
    ).astype(np.float32)
    acc = np.zeros(valid.shape, dtype=np.float64)
    wacc = np.zeros(valid.shape, dtype=np.float64)
    for r in range(grid.n_rows):
        for c in range(grid.n_cols):
            y0, x0 = r * grid.stride, c * grid.stride
            ok = valid[y0 : y0 + tile, x0 : x0 + tile]
            if not ok.any():
                continue
            pred = model(norm[None, :, y0 : y0 + tile, x0 : x0 + tile])[0, 0].astype(np.float64)
            ok = ok & np.isfinite(pred)
            acc[y0 : y0 + tile, x0 : x0 + tile] += np.where(ok, weights * np.where(ok, pred, 0), 0)
            wacc[y0 : y0 + tile, x0 : x0 + tile] += np.where(ok, weights, 0.0)
    a = acc[padding : padding + height, padding : padding + width]
    w = wacc[padding : padding + height, padding : padding + width]
    with np.errstate(invalid="ignore", divide="ignore"):
        v = (a / w) * output_scale + output_offset
    if residual_index is not None:
        v = v + array[residual_index].astype(np.float64)
    return np.where(w > 0, v + shift, np.nan).astype(np.float32)


def valid_rows_np(dn: npt.NDArray[np.unsignedinteger], inputs: F32, valid: U8) -> None:
    valid[...] = np.all([~np.isnan(inputs[b][dn[b]]) for b in range(dn.shape[0])], axis=0)

"""Lazy prediction of a dask-backed composite: strips of rows, each with its tiles' context.

The mosaic of a pixel depends on the tiles that cover it, so a strip of rows cannot
be predicted alone. Each strip is predicted with :func:`overlap_depth` rows of
the strips above and below it (dask's ``map_overlap``, boundary ``"none"``, the
columns whole), and only its own rows are kept. The strips start on multiples of
the tile stride and the context is a multiple of the stride of at least a tile, so
every block's tile grid is the scene's own, shifted by whole tiles: the tiles that
reach a kept row are the scene's tiles, see the same pixels (none of them
reflected at a block edge that is not the scene's) and are blended in the same
order, so the lazy result equals :meth:`LSTPredictor.predict_array` of the whole
composite bit for bit.

dask is never imported here: the caller's array brings its methods.
"""

from __future__ import annotations

import functools
import math
import threading
import weakref
from typing import Any

import numpy as np
import numpy.typing as npt

from pix2lst.errors import ParameterError

__all__ = ["aligned_chunks", "overlap_depth", "predict_lazy"]

_LOCKS: weakref.WeakKeyDictionary[Any, threading.Lock] = weakref.WeakKeyDictionary()
_LOCKS_GUARD = threading.Lock()


def overlap_depth(tile: int, stride: int) -> int:
    """Rows of context above and below a strip: the tile rounded up to whole strides."""
    if stride < 1 or tile < 1:
        raise ParameterError(f"tile {tile} and stride {stride} must be positive")
    return math.ceil(tile / stride) * stride


def aligned_chunks(rows: int, height: int, tile: int, stride: int) -> tuple[int, ...]:
    """Row chunks for a ``height``-row raster of about ``rows`` rows each: multiples of
    ``stride``, none shorter than :func:`overlap_depth` (a short last chunk joins the
    one before it)."""
    if rows < 1:
        raise ParameterError(f"chunks must be a positive number of rows, not {rows}")
    depth = overlap_depth(tile, stride)
    size = max(math.ceil(rows / stride) * stride, depth)
    chunks = [size] * (height // size)
    rest = height - sum(chunks)
    if rest and chunks and rest < depth:
        chunks[-1] += rest
    elif rest:
        chunks.append(rest)
    return tuple(chunks)


def _lock(predictor: Any) -> threading.Lock:
    """One lock per predictor: it runs one prediction at a time (dask runs blocks in threads)."""
    with _LOCKS_GUARD:
        lock = _LOCKS.get(predictor)
        if lock is None:
            lock = _LOCKS[predictor] = threading.Lock()
        return lock


class _Held:
    """The predictor inside the graph: it stays in this process (its ONNX Runtime sessions
    cannot travel), and says so in one line where a scheduler tries to send it away."""

    def __init__(self, predictor: Any) -> None:
        self.predictor = predictor

    def __reduce__(self) -> Any:
        raise ParameterError(
            "a lazy prediction runs in the process that holds its predictor: compute it with "
            "dask's threads scheduler (dask.config.set(scheduler='threads')), or predict many "
            "scenes on a cluster with pix2lst.batch.run"
        )


def _predict_block(
    block: npt.NDArray[Any],
    *,
    held: _Held,
    units: str,
    depth: int,
    n_blocks: int,
    block_id: tuple[int, ...] | None = None,
) -> npt.NDArray[np.float32]:
    """Predict one strip with its context and keep the strip's own rows."""
    i = 0 if block_id is None else block_id[0]  # (row, column) of the output block
    top = depth if i > 0 else 0
    bottom = depth if i < n_blocks - 1 else 0
    with _lock(held.predictor):
        out = held.predictor.predict_array(np.asarray(block, dtype=np.float32), units=units)
    return out[top : out.shape[0] - bottom]


def predict_lazy(predictor: Any, data: Any, units: str, rows: int | None = None) -> Any:
    """A lazy ``(y, x)`` float32 dask array of the prediction of ``data``, a dask array
    ``(band, y, x)`` in the model's band order and input units.

    ``rows``: rows per strip (default: the input's first row chunk), rounded up to a
    multiple of the tile stride and at least :func:`overlap_depth`. The blocks run in
    this process, one at a time per predictor (dask's threads or synchronous scheduler).
    """
    _, height, width = data.shape
    tile = predictor.tile_size
    stride = predictor.grid(height, width).stride
    depth = overlap_depth(tile, stride)
    chunks = aligned_chunks(rows or data.chunks[1][0], height, tile, stride)
    data = data.rechunk({0: -1, 1: chunks, 2: -1})
    func = functools.partial(
        _predict_block, held=_Held(predictor), units=units, depth=depth, n_blocks=len(chunks)
    )
    meta = np.empty((0, 0), np.float32)
    if len(chunks) == 1:  # the whole raster in one block: nothing to overlap
        return data.map_blocks(func, drop_axis=0, chunks=(chunks, (width,)), meta=meta)
    return data.map_overlap(
        func,
        depth={0: 0, 1: depth, 2: 0},
        boundary="none",
        trim=False,
        drop_axis=0,
        chunks=(chunks, (width,)),
        meta=meta,
    )

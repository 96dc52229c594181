"""The streaming pipeline: strips of tiles, rolling buffers, overlapped reading and writing.

For each strip (one row of tiles) of the :class:`~pix2lst.runtime.tiling.TileGrid`:

1. a reader thread has already filled the strip's *input buffer*: the raster rows
   the strip needs (reflection at the border included), copied from the previous
   buffer where they overlap, so only the new rows are read (two buffers used in
   turn; each compressed block is decoded once);
2. the validity of each raster row (all bands finite) was computed once, when it
   was read; the strip's mask is gathered from it and tiles without a single valid
   pixel are not sent to the model;
3. tiles are normalised into one of two reused batch buffers (the normalisation is
   fused with the copy, which is memory-bound anyway) while an inference thread runs
   ONNX Runtime on the other, and the weighted predictions are added to a rolling
   float64 accumulator of ``tile`` rows x padded width;
4. the ``stride`` rows that no later strip touches are normalised, handed to a
   writer thread, and the accumulator rolls up by ``stride`` rows.

Peak memory is a few ``tile x width`` arrays, whatever the scene height. The
Numba kernels, rasterio and ONNX Runtime release the GIL, so the three threads overlap.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from pix2lst.runtime import kernels
from pix2lst.runtime.blending import blend_weights
from pix2lst.runtime.metadata import ModelMetadata
from pix2lst.runtime.model import BatchRunner
from pix2lst.runtime.sources import Source
from pix2lst.runtime.tiling import TileGrid

__all__ = ["ArraySink", "PipelineStats", "Progress", "Sink", "run_pipeline"]

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
"""``progress(tiles_done, tiles_total)``, called after each batch and strip."""

F32 = npt.NDArray[np.float32]


class Sink(Protocol):
    def write_rows(self, start: int, rows: F32) -> None:
        """Write finished rows ``[start, start + len(rows))`` (float32 ``(n, width)``)."""
        ...


class ArraySink:
    """Collects the output in an in-memory ``(height, width)`` array."""

    def __init__(self, height: int, width: int) -> None:
        self.array = np.full((height, width), np.nan, dtype=np.float32)

    def write_rows(self, start: int, rows: F32) -> None:
        self.array[start : start + rows.shape[0]] = rows


@dataclass(frozen=True)
class PipelineStats:
    """What one run did: tiles in the grid, tiles sent to the model, time in ORT."""

    tiles: int
    tiles_run: int
    inference_seconds: float
    seconds: float

    @property
    def tiles_skipped(self) -> int:
        """Tiles without any valid pixel, not sent to the model."""
        return self.tiles - self.tiles_run


class _RowBuffer:
    """Raster rows ``[lo, hi)`` of every band and their validity, in one of two array pairs."""

    def __init__(self, data: F32, valid: npt.NDArray[np.uint8], lo: int, hi: int) -> None:
        self.data, self.valid, self.lo, self.hi = data, valid, lo, hi


def _load(
    source: Source,
    grid: TileGrid,
    row: int,
    prev: _RowBuffer | None,
    store: tuple[F32, npt.NDArray[np.uint8]],
) -> _RowBuffer:
    """Fill ``store`` with the rows strip ``row`` needs: overlap copied, only new rows read."""
    needed = grid.strip_rows(row)
    lo, hi = int(needed.min()), int(needed.max()) + 1
    data, valid = store[0][:, : hi - lo], store[1][: hi - lo]

    def read(a: int, b: int) -> None:
        source.read_rows(a, b, out=data[:, a - lo : b - lo])
        kernels.rows_valid(data[:, a - lo : b - lo], valid[a - lo : b - lo])

    if prev is not None and prev.lo < hi and lo < prev.hi:  # reuse the overlap
        a, b = max(lo, prev.lo), min(hi, prev.hi)
        data[:, a - lo : b - lo] = prev.data[:, a - prev.lo : b - prev.lo]
        valid[a - lo : b - lo] = prev.valid[a - prev.lo : b - prev.lo]
        if lo < a:
            read(lo, a)
        if b < hi:
            read(b, hi)
    else:
        read(lo, hi)
    return _RowBuffer(data, valid, lo, hi)


def _infer(runner: BatchRunner, batch: F32, n: int) -> F32:
    return np.ascontiguousarray(runner.run(batch, n))


def _blend(
    acc: npt.NDArray[np.float64],
    wacc: npt.NDArray[np.float64],
    inflight: tuple[Future[F32], npt.NDArray[np.int64]],
    weights: npt.NDArray[np.float64],
    valid: npt.NDArray[np.uint8],
    done: int,
    progress: Progress | None,
    grid: TileGrid,
) -> int:
    """Wait for a batch's predictions and add them into the accumulators; tiles done."""
    fut, col_starts = inflight
    kernels.accumulate(acc, wacc, fut.result(), col_starts, weights, valid)
    done += col_starts.size
    if progress is not None:
        progress(done, grid.n_tiles)
    return done


def run_pipeline(
    source: Source,
    sink: Sink,
    runner: BatchRunner,
    grid: TileGrid,
    *,
    blend: str = "hann",
    shift: float = 0.0,
    progress: Progress | None = None,
) -> PipelineStats:
    """Predict ``source`` tile by tile into ``sink``; ``shift`` is added last (e.g. -273.15)."""
    meta: ModelMetadata = runner.model.metadata
    started = time.perf_counter()
    tile, stride, pad = grid.tile, grid.stride, grid.padding
    n_bands = len(meta.bands)
    scale = np.asarray(meta.input_scale, dtype=np.float32)
    offset = np.asarray(meta.input_offset, dtype=np.float32)
    resid_index = (
        meta.bands.index(meta.residual_band)
        if meta.target == "lst_minus_bt" and meta.residual_band
        else -1
    )
    weights = blend_weights(blend, tile, pad)
    cmap = grid.strip_cols()
    acc = np.zeros((tile, grid.padded_width), dtype=np.float64)
    wacc = np.zeros_like(acc)
    valid = np.zeros(acc.shape, dtype=np.uint8)
    batches = (runner.new_batch(), runner.new_batch())  # filled in turn: one is being inferred
    span = min(tile, grid.height)
    stores = [
        (
            np.empty((n_bands, span, grid.width), dtype=np.float32),
            np.empty((span, grid.width), dtype=np.uint8),
        )
        for _ in range(2)
    ]
    dummy = np.zeros((1, 1), dtype=np.float32)
    done = tiles_run = 0
    ort_seconds = runner.seconds
    reader = ThreadPoolExecutor(1, thread_name_prefix="pix2lst-read")
    infer = ThreadPoolExecutor(1, thread_name_prefix="pix2lst-infer")
    writer = ThreadPoolExecutor(1, thread_name_prefix="pix2lst-write")
    writes: list[Future[None]] = []
    try:
        pending = reader.submit(_load, source, grid, 0, None, stores[0])
        for row in range(grid.n_rows):
            buf = pending.result()
            if row + 1 < grid.n_rows:
                pending = reader.submit(_load, source, grid, row + 1, buf, stores[(row + 1) % 2])
            rmap = np.ascontiguousarray(grid.strip_rows(row) - buf.lo)
            kernels.gather_valid(buf.valid, rmap, cmap, valid)
            cols = np.flatnonzero(kernels.tiles_with_data(valid, grid.n_cols, stride, tile))
            done += grid.n_cols - cols.size
            # batch k is copied while ORT runs batch k - 1 (ORT rarely keeps both cores busy)
            inflight: tuple[Future[F32], npt.NDArray[np.int64]] | None = None
            for k in range(0, cols.size, runner.batch_size):
                col_starts = (cols[k : k + runner.batch_size] * stride).astype(np.int64)
                batch = batches[(k // runner.batch_size) % 2]  # the in-flight one is the other
                kernels.fill_batch(buf.data, rmap, cmap, col_starts, scale, offset, batch)
                if inflight is not None:
                    done = _blend(acc, wacc, inflight, weights, valid, done, progress, grid)
                fut = infer.submit(_infer, runner, batch, col_starts.size)
                inflight = (fut, col_starts)
                tiles_run += col_starts.size
            if inflight is not None:
                done = _blend(acc, wacc, inflight, weights, valid, done, progress, grid)
            start, stop = grid.finished_rows(row)
            if stop > start:
                out = np.empty((stop - start, grid.width), dtype=np.float32)
                resid = (
                    buf.data[resid_index, start - buf.lo : stop - buf.lo]
                    if resid_index >= 0
                    else dummy
                )
                kernels.finalize_rows(
                    acc,
                    wacc,
                    start - grid.row_origin(row),
                    pad,
                    meta.output_scale,
                    meta.output_offset,
                    shift,
                    resid,
                    resid_index >= 0,
                    out,
                )
                writes = [f for f in writes if not f.done() or f.result() is not None]
                writes.append(writer.submit(sink.write_rows, start, out))
            acc[: tile - stride] = acc[stride:]
            acc[tile - stride :] = 0.0
            wacc[: tile - stride] = wacc[stride:]
            wacc[tile - stride :] = 0.0
            if progress is not None:
                progress(done, grid.n_tiles)
        for f in writes:
            f.result()
    finally:
        reader.shutdown(wait=True, cancel_futures=True)
        infer.shutdown(wait=True, cancel_futures=True)
        writer.shutdown(wait=True, cancel_futures=True)
    if tiles_run == 0:
        log.warning("every tile of the input is nodata; the output is all NaN")
    return PipelineStats(
        grid.n_tiles, tiles_run, runner.seconds - ort_seconds, time.perf_counter() - started
    )

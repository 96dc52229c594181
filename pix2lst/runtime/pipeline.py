"""The streaming pipeline: strips of tiles, a ring of input rows, overlapped threads.

For each strip (one row of tiles) of the :class:`~pix2lst.runtime.tiling.TileGrid`:

1. reader threads have already read the raster rows the strip needs into a *ring*
   of rows (row ``x`` at ``x % ring_rows``; reflection at the border is a matter
   of indices), one range of columns each: each row is read once, into its place,
   and turned into normalised model input there, once per pixel, by the reader
   (a scene's DN by one table lookup per band that holds calibration and
   normalisation, :func:`~pix2lst.runtime.kernels.lookup_rows`; other inputs'
   values by :func:`~pix2lst.runtime.kernels.normalise_rows`), never copied
   again but into tiles; each compressed block is decoded once. The readers run
   ``AHEAD`` strips ahead of the oldest strip still being blended;
2. the validity of each raster row (all bands finite) was computed at the same
   time; the strip's mask is gathered from it and tiles without a single valid
   pixel are not sent to the model;
3. tiles are copied into one of two reused batch buffers while an inference
   thread runs ONNX Runtime on the other. Batches run across strip borders, so
   ORT always has a full batch queued; the weighted predictions are added to a
   float64 accumulator of ``tile`` rows x padded width, a ring of rows (padded row
   ``p`` at ``p % tile``);
4. once a strip's last tile is added, the ``stride`` rows that no later strip
   touches are normalised and handed to a writer thread, and their accumulator
   rows are cleared for the rows the next strip brings, before any tile of the
   next strip is added (nothing is moved).

Peak memory is a few ``tile x width`` arrays, whatever the scene height. The
Numba kernels, rasterio and ONNX Runtime release the GIL, so the threads overlap.

On a CPU, inference and everything else share the same cores, and ONNX Runtime's
threads wait at barriers between operators, so some CPU time is left over while it
runs; but a thread that preempts one of ORT's stalls the whole operator. With
``io_priority="idle"`` (the default) the reader thread (decoding, calibration)
after the first strip and the writer thread (compression) run at Linux's
``SCHED_IDLE`` policy: they get only CPU time that no other thread wants, so they
fill ORT's gaps instead of preempting it (benchmarks/RESULTS.md has the figures).
They then decode and compress themselves (GDAL ``NUM_THREADS=1``): GDAL's
process-wide worker pool would otherwise run that work at normal priority, or
inherit the idle one for later, unrelated GDAL work. The policy belongs to the
two threads, which end with the run; the caller's threads are untouched. Elsewhere
than on Linux the policy does not exist and the threads run as any other.
"""

from __future__ import annotations

import itertools
import logging
import os
import sys
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from pix2lst.errors import ParameterError
from pix2lst.geo.sources import Source, dn_table
from pix2lst.runtime import kernels
from pix2lst.runtime.blending import blend_weights
from pix2lst.runtime.metadata import ModelMetadata
from pix2lst.runtime.model import BatchRunner
from pix2lst.runtime.tiling import TileGrid

__all__ = [
    "COLUMN_ALIGN",
    "IO_PRIORITIES",
    "ArraySink",
    "PipelineStats",
    "Progress",
    "Sink",
    "dn_input_tables",
    "idle_priority_available",
    "io_threads",
    "run_pipeline",
]

log = logging.getLogger(__name__)

IO_PRIORITIES = ("idle", "normal")
"""``io_priority`` values: reader and writer threads at ``SCHED_IDLE``, or as any thread."""

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


def dn_input_tables(
    values: np.ndarray, scale: np.ndarray, offset: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Model input and validity of every DN, from a source's value tables.

    ``values``: ``(n_bands, n)`` float32, the calibrated value of each DN (NaN for
    nodata). Returns ``(inputs, ok)``: ``values * scale + offset`` in float32 (the
    arithmetic of :func:`normalise_rows`, so a lookup gives bit for bit the same),
    0 where the value is not finite; and uint8 1 where it is finite.
    """
    values = np.asarray(values, dtype=np.float32)
    ok = np.isfinite(values)
    inputs = values * scale[:, None].astype(np.float32) + offset[:, None].astype(np.float32)
    inputs[~ok] = np.float32(0.0)
    return np.ascontiguousarray(inputs, dtype=np.float32), ok.astype(np.uint8)


def idle_priority_available() -> bool:
    """Whether threads can be moved to ``SCHED_IDLE`` here (Linux)."""
    return sys.platform.startswith("linux") and hasattr(os, "SCHED_IDLE")


def _runs_idle(io_priority: str) -> bool:
    """Whether reader and writer go to ``SCHED_IDLE`` for ``io_priority`` (validated) here."""
    if io_priority not in IO_PRIORITIES:
        raise ParameterError(
            f"io_priority must be one of {', '.join(IO_PRIORITIES)}, not {io_priority!r}"
        )
    return io_priority == "idle" and idle_priority_available()


def io_threads(io_priority: str) -> str:
    """GDAL's ``NUM_THREADS`` for the input and the streamed output at ``io_priority``."""
    return "1" if _runs_idle(io_priority) else "ALL_CPUS"


def _to_idle_priority() -> None:
    """Move the calling thread (only it: Linux schedules threads) to ``SCHED_IDLE``."""
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    except OSError as exc:  # e.g. a seccomp filter; the run goes on at normal priority
        log.debug("could not move an I/O thread to SCHED_IDLE: %s", exc)


def _infer(runner: BatchRunner, batch: F32, n: int) -> F32:
    return np.ascontiguousarray(runner.run(batch, n))


COLUMN_ALIGN = 512
"""Column splits between parallel readers fall on multiples of this (or of the
source's ``block_width``): each reader then decodes only its own compressed blocks."""


def column_splits(width: int, parts: int, align: int = COLUMN_ALIGN) -> list[tuple[int, int]]:
    """Split ``[0, width)`` into at most ``parts`` column ranges on multiples of ``align``."""
    if parts < 1:
        raise ParameterError(f"parts must be at least 1, not {parts}")
    align = max(1, align)
    blocks = -(-width // align)
    parts = min(parts, blocks)
    edges = [min(width, (blocks * k // parts) * align) for k in range(parts + 1)]
    return [(a, b) for a, b in itertools.pairwise(edges) if b > a]


def _read_columns(
    source: Source, start: int, stop: int, cols: tuple[int, int], out: npt.NDArray[Any],
    *, dn: bool = False,
) -> None:  # fmt: skip
    """Rows ``[start, stop)``, columns ``cols`` of ``source`` into ``out`` (any strides):
    values, or with ``dn`` the source's DN (a :class:`~pix2lst.geo.sources.DNSource`)."""
    if dn:
        source.read_dn(start, stop, cols, out)  # type: ignore[attr-defined]
        return
    c0, c1 = cols
    if c0 == 0 and c1 == source.width:
        source.read_rows(start, stop, out=out)
        return
    from rasterio.windows import Window

    window = Window(c0, start, c1 - c0, stop - start)  # type: ignore[no-untyped-call]
    source.read(window, out=out)  # type: ignore[attr-defined]


@dataclass
class _Strip:
    """One strip on its way through: its rows, its tile mask, the tiles still to fill or blend."""

    row: int
    rmap: npt.NDArray[np.int64]  # ring row of each of the strip's tile rows
    arows: npt.NDArray[np.int64]  # accumulator row of each of the strip's tile rows
    valid: npt.NDArray[np.uint8]
    starts: npt.NDArray[np.int64]  # padded column of each tile to run
    filled: int = 0
    unblended: int = 0

    @property
    def complete(self) -> bool:
        return self.filled == self.starts.size and self.unblended == 0


DN_CHUNK = 32
"""Raster rows of DN decoded per call before they are looked up: a small buffer that
stays in the CPU cache between decoding and lookup."""

AHEAD = 3
"""Strips read ahead of the oldest unfinished one. An idle-priority reader gets
CPU time only in ORT's gaps, and every few strips a new row of compressed input
blocks must be decoded: three strips of lead time absorb that without stalls."""


_Segment = tuple[_Strip, npt.NDArray[np.int64], int]
"""Tiles of one strip in a batch: the strip, their column starts, their first batch item."""


class _Run:
    """The state of one :func:`run_pipeline` call (see the module docstring).

    Batches are filled across strip borders, so ORT always gets full batches and
    always has the next one queued: batch ``k`` is filled and queued while ORT runs
    batch ``k - 1``, which is then blended. A strip is finished (rows written,
    accumulator rolled) as soon as its last tile is blended, before any tile of
    the next strip is.

    Input rows live in a ring of raster rows (row ``x`` at ``x % ring_rows``): each
    row is read once, into its place, and never copied; a strip's tile rows are
    indices into the ring. Strip ``r + AHEAD`` is read once strip ``r`` is finished,
    and the ring is sized so that this never overwrites a row an unfinished strip needs.
    """

    def __init__(
        self, sources: Sequence[Source], sink: Sink, runners: Sequence[BatchRunner],
        grid: TileGrid, blend: str, shift: float, progress: Progress | None, io_priority: str,
    ) -> None:  # fmt: skip
        source = sources[0]
        self.source, self.sink, self.grid = source, sink, grid
        self.runners = list(runners)
        runner = self.runners[0]
        self.shift, self.progress = shift, progress
        meta: ModelMetadata = runner.model.metadata
        self.meta = meta
        tile = grid.tile
        n_bands = len(meta.bands)
        self.scale = np.asarray(meta.input_scale, dtype=np.float32)
        self.offset = np.asarray(meta.input_offset, dtype=np.float32)
        self.resid_index = (
            meta.bands.index(meta.residual_band)
            if meta.target == "lst_minus_bt" and meta.residual_band
            else -1
        )
        self.weights = blend_weights(blend, tile, grid.padding)
        self.cmap = grid.strip_cols()
        self.acc = np.zeros((tile, grid.padded_width), dtype=np.float64)
        self.wacc = np.zeros_like(self.acc)
        self.valids = [np.zeros(self.acc.shape, dtype=np.uint8) for _ in range(AHEAD)]
        # one batch being filled while each session runs one
        self.batches = [runner.new_batch() for _ in range(len(self.runners) + 1)]
        n = grid.n_rows
        lo = [int(grid.strip_rows(r).min()) for r in range(n)]
        self.hi = [int(grid.strip_rows(r).max()) + 1 for r in range(n)]
        ring_rows = max(self.hi[min(r + AHEAD - 1, n - 1)] - lo[r] for r in range(n))
        self.ring_rows = min(ring_rows, grid.height)
        # rows are kept as normalised model input, made once per pixel by the readers:
        # a scene's DN by table lookup (kernels.lookup_rows), other inputs' values by
        # kernels.normalise_rows
        values = dn_table(source) if all(hasattr(s, "read_dn") for s in sources) else None
        self.values = values
        if values is not None:
            self.inputs, self.ok = dn_input_tables(values, self.scale, self.offset)
            self.dn_dtype = source.dn_dtype  # type: ignore[attr-defined]
        self.scratch: dict[int, npt.NDArray[Any]] = {}  # a DN buffer per reader
        self.ring = np.empty((n_bands, self.ring_rows, grid.width), dtype=np.float32)
        # the residual band's values (brightness temperature), which the output adds back
        self.resid_ring = (
            np.empty((self.ring_rows, grid.width), dtype=np.float32)
            if self.resid_index >= 0
            else None
        )
        self.ring_valid = np.empty((self.ring_rows, grid.width), dtype=np.uint8)
        self.read_to = 0  # rows [0, read_to) have been read (reader thread only)
        self.dummy = np.zeros((1, 1), dtype=np.float32)
        self.loads: dict[int, Future[None]] = {}
        self.active: deque[_Strip] = deque()  # opened, not yet finished, in order
        self.segments: list[_Segment] = []  # of the batch being filled
        self.filling = 0  # items in the batch being filled
        self.n_batches = 0
        self.inflight: deque[tuple[Future[F32], list[_Segment]]] = deque()
        self.done = self.tiles_run = 0
        self.writes: deque[tuple[Future[None], F32]] = deque()  # queued rows and their buffer
        self.out_rows = max(
            (b - a for a, b in (grid.finished_rows(r) for r in range(grid.n_rows))), default=1
        )
        self.idle = _runs_idle(io_priority)
        align = int(getattr(source, "block_width", 0) or COLUMN_ALIGN)
        self.columns = column_splits(grid.width, len(sources), align)
        self.sources = list(sources)[: len(self.columns)]
        self.reader = ThreadPoolExecutor(1, thread_name_prefix="pix2lst-read")
        # the reader hands column ranges beyond the first to these (one per extra source)
        self.readers = [
            ThreadPoolExecutor(1, thread_name_prefix="pix2lst-read") for _ in self.sources[1:]
        ]
        # one thread per session: batch k runs on session k % n, in order on each
        self.infer = [
            ThreadPoolExecutor(1, thread_name_prefix="pix2lst-infer") for _ in self.runners
        ]
        self.writer = ThreadPoolExecutor(
            1,
            thread_name_prefix="pix2lst-write",
            initializer=_to_idle_priority if self.idle else None,
        )

    def close(self) -> None:
        for pool in (self.reader, *self.readers, *self.infer, self.writer):
            pool.shutdown(wait=True, cancel_futures=True)

    def _submit_load(self, row: int) -> None:
        self.loads.pop(row - AHEAD, None)  # opened and finished by now
        self.loads[row] = self.reader.submit(self._read, self.hi[row])

    def _read(self, stop: int) -> None:
        """Read raster rows ``[read_to, stop)`` into their places in the ring (reader thread)."""
        start = self.read_to
        while start < stop:
            pos = start % self.ring_rows
            end = min(stop, start + self.ring_rows - pos)
            parts = [
                pool.submit(self._read_part, src, start, end, cols)
                for pool, src, cols in zip(
                    self.readers, self.sources[1:], self.columns[1:], strict=True
                )
            ]
            self._read_part(self.source, start, end, self.columns[0])
            for part in parts:
                part.result()
            start = end
        self.read_to = max(self.read_to, stop)

    def _read_part(self, source: Source, start: int, stop: int, cols: tuple[int, int]) -> None:
        """Rows ``[start, stop)`` (not wrapping the ring), columns ``cols``: normalised into
        the ring, with their validity (and the residual band's values)."""
        pos = start % self.ring_rows
        c0, c1 = cols
        n = stop - start
        rows = self.ring[:, pos : pos + n, c0:c1]
        valid = self.ring_valid[pos : pos + n, c0:c1]
        ri = self.resid_index
        if self.values is None:
            _read_columns(source, start, stop, cols, rows)
            if self.resid_ring is not None:
                self.resid_ring[pos : pos + n, c0:c1] = rows[ri]
            kernels.normalise_rows(rows, self.scale, self.offset, valid)
            return
        scratch = self.scratch.get(id(source))
        if scratch is None:  # DN in chunks of rows that stay in the cache for the lookup
            scratch = np.empty((rows.shape[0], DN_CHUNK, c1 - c0), dtype=self.dn_dtype)
            self.scratch[id(source)] = scratch
        for a in range(0, n, DN_CHUNK):
            m = min(DN_CHUNK, n - a)
            dn = scratch[:, :m]
            _read_columns(source, start + a, start + a + m, cols, dn, dn=True)
            kernels.lookup_rows(dn, self.inputs, self.ok, rows[:, a : a + m], valid[a : a + m])
            if self.resid_ring is not None:
                kernels.lookup_values(
                    dn[ri], self.values[ri], self.resid_ring[pos + a : pos + a + m, c0:c1]
                )

    def run(self) -> None:
        grid, size = self.grid, self.runners[0].batch_size
        self._submit_load(0)
        if self.idle:  # after the first strip, which nothing can overlap with
            for pool in (self.reader, *self.readers):
                pool.submit(_to_idle_priority)
        for row in range(1, min(AHEAD, grid.n_rows)):
            self._submit_load(row)
        for row in range(grid.n_rows):
            if row not in self.loads:  # strip row - AHEAD still holds ring rows: flush
                self._submit_batch()
                self._drain()
            strip = self._open(row)
            while strip.filled < strip.starts.size:
                take = min(size - self.filling, strip.starts.size - strip.filled)
                starts = strip.starts[strip.filled : strip.filled + take]
                batch = self.batches[self.n_batches % len(self.batches)]
                kernels.cut_tiles(self.ring, strip.rmap, self.cmap, starts, batch[self.filling :])
                self.segments.append((strip, starts, self.filling))
                strip.filled += take
                strip.unblended += take
                self.filling += take
                if self.filling == size:
                    self._submit_batch()
            self._settle()
        self._submit_batch()
        self._drain()
        if self.active:  # pragma: no cover - a bookkeeping error, not an input error
            raise RuntimeError(f"strips left unfinished: {[s.row for s in self.active]}")
        for f, _ in self.writes:
            f.result()

    def _open(self, row: int) -> _Strip:
        """Wait for strip ``row``'s rows from the reader and find its tiles with data."""
        grid = self.grid
        self.loads[row].result()
        rmap = np.ascontiguousarray(grid.strip_rows(row) % self.ring_rows)
        valid = self.valids[row % AHEAD]
        kernels.gather_valid(self.ring_valid, rmap, self.cmap, valid)
        cols = np.flatnonzero(kernels.tiles_with_data(valid, grid.n_cols, grid.stride, grid.tile))
        self.done += grid.n_cols - cols.size
        arows = (row * grid.stride + np.arange(grid.tile, dtype=np.int64)) % grid.tile
        strip = _Strip(row, rmap, arows, valid, (cols * grid.stride).astype(np.int64))
        self.active.append(strip)
        return strip

    def _submit_batch(self) -> None:
        """Queue the batch being filled; once every session has one, blend the oldest.

        Batches are blended in the order they were filled, whichever session ran them,
        so the mosaic does not depend on the number of sessions.
        """
        if self.filling == 0:
            return
        k = self.n_batches
        batch = self.batches[k % len(self.batches)]
        which = k % len(self.runners)
        fut = self.infer[which].submit(_infer, self.runners[which], batch, self.filling)
        self.inflight.append((fut, self.segments))
        self.tiles_run += self.filling
        self.segments, self.filling = [], 0
        self.n_batches += 1
        if len(self.inflight) > len(self.runners):  # its batch buffer is the next to fill
            self._blend(self.inflight.popleft())

    def _drain(self) -> None:
        while self.inflight:
            self._blend(self.inflight.popleft())

    def _blend(self, inflight: tuple[Future[F32], list[_Segment]]) -> None:
        fut, segments = inflight
        preds = fut.result()
        for strip, starts, first in segments:
            kernels.accumulate(
                self.acc, self.wacc, preds[first : first + starts.size], starts,
                self.weights, strip.valid, strip.arows,
            )  # fmt: skip
            strip.unblended -= starts.size
            self.done += starts.size
            self._settle()  # a strip is finished before the next one's tiles are added
        if self.progress is not None:
            self.progress(self.done, self.grid.n_tiles)

    def _settle(self) -> None:
        while self.active and self.active[0].complete:
            self._finish(self.active.popleft())

    def _out_buffer(self) -> F32:
        """A buffer for finished rows: a new one while few writes are queued, else the
        oldest queued write's once it is written (no fresh pages per strip)."""
        if len(self.writes) < AHEAD:
            return np.empty((self.out_rows, self.grid.width), dtype=np.float32)
        fut, buf = self.writes.popleft()
        fut.result()  # raises what the sink raised
        return buf.base if buf.base is not None else buf  # type: ignore[return-value]

    def _resid_rows(self, start: int, stop: int) -> F32:
        """The residual band's values of raster rows ``[start, stop)``, from the ring."""
        rows = self.resid_ring
        if rows is None:
            return self.dummy
        first = start % self.ring_rows
        if first + stop - start <= self.ring_rows:
            return rows[first : first + stop - start]
        return rows[np.arange(start, stop) % self.ring_rows]  # the rows wrap around the ring

    def _finish(self, strip: _Strip) -> None:
        """Write the strip's finished rows, clear their accumulator rows, read strip
        ``row + AHEAD``."""
        grid, tile, stride = self.grid, self.grid.tile, self.grid.stride
        start, stop = grid.finished_rows(strip.row)
        if stop > start:
            out = self._out_buffer()[: stop - start]
            resid = self._resid_rows(start, stop)
            arows = (np.arange(start, stop, dtype=np.int64) + grid.padding) % tile
            kernels.finalize_rows(
                self.acc, self.wacc, arows, grid.padding,
                self.meta.output_scale, self.meta.output_offset, self.shift,
                resid, self.resid_index >= 0, out,
            )  # fmt: skip
            self.writes.append((self.writer.submit(self.sink.write_rows, start, out), out))
        # padded rows [row * stride, (row + 1) * stride): no later strip touches them, and
        # their ring rows take the next strip's new rows
        done = strip.arows[:stride]
        self.acc[done] = 0.0
        self.wacc[done] = 0.0
        if strip.row + AHEAD < grid.n_rows:  # no unfinished strip needs the rows it replaces
            self._submit_load(strip.row + AHEAD)
        if self.progress is not None:
            self.progress(self.done, grid.n_tiles)


def run_pipeline(
    source: Source | Sequence[Source],
    sink: Sink,
    runner: BatchRunner | Sequence[BatchRunner],
    grid: TileGrid,
    *,
    blend: str = "hann",
    shift: float = 0.0,
    progress: Progress | None = None,
    io_priority: str = "idle",
) -> PipelineStats:
    """Predict ``source`` tile by tile into ``sink``; ``shift`` is added last (e.g. -273.15).

    ``source``: one source, or several handles on the same input (each used by one
    thread only): the rows of each strip are then read and calibrated in parallel,
    one column range (:func:`column_splits`) per handle. Handles after the first
    must offer ``read(window, out=...)``.
    ``runner``: one batch runner, or one per ONNX Runtime session: batches then run
    on the sessions in turn, in parallel, and are blended in order (same mosaic).
    ``io_priority``: ``"idle"`` runs the reader and writer threads at ``SCHED_IDLE``
    (see the module docstring; open the source and sink with
    :func:`io_threads` GDAL threads), ``"normal"`` as any thread.
    """
    _runs_idle(io_priority)  # validates
    sources = [source] if not isinstance(source, Sequence) else list(source)
    runners = [runner] if isinstance(runner, BatchRunner) else list(runner)
    if not sources or not runners:
        raise ParameterError("run_pipeline needs at least one source and one batch runner")
    if len({r.batch_size for r in runners}) != 1:
        raise ParameterError("all batch runners of one pipeline must share one batch size")
    started = time.perf_counter()
    ort_seconds = sum(r.seconds for r in runners)
    state = _Run(sources, sink, runners, grid, blend, shift, progress, io_priority)
    try:
        state.run()
    finally:
        state.close()
    if state.tiles_run == 0:
        log.warning("every tile of the input is nodata; the output is all NaN")
    return PipelineStats(
        grid.n_tiles,
        state.tiles_run,
        sum(r.seconds for r in runners) - ort_seconds,
        time.perf_counter() - started,
    )

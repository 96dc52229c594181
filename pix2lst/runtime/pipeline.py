"""The streaming pipeline: strips of tiles, a ring of input rows, overlapped threads.

For each strip (one row of tiles) of the :class:`~pix2lst.runtime.tiling.TileGrid`:

1. reader threads have already read the raster rows the strip needs into the
   :class:`~pix2lst.runtime.ring.InputRing`, a ring of rows made model input once
   per pixel (see :mod:`pix2lst.runtime.ring`), never copied again but into tiles.
   The readers run :func:`ahead_strips` strips ahead of the oldest strip still being
   blended;
2. the validity of each raster row (all bands finite) was computed at the same
   time; the strip's mask is gathered from it and tiles without a single valid
   pixel are not sent to the model;
3. filler threads copy tiles into reused batch buffers while inference threads (one
   per ONNX Runtime session) run earlier batches and this thread blends the ones that
   are done (with ``blend_threads - 1`` helpers, a band of rows each: the same sums, bit
   for bit). Batches run across strip borders, so ORT always has a full batch queued; the
   weighted predictions are added to a float64 accumulator of ``tile`` rows x
   padded width, a ring of rows (padded row ``p`` at ``p % tile``);
4. once a strip's last tile is added, the ``stride`` rows that no later strip
   touches are normalised and handed to a writer thread, and their accumulator
   rows are cleared for the rows the next strip brings, before any tile of the
   next strip is added (nothing is moved). Given an atmospheric correction, the
   finished rows are corrected in kelvin, with band 10's brightness temperature the
   ring kept, before the unit shift and before the writer.

How many threads of each kind, and their priority, is the caller's
:class:`~pix2lst.runtime.plan.Plan`; nothing here decides a layout.

With device tiling (:mod:`pix2lst.runtime.strips`) step 3 copies whole strips
instead of tiles: a batch is one strip, uploaded once, and ONNX Runtime cuts its
tiles on the model's device.

Peak memory is a few ``tile x width`` arrays, whatever the scene height. The
Numba kernels, rasterio and ONNX Runtime release the GIL, so the threads overlap.

Reader and writer threads run at ``SCHED_IDLE`` with ``io_priority="idle"``
(:mod:`pix2lst.runtime.priority`).
"""

from __future__ import annotations

import functools
import itertools
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from pix2lst.errors import ParameterError
from pix2lst.geo.sources import Source
from pix2lst.runtime import kernels
from pix2lst.runtime.blending import blend_weights
from pix2lst.runtime.metadata import ModelMetadata
from pix2lst.runtime.model import BatchRunner
from pix2lst.runtime.plan import resolve_io_priority
from pix2lst.runtime.priority import runs_idle, to_idle_priority
from pix2lst.runtime.ring import InputRing
from pix2lst.runtime.strips import StripRunner
from pix2lst.runtime.tiling import TileGrid

__all__ = [
    "BELOW_BT_MARGIN_K",
    "LEAD_ROWS",
    "ArraySink",
    "Correction",
    "PipelineStats",
    "Progress",
    "Sink",
    "run_pipeline",
]

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
"""``progress(tiles_done, tiles_total)``, called after each batch and strip."""

F32 = npt.NDArray[np.float32]


class Sink(Protocol):
    def write_rows(self, start: int, rows: F32) -> None:
        """Write finished rows ``[start, start + len(rows))`` (float32 ``(n, width)``)."""
        ...


class Correction(Protocol):
    """What the pipeline needs of an atmospheric correction
    (:class:`pix2lst.lst_physics.atmosphere.AtmosphereCorrection`)."""

    def correct_rows(self, lst: F32, bt: F32, start: int) -> None:
        """Correct rows ``[start, start + n)`` of LST (kelvin) in place, given band 10's BT."""
        ...


BELOW_BT_MARGIN_K = 0.5
"""An LST more than this below band 10's brightness temperature cannot come from
single-channel physics (LST >= BT for any emissivity <= 1); the pipeline counts such pixels."""


class ArraySink:
    """Collects the output in an in-memory ``(height, width)`` array."""

    def __init__(self, height: int, width: int) -> None:
        self.array = np.full((height, width), np.nan, dtype=np.float32)

    def write_rows(self, start: int, rows: F32) -> None:
        self.array[start : start + rows.shape[0]] = rows


@dataclass(frozen=True)
class PipelineStats:
    """What one run did: tiles in the grid, tiles sent to the model, time in ORT, and
    (where band 10 is an input) the valid pixels looked at and those predicted more than
    :data:`BELOW_BT_MARGIN_K` below band 10's brightness temperature."""

    tiles: int
    tiles_run: int
    inference_seconds: float
    seconds: float
    bt_checked: int = 0
    below_bt: int = 0

    @property
    def below_bt_fraction(self) -> float:
        """Fraction of the checked valid pixels below band 10's BT (0 where none checked)."""
        return self.below_bt / self.bt_checked if self.bt_checked else 0.0

    @property
    def tiles_skipped(self) -> int:
        """Tiles without any valid pixel, not sent to the model."""
        return self.tiles - self.tiles_run


Runner = BatchRunner | StripRunner
"""Runs a batch of tiles cut on the host, or a strip whose tiles are cut on the device."""


def _infer(runner: Runner, batch: F32, segments: list[_Segment], filled: Future[None]) -> F32:
    filled.result()  # the filler thread has cut the batch (raises what it raised)
    if isinstance(runner, StripRunner):  # one strip, all of its tiles
        return runner.run(batch, segments[0][1])
    n = sum(starts.size for _, starts, _ in segments)
    return np.ascontiguousarray(runner.run(batch, n))


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


LEAD_ROWS = 256
"""Raster rows the readers keep ahead of the strip being filled. An idle-priority
reader gets CPU time only in ORT's gaps, and every few strips a new row of
compressed input blocks must be decoded: 256 rows of lead (two strips at 256 px
tiles) absorb that without stalls."""


def ahead_strips(stride: int) -> int:
    """Strips read ahead of the oldest unfinished one: enough for :data:`LEAD_ROWS` rows
    beyond it, at least 2 (3 at 256 px tiles, 2 at 512 px: the ring holds that many
    strips, so larger tiles do not take a ring of rows they do not need)."""
    return max(2, -(-LEAD_ROWS // max(1, stride)) + 1)


_Segment = tuple[_Strip, npt.NDArray[np.int64], int]
"""Tiles of one strip in a batch: the strip, their column starts, their first batch item."""


class _Run:
    """The state of one :func:`run_pipeline` call (see the module docstring).

    Batches are filled across strip borders, so ORT always gets full batches and
    always has the next one queued: batch ``k`` is cut by a filler thread and queued
    on session ``k % sessions`` (which waits for the cut) while earlier batches run
    and the oldest finished one is blended here. A strip is finished (rows written,
    accumulator rows cleared) as soon as its last tile is blended, before any tile
    of the next strip is.

    A strip's tile rows are indices into the :class:`~pix2lst.runtime.ring.InputRing`.
    Strip ``r + ahead`` is read once strip ``r`` is finished, and the ring is sized so
    that this never overwrites a row an unfinished strip needs.
    """

    def __init__(
        self, sources: Sequence[Source], sink: Sink, runners: Sequence[Runner],
        grid: TileGrid, blend: str, shift: float, progress: Progress | None, io_priority: str,
        fillers: int, blend_threads: int, correction: Correction | None,
    ) -> None:  # fmt: skip
        self.sink, self.grid = sink, grid
        self.runners = list(runners)
        runner = self.runners[0]
        # device tiling: a batch is one whole strip, its tiles cut where the model runs
        self.by_strip = isinstance(runner, StripRunner)
        self.shift, self.progress = shift, progress
        self.correction = correction
        meta: ModelMetadata = runner.model.metadata
        self.meta = meta
        tile = grid.tile
        self.weights = blend_weights(blend, tile, grid.padding)
        self.cmap = grid.strip_cols()
        self.acc = np.zeros((tile, grid.padded_width), dtype=np.float64)
        self.wacc = np.zeros_like(self.acc)
        self.ahead = ahead = ahead_strips(grid.stride)
        self.valids = [np.zeros(self.acc.shape, dtype=np.uint8) for _ in range(ahead)]
        n_fill = fillers
        # blending (a strip's mask, adding predictions, finishing and clearing rows) is this
        # thread's, with blend_threads - 1 helpers taking bands of rows
        n_blend = blend_threads
        self.blenders = (
            ThreadPoolExecutor(n_blend - 1, thread_name_prefix="pix2lst-blend")
            if n_blend > 1
            else None
        )
        self.n_blend = n_blend
        n = grid.n_rows
        lo = [int(grid.strip_rows(r).min()) for r in range(n)]
        self.hi = [int(grid.strip_rows(r).max()) + 1 for r in range(n)]
        ring_rows = max(self.hi[min(r + ahead - 1, n - 1)] - lo[r] for r in range(n))
        # the rows of `ahead` strips: the reads for strip r + ahead start once r is done;
        # device tiling on a GPU keeps a scene's DN there, looked up on the device
        strips = [r for r in self.runners if isinstance(r, StripRunner)]  # all, or none
        keep_dn = bool(strips) and all(r.upload_dn for r in strips)
        self.ring = InputRing(
            sources, meta, grid.width, min(ring_rows, grid.height), keep_dn=keep_dn,
            keep_bt=True,
        )  # fmt: skip
        if correction is not None and self.ring.bt is None:
            raise ParameterError(
                "an atmospheric correction needs band 10's brightness temperature among the "
                f"model's inputs in kelvin (bands {list(meta.bands)}, input units "
                f"{meta.input_units!r}); use a model that takes B10 as TOA brightness temperature"
            )
        self.bt_checked = self.below_bt = 0
        if self.ring.holds_dn:
            lut = self.ring.device_lut()
            for r in strips:
                r.set_lut(lut)
        # a batch being cut per filler, one running per session, one to queue into
        self.batches = [self._new_batch(runner) for _ in range(n_fill + len(self.runners) + 1)]
        self.has_resid = self.ring.resid is not None
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
        self.idle = runs_idle(io_priority)
        # one thread per session: batch k runs on session k % n, in order on each
        self.infer = [
            ThreadPoolExecutor(1, thread_name_prefix="pix2lst-infer") for _ in self.runners
        ]
        self.fillers = ThreadPoolExecutor(n_fill, thread_name_prefix="pix2lst-fill")
        self.writer = ThreadPoolExecutor(
            1,
            thread_name_prefix="pix2lst-write",
            initializer=to_idle_priority if self.idle else None,
        )

    def _new_batch(self, runner: Runner) -> npt.NDArray[Any]:
        if isinstance(runner, StripRunner):
            return runner.new_strip(self.grid.padded_width, dn=self.ring.holds_dn)
        return runner.new_batch()

    def close(self) -> None:
        self.ring.close()
        for pool in (self.fillers, *self.infer, self.writer, self.blenders):
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)

    def _by_rows(self, n: int, work: Callable[[int, int], None]) -> None:
        """``work(a, b)`` over ``[0, n)``: in one call, or in bands of rows shared between
        this thread and the blend helpers (the bands are disjoint; all are done on return)."""
        if self.blenders is None or n < 2 * self.n_blend:
            work(0, n)
            return
        edges = [n * k // self.n_blend for k in range(self.n_blend + 1)]
        helped = [self.blenders.submit(work, a, b) for a, b in itertools.pairwise(edges[1:])]
        try:
            work(edges[0], edges[1])
        finally:
            for f in helped:
                f.result()  # raises what the helper raised

    def _submit_load(self, row: int) -> None:
        self.loads.pop(row - self.ahead, None)  # opened and finished by now
        self.loads[row] = self.ring.fill(self.hi[row])

    def run(self) -> None:
        grid, size = self.grid, self.runners[0].batch_size
        self._submit_load(0)
        if self.idle:  # after the first strip, which nothing can overlap with
            self.ring.to_idle_priority()
        for row in range(1, min(self.ahead, grid.n_rows)):
            self._submit_load(row)
        for row in range(grid.n_rows):
            if row not in self.loads:  # strip row - ahead still holds ring rows: flush
                self._submit_batch()
                self._drain()
            strip = self._open(row)
            if self.by_strip and strip.starts.size:  # the strip is the batch
                self.segments = [(strip, strip.starts, 0)]
                strip.filled = strip.unblended = self.filling = strip.starts.size
                self._submit_batch()
            while strip.filled < strip.starts.size:
                take = min(size - self.filling, strip.starts.size - strip.filled)
                starts = strip.starts[strip.filled : strip.filled + take]
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
        rmap = np.ascontiguousarray(grid.strip_rows(row) % self.ring.rows)
        valid = self.valids[row % self.ahead]
        self._by_rows(
            grid.tile,
            lambda a, b: kernels.gather_valid(self.ring.valid, rmap[a:b], self.cmap, valid[a:b]),
        )
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
        filled = self.fillers.submit(self._cut, self.segments, batch)
        fut = self.infer[which].submit(_infer, self.runners[which], batch, self.segments, filled)
        self.inflight.append((fut, self.segments))
        self.tiles_run += self.filling
        self.segments, self.filling = [], 0
        self.n_batches += 1
        if len(self.inflight) >= len(self.batches) - 1:  # its buffer is the next but one
            self._blend(self.inflight.popleft())

    def _cut(self, segments: list[_Segment], batch: F32) -> None:
        """Copy the tiles of ``segments`` out of the ring into ``batch`` (a filler thread);
        with device tiling the one segment's whole strip.

        The ring rows stay: a strip's rows are replaced only once the strip is finished,
        after every batch holding its tiles has run."""
        if self.by_strip:
            kernels.cut_strip(self.ring.data, segments[0][0].rmap, self.cmap, batch)
            return
        for strip, starts, first in segments:
            kernels.cut_tiles(self.ring.data, strip.rmap, self.cmap, starts, batch[first:])

    def _drain(self) -> None:
        while self.inflight:
            self._blend(self.inflight.popleft())

    def _blend(self, inflight: tuple[Future[F32], list[_Segment]]) -> None:
        fut, segments = inflight
        preds = fut.result()
        for strip, starts, first in segments:
            add = functools.partial(  # + (first row, stop row) of a band
                kernels.accumulate, self.acc, self.wacc, preds[first : first + starts.size],
                starts, self.weights, strip.valid, strip.arows,
            )  # fmt: skip
            self._by_rows(self.grid.tile, add)
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
        if len(self.writes) < self.ahead:
            return np.empty((self.out_rows, self.grid.width), dtype=np.float32)
        fut, buf = self.writes.popleft()
        fut.result()  # raises what the sink raised
        return buf.base if buf.base is not None else buf  # type: ignore[return-value]

    def _count_below_bt(self, out: F32, bt: F32, start: int) -> None:
        """Count, on every 4th raster row, the valid pixels predicted more than
        :data:`BELOW_BT_MARGIN_K` below band 10's brightness temperature."""
        first = -start % 4
        o, t = out[first::4], bt[first::4]
        ok = np.isfinite(o) & np.isfinite(t)
        self.bt_checked += int(np.count_nonzero(ok))
        limit = t + np.float32(self.shift - BELOW_BT_MARGIN_K)
        self.below_bt += int(np.count_nonzero(ok & (o < limit)))

    def _finish(self, strip: _Strip) -> None:
        """Write the strip's finished rows, clear their accumulator rows, read strip
        ``row + ahead``."""
        grid, tile, stride = self.grid, self.grid.tile, self.grid.stride
        start, stop = grid.finished_rows(strip.row)
        if stop > start:
            out = self._out_buffer()[: stop - start]
            resid = self.ring.resid_rows(start, stop)
            bt = self.ring.bt_rows(start, stop)
            arows = (np.arange(start, stop, dtype=np.int64) + grid.padding) % tile
            # with a correction the rows are finished in kelvin, corrected, then shifted
            shift = self.shift if self.correction is None else 0.0

            def finish(a: int, b: int) -> None:
                kernels.finalize_rows(
                    self.acc, self.wacc, arows[a:b], grid.padding,
                    self.meta.output_scale, self.meta.output_offset, shift,
                    self.dummy if resid is None else resid[a:b], self.has_resid, out[a:b],
                )  # fmt: skip
                if self.correction is not None and bt is not None:
                    self.correction.correct_rows(out[a:b], bt[a:b], start + a)
                    if self.shift:
                        out[a:b] += np.float32(self.shift)

            self._by_rows(stop - start, finish)
            if bt is not None:
                self._count_below_bt(out, bt, start)
            self.writes.append((self.writer.submit(self.sink.write_rows, start, out), out))
        # padded rows [row * stride, (row + 1) * stride): no later strip touches them, and
        # their ring rows take the next strip's new rows
        done = strip.arows[:stride]

        def clear(a: int, b: int) -> None:
            self.acc[done[a:b]] = 0.0
            self.wacc[done[a:b]] = 0.0

        self._by_rows(stride, clear)
        if strip.row + self.ahead < grid.n_rows:  # no unfinished strip needs these rows
            self._submit_load(strip.row + self.ahead)
        if self.progress is not None:
            self.progress(self.done, grid.n_tiles)


def run_pipeline(
    source: Source | Sequence[Source],
    sink: Sink,
    runner: Runner | Sequence[Runner],
    grid: TileGrid,
    *,
    blend: str = "hann",
    shift: float = 0.0,
    progress: Progress | None = None,
    io_priority: str = "idle",
    fillers: int | None = None,
    blend_threads: int = 1,
    correction: Correction | None = None,
) -> PipelineStats:
    """Predict ``source`` tile by tile into ``sink``; ``shift`` is added last (e.g. -273.15).

    ``source``: one source, or several handles on the same input (each used by one
    thread only): the rows of each strip are then read and calibrated in parallel,
    one column range (:func:`column_splits`) per handle. Handles after the first
    must offer ``read(window, out=...)``.
    ``runner``: one batch runner, or one per ONNX Runtime session: batches then run
    on the sessions in turn, in parallel, and are blended in order (same mosaic).
    :class:`~pix2lst.runtime.strips.StripRunner` s instead of batch runners: device
    tiling, each strip is one batch (all of its tiles with data) and is copied whole,
    its tiles cut where the model runs (same mosaic).
    ``io_priority``: ``"idle"`` runs the reader and writer threads at ``SCHED_IDLE``
    (open the source and sink with :func:`~pix2lst.runtime.priority.io_threads` GDAL
    threads), ``"normal"`` as any thread, ``"auto"`` idle (the CPU's choice).
    ``fillers`` threads cut tiles (None: one per runner), ``blend_threads`` blend (this
    one and its helpers): the :class:`~pix2lst.runtime.plan.Plan`'s figures.
    ``correction``: an atmospheric correction applied to the finished rows in kelvin
    (needs band 10 among the model's inputs); None keeps the output as it was.
    """
    io_priority = resolve_io_priority(io_priority)  # validates; "auto": the CPU's
    sources = [source] if not isinstance(source, Sequence) else list(source)
    runners = [runner] if isinstance(runner, (BatchRunner, StripRunner)) else list(runner)
    if not sources or not runners:
        raise ParameterError("run_pipeline needs at least one source and one batch runner")
    if len({type(r) for r in runners}) != 1:
        raise ParameterError("the runners of one pipeline must all cut tiles the same way")
    if len({r.batch_size for r in runners}) != 1:
        raise ParameterError("all batch runners of one pipeline must share one batch size")
    # never more sessions than a tiny raster has tiles: each one holds batch buffers
    runners = runners[: max(1, grid.n_tiles)]
    n_fill = max(1, len(runners) if fillers is None else fillers)
    started = time.perf_counter()
    ort_seconds = sum(r.seconds for r in runners)
    state = _Run(
        sources, sink, runners, grid, blend, shift, progress, io_priority,
        n_fill, max(1, blend_threads), correction,
    )  # fmt: skip
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
        state.bt_checked,
        state.below_bt,
    )

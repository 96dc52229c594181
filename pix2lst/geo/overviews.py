"""Overviews streamed as the rows of a raster arrive, instead of GDAL's pass at the end.

GDAL's ``build_overviews(..., average)`` decodes every block of the finished file again
(with GDAL's slow floating-point predictor): 1.6-2 s for a full Landsat scene. The
writer (:func:`pix2lst.geo.writer.raster_writer`) instead feeds the full-width rows it
streams, in order, to an :class:`OverviewStream`:

* :func:`accumulate_rows` (Numba, nogil) adds each row into float64 sums and counts of
  the finite pixels of the current row of ``f x f`` blocks of the finest level; a
  finished row of blocks becomes one overview row (``sum / count``, NaN where no pixel
  is valid) and is added into the next level's sums (exact: sums of sums, counts of
  counts), and so on. Each overview pixel is the mean of the valid base pixels of its
  ``f x f`` block; partial blocks at the right and bottom edge average what exists
  (``ceil(h / f) x ceil(w / f)``, the shapes GDAL uses).
* Memory is bounded by the width: one row of blocks per level; finished overview rows
  go to an anonymous temporary file (no name, nothing left behind if the process dies).
* :func:`append_overviews` appends them to the closed GeoTIFF as reduced-resolution IFDs
  (tifffile + imagecodecs: tiled, ZSTD level 1, floating-point predictor, the base's
  block size), which GDAL reads as the file's internal overviews.

How this differs from GDAL's AVERAGE (measured, GDAL 3.10): on a raster whose size the
factors divide and without NaN the values are the same (float rounding). With NaN, GDAL
builds level 4 and up from the level below (a mean of means, each weighted alike), here
every level is the exact mean of its valid base pixels; level 2 agrees. On a size the
factor does not divide, GDAL maps overview pixels to source windows of ratio
``w / ceil(w / f)`` (not ``f``), which shifts them across the whole overview; here each
pixel is the mean of its own ``f x f`` block and only the last row and column are partial.

:func:`accumulate_rows_ref` is the kernel's plain-numpy twin (same signature), for the tests.
"""

from __future__ import annotations

import itertools
import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from numba import njit

from pix2lst.errors import OutputWriteError, ParameterError

__all__ = ["OverviewStream", "accumulate_rows", "accumulate_rows_ref", "append_overviews"]

_CHUNK = 256
"""Rows given to the kernel at once (bounds its output buffer by the width)."""

GDAL_NODATA = 42113
"""The TIFF tag where GDAL keeps a band's nodata value."""


@njit(nogil=True, cache=True, error_model="numpy")  # type: ignore[misc]
def accumulate_rows(
    rows: npt.NDArray[np.float32],
    row0: int,
    height: int,
    factors: npt.NDArray[np.int64],
    sums: npt.NDArray[np.float64],
    counts: npt.NDArray[np.int64],
    out: npt.NDArray[np.float32],
    n_out: npt.NDArray[np.int64],
) -> None:  # pragma: no cover - compiled; the numpy twin is tested against it
    """Add base rows ``row0 ...`` of a ``height``-row raster into the pyramid.

    ``factors``: ``(L,)`` increasing, each a multiple of the previous; ``sums`` /
    ``counts``: ``(L + 1, w)``: row 0 the per-column sums and counts of the finite base
    pixels of the current row of blocks of the finest level, row ``l + 1`` the block sums
    of level ``l`` (its first ``ceil(w / factors[l])`` entries); ``out``:
    ``(L, R, ceil(w / factors[0]))`` receives the overview rows finished by these rows,
    ``n_out[l]`` of them for level ``l`` (R >= len(rows) // factors[0] + 1).
    """
    n_levels = factors.shape[0]
    width = rows.shape[1]
    for lvl in range(n_levels):
        n_out[lvl] = 0
    colsum = sums[0]
    colcnt = counts[0]
    f0 = factors[0]
    full = width // f0
    # 2 x 2 blocks (the writer's finest level): each row's pairs go straight into the
    # block sums (2.5x faster than column sums reduced per row of blocks); other factors
    # sum columns first. The float64 sums of float32 values are exact either way
    pairs = f0 == 2
    s1 = sums[1]
    c1 = counts[1]
    inf = np.float32(np.inf)
    zero = np.float32(0.0)
    for i in range(rows.shape[0]):
        r = rows[i]
        if pairs:
            for k in range(full):  # branch-free: vectorised
                a = r[2 * k]
                b = r[2 * k + 1]
                oka = np.abs(a) < inf  # finite
                okb = np.abs(b) < inf
                s1[k] += np.float64(a if oka else zero) + np.float64(b if okb else zero)
                c1[k] += (1 if oka else 0) + (1 if okb else 0)
            if width > 2 * full:  # an odd width: the last column is a block of its own
                v = r[width - 1]
                ok = np.abs(v) < inf
                s1[full] += np.float64(v if ok else zero)
                c1[full] += 1 if ok else 0
        else:
            for j in range(width):  # branch-free: vectorised
                v = r[j]
                ok = np.abs(v) < inf
                colsum[j] += np.float64(v if ok else zero)
                colcnt[j] += 1 if ok else 0
        done = row0 + i + 1
        if done % f0 != 0 and done != height:
            continue
        if not pairs:  # the finished row of blocks of the finest level (strided, vectorised)
            for t in range(f0):
                for k in range(full):
                    s1[k] += colsum[k * f0 + t]
                    c1[k] += colcnt[k * f0 + t]
            for j in range(full * f0, width):  # a partial block at the right edge
                s1[full] += colsum[j]
                c1[full] += colcnt[j]
            for j in range(width):
                colsum[j] = 0.0
                colcnt[j] = 0
        for lvl in range(n_levels):
            f = factors[lvl]
            if done % f != 0 and done != height:
                break
            wl = (width + f - 1) // f
            sl = sums[lvl + 1]
            cl = counts[lvl + 1]
            o = out[lvl, n_out[lvl]]
            for k in range(wl):  # 0 / 0 is NaN (error_model="numpy"): no valid pixel
                o[k] = np.float32(sl[k] / np.float64(cl[k]))
            n_out[lvl] += 1
            if lvl + 1 < n_levels:
                ratio = factors[lvl + 1] // f
                sn = sums[lvl + 2]
                cn = counts[lvl + 2]
                if ratio == 2:  # the writer's factors double: pairs, vectorised
                    half = wl // 2
                    for m in range(half):
                        sn[m] += sl[2 * m] + sl[2 * m + 1]
                        cn[m] += cl[2 * m] + cl[2 * m + 1]
                    if wl > 2 * half:
                        sn[half] += sl[wl - 1]
                        cn[half] += cl[wl - 1]
                else:
                    for m in range((wl + ratio - 1) // ratio):  # no division per pixel
                        acc = 0.0
                        n = 0
                        for k in range(m * ratio, min(m * ratio + ratio, wl)):
                            acc += sl[k]
                            n += cl[k]
                        sn[m] += acc
                        cn[m] += n
            sl[:wl] = 0.0
            cl[:wl] = 0


def accumulate_rows_ref(
    rows: npt.NDArray[np.float32],
    row0: int,
    height: int,
    factors: npt.NDArray[np.int64],
    sums: npt.NDArray[np.float64],
    counts: npt.NDArray[np.int64],
    out: npt.NDArray[np.float32],
    n_out: npt.NDArray[np.int64],
) -> None:
    """Plain-numpy twin of :func:`accumulate_rows` (same arguments, same results)."""
    width = rows.shape[1]
    n_out[:] = 0
    f0 = int(factors[0])
    w0 = -(-width // f0)
    for i in range(rows.shape[0]):
        ok = np.isfinite(rows[i])
        sums[0] += np.where(ok, rows[i], 0.0)
        counts[0] += ok
        done = row0 + i + 1
        if done % f0 and done != height:
            continue
        edges = np.arange(0, width, f0)
        sums[1, :w0] = np.add.reduceat(sums[0], edges)
        counts[1, :w0] = np.add.reduceat(counts[0], edges)
        sums[0] = 0.0
        counts[0] = 0
        for lvl, f in enumerate(int(f) for f in factors):
            if done % f and done != height:
                break
            wl = -(-width // f)
            with np.errstate(invalid="ignore", divide="ignore"):
                row = sums[lvl + 1, :wl] / counts[lvl + 1, :wl]
            out[lvl, n_out[lvl], :wl] = np.where(counts[lvl + 1, :wl] > 0, row, np.nan)
            n_out[lvl] += 1
            if lvl + 1 < len(factors):
                ratio = int(factors[lvl + 1]) // f
                np.add.at(sums[lvl + 2], np.arange(wl) // ratio, sums[lvl + 1, :wl])
                np.add.at(counts[lvl + 2], np.arange(wl) // ratio, counts[lvl + 1, :wl])
            sums[lvl + 1, :wl] = 0.0
            counts[lvl + 1, :wl] = 0


class OverviewStream:
    """The overview pyramid of a one-band float32 raster, accumulated from its rows in order.

    :meth:`add` takes the next full-width rows (False, and nothing done, when they are
    not the next ones: the caller then builds overviews with GDAL). Finished overview
    rows are spooled to an anonymous temporary file in ``spool_dir`` (an ``OSError``
    there, a full disk, propagates). ``kernel``: :func:`accumulate_rows` or its twin.
    """

    def __init__(
        self,
        height: int,
        width: int,
        factors: Sequence[int],
        spool_dir: str | os.PathLike[str],
        kernel: Any = None,
    ) -> None:
        fs = [int(f) for f in factors]
        if not fs or fs[0] < 2 or any(b % a for a, b in itertools.pairwise(fs)):
            raise ParameterError(
                f"overview factors {fs} must start at >= 2, each a multiple of the last"
            )
        self.height, self.width = height, width
        self.factors = np.asarray(fs, dtype=np.int64)
        self.shapes = [(-(-height // f), -(-width // f)) for f in fs]
        self._sums = np.zeros((len(fs) + 1, width), dtype=np.float64)
        self._counts = np.zeros((len(fs) + 1, width), dtype=np.int64)
        self._n_out = np.zeros(len(fs), dtype=np.int64)
        self._kernel = kernel if kernel is not None else accumulate_rows
        self._offsets = np.cumsum([0] + [4 * h * w for h, w in self.shapes]).tolist()
        self._done = [0] * len(fs)
        self.next_row = 0
        self._spool = tempfile.TemporaryFile(dir=spool_dir)

    @property
    def complete(self) -> bool:
        """Every row of the raster was added."""
        return self.next_row == self.height

    def add(self, start: int, rows: npt.NDArray[Any]) -> bool:
        """Add full-width rows starting at raster row ``start``; False if they are not the next."""
        if start != self.next_row or rows.ndim != 2 or rows.shape[1] != self.width:
            return False
        if start + rows.shape[0] > self.height:
            return False
        for k in range(0, rows.shape[0], _CHUNK):  # the output buffer stays small
            self._add(start + k, np.ascontiguousarray(rows[k : k + _CHUNK], dtype=np.float32))
        return True

    def _add(self, start: int, rows: npt.NDArray[np.float32]) -> None:
        out = np.empty(
            (len(self.shapes), rows.shape[0] // int(self.factors[0]) + 1, self.shapes[0][1]),
            dtype=np.float32,
        )
        self._kernel(
            rows, start, self.height, self.factors, self._sums, self._counts, out, self._n_out
        )
        fd = self._spool.fileno()
        for lvl, (_, w) in enumerate(self.shapes):
            n = int(self._n_out[lvl])
            if n:
                data = np.ascontiguousarray(out[lvl, :n, :w])
                pos = self._offsets[lvl] + 4 * w * self._done[lvl]
                _pwrite_all(fd, memoryview(data.data).cast("B"), pos)
                self._done[lvl] += n
        self.next_row = start + rows.shape[0]

    def level(self, lvl: int, start: int, n: int) -> npt.NDArray[np.float32]:
        """Rows ``start ... start + n`` of overview level ``lvl`` (finished ones only)."""
        h, w = self.shapes[lvl]
        n = min(n, h - start)
        buf = np.empty((n, w), dtype=np.float32)
        view = memoryview(buf.data).cast("B")
        pos, got = self._offsets[lvl] + 4 * w * start, 0
        while got < len(view):
            k = os.preadv(self._spool.fileno(), [view[got:]], pos + got)
            if k <= 0:
                raise OutputWriteError(
                    f"the overview spool of level {lvl} ends early (was a row skipped?); "
                    "write the raster again"
                )
            got += k
        return buf

    def tiles(self, lvl: int, block: int) -> Iterator[npt.NDArray[np.float32]]:
        """The ``block x block`` tiles of level ``lvl`` row by row, NaN-padded at the edges."""
        h, w = self.shapes[lvl]
        for y in range(0, h, block):
            rows = self.level(lvl, y, block)
            for x in range(0, w, block):
                part = rows[:, x : x + block]
                if part.shape == (block, block):
                    yield np.ascontiguousarray(part)
                else:
                    tile = np.full((block, block), np.nan, dtype=np.float32)
                    tile[: part.shape[0], : part.shape[1]] = part
                    yield tile

    def close(self) -> None:
        self._spool.close()


def _pwrite_all(fd: int, data: memoryview, pos: int) -> None:
    done = 0
    while done < len(data):
        done += os.pwrite(fd, data[done:], pos + done)


def append_overviews(
    path: str | os.PathLike[str], stream: OverviewStream, *, block: int, workers: int = 1
) -> None:
    """Append ``stream``'s levels to the closed GeoTIFF ``path`` as its internal overviews.

    Reduced-resolution IFDs after the base's (tiled ``block``, ZSTD level 1, predictor 3,
    GDAL's NaN nodata tag), the layout GDAL writes and reads. Errors (``OSError`` for a
    full disk) propagate; the caller then discards the file.
    """
    import tifffile

    with tifffile.TiffWriter(Path(path), append=True) as tw:
        for lvl, shape in enumerate(stream.shapes):
            tw.write(
                stream.tiles(lvl, block),
                shape=shape,
                dtype=np.float32,
                tile=(block, block),
                compression="zstd",
                compressionargs={"level": 1},
                predictor=3,
                subfiletype=1,
                photometric="minisblack",
                metadata=None,
                software=False,
                maxworkers=workers,
                extratags=[(GDAL_NODATA, "s", 0, "nan", True)],
            )

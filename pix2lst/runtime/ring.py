"""The ring of input rows: raster rows read once, made model input once per pixel.

The pipeline (:mod:`pix2lst.runtime.pipeline`) cuts its tiles out of an
:class:`InputRing`, a ring of raster rows (row ``x`` at ``x % rows``; reflection at
the scene border is a matter of indices). Reader threads fill it ahead of the
strips that need it, one range of columns each (:func:`column_splits`, on the
input's block edges, so each reader decodes only its own compressed blocks): each
row is read once, into its place, and turned into normalised model input there,
once per pixel (a scene's DN by one table lookup per band that holds calibration,
normalisation and validity, :func:`dn_input_tables` and
:func:`~pix2lst.runtime.kernels.lookup_rows`; other inputs' values by
:func:`~pix2lst.runtime.kernels.normalise_rows`), together with the row's validity
(every band finite) and the values of the bands the output needs back: a residual
model's residual band, and band 10's brightness temperature (an atmospheric correction
and the plausibility count use it).

With ``keep_dn`` (device tiling, :mod:`pix2lst.runtime.strips`) a scene's DN are
kept as they are, decoded straight into the ring, and only their validity is looked
up here (:func:`~pix2lst.runtime.kernels.valid_rows`): the strips are uploaded as
16-bit DN, half the bytes of float32, and the model's device looks them up in
:meth:`InputRing.device_lut`.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np
import numpy.typing as npt

from pix2lst.errors import ParameterError
from pix2lst.geo.bands import band_key
from pix2lst.geo.sources import Source, dn_table
from pix2lst.runtime import kernels
from pix2lst.runtime.metadata import ModelMetadata
from pix2lst.runtime.priority import to_idle_priority

__all__ = ["COLUMN_ALIGN", "DN_CHUNK", "InputRing", "column_splits", "dn_input_tables"]

F32 = npt.NDArray[np.float32]

COLUMN_ALIGN = 512
"""Column splits between parallel readers fall on multiples of this (or of the
source's ``block_width``): each reader then decodes only its own compressed blocks."""

DN_CHUNK = 32
"""Raster rows of DN decoded per call before they are looked up: a small buffer that
stays in the CPU cache between decoding and lookup."""


def dn_input_tables(values: np.ndarray, scale: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """Model input of every DN, from a source's value tables.

    ``values``: ``(n_bands, n)`` float32, the calibrated value of each DN (NaN for
    nodata). Returns ``(n_bands, n)`` float32 ``values * scale + offset`` (the
    arithmetic of :func:`~pix2lst.runtime.kernels.normalise_rows`, so a lookup gives
    bit for bit the same), NaN where the value is not finite: one table holds input
    and validity, and :func:`~pix2lst.runtime.kernels.lookup_rows` writes 0 and marks
    the pixel invalid where it finds NaN.
    """
    values = np.asarray(values, dtype=np.float32)
    inputs = values * scale[:, None].astype(np.float32) + offset[:, None].astype(np.float32)
    inputs[~np.isfinite(values)] = np.float32(np.nan)
    return np.ascontiguousarray(inputs, dtype=np.float32)


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


class InputRing:
    """``rows`` raster rows of ``sources`` as normalised model input, filled by readers.

    ``sources``: one or more handles on the same input, one reader thread (and one
    range of columns) each; handles after the first must offer ``read(window,
    out=...)``. :meth:`fill` queues "read up to raster row ``stop``" on the first
    reader, which hands the other column ranges to the other readers; reads run in
    order and each row is read once. The caller must not let a read overwrite a row
    it still needs (row ``x`` lives at ``x % rows``).

    ``data``: ``(n_bands, rows, width)`` float32 model input (0 where nodata), or
    where ``holds_dn`` the scene's DN (``keep_dn=True`` and a
    :class:`~pix2lst.geo.sources.DNSource`); ``valid``: ``(rows, width)`` uint8, 1
    where every band is finite; ``resid``: ``(rows, width)`` float32, the residual
    band's values, or None; ``bt``: with ``keep_bt``, band 10's values (its brightness
    temperature, for a model whose inputs are TOA values), or None (the same array as
    ``resid`` where band 10 is the residual band).
    """

    def __init__(
        self, sources: Sequence[Source], meta: ModelMetadata, width: int, rows: int,
        *, keep_dn: bool = False, keep_bt: bool = False,
    ) -> None:  # fmt: skip
        source = sources[0]
        n_bands = len(meta.bands)
        self.rows = rows
        self.scale = np.asarray(meta.input_scale, dtype=np.float32)
        self.offset = np.asarray(meta.input_offset, dtype=np.float32)
        self.resid_index = (
            meta.bands.index(meta.residual_band)
            if meta.target == "lst_minus_bt" and meta.residual_band
            else -1
        )
        # a scene's DN by table lookup (kernels.lookup_rows), other inputs' values by
        # kernels.normalise_rows
        values = dn_table(source) if all(hasattr(s, "read_dn") for s in sources) else None
        self.values = values
        if values is not None:
            self.inputs = dn_input_tables(values, self.scale, self.offset)
            self.dn_dtype = source.dn_dtype  # type: ignore[attr-defined]
        self.scratch: dict[int, npt.NDArray[Any]] = {}  # a DN buffer per reader
        self.holds_dn = keep_dn and values is not None
        dtype = self.dn_dtype if self.holds_dn else np.float32
        self.data: npt.NDArray[Any] = np.empty((n_bands, rows, width), dtype=dtype)
        self.valid = np.empty((rows, width), dtype=np.uint8)
        # the residual band's values (brightness temperature), which the output adds back
        self.resid = np.empty((rows, width), dtype=np.float32) if self.resid_index >= 0 else None
        keys = [band_key(b) for b in meta.bands]
        self.bt_index = (
            next((keys.index(k) for k in ("B10", "LWIR11") if k in keys), -1)
            if keep_bt and meta.input_units == "toa"
            else -1
        )
        self.bt: F32 | None = None
        if self.bt_index >= 0:
            same = self.bt_index == self.resid_index
            self.bt = self.resid if same else np.empty((rows, width), dtype=np.float32)
        # (band index, rows) of each band whose values are kept
        self.kept: list[tuple[int, F32]] = [
            (i, a)
            for i, a in ((self.resid_index, self.resid), (self.bt_index, self.bt))
            if a is not None and i >= 0
        ]
        if len(self.kept) == 2 and self.kept[0][1] is self.kept[1][1]:
            self.kept = self.kept[:1]
        self.read_to = 0  # rows [0, read_to) have been read (first reader thread only)
        align = int(getattr(source, "block_width", 0) or COLUMN_ALIGN)
        self.columns = column_splits(width, len(sources), align)
        self.sources = list(sources)[: len(self.columns)]
        self._reader = ThreadPoolExecutor(1, thread_name_prefix="pix2lst-read")
        # the reader hands column ranges beyond the first to these (one per extra source)
        self._helpers = [
            ThreadPoolExecutor(1, thread_name_prefix="pix2lst-read") for _ in self.sources[1:]
        ]

    def device_lut(self) -> F32:
        """``(n_bands, entries)`` float32: the model input of every DN (0 for nodata, as
        :func:`~pix2lst.runtime.kernels.lookup_rows` writes), for a ring that holds DN."""
        if not self.holds_dn:
            raise ParameterError("device_lut: this ring holds model input, not DN")
        return np.ascontiguousarray(np.nan_to_num(self.inputs, nan=0.0), dtype=np.float32)

    def fill(self, stop: int) -> Future[None]:
        """Queue reading raster rows up to ``stop`` (from where the last read ended)."""
        return self._reader.submit(self._read, stop)

    def to_idle_priority(self) -> None:
        """Queue moving the reader threads to ``SCHED_IDLE`` (after the reads queued)."""
        for pool in (self._reader, *self._helpers):
            pool.submit(to_idle_priority)

    def resid_rows(self, start: int, stop: int) -> F32 | None:
        """The residual band's values of raster rows ``[start, stop)`` (None: no residual)."""
        return self._rows(self.resid, start, stop)

    def bt_rows(self, start: int, stop: int) -> F32 | None:
        """Band 10's values of raster rows ``[start, stop)`` (None: not kept)."""
        return self._rows(self.bt, start, stop)

    def _rows(self, kept: F32 | None, start: int, stop: int) -> F32 | None:
        if kept is None:
            return None
        first = start % self.rows
        if first + stop - start <= self.rows:
            return kept[first : first + stop - start]
        return kept[np.arange(start, stop) % self.rows]  # the rows wrap around the ring

    def close(self) -> None:
        for pool in (self._reader, *self._helpers):
            pool.shutdown(wait=True, cancel_futures=True)

    def _read(self, stop: int) -> None:
        """Read raster rows ``[read_to, stop)`` into their places (first reader thread)."""
        start = self.read_to
        while start < stop:
            pos = start % self.rows
            end = min(stop, start + self.rows - pos)
            parts = [
                pool.submit(self._read_part, src, start, end, cols)
                for pool, src, cols in zip(
                    self._helpers, self.sources[1:], self.columns[1:], strict=True
                )
            ]
            self._read_part(self.sources[0], start, end, self.columns[0])
            for part in parts:
                part.result()
            start = end
        self.read_to = max(self.read_to, stop)

    def _read_part(self, source: Source, start: int, stop: int, cols: tuple[int, int]) -> None:
        """Rows ``[start, stop)`` (not wrapping the ring), columns ``cols``: normalised into
        the ring, with their validity (and the residual band's values)."""
        pos = start % self.rows
        c0, c1 = cols
        n = stop - start
        rows = self.data[:, pos : pos + n, c0:c1]
        valid = self.valid[pos : pos + n, c0:c1]
        if self.values is None:
            _read_columns(source, start, stop, cols, rows)
            for index, kept in self.kept:
                kept[pos : pos + n, c0:c1] = rows[index]
            kernels.normalise_rows(rows, self.scale, self.offset, valid)
            return
        scratch = None  # with holds_dn the DN go straight into the ring
        if not self.holds_dn:  # else in chunks of rows that stay in the cache for the lookup
            scratch = self.scratch.get(id(source))
            if scratch is None:
                scratch = np.empty((rows.shape[0], DN_CHUNK, c1 - c0), dtype=self.dn_dtype)
                self.scratch[id(source)] = scratch
        for a in range(0, n, DN_CHUNK):
            m = min(DN_CHUNK, n - a)
            dn = rows[:, a : a + m] if scratch is None else scratch[:, :m]
            _read_columns(source, start + a, start + a + m, cols, dn, dn=True)
            if scratch is None:
                kernels.valid_rows(dn, self.inputs, valid[a : a + m])
            else:
                kernels.lookup_rows(dn, self.inputs, rows[:, a : a + m], valid[a : a + m])
            for index, kept in self.kept:
                kernels.lookup_values(
                    dn[index], self.values[index], kept[pos + a : pos + a + m, c0:c1]
                )

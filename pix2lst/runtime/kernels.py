"""Numba kernels of the streaming pipeline (nogil, serial, vectorised inner loops).

They are deliberately not ``parallel=True``: between ONNX Runtime calls the
cores belong to ORT's thread pool, and on kernels this small a parallel region
costs more in thread wake-up than it saves; serial kernels release the GIL, so
they overlap with the reader and writer threads anyway.

All kernels work on one *strip* of tiles. Shapes and names used throughout:

* ``buf``: ``(n_bands, n_buf_rows, width)`` float32, raster rows held in memory,
  normalised model input (0 where the input is nodata), made once per pixel when
  the rows are read: :func:`normalise_rows` from values, :func:`lookup_rows` from
  a scene's DN (one table per band,
  :func:`pix2lst.runtime.ring.dn_input_tables`);
* ``rmap``: ``(tile,)`` int64, the row of ``buf`` feeding each tile row
  (reflection at the scene border already applied);
* ``cmap``: ``(padded_width,)`` int64, the raster column feeding each padded column;
* ``col_starts``: ``(k,)`` int64, the padded column where each tile of a batch starts;
* ``valid``: ``(tile, padded_width)`` uint8, 1 where every band is finite;
* ``acc`` / ``wacc``: ``(n_acc_rows, padded_width)`` float64 accumulators of
  ``sum(w * prediction)`` and ``sum(w)``, a ring of rows (the pipeline keeps padded
  row ``p`` at ``p % tile`` and clears rows it has finished: nothing is moved);
* ``arows``: int64, the accumulator row of each tile row (``(tile,)``) or of each
  output row.

Each kernel has a plain-numpy twin in ``tests/runtime/kernels_ref.py`` with the
same signature; the tests check they agree.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = [
    "accumulate",
    "cut_strip",
    "cut_tiles",
    "finalize_rows",
    "gather_valid",
    "lookup_rows",
    "lookup_values",
    "normalise_rows",
    "tiles_with_data",
    "valid_rows",
]


@njit(nogil=True, cache=True)
def gather_valid(row_valid, rmap, cmap, valid):  # type: ignore[no-untyped-def]
    """The strip's validity from per-row validity: ``valid[i, j] = row_valid[rmap[i], cmap[j]]``.

    Same result as the test oracle ``strip_valid_np`` on the values ``row_valid`` was
    computed from.
    """
    lo, hi, shift = _plain_span(cmap)
    for i in range(rmap.shape[0]):
        _copy_padded(row_valid[rmap[i]], valid[i], cmap, lo, hi, shift)


@njit(nogil=True, cache=True)
def _plain_span(cmap):  # type: ignore[no-untyped-def]
    """``(lo, hi, shift)``: the padded columns ``[lo, hi)`` that are a plain slice of the
    raster's, ``cmap[j] == j + shift`` (the rest are reflected at the borders)."""
    width = cmap.shape[0]
    shift = cmap[width // 2] - width // 2
    lo = width // 2
    while lo > 0 and cmap[lo - 1] == lo - 1 + shift:
        lo -= 1
    hi = width // 2
    while hi < width and cmap[hi] == hi + shift:
        hi += 1
    return lo, hi, shift


@njit(nogil=True, cache=True, inline="always")
def _copy_padded(src, dst, cmap, lo, hi, shift):  # type: ignore[no-untyped-def]
    """``dst[j] = src[cmap[j]]``, with ``[lo, hi)`` from :func:`_plain_span` copied as a
    plain slice: an explicit loop over two views of the same length, which LLVM
    vectorises, where indexing with ``j + shift`` would not."""
    for j in range(lo):  # reflected at the left border
        dst[j] = src[cmap[j]]
    inner_src = src[lo + shift : hi + shift]
    inner_dst = dst[lo:hi]
    for j in range(hi - lo):
        inner_dst[j] = inner_src[j]
    for j in range(hi, cmap.shape[0]):  # reflected at the right border
        dst[j] = src[cmap[j]]


@njit(nogil=True, cache=True)
def tiles_with_data(valid, n_cols, stride, tile):  # type: ignore[no-untyped-def]
    """Return ``(n_cols,)`` bool: does tile column ``c`` hold at least one valid pixel?"""
    out = np.zeros(n_cols, dtype=np.bool_)
    for c in range(n_cols):
        start = c * stride
        found = False
        for i in range(valid.shape[0]):
            for j in range(start, start + tile):
                if valid[i, j]:
                    found = True
                    break
            if found:
                break
        out[c] = found
    return out


@njit(nogil=True, cache=True)
def normalise_rows(rows, scale, offset, valid):  # type: ignore[no-untyped-def]
    """In place: ``rows = rows * scale + offset`` per band, 0 where not finite; ``valid`` 1
    where every band of the pixel is finite. ``rows``: float32 ``(n_bands, n, w)``, any
    strides; ``valid``: uint8 ``(n, w)``."""
    n_bands, n_rows, width = rows.shape
    zero = np.float32(0.0)
    for i in range(n_rows):
        ok = valid[i]
        ok[:] = 1
        for b in range(n_bands):
            row = rows[b, i]
            s = scale[b]
            o = offset[b]
            for c in range(width):  # branch-free: vectorises
                v = row[c]
                f = np.isfinite(v)
                ok[c] &= np.uint8(f)
                row[c] = v * s + o if f else zero


@njit(nogil=True, cache=True)
def lookup_rows(dn, inputs, out, valid):  # type: ignore[no-untyped-def]
    """DN to model input: ``out[b] = inputs[b, dn[b]]``, 0 where that is NaN; ``valid`` 1
    where no band's entry is NaN. ``dn``: unsigned ``(n_bands, n, w)``; ``out`` float32,
    ``valid`` uint8 ``(n, w)``, any strides; ``inputs`` from
    :func:`~pix2lst.runtime.ring.dn_input_tables` (one gather per pixel and band)."""
    n_bands, n_rows, width = dn.shape
    zero = np.float32(0.0)
    for i in range(n_rows):
        dst_ok = valid[i]
        for b in range(n_bands):
            src = dn[b, i]
            dst = out[b, i]
            t = inputs[b]
            if b == 0:
                for c in range(width):  # branch-free: vectorises
                    v = t[src[c]]
                    f = v == v  # not NaN
                    dst[c] = v if f else zero
                    dst_ok[c] = np.uint8(f)
            else:
                for c in range(width):
                    v = t[src[c]]
                    f = v == v
                    dst[c] = v if f else zero
                    dst_ok[c] &= np.uint8(f)


@njit(nogil=True, cache=True)
def valid_rows(dn, inputs, valid):  # type: ignore[no-untyped-def]
    """``valid`` 1 where no band's ``inputs[b, dn[b]]`` is NaN: :func:`lookup_rows`'s
    validity without its values (device tiling uploads the DN and looks them up
    there, :mod:`pix2lst.runtime.strips`). Shapes as :func:`lookup_rows`'s."""
    n_bands, n_rows, width = dn.shape
    for i in range(n_rows):
        dst_ok = valid[i]
        for c in range(width):
            dst_ok[c] = np.uint8(1)
        for b in range(n_bands):
            src = dn[b, i]
            t = inputs[b]
            for c in range(width):
                v = t[src[c]]
                dst_ok[c] &= np.uint8(v == v)


@njit(nogil=True, cache=True)
def lookup_values(dn, table, out):  # type: ignore[no-untyped-def]
    """``out = table[dn]`` for a 2-D block of one band's DN (e.g. the brightness
    temperature a residual model adds back); ``out`` float32, any strides."""
    n_rows, width = dn.shape
    for i in range(n_rows):
        src = dn[i]
        dst = out[i]
        for c in range(width):
            dst[c] = table[src[c]]


@njit(nogil=True, cache=True)
def cut_tiles(buf, rmap, cmap, col_starts, batch):  # type: ignore[no-untyped-def]
    """Copy tiles of normalised rows into ``batch[k]`` (``(>= k, n_bands, tile, tile)``):
    only its first ``len(col_starts)`` items are written."""
    n_bands = buf.shape[0]
    tile = rmap.shape[0]
    n = col_starts.shape[0]
    for kb in range(n * n_bands):
        k = kb // n_bands
        b = kb % n_bands
        cs = col_starts[k]
        c0 = cmap[cs]
        # reflection is 1-Lipschitz: a span of tile - 1 means no fold, a plain slice
        if cmap[cs + tile - 1] - c0 == tile - 1:
            for i in range(tile):
                batch[k, b, i] = buf[b, rmap[i], c0 : c0 + tile]
        else:
            for i in range(tile):
                r = rmap[i]
                for j in range(tile):
                    batch[k, b, i, j] = buf[b, r, cmap[cs + j]]


@njit(nogil=True, cache=True)
def cut_strip(buf, rmap, cmap, out):  # type: ignore[no-untyped-def]
    """Copy a whole strip of normalised rows into ``out`` (``(n_bands, tile, padded_width)``),
    columns padded by ``cmap`` (device tiling: the strip is uploaded once and its tiles are
    cut on the model's device, :mod:`pix2lst.runtime.strips`)."""
    n_bands = buf.shape[0]
    tile = rmap.shape[0]
    lo, hi, shift = _plain_span(cmap)
    for bi in range(n_bands * tile):
        b = bi // tile
        i = bi % tile
        _copy_padded(buf[b, rmap[i]], out[b, i], cmap, lo, hi, shift)


@njit(nogil=True, cache=True)
def accumulate(acc, wacc, preds, col_starts, weights, valid, arows, first, stop):  # type: ignore[no-untyped-def]
    """Add ``weights * preds[k]`` and ``weights`` into accumulator rows ``arows``, for the
    tile rows ``[first, stop)`` (threads may blend disjoint bands of rows at once).

    Pixels that are invalid in the input, or whose prediction is not finite, add
    nothing to either sum. Serial: row by row, the tiles of a row in order.
    """
    tile = weights.shape[1]
    n = col_starts.shape[0]
    for i in range(first, stop):
        r = arows[i]
        for k in range(n):
            cs = col_starts[k]
            a = acc[r, cs : cs + tile]
            wa = wacc[r, cs : cs + tile]
            ok = valid[i, cs : cs + tile]
            for j in range(tile):  # branch-free (adding 0.0 changes nothing): vectorises
                p = np.float64(preds[k, i, j])
                use = ok[j] != 0 and np.isfinite(p)
                w = weights[i, j] if use else 0.0
                a[j] += w * p if use else 0.0
                wa[j] += w


@njit(nogil=True, cache=True)
def finalize_rows(acc, wacc, arows, padding, scale, offset, shift, resid, has_resid, out):  # type: ignore[no-untyped-def]
    """Write finished rows: ``out = (acc / wacc) * scale + offset [+ resid] + shift``.

    ``out`` is float32 ``(n_rows, width)`` and takes accumulator rows
    ``arows`` (``(n_rows,)``) from padded column ``padding`` on; ``resid`` (same
    shape as ``out``) is the brightness temperature a residual model adds back.
    Pixels without any weight are NaN. The arithmetic is float64, rounded once.
    """
    n_rows, width = out.shape
    nan = np.float32(np.nan)
    for i in range(n_rows):
        r = arows[i]
        a = acc[r, padding : padding + width]
        wa = wacc[r, padding : padding + width]
        dst = out[i]
        if has_resid:
            res = resid[i]
            for j in range(width):  # branch-free over views: vectorises
                w = wa[j]
                v = (a[j] / (w if w > 0.0 else 1.0)) * scale + offset + np.float64(res[j])
                dst[j] = np.float32(v + shift) if w > 0.0 else nan
        else:
            for j in range(width):
                w = wa[j]
                v = (a[j] / (w if w > 0.0 else 1.0)) * scale + offset
                dst[j] = np.float32(v + shift) if w > 0.0 else nan

"""Reading a written raster back before it replaces its target: nothing silently lost.

A write that failed without an error (a full disk, a truncated file, a GDAL write
error swallowed on close) surfaces here, in the temporary file, before
:func:`pix2lst.geo.writer.raster_writer` renames it onto its target; the previous
output is then untouched. Two depths of check, both through GDAL:

* :func:`check_complete`: GDAL opens the file, its size and band count are the
  grid's, and every block lies inside the file (no decoding). The writer runs it on
  the closed file before it builds overviews or converts it to a COG (GDAL may crash
  building overviews on a file whose writes failed).
* :func:`verify_raster`: the full check at the end. The full-resolution image and
  every overview: each block present and inside the file, and every block read back
  through GDAL (decoded). Given the :func:`checksum` of what was written, the values
  read back must give the same one.

Every failure is an :class:`~pix2lst.errors.OutputWriteError` whose message names the
target the temporary file stands for (:func:`write_failed`, shared with the writer).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import rasterio
from rasterio._err import CPLE_BaseError
from rasterio.windows import Window

from pix2lst._machine import gdal_threads, usable_cores
from pix2lst.errors import OutputWriteError
from pix2lst.geo.atomic import target_of
from pix2lst.geo.grid import Grid

__all__ = ["check_complete", "checksum", "thread_count", "verify_raster", "write_failed"]


def write_failed(path: Path, exc: BaseException) -> OutputWriteError:
    """The one-line error of a failed write of ``path`` (the target) caused by ``exc``."""
    return OutputWriteError(
        f"writing {path} failed ({exc}); check the free space and the folder, "
        "then run again (the previous output, if any, is untouched)"
    )


def thread_count(threads: str | int) -> int:
    """``NUM_THREADS`` (``ALL_CPUS`` or a count) as a number of workers (``ALL_CPUS``: the
    cores this process may run on)."""
    text = str(threads).strip().upper()
    if text.isdigit():
        return max(1, int(text))
    return usable_cores()


def checksum(values: npt.NDArray[Any]) -> npt.NDArray[np.uint64]:
    """Per band (first axis of a 3-D array, else one), the sum of the values' bit patterns
    modulo 2**64.

    The order of the pixels does not change it, so the writer can add up the windows it
    writes, in any order, and the read-back check compare it with the file's, exactly
    (NaN included: the bits are compared, not the numbers).
    """
    a = np.asarray(values)
    if a.ndim == 2:
        a = a[None]
    bits = a.view(np.dtype(f"u{a.dtype.itemsize}"))
    return np.sum(bits, axis=(1, 2), dtype=np.uint64)  # type: ignore[no-any-return]


def _check_blocks(ds: Any, path: Path, size: int, what: str = "") -> None:
    """Every block of a GeoTIFF is present and lies inside the file (a full disk cuts it).

    ``path``: the target, for messages; ``what``: the overview checked, if one.
    """
    if ds.driver != "GTiff":
        return
    bh, bw = ds.block_shapes[0]
    nby, nbx = -(-ds.height // bh), -(-ds.width // bw)
    bands = [1] if ds.interleaving and ds.interleaving.name == "PIXEL" else range(1, ds.count + 1)
    for b in bands:
        for y in range(nby):
            for x in range(nbx):
                off = ds.get_tag_item(f"BLOCK_OFFSET_{x}_{y}", "TIFF", bidx=b)
                n = ds.get_tag_item(f"BLOCK_SIZE_{x}_{y}", "TIFF", bidx=b)
                if not off or not n or int(off) + int(n) > size:
                    raise OutputWriteError(
                        f"{path} was written incomplete (block {x},{y} of band {b}{what} is "
                        "missing or cut short); the disk may be full. Nothing was replaced"
                    )


def _check_size(ds: Any, target: Path, grid: Grid, count: int) -> None:
    if (ds.width, ds.height, ds.count) != (grid.width, grid.height, count):
        raise OutputWriteError(
            f"{target} reads back as {ds.width} x {ds.height} x {ds.count}, not "
            f"{grid.width} x {grid.height} x {count}; the disk may be full"
        )


def check_complete(path: Path, grid: Grid, count: int, *, target: Path | None = None) -> None:
    """Open ``path`` and check its size and that every block lies inside it (no decoding).

    ``target``: the output ``path`` stands for, named in messages (by default the one
    its temporary name gives).
    """
    name = target or target_of(path)
    try:
        with rasterio.open(path) as ds:
            _check_size(ds, name, grid, count)
            _check_blocks(ds, name, path.stat().st_size)
    except OutputWriteError:
        raise
    except (rasterio.errors.RasterioIOError, CPLE_BaseError, OSError) as exc:
        raise write_failed(name, exc) from exc


def _read_all(ds: Any, count: int) -> npt.NDArray[np.uint64]:
    """Read every block of ``ds`` (all bands, a few rows of blocks at a time); its checksum."""
    rows = max(ds.block_shapes[0][0], 1) * 4
    buf = np.empty((count, min(rows, ds.height), ds.width), dtype=ds.dtypes[0])
    total = np.zeros(count, dtype=np.uint64)
    for start in range(0, ds.height, rows):
        n = min(rows, ds.height - start)
        part = buf[:, :n]
        ds.read(window=Window(0, start, ds.width, n), out=part)  # type: ignore[no-untyped-call]
        total += checksum(part)
    return total


def verify_raster(
    path: Path,
    grid: Grid,
    count: int,
    written: Sequence[int] | npt.NDArray[np.uint64] | None = None,
    *,
    target: Path | None = None,
) -> None:
    """Re-open ``path``, check its blocks, read them all; :class:`OutputWriteError` if anything
    fails.

    A write that failed silently (a full disk, a truncated file) surfaces here, before
    the file is renamed onto its target: GDAL opens the file, its size is the grid's;
    then the full-resolution image and each overview has every block present, inside
    the file, and read back (decoded) by GDAL. ``written``: the :func:`checksum` of the
    values written, per band, when each pixel was written once; the values read back
    must match it. Messages name ``target``, the output the temporary ``path`` stands
    for (by default the one its temporary name gives).
    """
    target = target or target_of(path)
    what = "the full-resolution image"
    try:
        size = path.stat().st_size
        with rasterio.open(path, NUM_THREADS=gdal_threads()) as ds:  # decode with every core
            _check_size(ds, target, grid, count)
            _check_blocks(ds, target, size)
            got = _read_all(ds, count)
            factors = ds.overviews(1)
        if written is not None and [int(v) for v in got] != [int(v) for v in written]:
            bad = [i for i, (a, b) in enumerate(zip(got, written, strict=True), 1) if a != b]
            raise OutputWriteError(
                f"{target} reads back other values than were written (band "
                f"{', '.join(map(str, bad))}); the disk or file system lost a write. Nothing "
                "was replaced: check the disk and run again"
            )
        for level, f in enumerate(factors):
            what = f"overview 1:{f}"
            with rasterio.open(path, OVERVIEW_LEVEL=level, NUM_THREADS=gdal_threads()) as ovr:
                _check_blocks(ovr, target, size, f" of {what}")
                _read_all(ovr, count)
    except OutputWriteError:
        raise
    except (rasterio.errors.RasterioIOError, CPLE_BaseError, OSError) as exc:
        raise OutputWriteError(
            f"writing {target} failed ({what} does not read back: {exc}); check the free "
            "space and the folder, then run again (the previous output, if any, is untouched)"
        ) from exc

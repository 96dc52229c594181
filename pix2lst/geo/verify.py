"""Reading a written raster back before it replaces its target: nothing silently lost.

A write that failed without an error (a full disk, a truncated file, a GDAL write
error swallowed on close) surfaces here, in the temporary file, before
:func:`pix2lst.geo.writer.raster_writer` renames it onto its target; the previous
output is then untouched. Two depths of check:

* :func:`check_complete`: GDAL opens the file, its size and band count are the
  grid's, and every block lies inside the file (no decoding). The writer runs it on
  the closed stream before it appends overviews to it or converts it to a COG
  (GDAL may crash building overviews on a file whose writes failed).
* :func:`verify_raster`: the full check at the end. GDAL opens the file and checks
  its size; then every block of every IFD (the overviews too) must be present,
  inside the file, and decompress from its bytes to a whole block (tifffile +
  imagecodecs, :func:`_decode_blocks`: about 4x fewer core-seconds than reading it
  back through GDAL, whose floating-point predictor is slow). A file tifffile cannot
  parse (another codec, stripped) has its blocks checked and is read back through
  GDAL instead (:func:`_read_back`).

Every failure is an :class:`~pix2lst.errors.OutputWriteError` whose message names the
target the temporary file stands for (:func:`write_failed`, shared with the writer).
"""

from __future__ import annotations

import functools
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from rasterio._err import CPLE_BaseError
from rasterio.windows import Window

from pix2lst._machine import gdal_threads, usable_cores
from pix2lst.errors import OutputWriteError
from pix2lst.geo.atomic import target_of
from pix2lst.geo.grid import Grid

__all__ = ["check_complete", "thread_count", "verify_raster", "write_failed"]


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


def _check_blocks(ds: Any, path: Path, size: int) -> None:  # path: the target, for messages
    """Every block of a GeoTIFF is present and lies inside the file (a full disk cuts it)."""
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
                        f"{path} was written incomplete (block {x},{y} of band {b} is missing or "
                        "cut short); the disk may be full. Nothing was replaced"
                    )


def _check_size(ds: Any, path: Path, grid: Grid, count: int) -> None:
    if (ds.width, ds.height, ds.count) != (grid.width, grid.height, count):
        raise OutputWriteError(
            f"{target_of(path)} reads back as {ds.width} x {ds.height} x {ds.count}, not "
            f"{grid.width} x {grid.height} x {count}; the disk may be full"
        )


def _check_complete(ds: Any, path: Path, grid: Grid, count: int) -> None:
    _check_size(ds, path, grid, count)
    _check_blocks(ds, target_of(path), path.stat().st_size)


def _gdal_failed(path: Path, exc: BaseException) -> OutputWriteError:
    if isinstance(exc, OutputWriteError):
        return exc
    return write_failed(target_of(path), exc)


def check_complete(path: Path, grid: Grid, count: int) -> None:
    """Open ``path`` and check its size and that every block lies inside it (no decoding)."""
    try:
        with rasterio.open(path, NUM_THREADS=gdal_threads()) as ds:  # decode with every core
            _check_complete(ds, path, grid, count)
    except (rasterio.errors.RasterioIOError, CPLE_BaseError, OSError) as exc:
        raise _gdal_failed(path, exc) from exc


def verify_raster(path: Path, grid: Grid, count: int) -> None:
    """Re-open ``path``, check its blocks, decode them all; :class:`OutputWriteError` if anything
    fails.

    A write that failed silently (a full disk, a truncated file) surfaces here, before
    the file is renamed onto its target. GDAL opens the file and checks its size; then
    every block of every IFD (the overviews too) must be present, inside the file, and
    decompress from its bytes to a whole block (:func:`_decode_blocks`, tifffile +
    imagecodecs: about 4x fewer core-seconds than reading it back through GDAL, whose
    floating-point predictor is slow). A file tifffile cannot parse has its blocks
    checked and is read back through GDAL instead (:func:`_read_back`).
    Messages name the target the temporary ``path`` stands for.
    """
    try:
        with rasterio.open(path) as ds:
            _check_size(ds, path, grid, count)
    except (rasterio.errors.RasterioIOError, CPLE_BaseError, OSError) as exc:
        raise _gdal_failed(path, exc) from exc
    if not _decode_blocks(path):
        _read_back(path, count)


def _read_back(path: Path, count: int) -> None:
    """Check ``path``'s blocks and read it and its overviews back through GDAL (every
    block decoded)."""
    try:
        with rasterio.open(path, NUM_THREADS=gdal_threads()) as ds:  # decode with every core
            _check_blocks(ds, target_of(path), path.stat().st_size)
            rows = max(ds.block_shapes[0][0], 1) * 4
            buf = np.empty((count, min(rows, ds.height), ds.width), dtype=ds.dtypes[0])
            for start in range(0, ds.height, rows):
                n = min(rows, ds.height - start)
                ds.read(window=Window(0, start, ds.width, n), out=buf[:, :n])  # type: ignore[no-untyped-call]
            for f in ds.overviews(1):
                ds.read(out_shape=(count, -(-ds.height // f), -(-ds.width // f)))
    except (rasterio.errors.RasterioIOError, CPLE_BaseError, OSError) as exc:
        raise _gdal_failed(path, exc) from exc


_CODECS = {1: "none", 5: "lzw", 8: "zlib", 32946: "zlib", 50000: "zstd"}
"""TIFF compression tag -> the imagecodecs decoder that checks a block without undoing the
predictor (it cannot fail once the bytes decompress to a whole block)."""


def _undecodable(mm: memoryview, jobs: list[tuple[Any, ...]]) -> tuple[int, int, str] | None:
    """The first of ``jobs`` (IFD, block, offset, bytes, decoder, size) whose bytes do not
    decompress to a whole block, as (IFD, block, why); None when all do."""
    buf = bytearray(max((job[5] for job in jobs), default=0))
    for k, i, off, n, decode, whole in jobs:
        try:
            got = n if decode is None else len(decode(mm[off : off + n], out=buf))
        except Exception as exc:  # the codec's own error: a corrupt block
            return k, i, str(exc)
        if got != whole:
            return k, i, f"{got} of {whole} bytes"
    return None


def _decode_blocks(path: Path) -> bool:
    """Decompress every block of every IFD of ``path``; False if tifffile cannot parse it.

    Raises :class:`OutputWriteError` for a block that is missing, lies outside the file,
    or does not decompress to a whole block. Private to this check: it checks bytes, it
    does not undo the predictor nor return pixels.
    """
    import mmap

    import imagecodecs
    import tifffile

    name = target_of(path)
    try:
        fh = open(path, "rb")
    except OSError as exc:
        raise write_failed(name, exc) from exc
    with fh:
        try:
            tif = tifffile.TiffFile(fh)
            pages = [p for p in tif.pages if isinstance(p, tifffile.TiffPage)]
        except Exception:
            return False
        with tif:
            if not pages or any(p.compression not in _CODECS or not p.is_tiled for p in pages):
                return False
            size = os.fstat(fh.fileno()).st_size
            jobs = []  # (IFD, block, offset, bytes, decoder, decoded size)
            for k, page in enumerate(pages):
                spp = page.samplesperpixel if page.planarconfig == 1 else 1
                whole = page.tilewidth * page.tilelength * page.tiledepth * spp
                whole *= page.bitspersample // 8
                codec = _CODECS[page.compression]
                decode = None if codec == "none" else getattr(imagecodecs, codec + "_decode")
                for i, (off, n) in enumerate(
                    zip(page.dataoffsets, page.databytecounts, strict=True)
                ):
                    if not off or not n or off + n > size:
                        raise OutputWriteError(
                            f"{name} was written incomplete (block {i} of IFD {k} is missing "
                            "or cut short); the disk may be full. Nothing was replaced"
                        )
                    jobs.append((k, i, int(off), int(n), decode, whole))
            workers = thread_count("ALL_CPUS")
            with (
                mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mapped,
                memoryview(mapped) as mm,  # slices without copying the bytes
                ThreadPoolExecutor(
                    workers, thread_name_prefix="pix2lst-verify"
                ) as pool,  # codecs release the GIL
            ):
                parts = [jobs[j::workers] for j in range(workers)]
                for failed in pool.map(functools.partial(_undecodable, mm), parts):
                    if failed is not None:
                        k, i, detail = failed
                        raise OutputWriteError(
                            f"writing {name} failed (block {i} of IFD {k} does not decode: "
                            f"{detail}); check the free space and the folder, then run again "
                            "(the previous output, if any, is untouched)"
                        )
    return True

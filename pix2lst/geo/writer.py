"""The one GeoTIFF/COG writer: creation profile, overviews, band unit, tags, atomic, verified.

:func:`raster_writer` yields a :class:`RasterWriter` that writes into a temporary
file beside the target (:func:`pix2lst.geo.atomic.atomic_output`). When the block
ends without error the descriptions, band units and tags are set, overviews are
added (so that QGIS draws a whole scene fast) on the closed file once it has been
checked, and the result re-opened and checked completely (:func:`verify_raster`:
every block present and inside the file, every block of every IFD decompresses; a
full disk or any GDAL write error fails the run here), and only then renamed onto
the target. Overviews of a one-band float32 raster written as full-width rows in
order (the streaming runtime and physics) are averaged as the rows arrive
(:mod:`pix2lst.geo.overviews`) and appended as reduced-resolution IFDs; any other
writes (composites, windows out of order, ``creation_options``) get GDAL's
``build_overviews(average)`` at the end. An
LST raster is also checked for plausible values (streamed counts, no second pass). An existing target is
kept until that rename; a failure leaves neither a partial file nor a temporary one.

The streamed file is tiled (256 px blocks), ZSTD level 1 with the floating-point
predictor: it compresses several times faster than DEFLATE, which matters when
writing competes with inference for the same cores. With ``cog=True`` it is then
converted by GDAL's COG driver (overviews, 512 px blocks, DEFLATE for the widest
reader support). ``creation_options`` (``--co NAME=VALUE``) override the profile.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import math
import os
import shutil
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import rasterio
import rasterio.shutil
from rasterio._err import CPLE_BaseError
from rasterio.enums import Resampling
from rasterio.windows import Window

from pix2lst.errors import OutputWriteError, ParameterError
from pix2lst.geo.atomic import atomic_output, check_output, target_of
from pix2lst.geo.grid import Grid
from pix2lst.geo.plausible import RangeCount, lst_range_count

__all__ = [
    "BLOCK",
    "RASTER_SUFFIXES",
    "RasterWriter",
    "check_complete",
    "check_raster_output",
    "creation_profile",
    "overview_factors",
    "parse_creation_options",
    "raster_writer",
    "verify_raster",
]

if TYPE_CHECKING:
    from pix2lst.geo.overviews import OverviewStream

log = logging.getLogger(__name__)

BLOCK = 256
"""Block size of the streamed GeoTIFF (128 for rasters smaller than one block)."""

RASTER_SUFFIXES = (".tif", ".tiff")
"""File name extensions of the GeoTIFFs pix2lst writes."""

_COG = {
    "driver": "COG",
    "compress": "DEFLATE",
    "predictor": "YES",
    "blocksize": 512,
    "overviews": "AUTO",
    "resampling": "AVERAGE",
    "bigtiff": "IF_SAFER",
    "num_threads": "ALL_CPUS",
}


def creation_profile(
    grid: Grid,
    count: int = 1,
    *,
    dtype: str = "float32",
    nodata: float | None = math.nan,
    threads: str | int = "ALL_CPUS",
) -> dict[str, Any]:
    """Tiled, ZSTD + floating-point predictor, NaN nodata, BigTIFF if needed, on ``grid``."""
    small = grid.width < BLOCK or grid.height < BLOCK
    return {
        "driver": "GTiff",
        "dtype": dtype,
        "nodata": nodata,
        "width": grid.width,
        "height": grid.height,
        "count": count,
        "crs": grid.crs,
        "transform": grid.transform,
        "tiled": True,
        "blockxsize": 128 if small else BLOCK,
        "blockysize": 128 if small else BLOCK,
        "compress": "zstd",
        "zstd_level": 1,
        "predictor": 3 if np.dtype(dtype).kind == "f" else 2,
        "interleave": "band",
        "bigtiff": "IF_SAFER",
        "num_threads": str(threads),
    }


def parse_creation_options(options: Sequence[str] | Mapping[str, str] | None) -> dict[str, str]:
    """``["COMPRESS=DEFLATE", ...]`` (or a mapping) -> ``{"compress": "DEFLATE"}``.

    Raises :class:`ParameterError` for an entry without ``=``.
    """
    if not options:
        return {}
    if isinstance(options, Mapping):
        return {str(k).lower(): str(v) for k, v in options.items()}
    out: dict[str, str] = {}
    for item in options:
        name, sep, value = item.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise ParameterError(
                f"creation option {item!r} is not NAME=VALUE (e.g. --co COMPRESS=DEFLATE)"
            )
        out[name.strip().lower()] = value.strip()
    return out


def overview_factors(height: int, width: int, block: int = BLOCK) -> list[int]:
    """2, 4, 8 ... until the overview fits in one block (empty for a one-block raster)."""
    factors = []
    f = 2
    while max(height, width) / (f // 2) > block:
        factors.append(f)
        f *= 2
    return factors


def check_raster_output(
    path: str | os.PathLike[str], *, overwrite: bool = False, inputs: Sequence[Any] = ()
) -> Path:
    """:func:`~pix2lst.geo.atomic.check_output`, and a ``.tif``/``.tiff`` name: a GeoTIFF is
    never written under a name that says PNG or anything else."""
    out = check_output(path, overwrite=overwrite, inputs=inputs)
    if out.suffix.lower() not in RASTER_SUFFIXES:
        raise ParameterError(
            f"{out} does not end in .tif or .tiff, but the output is a GeoTIFF; name it "
            f"{out.with_suffix('.tif').name} (for a PNG picture use `pix2lst quicklook`)"
        )
    return out


class RasterWriter:
    """Writes arrays into an open rasterio dataset (all bands, or rows of band 1).

    A GDAL write error (a full disk) becomes :class:`OutputWriteError`; with a
    ``check`` (an LST raster) the written values are counted for the plausibility
    check the writer makes before the file is renamed onto its target.
    """

    def __init__(
        self,
        dataset: Any,
        check: RangeCount | None = None,
        target: Path | None = None,
        overviews: OverviewStream | None = None,
    ) -> None:
        self._ds = dataset
        self._target = target or Path(dataset.name)
        self.width: int = dataset.width
        self.height: int = dataset.height
        self.check = check
        self.overviews = overviews
        """Overviews accumulated from the rows as they are written, while they come in order
        (None once a write is not the next full-width rows: GDAL builds them at the end)."""

    def _write(self, array: npt.NDArray[Any], indexes: int | None, window: Window) -> None:
        if self.check is not None:
            self.check.update(array)
        try:
            if indexes is None:
                self._ds.write(array, window=window)
            else:
                self._ds.write(array, indexes, window=window)
        except (rasterio.errors.RasterioIOError, CPLE_BaseError) as exc:
            raise _write_failed(self._target, exc) from exc
        if self.overviews is not None:
            rows = array if array.ndim == 2 else array[0] if array.shape[0] == 1 else None
            streamed = False
            if rows is not None and int(window.col_off) == 0 and int(window.width) == self.width:
                try:
                    streamed = self.overviews.add(int(window.row_off), rows)
                except OSError as exc:  # the spool beside the output: a full disk
                    raise _write_failed(self._target, exc) from exc
            if not streamed:
                self.overviews.close()
                self.overviews = None

    def write(self, array: npt.NDArray[Any], window: Window) -> None:
        """``(count, h, w)`` or ``(h, w)`` (band 1) at ``window``."""
        self._write(array, 1 if array.ndim == 2 else None, window)

    def write_rows(self, start: int, rows: npt.NDArray[np.float32]) -> None:
        """Full-width rows ``(h, w)`` of band 1 starting at row ``start``."""
        window = Window(0, start, self.width, rows.shape[0])  # type: ignore[no-untyped-call]
        self._write(rows, 1, window)


def _write_failed(path: Path, exc: BaseException) -> OutputWriteError:
    return OutputWriteError(
        f"writing {path} failed ({exc}); check the free space and the folder, "
        "then run again (the previous output, if any, is untouched)"
    )


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
    return _write_failed(target_of(path), exc)


def check_complete(path: Path, grid: Grid, count: int) -> None:
    """Open ``path`` and check its size and that every block lies inside it (no decoding)."""
    try:
        with rasterio.open(path, NUM_THREADS="ALL_CPUS") as ds:  # decode with every core
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
        with rasterio.open(path, NUM_THREADS="ALL_CPUS") as ds:  # decode with every core
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
    or does not decompress to a whole block. Private to the writer: it checks bytes, it
    does not undo the predictor nor return pixels.
    """
    import mmap

    import imagecodecs
    import tifffile

    name = target_of(path)
    try:
        fh = open(path, "rb")
    except OSError as exc:
        raise _write_failed(name, exc) from exc
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
            workers = _workers("ALL_CPUS")
            with (
                mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mapped,
                memoryview(mapped) as mm,  # slices without copying the bytes
                ThreadPoolExecutor(workers) as pool,  # the codecs release the GIL
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


def _plenty_of_room(path: Path) -> bool:
    """Free space for whatever GDAL still caches (its whole block cache) and the overviews,
    and no file-size limit.

    Then overviews are built on the open file, from its cached blocks; otherwise (a disk
    nearly full) the file is closed and checked first, and they are built after (slower:
    every block is decoded again), because GDAL may crash building overviews on a file
    whose writes failed.
    """
    cache = rasterio.env.get_gdal_config("GDAL_CACHEMAX")
    try:
        cache_bytes = int(cache) if cache is not None else 0
    except (TypeError, ValueError):
        cache_bytes = 0
    if cache_bytes <= 0:  # GDAL's default: 5 % of the memory
        cache_bytes = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 20
    elif cache_bytes < 100_000:  # a value in MB
        cache_bytes <<= 20
    try:
        import resource  # POSIX: a file-size limit fails writes like a full disk

        if resource.getrlimit(resource.RLIMIT_FSIZE)[0] != resource.RLIM_INFINITY:
            return False
    except (ImportError, OSError, ValueError):  # pragma: no cover - not POSIX
        pass
    try:
        free = shutil.disk_usage(path.parent).free
        written = path.stat().st_size
    except OSError:
        return False
    return free > 2 * cache_bytes + written + (64 << 20)


def _build_overviews(path: Path, factors: list[int], target: Path) -> None:
    try:
        with (
            rasterio.Env(GDAL_NUM_THREADS="ALL_CPUS"),
            rasterio.open(path, "r+") as ds,
        ):
            ds.build_overviews(factors, Resampling.average)
            ds.update_tags(ns="rio_overview", resampling="average")
    except (rasterio.errors.RasterioIOError, CPLE_BaseError) as exc:
        raise _write_failed(target, exc) from exc


def _streamable(dtype: str, nodata: float | None) -> bool:
    """Overviews can be streamed: float32 with NaN nodata (the means leave NaN out)."""
    return np.dtype(dtype) == np.float32 and nodata is not None and math.isnan(nodata)


def _workers(threads: str | int) -> int:
    """``NUM_THREADS`` (``ALL_CPUS`` or a count) as a number of workers (``ALL_CPUS``: the
    cores this process may run on)."""
    text = str(threads).strip().upper()
    if text.isdigit():
        return max(1, int(text))
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


@contextlib.contextmanager
def raster_writer(
    dst: str | os.PathLike[str],
    grid: Grid,
    *,
    count: int = 1,
    descriptions: Sequence[str] = ("LST",),
    units: Sequence[str | None] | None = None,
    tags: Mapping[str, str] | None = None,
    band_tags: Sequence[Mapping[str, str]] | None = None,
    dtype: str = "float32",
    nodata: float | None = math.nan,
    cog: bool = False,
    overviews: bool = True,
    overwrite: bool = False,
    threads: str | int = "ALL_CPUS",
    creation_options: Sequence[str] | Mapping[str, str] | None = None,
    inputs: Sequence[Any] = (),
    check_range: bool = True,
) -> Iterator[RasterWriter]:
    """Open ``dst`` for writing; the file appears at ``dst`` only if the block succeeds.

    ``threads``: GDAL's compression threads for the streamed file (``NUM_THREADS``);
    overviews and the COG conversion at the end use all CPUs. ``inputs``: the run's
    inputs, which ``dst`` must not be (:func:`pix2lst.geo.atomic.check_output`).
    An LST raster (one band described ``LST`` with unit ``K``/``degC``) is refused,
    and nothing written, when more than 1 % of its valid pixels lie outside
    150-400 K (:class:`~pix2lst.geo.plausible.RangeCount`); ``check_range=False``
    turns that off (test models that are not LST models).
    """
    extra = parse_creation_options(creation_options)
    profile = creation_profile(grid, count, dtype=dtype, nodata=nodata, threads=threads)
    if not cog:
        profile.update(extra)
    target = check_raster_output(dst, overwrite=overwrite, inputs=inputs)
    check = None
    if check_range and count == 1 and tuple(descriptions)[:1] == ("LST",) and units:
        check = lst_range_count(units[0])
    with atomic_output(dst, overwrite=overwrite, suffix=".tif", inputs=inputs) as tmp:
        stream_path = tmp.with_name(tmp.name + ".stream.tif") if cog else tmp
        try:
            try:
                ds = rasterio.open(stream_path, "w", **profile)
            except (rasterio.errors.RasterioIOError, rasterio.errors.CRSError, TypeError) as exc:
                raise OutputWriteError(f"cannot create {dst}: {exc}") from exc
            factors = overview_factors(grid.height, grid.width) if overviews and not cog else []
            stream = None
            if factors and count == 1 and not extra and _streamable(dtype, nodata):
                from pix2lst.geo.overviews import OverviewStream  # Numba: only when used

                try:
                    stream = OverviewStream(grid.height, grid.width, factors, tmp.parent)
                except OSError as exc:
                    ds.close()
                    raise _write_failed(target, exc) from exc
            writer = RasterWriter(ds, check, target, stream)
            try:
                with ds:
                    yield writer
                    if check is not None:
                        check.check(f"the LST written to {dst}")
                    for i, desc in enumerate(descriptions, 1):
                        ds.set_band_description(i, desc)
                    for i, unit in enumerate(units or (), 1):
                        if unit:
                            ds.set_band_unit(i, unit)
                    ds.update_tags(**dict(tags or {}))
                    for i, bt in enumerate(band_tags or (), 1):
                        ds.update_tags(i, **dict(bt))
                    if writer.overviews is not None and writer.overviews.complete:
                        ds.update_tags(ns="rio_overview", resampling="average")
                    else:  # not streamed in order: GDAL builds them (below)
                        writer.overviews = None
                    if writer.overviews is None and factors and _plenty_of_room(stream_path):
                        with rasterio.Env(GDAL_NUM_THREADS="ALL_CPUS"):
                            ds.build_overviews(factors, Resampling.average)
                        ds.update_tags(ns="rio_overview", resampling="average")
                        factors = []
            except CPLE_BaseError as exc:  # raised by GDAL while flushing / closing
                raise _write_failed(target, exc) from exc
            if writer.overviews is not None:  # streamed: appended as IFDs of their own
                check_complete(stream_path, grid, count)
                from pix2lst.geo.overviews import append_overviews

                try:
                    append_overviews(  # the run is over: every core compresses
                        stream_path, writer.overviews, block=int(profile["blockxsize"]),
                        workers=_workers("ALL_CPUS"),
                    )  # fmt: skip
                except Exception as exc:  # OSError (a full disk) or tifffile's own errors
                    raise _write_failed(target, exc) from exc
            elif factors:  # near a full disk: only on a file checked complete (GDAL can crash
                check_complete(stream_path, grid, count)  # building them after a failed write)
                _build_overviews(stream_path, factors, target)
            if cog:
                check_complete(stream_path, grid, count)
                try:
                    rasterio.shutil.copy(stream_path, tmp, **{**_COG, **extra})
                except (rasterio.errors.RasterioIOError, CPLE_BaseError) as exc:
                    raise _write_failed(target, exc) from exc
            verify_raster(tmp, grid, count)
        finally:
            if stream is not None:
                stream.close()
            if cog:
                for leftover in (stream_path, Path(str(stream_path) + ".aux.xml")):
                    with contextlib.suppress(FileNotFoundError):
                        leftover.unlink()

"""The one GeoTIFF/COG writer: creation profile, overviews, band unit, tags, atomic, verified.

:func:`raster_writer` yields a :class:`RasterWriter` that writes into a temporary
file beside the target (:func:`pix2lst.geo.atomic.atomic_output`). When the block
ends without error the descriptions, band units and tags are set, overviews are
added (so that QGIS draws a whole scene fast) on the closed file once it has been
checked, and the result re-opened and checked completely
(:func:`pix2lst.geo.verify.verify_raster`: every block present and inside the file,
every block of every IFD decompresses; a full disk or any GDAL write error fails the
run here), and only then renamed onto the target. Overviews of a one-band float32
raster written as full-width rows in order (the streaming runtime and physics) are
averaged as the rows arrive (:mod:`pix2lst.geo.overviews`) and appended as
reduced-resolution IFDs; any other writes (composites, windows out of order,
``creation_options``) get GDAL's ``build_overviews(average)`` at the end. An LST
raster is also checked for plausible values (streamed counts, no second pass). An
existing target is kept until that rename; a failure leaves neither a partial file
nor a temporary one.

The streamed file is tiled (256 px blocks), ZSTD level 1 with the floating-point
predictor: it compresses several times faster than DEFLATE, which matters when
writing competes with inference for the same cores. With ``cog=True`` it is then
converted by GDAL's COG driver (overviews, 512 px blocks, DEFLATE for the widest
reader support). ``creation_options`` (``--co NAME=VALUE``) override the profile.
"""

from __future__ import annotations

import contextlib
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

from pix2lst._machine import gdal_threads
from pix2lst.errors import OutputWriteError, ParameterError
from pix2lst.geo.atomic import atomic_output, check_output
from pix2lst.geo.grid import Grid
from pix2lst.geo.plausible import RangeCount, lst_range_count
from pix2lst.geo.verify import check_complete, thread_count, verify_raster, write_failed

__all__ = [
    "BLOCK",
    "RASTER_SUFFIXES",
    "RasterWriter",
    "check_raster_output",
    "creation_profile",
    "overview_factors",
    "parse_creation_options",
    "raster_writer",
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
        "num_threads": gdal_threads(threads),
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
    ``helper``: a one-thread pool that counts and averages the rows (the check, the
    overviews) while GDAL writes them, where there are cores to spare; else the
    writing thread does it too.
    """

    def __init__(
        self,
        dataset: Any,
        check: RangeCount | None = None,
        target: Path | None = None,
        overviews: OverviewStream | None = None,
        helper: ThreadPoolExecutor | None = None,
    ) -> None:
        self._ds = dataset
        self._helper = helper
        self._target = target or Path(dataset.name)
        self.width: int = dataset.width
        self.height: int = dataset.height
        self.check = check
        self.overviews = overviews
        """Overviews accumulated from the rows as they are written, while they come in order
        (None once a write is not the next full-width rows: GDAL builds them at the end)."""

    def _write(self, array: npt.NDArray[Any], indexes: int | None, window: Window) -> None:
        aside = None
        if self._helper is not None and (self.check is not None or self.overviews is not None):
            aside = self._helper.submit(self._count_and_average, array, window)
        try:
            if indexes is None:
                self._ds.write(array, window=window)
            else:
                self._ds.write(array, indexes, window=window)
        except (rasterio.errors.RasterioIOError, CPLE_BaseError) as exc:
            raise write_failed(self._target, exc) from exc
        finally:
            if aside is not None:  # the rows stay the caller's until both are done with them
                aside.result()  # raises what counting or averaging raised
        if aside is None:
            self._count_and_average(array, window)

    def _count_and_average(self, array: npt.NDArray[Any], window: Window) -> None:
        """The plausibility counts and the streamed overviews of rows written at ``window``."""
        if self.check is not None:
            self.check.update(array)
        if self.overviews is not None:
            rows = array if array.ndim == 2 else array[0] if array.shape[0] == 1 else None
            streamed = False
            if rows is not None and int(window.col_off) == 0 and int(window.width) == self.width:
                try:
                    streamed = self.overviews.add(int(window.row_off), rows)
                except OSError as exc:  # the spool beside the output: a full disk
                    raise write_failed(self._target, exc) from exc
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
            rasterio.Env(GDAL_NUM_THREADS=gdal_threads()),
            rasterio.open(path, "r+") as ds,
        ):
            ds.build_overviews(factors, Resampling.average)
            ds.update_tags(ns="rio_overview", resampling="average")
    except (rasterio.errors.RasterioIOError, CPLE_BaseError) as exc:
        raise write_failed(target, exc) from exc


def _streamable(dtype: str, nodata: float | None) -> bool:
    """Overviews can be streamed: float32 with NaN nodata (the means leave NaN out)."""
    return np.dtype(dtype) == np.float32 and nodata is not None and math.isnan(nodata)


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
        stream = helper = None  # before the try: its finally reads them
        try:
            try:
                ds = rasterio.open(stream_path, "w", **profile)
            except (rasterio.errors.RasterioIOError, rasterio.errors.CRSError, TypeError) as exc:
                raise OutputWriteError(f"cannot create {dst}: {exc}") from exc
            factors = overview_factors(grid.height, grid.width) if overviews and not cog else []
            if factors and count == 1 and not extra and _streamable(dtype, nodata):
                from pix2lst.geo.overviews import OverviewStream  # Numba: only when used

                try:
                    stream = OverviewStream(grid.height, grid.width, factors, tmp.parent)
                except OSError as exc:
                    ds.close()
                    raise write_failed(target, exc) from exc
            if (check is not None or stream is not None) and thread_count(threads) > 1:
                helper = ThreadPoolExecutor(1, thread_name_prefix="pix2lst-count")
            writer = RasterWriter(ds, check, target, stream, helper)
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
                        with rasterio.Env(GDAL_NUM_THREADS=gdal_threads()):
                            ds.build_overviews(factors, Resampling.average)
                        ds.update_tags(ns="rio_overview", resampling="average")
                        factors = []
            except CPLE_BaseError as exc:  # raised by GDAL while flushing / closing
                raise write_failed(target, exc) from exc
            if writer.overviews is not None:  # streamed: appended as IFDs of their own
                check_complete(stream_path, grid, count)
                from pix2lst.geo.overviews import append_overviews

                try:
                    append_overviews(  # the run is over: every core compresses
                        stream_path, writer.overviews, block=int(profile["blockxsize"]),
                        workers=thread_count("ALL_CPUS"),
                    )  # fmt: skip
                except Exception as exc:  # OSError (a full disk) or tifffile's own errors
                    raise write_failed(target, exc) from exc
            elif factors:  # near a full disk: only on a file checked complete (GDAL can crash
                check_complete(stream_path, grid, count)  # building them after a failed write)
                _build_overviews(stream_path, factors, target)
            if cog:
                check_complete(stream_path, grid, count)
                try:
                    rasterio.shutil.copy(
                        stream_path, tmp,
                        **{**_COG, "num_threads": gdal_threads(), **extra},
                    )  # fmt: skip
                except (rasterio.errors.RasterioIOError, CPLE_BaseError) as exc:
                    raise write_failed(target, exc) from exc
            verify_raster(tmp, grid, count)
        finally:
            if helper is not None:
                helper.shutdown(wait=True)
            if stream is not None:
                stream.close()
            if cog:
                for leftover in (stream_path, Path(str(stream_path) + ".aux.xml")):
                    with contextlib.suppress(FileNotFoundError):
                        leftover.unlink()

"""The one GeoTIFF/COG writer: creation profile, overviews, band unit, tags, atomic, verified.

:func:`raster_writer` yields a :class:`RasterWriter` that writes into a temporary
file beside the target (:func:`pix2lst.geo.atomic.atomic_output`). When the block
ends without error the caller's plausibility check (if any) is asked, the
descriptions, band units and tags are set, the file is closed, checked complete,
given GDAL's AVERAGE overviews (so that QGIS draws a whole scene fast), then re-opened
and read back completely (:func:`pix2lst.geo.verify.verify_raster`: every block of
every overview present, inside the file and decoded, the values those written; a
full disk or any GDAL write error fails the run here), and only then renamed onto
the target. An existing target is kept until that rename; a failure leaves neither
a partial file nor a temporary one.

The file is tiled (256 px blocks), ZSTD level 1 with the floating-point predictor.
With ``cog=True`` it is then converted by GDAL's COG driver (its AVERAGE overviews,
512 px blocks, DEFLATE with the predictor, for the widest reader support).
``creation_options`` (``--co NAME=VALUE``) override the profile.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import re
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import rasterio
import rasterio.shutil
from affine import Affine
from rasterio._err import CPLE_BaseError
from rasterio.crs import CRS
from rasterio.enums import Resampling
from rasterio.io import MemoryFile
from rasterio.windows import Window

from pix2lst._machine import gdal_threads
from pix2lst.errors import OutputWriteError, ParameterError
from pix2lst.geo.atomic import atomic_output, check_output
from pix2lst.geo.grid import Grid
from pix2lst.geo.plausible import ValueCheck
from pix2lst.geo.verify import check_complete, checksum, verify_raster, write_failed

__all__ = [
    "BLOCK",
    "COG_PROFILE",
    "RASTER_SUFFIXES",
    "RasterWriter",
    "check_creation_options",
    "check_raster_output",
    "creation_profile",
    "overview_factors",
    "parse_creation_options",
    "raster_writer",
]

log = logging.getLogger(__name__)

BLOCK = 256
"""Block size of the streamed GeoTIFF (128 for rasters smaller than one block)."""

RASTER_SUFFIXES = (".tif", ".tiff")
"""File name extensions of the GeoTIFFs pix2lst writes."""

COG_PROFILE = {
    "driver": "COG",
    "compress": "DEFLATE",
    "predictor": "YES",
    "blocksize": 512,
    "overviews": "AUTO",
    "resampling": "AVERAGE",
    "bigtiff": "IF_SAFER",
}
"""GDAL COG driver options of ``cog=True``: DEFLATE (with the predictor) rather than the
GeoTIFF's ZSTD, for readers whose libtiff has no ZSTD; ``--co`` options override them."""


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


class _GdalMessages(logging.Handler):
    """The warnings and errors GDAL reports (through rasterio's logger) in one thread."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.thread = threading.get_ident()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.thread != self.thread:
            return
        if record.levelno >= logging.WARNING or text.startswith("GDAL signalled an error"):
            self.messages.append(text)


def _gdal_words(text: str, names: Sequence[str]) -> str:
    """GDAL's message without rasterio's prefixes and the trial file's name."""
    text = re.sub(r"^CPLE_\w+ in ", "", text)
    text = re.sub(r"^GDAL signalled an error: err_no=\d+, msg=(['\"])(.*)\1$", r"\2", text)
    text = re.sub(r"/vsimem/[\w.-]+/", "", text)
    for name in names:
        text = text.replace(f"{name}: ", "")
    return text.strip().rstrip(".")


def _trial(extra: Mapping[str, str], cog: bool, dtype: str, count: int) -> list[str]:
    """Write a small raster in memory with ``extra``; what GDAL said about it."""
    grid = Grid(CRS.from_epsg(32616), Affine(30.0, 0, 0.0, 0, -30.0, 0.0), 2 * BLOCK, 2 * BLOCK)
    profile = creation_profile(grid, count, dtype=dtype, threads=1)
    if not cog:
        profile.update(extra)
    logger = logging.getLogger("rasterio")
    level, propagate, handlers = logger.level, logger.propagate, logger.handlers[:]
    seen = _GdalMessages()
    logger.handlers = [seen]  # only here: a CLI's handler on this logger would say it twice
    logger.setLevel(logging.INFO)
    logger.propagate = False  # said once, in the refusal
    with rasterio.Env(), MemoryFile(ext=".tif") as src, MemoryFile(ext=".tif") as dst:
        names = [Path(src.name).name, Path(dst.name).name]
        try:
            with src.open(**profile) as ds:
                ds.write(np.zeros((count, grid.height, grid.width), dtype=dtype))
            if cog:
                rasterio.shutil.copy(src.name, dst.name, **{**COG_PROFILE, **extra})
        except (rasterio.errors.RasterioError, CPLE_BaseError, TypeError, ValueError) as exc:
            seen.messages.append(str(exc))
        finally:
            logger.handlers = handlers
            logger.setLevel(level)
            logger.propagate = propagate
    said = [_gdal_words(m, names) for m in seen.messages]
    return list(dict.fromkeys(m for m in said if m))


def check_creation_options(
    options: Sequence[str] | Mapping[str, str] | None,
    cog: bool = False,
    *,
    dtype: str = "float32",
    count: int = 1,
) -> dict[str, str]:
    """Parse ``--co`` options and refuse, in one line, those GDAL's driver does not accept.

    The GTiff driver (or COG with ``cog``) creates a small ``dtype`` raster in memory
    with the writer's profile and ``options``: an option GDAL does not know, a value
    outside its list (``COMPRESS=NOPE``), one GDAL ignores or cannot write
    (``NBITS=8`` for float32, ``BLOCKXSIZE=100``), anything GDAL warns about or fails
    on, raises :class:`ParameterError` with GDAL's words, before any work. Returns the
    parsed options (:func:`parse_creation_options`).
    """
    extra = parse_creation_options(options)
    if not extra:
        return extra
    said = _trial(extra, cog, dtype, count)
    if said:
        driver = "COG" if cog else "GTiff"
        given = " ".join(f"--co {k.upper()}={v}" for k, v in extra.items())
        blocks = cog and bool({"blockxsize", "blockysize"} & set(extra))
        hint = " (a COG's blocks are BLOCKSIZE, not BLOCKXSIZE)" if blocks else ""
        raise ParameterError(
            f"GDAL's {driver} driver does not accept {given}: {'; '.join(said)}; see "
            f"https://gdal.org/drivers/raster/{driver.lower()}.html for its creation "
            f"options{hint}"
        )
    return extra


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

    A GDAL write error (a full disk) becomes :class:`OutputWriteError`. Each write adds
    to the per-band :func:`~pix2lst.geo.verify.checksum` the read-back check compares
    the file with, and is shown to ``check`` (the caller's plausibility rule), which
    the writer asks before the file is renamed onto its target.
    """

    def __init__(self, dataset: Any, check: ValueCheck | None = None, target: Path | None = None):
        self._ds = dataset
        self._target = target or Path(dataset.name)
        self.width: int = dataset.width
        self.height: int = dataset.height
        self.check = check
        self._sums = np.zeros(dataset.count, dtype=np.uint64)
        self._pixels = np.zeros(dataset.count, dtype=np.int64)

    def _write(self, array: npt.NDArray[Any], indexes: int | None, window: Window) -> None:
        try:
            if indexes is None:
                self._ds.write(array, window=window)
            else:
                self._ds.write(array, indexes, window=window)
        except (rasterio.errors.RasterioIOError, CPLE_BaseError) as exc:
            raise write_failed(self._target, exc) from exc
        bands = slice(None) if indexes is None else slice(indexes - 1, indexes)
        self._sums[bands] += checksum(np.asarray(array, dtype=self._ds.dtypes[0]))
        self._pixels[bands] += int(window.width) * int(window.height)
        if self.check is not None:
            self.check.update(array)

    def written(self) -> npt.NDArray[np.uint64] | None:
        """The checksum of what was written, per band, when each band was written whole
        (as many pixels as it has); None otherwise (nothing to compare with)."""
        if (self._pixels == self.width * self.height).all():
            return self._sums
        return None

    def write(self, array: npt.NDArray[Any], window: Window) -> None:
        """``(count, h, w)`` or ``(h, w)`` (band 1) at ``window``."""
        self._write(array, 1 if array.ndim == 2 else None, window)

    def write_rows(self, start: int, rows: npt.NDArray[np.float32]) -> None:
        """Full-width rows ``(h, w)`` of band 1 starting at row ``start``."""
        window = Window(0, start, self.width, rows.shape[0])  # type: ignore[no-untyped-call]
        self._write(rows, 1, window)


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
    check: ValueCheck | None = None,
    style: bool = False,
) -> Iterator[RasterWriter]:
    """Open ``dst`` for writing; the file appears at ``dst`` only if the block succeeds.

    ``threads``: GDAL's compression threads for the streamed file (``NUM_THREADS``);
    overviews and the COG conversion at the end use all CPUs. ``inputs``: the run's
    inputs, which ``dst`` must not be (:func:`pix2lst.geo.atomic.check_output`).
    ``check``: the caller's plausibility rule (e.g.
    :func:`pix2lst.geo.plausible.lst_range_count` for an LST): it sees every array
    written, and when it refuses them (:class:`~pix2lst.errors.ImplausibleDataError`)
    nothing is written. ``style``: a one-band temperature raster (an LST) also gets its
    QGIS style beside it once it is in place (:func:`pix2lst.geo.qml.write_qml`: the
    figures' colour ramp on the 2nd-98th percentiles; an existing style is replaced only
    with ``overwrite``).
    """
    extra = check_creation_options(creation_options, cog, dtype=dtype, count=count)
    profile = creation_profile(grid, count, dtype=dtype, nodata=nodata, threads=threads)
    if not cog:
        profile.update(extra)
    target = check_raster_output(dst, overwrite=overwrite, inputs=inputs)
    if cog:
        used = {**COG_PROFILE, **extra}
        log.info(
            "%s: a Cloud-Optimised GeoTIFF, %s",
            target,
            ", ".join(f"{k.upper()}={v}" for k, v in used.items() if k != "driver"),
        )
    with atomic_output(dst, overwrite=overwrite, suffix=".tif", inputs=inputs) as tmp:
        stream_path = tmp.with_name(tmp.name + ".stream.tif") if cog else tmp
        try:
            try:
                ds = rasterio.open(stream_path, "w", **profile)
            except (rasterio.errors.RasterioIOError, rasterio.errors.CRSError, TypeError) as exc:
                raise OutputWriteError(f"cannot create {dst}: {exc}") from exc
            writer = RasterWriter(ds, check, target)
            try:
                with ds:
                    yield writer
                    if check is not None:
                        check.check(f"the {next(iter(descriptions), 'raster')} written to {dst}")
                    for i, desc in enumerate(descriptions, 1):
                        ds.set_band_description(i, desc)
                    for i, unit in enumerate(units or (), 1):
                        if unit:
                            ds.set_band_unit(i, unit)
                    ds.update_tags(**dict(tags or {}))
                    for i, bt in enumerate(band_tags or (), 1):
                        ds.update_tags(i, **dict(bt))
            except CPLE_BaseError as exc:  # raised by GDAL while flushing / closing
                raise write_failed(target, exc) from exc
            factors = overview_factors(grid.height, grid.width) if overviews and not cog else []
            if factors or cog:  # GDAL may crash reading a file whose writes failed
                check_complete(stream_path, grid, count, target=target)
            if factors:
                _build_overviews(stream_path, factors, target)
            if cog:
                try:
                    rasterio.shutil.copy(
                        stream_path, tmp,
                        **{**COG_PROFILE, "num_threads": gdal_threads(), **extra},
                    )  # fmt: skip
                except (rasterio.errors.RasterioIOError, CPLE_BaseError) as exc:
                    raise write_failed(target, exc) from exc
            verify_raster(tmp, grid, count, writer.written(), target=target)
        finally:
            if cog:
                for leftover in (stream_path, Path(str(stream_path) + ".aux.xml")):
                    with contextlib.suppress(FileNotFoundError):
                        leftover.unlink()
    if style:
        from pix2lst.geo.qml import write_qml  # matplotlib: only when used

        write_qml(target, (units or ["K"])[0] or "K", overwrite=overwrite, inputs=inputs)

"""The one GeoTIFF/COG writer: creation profile, overviews, band unit, tags, atomic, verified.

:func:`raster_writer` yields a :class:`RasterWriter` that writes into a temporary
file beside the target (:func:`pix2lst.geo.atomic.atomic_output`). When the block
ends without error the descriptions, band units and tags are set, overviews are
built (so that QGIS draws a whole scene fast), the file is closed, re-opened and
read back completely (:func:`verify_raster`: a full disk or any GDAL write error
fails the run here), and only then renamed onto the target. An existing target is
kept until that rename; a failure leaves neither a partial file nor a temporary one.

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
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import rasterio
import rasterio.shutil
from rasterio.enums import Resampling
from rasterio.windows import Window

from pix2lst.errors import OutputWriteError, ParameterError
from pix2lst.geo.atomic import atomic_output
from pix2lst.geo.grid import Grid

__all__ = [
    "BLOCK",
    "RasterWriter",
    "creation_profile",
    "overview_factors",
    "parse_creation_options",
    "raster_writer",
    "verify_raster",
]

log = logging.getLogger(__name__)

BLOCK = 256
"""Block size of the streamed GeoTIFF (128 for rasters smaller than one block)."""

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


class RasterWriter:
    """Writes arrays into an open rasterio dataset (all bands, or rows of band 1)."""

    def __init__(self, dataset: Any) -> None:
        self._ds = dataset
        self.width: int = dataset.width
        self.height: int = dataset.height

    def write(self, array: npt.NDArray[Any], window: Window) -> None:
        """``(count, h, w)`` or ``(h, w)`` (band 1) at ``window``."""
        if array.ndim == 2:
            self._ds.write(array, 1, window=window)
        else:
            self._ds.write(array, window=window)

    def write_rows(self, start: int, rows: npt.NDArray[np.float32]) -> None:
        """Full-width rows ``(h, w)`` of band 1 starting at row ``start``."""
        window = Window(0, start, self.width, rows.shape[0])  # type: ignore[no-untyped-call]
        self._ds.write(rows, 1, window=window)


def verify_raster(path: Path, grid: Grid, count: int) -> None:
    """Re-open ``path`` and read every block back; :class:`OutputWriteError` if anything fails.

    A write that failed silently (a full disk, a truncated file) surfaces here, before
    the file is renamed onto its target.
    """
    try:
        with rasterio.open(path) as ds:
            if (ds.width, ds.height, ds.count) != (grid.width, grid.height, count):
                raise OutputWriteError(
                    f"{path} reads back as {ds.width} x {ds.height} x {ds.count}, not "
                    f"{grid.width} x {grid.height} x {count}; the disk may be full"
                )
            rows = max(ds.block_shapes[0][0], 1) * 4
            buf = np.empty((count, min(rows, ds.height), ds.width), dtype=ds.dtypes[0])
            for start in range(0, ds.height, rows):
                n = min(rows, ds.height - start)
                ds.read(window=Window(0, start, ds.width, n), out=buf[:, :n])  # type: ignore[no-untyped-call]
    except rasterio.errors.RasterioIOError as exc:
        raise OutputWriteError(
            f"writing {path.name} failed ({exc}); check the free space and the folder, "
            "then run again (the previous output, if any, is untouched)"
        ) from exc


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
) -> Iterator[RasterWriter]:
    """Open ``dst`` for writing; the file appears at ``dst`` only if the block succeeds.

    ``threads``: GDAL's compression threads for the streamed file (``NUM_THREADS``);
    overviews and the COG conversion at the end use all CPUs.
    """
    extra = parse_creation_options(creation_options)
    profile = creation_profile(grid, count, dtype=dtype, nodata=nodata, threads=threads)
    if not cog:
        profile.update(extra)
    with atomic_output(dst, overwrite=overwrite, suffix=".tif") as tmp:
        stream_path = tmp.with_name(tmp.name + ".stream.tif") if cog else tmp
        try:
            try:
                ds = rasterio.open(stream_path, "w", **profile)
            except (rasterio.errors.RasterioIOError, rasterio.errors.CRSError, TypeError) as exc:
                raise OutputWriteError(f"cannot create {dst}: {exc}") from exc
            with ds:
                yield RasterWriter(ds)
                for i, desc in enumerate(descriptions, 1):
                    ds.set_band_description(i, desc)
                for i, unit in enumerate(units or (), 1):
                    if unit:
                        ds.set_band_unit(i, unit)
                ds.update_tags(**dict(tags or {}))
                for i, bt in enumerate(band_tags or (), 1):
                    ds.update_tags(i, **dict(bt))
                factors = overview_factors(grid.height, grid.width) if overviews and not cog else []
                if factors:
                    with rasterio.Env(GDAL_NUM_THREADS="ALL_CPUS"):
                        ds.build_overviews(factors, Resampling.average)
                    ds.update_tags(ns="rio_overview", resampling="average")
            if cog:
                rasterio.shutil.copy(stream_path, tmp, **{**_COG, **extra})
            verify_raster(tmp, grid, count)
        finally:
            if cog:
                for leftover in (stream_path, Path(str(stream_path) + ".aux.xml")):
                    with contextlib.suppress(FileNotFoundError):
                        leftover.unlink()

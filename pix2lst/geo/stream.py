"""Windowed raster streaming shared by the composite and LST writers.

Input bands are read strip by strip (block-aligned, ``strip_rows`` rows of full
width) by a small thread pool that prefetches the next strip while the current
one is computed (rasterio and the ``nogil`` kernels release the GIL); the result
is written to a tiled (256 x 256), ZSTD-compressed float32 GeoTIFF with the
floating-point predictor, through :func:`pix2lst.geo.atomic.atomic_output`, so a
failure leaves no partial file. Memory is O(width x strip_rows), not O(scene).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import rasterio
from rasterio._err import CPLE_BaseError
from rasterio.io import DatasetReader
from rasterio.windows import Window

from pix2lst._machine import gdal_threads
from pix2lst.errors import EmptySceneError, ParameterError, SceneError
from pix2lst.geo.bandfiles import open_bands
from pix2lst.geo.grid import grid_of
from pix2lst.geo.plausible import ValueCheck
from pix2lst.geo.remote import read_error
from pix2lst.geo.scene import Location
from pix2lst.geo.writer import BLOCK, check_raster_output, raster_writer

__all__ = ["Progress", "gdal_env", "open_bands", "stream_to_geotiff", "strip_windows"]

log = logging.getLogger(__name__)

#: progress(done_rows, total_rows)
Progress = Callable[[int, int], None]
Compute = Callable[[list[np.ndarray], list[float | None], Window], np.ndarray]


def gdal_env() -> rasterio.Env:
    """GDAL settings for the writers: multi-threaded (de)compression, a bounded cache."""
    return rasterio.Env(GDAL_NUM_THREADS=gdal_threads(), GDAL_CACHEMAX=256)


def strip_windows(height: int, width: int, strip_rows: int = 2 * BLOCK) -> Iterator[Window]:
    """Full-width windows of ``strip_rows`` rows (a multiple of the 256 output block)."""
    if strip_rows <= 0:
        raise ParameterError(f"strip_rows must be positive, got {strip_rows}")
    for row in range(0, height, strip_rows):
        yield Window(0, row, width, min(strip_rows, height - row))


def _read(ds: DatasetReader, window: Window) -> np.ndarray:
    try:
        return ds.read(1, window=window)
    except (rasterio.errors.RasterioIOError, CPLE_BaseError) as exc:
        err = read_error(ds.name, exc)  # a remote file: the server stalled or dropped
        if err is not exc:
            raise err from None
        why = exc.__cause__ or exc.__context__ or exc  # GDAL's own message, when kept
        raise SceneError(
            f"cannot read rows {window.row_off}-{window.row_off + window.height} of {ds.name} "
            f"({why}); the file is damaged or cut short: download it again"
        ) from exc


def stream_to_geotiff(
    inputs: Mapping[str, Location],
    out: str | os.PathLike[str],
    compute: Compute,
    *,
    count: int,
    descriptions: Sequence[str],
    tags: Mapping[str, str],
    band_tags: Sequence[Mapping[str, str]] | None = None,
    band_units: Sequence[str | None] | None = None,
    overwrite: bool = False,
    strip_rows: int = 2 * BLOCK,
    progress: Progress | None = None,
    valid_any_band: bool = False,
    cog: bool = False,
    creation_options: Sequence[str] | Mapping[str, str] | None = None,
    protect: Sequence[object] = (),
    check: ValueCheck | None = None,
    style: bool = False,
) -> Path:
    """Stream ``inputs`` through ``compute(arrays, nodata, window) -> (count, h, w) | (h, w)``.

    Written by :func:`pix2lst.geo.writer.raster_writer` (atomic, verified, overviews;
    ``cog``, ``creation_options``, the plausibility ``check`` and the QGIS ``style`` as
    there).

    ``out`` must not be one of ``inputs`` nor a file of the scenes in ``protect``
    (:func:`pix2lst.geo.atomic.check_output`). Raises :class:`EmptySceneError` (and
    writes nothing) when every output pixel is NaN.
    """
    guarded = [*inputs.values(), *protect]
    target = check_raster_output(out, overwrite=overwrite, inputs=guarded)
    names = list(inputs)
    with gdal_env(), open_bands(inputs) as (datasets, nodata):
        ref = datasets[0]
        windows = list(strip_windows(ref.height, ref.width, strip_rows))
        valid = 0
        with (
            ThreadPoolExecutor(max_workers=min(len(datasets), 4)) as pool,
            raster_writer(
                target, grid_of(ref), count=count, descriptions=descriptions, units=band_units,
                tags=tags, band_tags=band_tags, cog=cog, overwrite=overwrite,
                creation_options=creation_options, inputs=guarded, check=check, style=style,
            ) as dst,
        ):  # fmt: skip

            def submit(w: Window) -> list[Future[np.ndarray]]:
                return [pool.submit(_read, ds, w) for ds in datasets]

            pending = submit(windows[0])
            for k, window in enumerate(windows):
                try:
                    arrays = [f.result() for f in pending]
                except rasterio.errors.RasterioIOError as exc:
                    raise read_error(inputs.values(), exc) from exc
                if k + 1 < len(windows):
                    pending = submit(windows[k + 1])
                result = compute(arrays, nodata, window)
                if result.ndim == 2:
                    result = result[None]
                finite = (
                    np.isfinite(result).any(axis=0) if valid_any_band else np.isfinite(result[-1])
                )
                valid += int(np.count_nonzero(finite))
                dst.write(result, window)
                if progress is not None:
                    progress(window.row_off + window.height, ref.height)
            if valid == 0:
                raise EmptySceneError(
                    f"every pixel of the output is nodata (inputs {', '.join(names)} are all "
                    "fill or masked); nothing was written"
                )
    log.info("wrote %s (%d valid px)", target, valid)
    return target

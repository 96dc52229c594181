"""Windowed raster streaming shared by the composite and LST writers.

Input bands are read strip by strip (block-aligned, ``strip_rows`` rows of full
width) by a small thread pool that prefetches the next strip while the current
one is computed (rasterio and the ``nogil`` kernels release the GIL); the result
is written to a tiled (256 x 256), ZSTD-compressed float32 GeoTIFF with the
floating-point predictor, through :func:`pix2lst._io.atomic_output`, so a
failure leaves no partial file. Memory is O(width x strip_rows), not O(scene).
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import rasterio
from rasterio.io import DatasetReader
from rasterio.windows import Window

from pix2lst._io import atomic_output, check_output
from pix2lst.errors import EmptySceneError, GridMismatchError, SceneError

__all__ = ["Progress", "gdal_env", "output_profile", "stream_to_geotiff", "strip_windows"]

log = logging.getLogger(__name__)

#: progress(done_rows, total_rows)
Progress = Callable[[int, int], None]
Compute = Callable[[list[np.ndarray], list[float | None], Window], np.ndarray]

BLOCK = 256


def gdal_env() -> rasterio.Env:
    """GDAL settings for the writers: multi-threaded (de)compression, a bounded cache."""
    return rasterio.Env(GDAL_NUM_THREADS="ALL_CPUS", GDAL_CACHEMAX=256)


def strip_windows(height: int, width: int, strip_rows: int = 2 * BLOCK) -> Iterator[Window]:
    """Full-width windows of ``strip_rows`` rows (a multiple of the 256 output block)."""
    if strip_rows <= 0:
        raise ValueError(f"strip_rows must be positive, got {strip_rows}")
    for row in range(0, height, strip_rows):
        yield Window(0, row, width, min(strip_rows, height - row))


def output_profile(ref: DatasetReader, count: int) -> dict[str, object]:
    """Float32, NaN nodata, 256-px tiles, ZSTD + floating-point predictor, CRS/transform of ``ref``."""
    small = ref.width < BLOCK or ref.height < BLOCK
    return {
        "driver": "GTiff",
        "dtype": "float32",
        "nodata": math.nan,
        "width": ref.width,
        "height": ref.height,
        "count": count,
        "crs": ref.crs,
        "transform": ref.transform,
        "tiled": True,
        "blockxsize": 128 if small else BLOCK,
        "blockysize": 128 if small else BLOCK,
        "compress": "zstd",
        "zstd_level": 1,
        "predictor": 3,
        "interleave": "band",
        "bigtiff": "IF_SAFER",
        "num_threads": "ALL_CPUS",
    }


def _check_grid(names: Sequence[str], datasets: Sequence[DatasetReader]) -> None:
    ref_name, ref = names[0], datasets[0]
    for name, ds in zip(names, datasets, strict=True):
        if ds.count < 1:
            raise SceneError(f"band {name} ({ds.name}) has no raster band")
        if (ds.width, ds.height) != (ref.width, ref.height):
            raise GridMismatchError(
                f"band {name} is {ds.width}x{ds.height} px but {ref_name} is "
                f"{ref.width}x{ref.height}; all bands must share one 30 m grid "
                "(resample or crop them to the same grid first)"
            )
        if ds.crs != ref.crs or not ds.transform.almost_equals(ref.transform):
            raise GridMismatchError(
                f"band {name} ({ds.crs}, {tuple(ds.transform)[:6]}) is not on the grid of "
                f"{ref_name} ({ref.crs}, {tuple(ref.transform)[:6]}); all bands must share "
                "CRS and transform"
            )


@contextlib.contextmanager
def open_bands(
    paths: Mapping[str, Path],
) -> Iterator[tuple[list[DatasetReader], list[float | None]]]:
    """Open band files (checking that they share one grid); yield datasets and nodata values."""
    with contextlib.ExitStack() as stack:
        datasets: list[DatasetReader] = []
        for name, path in paths.items():
            try:
                datasets.append(stack.enter_context(rasterio.open(path)))
            except rasterio.errors.RasterioIOError as exc:
                raise SceneError(f"cannot read band {name} from {path}: {exc}") from exc
        _check_grid(list(paths), datasets)
        yield datasets, [ds.nodata for ds in datasets]


def stream_to_geotiff(
    inputs: Mapping[str, Path],
    out: str | os.PathLike[str],
    compute: Compute,
    *,
    count: int,
    descriptions: Sequence[str],
    tags: Mapping[str, str],
    band_tags: Sequence[Mapping[str, str]] | None = None,
    band_units: Sequence[str] | None = None,
    overwrite: bool = False,
    strip_rows: int = 2 * BLOCK,
    progress: Progress | None = None,
    valid_any_band: bool = False,
) -> Path:
    """Stream ``inputs`` through ``compute(arrays, nodata, window) -> (count, h, w) | (h, w)``.

    Raises :class:`EmptySceneError` (and writes nothing) when every output pixel is NaN.
    """
    target = check_output(out, overwrite=overwrite)
    names = list(inputs)
    with gdal_env(), open_bands(inputs) as (datasets, nodata):
        ref = datasets[0]
        profile = output_profile(ref, count)
        windows = list(strip_windows(ref.height, ref.width, strip_rows))
        valid = 0
        with (
            ThreadPoolExecutor(max_workers=min(len(datasets), 4)) as pool,
            atomic_output(target, overwrite=overwrite, suffix=".tif") as tmp,
            rasterio.open(tmp, "w", **profile) as dst,
        ):

            def submit(w: Window) -> list[Future[np.ndarray]]:
                return [pool.submit(ds.read, 1, window=w) for ds in datasets]

            pending = submit(windows[0])
            for k, window in enumerate(windows):
                arrays = [f.result() for f in pending]
                if k + 1 < len(windows):
                    pending = submit(windows[k + 1])
                result = compute(arrays, nodata, window)
                if result.ndim == 2:
                    result = result[None]
                finite = (
                    np.isfinite(result).any(axis=0) if valid_any_band else np.isfinite(result[-1])
                )
                valid += int(np.count_nonzero(finite))
                dst.write(result, window=window)
                if progress is not None:
                    progress(window.row_off + window.height, ref.height)
            if valid == 0:
                raise EmptySceneError(
                    f"every pixel of the output is nodata (inputs {', '.join(names)} are all "
                    "fill or masked); nothing was written"
                )
            for i, desc in enumerate(descriptions, 1):
                dst.set_band_description(i, desc)
            dst.update_tags(**dict(tags))
            for i, bt in enumerate(band_tags or (), 1):
                dst.update_tags(i, **dict(bt))
            for i, unit in enumerate(band_units or (), 1):
                dst.set_band_unit(i, unit)
    log.info("wrote %s (%d valid px)", target, valid)
    return target

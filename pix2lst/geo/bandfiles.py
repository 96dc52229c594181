"""Opening band files: GDAL datasets and their grid check.

What the file sources of :mod:`pix2lst.geo.sources` and the streaming writers share: one
way to open a band file through GDAL (its errors worded for the user, remote ones by
:mod:`pix2lst.geo.remote`) and one way to open a scene's band files together on one grid.
GDAL decodes every block.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import rasterio
from rasterio._err import CPLE_BaseError

from pix2lst._machine import gdal_threads
from pix2lst.errors import ParameterError, SceneError
from pix2lst.geo.grid import check_grid, grid_of
from pix2lst.geo.remote import raster_error, use_remote_settings
from pix2lst.geo.scene import check_band_dtype, is_remote

__all__ = [
    "DECODERS",
    "READ_THREADS",
    "bytes_per_block_row",
    "check_decoder",
    "open_bands",
    "open_dataset",
    "read_failed",
]

DECODERS = ("auto", "gdal")
"""The ``decoder`` names file sources accept; both mean GDAL, which decodes every block."""

READ_THREADS = "ALL_CPUS"
"""Default GDAL decoding threads per input file (``NUM_THREADS`` open option).

The pipeline passes ``threads=1`` when its reader runs at idle priority: the
reader thread then decodes every block itself, at that priority, and GDAL's
process-wide worker pool is left alone."""


def open_dataset(
    path: str | os.PathLike[str], what: str, threads: str | int, stack: contextlib.ExitStack
) -> Any:
    """A GDAL dataset of ``path``, closed by ``stack``.

    Closed by a callback, not entered as a context manager: rasterio's dataset context
    holds a thread-local GDAL environment, so a dataset entered in one thread must exit
    in that thread, and parallel readers' handles may be opened in their own threads and
    closed by the thread that ends the run.
    """
    try:
        ds = rasterio.open(path, NUM_THREADS=gdal_threads(threads))
    except (rasterio.errors.RasterioIOError, CPLE_BaseError) as exc:
        remote = raster_error(path, exc, what.removesuffix(" of"))
        if remote is not None:
            raise remote from exc
        raise SceneError(f"cannot read {what} from {path}: {exc}") from exc
    if ds.count < 1:
        ds.close()
        raise SceneError(f"{what} ({path}) has no raster band")
    stack.callback(ds.close)
    return ds


@contextlib.contextmanager
def open_bands(
    paths: Mapping[str, str | os.PathLike[str]],
    *,
    threads: str | int = READ_THREADS,
    hint: str = "all bands must share one 30 m grid (resample or crop them to the same grid first)",
) -> Iterator[tuple[list[Any], list[float | None]]]:
    """Open band files by name, check that they share one grid; yield datasets and nodata.

    The one way pix2lst opens the band files of a scene (the streaming writers and
    :class:`SceneSource` alike).
    """
    threads = gdal_threads(threads)  # once: it reads the cgroup files
    if any(is_remote(str(p)) for p in paths.values()):  # e.g. a Scene unpickled on a worker
        use_remote_settings()
    with contextlib.ExitStack() as stack:
        datasets = [
            open_dataset(path, f"band {name}", threads, stack) for name, path in paths.items()
        ]
        for name, path, ds in zip(paths, paths.values(), datasets, strict=True):
            check_band_dtype(name, str(path), ds.dtypes[0])  # e.g. an 8-bit B10
        check_grid(
            [(f"band {name}", grid_of(ds)) for name, ds in zip(paths, datasets, strict=True)],
            hint=hint,
        )
        yield datasets, [ds.nodata for ds in datasets]


def read_failed(path: Any, start: int, stop: int, exc: BaseException) -> SceneError:
    """The user's error for rows ``[start, stop)`` of ``path`` that GDAL failed to read."""
    why = exc.__cause__ or exc.__context__ or exc  # GDAL's own message, when rasterio kept it
    return SceneError(
        f"cannot read rows {start}-{stop} of {path} ({why}); the file is damaged or cut "
        "short: download it again"
    )


def check_decoder(decoder: str) -> None:
    """Refuse a ``decoder`` that is not one of :data:`DECODERS`, in one line."""
    if decoder not in DECODERS:
        raise ParameterError(f"decoder must be one of {', '.join(DECODERS)}, not {decoder!r}")


def bytes_per_block_row(datasets: list[Any]) -> int:
    """Bytes of one row of blocks across ``datasets`` (what GDAL decodes to give one row)."""
    return sum(
        ds.count * ds.block_shapes[0][0] * ds.width * np.dtype(ds.dtypes[0]).itemsize
        for ds in datasets
    )

"""The output side: a float32 GeoTIFF (or COG) written row range by row range, atomically.

:func:`geotiff_sink` yields a :class:`GeoTiffSink` writing into a temporary file
beside the target (through :func:`pix2lst._io.atomic_output`); the target appears
only when the whole prediction succeeded. With ``cog=True`` the streamed tiled
GeoTIFF is converted by GDAL's COG driver (overviews, 512 px blocks, DEFLATE for
the widest reader support) at the end. The streamed file uses ZSTD level 1 with the
floating-point predictor: it compresses several times faster than DEFLATE, which
matters when writing competes with inference for the same cores.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import rasterio
import rasterio.shutil
from rasterio.windows import Window

from pix2lst._io import atomic_output

__all__ = ["GeoTiffSink", "geotiff_sink"]

_CREATION = {
    "tiled": True,
    "blockxsize": 256,
    "blockysize": 256,
    "compress": "zstd",
    "zstd_level": 1,
    "predictor": 3,
    "bigtiff": "IF_SAFER",
}


class GeoTiffSink:
    """Writes finished rows into band 1 of an open rasterio dataset."""

    def __init__(self, dataset: Any) -> None:
        self._ds = dataset
        self.width = dataset.width

    def write_rows(self, start: int, rows: npt.NDArray[np.float32]) -> None:
        window = Window(0, start, self.width, rows.shape[0])  # type: ignore[no-untyped-call]
        self._ds.write(rows, 1, window=window)


@contextlib.contextmanager
def geotiff_sink(
    dst: str | os.PathLike[str],
    *,
    height: int,
    width: int,
    crs: Any,
    transform: Any,
    tags: Mapping[str, str],
    units: str,
    cog: bool = False,
    overwrite: bool = False,
    threads: str | int = "ALL_CPUS",
) -> Iterator[GeoTiffSink]:
    """Open ``dst`` for streaming; the file appears at ``dst`` only if the block succeeds.

    ``threads``: GDAL's compression threads for the streamed file (``NUM_THREADS``);
    the COG conversion at the end always uses all CPUs.
    """
    profile: dict[str, Any] = {
        "driver": "GTiff",
        "height": height,
        "width": width,
        "count": 1,
        "dtype": "float32",
        "nodata": float("nan"),
        "crs": crs,
        "transform": transform,
        **_CREATION,
        "num_threads": str(threads),
    }
    with atomic_output(dst, overwrite=overwrite, suffix=".tif") as tmp:
        stream_path = tmp.with_name(tmp.name + ".stream.tif") if cog else tmp
        try:
            with rasterio.open(stream_path, "w", **profile) as ds:
                ds.update_tags(**tags)
                ds.set_band_description(1, "LST")
                ds.update_tags(1, units=units)
                yield GeoTiffSink(ds)
            if cog:
                rasterio.shutil.copy(
                    stream_path,
                    tmp,
                    driver="COG",
                    compress="DEFLATE",
                    predictor="YES",
                    blocksize=512,
                    overviews="AUTO",
                    resampling="AVERAGE",
                    bigtiff="IF_SAFER",
                    num_threads="ALL_CPUS",
                )
        finally:
            if cog:
                for leftover in (stream_path, Path(str(stream_path) + ".aux.xml")):
                    with contextlib.suppress(FileNotFoundError):
                        leftover.unlink()

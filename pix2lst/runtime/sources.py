"""Row-range readers feeding the streaming pipeline, bands matched to the model BY NAME.

* :class:`CompositeSource`: a composite GeoTIFF (float32, band descriptions
  ``"B1"`` ... ``"B10"``, NaN nodata) as written by ``pix2lst composite``;
* :class:`SceneSource`: a Landsat scene folder or MTL file; the composite is
  calibrated row range by row range in memory, nothing is written;
* :class:`ArraySource`: an in-memory ``(n_bands, h, w)`` array.

Every source reads whole-width row ranges (each compressed block decoded once,
with GDAL's decoding threads), never per-tile windows.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
import rasterio
from rasterio.windows import Window

from pix2lst.errors import BandNotFoundError, GridMismatchError, SceneError

__all__ = ["ArraySource", "CompositeSource", "SceneSource", "Source", "open_source"]

log = logging.getLogger(__name__)

READ_THREADS = "ALL_CPUS"
"""Default GDAL decoding threads per input file (``NUM_THREADS`` open option).

The pipeline passes ``threads=1`` when its reader runs at idle priority: the
reader thread then decodes every block itself, at that priority, and GDAL's
process-wide worker pool is left alone."""

F32 = npt.NDArray[np.float32]


class Source(Protocol):
    """What the pipeline reads from: a grid and whole-width row ranges in model band order."""

    height: int
    width: int
    crs: Any
    transform: Any
    block_row_bytes: int
    """Bytes of one row of compressed blocks across the width (all files): what the
    GDAL block cache must hold so that each block is decoded once."""

    def read_rows(self, start: int, stop: int, out: F32 | None = None) -> F32:
        """Rows ``[start, stop)`` as float32 ``(n_bands, stop - start, width)``, NaN nodata.

        With ``out`` (any strides) the rows are decoded straight into it, and it is returned.
        """
        ...

    def close(self) -> None: ...


def _block_row_bytes(datasets: list[Any]) -> int:
    return sum(
        ds.count * ds.block_shapes[0][0] * ds.width * np.dtype(ds.dtypes[0]).itemsize
        for ds in datasets
    )


def _band_key(name: str | None) -> str:
    return (name or "").strip().upper()


class CompositeSource:
    """A multi-band GeoTIFF whose band descriptions name the bands."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        bands: tuple[str, ...],
        units: str | None = None,
        *,
        threads: str | int = READ_THREADS,
    ) -> None:
        self.path = Path(path)
        try:
            self._ds = rasterio.open(self.path, NUM_THREADS=str(threads))
        except rasterio.errors.RasterioIOError as exc:
            raise SceneError(f"cannot read {self.path} as a raster: {exc}") from exc
        ds = self._ds
        names = [_band_key(d) for d in ds.descriptions]
        if not any(names):
            if ds.count != len(bands):
                self.close()
                raise BandNotFoundError(
                    f"{self.path} has {ds.count} unnamed bands but the model needs "
                    f"{len(bands)} bands {list(bands)}; write the composite with "
                    "`pix2lst composite` (it names the bands)"
                )
            log.warning("%s has no band descriptions; assuming bands %s in order", self.path, bands)
            self.indexes = list(range(1, ds.count + 1))
        else:
            missing = [b for b in bands if _band_key(b) not in names]
            if missing:
                self.close()
                raise BandNotFoundError(
                    f"{self.path} lacks band(s) {missing} the model needs (it has "
                    f"{[d for d in ds.descriptions]}; the model needs {list(bands)})"
                )
            self.indexes = [names.index(_band_key(b)) + 1 for b in bands]
        written_units = ds.tags().get("UNITS")
        if units is not None and written_units in ("toa", "dn") and written_units != units:
            self.close()
            raise SceneError(
                f"{self.path} holds {written_units!r} values but the model takes {units!r} "
                f"input; write the composite with `pix2lst composite --units {units}`"
            )
        self.height, self.width = ds.height, ds.width
        self.crs, self.transform = ds.crs, ds.transform
        self.block_row_bytes = _block_row_bytes([ds])
        self._float32 = all(ds.dtypes[i - 1] == "float32" for i in self.indexes)
        nodata = ds.nodata
        self._nodata = None if nodata is None or np.isnan(nodata) else float(nodata)

    def read_rows(self, start: int, stop: int, out: F32 | None = None) -> F32:
        window = Window(0, start, self.width, stop - start)  # type: ignore[no-untyped-call]
        if out is not None and self._float32:
            data = self._ds.read(self.indexes, window=window, out=out)
        else:
            data = self._ds.read(self.indexes, window=window, out_dtype=np.float32)
            if out is not None:
                out[...] = data
                data = out
        if self._nodata is not None:
            data[data == np.float32(self._nodata)] = np.nan
        return np.asarray(data, dtype=np.float32)

    def close(self) -> None:
        self._ds.close()


class SceneSource:
    """A Landsat scene folder or MTL file, calibrated on the fly with the physics chain."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        bands: tuple[str, ...],
        units: str,
        *,
        threads: str | int = READ_THREADS,
    ) -> None:
        from pix2lst.lst_physics import find_scene

        self.scene = find_scene(Path(path))
        self.bands = tuple(bands)
        self.units = units
        self._ds = [rasterio.open(self.scene.band_path(b), NUM_THREADS=str(threads)) for b in bands]
        first = self._ds[0]
        for name, ds in zip(bands[1:], self._ds[1:], strict=True):
            if (
                (ds.height, ds.width) != (first.height, first.width)
                or ds.crs != first.crs
                or (not ds.transform.almost_equals(first.transform))
            ):
                self.close()
                raise GridMismatchError(
                    f"band {name} of {path} ({ds.width} x {ds.height}, {ds.crs}) is not on the "
                    f"grid of band {bands[0]} ({first.width} x {first.height}, {first.crs}); "
                    "resample the bands onto one grid first"
                )
        self.height, self.width = first.height, first.width
        self.crs, self.transform = first.crs, first.transform
        self._nodata = [ds.nodata for ds in self._ds]
        self.block_row_bytes = _block_row_bytes(self._ds)
        self._dtype = np.result_type(*(ds.dtypes[0] for ds in self._ds))
        self._dn: npt.NDArray[Any] | None = None

    def read_rows(self, start: int, stop: int, out: F32 | None = None) -> F32:
        from pix2lst.lst_physics import calibrate_composite

        window = Window(0, start, self.width, stop - start)  # type: ignore[no-untyped-call]
        n = stop - start
        if self._dn is None or self._dn.shape[1] < n:  # one DN buffer, reused strip after strip
            self._dn = np.empty((len(self._ds), n, self.width), dtype=self._dtype)
        dn = self._dn[:, :n]
        for i, ds in enumerate(self._ds):
            ds.read(1, window=window, out=dn[i])
        units: Any = self.units
        res = calibrate_composite(
            dn, list(self.bands), self.scene, units, nodata=self._nodata, out=out, parallel=False
        )
        return np.asarray(res, dtype=np.float32)

    def close(self) -> None:
        for ds in self._ds:
            ds.close()


class ArraySource:
    """An in-memory ``(n_bands, height, width)`` float32 array in model band order."""

    crs = None
    transform = None
    block_row_bytes = 0

    def __init__(self, array: npt.ArrayLike, n_bands: int) -> None:
        arr = np.asarray(array, dtype=np.float32)
        if arr.ndim != 3 or arr.shape[0] != n_bands:
            raise SceneError(
                f"expected an array of shape ({n_bands}, height, width) in the model's band "
                f"order, got shape {arr.shape}"
            )
        self.array = arr
        self.height, self.width = arr.shape[1:]

    def read_rows(self, start: int, stop: int, out: F32 | None = None) -> F32:
        if out is not None:
            out[...] = self.array[:, start:stop]
            return out
        return self.array[:, start:stop]

    def close(self) -> None:
        pass


def is_scene(path: Path) -> bool:
    """A folder, or an MTL metadata file, is a scene; anything else a composite raster."""
    return path.is_dir() or (
        "MTL" in path.name.upper() and path.suffix.lower() in (".txt", ".json", ".xml")
    )


def open_source(
    path: str | os.PathLike[str],
    bands: tuple[str, ...],
    units: str,
    *,
    threads: str | int = READ_THREADS,
) -> Source:
    """Open a composite GeoTIFF, or a scene folder / MTL calibrated to ``units``.

    ``threads``: GDAL's decoding threads per file (``NUM_THREADS``).
    """
    p = Path(path)
    if not p.exists():
        raise SceneError(f"input {p} does not exist; give a composite GeoTIFF or a scene folder")
    if is_scene(p):
        return SceneSource(p, bands, units, threads=threads)
    return CompositeSource(p, bands, units, threads=threads)

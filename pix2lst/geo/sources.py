"""The one reader interface: scenes and composites read window by window, bands BY NAME.

* :class:`CompositeSource`: a composite GeoTIFF (float32, band descriptions
  ``"B1"`` ... ``"B10"``, NaN nodata) as written by ``pix2lst composite``;
* :class:`SceneSource`: a Landsat scene (folder or MTL); the bands are read as DN
  and turned into calibrated values on the fly by a ``calibrate`` hook that the
  caller supplies (the physics room's :func:`pix2lst.lst_physics.scene_calibrator`),
  so this room stays below physics; nothing is written;
* :class:`ArraySource`: an in-memory ``(n_bands, h, w)`` array.

Every source has a grid (``height``, ``width``, ``crs``, ``transform``), the scene
tags of its input (``tags``: scene id, spacecraft, acquisition date, ...), reads
whole-width row ranges for streaming (``read_rows``; each compressed block decoded
once, with GDAL's decoding threads) and arbitrary windows (``read``). New kinds of
input (remote COG URLs, STAC items) plug in by resolving to a :class:`Scene` whose
band locations GDAL opens, or by implementing :class:`Source`.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol, TypeVar

import numpy as np
import numpy.typing as npt
import rasterio
from rasterio._err import CPLE_BaseError
from rasterio.windows import Window

from pix2lst.errors import SceneError
from pix2lst.geo.bandfiles import (
    READ_THREADS,
    bytes_per_block_row,
    check_decoder,
    open_bands,
    open_dataset,
    read_failed,
)
from pix2lst.geo.bands import band_indexes
from pix2lst.geo.grid import Grid
from pix2lst.geo.inputs import find_scene
from pix2lst.geo.remote import gdal_path, read_error, use_remote_settings
from pix2lst.geo.scene import Scene, is_remote, is_scene
from pix2lst.geo.tags import SCENE_TAGS, scene_tags

__all__ = [
    "ArraySource",
    "Calibrate",
    "CompositeSource",
    "DNSource",
    "SceneSource",
    "Source",
    "dn_table",
    "open_source",
]

log = logging.getLogger(__name__)

F32 = npt.NDArray[np.float32]

Calibrate = Callable[[npt.NDArray[Any], Sequence[float | None], "F32 | None"], F32]
"""``calibrate(dn, nodata, out) -> float32``: DN ``(n, h, w)`` of the source's bands to
calibrated values (written into ``out`` when given), NaN where the DN is fill."""


class Source(Protocol):
    """What the pipeline reads from: a grid and whole-width row ranges in model band order."""

    height: int
    width: int
    crs: Any
    transform: Any
    tags: dict[str, str]
    """Scene tags of the input (:data:`pix2lst.geo.tags.SCENE_TAGS`), where known."""
    block_row_bytes: int
    """Bytes of one row of compressed blocks across the width (all files) that GDAL
    decodes: what the GDAL block cache must hold so that each block is decoded once."""

    def read_rows(self, start: int, stop: int, out: F32 | None = None) -> F32:
        """Rows ``[start, stop)`` as float32 ``(n_bands, stop - start, width)``, NaN nodata.

        With ``out`` (any strides) the rows are decoded straight into it, and it is returned.
        """
        ...

    def close(self) -> None: ...


class DNSource(Source, Protocol):
    """A source whose values are a per-band function of unsigned integer DN (a scene).

    The pipeline's readers read such an input as DN and turn each pixel into model
    input by one table lookup per band (calibration and normalisation together)
    instead of calibrating it first: :meth:`dn_table` gives the calibrated value of
    every DN, :meth:`read_dn` the DN themselves.
    """

    dn_dtype: np.dtype[Any]

    def dn_table(self) -> F32 | None:
        """``(n_bands, 2**bits)`` float32: the value :meth:`read_rows` gives for each DN
        (NaN for nodata), or None when this input has no such table."""
        ...

    def read_dn(self, start: int, stop: int, cols: tuple[int, int], out: npt.NDArray[Any]) -> None:
        """DN of rows ``[start, stop)``, columns ``cols`` into ``out`` ``(n_bands, rows, cols)``
        (any strides), uncalibrated."""
        ...


def dn_table(source: Source) -> F32 | None:
    """``source``'s DN table (:class:`DNSource`), or None when it has none."""
    get = getattr(source, "dn_table", None)
    return None if get is None else get()  # type: ignore[no-any-return]


_G = TypeVar("_G", bound="_Grid")


class _Grid:
    """Grid attributes, the context-manager protocol and :meth:`reopen` shared by the file
    sources."""

    height: int
    width: int
    crs: Any
    transform: Any
    _stack: contextlib.ExitStack
    _per_handle: tuple[str, ...] = ()
    """Attributes a reopened handle starts again from None: its GDAL datasets (opened on
    first use) and buffers."""

    @property
    def grid(self) -> Grid:
        return Grid(self.crs, self.transform, self.width, self.height)

    def reopen(self: _G) -> _G:
        """Another handle on this input for a parallel reader: what was read and checked
        (the scene, its calibration, the files' layout) is shared, only file handles are
        opened; GDAL's datasets once they are needed: much cheaper than opening the
        scene again."""
        clone = copy.copy(self)
        clone._stack = contextlib.ExitStack()
        for name in self._per_handle:
            setattr(clone, name, None)
        return clone

    def close(self) -> None:  # pragma: no cover - overridden
        pass

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class CompositeSource(_Grid):
    """A multi-band GeoTIFF whose band descriptions name the bands."""

    _per_handle = ("_dataset",)

    def __init__(
        self,
        path: str | os.PathLike[str],
        bands: tuple[str, ...],
        units: str | None = None,
        *,
        threads: str | int = READ_THREADS,
        decoder: str = "auto",
    ) -> None:
        check_decoder(decoder)
        self._stack = contextlib.ExitStack()
        if is_remote(path):
            use_remote_settings()
        self.path: Path | str = gdal_path(str(path)) if is_remote(path) else Path(path)
        self._threads = threads
        self._dataset: Any = None
        ds = self._ds
        try:
            self.indexes = band_indexes(
                ds.descriptions, bands, source=str(self.path), consumer="the model"
            )
        except SceneError:
            self.close()
            raise
        file_tags = ds.tags()
        self.tags = {k: file_tags[k] for k in SCENE_TAGS if file_tags.get(k)}
        written_units = file_tags.get("UNITS")
        if units is not None and written_units in ("toa", "dn") and written_units != units:
            self.close()
            raise SceneError(
                f"{self.path} holds {written_units!r} values but the model takes {units!r} "
                f"input; write the composite with `pix2lst composite --units {units}`"
            )
        self.height, self.width = ds.height, ds.width
        self.crs, self.transform = ds.crs, ds.transform
        self.block_row_bytes = bytes_per_block_row([ds])
        self._float32 = all(ds.dtypes[i - 1] == "float32" for i in self.indexes)
        nodata = ds.nodata
        self._nodata = None if nodata is None or np.isnan(nodata) else float(nodata)

    @property
    def _ds(self) -> Any:
        """The composite's GDAL dataset (opened on first use in a handle from :meth:`reopen`)."""
        if self._dataset is None:
            self._dataset = open_dataset(self.path, "composite", self._threads, self._stack)
        return self._dataset

    def read_rows(self, start: int, stop: int, out: F32 | None = None) -> F32:
        window = Window(0, start, self.width, stop - start)  # type: ignore[no-untyped-call]
        try:
            return self.read(window, out=out)
        except (rasterio.errors.RasterioIOError, CPLE_BaseError) as exc:
            err = read_error(str(self.path), exc)  # remote: a stall or a dropped connection
            raise (read_failed(self.path, start, stop, exc) if err is exc else err) from exc

    def read(
        self, window: Window | None = None, *, boundless: bool = False, out: F32 | None = None
    ) -> F32:
        """The bands at ``window`` (whole raster if None) as float32, NaN nodata."""
        if boundless:
            data = self._ds.read(
                self.indexes, window=window, boundless=True, out_dtype=np.float32,
                fill_value=np.nan if self._nodata is None else self._nodata,
            )  # fmt: skip
            if out is not None:
                out[...] = data
                data = out
        elif out is not None and self._float32:
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
        self._stack.close()


class SceneSource(_Grid):
    """A Landsat scene, its bands read as DN and calibrated on the fly by ``calibrate``."""

    _per_handle = ("_datasets", "_dn")

    def __init__(
        self,
        scene: Scene | str | os.PathLike[str],
        bands: Sequence[str],
        calibrate: Calibrate,
        *,
        threads: str | int = READ_THREADS,
        decoder: str = "auto",
    ) -> None:
        check_decoder(decoder)
        self.scene = scene if isinstance(scene, Scene) else find_scene(scene)
        self.bands = tuple(bands)
        self.calibrate = calibrate
        self._threads = threads
        self._stack = contextlib.ExitStack()
        self._datasets: list[Any] | None = None
        first = self._ds[0]
        self.nodata = [ds.nodata for ds in self._ds]
        self.height, self.width = first.height, first.width
        self.crs, self.transform = first.crs, first.transform
        self.tags = scene_tags(self.scene.mtl, self.scene.level)
        self.block_row_bytes = bytes_per_block_row(self._ds)
        self._dtype = np.result_type(*(ds.dtypes[0] for ds in self._ds))
        self.dn_dtype = np.dtype(self._dtype)
        self._dn: npt.NDArray[Any] | None = None

    @property
    def _ds(self) -> list[Any]:
        """The bands' GDAL datasets (opened on first use in a handle from :meth:`reopen`)."""
        if self._datasets is None:
            self._datasets, _ = self._stack.enter_context(
                open_bands(
                    {b: self.scene.band_path(b) for b in self.bands},
                    threads=self._threads,
                    hint=f"the bands of {self.scene.root} must share one grid; "
                    "resample the bands onto one grid first",
                )
            )
        return self._datasets

    def dn_table(self) -> F32 | None:
        """The calibrated value of every DN (:class:`DNSource`), when the bands are unsigned
        8/16-bit and the calibration hook offers tables (``calibrate.table``)."""
        table = getattr(self.calibrate, "table", None)
        return None if table is None else table(self.dn_dtype, self.nodata)  # type: ignore[no-any-return]

    def read_dn(self, start: int, stop: int, cols: tuple[int, int], out: npt.NDArray[Any]) -> None:
        """DN of rows ``[start, stop)``, columns ``cols`` into ``out`` (any strides)."""
        c0, c1 = cols
        window = Window(c0, start, c1 - c0, stop - start)  # type: ignore[no-untyped-call]
        try:
            for i, ds in enumerate(self._ds):
                ds.read(1, window=window, out=out[i])
        except (rasterio.errors.RasterioIOError, CPLE_BaseError) as exc:
            err = read_error(ds.name, exc)  # remote: a stall or a dropped connection
            raise (read_failed(ds.name, start, stop, exc) if err is exc else err) from exc

    def read_rows(self, start: int, stop: int, out: F32 | None = None) -> F32:
        n = stop - start
        if self._dn is None or self._dn.shape[1] < n:  # one DN buffer, reused strip after strip
            self._dn = np.empty((len(self.bands), n, self.width), dtype=self._dtype)
        dn = self._dn[:, :n]
        self.read_dn(start, stop, (0, self.width), dn)
        return np.asarray(self.calibrate(dn, self.nodata, out), dtype=np.float32)

    def read(
        self, window: Window | None = None, *, boundless: bool = False, out: F32 | None = None
    ) -> F32:
        """Calibrated ``(n_bands, h, w)`` float32 of ``window`` (whole scene if None)."""
        if not boundless:  # the DN path
            win = window or Window(0, 0, self.width, self.height)  # type: ignore[no-untyped-call]
            (r0, r1), (c0, c1) = win.round_offsets().round_lengths().toranges()
            dn = np.empty((len(self.bands), int(r1 - r0), int(c1 - c0)), dtype=self._dtype)
            self.read_dn(int(r0), int(r1), (int(c0), int(c1)), dn)
        else:
            fill = [0 if nd is None else nd for nd in self.nodata]
            dn = np.stack(
                [
                    ds.read(1, window=window, boundless=True, fill_value=fill[i])
                    for i, ds in enumerate(self._ds)
                ]
            )
        return np.asarray(self.calibrate(dn, self.nodata, out), dtype=np.float32)

    def close(self) -> None:
        self._stack.close()


class ArraySource:
    """An in-memory ``(n_bands, height, width)`` float32 array in model band order."""

    crs = None
    transform = None
    block_row_bytes = 0

    def __init__(self, array: npt.ArrayLike, n_bands: int) -> None:
        self.tags: dict[str, str] = {}
        self._init(array, n_bands)

    def _init(self, array: npt.ArrayLike, n_bands: int) -> None:
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


def open_source(
    path: str | os.PathLike[str] | Scene,
    bands: Sequence[str],
    units: str | None = None,
    *,
    calibrate: Callable[[Scene, Sequence[str]], Calibrate] | None = None,
    threads: str | int = READ_THREADS,
    decoder: str = "auto",
) -> Source:
    """Open a composite GeoTIFF, or a scene (:class:`Scene`, folder or MTL).

    ``calibrate(scene, bands)`` makes the scene's calibration hook (needed for scenes;
    :func:`pix2lst.lst_physics.scene_calibrator` is the physics room's);
    ``units``: what the caller expects a composite to hold (``toa``/``dn``, checked
    against its ``UNITS`` tag); ``threads``: GDAL's decoding threads per file;
    ``decoder``: one of :data:`~pix2lst.geo.bandfiles.DECODERS` (GDAL decodes either way).
    """
    if isinstance(path, Scene) or is_scene(path):
        if calibrate is None:
            raise SceneError(f"{path} is a scene; reading it needs a calibration (calibrate=)")
        scene = path if isinstance(path, Scene) else find_scene(path)
        return SceneSource(
            scene, bands, calibrate(scene, tuple(bands)), threads=threads, decoder=decoder
        )
    if is_remote(path):  # a composite COG by URL
        return CompositeSource(path, tuple(bands), units, threads=threads)
    p = Path(path)
    if not p.exists():
        raise SceneError(f"input {p} does not exist; give a composite GeoTIFF or a scene folder")
    return CompositeSource(p, tuple(bands), units, threads=threads, decoder=decoder)

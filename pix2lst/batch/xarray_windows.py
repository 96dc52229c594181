"""Scenes as arrays that read, when indexed, only the window asked for: the lazy side of
:mod:`pix2lst.batch.xarray_api`.

:func:`dask.array.from_array` indexes them once per chunk, inside the task, so a chunk's
task opens the scene's band files, reads its own rows and closes them; nothing is held
between tasks but what :class:`LstRows` opens once per process (an atmosphere). The
objects pickle (what a distributed scheduler sends to its workers): a scene, options
and a grid.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
import rasterio
from rasterio.windows import Window

from pix2lst.geo.grid import Grid
from pix2lst.geo.scene import Location, Scene, is_remote

if TYPE_CHECKING:
    from pix2lst.lst_physics.atmosphere import AtmosphereCorrection, AtmosphereSpec
    from pix2lst.lst_physics.chain import Emissivity, TempUnits
    from pix2lst.lst_physics.lst import Method

__all__ = [
    "LstRows",
    "PhysicsOptions",
    "SceneRows",
    "gdal_location",
    "lazy_array",
    "physics_inputs",
    "scene_key",
]

log = logging.getLogger(__name__)

F32 = npt.NDArray[np.float32]


def _window(key: tuple[slice, ...], shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """``(row0, row1, col0, col1)`` of the last two slices of a dask block key."""
    r0, r1, _ = key[-2].indices(shape[-2])
    c0, c1, _ = key[-1].indices(shape[-1])
    return r0, r1, c0, c1


class SceneRows:
    """A scene's calibrated bands as an array that reads, when indexed, only the window asked
    for (what :func:`dask.array.from_array` calls in each task)."""

    ndim = 3
    dtype = np.dtype(np.float32)

    def __init__(self, scene: Scene, bands: tuple[str, ...], units: str, shape: tuple[int, ...]):
        self.scene, self.bands, self.units, self.shape = scene, bands, units, shape
        self.key = (*scene_key(scene), *bands, units)

    def __getitem__(self, key: tuple[slice, ...]) -> F32:
        from pix2lst.geo.sources import SceneSource
        from pix2lst.lst_physics import scene_calibrator

        r0, r1, c0, c1 = _window(key, self.shape)
        log.debug("composite: reading rows %d-%d of %s", r0, r1, self.scene.scene_id)
        calibrate = scene_calibrator(self.units)(self.scene, self.bands)  # type: ignore[arg-type]
        with SceneSource(self.scene, self.bands, calibrate) as source:
            values = source.read(Window(c0, r0, c1 - c0, r1 - r0))  # type: ignore[no-untyped-call]
        return values[key[0]]


def lazy_array(array_like: Any, rows: int | Sequence[int], name: str) -> Any:
    """A dask array over ``array_like``, in strips of ``rows`` (whole width, all bands)."""
    import dask.array as da
    from dask.base import tokenize

    shape = array_like.shape
    chunks = (*shape[:-2], rows, shape[-1])
    token = tokenize(name, array_like.key, chunks)
    meta = np.empty((0,) * len(shape), np.float32)
    return da.from_array(array_like, chunks=chunks, name=f"{name}-{token}", meta=meta)


def scene_key(scene: Scene) -> tuple[str, ...]:
    """What tells a scene from another in a task name: its id and band files."""
    return (scene.scene_id, *sorted(f"{k}={v}" for k, v in scene.bands.items()))


def gdal_location(location: Location) -> str:
    """The name GDAL opens a band file by (``/vsicurl/`` etc. for a URL)."""
    from pix2lst.geo.remote import gdal_path

    text = os.fspath(location)
    return gdal_path(text) if is_remote(text) else text


@dataclass(frozen=True)
class PhysicsOptions:
    """What a lazy physics LST is computed with (``ndvi_range``: the scene's, for ``avdan``)."""

    method: Method
    emissivity: Emissivity
    units: TempUnits
    mask_clouds: bool
    ndvi_range: tuple[float, float] | None
    atmosphere: AtmosphereSpec

    @property
    def corrects(self) -> bool:
        """Whether the atmosphere corrects the LST (``rte`` inverts with the bundle's itself)."""
        spec = self.atmosphere
        return spec.applied and not (self.method == "rte" and spec.source == "bundle")


def physics_inputs(scene: Scene, options: PhysicsOptions) -> tuple[dict[str, Location], str | None]:
    """The band files the physics reads, in kernel order, and the quality band's name."""
    from pix2lst.lst_physics.lst import lst_input_names, quality_input
    from pix2lst.lst_physics.rte import rte_paths

    if options.method == "rte":
        inputs: dict[str, Location] = dict(rte_paths(scene))
    else:
        inputs = {n: scene.band_path(n) for n in lst_input_names(scene)}
    qa_name = quality_input(scene, options.mask_clouds)
    if qa_name is not None:
        inputs[qa_name] = scene.band_path(qa_name)
    return inputs, qa_name


class LstRows:
    """The physics LST of a scene as an array that computes, when indexed, only the window
    asked for: the inputs and kernels of :func:`pix2lst.lst_physics.write_lst`."""

    ndim = 2
    dtype = np.dtype(np.float32)

    def __init__(self, scene: Scene, options: PhysicsOptions, grid: Grid):
        self.scene, self.options, self.grid = scene, options, grid
        self.shape = (grid.height, grid.width)
        self.key = (*scene_key(scene), repr(options))
        self.inputs, self.qa_name = physics_inputs(scene, options)
        self._correction: AtmosphereCorrection | None = None
        self._lock = threading.Lock()

    def correction(self) -> AtmosphereCorrection:
        """The atmosphere on this scene's grid, opened once per process (tasks share it)."""
        with self._lock:
            if self._correction is None:
                self._correction = self.options.atmosphere.open(self.scene, self.grid)
            return self._correction

    def __getstate__(self) -> dict[str, Any]:  # what a worker gets: no open files, no lock
        return {**vars(self), "_correction": None, "_lock": None}

    def __setstate__(self, state: dict[str, Any]) -> None:
        vars(self).update(state, _lock=threading.Lock())

    def __getitem__(self, key: tuple[slice, ...]) -> F32:
        from pix2lst.geo.remote import read_error
        from pix2lst.geo.stream import gdal_env, open_bands
        from pix2lst.lst_physics.lst import mask_cloud_rows

        r0, r1, c0, c1 = _window(key, self.shape)
        log.debug("physics: reading rows %d-%d of %s", r0, r1, self.scene.scene_id)
        window = Window(c0, r0, c1 - c0, r1 - r0)  # type: ignore[no-untyped-call]
        with gdal_env(), open_bands(self.inputs) as (datasets, nodata):
            try:
                arrays = [ds.read(1, window=window) for ds in datasets]
            except rasterio.errors.RasterioIOError as exc:
                raise read_error(self.inputs.values(), exc) from exc
        res = self._lst(arrays, nodata, r0)
        if self.qa_name is not None:
            qa = arrays[5 if self.options.method == "rte" else 3]
            mask_cloud_rows(res, qa, self.qa_name, self.scene, self.options.mask_clouds,
                            self.options.units)  # fmt: skip
        return np.asarray(res, dtype=np.float32)

    def _lst(self, arrays: list[npt.NDArray[Any]], nodata: list[float | None], start: int) -> F32:
        """LST of whole-width rows from ``start``, as :func:`write_lst` computes it."""
        from pix2lst.lst_physics.lst import lst_rows

        o = self.options
        return lst_rows(  # type: ignore[no-any-return]
            self.scene, o.method, arrays, nodata, start, emissivity=o.emissivity,
            units=o.units, ndvi_range=o.ndvi_range,
            correction=self.correction() if o.corrects else None,
        )  # fmt: skip

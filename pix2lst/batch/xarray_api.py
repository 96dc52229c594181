"""The xarray API: any scene in, an ``xarray.DataArray`` with its CRS, transform and time out.

A scene is anything :func:`pix2lst.geo.scene.find_scene` takes: a folder or MTL
file, an MTL URL, a STAC item (``pystac.Item``, dict, ``.json`` file or URL), or a
:class:`~pix2lst.geo.scene.Scene`; or a list of the STAC items of one scene
(USGS publishes its SR and ST products as two items). The arrays follow rioxarray's
conventions (``x``/``y`` pixel-centre coordinates, a ``spatial_ref`` coordinate
holding the CRS and the GeoTransform, ``.rio.crs`` and ``.rio.transform()`` work),
NaN nodata, carry the scene tags (``SCENE_ID``, ``DATE_ACQUIRED`` ...) as
attributes and the acquisition time (``DATE_ACQUIRED`` + ``SCENE_CENTER_TIME``,
UTC) as a scalar ``time`` coordinate, so ``xr.concat([a, b], "time")`` stacks
scenes.

``chunks=None`` computes the result now. ``chunks`` = rows per chunk (or
``{"y": rows}``, or ``"auto"``) returns a dask-backed array instead: nothing is
read until it is computed, and then each task reads the window of its own rows.
:func:`predict_xarray` also takes what ``odc.stac.load`` returns for Landsat (see
:func:`bands_composite`).
"""

from __future__ import annotations

import logging
import math
import os
import tempfile
import threading
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import numpy.typing as npt
import rasterio
from rasterio.windows import Window

from pix2lst.errors import (
    BandNotFoundError,
    ImplausibleDataError,
    ParameterError,
    SceneError,
)
from pix2lst.geo.grid import Grid
from pix2lst.geo.inputs import find_scene
from pix2lst.geo.mtl import MtlMetadata, read_mtl
from pix2lst.geo.scene import Location, Scene, is_remote
from pix2lst.geo.stac import COMMON_NAMES
from pix2lst.geo.tags import product_tags, scene_tags
from pix2lst.geo.units import parse_temperature_units

if TYPE_CHECKING:
    from pix2lst.lst_physics.atmosphere import AtmosphereCorrection, AtmosphereSpec
    from pix2lst.lst_physics.chain import Emissivity, TempUnits
    from pix2lst.lst_physics.lst import Method

__all__ = [
    "AUTO_ROWS",
    "bands_composite",
    "composite_xarray",
    "physics_xarray",
    "predict_xarray",
    "read_lst_xarray",
    "to_dataarray",
]

log = logging.getLogger(__name__)

AUTO_ROWS = 512
"""Rows per chunk for ``chunks="auto"``: a full-width Landsat strip of a few hundred MB."""

F32 = npt.NDArray[np.float32]


def to_dataarray(
    values: Any,
    grid: Grid,
    *,
    name: str,
    attrs: Mapping[str, Any] | None = None,
    bands: Sequence[str] | None = None,
) -> Any:
    """A ``(y, x)`` or ``(band, y, x)`` DataArray on ``grid`` (rioxarray CRS and transform),
    with the acquisition ``time`` when ``attrs`` carry ``DATE_ACQUIRED``; ``values`` may be a
    numpy or a dask array."""
    import rioxarray  # noqa: F401  (registers the .rio accessor)
    import xarray as xr

    t = grid.transform
    coords: dict[str, Any] = {
        "y": ("y", t.f + t.e * (np.arange(grid.height) + 0.5)),
        "x": ("x", t.c + t.a * (np.arange(grid.width) + 0.5)),
    }
    dims: tuple[str, ...] = ("y", "x")
    if bands is not None:
        dims = ("band", "y", "x")
        coords["band"] = ("band", list(bands))
    when = acquisition_time(attrs or {})
    if when is not None:
        coords["time"] = when
    da = xr.DataArray(values, dims=dims, coords=coords, name=name, attrs=dict(attrs or {}))
    da = da.rio.write_crs(grid.crs).rio.write_transform(t).rio.write_nodata(np.nan, encoded=False)
    return da


def acquisition_time(attrs: Mapping[str, Any]) -> np.datetime64 | None:
    """``DATE_ACQUIRED`` + ``SCENE_CENTER_TIME`` (UTC, as odc-stac's ``time``: no zone) of
    scene tags, to the nanosecond; the date at 00:00 without a centre time; None without a date."""
    import pandas as pd

    date = attrs.get("DATE_ACQUIRED")
    if not date:
        return None
    clock = str(attrs.get("SCENE_CENTER_TIME") or "00:00:00").strip('"').rstrip("Zz")
    stamp = pd.Timestamp(f"{date}T{clock}")
    return np.datetime64(stamp.to_datetime64(), "ns")


# -- scenes ------------------------------------------------------------------------------------


def _scene(scene: Any) -> Scene:
    if isinstance(scene, Scene):
        return scene
    if isinstance(scene, list | tuple):
        return merge_scenes([_scene(s) for s in scene])
    return find_scene(scene)


def merge_scenes(scenes: Sequence[Scene]) -> Scene:
    """One scene from the parts of one acquisition (USGS's SR and ST items of a Level-2
    scene): the bands of all, the MTL and location of the first."""
    if not scenes:
        raise ParameterError("an empty list of scenes; give one scene or the items of one scene")
    first = scenes[0]
    for other in scenes[1:]:
        if other.scene_id != first.scene_id or other.level != first.level:
            raise SceneError(
                f"{first.scene_id} ({first.level}) and {other.scene_id} ({other.level}) are "
                "not parts of one scene; give the STAC items of one scene together, or one at "
                "a time"
            )
    bands: dict[str, Location] = {}
    for s in scenes:
        for key, loc in s.bands.items():
            bands.setdefault(key, loc)
    return Scene(first.root, first.mtl, bands, first.level)


def _rows(chunks: Any, height: int, width: int) -> Any:
    """Rows per chunk (or dask's row chunks) from ``chunks``; None: eager."""
    if chunks is None:
        return None
    if chunks == "auto":
        return AUTO_ROWS
    if isinstance(chunks, Mapping):
        extra = {k: v for k, v in chunks.items() if k != "y" and v not in (-1, None, width)}
        if extra or not isinstance(chunks.get("y", AUTO_ROWS), int):
            raise ParameterError(
                f"chunks {dict(chunks)!r}: results are computed in strips of whole rows; give "
                'rows per chunk, e.g. chunks=512 or chunks={"y": 512}'
            )
        rows = chunks.get("y", AUTO_ROWS)
        return height if rows == -1 else int(rows)
    if isinstance(chunks, int) and not isinstance(chunks, bool) and chunks > 0:
        return chunks
    if isinstance(chunks, tuple) and all(isinstance(c, int) and c > 0 for c in chunks):
        if sum(chunks) == height:  # dask's explicit chunks along y
            return chunks
    raise ParameterError(
        f"chunks must be rows per chunk (a positive int), {{'y': rows}}, 'auto' or row chunks "
        f"adding up to the {height} rows, not {chunks!r}"
    )


def _window(key: tuple[slice, ...], shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """``(row0, row1, col0, col1)`` of the last two slices of a dask block key."""
    r0, r1, _ = key[-2].indices(shape[-2])
    c0, c1, _ = key[-1].indices(shape[-1])
    return r0, r1, c0, c1


class _SceneRows:
    """A scene's calibrated bands as an array that reads, when indexed, only the window asked
    for (what :func:`dask.array.from_array` calls in each task)."""

    ndim = 3
    dtype = np.dtype(np.float32)

    def __init__(self, scene: Scene, bands: tuple[str, ...], units: str, shape: tuple[int, ...]):
        self.scene, self.bands, self.units, self.shape = scene, bands, units, shape
        self.key = (*_scene_key(scene), *bands, units)

    def __getitem__(self, key: tuple[slice, ...]) -> F32:
        from pix2lst.geo.sources import SceneSource
        from pix2lst.lst_physics import scene_calibrator

        r0, r1, c0, c1 = _window(key, self.shape)
        log.debug("composite: reading rows %d-%d of %s", r0, r1, self.scene.scene_id)
        calibrate = scene_calibrator(self.units)(self.scene, self.bands)  # type: ignore[arg-type]
        with SceneSource(self.scene, self.bands, calibrate) as source:
            values = source.read(Window(c0, r0, c1 - c0, r1 - r0))  # type: ignore[no-untyped-call]
        return values[key[0]]


def _lazy(array_like: Any, rows: int | Sequence[int], name: str) -> Any:
    """A dask array over ``array_like``, in strips of ``rows`` (whole width, all bands)."""
    import dask.array as da
    from dask.base import tokenize

    shape = array_like.shape
    chunks = (*shape[:-2], rows, shape[-1])
    token = tokenize(name, array_like.key, chunks)
    meta = np.empty((0,) * len(shape), np.float32)
    return da.from_array(array_like, chunks=chunks, name=f"{name}-{token}", meta=meta)


def _scene_key(scene: Scene) -> tuple[str, ...]:
    """What tells a scene from another in a task name: its id and band files."""
    return (scene.scene_id, *sorted(f"{k}={v}" for k, v in scene.bands.items()))


def composite_xarray(
    scene: Any,
    units: str = "toa",
    *,
    bands: Sequence[str] | None = None,
    chunks: Any = None,
) -> Any:
    """The calibrated composite (``band`` = B1..B7, B10, or ``bands``) of a scene, float32, NaN
    nodata.

    ``units``: ``toa`` (TOA/surface reflectance B1-B7, brightness temperature K in B10,
    what the model takes) or ``dn``. ``chunks``: see the module; lazily each task reads
    its rows of every band.
    """
    from pix2lst.geo.sources import SceneSource
    from pix2lst.lst_physics import scene_calibrator
    from pix2lst.lst_physics.constants import COMPOSITE_BANDS

    sc = _scene(scene)
    names = tuple(bands or COMPOSITE_BANDS)
    calibrate = scene_calibrator(units)  # type: ignore[arg-type]
    with SceneSource(sc, names, calibrate(sc, names)) as source:
        grid, tags = source.grid, dict(source.tags)
        rows = _rows(chunks, grid.height, grid.width)
        if rows is None:
            values: Any = source.read()
    if rows is not None:
        values = _lazy(_SceneRows(sc, names, units, (len(names), grid.height, grid.width)),
                       rows, "composite")  # fmt: skip
    tags["UNITS"] = units
    return to_dataarray(values, grid, name="composite", attrs=tags, bands=names)


# -- physics -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _PhysicsOptions:
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


def _physics_inputs(
    scene: Scene, options: _PhysicsOptions
) -> tuple[dict[str, Location], str | None]:
    """The band files the physics reads, in kernel order, and the quality band's name."""
    from pix2lst.lst_physics.lst import lst_input_names
    from pix2lst.lst_physics.rte import rte_paths

    if options.method == "rte":
        inputs: dict[str, Location] = dict(rte_paths(scene))
    else:
        inputs = {n: scene.band_path(n) for n in lst_input_names(scene)}
    qa_name = None
    if options.mask_clouds:
        qa_name, inputs[qa_name] = scene.quality_band()
    return inputs, qa_name


class _LstRows:
    """The physics LST of a scene as an array that computes, when indexed, only the window
    asked for: the inputs and kernels of :func:`pix2lst.lst_physics.write_lst`."""

    ndim = 2
    dtype = np.dtype(np.float32)

    def __init__(self, scene: Scene, options: _PhysicsOptions, grid: Grid):
        self.scene, self.options, self.grid = scene, options, grid
        self.shape = (grid.height, grid.width)
        self.key = (*_scene_key(scene), repr(options))
        self.inputs, self.qa_name = _physics_inputs(scene, options)
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
        from pix2lst.lst_physics.qa import cloud_mask

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
            res[cloud_mask(qa, self.qa_name, self.scene.mtl.collection)] = np.nan
        return np.asarray(res, dtype=np.float32)

    def _lst(self, arrays: list[npt.NDArray[Any]], nodata: list[float | None], start: int) -> F32:
        """LST of whole-width rows from ``start``, as :func:`write_lst` computes it."""
        from pix2lst.geo.units import kelvin_shift
        from pix2lst.lst_physics.chain import lst_params
        from pix2lst.lst_physics.kernels import lst_numba, rte_numba
        from pix2lst.lst_physics.lst import _single_channel_kelvin
        from pix2lst.lst_physics.rte import rte_params

        o, sc = self.options, self.scene
        if o.corrects:
            lst, bt = _single_channel_kelvin(
                sc, o.method, arrays, nodata, {}, o.emissivity, o.ndvi_range
            )
            self.correction().correct_rows(lst, bt, start)
            shift = kelvin_shift(o.units)
            return lst + np.float32(shift) if shift else lst  # type: ignore[no-any-return]
        if o.method == "rte":
            trad, urad, drad, atran, emis = arrays[:5]
            vector = rte_params(sc, o.units).vector()
            return rte_numba(trad, urad, drad, atran, emis, vector)  # type: ignore[no-any-return]
        p = lst_params(
            sc, emissivity=o.emissivity, units=o.units, ndvi_range=o.ndvi_range, nodata=nodata[:3]
        )
        return lst_numba(arrays[0], arrays[1], arrays[2], p.vector())  # type: ignore[no-any-return]


def physics_xarray(
    scene: Any,
    *,
    method: str = "planck",
    emissivity: str = "sobrino",
    units: str = "K",
    mask_clouds: bool = False,
    atmosphere: AtmosphereSpec | str | None = None,
    water_vapour: str | float | None = None,
    chunks: Any = None,
) -> Any:
    """Physics LST of a scene as a ``(y, x)`` DataArray, exactly what ``pix2lst physics`` writes.

    ``atmosphere`` / ``water_vapour``: the atmospheric correction, as ``--atmosphere`` /
    ``--water-vapour`` take it (:func:`~pix2lst.lst_physics.atmosphere.parse_atmosphere`),
    or an :class:`~pix2lst.lst_physics.atmosphere.AtmosphereSpec`; none by default.
    Eager (``chunks=None``): computed by :func:`pix2lst.lst_physics.write_lst` into a
    temporary GeoTIFF that is read back and removed (same values, same tags, same
    nodata). Lazy: the same kernels on each task's rows (the chain is per pixel; the
    ``avdan`` emissivity's scene NDVI range is computed once, now, by streaming B4/B5;
    the atmosphere is checked now and read by each task for its rows).
    """
    from pix2lst.lst_physics.atmosphere import AtmosphereSpec, parse_atmosphere
    from pix2lst.lst_physics.lst import write_lst

    spec = (
        atmosphere
        if isinstance(atmosphere, AtmosphereSpec)
        else parse_atmosphere(atmosphere, None if water_vapour is None else str(water_vapour))
    )
    sc = _scene(scene)
    if chunks is None:
        with tempfile.TemporaryDirectory(prefix="pix2lst-") as tmp:
            path = Path(tmp) / "lst.tif"
            write_lst(
                sc, path, method=method, emissivity=emissivity, units=units,  # type: ignore[arg-type]
                mask_clouds=mask_clouds, atmosphere=spec,
            )  # fmt: skip
            return read_lst_xarray(path)
    return _lazy_physics(sc, method, emissivity, units, mask_clouds, spec, chunks)


def _lazy_physics(
    sc: Scene,
    method: str,
    emissivity: str,
    units: str,
    mask_clouds: bool,
    spec: AtmosphereSpec,
    chunks: Any,
) -> Any:
    from pix2lst.lst_physics.chain import AVDAN_WARNING, lst_params
    from pix2lst.lst_physics.lst import scene_ndvi_range

    unit_name = parse_temperature_units(units)
    if method not in ("planck", "rte"):
        raise ParameterError(f"method must be 'planck' or 'rte', got {method!r}")
    ndvi_range = None
    if method == "planck":
        if emissivity == "avdan":
            warnings.warn(AVDAN_WARNING, UserWarning, stacklevel=3)
            ndvi_range = scene_ndvi_range(sc)
        lst_params(sc, emissivity=emissivity, units=units, ndvi_range=ndvi_range)  # type: ignore[arg-type]
    options = _PhysicsOptions(
        cast("Method", method), cast("Emissivity", emissivity), cast("TempUnits", units),
        mask_clouds, ndvi_range, spec,
    )  # fmt: skip
    with rasterio.open(_gdal(next(iter(_physics_inputs(sc, options)[0].values())))) as ds:
        grid = Grid(ds.crs, ds.transform, ds.width, ds.height)
    rows = _rows(chunks, grid.height, grid.width)
    windows = _LstRows(sc, options, grid)
    values = _lazy(windows, rows or AUTO_ROWS, "lst")
    attrs: dict[str, Any] = product_tags(
        "lst", scene_tags(sc.mtl, sc.level), method=method, units=unit_name,
        cloud_mask=str(mask_clouds),
        emissivity="ST_EMIS (USGS ASTER GED)" if method == "rte" else emissivity,
        atmospheric_correction="rte" if method == "rte" else "none",
    )  # fmt: skip
    if options.corrects:  # opened and checked now (files, coverage, values), read by the tasks
        attrs.update(windows.correction().tags)
    attrs.update(
        units=unit_name, standard_name="surface_temperature", long_name="land surface temperature"
    )
    return to_dataarray(values, grid, name="lst", attrs=attrs)


def read_lst_xarray(path: str | os.PathLike[str]) -> Any:
    """An LST GeoTIFF as a ``(y, x)`` DataArray (values in memory; tags as attributes)."""
    with rasterio.open(path) as ds:
        values = ds.read(1, out_dtype=np.float32)
        grid = Grid(ds.crs, ds.transform, ds.width, ds.height)
        attrs: dict[str, Any] = dict(ds.tags())
        unit = ds.units[0] or attrs.get("UNITS", "K")
    attrs.update(
        units=unit, standard_name="surface_temperature", long_name="land surface temperature"
    )
    return to_dataarray(values, grid, name="lst", attrs=attrs)


# -- prediction --------------------------------------------------------------------------------


def predict_xarray(
    scene: Any,
    predictor: Any = None,
    *,
    units: str = "K",
    chunks: Any = None,
    mtl: Any = None,
) -> Any:
    """Model LST of a scene as a ``(y, x)`` DataArray (``predictor``: an
    :class:`~pix2lst.runtime.LSTPredictor`; None builds one with the shipped model).

    ``scene``: a scene (see the module), or the bands of one as ``odc.stac.load`` gives
    them (:func:`bands_composite`; ``mtl`` as there). ``chunks``: lazily, in strips of
    about that many rows (rounded up to whole tile strides, at least a tile's worth of
    them), each predicted with a tile of context above and below, so the result equals
    the eager one. A dask-backed ``odc`` input is predicted lazily anyway.
    """
    import xarray as xr

    if predictor is None:
        from pix2lst.runtime.predictor import LSTPredictor

        predictor = LSTPredictor()
    meta = predictor.metadata
    if isinstance(scene, xr.Dataset | xr.DataArray):
        composite = bands_composite(scene, meta.bands, meta.input_units, mtl=mtl)
        height, width = composite.sizes["y"], composite.sizes["x"]
        rows = _rows(chunks, height, width)
        if rows is not None:
            composite = composite.chunk({"band": -1, "y": _aligned(predictor, rows, height, width),
                                         "x": -1})  # fmt: skip
    elif chunks is None:
        composite = composite_xarray(scene, units=meta.input_units, bands=meta.bands)
    else:
        sc = _scene(scene)
        with rasterio.open(_gdal(sc.band_path(meta.bands[0]))) as ds:
            height, width = ds.height, ds.width
        rows = _rows(chunks, height, width) or AUTO_ROWS
        composite = composite_xarray(sc, units=meta.input_units, bands=meta.bands,
                                     chunks=_aligned(predictor, rows, height, width))  # fmt: skip
    return predictor.predict_xarray(composite, units=units)


def _gdal(location: Location) -> str:
    from pix2lst.geo.remote import gdal_path

    text = os.fspath(location)
    return gdal_path(text) if is_remote(text) else text


def _aligned(predictor: Any, rows: Any, height: int, width: int) -> tuple[int, ...]:
    """Row chunks aligned with the predictor's tile grid (:func:`pix2lst.runtime.lazy.aligned_chunks`)."""
    from pix2lst.runtime.lazy import aligned_chunks

    rows = rows if isinstance(rows, int) else rows[0]
    stride = predictor.grid(height, width).stride
    chunks = aligned_chunks(rows, height, predictor.tile_size, stride)
    if chunks[0] != min(rows, height):
        log.info(
            "chunks of %d rows (whole tile strides of %d px, at least a tile)", chunks[0], stride
        )
    return chunks


# -- odc-stac's Datasets -------------------------------------------------------------------------

_SCALE = (("scale_factor", "add_offset"), ("scale", "offset"))
_L2_ST_SCALE = 0.00341802
_BAND_TOKEN = {"ST_TRAD": "B10", **{f"SR_B{i}": f"B{i}" for i in range(1, 8)}}


def _token(name: str) -> str | None:
    """The composite band (``B1``..``B11``) a variable or band label names: an odc-stac
    common name (``red``, ``lwir11``, ``trad``), a USGS asset key (``SR_B4``, ``SR_B4.TIF``)
    or the band itself."""
    key = name.strip()
    if key.lower() in COMMON_NAMES:
        key = COMMON_NAMES[key.lower()]
    key = key.upper().removesuffix(".TIF")
    key = _BAND_TOKEN.get(key, key)
    return key if key[:1] == "B" and key[1:].isdigit() else None


def _as_mtl(mtl: Any) -> MtlMetadata | None:
    if mtl is None or isinstance(mtl, MtlMetadata):
        return mtl
    if isinstance(mtl, Scene):
        return mtl.mtl
    if not is_remote(os.fspath(mtl)) and Path(mtl).is_file():
        return read_mtl(mtl)
    return find_scene(mtl).mtl


def bands_composite(data: Any, bands: Sequence[str], units: str, *, mtl: Any = None) -> Any:
    """The ``(band, y, x)`` float32 composite of ``bands`` (in ``units``, ``toa`` or ``dn``) from
    what ``odc.stac.load`` returns for Landsat Collection 2.

    ``data``: a Dataset of bands, or a DataArray with a ``band`` dimension; bands by odc-stac
    common name (``coastal``, ``blue``, ``green``, ``red``, ``nir08``, ``swir16``,
    ``swir22``, ``lwir11``; a Level-2 item's band-10 radiance is ``trad``), by USGS asset key
    or as ``B1``..``B10``; a ``time`` dimension of one (kept as the ``time`` coordinate);
    NaN or the ``nodata`` attribute as nodata. Calibration:

    * with ``mtl`` (the scene's MTL: a path, URL, :class:`MtlMetadata` or scene), integer
      DN are calibrated exactly as the scene's own composite (:func:`composite_xarray`);
      on a Level-2 scene band 10 comes from ``trad`` (ST_TRAD), not ``lwir11``
      (ST_B10 is surface temperature, not brightness temperature);
    * without it, integer DN are scaled by their ``scale_factor``/``add_offset`` (or
      ``scale``/``offset``) attributes and float values taken as they are: B1-B7 must then
      be reflectance and B10 brightness temperature in kelvin.

    A dask-backed ``data`` gives a dask-backed composite.
    """
    import xarray as xr

    if isinstance(data, xr.DataArray):
        if "band" not in data.dims:
            raise ParameterError(
                f"a DataArray of bands needs a 'band' dimension (dims {data.dims}); give "
                "odc.stac.load's Dataset or ds.to_array('band')"
            )
        variables = {str(b): data.sel(band=b, drop=True) for b in data["band"].values}
    else:
        variables = {str(k): v for k, v in data.data_vars.items()}
    if "time" in data.dims:
        if data.sizes["time"] != 1:
            raise ParameterError(
                f"the data holds {data.sizes['time']} times; predict one scene at a time, "
                "e.g. data.isel(time=0)"
            )
        variables = {k: v.isel(time=0) if "time" in v.dims else v for k, v in variables.items()}
    found: dict[str, str] = {}
    for name in variables:
        token = _token(name)
        if token is not None and (token not in found or name.lower() == "trad"):
            found[token] = name
    the_mtl = _as_mtl(mtl)
    level = the_mtl.level if the_mtl is not None else None
    if level == "L2" and "B10" in found and found["B10"].lower().startswith("lwir"):
        raise SceneError(
            f"{found['B10']!r} of a Level-2 scene is surface temperature (ST_B10), not the "
            "brightness temperature the model takes; load the band-10 radiance 'trad' "
            "(ST_TRAD) too"
        )
    missing = [b for b in bands if b not in found]
    if missing:
        raise BandNotFoundError(
            f"the model needs bands {list(bands)} (odc-stac: coastal, blue, green, red, nir08, "
            f"swir16, swir22, lwir11; on Level 2 trad for B10); {sorted(variables)} lack "
            f"{missing}"
        )
    stack = xr.concat(
        [variables[found[b]].transpose("y", "x") for b in bands], dim="band", coords="minimal",
        compat="override", join="exact",
    ).assign_coords(band=list(bands))  # fmt: skip
    params = [_band_params(variables[found[b]], b, found[b], the_mtl, units) for b in bands]
    nodata = [p[2] for p in params]
    if the_mtl is not None:
        func: Any = _calibrate_mtl
        kwargs: dict[str, Any] = {"bands": tuple(bands), "mtl": the_mtl, "units": units,
                                  "nodata": nodata}  # fmt: skip
    else:
        func, kwargs = _calibrate_attrs, {"params": params, "units": units, "bands": tuple(bands)}
    if stack.chunks is not None:  # every band in each block: the calibration takes them all
        stack = stack.chunk({"band": -1})
    values = (
        stack.data.map_blocks(func, dtype=np.float32, **kwargs)
        if stack.chunks is not None
        else func(stack.values, **kwargs)
    )
    attrs = {**(scene_tags(the_mtl) if the_mtl is not None else {}), "UNITS": units}
    out = stack.copy(data=values)
    out.attrs = attrs
    out.name = "composite"
    if "time" not in out.coords and acquisition_time(attrs) is not None:
        out = out.assign_coords(time=acquisition_time(attrs))
    return out


def _band_params(
    var: Any, band: str, name: str, mtl: MtlMetadata | None, units: str
) -> tuple[float, float, float | None]:
    """``(scale, offset, nodata)`` of one variable."""
    attrs = var.attrs
    nodata = attrs.get("nodata", attrs.get("_FillValue"))
    nodata = (
        None if nodata is None or (isinstance(nodata, float) and math.isnan(nodata)) else nodata
    )
    integer = np.issubdtype(var.dtype, np.integer)
    if mtl is not None:
        if not integer:
            raise ParameterError(
                f"band {name!r} is {var.dtype}: with mtl= give the DN as loaded (integer), "
                "or scaled values without mtl"
            )
        return 1.0, 0.0, nodata
    scale, offset = next(
        ((float(attrs[s]), float(attrs.get(o, 0.0))) for s, o in _SCALE if s in attrs),
        (1.0, 0.0),
    )
    if band == "B10" and units == "toa" and integer:
        if math.isclose(scale, _L2_ST_SCALE, rel_tol=1e-6):
            raise SceneError(
                f"{name!r} with scale {scale} is USGS Level-2 surface temperature (ST_B10), not "
                "the brightness temperature the model takes; load 'trad' and pass mtl= (the "
                "scene's MTL)"
            )
        raise SceneError(
            f"{name!r} holds DN: brightness temperature needs the MTL's band-10 constants; "
            "pass mtl= (the scene's MTL file or URL) or give band 10 as brightness temperature "
            "in kelvin"
        )
    if integer and units == "toa" and scale == 1.0 and offset == 0.0:
        raise SceneError(
            f"{name!r} holds DN without scale_factor/add_offset attributes; pass mtl= (the "
            "scene's MTL) or set the attributes (odc-stac: the raster:bands scale and offset)"
        )
    return scale, offset, nodata


def _calibrate_mtl(
    dn: npt.NDArray[Any],
    *,
    bands: tuple[str, ...],
    mtl: MtlMetadata,
    units: str,
    nodata: list[float | None],
) -> F32:
    """DN of the model's bands calibrated from the MTL, as the scene's composite is."""
    from pix2lst.lst_physics.calibrate import calibrate_composite

    nd = [None if v is None else float(v) for v in nodata]
    return calibrate_composite(np.asarray(dn), bands, mtl, units, nodata=nd)  # type: ignore[arg-type]


def _calibrate_attrs(
    values: npt.NDArray[Any],
    *,
    params: list[tuple[float, float, float | None]],
    units: str,
    bands: tuple[str, ...],
) -> F32:
    """Values scaled by their attributes, NaN at nodata; refuses values no Landsat band has."""
    out = np.empty(values.shape, np.float32)
    for i, (scale, offset, nodata) in enumerate(params):
        band = values[i]
        bad = (
            ~np.isfinite(band)
            if np.issubdtype(band.dtype, np.floating)
            else np.zeros(band.shape, bool)
        )
        if nodata is not None:
            bad |= band == nodata
        out[i] = band * np.float64(scale) + np.float64(offset)
        out[i][bad] = np.nan
    if units == "toa":
        _check_range(out, bands)
    return out


def _check_range(values: F32, bands: tuple[str, ...]) -> None:
    """Refuse a band whose valid values are mostly outside what it can hold (more than 1 %)."""
    for i, band in enumerate(bands):
        v = values[i][np.isfinite(values[i])]
        if v.size == 0:
            continue
        lo, hi = (150.0, 400.0) if band in ("B10", "B11") else (-0.5, 1.6)
        share = np.count_nonzero((v < lo) | (v > hi)) / v.size
        if share > 0.01:
            what = "brightness temperature (K)" if hi == 400.0 else "reflectance"
            raise ImplausibleDataError(
                f"band {band}: {share:.0%} of the valid values lie outside {lo}-{hi}, which "
                f"{what} cannot; scale the DN (scale_factor/add_offset attributes) or pass mtl="
            )

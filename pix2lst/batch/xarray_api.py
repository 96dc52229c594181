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
import os
import tempfile
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import numpy.typing as npt
import rasterio

from pix2lst.batch.xarray_bands import acquisition_time, bands_composite
from pix2lst.batch.xarray_windows import (
    LstRows,
    PhysicsOptions,
    SceneRows,
    gdal_location,
    lazy_array,
    physics_inputs,
)
from pix2lst.errors import ParameterError
from pix2lst.geo.grid import Grid
from pix2lst.geo.inputs import find_scene
from pix2lst.geo.scene import Scene
from pix2lst.geo.tags import product_tags, scene_tags
from pix2lst.geo.units import parse_temperature_units

if TYPE_CHECKING:
    from pix2lst.lst_physics.atmosphere import AtmosphereSpec
    from pix2lst.lst_physics.chain import Emissivity, TempUnits
    from pix2lst.lst_physics.lst import Method

__all__ = [
    "AUTO_ROWS",
    "acquisition_time",
    "bands_composite",
    "composite_xarray",
    "physics_xarray",
    "predict_xarray",
    "read_lst_xarray",
    "to_dataarray",
]

log = logging.getLogger(__name__)

AUTO_ROWS = 512
"""Rows per chunk for ``chunks="auto"`` (and a ``{"y": "auto"}``): a full-width strip holds
``bands x 512 x width`` float32 values."""

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


# -- scenes ------------------------------------------------------------------------------------


def _scene(scene: Any) -> Scene:
    """The scene of ``scene`` (a list: the STAC items of one scene, USGS's SR and ST items)."""
    return scene if isinstance(scene, Scene) else find_scene(scene)


def _rows(chunks: Any, height: int, width: int) -> Any:
    """Rows per chunk (or dask's row chunks) from ``chunks``; None: eager."""
    if chunks is None:
        return None
    if chunks == "auto":
        return AUTO_ROWS
    if isinstance(chunks, Mapping):
        extra = {k: v for k, v in chunks.items() if k != "y" and v not in (-1, None, width)}
        if chunks.get("y") == "auto":
            chunks = {**chunks, "y": AUTO_ROWS}
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
        values = lazy_array(SceneRows(sc, names, units, (len(names), grid.height, grid.width)),
                       rows, "composite")  # fmt: skip
    tags["UNITS"] = units
    return to_dataarray(values, grid, name="composite", attrs=tags, bands=names)


# -- physics -----------------------------------------------------------------------------------


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
    options = PhysicsOptions(
        cast("Method", method), cast("Emissivity", emissivity), cast("TempUnits", units),
        mask_clouds, ndvi_range, spec,
    )  # fmt: skip
    with rasterio.open(gdal_location(next(iter(physics_inputs(sc, options)[0].values())))) as ds:
        grid = Grid(ds.crs, ds.transform, ds.width, ds.height)
    rows = _rows(chunks, grid.height, grid.width)
    windows = LstRows(sc, options, grid)
    values = lazy_array(windows, rows or AUTO_ROWS, "lst")
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
    the eager one. A dask-backed ``odc`` input is predicted lazily anyway. A lazy
    prediction is computed where its predictor is (dask's threads scheduler); many scenes
    on a cluster are :func:`pix2lst.batch.run`'s work.
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
        with rasterio.open(gdal_location(sc.band_path(meta.bands[0]))) as ds:
            height, width = ds.height, ds.width
        rows = _rows(chunks, height, width) or AUTO_ROWS
        composite = composite_xarray(sc, units=meta.input_units, bands=meta.bands,
                                     chunks=_aligned(predictor, rows, height, width))  # fmt: skip
    return predictor.predict_xarray(composite, units=units)


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

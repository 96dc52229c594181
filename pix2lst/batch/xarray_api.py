"""The xarray API: any scene in, an ``xarray.DataArray`` with its CRS and transform out.

A scene is anything :func:`pix2lst.geo.scene.find_scene` takes: a folder or MTL
file, an MTL URL, a STAC item (``pystac.Item``, dict, ``.json`` file or URL), or a
:class:`~pix2lst.geo.scene.Scene`. The arrays follow rioxarray's conventions
(``x``/``y`` pixel-centre coordinates, a ``spatial_ref`` coordinate holding the CRS
and the GeoTransform, ``.rio.crs`` and ``.rio.transform()`` work), NaN nodata, and
carry the scene tags (``SCENE_ID``, ``DATE_ACQUIRED`` ...) as attributes. Plain
numpy stays one ``.values`` away.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import rasterio

from pix2lst.geo.grid import Grid
from pix2lst.geo.inputs import find_scene
from pix2lst.geo.scene import Scene

__all__ = ["composite_xarray", "physics_xarray", "predict_xarray", "to_dataarray"]


def to_dataarray(
    values: npt.NDArray[Any],
    grid: Grid,
    *,
    name: str,
    attrs: Mapping[str, Any] | None = None,
    bands: Sequence[str] | None = None,
) -> Any:
    """A ``(y, x)`` or ``(band, y, x)`` DataArray on ``grid`` (rioxarray CRS and transform)."""
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
    da = xr.DataArray(values, dims=dims, coords=coords, name=name, attrs=dict(attrs or {}))
    da = da.rio.write_crs(grid.crs).rio.write_transform(t).rio.write_nodata(np.nan, encoded=False)
    return da


def _scene(scene: Any) -> Scene:
    return scene if isinstance(scene, Scene) else find_scene(scene)


def composite_xarray(scene: Any, units: str = "toa") -> Any:
    """The calibrated 8-band composite (``band`` = B1..B7, B10) of a scene, float32, NaN nodata.

    ``units``: ``toa`` (TOA/surface reflectance B1-B7, brightness temperature K in B10,
    what the model takes) or ``dn``.
    """
    from pix2lst.geo.sources import SceneSource
    from pix2lst.lst_physics import scene_calibrator
    from pix2lst.lst_physics.constants import COMPOSITE_BANDS

    sc = _scene(scene)
    calibrate = scene_calibrator(units)  # type: ignore[arg-type]
    with SceneSource(sc, COMPOSITE_BANDS, calibrate(sc, COMPOSITE_BANDS)) as source:
        values = source.read()
        grid, tags = source.grid, dict(source.tags)
    tags["UNITS"] = units
    return to_dataarray(values, grid, name="composite", attrs=tags, bands=COMPOSITE_BANDS)


def physics_xarray(
    scene: Any,
    *,
    method: str = "planck",
    emissivity: str = "sobrino",
    units: str = "K",
    mask_clouds: bool = False,
) -> Any:
    """Physics LST of a scene as a ``(y, x)`` DataArray, exactly what ``pix2lst physics`` writes.

    Computed by :func:`pix2lst.lst_physics.write_lst` into a temporary GeoTIFF that
    is read back and removed (same values, same tags, same nodata).
    """
    from pix2lst.lst_physics.lst import write_lst

    sc = _scene(scene)
    with tempfile.TemporaryDirectory(prefix="pix2lst-") as tmp:
        path = Path(tmp) / "lst.tif"
        write_lst(
            sc, path, method=method, emissivity=emissivity, units=units,  # type: ignore[arg-type]
            mask_clouds=mask_clouds,
        )  # fmt: skip
        return read_lst_xarray(path)


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


def predict_xarray(scene: Any, predictor: Any = None, *, units: str = "K") -> Any:
    """Model LST of a scene as a ``(y, x)`` DataArray (``predictor``: an
    :class:`~pix2lst.runtime.LSTPredictor`; None builds one with the shipped model)."""
    if predictor is None:
        from pix2lst.runtime.predictor import LSTPredictor

        predictor = LSTPredictor()
    composite = composite_xarray(scene, units=predictor.metadata.input_units)
    return predictor.predict_xarray(composite, units=units)

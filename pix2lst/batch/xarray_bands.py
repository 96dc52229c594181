"""What ``odc.stac.load`` returns for Landsat, as the composite the model takes.

odc-stac loads each asset of a STAC item as a variable of a Dataset, named by the
asset key (``coastal``, ``blue`` ... ``lwir11``, ``qa_pixel``; ``trad`` and the other
``ST_`` products on Level 2), dims ``(time, y, x)``, the DN as stored (uint16), a
``nodata`` attribute, pixel-centre ``x``/``y`` and a ``spatial_ref`` coordinate.
:func:`bands_composite` maps those to the model's bands and calibrates them.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from pix2lst.errors import BandNotFoundError, ImplausibleDataError, ParameterError, SceneError
from pix2lst.geo.inputs import find_scene
from pix2lst.geo.mtl import MtlMetadata, read_mtl
from pix2lst.geo.scene import Scene, is_remote
from pix2lst.geo.stac import COMMON_NAMES
from pix2lst.geo.tags import scene_tags

__all__ = ["acquisition_time", "bands_composite"]

F32 = npt.NDArray[np.float32]


_SCALE = (("scale_factor", "add_offset"), ("scale", "offset"))
_L2_ST_SCALE = 0.00341802
_BAND_TOKEN = {"ST_TRAD": "B10", **{f"SR_B{i}": f"B{i}" for i in range(1, 8)}}


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

"""Write the LST GeoTIFF of a scene: the training target and the physical baseline.

``method="planck"`` (default): the single-channel chain of :mod:`.chain` from
B4, B5, B10 (SR_B4, SR_B5, ST_TRAD on a Level-2 bundle); no atmospheric
correction. ``method="rte"``: the USGS radiative-transfer inversion of :mod:`.rte`
(Level-2 bundles with ST_TRAD/URAD/DRAD/ATRAN/EMIS only).
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal

import numpy as np
from rasterio.windows import Window

from pix2lst.errors import EmptySceneError, ParameterError
from pix2lst.geo.bandfiles import open_bands
from pix2lst.geo.plausible import lst_range_count
from pix2lst.geo.scene import Location, Scene
from pix2lst.geo.stream import (
    Progress,
    gdal_env,
    stream_to_geotiff,
    strip_windows,
)
from pix2lst.geo.tags import product_tags, scene_tags
from pix2lst.geo.units import parse_temperature_units
from pix2lst.geo.writer import check_raster_output
from pix2lst.lst_physics.chain import (
    AVDAN_WARNING,
    Emissivity,
    TempUnits,
    lst_params,
    ndvi_window,
)
from pix2lst.lst_physics.composite import as_scene
from pix2lst.lst_physics.kernels import lst_numba, rte_numba
from pix2lst.lst_physics.qa import cloud_mask
from pix2lst.lst_physics.rte import rte_params, rte_paths

__all__ = ["Method", "lst_input_names", "scene_ndvi_range", "write_lst"]

Method = Literal["planck", "rte"]


def lst_input_names(scene: Scene) -> tuple[str, str, str]:
    """The (red, nir, thermal) band names of the single-channel chain for this scene."""
    return ("SR_B4", "SR_B5", "ST_TRAD") if scene.level == "L2" else ("B4", "B5", "B10")


def scene_ndvi_range(scene: Scene, strip_rows: int = 512) -> tuple[float, float]:
    """NDVI (min, max) over the valid pixels of the whole scene, streamed (for ``avdan``)."""
    names = lst_input_names(scene)[:2]
    lo, hi = math.inf, -math.inf
    with gdal_env(), open_bands({n: scene.band_path(n) for n in names}) as (ds, nodata):
        for w in strip_windows(ds[0].height, ds[0].width, strip_rows):
            v = ndvi_window(ds[0].read(1, window=w), ds[1].read(1, window=w), scene, nodata)
            if np.isfinite(v).any():
                lo, hi = min(lo, float(np.nanmin(v))), max(hi, float(np.nanmax(v)))
    if not lo < hi:
        raise EmptySceneError(
            f"no valid NDVI in scene {scene.root}; cannot scale 'avdan' emissivity"
        )
    return lo, hi


def write_lst(
    scene: Scene | str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    method: Method = "planck",
    emissivity: Emissivity = "sobrino",
    units: TempUnits = "K",
    mask_clouds: bool = False,
    overwrite: bool = False,
    progress: Progress | None = None,
    strip_rows: int = 512,
    cog: bool = False,
    creation_options: Sequence[str] | Mapping[str, str] | None = None,
) -> Path:
    """Compute LST of a scene and write it as a float32 GeoTIFF (K, or degC with ``units="C"``).

    Written by :func:`pix2lst.geo.writer.raster_writer`: band description ``LST``, band
    unit ``K``/``degC``, overviews (or a COG with ``cog=True``), ``creation_options``
    over the default profile, verified before it replaces any existing output; its QGIS
    style beside it (``.qml``, :mod:`pix2lst.geo.qml`).

    Tiled 256 x 256, ZSTD + floating-point predictor, nodata NaN, CRS/transform of
    the inputs, tags recording method, emissivity method, constants, units and scene
    id. NaN where any input band is fill, and (``mask_clouds``) where QA_PIXEL/BQA
    flags fill, cloud, cloud shadow or cirrus. Written atomically; the output path is
    checked before any work. Raises :class:`BandNotFoundError`, :class:`GridMismatchError`,
    :class:`EmptySceneError`, :class:`OutputExistsError`, :class:`OutputNotWritableError`.
    """
    check_raster_output(out, overwrite=overwrite, inputs=[scene])
    unit_name = parse_temperature_units(units)
    if method not in ("planck", "rte"):
        raise ParameterError(f"method must be 'planck' or 'rte', got {method!r}")
    sc = as_scene(scene)
    mtl = sc.mtl
    tags = product_tags(
        "lst", scene_tags(mtl, sc.level), method=method, units=unit_name,
        cloud_mask=str(mask_clouds),
    )  # fmt: skip
    inputs: dict[str, Location] = {}
    n_in: int
    if method == "rte":
        inputs = dict(rte_paths(sc))
        rp = rte_params(sc, units)
        vec = rp.vector()
        n_in = 5
        tags.update(
            EMISSIVITY="ST_EMIS (USGS ASTER GED)", K1=repr(rp.k1), K2=repr(rp.k2),
            EQUATION="T = K2/ln(K1/B + 1), B = ((TRAD - URAD)/ATRAN - (1 - EMIS) DRAD)/EMIS",
            SCALES=f"TRAD/URAD/DRAD {rp.trad_s}, ATRAN {rp.atran_s}, EMIS {rp.emis_s}",
        )  # fmt: skip
    else:
        names = lst_input_names(sc)
        inputs = {n: sc.band_path(n) for n in names}
        n_in = 3
        ndvi_range = None
        if emissivity == "avdan":
            warnings.warn(AVDAN_WARNING, UserWarning, stacklevel=2)
            ndvi_range = scene_ndvi_range(sc, strip_rows)
        p = lst_params(sc, emissivity=emissivity, units=units, ndvi_range=ndvi_range)
        tags.update(
            EMISSIVITY=emissivity, K1=repr(p.k1), K2=repr(p.k2),
            RADIANCE_MULT_B10=repr(p.tir_m), RADIANCE_ADD_B10=repr(p.tir_a),
            LAMBDA_UM=repr(p.lambda_um), RHO_UM_K=repr(p.rho_um_k),
            NDVI_THRESHOLDS=f"{p.ndvi_lo},{p.ndvi_hi}", INPUTS=",".join(names),
            EQUATION="LST = BT/(1 + (lambda BT/rho) ln eps); BT = K2/ln(K1/L + 1)",
            ATMOSPHERIC_CORRECTION="none (top-of-atmosphere brightness temperature)",
        )  # fmt: skip
        if emissivity == "sobrino":
            tags.update(EPS_SOIL=repr(p.eps_soil), EPS_VEG=repr(p.eps_veg),
                        EPS_WATER=repr(p.eps_water), CAVITY_DEPS=repr(p.d_eps))  # fmt: skip
        if sc.level == "L2":
            tags["REFLECTANCE"] = "surface reflectance (SR_B4, SR_B5) for NDVI"
    qa_name = None
    if mask_clouds:
        qa_name, qa_path = sc.quality_band()
        inputs[qa_name] = qa_path
    cache: dict[str, np.ndarray] = {}

    def compute(arrays: list[np.ndarray], nodata: list[float | None], window: Window) -> np.ndarray:
        if method == "rte":
            res = rte_numba(arrays[0], arrays[1], arrays[2], arrays[3], arrays[4], vec)
        else:
            if "p" not in cache:  # band nodata (e.g. int16 -32768) known once files are open
                cache["p"] = lst_params(
                    sc, emissivity=emissivity, units=units, ndvi_range=ndvi_range, nodata=nodata[:3]
                ).vector()
            res = lst_numba(arrays[0], arrays[1], arrays[2], cache["p"])
        if qa_name is not None:
            res[cloud_mask(arrays[n_in], qa_name, mtl.collection)] = np.nan
        return res

    return stream_to_geotiff(
        inputs, out, compute, count=1, descriptions=("LST",), tags=tags,
        band_units=(unit_name,), overwrite=overwrite, strip_rows=strip_rows, progress=progress,
        cog=cog, creation_options=creation_options, protect=[sc],
        check=lst_range_count(unit_name), style=True,
    )  # fmt: skip

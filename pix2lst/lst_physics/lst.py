"""Write the LST GeoTIFF of a scene: the training target and the physical baseline.

``method="planck"`` (default): the single-channel chain of :mod:`.chain` from
B4, B5, B10 (SR_B4, SR_B5, ST_TRAD on a Level-2 bundle); no atmospheric
correction unless an ``atmosphere`` is given. ``method="rte"``: the USGS
radiative-transfer inversion of :mod:`.rte` (Level-2 bundles with
ST_TRAD/URAD/DRAD/ATRAN/EMIS only), with the bundle's own atmosphere by default.

An ``atmosphere`` (:class:`~.atmosphere.AtmosphereSpec`) corrects the single-channel
LST rows with :meth:`~.atmosphere.AtmosphereCorrection.correct_rows`, the kernel
the model's predictions go through too; with ``method="rte"`` and an atmosphere
other than the bundle, the single-channel LST is formed with ST_EMIS, so the
correction inverts with the USGS emissivity.
"""

from __future__ import annotations

import logging
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
from pix2lst.geo.grid import read_grid
from pix2lst.geo.plausible import LST_RANGE_K, lst_range_count
from pix2lst.geo.scene import Location, Scene, is_remote
from pix2lst.geo.stream import (
    Progress,
    gdal_env,
    stream_to_geotiff,
    strip_windows,
)
from pix2lst.geo.tags import product_tags, scene_tags
from pix2lst.geo.units import kelvin_shift, parse_temperature_units
from pix2lst.geo.writer import check_raster_output
from pix2lst.lst_physics.atmosphere import AtmosphereCorrection, AtmosphereSpec
from pix2lst.lst_physics.calibrate import calibrate_composite
from pix2lst.lst_physics.chain import (
    AVDAN_WARNING,
    Emissivity,
    TempUnits,
    lst_params,
    ndvi_window,
)
from pix2lst.lst_physics.composite import as_scene
from pix2lst.lst_physics.constants import L2_AUX_SCALE
from pix2lst.lst_physics.equations import brightness_temperature, single_channel_lst
from pix2lst.lst_physics.kernels import lst_numba, rte_numba
from pix2lst.lst_physics.qa import cloud_mask
from pix2lst.lst_physics.rte import rte_params, rte_paths

__all__ = [
    "Method",
    "lst_input_names",
    "lst_rows",
    "mask_cloud_rows",
    "quality_input",
    "scene_ndvi_range",
    "write_lst",
]

log = logging.getLogger(__name__)

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
    atmosphere: AtmosphereSpec | None = None,
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
    checked before any work. ``atmosphere``: the atmospheric correction (none by
    default; the output's ``ATMOSPHERIC_CORRECTION`` tag and the values or files used
    say what was done). Raises :class:`BandNotFoundError`, :class:`GridMismatchError`,
    :class:`EmptySceneError`, :class:`OutputExistsError`, :class:`OutputNotWritableError`.
    """
    check_raster_output(out, overwrite=overwrite, inputs=[scene])
    unit_name = parse_temperature_units(units)
    if method not in ("planck", "rte"):
        raise ParameterError(f"method must be 'planck' or 'rte', got {method!r}")
    sc = as_scene(scene)
    mtl = sc.mtl
    spec = atmosphere if atmosphere is not None else AtmosphereSpec()
    # method rte already inverts with the bundle's atmosphere: only another one corrects
    correct = spec.applied and not (method == "rte" and spec.source == "bundle")
    tags = product_tags(
        "lst", scene_tags(mtl, sc.level), method=method, units=unit_name,
        cloud_mask=str(mask_clouds),
    )  # fmt: skip
    inputs: dict[str, Location] = {}
    n_in: int
    ndvi_range: tuple[float, float] | None = None
    if method == "rte":
        inputs = dict(rte_paths(sc))
        rp = rte_params(sc, units)
        n_in = 5
        tags.update(
            EMISSIVITY="ST_EMIS (USGS ASTER GED)", K1=repr(rp.k1), K2=repr(rp.k2),
            EQUATION="T = K2/ln(K1/B + 1), B = ((TRAD - URAD)/ATRAN - (1 - EMIS) DRAD)/EMIS",
            SCALES=f"TRAD/URAD/DRAD {rp.trad_s}, ATRAN {rp.atran_s}, EMIS {rp.emis_s}",
            ATMOSPHERIC_CORRECTION="rte", ATMOSPHERE="bundle: the scene's ST_ATRAN, ST_URAD, ST_DRAD",
        )  # fmt: skip
    else:
        names = lst_input_names(sc)
        inputs = {n: sc.band_path(n) for n in names}
        n_in = 3
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
            ATMOSPHERIC_CORRECTION="none",
        )  # fmt: skip
        if emissivity == "sobrino":
            tags.update(EPS_SOIL=repr(p.eps_soil), EPS_VEG=repr(p.eps_veg),
                        EPS_WATER=repr(p.eps_water), CAVITY_DEPS=repr(p.d_eps))  # fmt: skip
        if sc.level == "L2":
            tags["REFLECTANCE"] = "surface reflectance (SR_B4, SR_B5) for NDVI"
    qa_name = quality_input(sc, mask_clouds)
    if qa_name is not None:
        inputs[qa_name] = sc.band_path(qa_name)
    cold_clouds = [0]  # pixels below the LST window under cloud, written as nodata
    cache: dict[str, np.ndarray] = {}
    corr: AtmosphereCorrection | None = None
    if correct:
        corr = spec.open(sc, read_grid(next(iter(inputs.values()))))
        tags.update(corr.tags)
        if method == "rte":
            tags["EQUATION"] = "single-channel LST = BT/(1 + (lambda BT/rho) ln EMIS), corrected"

    def compute(arrays: list[np.ndarray], nodata: list[float | None], window: Window) -> np.ndarray:
        res = lst_rows(
            sc, method, arrays, nodata, int(window.row_off), emissivity=emissivity,
            units=units, ndvi_range=ndvi_range, correction=corr, cache=cache,
        )  # fmt: skip
        if qa_name is not None:
            cold_clouds[0] += mask_cloud_rows(res, arrays[n_in], qa_name, sc, mask_clouds, units)
        return res

    try:
        path = stream_to_geotiff(
            inputs, out, compute, count=1, descriptions=("LST",), tags=tags,
            band_units=(unit_name,), overwrite=overwrite, strip_rows=strip_rows, progress=progress,
            cog=cog, creation_options=creation_options, protect=[sc],
            check=lst_range_count(unit_name), style=True,
        )  # fmt: skip
    finally:
        if corr is not None:
            corr.close()
    if cold_clouds[0]:
        log.warning(
            "%d pixels under cloud (%s) were below %g K, cloud tops rather than land, and "
            "are nodata; --mask-clouds drops every cloud pixel", cold_clouds[0], qa_name,
            LST_RANGE_K[0],
        )  # fmt: skip
    return path


def quality_input(sc: Scene, mask_clouds: bool) -> str | None:
    """The quality band the LST reads: for ``mask_clouds``, and where a local scene has
    one, to tell cloud tops from land (:func:`mask_cloud_rows`); None otherwise (a remote
    scene's MTL names its QA file, which a partial copy may lack: not read unasked)."""
    if mask_clouds:
        return sc.quality_band()[0]
    for name in ("QA_PIXEL", "BQA"):
        if sc.has(name) and not is_remote(sc.band_path(name)):
            return name
    return None


def mask_cloud_rows(
    lst: np.ndarray, qa: np.ndarray, qa_name: str, sc: Scene, mask_clouds: bool, units: TempUnits
) -> int:
    """Set cloud pixels of ``lst`` (K or degC, in place) to NaN: all of them with
    ``mask_clouds``, else those colder than any land surface (below
    :data:`~pix2lst.geo.plausible.LST_RANGE_K`), which are cloud tops. Returns how many
    cold cloud pixels were set (0 with ``mask_clouds``)."""
    cloud = cloud_mask(qa, qa_name, sc.mtl.collection)
    if mask_clouds:
        lst[cloud] = np.nan
        return 0
    with np.errstate(invalid="ignore"):
        cold = cloud & (lst < LST_RANGE_K[0] + kelvin_shift(units))
    lst[cold] = np.nan
    return int(np.count_nonzero(cold))


def lst_rows(
    sc: Scene,
    method: Method,
    arrays: list[np.ndarray],
    nodata: list[float | None],
    start: int,
    *,
    emissivity: Emissivity = "sobrino",
    units: TempUnits = "K",
    ndvi_range: tuple[float, float] | None = None,
    correction: AtmosphereCorrection | None = None,
    cache: dict[str, np.ndarray] | None = None,
) -> np.ndarray:
    """LST (float32, K or degC) of whole-width rows from raster row ``start``.

    ``arrays``: the input bands of ``method`` (:func:`lst_input_names` or the ``rte``
    bands) as read, ``nodata`` their nodata values. The one per-window computation that
    :func:`write_lst` streams and the lazy xarray API runs per chunk; ``cache`` keeps the
    kernel constants between windows of one scene.
    """
    cache = {} if cache is None else cache
    if correction is not None:
        lst, bt = _single_channel_kelvin(sc, method, arrays, nodata, cache, emissivity, ndvi_range)
        correction.correct_rows(lst, bt, start)
        shift = kelvin_shift(units)
        return lst + np.float32(shift) if shift else lst
    if method == "rte":
        if "rte" not in cache:
            cache["rte"] = rte_params(sc, units).vector()
        return rte_numba(arrays[0], arrays[1], arrays[2], arrays[3], arrays[4], cache["rte"])  # type: ignore[no-any-return]
    if "p" not in cache:  # band nodata (e.g. int16 -32768) known once files are open
        cache["p"] = lst_params(
            sc, emissivity=emissivity, units=units, ndvi_range=ndvi_range, nodata=nodata[:3]
        ).vector()
    return lst_numba(arrays[0], arrays[1], arrays[2], cache["p"])  # type: ignore[no-any-return]


def _single_channel_kelvin(
    sc: Scene,
    method: Method,
    arrays: list[np.ndarray],
    nodata: list[float | None],
    cache: dict[str, np.ndarray],
    emissivity: Emissivity,
    ndvi_range: tuple[float, float] | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Single-channel LST and band-10 BT (K, float32) of a strip, for the atmospheric correction.

    ``planck``: the chain's NDVI emissivity (the same kernel as without correction, in K).
    ``rte``: the emissivity is ST_EMIS, so LST = BT / (1 + (lambda BT / rho) ln eps).
    """
    _, _, k1, k2 = sc.mtl.thermal("B10")
    if method == "rte":
        trad, emis = arrays[0], arrays[4]
        rad = trad * L2_AUX_SCALE["ST_TRAD"]
        with np.errstate(divide="ignore", invalid="ignore"):
            bt = np.where(rad > 0, brightness_temperature(rad, k1, k2), np.nan)
        bt = bt.astype(np.float32)
        bad = (trad == -9999) | (emis == -9999) | (emis <= 0)
        eps = np.where(bad, 1.0, emis * L2_AUX_SCALE["ST_EMIS"])
        lst = single_channel_lst(bt, eps)
        lst[bad] = np.nan
        return lst.astype(np.float32), bt
    if "pk" not in cache:
        cache["pk"] = lst_params(
            sc, emissivity=emissivity, units="K", ndvi_range=ndvi_range, nodata=nodata[:3]
        ).vector()
    lst = lst_numba(arrays[0], arrays[1], arrays[2], cache["pk"])
    # BT as the composite the model reads computes it, so physics and model meet exactly
    bt = calibrate_composite(arrays[2][None], ["B10"], sc, "toa", nodata=[nodata[2]])[0]
    return lst, bt

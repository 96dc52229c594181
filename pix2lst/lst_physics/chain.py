"""The single-channel LST chain on windows in memory (equations in :mod:`.kernels`).

B4, B5, B10 DN of one window in, LST (K or degC) out:
DN -> radiance -> BT (K2 / ln(K1/L + 1)); DN -> reflectance -> NDVI -> emissivity
(``sobrino`` default, ``avdan``); LST = BT / (1 + (lambda BT / rho) ln eps).
On a Level-2 scene the inputs are SR_B4, SR_B5 (surface reflectance) and ST_TRAD
(band-10 TOA radiance, 0.001 W/(m2 sr um) per DN), so the result is the same
top-of-atmosphere single-channel estimate, computed from L2 files.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Literal

import numpy as np

from pix2lst.errors import ParameterError
from pix2lst.geo.mtl import MtlMetadata
from pix2lst.geo.scene import Scene
from pix2lst.geo.units import kelvin_shift
from pix2lst.lst_physics.calibrate import Engine, resolve_mtl
from pix2lst.lst_physics.constants import L2_AUX_FILL, L2_AUX_SCALE
from pix2lst.lst_physics.kernels import lst_numba
from pix2lst.lst_physics.params import EMISSIVITY_METHODS, LstParams
from pix2lst.lst_physics.reference import lst_numpy

__all__ = [
    "AVDAN_WARNING",
    "Emissivity",
    "TempUnits",
    "compute_lst",
    "lst_params",
    "ndvi_window",
]

Emissivity = Literal["sobrino", "avdan"]
TempUnits = Literal["K", "C"]
AVDAN_WARNING = (
    "emissivity 'avdan' scales vegetation fraction by the NDVI min/max of the extent it "
    "sees, so results change with the window/tiling; use 'sobrino' for tile-stable LST"
)


def _fill(v: float | None) -> float:
    return math.nan if v is None else float(v)


def lst_params(
    scene_or_mtl: Scene | MtlMetadata,
    *,
    emissivity: Emissivity = "sobrino",
    units: TempUnits = "K",
    ndvi_range: tuple[float, float] | None = None,
    nodata: Sequence[float | None] = (None, None, None),
) -> LstParams:
    """Kernel constants for a scene; ``nodata`` = extra fill DN of (red, nir, tir) inputs.

    ``ndvi_range`` is the scene NDVI (min, max) that ``avdan`` needs.
    """
    if emissivity not in EMISSIVITY_METHODS:
        raise ParameterError(f"emissivity must be one of {EMISSIVITY_METHODS}, got {emissivity!r}")
    mtl, level = resolve_mtl(scene_or_mtl)
    ml, al, k1, k2 = mtl.thermal("B10")
    red_fill, nir_fill, tir_fill = (_fill(v) for v in nodata)
    if level == "L2":
        (rm, ra), (nm, na) = mtl.surface_reflectance("B4"), mtl.surface_reflectance("B5")
        tm, ta = L2_AUX_SCALE["ST_TRAD"], 0.0
        tir_fill = tir_fill if not math.isnan(tir_fill) else float(L2_AUX_FILL)
    else:
        (rm, ra), (nm, na) = mtl.toa_reflectance("B4"), mtl.toa_reflectance("B5")
        tm, ta = ml, al
    extra: dict[str, float] = {}
    if emissivity == "avdan":
        if ndvi_range is None:
            raise ParameterError(
                "emissivity 'avdan' needs the scene NDVI range (ndvi_range=(min, max))"
            )
        extra = {"ndvi_lo": float(ndvi_range[0]), "ndvi_hi": float(ndvi_range[1])}
    return LstParams(
        red_m=rm, red_a=ra, nir_m=nm, nir_a=na, tir_m=tm, tir_a=ta, k1=k1, k2=k2,
        red_fill=red_fill, nir_fill=nir_fill, tir_fill=tir_fill,
        emissivity=EMISSIVITY_METHODS.index(emissivity),
        offset=kelvin_shift(units), **extra,
    )  # fmt: skip


def ndvi_window(
    red: np.ndarray,
    nir: np.ndarray,
    scene_or_mtl: Scene | MtlMetadata,
    nodata: Sequence[float | None] = (None, None),
) -> np.ndarray:
    """NDVI (float32, NaN at fill) of a B4/B5 window (SR_B4/SR_B5 on a Level-2 scene)."""
    p = lst_params(scene_or_mtl, nodata=(*nodata, None))
    r = red.astype(np.float64)
    n = nir.astype(np.float64)
    bad = (r == 0) | (n == 0) | (r == p.red_fill) | (n == p.nir_fill)
    rr, rn = p.red_m * r + p.red_a, p.nir_m * n + p.nir_a
    with np.errstate(divide="ignore", invalid="ignore"):
        v = (rn - rr) / (rn + rr)
    v[bad | ~np.isfinite(v)] = np.nan
    return v.astype(np.float32)


def compute_lst(
    red: np.ndarray,
    nir: np.ndarray,
    tir: np.ndarray,
    scene_or_mtl: Scene | MtlMetadata,
    *,
    emissivity: Emissivity = "sobrino",
    units: TempUnits = "K",
    ndvi_range: tuple[float, float] | None = None,
    nodata: Sequence[float | None] = (None, None, None),
    engine: Engine = "numba",
) -> np.ndarray:
    """Single-channel LST of one window from B4, B5, B10 DN (any dtype); float32 K (or degC).

    NaN where any input is fill (DN 0 or its ``nodata``). With ``emissivity="avdan"``
    and no ``ndvi_range`` the window's own NDVI min/max are used (with a warning:
    not tile-stable).
    """
    if not red.shape == nir.shape == tir.shape:
        raise ParameterError(
            f"B4, B5, B10 windows differ in shape: {red.shape}, {nir.shape}, {tir.shape}"
        )
    if emissivity == "avdan":
        warnings.warn(AVDAN_WARNING, UserWarning, stacklevel=2)
        if ndvi_range is None:
            v = ndvi_window(red, nir, scene_or_mtl, nodata[:2])
            ndvi_range = (
                (float(np.nanmin(v)), float(np.nanmax(v))) if np.isfinite(v).any() else (0, 1)
            )
    p = lst_params(
        scene_or_mtl, emissivity=emissivity, units=units, ndvi_range=ndvi_range, nodata=nodata
    )
    fn = lst_numba if engine == "numba" else lst_numpy
    return fn(red, nir, tir, p.vector())

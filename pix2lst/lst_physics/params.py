"""Kernel parameter vectors: the float64 arrays that the Numba kernels and their numpy twins take.

A flat vector (indexed by the ``P_*``/``R_*`` constants) keeps the kernels'
signatures stable for Numba caching; :class:`LstParams` and :class:`RteParams`
are the typed, validated way to build them.
"""

from __future__ import annotations

import math
from dataclasses import astuple, dataclass

import numpy as np

from pix2lst.errors import ParameterError
from pix2lst.lst_physics import constants as c

__all__ = [
    "EMISSIVITY_METHODS",
    "LstParams",
    "RteParams",
]

EMISSIVITY_METHODS = ("sobrino", "avdan")

# indices into the LST parameter vector (order of LstParams fields)
(
    P_RED_M, P_RED_A, P_NIR_M, P_NIR_A, P_TIR_M, P_TIR_A, P_K1, P_K2,
    P_RED_FILL, P_NIR_FILL, P_TIR_FILL, P_EMIS, P_NDVI_LO, P_NDVI_HI,
    P_EPS_SOIL, P_EPS_VEG, P_EPS_WATER, P_DEPS, P_NDVI_WATER, P_AV_BASE, P_AV_SLOPE,
    P_LAMBDA, P_RHO, P_OFFSET,
) = range(24)  # fmt: skip

# indices into the RTE parameter vector (order of RteParams fields)
(
    R_K1, R_K2, R_TRAD_S, R_URAD_S, R_DRAD_S, R_ATRAN_S, R_EMIS_S, R_FILL, R_OFFSET,
) = range(9)  # fmt: skip


@dataclass(frozen=True)
class LstParams:
    """Constants of the single-channel chain for one scene (see :mod:`.chain` for the equations).

    ``red_m, red_a`` / ``nir_m, nir_a``: reflectance = m*DN + a for B4 / B5 (TOA or
    SR; NDVI is a ratio, so the sun-elevation factor cancels and is not applied).
    ``tir_m, tir_a``: band-10 radiance = m*DN + a in W/(m2 sr um); ``k1`` W/(m2 sr um),
    ``k2`` K. ``*_fill``: extra nodata DN of each input (NaN: none; DN 0 is always fill).
    ``emissivity``: 0 = Sobrino NDVI thresholds ``ndvi_lo``/``ndvi_hi`` (0.2/0.5),
    1 = Avdan with scene NDVI min/max in ``ndvi_lo``/``ndvi_hi``. ``lambda_um`` um,
    ``rho_um_k`` um K; ``offset`` is added to the result (0 for K, -273.15 for degC).
    """

    red_m: float
    red_a: float
    nir_m: float
    nir_a: float
    tir_m: float
    tir_a: float
    k1: float
    k2: float
    red_fill: float = math.nan
    nir_fill: float = math.nan
    tir_fill: float = math.nan
    emissivity: int = 0
    ndvi_lo: float = c.NDVI_SOIL
    ndvi_hi: float = c.NDVI_VEG
    eps_soil: float = c.EPS_SOIL_B10
    eps_veg: float = c.EPS_VEG_B10
    eps_water: float = c.EPS_WATER_B10
    d_eps: float = c.CAVITY_DEPS
    ndvi_water: float = c.NDVI_WATER
    avdan_base: float = c.AVDAN_EPS_BASE
    avdan_slope: float = c.AVDAN_EPS_SLOPE
    lambda_um: float = c.LAMBDA_B10_UM
    rho_um_k: float = c.RHO_UM_K
    offset: float = 0.0

    def __post_init__(self) -> None:
        if self.emissivity not in (0, 1):
            raise ParameterError(
                f"emissivity code must be 0 (sobrino) or 1 (avdan), got {self.emissivity}"
            )
        if not self.ndvi_hi > self.ndvi_lo:
            raise ParameterError(
                f"NDVI range must be increasing, got ndvi_lo={self.ndvi_lo}, ndvi_hi={self.ndvi_hi}"
            )
        if self.k1 <= 0 or self.k2 <= 0 or self.tir_m <= 0:
            raise ParameterError(
                f"thermal constants must be positive (K1={self.k1}, K2={self.k2}, ML={self.tir_m})"
            )

    def vector(self) -> np.ndarray:
        return np.asarray(astuple(self), dtype=np.float64)


@dataclass(frozen=True)
class RteParams:
    """Constants of the USGS radiative-transfer inversion (see :mod:`.rte`).

    ``*_s``: DN -> physical scale of ST_TRAD/URAD/DRAD (W/(m2 sr um) per DN),
    ST_ATRAN and ST_EMIS (unitless per DN); ``k1`` W/(m2 sr um), ``k2`` K; ``fill``
    the aux-band fill DN (-9999); ``offset`` 0 for K, -273.15 for degC.
    """

    k1: float
    k2: float
    trad_s: float = c.L2_AUX_SCALE["ST_TRAD"]
    urad_s: float = c.L2_AUX_SCALE["ST_URAD"]
    drad_s: float = c.L2_AUX_SCALE["ST_DRAD"]
    atran_s: float = c.L2_AUX_SCALE["ST_ATRAN"]
    emis_s: float = c.L2_AUX_SCALE["ST_EMIS"]
    fill: float = float(c.L2_AUX_FILL)
    offset: float = 0.0

    def vector(self) -> np.ndarray:
        return np.asarray(astuple(self), dtype=np.float64)

"""The physics chain as small vectorised numpy functions, one equation each.

These are the readable statement of the chain (units in every docstring); the
fused Numba kernel :func:`~pix2lst.lst_physics.kernels.lst_numba` computes the
same thing in one pass, and the tests hold the two together.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from pix2lst.lst_physics import constants as c

__all__ = [
    "brightness_temperature",
    "emissivity_avdan",
    "emissivity_sobrino",
    "ndvi",
    "radiance",
    "single_channel_lst",
    "toa_reflectance",
    "vegetation_fraction",
]


def radiance(dn: ArrayLike, mult: float, add: float) -> np.ndarray:
    """TOA spectral radiance L = ML * DN + AL, in W/(m2 sr um) (USGS LSDS-1574, eq. 1)."""
    return mult * np.asarray(dn, dtype=np.float64) + add


def brightness_temperature(rad: ArrayLike, k1: float, k2: float) -> np.ndarray:
    """At-sensor brightness temperature BT = K2 / ln(K1 / L + 1), in K (LSDS-1574, eq. 4).

    ``rad`` in W/(m2 sr um); ``k1`` in W/(m2 sr um) and ``k2`` in K from the MTL
    (Landsat-8 B10: 774.8853 / 1321.0789; Landsat-9 B10: 799.0284 / 1329.2405).
    """
    return k2 / np.log(k1 / np.asarray(rad, dtype=np.float64) + 1.0)


def toa_reflectance(dn: ArrayLike, mult: float, add: float, sun_elevation_deg: float) -> np.ndarray:
    """TOA reflectance rho = (Mrho * DN + Arho) / sin(theta_SE), unitless (LSDS-1574, eq. 2-3)."""
    return (mult * np.asarray(dn, dtype=np.float64) + add) / np.sin(np.radians(sun_elevation_deg))


def ndvi(red: ArrayLike, nir: ArrayLike) -> np.ndarray:
    """NDVI = (rho_NIR - rho_red) / (rho_NIR + rho_red) from reflectances of B5 and B4."""
    r, n = np.asarray(red, dtype=np.float64), np.asarray(nir, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return (n - r) / (n + r)


def vegetation_fraction(
    v: ArrayLike, lo: float = c.NDVI_SOIL, hi: float = c.NDVI_VEG
) -> np.ndarray:
    """Proportion of vegetation Pv = clip((NDVI - lo) / (hi - lo), 0, 1)^2 (Carlson & Ripley 1997)."""
    return np.clip((np.asarray(v, dtype=np.float64) - lo) / (hi - lo), 0.0, 1.0) ** 2


def emissivity_sobrino(v: ArrayLike) -> np.ndarray:
    """Band-10 emissivity by the NDVI threshold method (Sobrino et al. 2004, RSE 90:434-440).

    NDVI < 0: water, eps_w = 0.991; otherwise with Pv from thresholds 0.2/0.5
    (:func:`vegetation_fraction`), eps = eps_v Pv + eps_s (1 - Pv) + C with
    eps_s = 0.971, eps_v = 0.987 (TIRS B10) and the cavity term C = 4 d_eps Pv (1 - Pv),
    d_eps = 0.005 (Sobrino et al. 2008). NDVI < 0.2 gives eps_s, NDVI > 0.5 gives eps_v.
    """
    nd = np.asarray(v, dtype=np.float64)
    pv = vegetation_fraction(nd)
    eps = c.EPS_VEG_B10 * pv + c.EPS_SOIL_B10 * (1 - pv) + 4 * c.CAVITY_DEPS * pv * (1 - pv)
    return np.where(nd < c.NDVI_WATER, c.EPS_WATER_B10, eps)


def emissivity_avdan(v: ArrayLike, ndvi_min: float, ndvi_max: float) -> np.ndarray:
    """Emissivity eps = 0.004 Pv + 0.986 with Pv from the scene NDVI min/max (Avdan & Jovanovska 2016).

    Water (NDVI < 0): 0.991. Pv depends on the extent it is computed over, so the
    result changes with the tiling: prefer :func:`emissivity_sobrino`.
    """
    nd = np.asarray(v, dtype=np.float64)
    pv = vegetation_fraction(nd, ndvi_min, ndvi_max)
    return np.where(nd < c.NDVI_WATER, c.EPS_WATER_B10, c.AVDAN_EPS_BASE + c.AVDAN_EPS_SLOPE * pv)


def single_channel_lst(
    bt: ArrayLike,
    eps: ArrayLike,
    lambda_um: float = c.LAMBDA_B10_UM,
    rho_um_k: float = c.RHO_UM_K,
) -> np.ndarray:
    """LST = BT / (1 + (lambda BT / rho) ln eps), in K (Artis & Carnahan 1982).

    ``bt`` in K, ``lambda_um`` the effective wavelength in micrometres (10.895 for
    B10), ``rho_um_k`` = h c / k_B = 14388 um K: both in micrometres, so the ratio
    is dimensionless. BT 300 K, eps 0.97 -> 302.09 K.
    """
    b = np.asarray(bt, dtype=np.float64)
    return b / (1.0 + (lambda_um * b / rho_um_k) * np.log(np.asarray(eps, dtype=np.float64)))

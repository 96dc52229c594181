"""Plain-numpy twins of the Numba kernels in :mod:`pix2lst.lst_physics.kernels`.

Same signatures, same equations, vectorised; used by the tests (kernel vs twin)
and by the benchmarks (Numba vs numpy throughput). float64 inside, float32 out.
"""

from __future__ import annotations

import numpy as np

from pix2lst.lst_physics import params as pp

__all__ = ["calibrate_numpy", "emissivity_numpy", "lst_numpy", "rte_numpy"]


def calibrate_numpy(
    dn: np.ndarray,
    kind: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    k1: np.ndarray,
    k2: np.ndarray,
    fill: np.ndarray,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Numpy twin of :func:`~pix2lst.lst_physics.kernels.calibrate_numba`."""
    res = np.empty(dn.shape, dtype=np.float32) if out is None else out
    for i in range(dn.shape[0]):
        v = dn[i].astype(np.float64)
        bad = (v == 0) | (v == fill[i])
        x = a[i] * v + b[i]
        if kind[i] == 1:
            with np.errstate(divide="ignore", invalid="ignore"):
                x = np.where(x > 0, k2[i] / np.log(k1[i] / np.where(x > 0, x, 1.0) + 1.0), np.nan)
        x[bad] = np.nan
        res[i] = x
    return res


def emissivity_numpy(ndvi: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Emissivity from NDVI: Sobrino thresholds (``p[P_EMIS] == 0``) or Avdan (1); water below 0."""
    pv = np.clip((ndvi - p[pp.P_NDVI_LO]) / (p[pp.P_NDVI_HI] - p[pp.P_NDVI_LO]), 0.0, 1.0) ** 2
    if p[pp.P_EMIS] == 1.0:
        eps = p[pp.P_AV_BASE] + p[pp.P_AV_SLOPE] * pv
    else:
        eps = (
            p[pp.P_EPS_VEG] * pv
            + p[pp.P_EPS_SOIL] * (1.0 - pv)
            + 4.0 * p[pp.P_DEPS] * pv * (1.0 - pv)
        )
    return np.where(ndvi < p[pp.P_NDVI_WATER], p[pp.P_EPS_WATER], eps)


def lst_numpy(
    red: np.ndarray,
    nir: np.ndarray,
    tir: np.ndarray,
    params: np.ndarray,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Numpy twin of :func:`~pix2lst.lst_physics.kernels.lst_numba`."""
    p = np.asarray(params, dtype=np.float64)
    dr, dn, dt = (x.astype(np.float64) for x in (red, nir, tir))
    bad = (dr == 0) | (dn == 0) | (dt == 0)
    bad |= (dr == p[pp.P_RED_FILL]) | (dn == p[pp.P_NIR_FILL]) | (dt == p[pp.P_TIR_FILL])
    rr = p[pp.P_RED_M] * dr + p[pp.P_RED_A]
    rn = p[pp.P_NIR_M] * dn + p[pp.P_NIR_A]
    rad = p[pp.P_TIR_M] * dt + p[pp.P_TIR_A]
    s = rn + rr
    bad |= (rad <= 0) | (s == 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ndvi = (rn - rr) / s
        bt = p[pp.P_K2] / np.log(p[pp.P_K1] / rad + 1.0)
        eps = emissivity_numpy(ndvi, p)
        lst = bt / (1.0 + (p[pp.P_LAMBDA] / p[pp.P_RHO]) * bt * np.log(eps)) + p[pp.P_OFFSET]
    lst[bad] = np.nan
    res = np.empty(tir.shape, dtype=np.float32) if out is None else out
    res[...] = lst
    return res


def rte_numpy(
    trad: np.ndarray,
    urad: np.ndarray,
    drad: np.ndarray,
    atran: np.ndarray,
    emis: np.ndarray,
    params: np.ndarray,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Numpy twin of :func:`~pix2lst.lst_physics.kernels.rte_numba`."""
    p = np.asarray(params, dtype=np.float64)
    t, u, d, a, e = (x.astype(np.float64) for x in (trad, urad, drad, atran, emis))
    fill = p[pp.R_FILL]
    bad = (t == fill) | (u == fill) | (d == fill) | (a == fill) | (e == fill)
    tau = p[pp.R_ATRAN_S] * a
    eps = p[pp.R_EMIS_S] * e
    bad |= (tau <= 0) | (eps <= 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ls = (
            (p[pp.R_TRAD_S] * t - p[pp.R_URAD_S] * u) / tau - (1.0 - eps) * p[pp.R_DRAD_S] * d
        ) / eps
        bad |= ~(ls > 0)
        st = p[pp.R_K2] / np.log(p[pp.R_K1] / ls + 1.0) + p[pp.R_OFFSET]
    st[bad] = np.nan
    res = np.empty(trad.shape, dtype=np.float32) if out is None else out
    res[...] = st
    return res

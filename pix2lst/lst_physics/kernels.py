"""Numba kernels of the physics chain (parallel over rows, ``nogil``, ``fastmath`` off).

Each kernel has a plain-numpy twin of the same signature in
:mod:`pix2lst.lst_physics.reference`; the tests check them against each other
with hypothesis. Arithmetic is float64 inside, float32 out, so kernel and twin
agree to float32 rounding. The kernels work on any window in memory: callers
stream a scene through them strip by strip, so memory does not grow with the scene.

Equations (units: radiance L in W/(m2 sr um), temperatures in K):

* radiance           L = ML * DN + AL                                  (USGS LSDS-1574 eq. 1)
* TOA reflectance    rho = (Mrho * DN + Arho) / sin(sun_elevation)     (LSDS-1574 eq. 2-3)
* brightness temp.   BT = K2 / ln(K1 / L + 1)                          (LSDS-1574 eq. 4)
* NDVI               (rho_nir - rho_red) / (rho_nir + rho_red)
* vegetation frac.   Pv = clip(((NDVI - NDVI_lo) / (NDVI_hi - NDVI_lo))^2, 0, 1)
* emissivity sobrino eps = eps_v Pv + eps_s (1 - Pv) + 4 d_eps Pv (1 - Pv); water (NDVI < 0): eps_w
                     (Sobrino et al. 2004 RSE 90:434; cavity term after Sobrino et al. 2008)
* emissivity avdan   eps = 0.004 Pv + 0.986 with scene NDVI min/max; water: eps_w (Avdan 2016)
* LST                T = BT / (1 + (lambda BT / rho) ln eps)           (Artis & Carnahan 1982)
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from pix2lst.lst_physics import params as pp

__all__ = ["calibrate_numba", "lst_numba", "rte_numba"]

KIND_LINEAR = 0  # out = a * DN + b
KIND_BT = 1  # L = a * DN + b; out = K2 / ln(K1 / L + 1)

_NAN = math.nan


@njit(nogil=True, inline="always", fastmath=False)
def _calibrate_row(dn, kind, a, b, k1, k2, fill, out, idx):  # type: ignore[no-untyped-def]
    """Calibrate row ``idx`` of the flattened ``(band, row)`` index of ``dn``."""
    h, w = dn.shape[1], dn.shape[2]
    i = idx // h
    r = idx - i * h
    ai = a[i]
    bi = b[i]
    fi = fill[i]
    bt = kind[i] == KIND_BT
    k1i = k1[i]
    k2i = k2[i]
    for col in range(w):
        v = dn[i, r, col]
        if v == 0 or v == fi:
            out[i, r, col] = _NAN
            continue
        x = ai * np.float64(v) + bi
        if bt:
            x = k2i / math.log(k1i / x + 1.0) if x > 0.0 else _NAN
        out[i, r, col] = x


@njit(parallel=True, nogil=True, cache=True, fastmath=False)
def _calibrate(dn, kind, a, b, k1, k2, fill, out):  # type: ignore[no-untyped-def]
    for idx in prange(dn.shape[0] * dn.shape[1]):
        _calibrate_row(dn, kind, a, b, k1, k2, fill, out, idx)
    return out


@njit(nogil=True, cache=True, fastmath=False)
def _calibrate_serial(dn, kind, a, b, k1, k2, fill, out):  # type: ignore[no-untyped-def]
    """:func:`_calibrate` on the calling thread alone: for callers that parallelise by
    themselves, such as the runtime's reader thread."""
    for idx in range(dn.shape[0] * dn.shape[1]):
        _calibrate_row(dn, kind, a, b, k1, k2, fill, out, idx)
    return out


def calibrate_numba(
    dn: np.ndarray,
    kind: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    k1: np.ndarray,
    k2: np.ndarray,
    fill: np.ndarray,
    out: np.ndarray | None = None,
    *,
    parallel: bool = True,
) -> np.ndarray:
    """Per-band calibration of a ``(n, h, w)`` DN stack to float32 (Numba).

    Band ``i``: DN 0, DN ``fill[i]`` -> NaN; ``kind[i] == 0``: ``a*DN + b``;
    ``kind[i] == 1``: brightness temperature ``K2 / ln(K1 / (a*DN + b) + 1)`` (NaN if L <= 0).
    ``parallel=False`` runs on the calling thread only (no Numba worker threads).
    """
    if out is None:
        out = np.empty(dn.shape, dtype=np.float32)
    f64 = np.float64
    kernel = _calibrate if parallel else _calibrate_serial
    return kernel(  # type: ignore[no-any-return]
        dn, kind.astype(np.int64), a.astype(f64), b.astype(f64), k1.astype(f64),
        k2.astype(f64), fill.astype(f64), out,
    )  # fmt: skip


@njit(nogil=True, inline="always", fastmath=False)
def _emissivity(ndvi, p):  # type: ignore[no-untyped-def]
    if ndvi < p[pp.P_NDVI_WATER]:
        return p[pp.P_EPS_WATER]
    pv = (ndvi - p[pp.P_NDVI_LO]) / (p[pp.P_NDVI_HI] - p[pp.P_NDVI_LO])
    pv = min(max(pv, 0.0), 1.0)
    pv = pv * pv
    if p[pp.P_EMIS] == 1.0:
        return p[pp.P_AV_BASE] + p[pp.P_AV_SLOPE] * pv
    return (
        p[pp.P_EPS_VEG] * pv + p[pp.P_EPS_SOIL] * (1.0 - pv) + 4.0 * p[pp.P_DEPS] * pv * (1.0 - pv)
    )


@njit(nogil=True, inline="always", fastmath=False)
def _ln_eps(eps):  # type: ignore[no-untyped-def]
    # ln(1 + x) by its Taylor series for |x| <= 0.05 (emissivities 0.95-1): the 8-term
    # remainder |x|^9 / 9 < 2e-13 is far below float32 rounding; math.log elsewhere.
    x = eps - 1.0
    if abs(x) > 0.05:
        return math.log(eps)
    return x * (
        1.0
        - x
        * (
            1.0 / 2
            - x * (1.0 / 3 - x * (1.0 / 4 - x * (1.0 / 5 - x * (1.0 / 6 - x * (1.0 / 7 - x / 8)))))
        )
    )


@njit(nogil=True, inline="always", fastmath=False)
def _lst_pixel(dr, dn, rad, bt, p, c):  # type: ignore[no-untyped-def]
    rr = p[pp.P_RED_M] * np.float64(dr) + p[pp.P_RED_A]
    rn = p[pp.P_NIR_M] * np.float64(dn) + p[pp.P_NIR_A]
    s = rn + rr
    if rad <= 0.0 or s == 0.0:
        return _NAN
    eps = _emissivity((rn - rr) / s, p)
    return bt / (1.0 + c * bt * _ln_eps(eps)) + p[pp.P_OFFSET]


@njit(parallel=True, nogil=True, cache=True, fastmath=False)
def _lst(red, nir, tir, p, out):  # type: ignore[no-untyped-def]
    h, w = tir.shape
    c = p[pp.P_LAMBDA] / p[pp.P_RHO]
    for r in prange(h):
        for col in range(w):
            dr = red[r, col]
            dn = nir[r, col]
            dt = tir[r, col]
            if (
                dr == 0 or dn == 0 or dt == 0
                or dr == p[pp.P_RED_FILL] or dn == p[pp.P_NIR_FILL] or dt == p[pp.P_TIR_FILL]
            ):  # fmt: skip
                out[r, col] = _NAN
                continue
            rad = p[pp.P_TIR_M] * np.float64(dt) + p[pp.P_TIR_A]
            bt = p[pp.P_K2] / math.log(p[pp.P_K1] / rad + 1.0) if rad > 0.0 else _NAN
            out[r, col] = _lst_pixel(dr, dn, rad, bt, p, c)
    return out


@njit(parallel=True, nogil=True, cache=True, fastmath=False)
def _lst_lut(red, nir, tir, p, lut, base, out):  # type: ignore[no-untyped-def]
    # integer thermal DN: radiance and BT looked up (lut[DN - base] = BT, NaN if L <= 0)
    h, w = tir.shape
    c = p[pp.P_LAMBDA] / p[pp.P_RHO]
    for r in prange(h):
        for col in range(w):
            dr = red[r, col]
            dn = nir[r, col]
            dt = tir[r, col]
            if (
                dr == 0 or dn == 0 or dt == 0
                or dr == p[pp.P_RED_FILL] or dn == p[pp.P_NIR_FILL] or dt == p[pp.P_TIR_FILL]
            ):  # fmt: skip
                out[r, col] = _NAN
                continue
            bt = lut[np.int64(dt) - base]
            out[r, col] = _lst_pixel(dr, dn, 1.0 if bt == bt else -1.0, bt, p, c)
    return out


def bt_lut(dtype: np.dtype, params: np.ndarray) -> tuple[np.ndarray, int]:
    """Brightness temperature for every value of a 16-bit integer DN type: ``(lut, base)``.

    ``lut[DN - base] = K2 / ln(K1 / (ML * DN + AL) + 1)`` (NaN where L <= 0).
    """
    info = np.iinfo(dtype)
    dn = np.arange(info.min, info.max + 1, dtype=np.float64)
    rad = params[pp.P_TIR_M] * dn + params[pp.P_TIR_A]
    with np.errstate(divide="ignore", invalid="ignore"):
        lut = np.where(rad > 0, params[pp.P_K2] / np.log(params[pp.P_K1] / rad + 1.0), np.nan)
    return lut, int(info.min)


def lst_numba(
    red: np.ndarray,
    nir: np.ndarray,
    tir: np.ndarray,
    params: np.ndarray,
    out: np.ndarray | None = None,
    lut: bool | None = None,
) -> np.ndarray:
    """Single-channel LST of one window from B4, B5, B10 DN (Numba); float32 K (or degC).

    ``params`` is :meth:`LstParams.vector`. NaN where any input is fill (0 or its
    ``*_fill`` DN), where the band-10 radiance is not positive, or NDVI undefined.
    For 16-bit integer thermal DN, BT comes from a 65,536-entry table (one log per
    possible DN instead of one per pixel) when ``lut`` is true, or by default
    (``None``) when the window is larger than the table; ln(eps) uses a series.
    """
    if out is None:
        out = np.empty(tir.shape, dtype=np.float32)
    p = np.asarray(params, dtype=np.float64)
    if lut is None:
        lut = tir.size > 65536
    if lut and tir.dtype in (np.uint16, np.int16):
        table, base = bt_lut(tir.dtype, p)
        return _lst_lut(red, nir, tir, p, table, base, out)  # type: ignore[no-any-return]
    return _lst(red, nir, tir, p, out)  # type: ignore[no-any-return]


@njit(parallel=True, nogil=True, cache=True, fastmath=False)
def _rte(trad, urad, drad, atran, emis, p, out):  # type: ignore[no-untyped-def]
    h, w = trad.shape
    fill = p[pp.R_FILL]
    for r in prange(h):
        for col in range(w):
            t = trad[r, col]
            u = urad[r, col]
            d = drad[r, col]
            a = atran[r, col]
            e = emis[r, col]
            if t == fill or u == fill or d == fill or a == fill or e == fill:
                out[r, col] = _NAN
                continue
            tau = p[pp.R_ATRAN_S] * np.float64(a)
            eps = p[pp.R_EMIS_S] * np.float64(e)
            if tau <= 0.0 or eps <= 0.0:
                out[r, col] = _NAN
                continue
            lt = p[pp.R_TRAD_S] * np.float64(t)
            lu = p[pp.R_URAD_S] * np.float64(u)
            ld = p[pp.R_DRAD_S] * np.float64(d)
            ls = ((lt - lu) / tau - (1.0 - eps) * ld) / eps
            if ls <= 0.0:
                out[r, col] = _NAN
                continue
            out[r, col] = p[pp.R_K2] / math.log(p[pp.R_K1] / ls + 1.0) + p[pp.R_OFFSET]
    return out


def rte_numba(
    trad: np.ndarray,
    urad: np.ndarray,
    drad: np.ndarray,
    atran: np.ndarray,
    emis: np.ndarray,
    params: np.ndarray,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """USGS radiative-transfer inversion of one window from ST_* DN (Numba); float32 K.

    ``params`` is :meth:`RteParams.vector`. See :mod:`pix2lst.lst_physics.rte`.
    """
    if out is None:
        out = np.empty(trad.shape, dtype=np.float32)
    return _rte(  # type: ignore[no-any-return]
        trad, urad, drad, atran, emis, np.asarray(params, dtype=np.float64), out
    )

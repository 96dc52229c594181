"""The atmospheric correction of single-channel LST, as a Numba kernel and its numpy twin.

Input: rows of a single-channel LST (physics chain or model) and of band 10's
brightness temperature BT, both in kelvin. The emissivity is the one the LST implies
(inverting ``LST = BT / (1 + (lambda BT / rho) ln eps)``, Artis & Carnahan 1982)::

    ln eps = (BT / LST - 1) * rho / (lambda * BT)

``mode`` :data:`MODE_RTE` (radiance transfer, Barsi et al. 2005; LSDS-1619), with
band-10 transmittance tau and up-/down-welling radiance Lu, Ld in W/(m2 sr um)::

    L_toa = K1 / (exp(K2 / BT) - 1)                       (Planck, K1/K2 of the MTL)
    B(Ts) = ((L_toa - Lu) / tau - (1 - eps) Ld) / eps
    Ts    = K2 / ln(K1 / B(Ts) + 1)

``mode`` :data:`MODE_SMW` (statistical mono-window, Ermida et al. 2020, Remote
Sensing 12(9) 1471), with total column water vapour w in g/cm2 selecting the row of
the coefficient table ``coef[k] = (A, B, C)``, ``k = ceil(10 w / 6) - 1`` clipped to
0..9 (bins of 6 kg/m2 = 0.6 g/cm2, as the authors' Earth Engine code bins NCEP TPW)::

    Ts = A * BT / eps + B / eps + C

NaN in any input gives NaN; so does a non-positive tau or surface radiance.
The kernel writes into ``lst`` in place; float64 arithmetic inside.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

__all__ = [
    "MODE_RTE",
    "MODE_SMW",
    "P_K1",
    "P_K2",
    "P_LAMBDA",
    "P_MODE",
    "P_RHO",
    "correct_numba",
    "correct_numpy",
]

MODE_RTE = 0
MODE_SMW = 1
# indices into the parameter vector
P_K1, P_K2, P_LAMBDA, P_RHO, P_MODE = range(5)

_NAN = math.nan


@njit(nogil=True, inline="always", fastmath=False)
def _smw_bin(w):  # type: ignore[no-untyped-def]
    k = math.ceil(w * 10.0 / 6.0) - 1
    return min(max(k, 0), 9)


@njit(parallel=True, nogil=True, cache=True, fastmath=False)
def _correct(lst, bt, a0, a1, a2, p, coef):  # type: ignore[no-untyped-def]
    h, w = lst.shape
    k1 = p[P_K1]
    k2 = p[P_K2]
    c = p[P_LAMBDA] / p[P_RHO]
    smw = p[P_MODE] == MODE_SMW
    for r in prange(h):
        for col in range(w):
            t = np.float64(lst[r, col])
            b = np.float64(bt[r, col])
            if not (t > 0.0 and b > 0.0):
                lst[r, col] = _NAN
                continue
            eps = math.exp((b / t - 1.0) / (c * b))
            if smw:
                wv = np.float64(a0[r, col])
                if not wv >= 0.0:
                    lst[r, col] = _NAN
                    continue
                k = _smw_bin(wv)
                lst[r, col] = coef[k, 0] * b / eps + coef[k, 1] / eps + coef[k, 2]
                continue
            tau = np.float64(a0[r, col])
            lu = np.float64(a1[r, col])
            ld = np.float64(a2[r, col])
            if not (tau > 0.0) or lu != lu or ld != ld:
                lst[r, col] = _NAN
                continue
            ltoa = k1 / (math.exp(k2 / b) - 1.0)
            bs = ((ltoa - lu) / tau - (1.0 - eps) * ld) / eps
            lst[r, col] = k2 / math.log(k1 / bs + 1.0) if bs > 0.0 else _NAN


def correct_numba(
    lst: np.ndarray,
    bt: np.ndarray,
    a0: np.ndarray,
    a1: np.ndarray,
    a2: np.ndarray,
    params: np.ndarray,
    coef: np.ndarray,
) -> None:
    """Correct ``lst`` (float32 ``(n, w)``, K) in place (Numba, parallel over rows).

    ``a0, a1, a2``: tau, Lu, Ld (mode RTE) or water vapour g/cm2 and two unused
    arrays (mode SMW), each ``(n, w)`` or broadcast to it. ``params``: K1, K2,
    lambda (um), rho (um K), mode. ``coef``: the ``(10, 3)`` SMW table (any for RTE).
    """
    _correct(
        lst, bt, a0, a1, a2, np.asarray(params, dtype=np.float64),
        np.ascontiguousarray(coef, dtype=np.float64),
    )  # fmt: skip


def correct_numpy(
    lst: np.ndarray,
    bt: np.ndarray,
    a0: np.ndarray,
    a1: np.ndarray,
    a2: np.ndarray,
    params: np.ndarray,
    coef: np.ndarray,
) -> None:
    """Plain-numpy twin of :func:`correct_numba` (same arguments, same result)."""
    p = np.asarray(params, dtype=np.float64)
    t = lst.astype(np.float64)
    b = bt.astype(np.float64)
    k1, k2 = p[P_K1], p[P_K2]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        bad = ~((t > 0) & (b > 0))
        eps = np.exp((b / t - 1.0) / ((p[P_LAMBDA] / p[P_RHO]) * b))
        if p[P_MODE] == MODE_SMW:
            wv = np.broadcast_to(a0, t.shape).astype(np.float64)
            bad |= ~(wv >= 0)
            k = np.clip(np.ceil(np.where(bad, 0.0, wv) * 10.0 / 6.0) - 1, 0, 9).astype(np.int64)
            cf = np.asarray(coef, dtype=np.float64)[k]
            res = cf[..., 0] * b / eps + cf[..., 1] / eps + cf[..., 2]
        else:
            tau, lu, ld = (np.broadcast_to(x, t.shape).astype(np.float64) for x in (a0, a1, a2))
            bad |= ~(tau > 0) | np.isnan(lu) | np.isnan(ld)
            ltoa = k1 / (np.exp(k2 / b) - 1.0)
            bs = ((ltoa - lu) / tau - (1.0 - eps) * ld) / eps
            bad |= ~(bs > 0)
            res = k2 / np.log(k1 / bs + 1.0)
    res[bad] = np.nan
    lst[...] = res

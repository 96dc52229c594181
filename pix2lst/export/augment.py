"""Physics-consistent augmentations for models that predict LST - BT.

Two per-tile transforms keep every training pair an exact output of the
physics chain, so the network can be shown surfaces and temperatures its few
training scenes lack:

- :class:`ThermalShift`: the same surface at another temperature (below).
- :class:`SpectralJitter`: the same temperature over other surfaces: random
  reflectance gains change NDVI, and the target is recomputed from the new
  NDVI with the Sobrino emissivity (:func:`~pix2lst.lst_physics.equations.emissivity_sobrino`).
  It is only valid when the targets are that chain's LST of the same bands;
  :func:`check_sobrino_targets` verifies it before training.

ThermalShift:

The targets come from the single-channel equation (Artis & Carnahan 1982)
``LST = BT / (1 + (lambda BT / rho) ln eps)``. For every pixel of a training pair
the emissivity term follows from the pair itself,
``ln eps = (BT / LST - 1) / ((lambda / rho) BT)``, so the same surface can be
shown to the network at another temperature: ``BT' = BT + delta`` (one random
``delta`` per tile) and ``LST' = BT' / (1 + (lambda BT' / rho) ln eps)``. The
reflectance bands are unchanged. This teaches the temperature dependence of the
correction across the whole range instead of only the training scenes' range
(two winter/arctic scenes would otherwise never show warm water or hot soil).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pix2lst.errors import DatasetError
from pix2lst.lst_physics.constants import LAMBDA_B10_UM, RHO_UM_K
from pix2lst.lst_physics.equations import emissivity_sobrino, ndvi, single_channel_lst

__all__ = ["SpectralJitter", "ThermalShift", "check_sobrino_targets"]


@dataclass(frozen=True)
class ThermalShift:
    """Shift BT by ``delta`` K per tile and recompute LST - BT; works on normalised arrays.

    ``band`` is the BT channel; ``in_scale``/``in_offset`` its input normalisation,
    ``out_scale``/``out_offset`` the target de-normalisation (``y_k = y * scale + offset``).
    ``delta`` is drawn uniformly from ``(low, high)``, narrowed so that the tile's
    BT stays in ``bt_range``; applied with probability ``p``.
    """

    band: int
    in_scale: float
    in_offset: float
    out_scale: float
    out_offset: float
    low: float = -30.0
    high: float = 50.0
    bt_range: tuple[float, float] = (240.0, 335.0)
    p: float = 0.5

    def __post_init__(self) -> None:
        if not self.low <= self.high or not 0.0 <= self.p <= 1.0:
            raise DatasetError(f"thermal shift needs low <= high and 0 <= p <= 1, got {self}")

    def __call__(
        self, x: np.ndarray, y: np.ndarray, valid: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """Augment one tile: ``x`` (C, H, W), ``y`` (1, H, W) normalised, ``valid`` (1, H, W)."""
        if rng.random() >= self.p or not valid.any():
            return x, y
        bt = (x[self.band] - self.in_offset) / self.in_scale
        lst = bt + (y[0] * self.out_scale + self.out_offset)
        v = valid[0]
        lo = max(self.low, self.bt_range[0] - float(bt[v].min()))
        hi = min(self.high, self.bt_range[1] - float(bt[v].max()))
        if lo > hi:
            return x, y
        delta = float(rng.uniform(lo, hi))
        k = LAMBDA_B10_UM / RHO_UM_K
        bt = bt.astype(np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            ln_eps = np.where(v, (bt / lst - 1.0) / (k * bt), 0.0)
        bt2 = bt + delta
        lst2 = bt2 / (1.0 + k * bt2 * ln_eps)
        x = x.copy()
        x[self.band] = np.where(v, bt2 * self.in_scale + self.in_offset, x[self.band])
        y2 = ((lst2 - bt2) - self.out_offset) / self.out_scale
        return x, np.where(v, y2, y[0])[None].astype(np.float32)


def _sobrino_correction(red: np.ndarray, nir: np.ndarray, bt: np.ndarray) -> np.ndarray:
    """LST - BT (K) of the single-channel chain with Sobrino emissivity, float64."""
    return single_channel_lst(bt, emissivity_sobrino(ndvi(red, nir))) - bt


def check_sobrino_targets(
    red: np.ndarray, nir: np.ndarray, bt: np.ndarray, lst: np.ndarray, *, tol_k: float = 0.05
) -> float:
    """Largest |target - Sobrino chain LST| (K) over pixels valid in all inputs.

    Raises :class:`DatasetError` when it exceeds ``tol_k``: the targets then come
    from another method (Avdan, the USGS RTE, a cloud mask...) and recomputing
    them after a spectral change would teach the network a different physics.
    """
    red, nir, bt, lst = (np.asarray(a, dtype=np.float64) for a in (red, nir, bt, lst))
    corr = _sobrino_correction(red, nir, bt)
    diff = np.abs(bt + corr - lst)
    ok = np.isfinite(diff)
    worst = float(diff[ok].max()) if ok.any() else 0.0
    if worst > tol_k:
        raise DatasetError(
            f"spectral augmentation needs targets that are the Sobrino single-channel LST of "
            f"the tiles' own B4/B5/B10 (pix2lst physics --emissivity sobrino, no cloud mask); "
            f"these differ from it by up to {worst:.3f} K (> {tol_k} K). "
            "Turn the spectral augmentation off for these targets."
        )
    return worst


@dataclass(frozen=True)
class SpectralJitter:
    """Random reflectance gains per tile, with LST - BT recomputed from the new NDVI.

    Channels ``reflectance`` (indices into ``x``) are multiplied by one tile-wide
    gain drawn log-uniformly from ``brightness`` times a per-band gain from
    ``band_gain`` and clipped to ``clip``; NDVI follows from the new ``red`` and
    ``nir`` channels, the emissivity from NDVI (Sobrino), and the target is the
    single-channel correction at the tile's unchanged BT (channel ``bt``). Dark
    open water, bare soil and the NDVI = 0 water/soil step all appear this way
    even when the training scenes have little of them. ``in_scale``/``in_offset``
    are the input normalisation of every channel; ``out_scale``/``out_offset``
    the target's (``y_k = y * scale + offset``). Applied with probability ``p``.
    """

    reflectance: tuple[int, ...]
    red: int
    nir: int
    bt: int
    in_scale: tuple[float, ...]
    in_offset: tuple[float, ...]
    out_scale: float
    out_offset: float
    brightness: tuple[float, float] = (0.1, 2.0)
    band_gain: tuple[float, float] = (0.5, 2.0)
    clip: tuple[float, float] = (1e-4, 1.2)
    p: float = 0.5

    def __post_init__(self) -> None:
        ok = (
            0.0 < self.brightness[0] <= self.brightness[1]
            and 0.0 < self.band_gain[0] <= self.band_gain[1]
            and 0.0 < self.clip[0] < self.clip[1]
            and 0.0 <= self.p <= 1.0
            and {self.red, self.nir} <= set(self.reflectance)
            and self.bt not in self.reflectance
        )
        if not ok:
            raise DatasetError(
                "spectral jitter needs positive gain ranges (low <= high), 0 < clip low < clip high, "
                f"0 <= p <= 1, red and nir among the reflectance channels, BT not; got {self}"
            )

    def __call__(
        self, x: np.ndarray, y: np.ndarray, valid: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """Augment one tile: ``x`` (C, H, W), ``y`` (1, H, W) normalised, ``valid`` (1, H, W)."""
        if rng.random() >= self.p or not valid.any():
            return x, y
        v = valid[0]
        lb, hb = np.log(self.brightness)
        lg, hg = np.log(self.band_gain)
        common = np.exp(rng.uniform(lb, hb))
        x = x.copy()
        refl: dict[int, np.ndarray] = {}
        for c in self.reflectance:
            r = (x[c].astype(np.float64) - self.in_offset[c]) / self.in_scale[c]
            r = np.clip(r * common * np.exp(rng.uniform(lg, hg)), *self.clip)
            refl[c] = r
            x[c] = np.where(v, r * self.in_scale[c] + self.in_offset[c], x[c])
        bt = (x[self.bt].astype(np.float64) - self.in_offset[self.bt]) / self.in_scale[self.bt]
        corr = _sobrino_correction(refl[self.red], refl[self.nir], bt)
        ok = v & np.isfinite(corr)
        y2 = np.where(ok, (corr - self.out_offset) / self.out_scale, y[0])
        return x, y2[None].astype(np.float32)

"""Physics-consistent temperature augmentation for models that predict LST - BT.

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

__all__ = ["ThermalShift"]


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

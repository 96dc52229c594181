"""Normalisation of inputs and targets, as stored with the model (numpy only).

Inputs, per band: ``x_norm = x * scale + offset`` (the convention of
:class:`pix2lst.runtime.metadata.ModelMetadata`). Two ways to get the constants:

* ``"minmax"``: the band's minimum and maximum over the training split map to
  -1 and +1 (what arcgis.learn's Pix2Pix does with its image statistics);
* ``"fixed"``: fixed physical ranges that do not depend on the training scenes:
  reflectance 0..1 and brightness temperature 240..340 K map to -1..+1.

Targets: ``"lst"`` (LST in K) or ``"lst_minus_bt"`` (LST minus the B10
brightness temperature, K). The target range ``(lo, hi)`` maps to -1..+1, either
fixed (recommended: a tanh generator cannot leave the range it was trained on)
or the training split's min/max.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from pix2lst.errors import DatasetError

__all__ = [
    "FIXED_INPUT_RANGES",
    "FIXED_TARGET_RANGES",
    "BandStats",
    "Normalisation",
    "band_stats",
]

FIXED_INPUT_RANGES: dict[str, tuple[float, float]] = {
    **{f"B{i}": (0.0, 1.0) for i in range(1, 8)},
    "B10": (240.0, 340.0),
    "B11": (240.0, 340.0),
}
"""Physical ranges mapped to -1..+1 by the ``"fixed"`` input normalisation."""

FIXED_TARGET_RANGES: dict[str, tuple[float, float]] = {
    "lst": (240.0, 340.0),
    "lst_minus_bt": (-2.0, 8.0),
}
"""Default fixed target ranges in kelvin (LST; LST - BT)."""


@dataclass(frozen=True)
class BandStats:
    """Per-band statistics over valid pixels of the training split."""

    minimum: tuple[float, ...]
    maximum: tuple[float, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]


def band_stats(stack: np.ndarray) -> BandStats:
    """Statistics of ``stack`` (N, C, H, W) per channel, NaN pixels ignored."""
    if stack.ndim != 4 or stack.shape[0] == 0:
        raise DatasetError(f"need a non-empty (N, C, H, W) stack, got shape {stack.shape}")
    flat = np.moveaxis(stack, 1, 0).reshape(stack.shape[1], -1).astype(np.float64)
    if not np.isfinite(flat).any(axis=1).all():
        raise DatasetError("a band has no valid pixel in the training split")
    return BandStats(
        tuple(float(v) for v in np.nanmin(flat, axis=1)),
        tuple(float(v) for v in np.nanmax(flat, axis=1)),
        tuple(float(v) for v in np.nanmean(flat, axis=1)),
        tuple(float(v) for v in np.nanstd(flat, axis=1)),
    )


def _affine(lo: float, hi: float) -> tuple[float, float]:
    if not hi > lo:
        raise DatasetError(f"normalisation range needs max > min, got ({lo}, {hi})")
    scale = 2.0 / (hi - lo)
    return scale, -1.0 - lo * scale


@dataclass(frozen=True)
class Normalisation:
    """Input and target normalisation of one model."""

    bands: tuple[str, ...]
    input_scale: tuple[float, ...]
    input_offset: tuple[float, ...]
    target: str
    target_range: tuple[float, float]
    residual_band: str | None = None

    def __post_init__(self) -> None:
        if len(self.input_scale) != len(self.bands) or len(self.input_offset) != len(self.bands):
            raise DatasetError("one input scale and offset per band are needed")
        if self.target not in FIXED_TARGET_RANGES:
            raise DatasetError(f"target must be 'lst' or 'lst_minus_bt', not {self.target!r}")
        if self.target == "lst_minus_bt" and self.residual_band not in self.bands:
            raise DatasetError(
                f"target lst_minus_bt needs the brightness-temperature band among the inputs "
                f"(residual_band {self.residual_band!r}, bands {list(self.bands)})"
            )
        _affine(*self.target_range)

    @classmethod
    def build(
        cls,
        bands: Sequence[str],
        *,
        input_norm: str,
        stats: BandStats | None,
        target: str,
        target_range: tuple[float, float] | None,
        target_stats: BandStats | None = None,
        residual_band: str = "B10",
    ) -> Normalisation:
        """Constants from ``input_norm`` ("minmax" needs ``stats``; "fixed") and the target."""
        bands = tuple(bands)
        if input_norm == "fixed":
            missing = [b for b in bands if b not in FIXED_INPUT_RANGES]
            if missing:
                raise DatasetError(f"no fixed physical range for bands {missing}; use minmax")
            pairs = [_affine(*FIXED_INPUT_RANGES[b]) for b in bands]
        elif input_norm == "minmax":
            if stats is None:
                raise DatasetError("minmax input normalisation needs training statistics")
            pairs = [_affine(lo, hi) for lo, hi in zip(stats.minimum, stats.maximum, strict=True)]
        else:
            raise DatasetError(f"input_norm must be 'minmax' or 'fixed', not {input_norm!r}")
        if target_range is None:
            if target_stats is None:
                raise DatasetError("a target range or the training target statistics are needed")
            target_range = (target_stats.minimum[0], target_stats.maximum[0])
        return cls(
            bands=bands,
            input_scale=tuple(p[0] for p in pairs),
            input_offset=tuple(p[1] for p in pairs),
            target=target,
            target_range=(float(target_range[0]), float(target_range[1])),
            residual_band=residual_band if target == "lst_minus_bt" else None,
        )

    # -- conversions ---------------------------------------------------------
    @property
    def output_scale(self) -> float:
        lo, hi = self.target_range
        return (hi - lo) / 2.0

    @property
    def output_offset(self) -> float:
        lo, hi = self.target_range
        return (hi + lo) / 2.0

    def normalise_input(self, x: np.ndarray) -> np.ndarray:
        """(.., C, H, W) composite -> normalised float32; NaN stays NaN."""
        scale = np.asarray(self.input_scale, np.float32)[:, None, None]
        offset = np.asarray(self.input_offset, np.float32)[:, None, None]
        return (x * scale + offset).astype(np.float32)

    def residual_bt(self, x: np.ndarray) -> np.ndarray:
        """The un-normalised brightness temperature (.., H, W) a residual target is added to."""
        if self.residual_band is None:
            raise DatasetError("this model does not predict a residual")
        return x[..., self.bands.index(self.residual_band), :, :]

    def target_from_lst(self, lst: np.ndarray, x: np.ndarray) -> np.ndarray:
        """LST (.., H, W) in K -> normalised target, given the raw composite x (.., C, H, W)."""
        y = lst - self.residual_bt(x) if self.target == "lst_minus_bt" else lst
        return ((y - self.output_offset) / self.output_scale).astype(np.float32)

    def lst_from_output(self, y_norm: np.ndarray, x: np.ndarray) -> np.ndarray:
        """Normalised network output (.., H, W) -> LST in K."""
        y = y_norm * self.output_scale + self.output_offset
        if self.target == "lst_minus_bt":
            y = y + self.residual_bt(x)
        return y.astype(np.float32)

"""The calibration hook of scene sources: the physics chain's arithmetic, fast.

:func:`scene_calibrator` plugs into :func:`pix2lst.geo.sources.open_source` (the
``calibrate`` hook; the runtime, the composite reader and the xarray API use it) and
gives bit for bit the same float32 values as
:func:`~pix2lst.lst_physics.calibrate.calibrate_composite` (the tests say so), from the
same constants (:func:`~pix2lst.lst_physics.calibrate.calibration_table`). What
differs is the cost: brightness temperature ``K2 / ln(K1 / (a DN + b) + 1)`` takes a
logarithm per pixel that does not vectorise, about half of the calibration time of a
scene; but a Landsat DN has at most 65,536 values, so a table of the BT of every DN,
computed once per scene with the same float64 formula, turns it into a lookup.
Reflectance bands (``a DN + b``) are computed, branch-free, as before. Other DN
types (wider than 16 bits, or floating point) go to ``calibrate_composite``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numba import njit

from pix2lst.geo.scene import Scene
from pix2lst.geo.sources import Calibrate
from pix2lst.lst_physics.calibrate import Units, calibrate_composite, calibration_table
from pix2lst.lst_physics.kernels import KIND_BT

__all__ = ["SceneCalibration", "bt_tables", "calibrate_rows", "scene_calibrator"]


@njit(nogil=True, cache=True)
def bt_tables(kind, a, b, k1, k2, fill, lo, size):  # type: ignore[no-untyped-def]
    """``(n_bands, size)`` float32: calibrated value of DN ``lo + j`` for each BT band
    (``kind == KIND_BT``), NaN for fill DN (0, ``fill``) and radiance <= 0."""
    n = kind.shape[0]
    out = np.full((n, size), np.nan, dtype=np.float32)
    for i in range(n):
        if kind[i] != KIND_BT:
            continue
        for j in range(size):
            v = lo + j
            if v == 0 or v == fill[i]:
                continue
            x = a[i] * np.float64(v) + b[i]
            if x > 0.0:
                out[i, j] = k2[i] / math.log(k1[i] / x + 1.0)
    return out


@njit(nogil=True, cache=True)
def calibrate_rows(dn, kind, a, b, fill, tables, lo, out):  # type: ignore[no-untyped-def]
    """``out = calibrate_composite(dn)`` for integer DN: BT bands by table, others computed."""
    n_bands, n_rows, width = dn.shape
    nan = np.float32(np.nan)
    for i in range(n_bands):
        ai = a[i]
        bi = b[i]
        fi = fill[i]
        table = tables[i]
        for r in range(n_rows):
            src = dn[i, r]
            dst = out[i, r]
            if kind[i] == KIND_BT:
                for c in range(width):
                    dst[c] = table[np.int64(src[c]) - lo]
            else:
                for c in range(width):  # branch-free: vectorises
                    v = src[c]
                    x = np.float32(ai * np.float64(v) + bi)
                    dst[c] = nan if (v == 0) | (v == fi) else x
    return out


class SceneCalibration:
    """One scene's calibration hook: ``calibrate(dn, nodata, out)`` and its DN tables.

    Calling it turns DN ``(n, h, w)`` of ``bands`` into calibrated float32 (NaN where
    the DN is fill). :meth:`table` gives the same values for every DN of an
    unsigned 8/16-bit type at once, computed by the same kernel, so a lookup in it
    is bit for bit the call (the runtime turns DN into model input that way).
    """

    def __init__(self, scene: Scene, bands: Sequence[str], units: Units) -> None:
        self.scene, self.bands, self.units = scene, tuple(bands), units
        calibration_table(self.bands, scene, units)  # a band it cannot calibrate fails here
        self._cache: dict[tuple[Any, ...], tuple[Any, ...]] = {}

    def _constants(self, dtype: np.dtype[Any], nodata: Sequence[float | None]) -> tuple[Any, ...]:
        key = (dtype.str, tuple(nodata))
        if key not in self._cache:
            t = calibration_table(self.bands, self.scene, self.units, nodata)
            f64 = np.float64
            lo = int(np.iinfo(dtype).min)
            size = int(np.iinfo(dtype).max) - lo + 1
            kind = t.kind.astype(np.int64)
            fill = t.fill.astype(f64)
            tables = bt_tables(kind, t.a.astype(f64), t.b.astype(f64), t.k1.astype(f64),
                               t.k2.astype(f64), fill, lo, size)  # fmt: skip
            self._cache[key] = (kind, t.a.astype(f64), t.b.astype(f64), fill, tables, lo)
        return self._cache[key]

    def __call__(
        self, dn: np.ndarray, nodata: Sequence[float | None], out: np.ndarray | None
    ) -> np.ndarray:
        dtype = np.dtype(dn.dtype)
        if dtype.kind not in "ui" or dtype.itemsize > 2 or dn.ndim != 3:
            return calibrate_composite(
                dn, self.bands, self.scene, self.units, nodata=nodata, out=out, parallel=False
            )
        if out is None:
            out = np.empty(dn.shape, dtype=np.float32)
        return calibrate_rows(dn, *self._constants(dtype, nodata), out)  # type: ignore[no-any-return,call-arg]

    def table(self, dtype: Any, nodata: Sequence[float | None]) -> np.ndarray | None:
        """``(n_bands, 2**bits)`` float32: the calibrated value of every DN of ``dtype``
        (NaN for fill), for unsigned 8/16-bit DN; None for other types."""
        dtype = np.dtype(dtype)
        if dtype.kind != "u" or dtype.itemsize > 2:
            return None
        every = np.arange(1 << (8 * dtype.itemsize), dtype=dtype)
        dn = np.broadcast_to(every, (len(self.bands), 1, every.size))
        return self(dn, nodata, None)[:, 0]


def scene_calibrator(units: Units = "toa") -> Callable[[Scene, Sequence[str]], Calibrate]:
    """The ``calibrate`` hook of :func:`~pix2lst.geo.sources.open_source` for ``units``."""

    def for_scene(scene: Scene, bands: Sequence[str]) -> Calibrate:
        return SceneCalibration(scene, bands, units)

    return for_scene

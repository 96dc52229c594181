"""The 8-band composite calibration, callable on any window in memory.

``toa`` (default): B1-B7 TOA reflectance with the sun-elevation correction
``rho = (Mrho * DN + Arho) / sin(sun_elevation)`` (unitless; USGS LSDS-1574 eq. 2-3)
and B10 brightness temperature ``BT = K2 / ln(K1 / (ML * DN + AL) + 1)`` in kelvin
(eq. 1 and 4), every constant from the MTL, so that one model serves Landsat-8
and -9 and every collection. ``dn``: the raw DN as float32 (the notebook's stack).

Level-2 bundles have no L1 DN. There B1-B7 are *surface* reflectance
``SR = DN * 2.75e-5 - 0.2`` (not TOA; no sun-elevation division, it is already
surface reflectance) and B10 comes from ``ST_TRAD`` (TOA band-10 radiance,
``L = DN * 0.001``), converted to BT with the MTL's K1/K2. With ``units="dn"``
B10 is the L1 DN rebuilt as ``(L - AL) / ML`` (not rounded).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from pix2lst.errors import ParameterError, SceneError
from pix2lst.geo.mtl import MtlMetadata
from pix2lst.geo.scene import Scene
from pix2lst.lst_physics.constants import L2_AUX_FILL, L2_AUX_SCALE
from pix2lst.lst_physics.kernels import KIND_BT, calibrate_numba
from pix2lst.lst_physics.reference import calibrate_numpy

__all__ = ["CalibrationTable", "Engine", "calibrate_composite", "calibration_table", "resolve_mtl"]

Units = Literal["toa", "dn"]
Engine = Literal["numba", "numpy"]
_THERMAL = ("B10", "B11")


def resolve_mtl(scene_or_mtl: Scene | MtlMetadata) -> tuple[MtlMetadata, Literal["L1", "L2"]]:
    """``(mtl, level)`` of a :class:`Scene` (its discovered level) or an :class:`MtlMetadata`."""
    if isinstance(scene_or_mtl, Scene):
        return scene_or_mtl.mtl, scene_or_mtl.level
    if isinstance(scene_or_mtl, MtlMetadata):
        return scene_or_mtl, scene_or_mtl.level
    raise ParameterError(f"expected a Scene or MtlMetadata, got {type(scene_or_mtl).__name__}")


@dataclass(frozen=True, eq=False)
class CalibrationTable:
    """Per-band kernel constants (see :func:`~pix2lst.lst_physics.kernels.calibrate_numba`)."""

    kind: np.ndarray
    a: np.ndarray
    b: np.ndarray
    k1: np.ndarray
    k2: np.ndarray
    fill: np.ndarray
    units: tuple[str, ...]


def calibration_table(
    band_names: Sequence[str],
    scene_or_mtl: Scene | MtlMetadata,
    units: Units = "toa",
    nodata: Sequence[float | None] | None = None,
) -> CalibrationTable:
    """Kernel constants to calibrate ``band_names`` (e.g. ``COMPOSITE_BANDS``) of a scene."""
    if units not in ("toa", "dn"):
        raise SceneError(f"units must be 'toa' or 'dn', got {units!r}")
    mtl, level = resolve_mtl(scene_or_mtl)
    n = len(band_names)
    if nodata is not None and len(nodata) != n:
        raise SceneError(f"{len(nodata)} nodata values for {n} bands")
    kind = np.zeros(n, np.int64)
    a, b = np.ones(n), np.zeros(n)
    k1, k2 = np.ones(n), np.ones(n)
    fill = np.full(n, math.nan)
    unit_names = []
    inv_sin = 1.0 / math.sin(math.radians(mtl.sun_elevation))
    for i, raw in enumerate(band_names):
        name = raw.upper()
        nd = None if nodata is None else nodata[i]
        if nd is not None and not math.isnan(nd):
            fill[i] = nd
        thermal = name in _THERMAL
        if level == "L2" and thermal:
            fill[i] = fill[i] if nd is not None else L2_AUX_FILL
            scale = L2_AUX_SCALE["ST_TRAD"]
            ml, al, k1[i], k2[i] = mtl.thermal(name)
            if units == "dn":
                a[i], b[i] = scale / ml, -al / ml
                unit_names.append("DN (L1, rebuilt from ST_TRAD)")
            else:
                kind[i], a[i], b[i] = KIND_BT, scale, 0.0
                unit_names.append("K (brightness temperature from ST_TRAD)")
        elif units == "dn":
            unit_names.append("DN (SR)" if level == "L2" else "DN")
        elif thermal:
            kind[i] = KIND_BT
            a[i], b[i], k1[i], k2[i] = mtl.thermal(name)
            unit_names.append("K (brightness temperature)")
        elif level == "L2":
            a[i], b[i] = mtl.surface_reflectance(name)
            unit_names.append("surface reflectance")
        else:
            m, add = mtl.toa_reflectance(name)
            a[i], b[i] = m * inv_sin, add * inv_sin
            unit_names.append("TOA reflectance")
    return CalibrationTable(kind, a, b, k1, k2, fill, tuple(unit_names))


def calibrate_composite(
    dn: np.ndarray,
    band_names: Sequence[str],
    scene_or_mtl: Scene | MtlMetadata,
    units: Units = "toa",
    *,
    nodata: Sequence[float | None] | None = None,
    engine: Engine = "numba",
    out: np.ndarray | None = None,
    parallel: bool = True,
) -> np.ndarray:
    """Calibrate a ``(n, h, w)`` DN window (any int/float dtype) to float32 ``(n, h, w)``.

    ``units="toa"``: TOA reflectance (unitless, sun-elevation corrected) for B1-B7
    and brightness temperature (K) for B10/B11; on a Level-2 scene surface
    reflectance and BT from ST_TRAD (see module docstring). ``units="dn"``: DN as
    float32. NaN where the DN is fill: 0, or ``nodata[i]`` (e.g. -32768 of an int16
    band), or -9999 for ST_TRAD. Works on any window; the runtime calls it strip by
    strip with ``parallel=False`` (its reader thread calibrates while others infer).
    """
    if dn.ndim != 3 or dn.shape[0] != len(band_names):
        raise SceneError(
            f"expected a (bands, rows, cols) array with {len(band_names)} bands "
            f"({', '.join(band_names)}), got shape {dn.shape}"
        )
    t = calibration_table(band_names, scene_or_mtl, units, nodata)
    if engine == "numba":
        return calibrate_numba(dn, t.kind, t.a, t.b, t.k1, t.k2, t.fill, out, parallel=parallel)
    return calibrate_numpy(dn, t.kind, t.a, t.b, t.k1, t.k2, t.fill, out)

"""One atmosphere for physics and model: parse it, open it on a grid, correct LST rows.

The band-10 at-sensor radiance is ``L = tau (eps B(Ts) + (1 - eps) Ld) + Lu``. What a
user may know about the atmosphere, and what it becomes (:func:`parse_atmosphere`):

* ``"TAU,LU,LD"``: three numbers (NASA's atmospheric correction parameter calculator
  prints them), tau in (0, 1], radiances in W/(m2 sr um) -> kind ``rte``;
* a raster path with three bands (tau, Lu, Ld), or three paths ``"T.tif,U.tif,D.tif"``,
  on any grid that covers the scene (resampled bilinearly onto the scene's grid as the
  rows are read; band scale/offset applied) -> kind ``rte``;
* ``"bundle"``: the Level-2 scene's own ST_ATRAN, ST_URAD, ST_DRAD -> kind ``rte``;
* ``water_vapour``: total column water vapour in g/cm2, a number or a one-band raster
  -> kind ``smw`` (statistical mono-window, Ermida et al. 2020).

:meth:`AtmosphereSpec.open` binds a spec to a scene's band-10 constants (K1/K2 from
its MTL, lambda/rho of the chain) and a grid; :meth:`AtmosphereCorrection.correct_rows`
corrects rows of any single-channel LST in place with the emissivity that LST implies
(equations in :mod:`.atmosphere_kernels`), so physics and model share one kernel;
rasters stream onto the grid through :mod:`.atmosphere_layers`.
"""

from __future__ import annotations

import logging
import math
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Literal

import numpy as np

from pix2lst.errors import BandNotFoundError, ParameterError
from pix2lst.geo.grid import Grid
from pix2lst.geo.mtl import MtlMetadata
from pix2lst.geo.scene import Scene, is_remote
from pix2lst.lst_physics import constants as c
from pix2lst.lst_physics.atmosphere_kernels import (
    MODE_RTE,
    MODE_SMW,
    correct_numba,
    correct_numpy,
)
from pix2lst.lst_physics.atmosphere_layers import Layer, Layers, band_count

__all__ = [
    "ATMOSPHERE_BANDS",
    "AtmosphereCorrection",
    "AtmosphereKind",
    "AtmosphereSpec",
    "parse_atmosphere",
]

log = logging.getLogger(__name__)

AtmosphereKind = Literal["none", "rte", "smw"]
Source = Literal["none", "numbers", "raster", "bundle", "water_vapour"]
Engine = Literal["numba", "numpy"]

#: The Level-2 bands ``bundle`` reads (tau, Lu, Ld), in kernel order.
ATMOSPHERE_BANDS = ("ST_ATRAN", "ST_URAD", "ST_DRAD")

_HOW = "e.g. --atmosphere 0.42,4.9,7.6 (tau,Lu,Ld), a raster, or bundle"
_TCWV = (
    f"water vapour must be {c.SMW_TCWV_RANGE[0]:g}-{c.SMW_TCWV_RANGE[1]:g} g/cm2, the range "
    "the statistical mono-window coefficients cover (1 g/cm2 = 10 kg/m2 = 10 mm)"
)


def _check_rte_values(tau: float, lu: float, ld: float, where: str = "") -> None:
    if not (0.0 < tau <= 1.0):
        raise ParameterError(f"transmittance tau must be in (0, 1], got {tau:g}{where}; {_HOW}")
    if not (lu >= 0.0 and ld >= 0.0):
        raise ParameterError(
            f"radiances must be non-negative W/(m2 sr um), got Lu={lu:g}, Ld={ld:g}{where}; {_HOW}"
        )


def _check_tcwv(w: float, where: str = "") -> None:
    lo, hi = c.SMW_TCWV_RANGE
    if not (lo <= w <= hi):
        raise ParameterError(f"{_TCWV}; got {w:g}{where}")


@dataclass(frozen=True)
class AtmosphereSpec:
    """What the user said about the atmosphere, validated; no file is held open.

    ``kind``: ``none``, ``rte`` (tau/Lu/Ld) or ``smw`` (water vapour). ``source``:
    ``numbers`` (``values`` = tau, Lu, Ld), ``raster`` (``paths``: one 3-band file
    or three 1-band files), ``bundle`` (the L2 scene's ST_ATRAN/URAD/DRAD),
    ``water_vapour`` (``values`` = (g/cm2,) or ``paths`` = one 1-band raster).
    """

    kind: AtmosphereKind = "none"
    source: Source = "none"
    values: tuple[float, ...] = ()
    paths: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.source == "numbers":
            if self.kind != "rte" or len(self.values) != 3:
                raise ParameterError("three numbers tau,Lu,Ld make an 'rte' atmosphere")
            _check_rte_values(*self.values)
        elif self.source == "water_vapour":
            if self.kind != "smw" or len(self.values) + len(self.paths) != 1:
                raise ParameterError("water vapour is one number or one raster (kind 'smw')")
            if self.values:
                _check_tcwv(self.values[0])
        elif self.source == "raster":
            if self.kind != "rte" or len(self.paths) not in (1, 3):
                raise ParameterError("an atmosphere raster is one 3-band file or three files")
        elif (self.kind, self.source) not in (("rte", "bundle"), ("none", "none")):
            raise ParameterError(f"atmosphere kind {self.kind!r} cannot come from {self.source!r}")

    @property
    def applied(self) -> bool:
        """Whether any correction is applied (kind is not ``none``)."""
        return self.kind != "none"

    def describe(self) -> str:
        """The values or files used, for tags and messages (``none`` when nothing applies)."""
        if self.source == "numbers":
            tau, lu, ld = self.values
            return f"tau={tau:g}, Lu={lu:g}, Ld={ld:g} W/(m2 sr um)"
        if self.source == "raster":
            what = "tau,Lu,Ld bands 1-3 of " if len(self.paths) == 1 else "tau,Lu,Ld from "
            return what + ",".join(self.paths) + " (bilinear onto the scene grid)"
        if self.source == "bundle":
            return "bundle: the scene's " + ", ".join(ATMOSPHERE_BANDS)
        if self.source == "water_vapour":
            if self.values:
                return f"water vapour {self.values[0]:g} g/cm2"
            return f"water vapour (g/cm2) from {self.paths[0]} (bilinear onto the scene grid)"
        return "none"

    def open(
        self,
        scene_or_mtl: Scene | MtlMetadata | str | os.PathLike[str] | None,
        grid: Grid,
    ) -> AtmosphereCorrection:
        """Bind to a scene's band-10 constants and ``grid``: an :class:`AtmosphereCorrection`.

        ``scene_or_mtl``: the scene (or its MTL, or a path to either) whose band-10
        K1/K2 the correction needs; ``None`` is accepted only for kind ``none``.
        Rasters are checked to cover ``grid`` (and, for water vapour and tau/Lu/Ld
        rasters, to hold values in range); ``bundle`` needs the scene's ST_ATRAN/URAD/DRAD.
        """
        if not self.applied:
            return AtmosphereCorrection(
                self, np.zeros(5), None, (), {"ATMOSPHERIC_CORRECTION": "none"}
            )
        scene, mtl = _resolve(scene_or_mtl)
        _, _, k1, k2 = mtl.thermal("B10")
        mode = MODE_SMW if self.kind == "smw" else MODE_RTE
        params = np.array([k1, k2, c.LAMBDA_B10_UM, c.RHO_UM_K, mode], dtype=np.float64)
        tags = {
            "ATMOSPHERIC_CORRECTION": self.kind,
            "ATMOSPHERE": self.describe(),
            "ATMOSPHERE_EMISSIVITY": "implied by LST and BT: ln eps = (BT/LST - 1) rho/(lambda BT)",
            "ATMOSPHERE_CONSTANTS": f"K1={k1!r}, K2={k2!r}, lambda={c.LAMBDA_B10_UM} um, "
            f"rho={c.RHO_UM_K} um K",
        }
        if self.kind == "smw":
            tags["ATMOSPHERE_EQUATION"] = "Ts = A BT/eps + B/eps + C (statistical mono-window)"
            tags["SMW_COEFFICIENTS"] = (
                "Ermida et al. 2020 Remote Sens. 12(9) 1471, Landsat-8 table "
                "(sofiaermida/Landsat_SMW_LST modules/SMW_coefficients.js)"
            )
            if mtl.spacecraft.endswith("9"):
                log.warning("no Landsat-9 SMW table is published; using Landsat-8's")
                tags["SMW_COEFFICIENTS"] += "; Landsat-8 table applied to Landsat-9"
        else:
            tags["ATMOSPHERE_EQUATION"] = (
                "Ts = K2/ln(K1/B + 1), B = ((L - Lu)/tau - (1 - eps) Ld)/eps, L = Planck(BT)"
            )
        layers: Layers | None = None
        constants: tuple[float, ...] = ()
        if self.source == "numbers":
            constants = self.values
        elif self.source == "water_vapour" and self.values:
            constants = (self.values[0], 0.0, 0.0)
        elif self.source == "bundle":
            layers = Layers(_bundle_layers(scene, mtl), grid)
            tags["ATMOSPHERE"] += f" of {mtl.scene_id}"
        else:
            layers = Layers(_raster_layers(self.paths, self.kind), grid)
            try:
                _check_layer_values(self, layers)
            except BaseException:
                layers.close()
                raise
        return AtmosphereCorrection(self, params, layers, constants, tags)


def _resolve(
    scene_or_mtl: Scene | MtlMetadata | str | os.PathLike[str] | None,
) -> tuple[Scene | None, MtlMetadata]:
    if scene_or_mtl is None:
        raise ParameterError(
            "the atmospheric correction needs band 10's K1/K2 from the scene's MTL, and this "
            "input has none (a composite?): pass the Landsat scene folder or its MTL file"
        )
    if isinstance(scene_or_mtl, MtlMetadata):
        return None, scene_or_mtl
    if isinstance(scene_or_mtl, Scene):
        return scene_or_mtl, scene_or_mtl.mtl
    from pix2lst.geo.inputs import find_scene

    sc = find_scene(scene_or_mtl)
    return sc, sc.mtl


def _bundle_layers(scene: Scene | None, mtl: MtlMetadata) -> list[Layer]:
    if scene is None:
        raise ParameterError(
            f"atmosphere 'bundle' reads the Level-2 bands {', '.join(ATMOSPHERE_BANDS)}: "
            f"pass the scene folder of {mtl.scene_id}, not only its MTL"
        )
    missing = [b for b in ATMOSPHERE_BANDS if not scene.has(b)]
    if missing:
        raise BandNotFoundError(
            f"atmosphere 'bundle' needs {', '.join(ATMOSPHERE_BANDS)}; scene {scene.root} lacks "
            f"{', '.join(missing)}: use a full Level-2 (L2SP) bundle, or give tau,Lu,Ld or a raster"
        )
    return [
        Layer(scene.band_path(b), 1, c.L2_AUX_SCALE[b], 0.0, float(c.L2_AUX_FILL))
        for b in ATMOSPHERE_BANDS
    ]


def _raster_layers(paths: Sequence[str], kind: AtmosphereKind) -> list[Layer]:
    """Water vapour: band 1 of one file; tau, Lu, Ld: bands 1-3 of one file or band 1 of three."""
    if kind == "smw":
        return [Layer(paths[0], 1)]
    if len(paths) == 1:
        return [Layer(paths[0], b) for b in (1, 2, 3)]
    return [Layer(p, 1) for p in paths]


def _check_layer_values(spec: AtmosphereSpec, layers: Layers) -> None:
    """Refuse rasters whose values over the grid are out of the algorithm's range."""
    arrays = layers.read_decimated()
    where = f" in {','.join(spec.paths)}"
    if spec.kind == "smw":
        v = arrays[0][np.isfinite(arrays[0])]
        if v.size:
            bad = v[(v < c.SMW_TCWV_RANGE[0]) | (v > c.SMW_TCWV_RANGE[1])]
            if bad.size:
                _check_tcwv(float(bad[0]), where)
        return
    ok = np.isfinite(arrays[0]) & np.isfinite(arrays[1]) & np.isfinite(arrays[2])
    if ok.any():
        tau, lu, ld = (a[ok] for a in arrays)
        _check_rte_values(float(tau.min()), float(lu.min()), float(ld.min()), where)
        _check_rte_values(float(tau.max()), 0.0, 0.0, where)


@dataclass(eq=False)
class AtmosphereCorrection:
    """An atmosphere bound to a scene's constants and a grid; corrects LST rows in place.

    ``tags``: ``ATMOSPHERIC_CORRECTION=none|rte|smw`` and the values or files used.
    Holds the atmosphere rasters open until :meth:`close` (or the ``with`` block ends).
    """

    spec: AtmosphereSpec
    params: np.ndarray
    layers: Layers | None
    constants: tuple[float, ...]
    tags: dict[str, str]
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        self._coef = np.asarray(c.SMW_COEFFICIENTS_L8, dtype=np.float64)
        self._closed = False

    @property
    def applied(self) -> bool:
        """Whether :meth:`correct_rows` changes anything."""
        return self.spec.applied

    def atmosphere_rows(self, start: int, n: int, width: int) -> tuple[np.ndarray, ...]:
        """The three kernel inputs (tau, Lu, Ld; or water vapour and two unused) for rows."""
        if self.layers is None:
            return tuple(np.broadcast_to(np.float64(v), (n, width)) for v in self.constants)
        with self._lock:
            arrays = self.layers.read(start, n)
        if len(arrays) == 1:
            arrays = [arrays[0], arrays[0], arrays[0]]
        return tuple(arrays)

    def correct_rows(
        self, lst: np.ndarray, bt: np.ndarray, start: int, *, engine: Engine = "numba"
    ) -> None:
        """Correct rows ``[start, start + n)`` of single-channel LST in place (kelvin).

        ``lst``: float32 ``(n, width)`` LST (physics or model); ``bt``: band 10's
        brightness temperature of the same pixels. NaN stays NaN. No-op for kind ``none``.
        """
        if not self.applied:
            return
        if lst.shape != bt.shape or lst.ndim != 2:
            raise ParameterError(f"lst and bt rows differ in shape: {lst.shape} vs {bt.shape}")
        if self._closed:
            raise ParameterError("this atmospheric correction is closed; open the spec again")
        if self.layers is not None and (
            lst.shape[1] != self.layers.grid.width
            or not 0 <= start <= self.layers.grid.height - lst.shape[0]
        ):
            raise ParameterError(
                f"rows {start}..{start + lst.shape[0]} x {lst.shape[1]} are not on the "
                f"{self.layers.grid.height} x {self.layers.grid.width} grid the atmosphere was opened on"
            )
        a0, a1, a2 = self.atmosphere_rows(start, lst.shape[0], lst.shape[1])
        fn = correct_numba if engine == "numba" else correct_numpy
        fn(lst, bt, a0, a1, a2, self.params, self._coef)

    def close(self) -> None:
        """Close the atmosphere rasters (idempotent)."""
        if self.layers is not None:
            self.layers.close()
        self._closed = True

    def __enter__(self) -> AtmosphereCorrection:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _split_paths(text: str) -> tuple[str, ...]:
    return tuple(p.strip() for p in text.split(",")) if "," in text else (text.strip(),)


def _check_paths(paths: Sequence[str], what: str) -> None:
    for p in paths:
        if not p:
            raise ParameterError(f"{what}: empty file name in {','.join(paths)!r}")
        if not is_remote(p) and not Path(p).is_file():
            raise ParameterError(f"{what}: {p} is neither a number nor an existing raster file")


def _floats(parts: Sequence[str]) -> list[float] | None:
    try:
        return [float(p) for p in parts]
    except ValueError:
        return None


def parse_atmosphere(atmosphere: str | None, water_vapour: str | None) -> AtmosphereSpec:
    """The :class:`AtmosphereSpec` of the ``--atmosphere`` and ``--water-vapour`` values.

    ``atmosphere``: ``"TAU,LU,LD"``, a 3-band raster path, three raster paths joined
    by commas, or ``"bundle"``. ``water_vapour``: g/cm2 as a number or a 1-band raster
    path. Both ``None``: no correction. Raises :class:`ParameterError` (one line) for
    both at once, tau outside (0, 1], a negative radiance, water vapour outside the
    SMW range, a file that does not exist or a raster with the wrong band count.
    """
    if atmosphere is not None and not atmosphere.strip():
        atmosphere = None
    if water_vapour is not None and not water_vapour.strip():
        water_vapour = None
    if atmosphere is not None and water_vapour is not None:
        raise ParameterError(
            "give --atmosphere (tau,Lu,Ld, a raster or bundle) or --water-vapour, not both"
        )
    if atmosphere is None and water_vapour is None:
        return AtmosphereSpec()
    if water_vapour is not None:
        num = _floats([water_vapour])
        if num is not None:
            if not math.isfinite(num[0]):
                raise ParameterError(f"{_TCWV}; got {water_vapour}")
            return AtmosphereSpec("smw", "water_vapour", values=(num[0],))
        paths = (water_vapour.strip(),)
        _check_paths(paths, "--water-vapour")
        if band_count(paths[0]) != 1:
            raise ParameterError(
                f"--water-vapour raster {paths[0]} must have one band (g/cm2), "
                f"it has {band_count(paths[0])}"
            )
        return AtmosphereSpec("smw", "water_vapour", paths=paths)
    text = (atmosphere or "").strip()
    if text.lower() == "bundle":
        return AtmosphereSpec("rte", "bundle")
    parts = _split_paths(text)
    nums = _floats(parts)
    if nums is not None:
        if len(nums) != 3 or not all(math.isfinite(x) for x in nums):
            raise ParameterError(
                f"--atmosphere {text!r}: three finite numbers tau,Lu,Ld are needed; {_HOW}"
            )
        return AtmosphereSpec("rte", "numbers", values=(nums[0], nums[1], nums[2]))
    if len(parts) not in (1, 3):
        raise ParameterError(
            f"--atmosphere {text!r}: give one 3-band raster or three rasters (tau,Lu,Ld); {_HOW}"
        )
    _check_paths(parts, "--atmosphere")
    counts = [band_count(p) for p in parts]
    if len(parts) == 1 and counts[0] != 3:
        raise ParameterError(
            f"--atmosphere raster {parts[0]} has {counts[0]} band(s); it needs 3 (tau, Lu, Ld)"
            + (" (a water-vapour raster goes to --water-vapour)" if counts[0] == 1 else "")
        )
    if len(parts) == 3 and counts != [1, 1, 1]:
        raise ParameterError(
            f"--atmosphere rasters {text!r} must have one band each (tau, Lu, Ld), have {counts}"
        )
    return AtmosphereSpec("rte", "raster", paths=parts)

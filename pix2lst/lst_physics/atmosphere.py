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
(equations in :mod:`.atmosphere_kernels`), so physics and model share one kernel.
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
from typing import Any, Literal

import numpy as np
import rasterio
from rasterio.enums import Resampling
from rasterio.vrt import WarpedVRT
from rasterio.warp import transform_bounds
from rasterio.windows import Window

from pix2lst.errors import BandNotFoundError, GridMismatchError, ParameterError, SceneError
from pix2lst.geo.grid import Grid, crs_name, grid_of
from pix2lst.geo.mtl import MtlMetadata
from pix2lst.geo.scene import Location, Scene, is_remote
from pix2lst.geo.stream import gdal_env
from pix2lst.lst_physics import constants as c
from pix2lst.lst_physics.atmosphere_kernels import (
    MODE_RTE,
    MODE_SMW,
    correct_numba,
    correct_numpy,
)

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
        layers: _Layers | None = None
        constants: tuple[float, ...] = ()
        if self.source == "numbers":
            constants = self.values
        elif self.source == "water_vapour" and self.values:
            constants = (self.values[0], 0.0, 0.0)
        elif self.source == "bundle":
            layers = _Layers(_bundle_layers(scene, mtl), grid)
            tags["ATMOSPHERE"] += f" of {mtl.scene_id}"
        else:
            layers = _Layers(_raster_layers(self.paths), grid)
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


@dataclass(frozen=True)
class _Layer:
    """One raster band as a physical quantity: ``value = DN * scale + offset``, ``fill`` -> NaN."""

    location: Location
    band: int = 1
    scale: float | None = None  # None: the band's own scale/offset
    offset: float = 0.0
    fill: float | None = None  # None: the band's own nodata


def _bundle_layers(scene: Scene | None, mtl: MtlMetadata) -> list[_Layer]:
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
        _Layer(scene.band_path(b), 1, c.L2_AUX_SCALE[b], 0.0, float(c.L2_AUX_FILL))
        for b in ATMOSPHERE_BANDS
    ]


def _raster_layers(paths: Sequence[str]) -> list[_Layer]:
    if len(paths) == 1:
        return [_Layer(paths[0], 1), _Layer(paths[0], 2), _Layer(paths[0], 3)][
            : 1 if _band_count(paths[0]) == 1 else 3
        ]
    return [_Layer(p, 1) for p in paths]


def _band_count(path: str) -> int:
    try:
        with gdal_env(), rasterio.open(path) as ds:
            return int(ds.count)
    except rasterio.errors.RasterioIOError as exc:
        raise SceneError(f"atmosphere raster {path} cannot be read ({exc})") from exc


class _Layers:
    """Rows of several rasters on one grid: read directly where the grid matches, else warped.

    Each source is checked to cover the grid; warping is bilinear (rasterio WarpedVRT),
    so a coarse reanalysis or calculator raster streams onto a 30 m scene row by row.
    """

    def __init__(self, layers: Sequence[_Layer], grid: Grid) -> None:
        self.grid = grid
        self.layers = list(layers)
        self._closed = False
        self._open: dict[str, Any] = {}
        self._readers: list[tuple[Any, int, float, float, float | None]] = []
        try:
            for layer in self.layers:
                self._readers.append(self._reader(layer))
        except BaseException:
            self.close()
            raise

    def _reader(self, layer: _Layer) -> tuple[Any, int, float, float, float | None]:
        key = str(layer.location)
        if key not in self._open:
            try:
                self._open[key] = rasterio.open(layer.location)
            except rasterio.errors.RasterioIOError as exc:
                raise SceneError(f"atmosphere raster {key} cannot be read ({exc})") from exc
        ds = self._open[key]
        if layer.band > ds.count:
            raise BandNotFoundError(f"atmosphere raster {key} has {ds.count} band(s), needs 3")
        fill = layer.fill if layer.fill is not None else ds.nodata
        scale = layer.scale if layer.scale is not None else float(ds.scales[layer.band - 1])
        offset = layer.offset if layer.scale is not None else float(ds.offsets[layer.band - 1])
        src_grid = grid_of(ds)
        if not src_grid.differences(self.grid):
            return ds, layer.band, scale, offset, fill
        _check_covers(key, src_grid, self.grid)
        vkey = f"{key}#warped"
        if vkey not in self._open:
            g = self.grid
            self._open[vkey] = WarpedVRT(
                ds, crs=g.crs if g.crs is not None else ds.crs, transform=g.transform,
                width=g.width, height=g.height, resampling=Resampling.bilinear,
                src_nodata=fill, nodata=math.nan, dtype="float32",
            )  # fmt: skip
        return self._open[vkey], layer.band, scale, offset, math.nan

    def read(self, start: int, n: int) -> list[np.ndarray]:
        """Rows ``[start, start + n)`` of every layer on the grid, float64, NaN at fill."""
        window = Window(0, start, self.grid.width, n)
        out = []
        for ds, band, scale, offset, fill in self._readers:
            v = ds.read(band, window=window).astype(np.float64)
            if fill is not None and not math.isnan(fill):
                v[v == fill] = np.nan
            out.append(v * scale + offset)
        return out

    def read_decimated(self, size: int = 256) -> list[np.ndarray]:
        """Every layer over the whole grid at most ``size x size`` (for range checks)."""
        h, w = min(self.grid.height, size), min(self.grid.width, size)
        out = []
        for ds, band, scale, offset, fill in self._readers:
            v = ds.read(band, out_shape=(h, w), resampling=Resampling.bilinear)
            v = v.astype(np.float64)
            if fill is not None and not math.isnan(fill):
                v[v == fill] = np.nan
            out.append(v * scale + offset)
        return out

    def close(self) -> None:
        if self._closed:
            return
        for ds in reversed(list(self._open.values())):
            ds.close()
        self._open.clear()
        self._readers.clear()
        self._closed = True


def _check_covers(name: str, src: Grid, grid: Grid) -> None:
    if (src.crs is None) != (grid.crs is None):
        raise GridMismatchError(
            f"atmosphere raster {name} has CRS {crs_name(src.crs)}, the scene {crs_name(grid.crs)}:"
            " give the raster a CRS (e.g. gdal_edit.py -a_srs EPSG:4326)"
        )
    b = src.bounds
    if src.crs is not None and grid.crs is not None and src.crs != grid.crs:
        b = transform_bounds(src.crs, grid.crs, *b, densify_pts=21)
    gl, gb, gr, gt = grid.bounds
    tol = 0.01 * min(grid.res)
    if not (b[0] <= gl + tol and b[1] <= gb + tol and b[2] >= gr - tol and b[3] >= gt - tol):
        raise GridMismatchError(
            f"atmosphere raster {name} does not cover the scene (raster bounds "
            f"{tuple(round(x, 1) for x in b)}, scene {tuple(round(x, 1) for x in grid.bounds)} in "
            f"{crs_name(grid.crs)}): give a raster that covers the whole scene"
        )


def _check_layer_values(spec: AtmosphereSpec, layers: _Layers) -> None:
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
    if len(arrays) != 3:
        raise BandNotFoundError(
            f"atmosphere raster {spec.paths[0]} has 1 band: give a 3-band (tau, Lu, Ld) raster, "
            "three files, or --water-vapour for a water-vapour raster"
        )
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
    layers: _Layers | None
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
        if _band_count(paths[0]) != 1:
            raise ParameterError(
                f"--water-vapour raster {paths[0]} must have one band (g/cm2), "
                f"it has {_band_count(paths[0])}"
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
    counts = [_band_count(p) for p in parts]
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

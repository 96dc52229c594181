"""Any LST raster against the USGS Collection-2 Level-2 surface temperature (ST_B10).

:func:`validate_lst` compares an LST GeoTIFF (kelvin or degC, pix2lst's or anyone's)
with a Level-2 scene's ``ST_B10 * TEMPERATURE_MULT + TEMPERATURE_ADD`` on the
reference's clear pixels: QA_PIXEL bit 6 ("clear": neither cloud nor dilated cloud)
set and ST_B10 > 150 K (optionally every valid pixel). Where the grids differ, the
reference is resampled onto the LST's grid as strips are read (rasterio WarpedVRT:
bilinear for ST_B10 and SR_B4/SR_B5, nearest for QA_PIXEL).

Differences ``LST - ST_B10`` in kelvin are summarised as n, bias, RMSE, MAE and the
95th/99th percentiles of ``|LST - ST_B10|``, overall and by surface class from the
reference's surface-reflectance NDVI with the chain's thresholds (Sobrino et al. 2004):
water NDVI < 0, bare soil 0 <= NDVI < 0.2, mixed 0.2 <= NDVI < 0.5, vegetation
NDVI >= 0.5. :func:`compare_to_usgs_st` writes pix2lst's own LST of a Level-2
scene to a temporary file and validates it with the same code.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import rasterio
from rasterio.enums import Resampling
from rasterio.vrt import WarpedVRT
from rasterio.warp import transform_bounds

from pix2lst.errors import BandNotFoundError, EmptySceneError, GridMismatchError, SceneError
from pix2lst.geo.grid import Grid, crs_name, grid_of
from pix2lst.geo.scene import Scene
from pix2lst.geo.stream import gdal_env, strip_windows
from pix2lst.geo.units import KELVIN_OFFSET
from pix2lst.lst_physics import constants as c
from pix2lst.lst_physics.atmosphere import AtmosphereSpec
from pix2lst.lst_physics.chain import Emissivity
from pix2lst.lst_physics.composite import as_scene

__all__ = [
    "SURFACE_CLASSES",
    "DiffStats",
    "LstValidation",
    "compare_to_usgs_st",
    "validate_lst",
]

#: Surface classes by the reference's NDVI: (name, lower bound inclusive, upper exclusive).
SURFACE_CLASSES: tuple[tuple[str, float, float], ...] = (
    ("water", -math.inf, c.NDVI_WATER),
    ("bare soil", c.NDVI_WATER, c.NDVI_SOIL),
    ("mixed", c.NDVI_SOIL, c.NDVI_VEG),
    ("vegetation", c.NDVI_VEG, math.inf),
)
_CLEAR_BIT = 6
_ST_MIN_K = 150.0
_KELVIN_UNITS = {"k", "kelvin", "degk"}
_CELSIUS_UNITS = {"c", "degc", "celsius", "deg_c", "°c"}


@dataclass(frozen=True)
class DiffStats:
    """``LST - reference`` over ``n`` pixels, in kelvin; p95/p99 of the absolute difference."""

    n: int
    bias: float
    rmse: float
    mae: float
    p95: float
    p99: float

    @classmethod
    def of(cls, d: np.ndarray) -> DiffStats:
        """Statistics of a float64 difference vector (NaN figures when it is empty)."""
        if d.size == 0:
            return cls(0, math.nan, math.nan, math.nan, math.nan, math.nan)
        a = np.abs(d)
        p95, p99 = np.percentile(a, [95, 99])
        return cls(
            n=int(d.size), bias=float(d.mean()), rmse=float(np.sqrt(np.mean(d * d))),
            mae=float(a.mean()), p95=float(p95), p99=float(p99),
        )  # fmt: skip


@dataclass(frozen=True)
class LstValidation:
    """The comparison of one LST raster with a Level-2 scene's ST_B10."""

    lst: str
    reference: str
    units: str
    resampled: bool
    clear_only: bool
    overall: DiffStats
    by_class: Mapping[str, DiffStats] = field(default_factory=lambda: MappingProxyType({}))

    @property
    def n(self) -> int:
        return self.overall.n

    @property
    def bias(self) -> float:
        return self.overall.bias

    @property
    def rmse(self) -> float:
        return self.overall.rmse

    @property
    def mae(self) -> float:
        return self.overall.mae

    def to_dict(self) -> dict[str, Any]:
        """Plain types (JSON-ready)."""
        out: dict[str, Any] = {
            "lst": self.lst, "reference": self.reference, "units": self.units,
            "resampled": self.resampled, "clear_only": self.clear_only,
        }  # fmt: skip
        out["overall"] = asdict(self.overall)
        out["by_class"] = {k: asdict(v) for k, v in self.by_class.items()}
        out["classes"] = {name: [lo, hi] for name, lo, hi in SURFACE_CLASSES}
        return out

    def to_json(self) -> str:
        return json.dumps(_finite(self.to_dict()), indent=2)

    def __str__(self) -> str:
        sky = "clear pixels (QA_PIXEL clear bit)" if self.clear_only else "all valid pixels"
        lines = [
            f"{self.lst} ({self.units}) - USGS ST_B10 of {self.reference}, {sky}"
            + (", reference resampled onto the LST grid" if self.resampled else ""),
            f"{'class':<12}{'n':>9}{'bias K':>9}{'RMSE K':>9}{'MAE K':>9}{'p95 K':>9}{'p99 K':>9}",
        ]
        for name, s in [("all", self.overall), *self.by_class.items()]:
            if s.n == 0:
                lines.append(f"{name:<12}{0:>9}" + f"{'-':>9}" * 5)
                continue
            lines.append(
                f"{name:<12}{s.n:>9}{s.bias:>+9.2f}{s.rmse:>9.2f}{s.mae:>9.2f}{s.p95:>9.2f}"
                f"{s.p99:>9.2f}"
            )
        bounds = ", ".join(f"{n} [{lo:g}, {hi:g})" for n, lo, hi in SURFACE_CLASSES)
        lines.append(f"classes by the reference's NDVI (SR_B4/SR_B5): {bounds}")
        return "\n".join(lines)


def _finite(x: Any) -> Any:
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_finite(v) for v in x]
    return x


def _kelvin_offset(ds: Any, path: str) -> tuple[float, str]:
    """Offset to add to the LST's values for kelvin, and the unit it was read as."""
    unit = (ds.units[0] or ds.tags().get("UNITS") or ds.tags(1).get("UNITS") or "").strip()
    key = unit.lower()
    if key in _KELVIN_UNITS:
        return 0.0, "K"
    if key in _CELSIUS_UNITS:
        return KELVIN_OFFSET, "degC"
    raise SceneError(
        f"{path} does not say its unit ({unit or 'no band unit or UNITS tag'}): set the band "
        "unit to K or degC (e.g. gdal_edit.py -units K) so its LST can be compared"
    )


def _reference_paths(scene: Scene) -> dict[str, Any]:
    missing = [b for b in ("ST_B10", "QA_PIXEL") if not scene.has(b)]
    if missing or scene.mtl.st_mult is None or scene.mtl.st_add is None:
        what = ", ".join(missing) or "TEMPERATURE_MULT/ADD_BAND_ST_B10 in its MTL"
        raise BandNotFoundError(
            f"reference {scene.root} lacks {what}: give a Collection-2 Level-2 (L2SP) scene "
            "with ST_B10 and QA_PIXEL"
        )
    names = ["ST_B10", "QA_PIXEL"] + (
        ["SR_B4", "SR_B5"] if scene.has("SR_B4") and scene.has("SR_B5") else []
    )
    return {n: scene.band_path(n) for n in names}


def _check_overlap(ref: Grid, grid: Grid, lst: str, scene: Scene) -> None:
    b = grid.bounds
    if ref.crs is not None and grid.crs is not None and ref.crs != grid.crs:
        b = transform_bounds(grid.crs, ref.crs, *b, densify_pts=21)
    r = ref.bounds
    if b[0] >= r[2] or b[2] <= r[0] or b[1] >= r[3] or b[3] <= r[1]:
        raise GridMismatchError(
            f"{lst} and the reference {scene.scene_id} do not overlap ({crs_name(grid.crs)} "
            f"{tuple(round(x) for x in grid.bounds)} vs {crs_name(ref.crs)} "
            f"{tuple(round(x) for x in ref.bounds)}): give the Level-2 scene of the same place"
        )


@contextmanager
def _on_grid(
    paths: Mapping[str, Any], grid: Grid, lst: str, scene: Scene
) -> Iterator[tuple[dict[str, Any], bool]]:
    """The reference bands as datasets on ``grid`` (warped where their grid differs)."""
    with ExitStack() as stack:
        out: dict[str, Any] = {}
        resampled = False
        for name, path in paths.items():
            ds = stack.enter_context(rasterio.open(path))
            g = grid_of(ds)
            if not g.differences(grid):
                out[name] = ds
                continue
            _check_overlap(g, grid, lst, scene)
            resampled = True
            qa = name == "QA_PIXEL"
            out[name] = stack.enter_context(
                WarpedVRT(
                    ds, crs=grid.crs, transform=grid.transform, width=grid.width,
                    height=grid.height,
                    resampling=Resampling.nearest if qa else Resampling.bilinear,
                    src_nodata=1 if qa else 0, nodata=1 if qa else 0,
                    dtype=None if qa else "float32",
                )
            )  # fmt: skip
        yield out, resampled


def validate_lst(
    lst: str | os.PathLike[str],
    reference: Scene | str | os.PathLike[str],
    *,
    clear_only: bool = True,
    strip_rows: int = 512,
) -> LstValidation:
    """Compare the LST raster ``lst`` (band 1, K or degC) with ``reference``'s ST_B10.

    ``reference``: a Collection-2 Level-2 scene (folder, MTL, URL or STAC item) with
    ST_B10 and QA_PIXEL (SR_B4/SR_B5 for the surface classes). Raises
    :class:`BandNotFoundError` for a reference without them, :class:`GridMismatchError`
    when the grids do not overlap, :class:`SceneError` for an LST without a unit,
    :class:`EmptySceneError` when no pixel is valid in both.
    """
    sc = as_scene(reference)
    paths = _reference_paths(sc)
    name = os.fspath(lst)
    mult, add = float(sc.mtl.st_mult or 0.0), float(sc.mtl.st_add or 0.0)
    diffs: list[np.ndarray] = []
    classes: list[np.ndarray] = []
    with gdal_env():
        try:
            src = rasterio.open(name)
        except rasterio.errors.RasterioIOError as exc:
            raise SceneError(f"{name} is not a raster rasterio can read ({exc})") from exc
        with src:
            offset, units = _kelvin_offset(src, name)
            scale, add_lst = float(src.scales[0]), float(src.offsets[0])
            grid = grid_of(src)
            with _on_grid(paths, grid, name, sc) as (ref, resampled):
                for w in strip_windows(grid.height, grid.width, strip_rows):
                    ours = src.read(1, window=w, masked=True).astype(np.float64)
                    t = ours.filled(np.nan) * scale + add_lst + offset
                    st_dn = ref["ST_B10"].read(1, window=w).astype(np.float64)
                    st = np.where(st_dn > 0, st_dn * mult + add, np.nan)
                    ok = np.isfinite(t) & (st > _ST_MIN_K)
                    if clear_only:
                        qa = ref["QA_PIXEL"].read(1, window=w)
                        ok &= ((qa >> _CLEAR_BIT) & 1) == 1
                        ok &= (qa & 1) == 0
                    diffs.append((t - st)[ok])
                    if "SR_B4" in ref:
                        classes.append(_ndvi(ref, w, sc)[ok])
    d = np.concatenate(diffs) if diffs else np.empty(0)
    if d.size == 0:
        raise EmptySceneError(
            f"no pixel of {name} is valid in both it and {sc.scene_id}'s clear ST_B10"
        )
    by_class: dict[str, DiffStats] = {}
    if classes:
        v = np.concatenate(classes)
        for cname, lo, hi in SURFACE_CLASSES:
            by_class[cname] = DiffStats.of(d[(v >= lo) & (v < hi)])
    return LstValidation(
        lst=name, reference=sc.scene_id, units=units, resampled=resampled,
        clear_only=clear_only, overall=DiffStats.of(d), by_class=MappingProxyType(by_class),
    )  # fmt: skip


def _ndvi(ref: Mapping[str, Any], window: Any, sc: Scene) -> np.ndarray:
    (rm, ra), (nm, na) = sc.mtl.surface_reflectance("B4"), sc.mtl.surface_reflectance("B5")
    r = ref["SR_B4"].read(1, window=window).astype(np.float64)
    n = ref["SR_B5"].read(1, window=window).astype(np.float64)
    bad = (r <= 0) | (n <= 0)
    rr, rn = r * rm + ra, n * nm + na
    with np.errstate(divide="ignore", invalid="ignore"):
        v = (rn - rr) / (rn + rr)
    v[bad | ~np.isfinite(v)] = np.nan
    return v


def compare_to_usgs_st(
    scene: Scene | str | os.PathLike[str],
    *,
    method: str = "planck",
    emissivity: Emissivity = "sobrino",
    atmosphere: AtmosphereSpec | None = None,
    clear_only: bool = True,
    strip_rows: int = 512,
) -> LstValidation:
    """pix2lst's LST of a Level-2 scene (``write_lst``, to a temporary file) against its ST_B10."""
    from pix2lst.lst_physics.lst import write_lst

    sc = as_scene(scene)
    _reference_paths(sc)
    with tempfile.TemporaryDirectory(prefix="pix2lst-validate-") as tmp:
        out = write_lst(
            sc, Path(tmp) / "lst.tif", method=method, emissivity=emissivity,  # type: ignore[arg-type]
            atmosphere=atmosphere, strip_rows=strip_rows,
        )  # fmt: skip
        return validate_lst(out, sc, clear_only=clear_only, strip_rows=strip_rows)

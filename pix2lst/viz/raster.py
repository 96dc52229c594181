"""Reading LST and true-colour rasters for display: decimated, in kelvin, NaN for nodata.

Display never needs every pixel of a 7,700 px scene: rasters are read through
rasterio's ``out_shape`` (GDAL nearest-neighbour decimation, using overviews
when the file has them) so that at most ``max_pixels`` values are held per
layer. With a decimation factor ``f = ceil(sqrt(h * w / max_pixels))`` the
display grid is ``ceil(h / f) x ceil(w / f)`` and display pixel ``(i, j)``
holds the source pixel ``(floor((i + 0.5) * h / out_h), floor((j + 0.5) * w / out_w))``
unchanged: values are never averaged, so a readout is a real pixel value.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import rasterio
from rasterio._err import CPLE_BaseError
from rasterio.enums import Resampling
from rasterio.vrt import WarpedVRT

from pix2lst.errors import (
    EmptySceneError,
    GridMismatchError,
    ImplausibleDataError,
    SceneError,
)
from pix2lst.geo.grid import Grid, check_grid, decimated_shape, grid_of, read_grid
from pix2lst.geo.plausible import LST_RANGE_K
from pix2lst.geo.units import KELVIN_OFFSET, parse_temperature_units

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "DISPLAY_CACHE_MB",
    "Grid",
    "LstLayer",
    "check_same_grid",
    "decimated_shape",
    "find_date",
    "mask_layer",
    "read_grid",
    "read_lst",
]

logger = logging.getLogger(__name__)

#: Default cap on pixels read per layer for display (about 1,414 x 1,414).
DEFAULT_MAX_PIXELS = 2_000_000

#: GDAL block cache (MB) while reading for display: decimated reads touch every
#: block once, so a big cache only costs memory.
DISPLAY_CACHE_MB = 64

_DATE_KEYS = ("date", "date_acquired", "acquisition_date", "datetime", "scene_date")
_SCENE_KEYS = (
    "scene_id",
    "landsat_product_id",
    "product_id",
    "landsat_scene_id",
    "scene",
    "source",
)
_MODEL_KEYS = ("model", "model_name")
_METHOD_KEYS = ("method", "physics_method", "lst_method")
_LANDSAT_ID = re.compile(r"L[COTE]0\d_[A-Z0-9]{4}_\d{6}_(\d{4})(\d{2})(\d{2})_")
_ISO_DATE = re.compile(r"(?<!\d)((?:19|20)\d{2})-?(0[1-9]|1[0-2])-?(0[1-9]|[12]\d|3[01])(?!\d)")


def check_same_grid(a: Grid, b: Grid, names: tuple[str, str] = ("A", "B")) -> None:
    """Raise :class:`GridMismatchError` saying exactly what differs between ``a`` and ``b``."""
    check_grid(
        [(names[0], a), (names[1], b)],
        hint="resample the second onto the first (--resample / resample=True) "
        "or compare rasters from the same scene grid",
    )


def _open(path: str | os.PathLike[str]) -> rasterio.DatasetReader:
    p = Path(path)
    if not p.exists():
        raise SceneError(f"{p} does not exist; give the path of a GeoTIFF")
    try:
        return rasterio.open(p)
    except (rasterio.errors.RasterioIOError, CPLE_BaseError) as exc:
        raise SceneError(f"{p} is not a raster rasterio can read ({exc})") from exc


@dataclass(frozen=True)
class LstLayer:
    """An LST raster read for display: ``values`` in kelvin (float32, NaN = nodata)."""

    path: Path
    values: np.ndarray = field(repr=False)
    grid: Grid  # the display grid ``values`` lies on
    source_grid: Grid  # the file's full-resolution grid
    tags: dict[str, str] = field(repr=False)
    source_units: str  # "K" or "C", as found in the file

    @property
    def date(self) -> str | None:
        """Acquisition date ``YYYY-MM-DD`` from the tags or the file name, if any."""
        return find_date(self.tags, self.path.name)

    @property
    def kind(self) -> str | None:
        """``"model"`` or ``"physics"`` when the tags say which made the map."""
        if _tag(self.tags, _MODEL_KEYS):
            return "model"
        if _tag(self.tags, _METHOD_KEYS):
            return "physics"
        return None

    @property
    def label(self) -> str:
        """Short label: the date (else the file name), and model/physics when known."""
        base = self.date or self.path.stem
        return f"{base} · {self.kind}" if self.kind else base

    @property
    def title(self) -> str:
        """Title from the tags: scene, spacecraft, date, model (and hash) or physics method.

        Reads the upper-case tags pix2lst writes (``SCENE_ID``, ``SPACECRAFT``,
        ``DATE_ACQUIRED``, ``METHOD``, ``MODEL``, ``MODEL_SHA256``) and the older
        lower-case ones; falls back to the file name.
        """
        parts = [_tag(self.tags, _SCENE_KEYS) or self.path.stem]
        spacecraft = _tag(self.tags, ("spacecraft", "spacecraft_id"))
        if spacecraft:
            parts.append(spacecraft.replace("_", "-").title())
        if self.date:
            parts.append(self.date)
        model, method = _tag(self.tags, _MODEL_KEYS), _tag(self.tags, _METHOD_KEYS)
        if model:
            sha = _tag(self.tags, ("model_sha256",))
            parts.append(f"model {model}" + (f" ({sha[:8]})" if sha else ""))
        elif method:
            emissivity = _tag(self.tags, ("emissivity",))
            short = emissivity.split(" ")[0] if emissivity else None
            parts.append(f"physics {method}" + (f", {short} emissivity" if short else ""))
        if (_tag(self.tags, ("cloud_mask",)) or "").lower() in ("true", "yes", "1"):
            parts.append("clouds masked")
        return " · ".join(dict.fromkeys(parts))


def mask_layer(layer: LstLayer, hidden: np.ndarray) -> LstLayer:
    """``layer`` with NaN where ``hidden`` (a boolean array of its display shape) is true."""
    if hidden.shape != layer.values.shape:
        raise GridMismatchError(
            f"the mask is {hidden.shape[1]}x{hidden.shape[0]} px but {layer.path} is "
            f"{layer.values.shape[1]}x{layer.values.shape[0]} px on display; give a mask "
            "raster on the same grid"
        )
    values = np.where(hidden, np.float32(np.nan), layer.values)
    return replace(layer, values=values)


def _tag(tags: dict[str, str], keys: tuple[str, ...]) -> str | None:
    lowered = {k.lower(): v for k, v in tags.items()}
    for key in keys:
        value = lowered.get(key)
        if value not in (None, ""):
            return str(value)
    return None


def find_date(tags: dict[str, str], name: str) -> str | None:
    """``YYYY-MM-DD`` from a date tag or, failing that, the file name (Landsat id or ISO date)."""
    for text in (_tag(tags, _DATE_KEYS), _tag(tags, _SCENE_KEYS), name):
        if not text:
            continue
        m = _LANDSAT_ID.search(text) or _ISO_DATE.search(text)
        if m:
            return f"{m.group(1)}-{m.group(2)}-{m.group(3)}"
    return None


def _units(src: rasterio.DatasetReader, tags: dict[str, str], values: np.ndarray) -> str:
    candidates = [src.units[0] if src.units else None, _tag(tags, ("units", "unit", "lst_units"))]
    for raw in candidates:
        if not raw:
            continue
        parsed = parse_temperature_units(raw, strict=False)
        if parsed is not None:
            return "K" if parsed == "K" else "C"
        logger.warning("%s: unknown units %r; assuming kelvin", src.name, raw)
    finite = values[np.isfinite(values)]
    if finite.size and float(np.median(finite)) < 150.0:
        logger.warning("%s has no units tag and values look like °C; reading as °C", src.name)
        return "C"
    return "K"


def _hide_implausible(path: Path, values: np.ndarray) -> None:
    """NaN (drawn as nodata) where ``values`` (kelvin) cannot be a land surface temperature,
    said in one warning: a corrupt float raster holds values such as +-3e38."""
    low, high = LST_RANGE_K
    with np.errstate(invalid="ignore"):
        bad = (values < low) | (values > high)
    n = int(bad.sum())
    if n:
        worst = values[bad][np.argmax(np.abs(values[bad]))]
        logger.warning(
            "%s: %d of %d displayed pixels lie outside %g-%g K (e.g. %.6g K), not a land surface "
            "temperature (a damaged or mislabelled raster?); they are drawn as nodata",
            path, n, int(np.isfinite(values).sum()), low, high, worst,
        )  # fmt: skip
        values[bad] = np.nan


def read_display(
    src: rasterio.DatasetReader,
    band: int,
    shape: tuple[int, int],
    onto: Grid | None = None,
    *,
    src_nodata: float | None,
    nodata: float,
    dtype: str | None = None,
) -> np.ma.MaskedArray:
    """Band ``band`` of ``src`` at display ``shape`` (nearest: values are never averaged),
    first warped (bilinear) onto ``onto`` when given and ``src`` is on another grid.

    ``src_nodata``: what counts as missing in ``src``; ``nodata``/``dtype``: of the
    warped grid.
    """
    if onto is None or not grid_of(src).differences(onto):
        return src.read(band, out_shape=shape, masked=True, resampling=Resampling.nearest)
    with WarpedVRT(
        src, crs=onto.crs, transform=onto.transform, width=onto.width, height=onto.height,
        resampling=Resampling.bilinear,
        src_nodata=src_nodata, nodata=nodata, **({"dtype": dtype} if dtype else {}),
    ) as vrt:  # fmt: skip
        return vrt.read(band, out_shape=shape, masked=True, resampling=Resampling.nearest)


def read_lst(
    path: str | os.PathLike[str],
    *,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    onto: Grid | None = None,
    band: int | None = None,
) -> LstLayer:
    """Read band ``band`` of an LST GeoTIFF for display, decimated to ``max_pixels``.

    Values come back in kelvin (a file tagged ``units=C``/``celsius`` is converted),
    float32, NaN where the file has nodata or non-finite values, and where a value
    lies outside :data:`~pix2lst.geo.plausible.LST_RANGE_K` (one warning says how
    many); band scale/offset tags are applied. With ``onto`` (a full-resolution grid) the raster is first
    warped onto that grid (bilinear), as ``compare --resample`` does.
    Raises :class:`EmptySceneError` when no pixel is valid, :class:`ImplausibleDataError`
    when ``band`` is not given and the raster has several bands (a composite is not an
    LST map), :class:`SceneError` when the file cannot be read (damaged, cut short).
    """
    p = Path(path)
    with rasterio.Env(GDAL_CACHEMAX=DISPLAY_CACHE_MB), _open(p) as src:
        if band is None:
            if src.count != 1:
                names = ", ".join(d or f"band {i}" for i, d in enumerate(src.descriptions, 1))
                raise ImplausibleDataError(
                    f"{p} has {src.count} bands ({names}), not one band of temperatures: it is "
                    "not an LST map; give an LST GeoTIFF (pix2lst physics / predict), or the "
                    "composite with --rgb for true colour"
                )
            band = 1
        if not 1 <= band <= src.count:
            have = f"{src.count} band" + ("s" if src.count != 1 else "")
            raise SceneError(f"{p} has {have}; band {band} does not exist")
        try:
            return _read_layer(p, src, band, max_pixels, onto)
        except (rasterio.errors.RasterioIOError, CPLE_BaseError) as exc:
            raise SceneError(f"cannot read {p} ({exc}); the file is damaged or cut short") from exc


def _read_layer(
    p: Path, src: rasterio.DatasetReader, band: int, max_pixels: int | None, onto: Grid | None
) -> LstLayer:
    tags = {**src.tags(), **src.tags(band)}
    source_grid = Grid(src.crs, src.transform, src.width, src.height)
    target = onto if onto is not None else source_grid
    display = target.display(max_pixels)
    shape = (display.height, display.width)
    data = read_display(
        src, band, shape, onto, src_nodata=src.nodata, nodata=np.nan, dtype="float32"
    )
    values = np.ma.filled(data.astype(np.float64), np.nan)
    scale, offset = src.scales[band - 1], src.offsets[band - 1]
    if (scale, offset) != (1.0, 0.0):
        values = values * scale + offset
    units = _units(src, tags, values)
    values[~np.isfinite(values)] = np.nan
    if units == "C":
        values = values + KELVIN_OFFSET
    _hide_implausible(p, values)
    if np.isnan(values).all():
        raise EmptySceneError(f"{p}: every pixel is nodata; nothing to display")
    return LstLayer(p, values.astype(np.float32), display, source_grid, tags, units)

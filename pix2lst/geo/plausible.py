"""Plausibility checks: a result or an input that cannot be what it claims is refused.

* :class:`RangeCount` counts, strip by strip as the writer streams them, the valid
  pixels of a temperature raster and those outside :data:`LST_RANGE_K`; a caller that writes
  an LST passes :func:`lst_range_count` to the writer as its ``check``
  (:class:`ValueCheck`), which then refuses the file (nothing is renamed onto the
  target) when more than :data:`MAX_OUTLIER_FRACTION` of them are out of range. No
  second pass.
* :func:`check_temperature_raster` and :func:`check_composite_raster` look at a
  decimated read of an input (a few thousand pixels) before a command uses it:
  a target that is not one band of temperatures, a composite whose bands do not
  hold reflectances and a brightness temperature, are refused with the likely cause.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
import rasterio
from rasterio.enums import Resampling

from pix2lst.errors import ImplausibleDataError, SceneError
from pix2lst.geo.units import KELVIN_OFFSET, parse_temperature_units

__all__ = [
    "COMPOSITE_BANDS",
    "LST_RANGE_K",
    "MAX_OUTLIER_FRACTION",
    "RangeCount",
    "ValueCheck",
    "check_composite_raster",
    "check_temperature_raster",
    "lst_range_count",
]

LST_RANGE_K = (170.0, 360.0)
"""Land surface (and brightness) temperatures on Earth lie inside this range (K).

The coldest surface measured, by satellite, is about -98 degC (175 K: snow on the East
Antarctic plateau in the polar night, Scambos et al. 2018, GRL 45, 6124); the hottest
land surface about 81 degC (354 K: the Lut desert, MODIS, Mildrexler et al. 2011,
BAMS 92, 855). A few kelvin beyond each keeps those real extremes; anything further
out is a broken input, e.g. a band 10 read as 8-bit DN gives about 153 K everywhere,
or the wrong calibration constants, units or band order."""

MAX_OUTLIER_FRACTION = 0.01
"""Largest fraction of valid pixels a temperature raster may have outside :data:`LST_RANGE_K`."""

REFLECTANCE_RANGE = (-0.5, 2.0)
"""Plausible median of a TOA or surface reflectance band."""

LIKELY_CAUSES = (
    "likely causes: bands in the wrong order, the wrong units (DN vs TOA reflectance, "
    "degC vs K), or bad calibration constants in the MTL"
)

_SAMPLE_PIXELS = 65_536


class ValueCheck(Protocol):
    """What a writer's ``check`` does: see every array written, then accept or refuse them."""

    def update(self, values: npt.NDArray[Any]) -> None:
        """Look at ``values``, an array just written (any shape)."""
        ...

    def check(self, what: str) -> None:
        """Raise :class:`ImplausibleDataError` naming ``what`` when the values cannot be right."""
        ...


class RangeCount:
    """Streamed counts of valid and out-of-range values of a temperature raster.

    ``lo``/``hi`` are in the raster's units; ``update`` is called with each strip
    as it is written (by one writer thread); :meth:`check` raises
    :class:`ImplausibleDataError` when too many valid pixels are out of range.
    """

    def __init__(self, lo: float, hi: float, units: str = "K") -> None:
        self.lo, self.hi, self.units = lo, hi, units
        self.valid = 0
        self.outside = 0
        self.vmin = math.inf
        self.vmax = -math.inf

    def update(self, values: npt.NDArray[Any]) -> None:
        v = np.asarray(values)
        self.valid += v.size - int(np.count_nonzero(np.isnan(v)))
        out = int(np.count_nonzero(v < self.lo)) + int(np.count_nonzero(v > self.hi))
        if out:
            self.outside += out
            self.vmin = min(self.vmin, float(np.nanmin(v)))
            self.vmax = max(self.vmax, float(np.nanmax(v)))

    def check(self, what: str) -> None:
        """Raise :class:`ImplausibleDataError` if more than 1 % of the valid pixels are out of range."""
        if self.outside == 0 or self.outside <= MAX_OUTLIER_FRACTION * self.valid:
            return
        u = self.units
        raise ImplausibleDataError(
            f"{what}: {self.outside} of {self.valid} valid pixels "
            f"({100.0 * self.outside / max(self.valid, 1):.0f} %) are outside the plausible "
            f"{self.lo:g} to {self.hi:g} {u} (values reach {self.vmin:.4g} to {self.vmax:.4g} {u}); "
            f"{LIKELY_CAUSES}. Nothing was written"
        )


def lst_range_count(units: str | None) -> RangeCount | None:
    """The :class:`RangeCount` of an LST raster in ``units`` (``K``/``degC``); None otherwise."""
    unit = parse_temperature_units(units, strict=False) if units else None
    if unit is None:
        return None
    shift = 0.0 if unit == "K" else -KELVIN_OFFSET
    return RangeCount(LST_RANGE_K[0] + shift, LST_RANGE_K[1] + shift, unit)


def _open(path: Path, what: str) -> Any:
    try:
        return rasterio.open(path)
    except rasterio.errors.RasterioIOError as exc:
        raise SceneError(f"cannot read the {what} {path} as a raster ({exc})") from exc


def _sample(ds: Any, band: int, path: Path) -> npt.NDArray[np.float64]:
    """Finite values of ``band`` on a decimated grid (at most ~65 k pixels)."""
    f = max(1, math.ceil(math.sqrt(ds.height * ds.width / _SAMPLE_PIXELS)))
    shape = (max(1, ds.height // f), max(1, ds.width // f))
    try:
        data = ds.read(band, out_shape=shape, masked=True, resampling=Resampling.nearest)
    except (rasterio.errors.RasterioIOError, rasterio.errors.RasterioError) as exc:
        raise SceneError(f"cannot read {path} ({exc}); is the file complete?") from exc
    v = np.ma.filled(data.astype(np.float64), np.nan)
    return v[np.isfinite(v)]


def check_temperature_raster(path: str | os.PathLike[str], what: str = "LST raster") -> str:
    """Refuse ``path`` unless it is one band of plausible temperatures; return its unit (K/degC).

    The unit comes from the band unit or the ``UNITS`` tag (kelvin when neither says).
    """
    p = Path(path)
    with _open(p, what) as ds:
        if ds.count != 1:
            names = ", ".join(d or f"band {i}" for i, d in enumerate(ds.descriptions, 1))
            raise ImplausibleDataError(
                f"the {what} {p} has {ds.count} bands ({names}), not one band of temperatures; "
                "give an LST GeoTIFF (pix2lst physics / predict). Were two inputs swapped?"
            )
        raw = (ds.units[0] if ds.units else None) or ds.tags().get("UNITS") or "K"
        unit = parse_temperature_units(raw, strict=False) or "K"
        values = _sample(ds, 1, p)
    if values.size:
        median = float(np.median(values)) - (0.0 if unit == "K" else -KELVIN_OFFSET)
        lo, hi = LST_RANGE_K
        if not lo <= median <= hi:
            raise ImplausibleDataError(
                f"the {what} {p} does not look like a temperature: its median is {median:.4g} K "
                f"(read as {unit}), outside {lo:g}-{hi:g} K; give an LST GeoTIFF "
                "(pix2lst physics / predict). Were two inputs swapped?"
            )
    return unit


COMPOSITE_BANDS = ("B1", "B2", "B3", "B4", "B5", "B6", "B7", "B10")


def check_composite_raster(
    path: str | os.PathLike[str], bands: tuple[str, ...] | None = None, what: str = "composite"
) -> None:
    """Refuse ``path`` unless it holds ``bands`` (by description, else in order) with plausible values.

    ``bands=None``: the bands its descriptions name (B1-B7, B10 when it has eight unnamed
    ones). A ``toa`` composite (the default) must have reflectance-like reflective bands
    and a brightness temperature in B10/B11; a ``dn`` composite (``UNITS=dn`` tag) only
    its band count.
    """
    from pix2lst.geo.bands import band_indexes, band_key

    p = Path(path)
    with _open(p, what) as ds:
        if bands is None:
            named = tuple(band_key(d) for d in ds.descriptions)
            if all(named):
                bands = named
            elif ds.count == len(COMPOSITE_BANDS):
                bands = COMPOSITE_BANDS
            else:
                bands = tuple(f"band {i}" for i in range(1, max(ds.count, 2) + 1))
            if ds.count < 2:
                bands = ("B1", "...", "B10")
        if ds.count < len(bands):
            raise ImplausibleDataError(
                f"the {what} {p} has {ds.count} band(s), not the {len(bands)} it needs "
                f"({', '.join(bands)}); give the composite of `pix2lst composite`. "
                "Were two inputs swapped?"
            )
        try:
            indexes = band_indexes(ds.descriptions, bands, source=str(p), consumer=f"the {what}")
        except SceneError as exc:
            raise ImplausibleDataError(str(exc)) from exc
        if (ds.tags().get("UNITS") or "toa").lower() == "dn" or not all(
            band_key(b).startswith(("B", "SR_B")) and band_key(b)[-1].isdigit() for b in bands
        ):
            return
        for name, index in zip(bands, indexes, strict=True):
            values = _sample(ds, index, p)
            if not values.size:
                continue
            median = float(np.median(values))
            thermal = band_key(name).removeprefix("ST_") in ("B10", "B11", "TRAD")
            lo, hi = LST_RANGE_K if thermal else REFLECTANCE_RANGE
            if not lo <= median <= hi:
                kind = "a brightness temperature in K" if thermal else "a reflectance"
                raise ImplausibleDataError(
                    f"band {name} of the {what} {p} has median {median:.4g}, not {kind} "
                    f"({lo:g} to {hi:g}); {LIKELY_CAUSES}"
                )

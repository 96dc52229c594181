"""Temperature units: one spelling on disk, one conversion.

Files carry ``K`` or ``degC`` (UDUNITS spelling, what CF and GDAL's "Unit Type"
readers expect). Functions accept ``"K"``, ``"C"`` or ``"degC"`` (and the usual
spellings when reading files written by other tools).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from pix2lst.errors import ParameterError

__all__ = [
    "KELVIN_OFFSET",
    "TEMPERATURE_UNITS",
    "kelvin_shift",
    "parse_temperature_units",
    "to_kelvin",
]

KELVIN_OFFSET = 273.15
"""0 degC in kelvin."""

TEMPERATURE_UNITS = ("K", "degC")
"""The unit strings pix2lst writes."""

_CELSIUS = {"c", "°c", "degc", "deg_c", "celsius", "degrees celsius", "degree celsius",
            "degree_celsius", "degrees_celsius"}  # fmt: skip
_KELVIN = {"k", "kelvin", "degk", "kelvins"}


def parse_temperature_units(units: str | None, *, strict: bool = True) -> str | None:
    """``"K"`` or ``"degC"`` for any usual spelling; None for an unknown one when not strict.

    Raises :class:`ParameterError` for an unknown spelling when ``strict``.
    """
    key = (units or "").strip().lower()
    if key in _KELVIN:
        return "K"
    if key in _CELSIUS:
        return "degC"
    if strict:
        raise ParameterError(f"units must be 'K' or 'C' (degC), not {units!r}")
    return None


def kelvin_shift(units: str) -> float:
    """What to add to kelvin to get ``units``: 0 for K, -273.15 for degC."""
    return 0.0 if parse_temperature_units(units) == "K" else -KELVIN_OFFSET


def to_kelvin(values: npt.ArrayLike, units: str) -> npt.NDArray[np.floating]:
    """``values`` in ``units`` as kelvin (float64 for float64 input, else float32)."""
    arr = np.asarray(values)
    if not np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype(np.float32)
    return arr - kelvin_shift(units)

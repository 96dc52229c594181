"""Landsat MTL metadata: pre-collection, Collection 1 and Collection 2; ``.txt``, ``.json``, ``.xml``.

All three collections write the same ``GROUP``/``KEY = VALUE`` tree, under different
group names: pre-collection and C1 use ``L1_METADATA_FILE`` with
``RADIOMETRIC_RESCALING``/``TIRS_THERMAL_CONSTANTS``; C2 uses
``LANDSAT_METADATA_FILE`` with ``LEVEL1_RADIOMETRIC_RESCALING``/
``LEVEL1_THERMAL_CONSTANTS`` (and, at Level 2, ``LEVEL2_SURFACE_*_PARAMETERS``).
The parser reads the tree into ``{group: {key: text}}`` and looks keys up in a
per-quantity list of groups, so that e.g. the L1 TOA ``REFLECTANCE_MULT`` of an
L2 MTL is never confused with its surface-reflectance rescaling.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from pix2lst.errors import MetadataError

__all__ = [
    "L2_SR_ADD",
    "L2_SR_MULT",
    "SUPPORTED_SPACECRAFT",
    "THERMAL_CONSTANTS",
    "MtlMetadata",
    "parse_mtl",
    "parse_mtl_text",
    "read_mtl",
]

log = logging.getLogger(__name__)

Groups = dict[str, dict[str, str]]

_L1_RESCALING = ("LEVEL1_RADIOMETRIC_RESCALING", "RADIOMETRIC_RESCALING")
_THERMAL = ("LEVEL1_THERMAL_CONSTANTS", "TIRS_THERMAL_CONSTANTS", "THERMAL_CONSTANTS")
_SR = ("LEVEL2_SURFACE_REFLECTANCE_PARAMETERS",)
_ST = ("LEVEL2_SURFACE_TEMPERATURE_PARAMETERS",)
_GENERAL = (
    "PRODUCT_CONTENTS",
    "IMAGE_ATTRIBUTES",
    "PRODUCT_METADATA",
    "METADATA_FILE_INFO",
    "LEVEL1_PROCESSING_RECORD",
    "LEVEL2_PROCESSING_RECORD",
)
_BANDS = tuple(f"B{i}" for i in range(1, 12))
_EMPTY: Mapping[str, float] = MappingProxyType({})


def _frozen(d: Mapping[str, float]) -> Mapping[str, float]:
    return MappingProxyType(dict(d))


#: Collection-2 Level-2 surface reflectance rescaling (used when the MTL lacks it):
#: rho_SR = DN * 2.75e-5 - 0.2 (Landsat 8-9 C2 L2 Science Product Guide, LSDS-1619).
L2_SR_MULT = 2.75e-5
L2_SR_ADD = -0.2


@dataclass(frozen=True, eq=False)
class MtlMetadata:
    """What the physics chain needs from an MTL; band keys are ``"B1"`` .. ``"B11"``.

    Units: ``radiance_mult``/``radiance_add`` in W/(m2 sr um) per DN;
    ``reflectance_mult``/``reflectance_add`` TOA reflectance per DN (unitless,
    before the sun-elevation correction); ``k1`` in W/(m2 sr um), ``k2`` in K;
    ``sun_elevation`` in degrees; ``sr_mult``/``sr_add`` (Level 2 only) surface
    reflectance per DN; ``st_mult``/``st_add`` (Level 2 only) kelvin per ST_B10 DN.
    ``collection`` is 0 for pre-collection, else 1 or 2.
    """

    path: Path
    spacecraft: str
    sensor: str
    scene_id: str
    date: dt.date
    sun_elevation: float
    collection: int
    level: Literal["L1", "L2"]
    processing_level: str
    earth_sun_distance: float | None = None
    radiance_mult: Mapping[str, float] = field(default_factory=lambda: _EMPTY)
    radiance_add: Mapping[str, float] = field(default_factory=lambda: _EMPTY)
    reflectance_mult: Mapping[str, float] = field(default_factory=lambda: _EMPTY)
    reflectance_add: Mapping[str, float] = field(default_factory=lambda: _EMPTY)
    k1: Mapping[str, float] = field(default_factory=lambda: _EMPTY)
    k2: Mapping[str, float] = field(default_factory=lambda: _EMPTY)
    sr_mult: Mapping[str, float] = field(default_factory=lambda: _EMPTY)
    sr_add: Mapping[str, float] = field(default_factory=lambda: _EMPTY)
    st_mult: float | None = None
    st_add: float | None = None
    file_names: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    scene_center_time: str | None = None
    """``SCENE_CENTER_TIME`` as written (``HH:MM:SS.fffffffZ``, UTC), when the MTL has it."""
    product_id: str | None = None
    """``LANDSAT_PRODUCT_ID`` (Collection 1/2: ``LC09_L1TP_063046_20230714_20230714_02_T1``)."""
    landsat_scene_id: str | None = None
    """``LANDSAT_SCENE_ID`` (``LC80200392015216LGN00``), when the MTL has it."""

    def __post_init__(self) -> None:
        if not -90.0 <= self.sun_elevation <= 90.0:
            raise MetadataError(
                f"SUN_ELEVATION = {self.sun_elevation} in {self.path} is not an angle in degrees"
            )
        if self.level not in ("L1", "L2"):
            raise MetadataError(f"level must be 'L1' or 'L2', got {self.level!r}")

    def _need(self, table: Mapping[str, float], band: str, key: str) -> float:
        try:
            return table[band]
        except KeyError:
            n = band.removeprefix("B")
            raise MetadataError(
                f"{key}_BAND_{n} is missing from {self.path}; the chain needs it for {band}. "
                "Use the scene's complete USGS MTL file."
            ) from None

    def thermal(self, band: str = "B10") -> tuple[float, float, float, float]:
        """``(ML, AL, K1, K2)`` of a thermal band: radiance = ML*DN + AL; BT = K2/ln(K1/L + 1)."""
        return (
            self._need(self.radiance_mult, band, "RADIANCE_MULT"),
            self._need(self.radiance_add, band, "RADIANCE_ADD"),
            self._need(self.k1, band, "K1_CONSTANT"),
            self._need(self.k2, band, "K2_CONSTANT"),
        )

    def toa_reflectance(self, band: str) -> tuple[float, float]:
        """``(M_rho, A_rho)`` of a reflective band (TOA, before the sun-elevation correction).

        Raises :class:`MetadataError` when the sun is at or below the horizon
        (``SUN_ELEVATION <= 0``): a night scene has no reflectance to calibrate.
        """
        if self.sun_elevation <= 0.0:
            raise MetadataError(
                f"SUN_ELEVATION = {self.sun_elevation} in {self.path}: the sun is at or below "
                "the horizon, so TOA reflectance and NDVI cannot be computed; pix2lst "
                "needs a daytime scene (sun elevation > 0) for reflectance, NDVI emissivity "
                "and the composite"
            )
        return (
            self._need(self.reflectance_mult, band, "REFLECTANCE_MULT"),
            self._need(self.reflectance_add, band, "REFLECTANCE_ADD"),
        )

    def surface_reflectance(self, band: str) -> tuple[float, float]:
        """``(M, A)`` of a Level-2 SR band; the C2 defaults 2.75e-5 / -0.2 if the MTL lacks them."""
        return self.sr_mult.get(band, L2_SR_MULT), self.sr_add.get(band, L2_SR_ADD)


# --------------------------------------------------------------------------- parsing


def parse_mtl_text(text: str, source: str = "<text>") -> Groups:
    """Parse ODL ``GROUP = X`` / ``KEY = VALUE`` / ``END_GROUP`` text into ``{group: {key: value}}``.

    Quotes are stripped; nested groups are flattened under their innermost name.
    """
    groups: Groups = {}
    stack: list[str] = []
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line == "END":
            continue
        if "=" not in line:
            raise MetadataError(f"{source}:{lineno}: not 'KEY = VALUE': {raw!r}")
        key, _, value = (s.strip() for s in line.partition("="))
        if key == "GROUP":
            stack.append(value)
            groups.setdefault(value, {})
        elif key == "END_GROUP":
            if not stack or stack[-1] != value:
                raise MetadataError(f"{source}:{lineno}: END_GROUP = {value} closes no open group")
            stack.pop()
        elif stack:
            group, text = groups[stack[-1]], value.strip('"')
            if key in group and group[key] != text:
                raise MetadataError(
                    f"{source}:{lineno}: {key} is given twice in group {stack[-1]} with "
                    f"different values ({group[key]!r}, then {text!r}); which one is right "
                    "cannot be told: use the scene's original USGS MTL file"
                )
            group[key] = text
        else:
            raise MetadataError(f"{source}:{lineno}: {key} outside any GROUP")
    if stack:
        raise MetadataError(f"{source}: group {stack[-1]} is never closed (truncated file?)")
    return groups


def _walk(node: Mapping[str, Any], name: str, groups: Groups) -> None:
    leaf: dict[str, str] = {}
    for key, value in node.items():
        if isinstance(value, Mapping):
            _walk(value, key, groups)
        else:
            leaf[key] = str(value)
    groups.setdefault(name, {}).update(leaf)


def _parse_json(text: str, source: str) -> Groups:
    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in items:
            if key in out and out[key] != value:
                raise MetadataError(
                    f"{source}: {key} is given twice with different values ({out[key]!r}, then "
                    f"{value!r}); use the scene's original USGS MTL file"
                )
            out[key] = value
        return out

    try:
        tree = json.loads(text, object_pairs_hook=pairs)
    except json.JSONDecodeError as exc:
        raise MetadataError(f"{source} is not valid JSON: {exc}") from exc
    if not isinstance(tree, Mapping):
        raise MetadataError(f"{source}: expected a JSON object of MTL groups")
    groups: Groups = {}
    _walk(tree, "", groups)
    return groups


def _parse_xml(text: str, source: str) -> Groups:
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise MetadataError(f"{source} is not valid XML: {exc}") from exc
    groups: Groups = {}

    def walk(el: ET.Element) -> None:
        leaf = groups.setdefault(el.tag, {})
        for child in el:
            if len(child):
                walk(child)
            else:
                text = (child.text or "").strip()
                if leaf.get(child.tag, text) != text:
                    raise MetadataError(
                        f"{source}: {child.tag} is given twice with different values "
                        f"({leaf[child.tag]!r}, then {text!r}); use the original USGS MTL file"
                    )
                leaf[child.tag] = text

    walk(root)
    return groups


class _Lookup:
    """Typed key access over parsed groups, with errors that name key and file."""

    def __init__(self, groups: Groups, path: Path) -> None:
        self.groups = groups
        self.path = path

    def text(self, key: str, where: tuple[str, ...] = _GENERAL) -> str | None:
        for g in where:
            value = self.groups.get(g, {}).get(key)
            if value is not None and value != "":
                return value
        return None

    def need(self, key: str, where: tuple[str, ...] = _GENERAL) -> str:
        value = self.text(key, where)
        if value is None:
            raise MetadataError(
                f"{key} is missing from {self.path} (looked in {', '.join(where)}); "
                "is this a complete Landsat MTL file?"
            )
        return value

    def number(self, key: str, where: tuple[str, ...] = _GENERAL) -> float | None:
        value = self.text(key, where)
        if value is None:
            return None
        try:
            number = float(value)
        except ValueError:
            raise MetadataError(f"{key} = {value!r} in {self.path} is not a number") from None
        if not math.isfinite(number):
            raise MetadataError(
                f"{key} = {value!r} in {self.path} is not a finite number; use the scene's "
                "original USGS MTL file"
            )
        return number

    def per_band(self, prefix: str, where: tuple[str, ...]) -> dict[str, float]:
        out = {}
        for band in _BANDS:
            value = self.number(f"{prefix}_BAND_{band[1:]}", where)
            if value is not None:
                out[band] = value
        return out


def _date(text: str, path: Path) -> dt.date:
    try:
        return dt.date.fromisoformat(text.strip()[:10])
    except ValueError:
        raise MetadataError(
            f"DATE_ACQUIRED = {text!r} in {path} is not a YYYY-MM-DD date"
        ) from None


SUPPORTED_SPACECRAFT = ("LANDSAT_8", "LANDSAT_9")
"""Missions pix2lst calibrates (OLI/TIRS band numbering and constants)."""

_POSITIVE = ("RADIANCE_MULT", "REFLECTANCE_MULT", "K1_CONSTANT", "K2_CONSTANT")
#: Plausible K1 (W/(m2 sr um)) and K2 (K) of any thermal band (TIRS: K1 480-800, K2 1200-1330).
_THERMAL_RANGE = {"K1_CONSTANT": (100.0, 5000.0), "K2_CONSTANT": (500.0, 5000.0)}


def _check_constants(tables: Mapping[str, Mapping[str, float]], path: Path) -> None:
    """Every multiplicative constant and K1/K2 positive, K1/K2 in a physical range."""
    for prefix in _POSITIVE:
        for band, value in tables[prefix].items():
            key = f"{prefix}_BAND_{band[1:]}"
            lo, hi = _THERMAL_RANGE.get(prefix, (0.0, math.inf))
            if value <= 0.0 or not lo <= value <= hi:
                need = "positive" if hi == math.inf else f"between {lo:g} and {hi:g}"
                raise MetadataError(
                    f"{key} = {value!r} in {path} cannot be right (it must be {need}); "
                    "the calibration would give meaningless values. Use the scene's original "
                    "USGS MTL file"
                )


THERMAL_CONSTANTS: Mapping[str, Mapping[str, tuple[float, float]]] = MappingProxyType(
    {
        "LANDSAT_8": MappingProxyType({"B10": (774.8853, 1321.0789), "B11": (480.8883, 1201.1442)}),
        "LANDSAT_9": MappingProxyType({"B10": (799.0284, 1329.2405), "B11": (475.6581, 1198.3494)}),
    }
)
"""``(K1, K2)`` of the TIRS bands per mission: fixed by the instrument's calibration, the
same in every MTL of the mission (pre-collection, Collection 1 and 2)."""

_THERMAL_TOLERANCE = 1e-4
"""Relative difference within which an MTL's K1/K2 count as the mission's constants."""


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= _THERMAL_TOLERANCE * abs(b)


def _check_thermal(
    spacecraft: str, k1: Mapping[str, float], k2: Mapping[str, float], path: Path
) -> None:
    """Band 10's K1/K2 must be the mission's (band 11's, or the other mission's, are named)."""
    if "B10" not in k1 and "B10" not in k2:
        return
    want = THERMAL_CONSTANTS[spacecraft]["B10"]
    got = (k1.get("B10", want[0]), k2.get("B10", want[1]))
    if _close(got[0], want[0]) and _close(got[1], want[1]):
        return
    given = f"K1_CONSTANT_BAND_10 = {got[0]!r}, K2_CONSTANT_BAND_10 = {got[1]!r}"
    mission = spacecraft.replace("_", " ").title()
    whose = "they are not band 10's"
    for craft, bands in THERMAL_CONSTANTS.items():
        for band, (c1, c2) in bands.items():
            if (craft, band) != (spacecraft, "B10") and _close(got[0], c1) and _close(got[1], c2):
                other = craft.replace("_", " ").title()
                whose = f"these are {other}'s band-{band[1:]} constants"
    raise MetadataError(
        f"{given} in {path}, a {mission} MTL: {whose} ({mission}'s band 10 has K1 "
        f"{want[0]}, K2 {want[1]}), so brightness temperatures would be wrong; use the "
        "scene's original USGS MTL file"
    )


def _build(groups: Groups, path: Path) -> MtlMetadata:
    q = _Lookup(groups, path)
    spacecraft = q.need("SPACECRAFT_ID").strip().upper()
    if spacecraft not in SUPPORTED_SPACECRAFT:
        raise MetadataError(
            f"{path} is a {spacecraft} scene; pix2lst supports Landsat 8 and Landsat 9 "
            f"(SPACECRAFT_ID {' or '.join(SUPPORTED_SPACECRAFT)}) only: other missions have "
            "other bands and constants"
        )
    sun = q.number("SUN_ELEVATION")
    if sun is None:
        q.need("SUN_ELEVATION")
    collection_text = q.text("COLLECTION_NUMBER")
    try:
        collection = int(collection_text) if collection_text is not None else 0
    except ValueError:
        raise MetadataError(
            f"COLLECTION_NUMBER = {collection_text!r} in {path} is not an integer"
        ) from None
    processing = q.text("PROCESSING_LEVEL", ("PRODUCT_CONTENTS", "LEVEL2_PROCESSING_RECORD"))
    processing = processing or q.text("DATA_TYPE") or "L1"
    level: Literal["L1", "L2"] = "L2" if processing.upper().startswith("L2") else "L1"
    file_names: dict[str, str] = {}
    for g in ("PRODUCT_CONTENTS", "PRODUCT_METADATA"):
        for key, value in groups.get(g, {}).items():
            if key.startswith("FILE_NAME_"):
                file_names.setdefault(key.removeprefix("FILE_NAME_"), value)
    st_mult = q.number("TEMPERATURE_MULT_BAND_ST_B10", _ST)
    st_add = q.number("TEMPERATURE_ADD_BAND_ST_B10", _ST)
    esd = q.number("EARTH_SUN_DISTANCE")
    tables = {
        prefix: q.per_band(prefix, _L1_RESCALING if prefix.endswith("MULT") else _THERMAL)
        for prefix in _POSITIVE
    }
    _check_constants(tables, path)
    _check_thermal(spacecraft, tables["K1_CONSTANT"], tables["K2_CONSTANT"], path)
    if st_mult is not None and st_mult <= 0.0:
        raise MetadataError(
            f"TEMPERATURE_MULT_BAND_ST_B10 = {st_mult!r} in {path} must be positive; use the "
            "scene's original USGS MTL file"
        )
    return MtlMetadata(
        path=path,
        spacecraft=spacecraft,
        sensor=q.text("SENSOR_ID") or "",
        scene_id=q.text("LANDSAT_PRODUCT_ID") or q.need("LANDSAT_SCENE_ID"),
        date=_date(q.need("DATE_ACQUIRED"), path),
        sun_elevation=float(sun),  # type: ignore[arg-type]
        collection=collection,
        level=level,
        processing_level=processing,
        earth_sun_distance=esd,
        radiance_mult=_frozen(tables["RADIANCE_MULT"]),
        radiance_add=_frozen(q.per_band("RADIANCE_ADD", _L1_RESCALING)),
        reflectance_mult=_frozen(tables["REFLECTANCE_MULT"]),
        reflectance_add=_frozen(q.per_band("REFLECTANCE_ADD", _L1_RESCALING)),
        k1=_frozen(tables["K1_CONSTANT"]),
        k2=_frozen(tables["K2_CONSTANT"]),
        sr_mult=_frozen(q.per_band("REFLECTANCE_MULT", _SR)),
        sr_add=_frozen(q.per_band("REFLECTANCE_ADD", _SR)),
        st_mult=st_mult,
        st_add=st_add,
        file_names=MappingProxyType(file_names),
        scene_center_time=(q.text("SCENE_CENTER_TIME") or "").strip('"') or None,
        product_id=q.text("LANDSAT_PRODUCT_ID"),
        landsat_scene_id=q.text("LANDSAT_SCENE_ID"),
    )


_SUFFIX = re.compile(r"\.(txt|json|xml)$", re.IGNORECASE)


def parse_mtl(text: str, source: str, kind: str | None = None) -> MtlMetadata:
    """Parse MTL ``text`` (``kind`` ``txt``/``json``/``xml``; from ``source``'s suffix if None).

    ``source`` (a path or URL) names the file in messages; remote scenes use this.
    """
    if kind is None:
        match = _SUFFIX.search(source)
        kind = match.group(1).lower() if match else "txt"
    if kind == "json":
        groups = _parse_json(text, source)
    elif kind == "xml":
        groups = _parse_xml(text, source)
    else:
        groups = parse_mtl_text(text, source)
    if not groups:
        raise MetadataError(f"{source} holds no MTL groups; is it a Landsat metadata file?")
    return _build(groups, Path(source))


def read_mtl(path: str | os.PathLike[str]) -> MtlMetadata:
    """Read a Landsat MTL file (``.txt`` ODL, ``.json`` or ``.xml``) into :class:`MtlMetadata`.

    Raises :class:`MetadataError` when the file is missing or unreadable, is not an
    MTL, or lacks a key every scene has (spacecraft, date, sun elevation, scene id).
    Per-band constants that are absent are reported when a computation needs them.
    """
    p = Path(path)
    if not p.is_file():
        raise MetadataError(f"MTL file {p} does not exist; pass the scene's *_MTL.txt/.json/.xml")
    match = _SUFFIX.search(p.name)
    kind = match.group(1).lower() if match else "txt"
    try:
        text = p.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise MetadataError(f"cannot read MTL file {p}: {exc}") from exc
    mtl = parse_mtl(text, str(p), kind)
    log.debug("read %s: %s %s level %s", p, mtl.spacecraft, mtl.scene_id, mtl.level)
    return mtl

"""Scene discovery: a folder or an MTL path in, band files out.

Band files are recognised by their last ``_``-separated token, case-insensitively:
USGS names (``LC09_L1TP_..._B10.TIF``), lower case (``..._b10.tif``), the embedded
sample's ``test_B10.tif``, and Level-2 bundles (``SR_B4``, ``ST_B10``, ``ST_TRAD``,
``ST_URAD``, ``ST_DRAD``, ``ST_ATRAN``, ``ST_EMIS``, ``QA_PIXEL`` ...). Only files
sharing the MTL's prefix belong to the scene, so a folder may hold other files.

In a Level-2 scene the composite names resolve to the L2 products: ``B1``..``B7``
to ``SR_B1``..``SR_B7`` (surface reflectance, not TOA) and ``B10`` to ``ST_TRAD``
(the band-10 at-sensor radiance, from which brightness temperature follows).
"""

from __future__ import annotations

import os
import re
import urllib.parse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Literal

from pix2lst.errors import BandNotFoundError, SceneError
from pix2lst.geo.mtl import MtlMetadata, read_mtl

__all__ = [
    "Location",
    "Scene",
    "band_token",
    "check_band_dtype",
    "claims_as_scene_file",
    "is_remote",
    "is_scene",
    "is_stac",
    "local_scene",
    "product_of_name",
    "scene_from_files",
    "url_name",
]

Location = Path | str
"""Where a band lives: a local ``Path``, or a GDAL path / URL string (``/vsicurl/...``,
``https://...``) that ``pathlib`` must never touch (it collapses ``//``)."""

_REMOTE = ("http://", "https://", "s3://", "gs://", "/vsi")

_TOKEN = re.compile(
    r"(?:^|(?<=_))(?P<token>SR_B\d{1,2}|SR_QA_AEROSOL|ST_[A-Z0-9]+|QA_[A-Z]+|BQA|B\d{1,2})"
    r"\.tiff?$",
    re.IGNORECASE,
)
_VCID = re.compile(r"_B6_VCID_[12]\.tiff?$", re.IGNORECASE)
_MTL = re.compile(r"MTL\.(txt|json|xml)$", re.IGNORECASE)
_MTL_PREFERENCE = {"txt": 0, "json": 1, "xml": 2}
_L2_ALIASES = {**{f"B{i}": f"SR_B{i}" for i in range(1, 8)}, "B10": "ST_TRAD"}


@dataclass(frozen=True, eq=False)
class Scene:
    """A Landsat scene on disk: its folder, parsed MTL, band files and processing level.

    ``bands`` maps upper-case tokens (``"B4"``, ``"BQA"``, ``"SR_B4"``, ``"ST_TRAD"``,
    ``"QA_PIXEL"`` ...) to files; for a Level-2 scene it also maps the composite
    names ``B1``..``B7``/``B10`` to ``SR_B1``..``SR_B7``/``ST_TRAD`` when present.
    """

    root: Location
    mtl: MtlMetadata
    bands: Mapping[str, Location]
    level: Literal["L1", "L2"]

    @property
    def scene_id(self) -> str:
        return self.mtl.scene_id

    @property
    def product_id(self) -> str:
        """The scene's identity: its MTL's ``LANDSAT_PRODUCT_ID`` (Collection 1/2, e.g.
        ``LC09_L1TP_063046_20230714_20230714_02_T1``), or ``LANDSAT_SCENE_ID`` for a
        pre-collection scene.

        The same whichever way the scene was given (a folder, its MTL, an MTL URL, a
        STAC item or USGS's SR and ST items together): outputs are named after it and
        a batch's duplicate check compares it.
        """
        return self.mtl.product_id or self.mtl.scene_id

    def has(self, name: str) -> bool:
        return name.upper() in self.bands

    def band_path(self, name: str) -> Location:
        """Path of band ``name`` (case-insensitive); :class:`BandNotFoundError` if absent."""
        key = name.upper()
        try:
            return self.bands[key]
        except KeyError:
            found = ", ".join(sorted(self.bands)) or "none"
            hint = ""
            if self.level == "L2" and key == "B10":
                hint = (
                    " This Level-2 bundle has no ST_TRAD (band-10 TOA radiance), so brightness"
                    " temperature cannot be computed; download ST_TRAD or the L1 B10 band."
                )
            raise BandNotFoundError(
                f"band {key} not found in scene {self.root} ({self.mtl.scene_id}); "
                f"bands found: {found}.{hint}"
            ) from None

    def quality_band(self) -> tuple[str, Location]:
        """``("QA_PIXEL", path)`` (Collection 2) or ``("BQA", path)`` (pre-collection, C1)."""
        for name in ("QA_PIXEL", "BQA"):
            if name in self.bands:
                return name, self.bands[name]
        raise BandNotFoundError(
            f"no quality band (QA_PIXEL or BQA) in scene {self.root}, so clouds cannot be "
            f"masked; bands found: {', '.join(sorted(self.bands))}. Drop --mask-clouds or "
            "add the QA band."
        )


def _mtl_prefix(mtl_path: Path) -> str:
    return _MTL.sub("", mtl_path.name)


def _choose_mtl(folder: Path) -> Path:
    candidates = [p for p in folder.iterdir() if p.is_file() and _MTL.search(p.name)]
    if not candidates:
        raise SceneError(
            f"no MTL file (*_MTL.txt, *_MTL.json or *_MTL.xml) in {folder}; a Landsat scene "
            "folder needs its metadata file for the calibration constants"
        )
    prefixes = sorted({_mtl_prefix(p) for p in candidates})
    if len(prefixes) > 1:
        names = ", ".join(sorted(p.name for p in candidates))
        raise SceneError(
            f"{folder} holds several scenes ({names}); pass the MTL file of the one you mean"
        )
    return min(candidates, key=lambda p: _MTL_PREFERENCE[_MTL.search(p.name).group(1).lower()])  # type: ignore[union-attr]


def band_token(name: str) -> str | None:
    """The band a file name claims by its last token (``..._SR_B4.TIF`` -> ``SR_B4``,
    ``test_b10.tif`` -> ``B10``), upper case; None when the name claims no band."""
    m = _TOKEN.search(url_name(name) if is_remote(name) else name)
    return m.group("token").upper() if m else None


_PRODUCT = re.compile(
    r"^(?P<id>L[COTE]0\d_L\d[A-Z]{2}_\d{6}_\d{8}_\d{8}_\d{2}_(?:T1|T2|RT|A1|A2))(?:_|$)",
    re.IGNORECASE,
)
_PRECOLLECTION = re.compile(r"^(?P<id>L[COTE]\d{14}[A-Z]{3}\d{2})(?:_|$)", re.IGNORECASE)


def product_of_name(name: str) -> str | None:
    """The Landsat product id (``LC09_L1TP_063046_20230714_20230714_02_T1``) or pre-collection
    scene id (``LC80200392015216LGN00``) a file name or item id starts with, upper case;
    None when it starts with neither."""
    m = _PRODUCT.match(name) or _PRECOLLECTION.match(name)
    return m.group("id").upper() if m else None


_THERMAL_DN = ("B10", "B11")


def check_band_dtype(name: str, location: Location, dtype: str) -> None:
    """Refuse a thermal band file whose data type cannot hold Level-1 TIRS DN, in one line.

    Landsat-8/9 Level-1 bands are unsigned 16-bit: a ``B10``/``B11`` file (by its name's
    band suffix) of any other type was converted or is not a TIRS band, and an 8-bit
    file under the name ``B10`` never holds thermal DN; calibrated as DN, either gives
    a plausible-looking but wrong temperature. Other bands pass.
    """
    token = band_token(str(location))
    claimed = token or name.upper()
    if claimed not in _THERMAL_DN:
        return
    if dtype == "uint16" or (token is None and dtype not in ("uint8", "int8")):
        return
    raise SceneError(
        f"band {claimed} ({location}) is {dtype}, but Landsat-8/9 Level-1 thermal DN are "
        "uint16: the file was converted or is not a TIRS band, and its values would give "
        "wrong temperatures; use the scene's original USGS band file"
    )


def is_remote(location: object) -> bool:
    """True for a URL or GDAL virtual path (``https://``, ``s3://``, ``/vsicurl/`` ...)."""
    return isinstance(location, str) and location.startswith(_REMOTE)


def url_name(location: str) -> str:
    """The file name of a path or URL, without a URL's query string or fragment
    (``https://h/a/x_MTL.txt?sig=1`` -> ``x_MTL.txt``)."""
    if is_remote(location) and "://" in location:
        location = urllib.parse.urlsplit(location.removeprefix("/vsicurl/")).path
    return location.rstrip("/").rsplit("/", 1)[-1]


def is_stac(path: object) -> bool:
    """A pystac Item / STAC dict (or a list of them), or a ``.json`` location that is not
    an MTL file."""
    if not isinstance(path, (str, os.PathLike)):
        return True
    name = os.fspath(path)
    if is_remote(name):
        name = url_name(name)
    return name.lower().endswith(".json") and not _MTL.search(name)


def is_scene(path: object) -> bool:
    """True for what :func:`pix2lst.geo.inputs.find_scene` takes: a folder, an MTL file (``*MTL.txt/.json/.xml``,
    local or a URL), a STAC item (``.json`` file or URL, ``pystac.Item`` or its dict).

    Anything else (a composite GeoTIFF, local or a COG URL) is not a scene.
    """
    if is_stac(path):
        return True
    name = os.fspath(path)  # type: ignore[call-overload]
    if is_remote(name):  # an MTL URL (query string allowed), or a folder URL (refused later)
        return bool(_MTL.search(url_name(name))) or name.split("?", 1)[0].endswith("/")
    p = Path(name)
    return p.is_dir() or bool(_MTL.search(p.name))


def scene_from_files(
    root: Location, mtl: MtlMetadata, files: Iterable[tuple[str, Location]], prefix: str = ""
) -> Scene:
    """A :class:`Scene` from ``(file name, location)`` pairs: the one band-naming rule.

    A file belongs to the scene when its name starts with ``prefix`` and its next
    token names a band (``B4``, ``SR_B4``, ``ST_TRAD``, ``QA_PIXEL`` ...); the first
    file of each band wins. Level-2 bundles also answer ``B1``..``B7``/``B10``.
    """
    bands: dict[str, Location] = {}
    for name, location in files:
        if not name.upper().startswith(prefix.upper()):
            continue
        m = _TOKEN.search(name)
        if m and m.start() == len(prefix):
            bands.setdefault(m.group("token").upper(), location)
    if not bands:
        raise SceneError(f"no band files named {prefix}<band>.TIF next to the MTL in {root}")
    has_l1 = any(k in bands for k in ("B4", "B5", "B10"))
    level: Literal["L1", "L2"] = mtl.level
    if level == "L1" and not has_l1 and any(k.startswith(("SR_", "ST_")) for k in bands):
        level = "L2"
    if level == "L2" and not has_l1:
        for alias, token in _L2_ALIASES.items():
            if token in bands:
                bands[alias] = bands[token]
    return Scene(root=root, mtl=mtl, bands=MappingProxyType(bands), level=level)


def local_scene(path: str | os.PathLike[str]) -> Scene:
    """Discover a scene on this machine from its folder or its MTL file (``.txt``/``.json``/``.xml``).

    Remote MTL URLs and STAC items are resolved by :func:`pix2lst.geo.inputs.find_scene`,
    which hands local paths to this function.

    Raises :class:`SceneError` if the path does not exist, holds no MTL or several
    scenes, or no band files that match the MTL's prefix.
    """
    p = Path(path)
    if not p.exists():
        raise SceneError(f"scene {p} does not exist; pass a Landsat scene folder or its MTL file")
    if p.is_dir():
        mtl_path = _choose_mtl(p)
    elif is_scene(p):
        mtl_path = p
    else:
        raise SceneError(f"{p} is neither a scene folder nor an MTL file (*_MTL.txt/.json/.xml)")
    root = mtl_path.parent
    prefix = _mtl_prefix(mtl_path)
    vcid = sorted(f.name for f in root.iterdir() if _VCID.search(f.name))
    if vcid:
        raise SceneError(
            f"{root} is a Landsat 7 ETM+ scene ({vcid[0]}: thermal band 6 in two gains); "
            "pix2lst supports Landsat 8 and Landsat 9 (OLI/TIRS) only"
        )
    mtl = read_mtl(mtl_path)
    files = [(f.name, f) for f in sorted(root.iterdir()) if f.is_file()]
    try:
        return scene_from_files(root, mtl, files, prefix)
    except SceneError:
        raise SceneError(
            f"no band files named {prefix}<band>.TIF next to {mtl_path.name} in {root}"
        ) from None


def _scene_files(item: Scene | str | os.PathLike[str]) -> tuple[Path, str] | None:
    """``(folder, prefix)`` of a scene given as a :class:`Scene`, a folder or an MTL path."""
    if isinstance(item, Scene):
        if not isinstance(item.root, Path):  # a remote scene: nothing of it can be overwritten
            return None
        return item.root, _mtl_prefix(Path(item.mtl.path))
    if not isinstance(item, (str, os.PathLike)) or is_remote(os.fspath(item)):
        return None
    p = Path(item)
    try:
        if p.is_dir():
            mtl = _choose_mtl(p)
        elif p.is_file() and _MTL.search(p.name):
            mtl = p
        else:
            return None
    except (SceneError, OSError):
        return None
    return mtl.parent, _mtl_prefix(mtl)


def claims_as_scene_file(item: Scene | str | os.PathLike[str], out: Path) -> str | None:
    """Why writing ``out`` would hit a file of the scene ``item``, or None if it would not.

    ``out`` (or the file it resolves to through links) is refused when it is in the
    scene's folder and named ``<prefix><band token>.TIF`` or ``<prefix>MTL.txt``, i.e.
    it is, or would later be taken for, one of the scene's bands or its metadata.
    """
    found = _scene_files(item)
    if found is None:
        return None
    root, prefix = found
    try:
        root_r = root.resolve()
    except OSError:
        return None
    for cand in {out, out.resolve()}:
        try:
            same_folder = cand.parent.resolve() == root_r
        except OSError:
            continue
        name = cand.name
        if not same_folder or not name.upper().startswith(prefix.upper()):
            continue
        m = _TOKEN.search(name)
        if m and m.start() == len(prefix):
            return f"it is band {m.group('token').upper()} of the input scene {root}"
        if _MTL.search(name) and len(name) - len(_MTL.search(name).group(0)) == len(prefix):  # type: ignore[union-attr]
            return f"it is the metadata (MTL) file of the input scene {root}"
    return None

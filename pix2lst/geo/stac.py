"""STAC items: a Landsat-8/9 item in, a :class:`~pix2lst.geo.scene.Scene` out.

An item is a ``pystac.Item``, its dict, a ``.json`` file or a URL. Its assets are
mapped to bands whichever way the catalogue names them:

1. USGS LandsatLook's file-suffix keys: ``SR_B4.TIF``, ``ST_TRAD.TIF``, ``B10.TIF``,
   ``QA_PIXEL.TIF``, ``MTL.json`` (the token before ``.TIF`` is the band);
2. the common-name keys of other Landsat Collection-2 catalogues: ``coastal``,
   ``blue``, ``green``, ``red``, ``nir08``, ``swir16``, ``swir22``, ``lwir11``,
   ``qa_pixel``, ``mtl.json`` (and ``trad``, ``urad``, ``drad``, ``atran``, ``emis``
   for the Level-2 thermal products); on a Level-2 item the reflective names are the
   ``SR_`` bands and ``lwir11`` is ``ST_B10``;
3. else each asset's ``eo:bands`` (a band ``name`` such as ``SR_B4``/``B4``, or a
   ``common_name``; STAC 0.x items give indexes into the item's ``eo:bands``).

Calibration constants come from the item's MTL asset (``.txt``, ``.json`` or
``.xml``). Items are read as plain JSON, so any STAC version works (the USGS items
are STAC 0.7.0, older than pystac reads by default); pystac is needed only to pass
a ``pystac.Item``. Relative hrefs are resolved against the item's own location.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pix2lst.errors import RemoteError, StacError
from pix2lst.geo.mtl import MtlMetadata, parse_mtl, read_mtl
from pix2lst.geo.remote import (
    check_ranges,
    gdal_path,
    plain_url,
    read_text,
    url_join,
    use_remote_settings,
)
from pix2lst.geo.scene import (
    Location,
    Scene,
    band_token,
    is_remote,
    product_of_name,
    scene_from_files,
    url_name,
)

__all__ = ["COMMON_NAMES", "load_item", "stac_product_id", "stac_scene"]

log = logging.getLogger(__name__)

COMMON_NAMES: Mapping[str, str] = {
    "coastal": "B1",
    "blue": "B2",
    "green": "B3",
    "red": "B4",
    "nir08": "B5",
    "nir": "B5",
    "swir16": "B6",
    "swir22": "B7",
    "pan": "B8",
    "cirrus": "B9",
    "lwir11": "B10",
    "lwir": "B10",
    "tir11": "B10",
    "lwir12": "B11",
    "qa_pixel": "QA_PIXEL",
    "qa_radsat": "QA_RADSAT",
    "bqa": "BQA",
    "trad": "ST_TRAD",
    "urad": "ST_URAD",
    "drad": "ST_DRAD",
    "atran": "ST_ATRAN",
    "emis": "ST_EMIS",
    "emsd": "ST_EMSD",
    "cdist": "ST_CDIST",
}
"""Common-name asset keys (and ``eo:bands`` common names) -> Landsat-8/9 band tokens."""

_TOKEN = re.compile(r"^(SR_B\d{1,2}|SR_QA_AEROSOL|ST_[A-Z0-9]+|QA_[A-Z]+|BQA|B\d{1,2})$")
_MTL_KEY = re.compile(r"(?:^|[_.])MTL[._](TXT|JSON|XML)$", re.IGNORECASE)
_MTL_HREF = re.compile(r"MTL\.(txt|json|xml)$", re.IGNORECASE)
_MISSIONS = ("landsat-8", "landsat-9")


def load_item(item: Any) -> tuple[dict[str, Any], str | None]:
    """The item's dict and its own location (for relative hrefs), from any accepted form."""
    if isinstance(item, Mapping):
        d = dict(item)
        return d, _self_href(d)
    if hasattr(item, "to_dict") and hasattr(item, "assets"):  # a pystac.Item
        d = item.to_dict(include_self_link=False, transform_hrefs=False)
        for key, asset in item.assets.items():  # absolute hrefs, as pystac resolves them
            d["assets"][key]["href"] = asset.get_absolute_href() or asset.href
        return d, item.get_self_href()
    location = os.fspath(item)
    if is_remote(location):
        text = read_text(location)
    else:
        path = Path(location)
        if not path.is_file():
            raise StacError(f"STAC item {path} does not exist; give an item .json file or URL")
        text = path.read_text(encoding="utf-8")
        location = str(path.resolve())
    try:
        d = json.loads(text)
    except json.JSONDecodeError as exc:
        raise StacError(f"{location} is not JSON ({exc}); give a STAC item") from exc
    if not isinstance(d, dict) or d.get("type") != "Feature":
        kind = d.get("type") if isinstance(d, dict) else type(d).__name__
        raise StacError(
            f"{location} is not a STAC item (type {kind!r}, expected 'Feature'); an "
            "ItemCollection is expanded by `pix2lst batch`, one scene per item"
        )
    return d, location


def _self_href(d: Mapping[str, Any]) -> str | None:
    for link in d.get("links", []) or []:
        if isinstance(link, Mapping) and link.get("rel") == "self" and link.get("href"):
            return str(link["href"])
    return None


def _mission(d: Mapping[str, Any]) -> str:
    props = d.get("properties", {}) or {}
    platform = str(props.get("platform") or props.get("eo:platform") or "")
    return platform.strip().lower().replace("_", "-").replace(" ", "-")


def _check_mission(d: Mapping[str, Any], name: str) -> None:
    platform = _mission(d)
    item_id = str(d.get("id", ""))
    if platform:
        if platform not in _MISSIONS:
            raise StacError(
                f"STAC item {name} is from {platform}, not Landsat-8/9; pix2lst reads "
                "Landsat-8/9 OLI/TIRS scenes only (its calibration and model need their bands)"
            )
    elif item_id and not re.match(r"^L[CO]0[89]", item_id, re.IGNORECASE):
        raise StacError(
            f"STAC item {name} names no platform and its id is not a Landsat-8/9 product id; "
            "pix2lst reads Landsat-8/9 OLI/TIRS scenes only"
        )


def _level2(d: Mapping[str, Any]) -> bool:
    item_id = str(d.get("id", "")).upper()
    props = d.get("properties", {}) or {}
    level = str(props.get("landsat:correction") or props.get("processing:level") or "")
    return "_L2" in item_id or level.upper().startswith("L2")


def _token_of_key(key: str, level2: bool) -> str | None:
    stem = re.sub(r"\.tiff?$", "", key.strip(), flags=re.IGNORECASE)
    upper = stem.upper()
    if _TOKEN.match(upper):
        return upper
    common = COMMON_NAMES.get(stem.lower())
    if common is None:
        return None
    if level2 and re.fullmatch(r"B[1-7]", common):
        return "SR_" + common
    if level2 and common == "B10":
        return "ST_B10"
    return common


def _token_of_eo_bands(
    asset: Mapping[str, Any], props: Mapping[str, Any], level2: bool
) -> str | None:
    bands = asset.get("eo:bands") or []
    if len(bands) != 1:
        return None
    band = bands[0]
    if isinstance(band, int):  # STAC 0.x: an index into the item's eo:bands
        table = props.get("eo:bands") or []
        band = table[band] if 0 <= band < len(table) else {}
    if not isinstance(band, Mapping):
        return None
    for value in (band.get("name"), band.get("common_name")):
        if value:
            token = _token_of_key(str(value), level2)
            if token:
                return token
    return None


def _resolve(href: str, base: str | None) -> Location:
    if is_remote(href):
        return gdal_path(href)
    if href.startswith("file://"):
        return Path(href.removeprefix("file://"))
    if os.path.isabs(href) or base is None:
        return Path(href)
    if is_remote(base):
        return gdal_path(url_join(base, href))
    return Path(base).parent / href


def _read_mtl(href: Location, name: str) -> MtlMetadata:
    if isinstance(href, Path):
        return read_mtl(href)
    plain = plain_url(href)
    match = _MTL_HREF.search(url_name(plain))
    try:
        return parse_mtl(read_text(plain), plain, match.group(1).lower() if match else None)
    except RemoteError as exc:
        raise RemoteError(f"MTL asset of STAC item {name}: {exc}", transient=exc.transient) from exc


def _href_name(location: Location) -> str:
    return location.name if isinstance(location, Path) else url_name(plain_url(location))


@dataclass(frozen=True)
class _Asset:
    """A band asset of an item: its key, the band it claims and where it points."""

    item: str
    key: str
    token: str
    location: Location

    @property
    def name(self) -> str:
        return _href_name(self.location)


def _band_of(token: str) -> str:
    """The band a token measures (``SR_B4`` and ``B4`` -> ``B4``; ``ST_B10`` -> ``B10``)."""
    if re.fullmatch(r"SR_B\d{1,2}", token):
        return token.removeprefix("SR_")
    return "B10" if token == "ST_B10" else token


def _checked_token(asset: _Asset, mtl: MtlMetadata) -> str:
    """The band token of ``asset`` after checking its href against the band it claims.

    The band the href's file is (the MTL's ``FILE_NAME_*`` entry of that name, else
    the file name's band suffix) must be the claimed band (the Level-1/Level-2
    flavour may differ: the file then wins), and a file name that starts with a
    product id must start with the MTL's.
    """
    name = asset.name
    where = f"asset {asset.key!r} of STAC item {asset.item}"
    listed = {f.upper(): band_token(f) for f in mtl.file_names.values()}.get(name.upper())
    found = listed or band_token(name)
    if found is not None and _band_of(found) != _band_of(asset.token):
        raise StacError(
            f"{where} claims band {asset.token} but points at {name} (band {found}); fix "
            "the asset's href or key: its values would be read as the wrong band"
        )
    product = product_of_name(name)
    own = {x.upper() for x in (mtl.product_id, mtl.landsat_scene_id, mtl.scene_id) if x}
    if product is not None and product not in own:
        raise StacError(
            f"{where} points at {name}, a file of {product}, but the item's MTL is of "
            f"{mtl.product_id or mtl.scene_id}; fix the asset's href (one scene per item)"
        )
    return found or asset.token


def _check_identity(d: Mapping[str, Any], name: str, mtl: MtlMetadata, mtl_href: Location) -> None:
    """The MTL asset must be the MTL of the item's own scene."""
    mtl_id = (mtl.product_id or mtl.scene_id).upper()
    props = d.get("properties", {}) or {}
    claims = [
        ("id", product_of_name(str(d.get("id", "")))),
        ("landsat:product_id", product_of_name(str(props.get("landsat:product_id", "")))),
    ]
    for what, value in claims:
        if value and value != mtl_id and value != (mtl.landsat_scene_id or "").upper():
            raise StacError(
                f"the MTL asset of STAC item {name} ({_href_name(mtl_href)}) is the MTL of "
                f"{mtl_id}, but the item's {what} is {value}: the item would be stamped with "
                "another scene's id, date and constants; fix the MTL asset's href"
            )
    scene_id = str(props.get("landsat:scene_id", "")).upper()
    if scene_id and mtl.landsat_scene_id and scene_id != mtl.landsat_scene_id.upper():
        raise StacError(
            f"the MTL asset of STAC item {name} ({_href_name(mtl_href)}) is the MTL of scene "
            f"{mtl.landsat_scene_id}, but the item's landsat:scene_id is {scene_id}; fix the "
            "MTL asset's href"
        )


def _item_assets(
    d: Mapping[str, Any], base: str | None
) -> tuple[list[tuple[str, str, Location]], list[Location]]:
    """``(key, claimed token, location)`` of an item's band assets, and its MTL hrefs (txt
    first)."""
    props = d.get("properties", {}) or {}
    level2 = _level2(d)
    bands: list[tuple[str, str, Location]] = []
    mtls: list[tuple[int, Location]] = []
    for key, asset in (d.get("assets") or {}).items():
        if not isinstance(asset, Mapping) or not asset.get("href"):
            continue
        href = str(asset["href"])
        if _MTL_KEY.search(key) or _MTL_HREF.search(url_name(href) if is_remote(href) else href):
            mtls.append((0 if key.lower().endswith("txt") else 1, _resolve(href, base)))
            continue
        token = _token_of_key(key, level2) or _token_of_eo_bands(asset, props, level2)
        if token:
            bands.append((key, token, _resolve(href, base)))
    return bands, [loc for _, loc in sorted(mtls, key=lambda m: m[0])]


def _items(item: Any) -> list[Any]:
    if isinstance(item, (list, tuple)):
        if not item:
            raise StacError("no STAC item given; give an item, or USGS's SR and ST items together")
        return list(item)
    return [item]


def stac_scene(item: Any) -> Scene:
    """The Landsat-8/9 scene a STAC item describes (bands by asset, constants from its MTL).

    ``item`` may also be a list of items of one scene, as USGS publishes a Level-2
    product in two (``..._SR_stac.json`` with the reflectance bands and
    ``..._ST_stac.json`` with the thermal ones): they become one scene.

    Every band asset is checked against the band it claims: its file name's band
    suffix, the MTL's ``FILE_NAME_*`` entries, and the product id (an ``lwir11`` href
    at the B4 file, red and nir swapped, or an MTL of another scene are refused in
    one line, not computed into a plausible-looking wrong LST).

    Raises :class:`~pix2lst.errors.StacError` for an item of another mission or
    without an MTL asset; a band the computation needs but the item lacks is
    reported by :meth:`Scene.band_path` when asked for.
    """
    loaded = [load_item(i) for i in _items(item)]
    names = []
    assets: list[_Asset] = []
    mtl_hrefs: list[Location] = []
    for d, base in loaded:
        item_id = str(d.get("id", "?"))
        name = f"{item_id} ({base})" if base else item_id
        _check_mission(d, name)
        names.append(name)
        bands, mtls = _item_assets(d, base)
        assets += [_Asset(name, key, token, loc) for key, token, loc in bands]
        mtl_hrefs += mtls
    name = " + ".join(names)
    products = {stac_product_id(d) for d, _ in loaded}
    if len(products) > 1:
        raise StacError(
            f"STAC items {name} are of different scenes ({', '.join(sorted(products))}); "
            "give several items together only for one scene (USGS's SR and ST items)"
        )
    if not mtl_hrefs:
        raise StacError(
            f"STAC item {name} has no MTL asset (MTL.txt/.json/.xml); pix2lst takes the "
            "calibration constants from it. Use the item of the full Collection-2 product"
        )
    mtl = _read_mtl(mtl_hrefs[0], name)
    for (d, _), item_name in zip(loaded, names, strict=True):
        _check_identity(d, item_name, mtl, mtl_hrefs[0])
    if not assets:
        raise StacError(f"STAC item {name} has no band asset pix2lst recognises")
    files: list[tuple[str, Location]] = []
    chosen: dict[str, _Asset] = {}
    by_location: dict[str, _Asset] = {}
    for asset in assets:
        token = _checked_token(asset, mtl)
        same = by_location.get(str(asset.location))
        if same is not None and _band_of(same.token) != _band_of(asset.token):
            raise StacError(
                f"assets {same.key!r} and {asset.key!r} of STAC item {name} point at the same "
                f"file {asset.name} but claim bands {same.token} and {asset.token}; fix the "
                "item's hrefs"
            )
        by_location[str(asset.location)] = asset
        first = chosen.setdefault(token, asset)
        if first is not asset and str(first.location) != str(asset.location):
            raise StacError(
                f"STAC items {name} give band {token} twice ({first.name}, {asset.name}); "
                "give the items of one scene only"
            )
        files.append((f"{token}.TIF", asset.location))
    root = loaded[0][1] or f"STAC item {loaded[0][0].get('id', '?')}"
    scene = scene_from_files(root, mtl, files)
    remote = [str(loc) for loc in scene.bands.values() if is_remote(str(loc))]
    if remote:
        use_remote_settings()
        check_ranges(remote[0])
    log.debug("STAC item %s: bands %s", name, sorted(scene.bands))
    return scene


def stac_product_id(item: Any) -> str:
    """The product id of the scene a STAC item (or a list of USGS's SR/ST items) describes,
    without reading its MTL or any raster: what :attr:`Scene.product_id` of
    :func:`stac_scene` will be.

    Taken from the MTL asset's file name (``<product id>_MTL.txt``), else the item's
    ``landsat:product_id``, else its id without USGS's ``_SR``/``_ST`` suffix.
    """
    d, base = load_item(_items(item)[0])
    _, mtls = _item_assets(d, base)
    props = d.get("properties", {}) or {}
    candidates = [
        *(_MTL_HREF.sub("", _href_name(m)).rstrip("_") for m in mtls),
        str(props.get("landsat:product_id", "")),
        str(d.get("id", "")),
    ]
    for text in candidates:
        found = product_of_name(text)
        if found:
            return found
    return re.sub(r"_(SR|ST)$", "", str(d.get("id", "")), flags=re.IGNORECASE)

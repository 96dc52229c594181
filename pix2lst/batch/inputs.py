"""What a batch run reads: INPUT arguments expanded into one :class:`BatchInput` per scene.

An INPUT is a scene folder or MTL file, a composite GeoTIFF, an MTL URL
(``https://``, ``s3://``, ``/vsicurl/``), a STAC item (``.json`` file or URL,
``pystac.Item`` or dict), a STAC ItemCollection (every item a scene), a glob
(``data/LC08_*``) or ``@list.txt`` (one INPUT a line; lines starting with ``#`` are comments). Each scene
gets an id (the Landsat product id where known:
:func:`~pix2lst.geo.inputs.scene_identity`) that names its output; a scene given twice (also once as a folder and once as a STAC
item) and a glob that matches nothing are refused with a clear error.
"""

from __future__ import annotations

import glob
import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pix2lst.errors import BatchInputError, Pix2LstError
from pix2lst.geo.inputs import scene_identity
from pix2lst.geo.remote import read_text
from pix2lst.geo.scene import is_remote, is_scene

__all__ = ["BatchInput", "expand_inputs"]

_GLOB = re.compile(r"[*?\[]")
_MTL = re.compile(r"_?MTL\.(txt|json|xml)$", re.IGNORECASE)


@dataclass(frozen=True)
class BatchInput:
    """One scene of a batch: ``source`` as given (path or URL), ``scene_id`` naming its output.

    ``item`` holds the STAC item's dict when the scene came from an ItemCollection
    (or a dict/pystac item), so that workers need not fetch it again.
    """

    source: str
    scene_id: str
    item: Mapping[str, Any] | None = field(default=None, compare=False)

    @property
    def target(self) -> Any:
        """What :func:`pix2lst.geo.scene.find_scene` or a composite reader takes."""
        return self.item if self.item is not None else self.source


def _safe_id(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._") or "scene"


def _item_scene_id(d: Mapping[str, Any]) -> str:
    """The id naming a STAC item's output: the scene's product id
    (:func:`pix2lst.geo.stac.stac_product_id`, what a folder of the same scene gives)."""
    from pix2lst.geo.stac import stac_product_id

    try:
        return _safe_id(stac_product_id(dict(d)))
    except Pix2LstError:  # an item that is no scene: its own row will say why
        return _safe_id(str(d.get("id", "item")))


def _load_json(location: str) -> Any:
    text = read_text(location) if is_remote(location) else Path(location).read_text("utf-8")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise BatchInputError(f"{location} is not valid JSON ({exc})") from exc


def _from_json(location: str) -> list[BatchInput]:
    """A STAC item or ItemCollection (a JSON ``Feature`` / ``FeatureCollection``)."""
    d = _load_json(location)
    if isinstance(d, Mapping) and d.get("type") == "FeatureCollection":
        features = [f for f in d.get("features", []) if isinstance(f, Mapping)]
        if not features:
            raise BatchInputError(f"STAC ItemCollection {location} holds no items")
        out = []
        for f in features:
            item = dict(f)
            if location and not any(lk.get("rel") == "self" for lk in item.get("links", [])):
                # relative hrefs resolve against the collection's own location
                base = location if is_remote(location) else str(Path(location).resolve())
                item["links"] = [*item.get("links", []), {"rel": "self", "href": base}]
            item_id = str(item.get("id", ""))
            out.append(BatchInput(f"{location}#{item_id}", _item_scene_id(item), item))
        return out
    if isinstance(d, Mapping) and d.get("type") == "Feature":
        return [BatchInput(location, _item_scene_id(d))]
    raise BatchInputError(
        f"{location} is neither a STAC item nor an ItemCollection (type "
        f"{d.get('type') if isinstance(d, Mapping) else type(d).__name__!r})"
    )


def _scene_id(source: str) -> str:
    """The id naming a scene's output: its product id
    (:func:`pix2lst.geo.inputs.scene_identity`), the same whichever way the scene is
    given, read without opening any raster."""
    if is_remote(source):
        try:
            return _safe_id(scene_identity(source))
        except Pix2LstError:  # unreachable now: named by its file, its row says why
            name = source.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
            return _safe_id(_MTL.sub("", name) or name)
    p = Path(source)
    if is_scene(p):
        try:
            return _safe_id(scene_identity(p))
        except Pix2LstError as exc:
            raise BatchInputError(f"INPUT {source}: {exc}") from exc
    return _safe_id(p.stem)


def _expand_one(arg: Any, seen_lists: set[str]) -> list[BatchInput]:
    if not isinstance(arg, (str, os.PathLike)):  # a pystac.Item or an item dict
        from pix2lst.geo.stac import load_item

        d, _ = load_item(arg)
        return [BatchInput(str(d.get("id", "item")), _item_scene_id(d), d)]
    text = os.fspath(arg).strip()
    if text.startswith("@"):
        list_path = Path(text[1:]).expanduser()
        if not list_path.is_file():
            raise BatchInputError(f"list file {list_path} (from {text}) does not exist")
        key = str(list_path.resolve())
        if key in seen_lists:
            raise BatchInputError(f"list file {list_path} includes itself")
        seen_lists.add(key)
        out: list[BatchInput] = []
        for line in list_path.read_text("utf-8").splitlines():
            if line.strip() and not line.lstrip().startswith("#"):
                out.extend(_expand_one(line.strip(), seen_lists))
        if not out:
            raise BatchInputError(f"list file {list_path} names no input")
        return out
    if is_remote(text):
        if text.lower().endswith(".json") and not _MTL.search(text):
            return _from_json(text)
        return [BatchInput(text, _scene_id(text))]
    if _GLOB.search(text):
        matches = sorted(glob.glob(os.path.expanduser(text)))
        if not matches:
            raise BatchInputError(
                f"the pattern {text!r} matched no file or folder; check the path (quote it "
                "so that the shell does not expand it first)"
            )
        return [b for m in matches for b in _expand_one(m, seen_lists)]
    p = Path(text).expanduser()
    if not p.exists():
        raise BatchInputError(f"INPUT {text} does not exist; give a scene folder, MTL, URL or item")
    if p.suffix.lower() == ".json" and not _MTL.search(p.name):
        return _from_json(str(p.resolve()))
    return [BatchInput(str(p.resolve()), _scene_id(str(p)))]


def expand_inputs(inputs: Iterable[Any] | str | os.PathLike[str]) -> list[BatchInput]:
    """One :class:`BatchInput` per scene, in the order given.

    Raises :class:`~pix2lst.errors.BatchInputError` for an empty list, a glob
    matching nothing, a missing path, or a scene given twice (same id or source).
    """
    if isinstance(inputs, (str, os.PathLike)) or not isinstance(inputs, Iterable):
        inputs = [inputs]
    seen_lists: set[str] = set()
    items = [b for arg in inputs for b in _expand_one(arg, seen_lists)]
    if not items:
        raise BatchInputError("no input given; name scene folders, MTL files, URLs or STAC items")
    by_id: dict[str, BatchInput] = {}
    for b in items:
        first = by_id.get(b.scene_id)
        if first is not None:
            where = b.source if b.source == first.source else f"{first.source} and {b.source}"
            raise BatchInputError(
                f"scene {b.scene_id} is given twice ({where}); each scene must appear once "
                "(its output is OUTDIR/<scene id>.tif): remove the duplicate"
            )
        by_id[b.scene_id] = b
    return items

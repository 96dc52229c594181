"""Any scene input to a :class:`~pix2lst.geo.scene.Scene`: where new kinds of input plug in.

A local folder or MTL file (:func:`~pix2lst.geo.scene.local_scene`), an MTL URL
(``https://``, ``s3://``, ``/vsicurl/``: :func:`~pix2lst.geo.remote.remote_scene`, bands
read window by window through GDAL) or a STAC item (``pystac.Item``, dict, ``.json`` file
or URL, or a list of the items of one scene such as USGS's SR and ST items:
:func:`~pix2lst.geo.stac.stac_scene`). Every command and function that takes a scene
resolves it here, so a new source is one more branch of :func:`find_scene`.

:func:`scene_identity` names the scene without reading a raster: the product id, the
same however the scene is given (what outputs are named after and what a batch's
duplicate check compares).
"""

from __future__ import annotations

import os
import re
from typing import Any

from pix2lst.geo.remote import plain_url, remote_scene
from pix2lst.geo.scene import (
    Scene,
    is_remote,
    is_scene,
    is_stac,
    local_scene,
    product_of_name,
    url_name,
)
from pix2lst.geo.stac import stac_product_id, stac_scene

__all__ = ["find_scene", "is_scene", "scene_identity"]

_MTL = re.compile(r"_?MTL\.(txt|json|xml)$", re.IGNORECASE)


def find_scene(path: str | os.PathLike[str] | Any) -> Scene:
    """The :class:`Scene` of ``path``: a Scene as given, a STAC item, an MTL URL, or local.

    Raises :class:`~pix2lst.errors.SceneError` (and its remote/STAC leaves) with what
    was wrong and how to fix it.
    """
    if isinstance(path, Scene):
        return path
    if is_stac(path):
        return stac_scene(path)
    if is_remote(os.fspath(path)):
        return remote_scene(os.fspath(path))
    return local_scene(path)


def scene_identity(path: str | os.PathLike[str] | Any) -> str:
    """The identity of the scene ``path`` names: :attr:`Scene.product_id` of
    :func:`find_scene`, found without reading any raster (what names a scene's
    outputs and what a batch's duplicate check compares).

    A STAC item (or USGS's SR and ST items of one scene) answers from its MTL asset's
    file name, ``landsat:product_id`` or id; an MTL URL from its file name (else its
    MTL is fetched); a local folder or MTL file from its MTL. The same scene given as
    a folder, an MTL URL or a STAC item has one identity.
    """
    if isinstance(path, Scene):
        return path.product_id
    if is_stac(path):
        return stac_product_id(path)
    location = os.fspath(path)
    if is_remote(location):
        found = product_of_name(_MTL.sub("", url_name(plain_url(location))))
        return found or remote_scene(location).product_id
    return local_scene(location).product_id

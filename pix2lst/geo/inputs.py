"""Any scene input to a :class:`~pix2lst.geo.scene.Scene`: where new kinds of input plug in.

A local folder or MTL file (:func:`~pix2lst.geo.scene.local_scene`), an MTL URL
(``https://``, ``s3://``, ``/vsicurl/``: :func:`~pix2lst.geo.remote.remote_scene`, bands
read window by window through GDAL) or a STAC item (``pystac.Item``, dict, ``.json`` file
or URL: :func:`~pix2lst.geo.stac.stac_scene`). Every command and function that takes a
scene resolves it here, so a new source is one more branch of :func:`find_scene`.
"""

from __future__ import annotations

import os
from typing import Any

from pix2lst.geo.remote import remote_scene
from pix2lst.geo.scene import Scene, is_remote, is_scene, is_stac, local_scene
from pix2lst.geo.stac import stac_scene

__all__ = ["find_scene", "is_scene"]


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

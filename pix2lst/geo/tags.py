"""The tags every pix2lst raster carries, in one spelling (upper case, GDAL metadata).

Dataset tags: ``PIX2LST_PRODUCT`` (``lst`` or ``composite``), ``PIX2LST_VERSION``,
``UNITS``, and from the input scene ``SCENE_ID``, ``SPACECRAFT``, ``DATE_ACQUIRED``,
``SCENE_CENTER_TIME`` (UTC) and ``LEVEL``. Physics adds ``METHOD`` and its constants;
predictions add ``METHOD=model``, ``MODEL``, ``MODEL_SHA256``, ``MODEL_TARGET`` and the
tiling. The band itself carries its unit (GDAL "Unit Type") and description.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pix2lst import __version__

__all__ = ["SCENE_TAGS", "product_tags", "scene_tags"]

SCENE_TAGS = ("SCENE_ID", "SPACECRAFT", "DATE_ACQUIRED", "SCENE_CENTER_TIME", "LEVEL")
"""The tags that describe the input scene; carried over from a composite to its prediction."""


def scene_tags(mtl: Any, level: str | None = None) -> dict[str, str]:
    """The scene tags of an :class:`~pix2lst.geo.mtl.MtlMetadata` (level: the scene's)."""
    tags = {
        "SCENE_ID": mtl.scene_id,
        "SPACECRAFT": mtl.spacecraft,
        "DATE_ACQUIRED": mtl.date.isoformat(),
        "LEVEL": level or mtl.level,
    }
    if getattr(mtl, "scene_center_time", None):
        tags["SCENE_CENTER_TIME"] = mtl.scene_center_time
    return tags


def product_tags(
    product: str, scene: Mapping[str, str] | None = None, **extra: Any
) -> dict[str, str]:
    """Dataset tags of a pix2lst product: kind and version, the scene's tags, then ``extra``.

    ``extra`` keys are upper-cased; values become strings (``None`` values are left out).
    """
    tags = {"PIX2LST_PRODUCT": product, "PIX2LST_VERSION": __version__}
    for key in SCENE_TAGS:
        if scene and scene.get(key):
            tags[key] = str(scene[key])
    for key, value in extra.items():
        if value is not None:
            tags[key.upper()] = str(value)
    return tags

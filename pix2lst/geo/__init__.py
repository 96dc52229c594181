"""The ground-floor raster room every other room uses (numpy + rasterio, nothing above it).

One place for each raster concern:

* :mod:`.grid`: the grid value object and the one grid check (every difference named);
* :mod:`.bands`: the one band-lookup rule (band descriptions, case-insensitive);
* :mod:`.mtl`, :mod:`.scene`: Landsat MTL parsing and scene discovery;
* :mod:`.remote`, :mod:`.stac`: remote scenes (an MTL URL, bands read window by
  window through GDAL) and STAC items, resolved by ``find_scene`` to a scene whose
  band locations are GDAL paths;
* :mod:`.sources`: the one reader interface (scene, composite, array; windowed; a
  scene is calibrated on the fly by a hook the physics room supplies);
* :mod:`.bandfiles`: opening band files (GDAL datasets checked onto one grid);
* :mod:`.stream`: strip-by-strip streaming of band files into one output;
* :mod:`.writer`: the one GeoTIFF/COG writer (profile, GDAL's overviews, band unit,
  tags, verified), :mod:`.verify`: its read-back check before the rename (every block
  present and decoding), :mod:`.plausible`: the plausibility rules callers pass it,
  :mod:`.qml`: the QGIS style beside an LST, :mod:`.tags`: the tag names,
  :mod:`.units`: K / degC;
* :mod:`.atomic`: no partial output, no silent overwrite.

Submodules are imported on use; ``from pix2lst.geo import Grid`` also works.
"""

from __future__ import annotations

from pix2lst._lazy import lazy_names

__all__ = [
    "Grid",
    "Scene",
    "atomic_output",
    "check_grid",
    "check_output",
    "find_scene",
    "open_source",
    "raster_writer",
    "read_mtl",
]

_WHERE = {
    "Grid": "grid",
    "Scene": "scene",
    "atomic_output": "atomic",
    "check_grid": "grid",
    "check_output": "atomic",
    "find_scene": "inputs",
    "open_source": "sources",
    "raster_writer": "writer",
    "read_mtl": "mtl",
}

__getattr__, __dir__ = lazy_names(__name__, _WHERE)

"""The 8-band composite (B1-B7 + B10) the model consumes: a streaming writer and a window reader.

Calibration is :func:`~pix2lst.lst_physics.calibrate.calibrate_composite`:
``toa`` = TOA reflectance B1-B7 + brightness temperature (K) B10 on L1 scenes,
surface reflectance B1-B7 + BT from ST_TRAD on Level-2 bundles; ``dn`` = raw DN.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from rasterio.windows import Window

from pix2lst.geo.inputs import find_scene
from pix2lst.geo.scene import Scene
from pix2lst.geo.sources import SceneSource
from pix2lst.geo.stream import Progress, stream_to_geotiff
from pix2lst.geo.tags import product_tags, scene_tags
from pix2lst.geo.writer import check_raster_output
from pix2lst.lst_physics.calibrate import Units, calibrate_composite, calibration_table
from pix2lst.lst_physics.constants import COMPOSITE_BANDS
from pix2lst.lst_physics.scene_calibration import scene_calibrator

__all__ = ["as_scene", "open_composite", "write_composite"]


def as_scene(scene: Scene | str | os.PathLike[str]) -> Scene:
    """A :class:`Scene` as given, or discovered from a folder/MTL path."""
    return scene if isinstance(scene, Scene) else find_scene(scene)


def _tags(sc: Scene, units: Units, band_units: Sequence[str]) -> dict[str, str]:
    mtl = sc.mtl
    if units == "dn":
        calib = "raw DN" + (" (SR DN; B10 L1 DN rebuilt from ST_TRAD)" if sc.level == "L2" else "")
    elif sc.level == "L2":
        calib = "surface reflectance B1-B7 (SR, not TOA); B10 brightness temperature K from ST_TRAD"
    else:
        calib = "TOA reflectance B1-B7 (sun-elevation corrected); B10 brightness temperature K"
    return product_tags(
        "composite", scene_tags(mtl, sc.level), bands=",".join(COMPOSITE_BANDS), units=units,
        calibration=calib, band_units=";".join(band_units), sun_elevation=repr(mtl.sun_elevation),
    )  # fmt: skip


def write_composite(
    scene_path: Scene | str | os.PathLike[str],
    out: str | os.PathLike[str],
    units: Units = "toa",
    overwrite: bool = False,
    *,
    progress: Progress | None = None,
    strip_rows: int = 256,
    cog: bool = False,
    creation_options: Sequence[str] | Mapping[str, str] | None = None,
) -> Path:
    """Write the 8-band float32 composite (band descriptions ``B1``..``B7``, ``B10``) of a scene.

    Streams strip by strip; atomic and verified (no partial file); NaN nodata;
    overviews, or a Cloud-Optimised GeoTIFF with ``cog=True``; ``creation_options``
    override the GeoTIFF profile (``{"COMPRESS": "DEFLATE"}``). The output is
    checked before any work. Raises :class:`BandNotFoundError` if a band is missing,
    :class:`GridMismatchError` if the bands' grids differ, :class:`EmptySceneError`
    if every pixel is fill.
    """
    check_raster_output(out, overwrite=overwrite, inputs=[scene_path])
    sc = as_scene(scene_path)
    inputs = {b: sc.band_path(b) for b in COMPOSITE_BANDS}
    table = calibration_table(COMPOSITE_BANDS, sc, units)

    def compute(arrays: list[np.ndarray], nodata: list[float | None], window: Window) -> np.ndarray:
        return calibrate_composite(np.stack(arrays), COMPOSITE_BANDS, sc, units, nodata=nodata)

    return stream_to_geotiff(
        inputs, out, compute, count=len(COMPOSITE_BANDS), descriptions=COMPOSITE_BANDS,
        tags=_tags(sc, units, table.units), band_units=table.units, overwrite=overwrite,
        strip_rows=strip_rows, progress=progress, valid_any_band=True, cog=cog,
        creation_options=creation_options, protect=[sc],
    )  # fmt: skip


def open_composite(
    scene: Scene | str | os.PathLike[str],
    units: Units = "toa",
    bands: Sequence[str] = COMPOSITE_BANDS,
) -> SceneSource:
    """A reader of calibrated composite windows straight from a scene (no composite file).

    ``with open_composite(scene) as r: x = r.read(Window(...))`` gives float32
    ``(len(bands), h, w)`` in ``bands`` order (default :data:`COMPOSITE_BANDS`), NaN
    at fill; ``read(window, boundless=True)`` pads outside the scene with fill.
    Band files stay open; not thread-safe (one reader per thread). ``width``,
    ``height``, ``crs``, ``transform``, ``grid`` and ``tags`` describe it.
    """
    sc = as_scene(scene)
    return SceneSource(sc, bands, scene_calibrator(units)(sc, bands))

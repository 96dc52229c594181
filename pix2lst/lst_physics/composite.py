"""The 8-band composite (B1-B7 + B10) the model consumes: a streaming writer and a window reader.

Calibration is :func:`~pix2lst.lst_physics.calibrate.calibrate_composite`:
``toa`` = TOA reflectance B1-B7 + brightness temperature (K) B10 on L1 scenes,
surface reflectance B1-B7 + BT from ST_TRAD on Level-2 bundles; ``dn`` = raw DN.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from rasterio.io import DatasetReader
from rasterio.windows import Window

from pix2lst import __version__
from pix2lst._io import check_output
from pix2lst.lst_physics.calibrate import Units, calibrate_composite, calibration_table
from pix2lst.lst_physics.constants import COMPOSITE_BANDS
from pix2lst.lst_physics.raster import Progress, open_bands, stream_to_geotiff
from pix2lst.lst_physics.scene import Scene, find_scene

__all__ = ["CompositeReader", "as_scene", "write_composite"]


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
    return {
        "PIX2LST_PRODUCT": "composite",
        "PIX2LST_VERSION": __version__,
        "BANDS": ",".join(COMPOSITE_BANDS),
        "UNITS": units,
        "CALIBRATION": calib,
        "BAND_UNITS": ";".join(band_units),
        "SCENE_ID": mtl.scene_id,
        "SPACECRAFT": mtl.spacecraft,
        "DATE_ACQUIRED": mtl.date.isoformat(),
        "LEVEL": sc.level,
        "SUN_ELEVATION": repr(mtl.sun_elevation),
    }


def write_composite(
    scene_path: Scene | str | os.PathLike[str],
    out: str | os.PathLike[str],
    units: Units = "toa",
    overwrite: bool = False,
    *,
    progress: Progress | None = None,
    strip_rows: int = 256,
) -> Path:
    """Write the 8-band float32 composite (band descriptions ``B1``..``B7``, ``B10``) of a scene.

    Streams strip by strip; atomic (no partial file); NaN nodata; the output is
    checked before any work. Raises :class:`BandNotFoundError` if a band is missing,
    :class:`GridMismatchError` if the bands' grids differ, :class:`EmptySceneError`
    if every pixel is fill.
    """
    check_output(out, overwrite=overwrite)
    sc = as_scene(scene_path)
    inputs = {b: sc.band_path(b) for b in COMPOSITE_BANDS}
    table = calibration_table(COMPOSITE_BANDS, sc, units)

    def compute(arrays: list[np.ndarray], nodata: list[float | None], window: Window) -> np.ndarray:
        return calibrate_composite(np.stack(arrays), COMPOSITE_BANDS, sc, units, nodata=nodata)

    return stream_to_geotiff(
        inputs, out, compute, count=len(COMPOSITE_BANDS), descriptions=COMPOSITE_BANDS,
        tags=_tags(sc, units, table.units), band_units=table.units, overwrite=overwrite,
        strip_rows=strip_rows, progress=progress, valid_any_band=True,
    )  # fmt: skip


class CompositeReader(contextlib.AbstractContextManager["CompositeReader"]):
    """Read calibrated composite windows straight from a scene folder (no composite file).

    ``with CompositeReader(scene) as r: x = r.read(Window(...))`` gives float32
    ``(8, h, w)`` in :data:`COMPOSITE_BANDS` order. Band files stay open; not
    thread-safe (use one reader per thread). ``width``, ``height``, ``crs``,
    ``transform`` describe the grid.
    """

    def __init__(self, scene: Scene | str | os.PathLike[str], units: Units = "toa") -> None:
        self.scene = as_scene(scene)
        self.units: Units = units
        self.bands = COMPOSITE_BANDS
        self._stack = contextlib.ExitStack()
        paths = {b: self.scene.band_path(b) for b in self.bands}
        datasets, nodata = self._stack.enter_context(open_bands(paths))
        self._datasets: list[DatasetReader] = datasets
        self.nodata = nodata
        ref = datasets[0]
        self.width, self.height = ref.width, ref.height
        self.crs, self.transform = ref.crs, ref.transform

    def read(self, window: Window | None = None, boundless: bool = False) -> np.ndarray:
        """Calibrated ``(8, h, w)`` float32 of ``window`` (whole scene if None); NaN at fill."""
        fill = None
        if boundless:
            fill = [0 if nd is None else nd for nd in self.nodata]
        dn = np.stack(
            [
                ds.read(1, window=window, boundless=boundless, fill_value=fill[i] if fill else None)
                for i, ds in enumerate(self._datasets)
            ]
        )
        return calibrate_composite(dn, self.bands, self.scene, self.units, nodata=self.nodata)

    def close(self) -> None:
        self._stack.close()

    def __exit__(self, *exc: object) -> None:
        self.close()

"""True-colour (B4, B3, B2) images of a Landsat scene folder or a composite GeoTIFF.

A scene folder is found with :func:`pix2lst.lst_physics.find_scene` and its
bands calibrated to TOA reflectance with
:func:`pix2lst.lst_physics.calibrate_composite`; a composite GeoTIFF is read
by its band descriptions (``B4``, ``B3``, ``B2``; ``SR_B4`` etc. also work), or
as bands 1-3 when it has exactly three undescribed bands. Bands are read
decimated like every display layer (see :mod:`pix2lst.viz.raster`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import rasterio

from pix2lst.errors import SceneError
from pix2lst.geo.bands import band_indexes
from pix2lst.viz.raster import (
    DEFAULT_MAX_PIXELS,
    DISPLAY_CACHE_MB,
    Grid,
    find_date,
    read_display,
    read_grid,
)
from pix2lst.viz.style import true_colour

if TYPE_CHECKING:
    from pix2lst.lst_physics import Scene

__all__ = ["CLOUD_REFLECTANCE", "RGB_BANDS", "RgbLayer", "read_rgb", "rgb_grid"]

#: Landsat-8/9 OLI bands shown as red, green, blue.
RGB_BANDS = ("B4", "B3", "B2")
#: TOA reflectance above which a pixel bright in all of red, green and blue is taken for
#: cloud (or snow) and left out of the stretch: clear land and water stay below it.
CLOUD_REFLECTANCE = 0.2
#: A stack whose 99th percentile exceeds this is not reflectance (DN): no brightness rule.
REFLECTANCE_MAX = 2.0


@dataclass(frozen=True)
class RgbLayer:
    """A true-colour image for display: ``image`` is RGBA (h, w, 4) float in [0, 1]."""

    path: Path
    image: np.ndarray = field(repr=False)
    grid: Grid  # display grid
    source_grid: Grid
    date: str | None

    @property
    def label(self) -> str:
        """``True colour`` and the date when known."""
        return f"True colour {self.date}" if self.date else "True colour"


def _band_sources(path: Path) -> tuple[list[tuple[Path, int]], Scene | None, str]:
    """(file, band index) for R, G, B; the scene (for calibration) or None; a name for dates."""
    if path.is_dir():
        from pix2lst.lst_physics import find_scene

        scene = find_scene(path)
        return [(Path(scene.band_path(b)), 1) for b in RGB_BANDS], scene, path.name
    if not path.exists():
        raise SceneError(f"{path} does not exist; give a scene folder or a composite GeoTIFF")
    with rasterio.open(path) as src:
        indexes = band_indexes(
            src.descriptions, RGB_BANDS, source=str(path),
            hint="give a scene folder, or a composite written by 'pix2lst composite'",
        )  # fmt: skip
    return [(path, i) for i in indexes], None, path.name


def _bright_white(stack: np.ndarray) -> np.ndarray:
    """Pixels bright in red, green and blue alike (cloud, haze; snow), on reflectances.

    A stack that is not TOA reflectance (raw DN) gives no such pixels: there the
    scale of "bright" is unknown.
    """
    finite = stack[np.isfinite(stack)]
    if not finite.size or float(np.percentile(finite, 99)) > REFLECTANCE_MAX:
        return np.zeros(stack.shape[1:], dtype=bool)
    with np.errstate(invalid="ignore"):
        return np.all(stack > CLOUD_REFLECTANCE, axis=0)


def rgb_grid(src: str | os.PathLike[str]) -> Grid:
    """The full-resolution grid of the true-colour source (its B4)."""
    sources, _, _ = _band_sources(Path(src))
    return read_grid(sources[0][0])


def read_rgb(
    src: str | os.PathLike[str],
    *,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    onto: Grid | None = None,
    low: float = 2.0,
    high: float = 98.0,
) -> RgbLayer:
    """Read a true-colour image of a scene folder or composite, percent-stretched per band.

    The stretch is taken over clear pixels, those not bright in red, green and blue
    alike (:data:`CLOUD_REFLECTANCE`), so that clouds saturate to white and the land
    keeps its contrast; a scene folder and its composite give the same picture. With ``onto`` the bands are warped onto that full-resolution grid
    first (bilinear). Nodata in any band is transparent.
    """
    path = Path(src)
    sources, scene, name = _band_sources(path)
    source_grid = read_grid(sources[0][0])
    target = onto if onto is not None else source_grid
    display = target.display(max_pixels)
    shape = (display.height, display.width)
    bands = []
    for file, band in sources:
        with rasterio.Env(GDAL_CACHEMAX=DISPLAY_CACHE_MB), rasterio.open(file) as ds:
            src_nodata = ds.nodata if ds.nodata is not None else 0
            data = read_display(ds, band, shape, onto, src_nodata=src_nodata, nodata=0)
        bands.append(data)
    if scene is not None:
        from pix2lst.lst_physics import calibrate_composite

        dn = np.stack([np.ma.filled(b, 0) for b in bands])
        stack = np.asarray(calibrate_composite(dn, list(RGB_BANDS), scene, units="toa"))
    else:
        stack = np.stack([np.ma.filled(b.astype(np.float64), np.nan) for b in bands])
        if np.issubdtype(bands[0].dtype, np.integer) and not np.ma.is_masked(bands[0]):
            stack[:, np.any(stack == 0, axis=0)] = np.nan  # Landsat DN 0 is fill
    stack = np.where(np.isfinite(stack), stack, np.nan)
    image = true_colour(stack, low, high, clear=~_bright_white(stack))
    date = None
    if scene is not None:
        date = scene.mtl.date.isoformat()
    return RgbLayer(path, image, display, source_grid, date or find_date({}, name))

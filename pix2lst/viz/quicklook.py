"""Colour-mapped quicklook PNGs of an LST GeoTIFF, and true-colour PNGs of a scene.

The LST is shown in kelvin internally with a percent-clip stretch (default
2-98 %) and a colour bar labelled in degrees Celsius; nodata pixels are
transparent in the PNG. Maps are drawn in their CRS with map-unit and
latitude/longitude ticks, a scale bar and a north arrow, and a world file
(``.pgw``) plus ``.png.aux.xml`` (CRS) beside the PNG keep it georeferenced. Figures are plain :class:`matplotlib.figure.Figure`
objects (Agg), never pyplot, and every PNG is written atomically.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from pix2lst.geo.atomic import check_output
from pix2lst.viz import style
from pix2lst.viz.mapaxes import (
    draw_map,
    georeferenced,
    png_transform,
    world_file_paths,
    write_world_file,
)
from pix2lst.viz.raster import (
    DEFAULT_MAX_PIXELS,
    Grid,
    LstLayer,
    check_same_grid,
    mask_layer,
    read_grid,
    read_lst,
)
from pix2lst.viz.rgb import read_rgb
from pix2lst.viz.style import (
    add_celsius_colorbar,
    lst_cmap,
    new_figure,
    percent_clip,
    wrap_text,
)

__all__ = ["draw_lst", "lst_figure", "quicklook", "rgb_quicklook", "save_figure"]

logger = logging.getLogger(__name__)

_FIG_WIDTH = 7.0  # inches
_DPI = 150


def draw_lst(
    fig: Any,
    ax: Any,
    layer: LstLayer,
    *,
    vmin: float,
    vmax: float,
    cmap: str | None = None,
    title: str | None = None,
    colorbar: bool = True,
    fontsize: float = 8.0,
    decorations: bool = True,
) -> Any:
    """Draw ``layer`` (kelvin) on ``ax`` with limits ``vmin``-``vmax`` K; return the image.

    The map is drawn in its CRS with coordinates, scale bar and north arrow
    (see :func:`pix2lst.viz.mapaxes.draw_map`); ``fontsize`` sizes those labels.
    """
    im = draw_map(
        ax, layer.values, layer.grid, cmap=lst_cmap(cmap), vmin=vmin, vmax=vmax,
        fontsize=fontsize, decorations=decorations,
    )  # fmt: skip
    text = layer.title if title is None else title
    width = fig.get_figwidth() * ax.get_position().width
    ax.set_title(wrap_text(text, width, fontsize + 2), fontsize=fontsize + 2)
    if colorbar:
        add_celsius_colorbar(fig, im, ax=ax, shrink=0.85)
    return im


def save_figure(fig: Figure, out: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
    """Save a viz figure: PNG at the quicklook dpi on a transparent background."""
    return style.save_figure(fig, out, overwrite=overwrite, dpi=_DPI, transparent=True)


def quicklook(
    src: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    cmap: str | None = None,
    clip: tuple[float, float] = (2.0, 98.0),
    overwrite: bool = False,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    title: str | None = None,
    mask: str | os.PathLike[str] | None = None,
    note: str | None = None,
) -> Path:
    """Write a colour-mapped PNG of the LST GeoTIFF ``src`` to ``out``; return ``out``.

    ``cmap`` is any matplotlib colour map name (default
    :data:`~pix2lst.viz.style.LST_CMAP_NAME`, the QGIS style's), ``clip`` the
    percent-clip stretch, ``max_pixels`` the cap on pixels read (the raster is
    decimated above it), ``title`` overrides the one made from the tags.
    ``mask`` is a raster on the same grid whose nodata pixels are hidden here
    too (e.g. the cloud-masked physics LST); ``note`` is printed under the map.
    A world file (``.pgw``) and ``.png.aux.xml`` (CRS) are written beside the PNG.
    """
    check_output(out, overwrite=overwrite, inputs=[src])
    lst_cmap(cmap)  # fail on a bad name before reading
    layer = read_lst(src, max_pixels=max_pixels)
    _check_sidecars(out, layer.grid, overwrite=overwrite, src=src)
    if mask is not None:
        check_same_grid(layer.source_grid, read_grid(mask), (str(src), str(mask)))
        layer = mask_layer(layer, np.isnan(read_lst(mask, max_pixels=max_pixels).values))
    fig = lst_figure(layer, cmap=cmap, clip=clip, title=title)
    if note:
        fig.supxlabel(wrap_text(note, fig.get_figwidth() * 0.95, 7), fontsize=7, color="#444")
    return _save_map(fig, out, layer.grid, overwrite=overwrite)


def _check_sidecars(
    out: str | os.PathLike[str], grid: Grid, *, overwrite: bool, src: str | os.PathLike[str]
) -> None:
    """Refuse, before the PNG is written, to replace its world file or .aux.xml unasked."""
    if georeferenced(grid):
        for side in world_file_paths(out):
            check_output(side, overwrite=overwrite, inputs=[src])


def _save_map(fig: Figure, out: str | os.PathLike[str], grid: Grid, *, overwrite: bool) -> Path:
    """Save ``fig`` and, when its map is georeferenced, a world file and CRS beside it."""
    path = save_figure(fig, out, overwrite=overwrite)
    if georeferenced(grid):
        transform = png_transform(fig, fig.axes[0], _DPI)
        write_world_file(path, transform, grid.crs, overwrite=overwrite)
    return path


def lst_figure(
    layer: LstLayer,
    *,
    cmap: str | None = None,
    clip: tuple[float, float] = (2.0, 98.0),
    title: str | None = None,
) -> Figure:
    """The quicklook figure of ``layer`` (percent-clip stretch, °C colour bar), not saved."""
    vmin, vmax = percent_clip(layer.values, *clip)
    h, w = layer.values.shape
    fig = new_figure(_FIG_WIDTH, _FIG_WIDTH * h / w * 0.8 + 1.0, dpi=_DPI)
    ax = fig.add_subplot()
    draw_lst(fig, ax, layer, vmin=vmin, vmax=vmax, cmap=cmap, title=title)
    logger.info("quicklook %s: %dx%d px, %.2f-%.2f K", layer.path, w, h, vmin, vmax)
    return fig


def rgb_quicklook(
    src: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    clip: tuple[float, float] = (2.0, 98.0),
    overwrite: bool = False,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    title: str | None = None,
    note: str | None = None,
) -> Path:
    """Write a true-colour (B4, B3, B2) PNG of a scene folder or composite GeoTIFF.

    ``note`` is printed under the map (e.g. a caveat about the scene's metadata).
    """
    check_output(out, overwrite=overwrite, inputs=[src])
    layer = read_rgb(src, max_pixels=max_pixels, low=clip[0], high=clip[1])
    _check_sidecars(out, layer.grid, overwrite=overwrite, src=src)
    h, w = layer.image.shape[:2]
    fig = new_figure(_FIG_WIDTH * 0.85, _FIG_WIDTH * 0.85 * h / w + 1.0, dpi=_DPI)
    ax = fig.add_subplot()
    draw_map(ax, layer.image, layer.grid)
    text = title or f"{Path(src).name} · {layer.label}"
    ax.set_title(wrap_text(text, fig.get_figwidth() * ax.get_position().width, 10), fontsize=10)
    if note:
        fig.supxlabel(wrap_text(note, fig.get_figwidth() * 0.95, 7), fontsize=7, color="#444")
    return _save_map(fig, out, layer.grid, overwrite=overwrite)

"""Colour-mapped quicklook PNGs of an LST GeoTIFF, and true-colour PNGs of a scene.

The LST is shown in kelvin internally with a percent-clip stretch (default
2-98 %) and a colour bar labelled in degrees Celsius; nodata pixels are
transparent in the PNG. Figures are plain :class:`matplotlib.figure.Figure`
objects (Agg), never pyplot, and every PNG is written atomically.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from pix2lst.geo.atomic import check_output
from pix2lst.viz import style
from pix2lst.viz.raster import DEFAULT_MAX_PIXELS, LstLayer, read_lst
from pix2lst.viz.rgb import read_rgb
from pix2lst.viz.style import add_celsius_colorbar, lst_cmap, new_figure, percent_clip

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
) -> Any:
    """Draw ``layer`` (kelvin) on ``ax`` with limits ``vmin``-``vmax`` K; return the image."""
    im = ax.imshow(layer.values, cmap=lst_cmap(cmap), vmin=vmin, vmax=vmax, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(layer.title if title is None else title, fontsize=10)
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
) -> Path:
    """Write a colour-mapped PNG of the LST GeoTIFF ``src`` to ``out``; return ``out``.

    ``cmap`` is any matplotlib colour map name (default ``RdYlGn_r``), ``clip``
    the percent-clip stretch, ``max_pixels`` the cap on pixels read (the raster
    is decimated above it), ``title`` overrides the one made from the tags.
    """
    check_output(out, overwrite=overwrite)
    lst_cmap(cmap)  # fail on a bad name before reading
    layer = read_lst(src, max_pixels=max_pixels)
    fig = lst_figure(layer, cmap=cmap, clip=clip, title=title)
    return save_figure(fig, out, overwrite=overwrite)


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
    fig = new_figure(_FIG_WIDTH, _FIG_WIDTH * h / w * 0.85 + 0.6, dpi=_DPI)
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
) -> Path:
    """Write a true-colour (B4, B3, B2) PNG of a scene folder or composite GeoTIFF."""
    check_output(out, overwrite=overwrite)
    layer = read_rgb(src, max_pixels=max_pixels, low=clip[0], high=clip[1])
    h, w = layer.image.shape[:2]
    fig = new_figure(_FIG_WIDTH * 0.85, _FIG_WIDTH * 0.85 * h / w + 0.4, dpi=_DPI)
    ax = fig.add_subplot()
    ax.imshow(layer.image, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title or f"{Path(src).name} · {layer.label}", fontsize=10)
    return save_figure(fig, out, overwrite=overwrite)

"""Two LST maps side by side on one colour scale, their difference, and true colour.

``B - A`` is drawn with a diverging map centred on zero with symmetric limits
(98th percentile of ``|B - A|``), so cooling is blue and warming red whatever
the range. The rasters must share a grid; otherwise :class:`GridMismatchError`
says what differs, or ``resample=True`` warps B (and the true-colour source)
onto A's grid.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import numpy as np

from pix2lst.geo.atomic import check_output
from pix2lst.viz.mapaxes import draw_map
from pix2lst.viz.quicklook import draw_lst, save_figure
from pix2lst.viz.raster import (
    DEFAULT_MAX_PIXELS,
    check_same_grid,
    mask_layer,
    read_grid,
    read_lst,
)
from pix2lst.viz.rgb import read_rgb, rgb_grid
from pix2lst.viz.style import (
    DIFF_CMAP_NAME,
    add_celsius_colorbar,
    lst_cmap,
    new_figure,
    percent_clip,
    symmetric_limits,
    wrap_text,
)

__all__ = ["compare"]

logger = logging.getLogger(__name__)


def compare(
    a: str | os.PathLike[str],
    b: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    rgb: str | os.PathLike[str] | None = None,
    resample: bool = False,
    cmap: str | None = None,
    clip: tuple[float, float] = (2.0, 98.0),
    overwrite: bool = False,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    rgb_title: str | None = None,
    note: str | None = None,
    mask: str | os.PathLike[str] | None = None,
) -> Path:
    """Write a PNG with A and B on a shared colour scale, B - A, and true colour of ``rgb``.

    ``rgb`` is a scene folder or a composite GeoTIFF; panels are labelled with
    the dates found in the tags or file names (``rgb_title`` overrides the
    true-colour panel's), the figure is titled with scene, date and method or
    model of A and B, and ``note`` is printed under the panels. ``mask`` is a
    raster on A's grid whose nodata pixels are hidden in every LST panel (e.g.
    the cloud-masked physics LST). Every panel is a
    map in A's CRS (coordinates, scale bar, north arrow). Returns ``out``.
    """
    check_output(out, overwrite=overwrite, inputs=[a, b, rgb])
    lst_cmap(cmap)
    grid_a = read_grid(a)
    onto = None
    if not resample:
        check_same_grid(grid_a, read_grid(b), (str(a), str(b)))
        if rgb is not None:
            check_same_grid(grid_a, rgb_grid(rgb), (str(a), str(rgb)))
    else:
        onto = grid_a
    layer_a = read_lst(a, max_pixels=max_pixels)
    layer_b = read_lst(b, max_pixels=max_pixels, onto=onto)
    if mask is not None:
        if not resample:
            check_same_grid(grid_a, read_grid(mask), (str(a), str(mask)))
        hidden = np.isnan(read_lst(mask, max_pixels=max_pixels, onto=onto).values)
        layer_a, layer_b = mask_layer(layer_a, hidden), mask_layer(layer_b, hidden)
    both = np.concatenate([layer_a.values.ravel(), layer_b.values.ravel()])
    vmin, vmax = percent_clip(both, *clip)
    diff = layer_b.values - layer_a.values
    dlo, dhi = symmetric_limits(diff)

    h, w = layer_a.values.shape
    panel = 4.4
    fig = new_figure(2 * panel + 1.6, 2 * panel * h / w + 1.4)
    axes = fig.subplots(2, 2)
    label_a, label_b = layer_a.label, layer_b.label
    if label_a == label_b:
        label_a, label_b = f"A: {Path(a).name}", f"B: {Path(b).name}"
    kw: dict[str, Any] = {
        "vmin": vmin,
        "vmax": vmax,
        "cmap": cmap,
        "colorbar": False,
        "fontsize": 7.0,
    }
    im = draw_lst(fig, axes[0, 0], layer_a, title=label_a, **kw)
    draw_lst(fig, axes[0, 1], layer_b, title=label_b, **kw)
    add_celsius_colorbar(fig, im, ax=list(axes[0]), shrink=0.85, values=both)

    ax = axes[1, 0]
    dim = draw_map(
        ax, diff, layer_a.grid, cmap=lst_cmap(DIFF_CMAP_NAME), vmin=dlo, vmax=dhi, fontsize=7.0
    )
    panel_in = fig.get_figwidth() * ax.get_position().width
    ax.set_title(wrap_text(f"{label_b} − {label_a}", panel_in, 9), fontsize=9)
    add_celsius_colorbar(fig, dim, ax=ax, label="ΔLST (K = °C)", kelvin=False, shrink=0.85)

    ax = axes[1, 1]
    if rgb is not None:
        layer_rgb = read_rgb(rgb, max_pixels=max_pixels, onto=onto)
        draw_map(ax, layer_rgb.image, layer_rgb.grid, fontsize=7.0)
        ax.set_title(wrap_text(rgb_title or layer_rgb.label, panel_in, 9), fontsize=9)
    else:
        ax.set_axis_off()
    width = fig.get_figwidth() * 0.95
    fig.suptitle(wrap_text(f"A: {layer_a.title}\nB: {layer_b.title}", width, 9), fontsize=9)
    if note:
        fig.supxlabel(wrap_text(note, width, 7), fontsize=7, color="#444")
    logger.info("compare %s %s: shared scale %.2f-%.2f K, diff +-%.2f K", a, b, vmin, vmax, dhi)
    return save_figure(fig, out, overwrite=overwrite)

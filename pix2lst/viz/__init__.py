"""Seeing the result: colour-mapped quicklooks, comparisons and an offline viewer.

:mod:`pix2lst.viz.style` is the one place for colour maps and stretches; every
pix2lst figure (quicklooks here, ``show_batch``/``show_results`` in export) uses it.

- :func:`quicklook` / :func:`rgb_quicklook`: a georeferenced PNG map of an LST GeoTIFF /
  of a scene in true colour (coordinates, scale bar, north arrow, world file).
- :func:`compare`: two LST maps on one scale, their difference and true colour.
- :func:`write_viewer`: one offline HTML file with synchronised Leaflet panes, a
  difference pane and a latitude/longitude readout.
- :func:`draw_map` / :func:`write_world_file`: the map drawing and georeferencing
  the figures use, for figures of your own (:mod:`pix2lst.viz.mapaxes`).
"""

from __future__ import annotations

from pix2lst.viz.compare import compare
from pix2lst.viz.mapaxes import draw_map, write_world_file
from pix2lst.viz.quicklook import quicklook, rgb_quicklook
from pix2lst.viz.raster import Grid, LstLayer, read_lst
from pix2lst.viz.rgb import RgbLayer, read_rgb
from pix2lst.viz.style import (
    LST_CMAP_NAME,
    add_celsius_colorbar,
    kelvin_to_celsius,
    lst_cmap,
    new_figure,
    percent_clip,
    true_colour,
)
from pix2lst.viz.viewer import write_viewer

__all__ = [
    "LST_CMAP_NAME",
    "Grid",
    "LstLayer",
    "RgbLayer",
    "add_celsius_colorbar",
    "compare",
    "draw_map",
    "kelvin_to_celsius",
    "lst_cmap",
    "new_figure",
    "percent_clip",
    "quicklook",
    "read_lst",
    "read_rgb",
    "rgb_quicklook",
    "true_colour",
    "write_viewer",
    "write_world_file",
]

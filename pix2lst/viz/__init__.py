"""Seeing the result: colour-mapped quicklooks, comparisons and an offline viewer.

:mod:`pix2lst.viz.style` is the one place for colour maps and stretches; every
pix2lst figure (quicklooks here, ``show_batch``/``show_results`` in export) uses it.
"""

from __future__ import annotations

from pix2lst.viz.style import (
    LST_CMAP_NAME,
    add_celsius_colorbar,
    kelvin_to_celsius,
    lst_cmap,
    percent_clip,
    true_colour,
)

__all__ = [
    "LST_CMAP_NAME",
    "add_celsius_colorbar",
    "kelvin_to_celsius",
    "lst_cmap",
    "percent_clip",
    "true_colour",
]

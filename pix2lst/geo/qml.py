"""A QGIS style beside each LST GeoTIFF: the figures' colour ramp, stretched on the data.

QGIS applies ``<name>.qml`` as the default style of a raster ``<name>.tif`` it opens, so
an LST opens in QGIS as it looks in the quicklooks: a singleband pseudocolour renderer
with the colour map :data:`LST_COLORMAP` (the one the figures use by default), from the
2nd to the 98th percentile of the valid pixels (read from the file's overviews), NaN
transparent. :func:`write_qml` writes it through
:func:`pix2lst.geo.atomic.atomic_output` (an existing style is replaced only with
``overwrite``); :func:`qml_text` is the XML itself.
"""

from __future__ import annotations

import logging
import math
import os
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from rasterio.enums import Resampling

from pix2lst.errors import ParameterError, Pix2LstError
from pix2lst.geo.atomic import atomic_output

__all__ = ["LST_COLORMAP", "STRETCH_PERCENTILES", "qml_path", "qml_text", "stretch", "write_qml"]

log = logging.getLogger(__name__)

LST_COLORMAP = "RdYlBu_r"
"""The matplotlib colour map of LST figures and styles: ColorBrewer's diverging red-yellow-blue,
reversed (warm is red), readable with the common colour-vision deficiencies."""

STRETCH_PERCENTILES = (2.0, 98.0)
"""The percentiles of the valid pixels the colour ramp runs between."""

_STOPS = 11
"""Colours sampled along the colour map (ColorBrewer's diverging maps have 11 classes)."""

_SAMPLE_PIXELS = 65_536


def qml_path(raster: str | os.PathLike[str]) -> Path:
    """The style QGIS looks for beside ``raster``: the same name ending in ``.qml``."""
    return Path(raster).with_suffix(".qml")


def _hex(rgba: Sequence[float]) -> str:
    return "#" + "".join(f"{round(255 * c):02x}" for c in rgba[:3])


def _rgba(rgba: Sequence[float]) -> str:
    return ",".join(str(round(255 * c)) for c in rgba[:4])


def qml_text(vmin: float, vmax: float, units: str = "K", cmap: str = LST_COLORMAP) -> str:
    """The QGIS style (QML) of a one-band raster: ``cmap`` from ``vmin`` to ``vmax``.

    Interpolated colour ramp items (the colour map sampled at :data:`_STOPS` evenly
    spaced values), labelled in ``units``; values beyond the ends take the end colours;
    NaN (the nodata) is transparent. Raises :class:`ParameterError` for a colour map
    matplotlib does not know or a range that is not finite and increasing.
    """
    import matplotlib

    if not (math.isfinite(vmin) and math.isfinite(vmax) and vmin < vmax):
        raise ParameterError(f"a style needs finite min < max, got {vmin} and {vmax}")
    try:
        ramp = matplotlib.colormaps[cmap]
    except KeyError as exc:
        raise ParameterError(f"matplotlib has no colour map {cmap!r}") from exc
    positions = np.linspace(0.0, 1.0, _STOPS)
    colours = [tuple(float(c) for c in ramp(float(p))) for p in positions]
    values = [vmin + float(p) * (vmax - vmin) for p in positions]
    lo, hi = f"{vmin:.10g}", f"{vmax:.10g}"

    root = ET.Element("qgis", version="3.28.0", styleCategories="Symbology")
    pipe = ET.SubElement(root, "pipe")
    renderer = ET.SubElement(
        pipe, "rasterrenderer", type="singlebandpseudocolor", band="1", opacity="1",
        alphaBand="-1", classificationMin=lo, classificationMax=hi, nodataColor="",
    )  # fmt: skip
    ET.SubElement(renderer, "rasterTransparency")
    origin = ET.SubElement(renderer, "minMaxOrigin")
    for tag, text in (
        ("limits", "CumulativeCut"), ("extent", "WholeRaster"), ("statAccuracy", "Estimated"),
        ("cumulativeCutLower", f"{STRETCH_PERCENTILES[0] / 100:g}"),
        ("cumulativeCutUpper", f"{STRETCH_PERCENTILES[1] / 100:g}"), ("stdDevFactor", "2"),
    ):  # fmt: skip
        ET.SubElement(origin, tag).text = text
    shader = ET.SubElement(ET.SubElement(renderer, "rastershader"), "colorrampshader")
    shader.attrib.update(
        colorRampType="INTERPOLATED", classificationMode="1", clip="0",
        minimumValue=lo, maximumValue=hi, labelPrecision="1",
    )  # fmt: skip
    gradient = ET.SubElement(shader, "colorramp", type="gradient", name="[source]")
    options = ET.SubElement(gradient, "Option", type="Map")
    for name, text in (
        ("color1", _rgba(colours[0])), ("color2", _rgba(colours[-1])), ("discrete", "0"),
        ("rampType", "gradient"), ("stops", _stops(positions, colours)),
    ):  # fmt: skip
        ET.SubElement(options, "Option", type="QString", name=name, value=text)
    for value, colour in zip(values, colours, strict=True):
        ET.SubElement(
            shader, "item", alpha="255", value=f"{value:.10g}", label=f"{value:.1f} {units}",
            color=_hex(colour),
        )  # fmt: skip
    ET.SubElement(pipe, "brightnesscontrast", brightness="0", contrast="0", gamma="1")
    ET.SubElement(pipe, "huesaturation", saturation="0", grayscaleMode="0", colorizeOn="0")
    ET.SubElement(pipe, "rasterresampler", maxOversampling="2")
    ET.SubElement(root, "blendMode").text = "0"
    ET.indent(root)
    body = ET.tostring(root, encoding="unicode")
    return f"<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n{body}\n"


def _stops(positions: Iterable[float], colours: Sequence[Sequence[float]]) -> str:
    """QGIS's gradient stops between the end colours: ``pos;r,g,b,a:pos;r,g,b,a...``."""
    inner = list(zip(positions, colours, strict=True))[1:-1]
    return ":".join(f"{p:g};{_rgba(c)}" for p, c in inner)


def stretch(raster: str | os.PathLike[str]) -> tuple[float, float] | None:
    """The :data:`STRETCH_PERCENTILES` of band 1's valid pixels, from a decimated read (the
    overviews); None when no pixel is valid or the values are all one."""
    with rasterio.open(raster) as ds:
        f = max(1, math.ceil(math.sqrt(ds.height * ds.width / _SAMPLE_PIXELS)))
        shape = (max(1, ds.height // f), max(1, ds.width // f))
        data = ds.read(1, out_shape=shape, masked=True, resampling=Resampling.nearest)
    values = np.ma.filled(data.astype(np.float64), np.nan)
    values = values[np.isfinite(values)]
    if not values.size:
        return None
    lo, hi = (float(v) for v in np.percentile(values, STRETCH_PERCENTILES))
    return (lo, hi) if lo < hi else None


def write_qml(
    raster: str | os.PathLike[str],
    units: str = "K",
    *,
    overwrite: bool = False,
    inputs: Sequence[Any] = (),
    cmap: str = LST_COLORMAP,
) -> Path | None:
    """Write the style of the one-band temperature GeoTIFF ``raster`` beside it.

    Returns its path; None, with a warning, when it was not written: an existing style
    without ``overwrite`` (kept), no valid pixel to stretch on, or a failed write (the
    GeoTIFF itself is whole either way).
    """
    out = qml_path(raster)
    if out.exists() and not overwrite:
        log.warning("kept the existing QGIS style %s (overwrite replaces it)", out)
        return None
    limits = stretch(raster)
    if limits is None:
        log.warning("no QGIS style for %s: it has no two different valid values", raster)
        return None
    text = qml_text(*limits, units=units, cmap=cmap)
    try:
        with atomic_output(out, overwrite=overwrite, inputs=inputs) as tmp:
            tmp.write_text(text, encoding="utf-8")
    except (Pix2LstError, OSError) as exc:
        log.warning("the QGIS style beside %s was not written: %s", raster, exc)
        return None
    return out

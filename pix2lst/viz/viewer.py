"""An offline, self-contained HTML viewer: one synchronised map pane per layer.

The file inlines Leaflet (vendored from its npm package into
``pix2lst/viz/static``; BSD-2-Clause, licence text kept in the file), the
viewer's own CSS/JS, and per layer a colour-mapped PNG (data URI) plus the
temperatures as a base64 float32 grid (kelvin, NaN = nodata) for the hover
readout. Nothing is fetched: no CDN, no external URL.

Every layer is put on the first layer's grid (``resample=True`` warps the
others onto it; otherwise a different grid raises :class:`GridMismatchError`)
and read decimated to at most ``max_pixels`` (default 1 Mpx): the readout shows
the value of the source pixel at the centre of the display pixel under the
cursor, never an average (see :mod:`pix2lst.viz.raster`). All temperature panes
share one colour scale (percent clip over all of them).
"""

from __future__ import annotations

import base64
import html
import io
import json
import logging
import os
import re
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.colors import Normalize, to_hex
from matplotlib.ticker import MaxNLocator
from PIL import Image

from pix2lst import __version__
from pix2lst.errors import ParameterError
from pix2lst.geo.atomic import atomic_output, check_output
from pix2lst.viz.raster import LstLayer, check_same_grid, read_grid, read_lst
from pix2lst.viz.rgb import read_rgb, rgb_grid
from pix2lst.viz.style import kelvin_to_celsius, lst_cmap, percent_clip

__all__ = ["VIEWER_MAX_PIXELS", "leaflet_assets", "write_viewer"]

logger = logging.getLogger(__name__)

#: Default cap on display pixels per layer in the viewer (values and PNG).
VIEWER_MAX_PIXELS = 1_000_000


def _static(name: str) -> str:
    return resources.files("pix2lst.viz").joinpath("static", name).read_text(encoding="utf-8")


def leaflet_assets() -> tuple[str, str]:
    """Leaflet's JS and CSS as inlined: no URL left that a browser could fetch.

    The CSS loses its comments (two bug-tracker links) and its ``url(images/...)``
    references (layer-control and marker icons, unused here); in the JS the
    attribution prefix (attribution is off) loses its link and the licence
    banner's ``https://leafletjs.com`` its scheme. ``http://www.w3.org/2000/svg``
    stays: it is an XML namespace name, never requested.
    """
    js = _static("leaflet.js").replace('<a href="https://leafletjs.com" ', "<a ")
    js = js.replace("https://leafletjs.com", "leafletjs.com")
    css = re.sub(r"/\*.*?\*/", "", _static("leaflet.css"), flags=re.S)
    css = re.sub(r"url\(\s*['\"]?images/[^)]*\)", "none", css)
    return js, css


def _png_data_uri(rgba: np.ndarray) -> str:
    buf = io.BytesIO()
    Image.fromarray(rgba, mode="RGBA").save(buf, format="PNG", optimize=False, compress_level=6)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _colorbar(cmap: str | None, vmin: float, vmax: float) -> dict[str, Any]:
    cm = lst_cmap(cmap)
    stops = [f"{to_hex(cm(f))} {100 * f:.1f}%" for f in np.linspace(0.0, 1.0, 33)]
    lo, hi = kelvin_to_celsius(vmin), kelvin_to_celsius(vmax)
    ticks = [
        [(t - lo) / (hi - lo), f"{t:g}"]
        for t in MaxNLocator(7).tick_values(lo, hi)
        if lo <= t <= hi
    ]
    return {"label": "LST (°C)", "stops": stops, "ticks": ticks}


def _labels(layers: Sequence[LstLayer]) -> list[str]:
    labels = [layer.label for layer in layers]
    if len(set(labels)) < len(labels):
        labels = [layer.path.name for layer in layers]
    return labels


def _json_for_script(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=True, allow_nan=False).replace("</", "<\\/")


def write_viewer(
    layers: Sequence[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    *,
    rgb: str | os.PathLike[str] | None = None,
    resample: bool = False,
    cmap: str | None = None,
    clip: tuple[float, float] = (2.0, 98.0),
    overwrite: bool = False,
    max_pixels: int | None = VIEWER_MAX_PIXELS,
    title: str | None = None,
) -> Path:
    """Write one self-contained HTML viewer for the LST GeoTIFFs ``layers`` (+ true colour).

    ``rgb`` is a scene folder or composite shown as a last, true-colour pane.
    Returns ``out``. Works offline: open it from disk in any browser.
    """
    if not layers:
        raise ParameterError("give at least one LST GeoTIFF to view")
    check_output(out, overwrite=overwrite)
    lst_cmap(cmap)
    grid = read_grid(layers[0])
    if not resample:
        for other in layers[1:]:
            check_same_grid(grid, read_grid(other), (str(layers[0]), str(other)))
        if rgb is not None:
            check_same_grid(grid, rgb_grid(rgb), (str(layers[0]), str(rgb)))
    onto = grid if resample else None
    lst = [
        read_lst(p, max_pixels=max_pixels, onto=onto if i else None) for i, p in enumerate(layers)
    ]
    display = lst[0].grid
    vmin, vmax = percent_clip(np.concatenate([layer.values.ravel() for layer in lst]), *clip)
    cm = lst_cmap(cmap)
    norm = Normalize(vmin, vmax)
    entries: list[dict[str, Any]] = []
    for layer, label in zip(lst, _labels(lst), strict=True):
        rgba = cm(norm(np.ma.masked_invalid(layer.values)), bytes=True)
        values = np.ascontiguousarray(layer.values, dtype="<f4")
        entries.append(
            {
                "label": label,
                "title": layer.title,
                "png": _png_data_uri(rgba),
                "values": base64.b64encode(values.tobytes()).decode("ascii"),
            }
        )
    if rgb is not None:
        true = read_rgb(rgb, max_pixels=max_pixels, onto=onto)
        rgba = np.round(true.image * 255.0).astype(np.uint8)
        entries.append({"label": true.label, "title": Path(rgb).name, "png": _png_data_uri(rgba)})
    src_h, src_w = grid.height, grid.width
    note = (
        f"Shared stretch {clip[0]:g}-{clip[1]:g} %: {kelvin_to_celsius(vmin):.1f} to "
        f"{kelvin_to_celsius(vmax):.1f} °C. Display grid {display.width}x{display.height} px"
        + (
            f" (source {src_w}x{src_h}, nearest-pixel decimation: readouts are source values)."
            if (display.width, display.height) != (src_w, src_h)
            else " (full resolution)."
        )
    )
    config = {
        "width": display.width,
        "height": display.height,
        "source_width": src_w,
        "source_height": src_h,
        "transform": list(display.transform)[:6],
        "crs": None if display.crs is None else display.crs.to_string(),
        "vmin": vmin,
        "vmax": vmax,
        "layers": entries,
        "colorbar": _colorbar(cmap, vmin, vmax),
        "note": note,
    }
    js, css = leaflet_assets()
    page_title = title or "pix2lst LST viewer: " + " | ".join(e["label"] for e in entries)
    fill = {
        "VERSION": __version__,
        "TITLE": html.escape(page_title),
        "LEAFLET_CSS": css,
        "VIEWER_CSS": _static("viewer.css"),
        "DATA": _json_for_script(config),
        "LEAFLET_JS": js,
        "VIEWER_JS": _static("viewer.js"),
    }
    page = re.sub(
        r"@([A-Z_]+)@", lambda m: fill.get(m.group(1), m.group(0)), _static("viewer.html")
    )
    with atomic_output(out, overwrite=overwrite, suffix=".html") as tmp:
        tmp.write_text(page, encoding="utf-8")
    logger.info(
        "viewer %s: %d layer(s), %dx%d px", out, len(entries), display.width, display.height
    )
    return Path(out)

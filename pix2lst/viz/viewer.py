"""An offline, self-contained HTML viewer: one synchronised map pane per layer.

The file inlines Leaflet (vendored from its npm package into
``pix2lst/viz/static``; BSD-2-Clause, licence text kept in the file), the
viewer's own CSS/JS, and per LST layer the temperatures quantised to 0.02 K as
delta-coded, zlib-deflated uint16 (0 = nodata; see :func:`encode_values`): the
browser inflates them with its own ``DecompressionStream`` and colours them
with the layer's 255-colour table into a canvas (nodata transparent), so one
compact array serves both the picture and the readout. True colour is a lossy
WebP with alpha. With two or more LST layers a
difference pane (second minus first, diverging scale centred on zero) follows
them. The readout gives map x/y and latitude/longitude (bilinear in a 17 x 17
grid of exact lat/lon nodes, well under a metre off in UTM) and a scale bar
follows the zoom. Nothing is fetched: no CDN, no external URL.

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
import zlib
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.colors import to_hex
from matplotlib.ticker import MaxNLocator
from PIL import Image

from pix2lst import __version__
from pix2lst.errors import OutputWriteError, ParameterError
from pix2lst.geo.atomic import atomic_output, check_output
from pix2lst.viz.mapaxes import georeferenced, metres_per_unit
from pix2lst.viz.raster import Grid, LstLayer, check_same_grid, mask_layer, read_grid, read_lst
from pix2lst.viz.rgb import read_rgb, rgb_grid
from pix2lst.viz.style import (
    DIFF_CMAP_NAME,
    colorbar_extend,
    kelvin_to_celsius,
    lst_cmap,
    percent_clip,
    symmetric_limits,
)

__all__ = [
    "QUANTUM_K",
    "VIEWER_MAX_PIXELS",
    "decode_values",
    "encode_values",
    "leaflet_assets",
    "write_viewer",
]

logger = logging.getLogger(__name__)

#: Default cap on display pixels per layer in the viewer (values and PNG).
VIEWER_MAX_PIXELS = 1_000_000
#: Step of the readout values embedded in the viewer (kelvin): half of it is the largest error.
QUANTUM_K = 0.02
_LONLAT_NODES = 17


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


def _webp_data_uri(rgba: np.ndarray) -> str:
    """A lossy WebP with alpha (true colour: about a tenth of the PNG's size)."""
    buf = io.BytesIO()
    Image.fromarray(rgba, mode="RGBA").save(buf, format="WEBP", quality=85, alpha_quality=100)
    return "data:image/webp;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _lut(cmap: str | None) -> list[str]:
    """255 colours from the bottom to the top of the stretch (the browser colours the values)."""
    cm = lst_cmap(cmap)
    return [to_hex(c) for c in cm(np.linspace(0.0, 1.0, 255))]


def encode_values(values: np.ndarray) -> dict[str, Any]:
    """Readout values (kelvin, NaN = nodata) for the page: quantised, delta-coded, deflated.

    ``q = 0`` is nodata, else ``value = offset + scale * q`` with ``scale``
    :data:`QUANTUM_K` (coarser only when the range exceeds 1300 K). Each row is
    stored as differences from its left neighbour (mod 2^16), high bytes then
    low bytes, zlib-compressed and base64-encoded: about a third of float32.
    """
    ok = np.isfinite(values)
    lo = float(values[ok].min()) if ok.any() else 0.0
    hi = float(values[ok].max()) if ok.any() else 0.0
    scale = max(QUANTUM_K, (hi - lo) / 65_000.0)
    offset = float(np.floor(lo / scale) * scale - scale)
    q = np.zeros(values.shape, dtype=np.uint16)
    q[ok] = np.clip(np.round((values[ok] - offset) / scale), 1, 65_535).astype(np.uint16)
    d = q.copy()
    d[:, 1:] = (
        q[:, 1:] - q[:, :-1]
    )  # uint16 arithmetic wraps: the browser's cumulative sum undoes it
    planes = np.stack([(d >> 8).astype(np.uint8), (d & 0xFF).astype(np.uint8)])
    data = base64.b64encode(zlib.compress(planes.tobytes(), 9)).decode("ascii")
    return {"data": data, "scale": scale, "offset": offset}


def decode_values(encoded: dict[str, Any], height: int, width: int) -> np.ndarray:
    """The inverse of :func:`encode_values` (as the page does it): float64 kelvin, NaN = nodata."""
    raw = np.frombuffer(zlib.decompress(base64.b64decode(encoded["data"])), dtype=np.uint8)
    hi, lo = raw.reshape(2, height, width).astype(np.uint16)
    q = np.cumsum((hi << 8) | lo, axis=1, dtype=np.uint16)
    out = encoded["offset"] + encoded["scale"] * q.astype(np.float64)
    out[q == 0] = np.nan
    return out


def _colorbar(
    cmap: str | None,
    vmin: float,
    vmax: float,
    values: np.ndarray,
    *,
    label: str = "LST (°C)",
    celsius: bool = True,
) -> dict[str, Any]:
    """The page's colour bar: gradient stops, ticks, and arrows at the ends that clip ``values``."""
    cm = lst_cmap(cmap)
    stops = [f"{to_hex(cm(f))} {100 * f:.1f}%" for f in np.linspace(0.0, 1.0, 33)]
    lo, hi = (kelvin_to_celsius(vmin), kelvin_to_celsius(vmax)) if celsius else (vmin, vmax)
    ticks = [
        [(t - lo) / (hi - lo), f"{t:g}"]
        for t in MaxNLocator(7).tick_values(lo, hi)
        if lo <= t <= hi
    ]
    extend = colorbar_extend(values, vmin, vmax)
    ends = {"min": to_hex(cm(0.0)), "max": to_hex(cm(1.0))}
    arrows = {end: colour for end, colour in ends.items() if extend in (end, "both")}
    return {"label": label, "stops": stops, "ticks": ticks, "arrows": arrows}


def _lonlat_nodes(grid: Grid) -> dict[str, Any] | None:
    """Exact lon/lat at a 17 x 17 lattice of the display grid's pixel corners (JS interpolates)."""
    if not georeferenced(grid):
        return None
    from rasterio.warp import transform

    n = _LONLAT_NODES
    cols, rows = np.meshgrid(np.linspace(0, grid.width, n), np.linspace(0, grid.height, n))
    t = grid.transform
    xs = t.a * cols + t.b * rows + t.c
    ys = t.d * cols + t.e * rows + t.f
    lon, lat = transform(grid.crs, "EPSG:4326", xs.ravel().tolist(), ys.ravel().tolist())
    return {"n": n, "lon": [round(v, 8) for v in lon], "lat": [round(v, 8) for v in lat]}


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
    difference: bool = True,
    mask: str | os.PathLike[str] | None = None,
    rgb_title: str | None = None,
    note: str | None = None,
) -> Path:
    """Write one self-contained HTML viewer for the LST GeoTIFFs ``layers`` (+ true colour).

    ``rgb`` is a scene folder or composite shown as a last, true-colour pane
    (``rgb_title`` overrides its label). With two or more layers and
    ``difference`` a pane shows the second minus the first. ``mask`` is a
    raster on the same grid whose nodata pixels are hidden in every LST pane
    (e.g. the cloud-masked physics LST). ``note`` is shown under the panes.
    Returns ``out``. Works offline: open it from disk in any browser.
    """
    if not layers:
        raise ParameterError("give at least one LST GeoTIFF to view")
    check_output(out, overwrite=overwrite, inputs=[*layers, rgb])
    lst_cmap(cmap)
    grid = read_grid(layers[0])
    if not resample:
        for other in [*layers[1:], *([mask] if mask is not None else [])]:
            check_same_grid(grid, read_grid(other), (str(layers[0]), str(other)))
        if rgb is not None:
            check_same_grid(grid, rgb_grid(rgb), (str(layers[0]), str(rgb)))
    onto = grid if resample else None
    lst = [
        read_lst(p, max_pixels=max_pixels, onto=onto if i else None) for i, p in enumerate(layers)
    ]
    if mask is not None:
        hidden = np.isnan(read_lst(mask, max_pixels=max_pixels, onto=onto).values)
        lst = [mask_layer(layer, hidden) for layer in lst]
    display = lst[0].grid
    vmin, vmax = percent_clip(np.concatenate([layer.values.ravel() for layer in lst]), *clip)
    entries: list[dict[str, Any]] = []
    for layer, label in zip(lst, _labels(lst), strict=True):
        entries.append(
            {
                "kind": "lst",
                "label": label,
                "title": layer.title,
                "values": encode_values(layer.values),
                "vmin": vmin,
                "vmax": vmax,
                "lut": _lut(cmap),
            }
        )
    colorbars = [_colorbar(cmap, vmin, vmax, np.concatenate([v.values.ravel() for v in lst]))]
    if difference and len(lst) >= 2:
        diff = lst[1].values.astype(np.float64) - lst[0].values
        dlo, dhi = symmetric_limits(diff)
        entries.append(
            {
                "kind": "diff",
                "label": f"{entries[1]['label']} − {entries[0]['label']}",
                "title": "difference, B − A (K)",
                "values": encode_values(diff),
                "vmin": dlo,
                "vmax": dhi,
                "lut": _lut(DIFF_CMAP_NAME),
            }
        )
        colorbars.append(
            _colorbar(DIFF_CMAP_NAME, dlo, dhi, diff, label="ΔLST, B − A (K = °C)", celsius=False)
        )
    if rgb is not None:
        true = read_rgb(rgb, max_pixels=max_pixels, onto=onto)
        rgba = np.round(true.image * 255.0).astype(np.uint8)
        entries.append(
            {
                "kind": "rgb",
                "label": rgb_title or true.label,
                "title": Path(rgb).name,
                "image": _webp_data_uri(rgba),
            }
        )
    src_h, src_w = grid.height, grid.width
    note_text = (
        f"Shared stretch {clip[0]:g}-{clip[1]:g} %: {kelvin_to_celsius(vmin):.1f} to "
        f"{kelvin_to_celsius(vmax):.1f} °C. Display grid {display.width}x{display.height} px"
        + (
            f" (source {src_w}x{src_h}, nearest-pixel decimation: readouts are source values"
            f" to {QUANTUM_K / 2:g} K)."
            if (display.width, display.height) != (src_w, src_h)
            else f" (full resolution; readouts to {QUANTUM_K / 2:g} K)."
        )
        + (f" {note}" if note else "")
    )
    t = display.transform
    config = {
        "width": display.width,
        "height": display.height,
        "source_width": src_w,
        "source_height": src_h,
        "transform": list(t)[:6],
        "crs": _crs_name(display.crs),
        "pixel_size_m": (abs(t.a) * metres_per_unit(display) if georeferenced(display) else None),
        "lonlat": _lonlat_nodes(display),
        "vmin": vmin,
        "vmax": vmax,
        "layers": entries,
        "colorbars": colorbars,
        "note": note_text,
    }
    js, css = leaflet_assets()
    page_title = title or "pix2lst LST viewer: " + " | ".join(
        e["label"] for e in entries if e["kind"] != "diff"
    )
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
    data = page.encode("utf-8")

    def verify(tmp: Path) -> None:  # the whole page is on disk (a full disk cuts it short)
        if tmp.stat().st_size != len(data):
            raise OutputWriteError(f"{out} was cut short while writing; is the disk full?")

    with atomic_output(
        out, overwrite=overwrite, suffix=".html", inputs=[*layers, rgb], verify=verify
    ) as tmp:
        tmp.write_bytes(data)
    logger.info(
        "viewer %s: %d pane%s, %dx%d px, %.1f MB",
        out, len(entries), "" if len(entries) == 1 else "s", display.width, display.height,
        len(page) / 1e6,
    )  # fmt: skip
    return Path(out)


def _crs_name(crs: Any) -> str | None:
    if crs is None:
        return None
    epsg = crs.to_epsg()
    return f"EPSG:{epsg}" if epsg else crs.to_string()

"""One place for the colour maps and stretches every pix2lst figure uses.

The LST maps use a diverging blue-yellow-red map (``RdYlBu_r``: cool is blue,
hot is red), which ColorBrewer rates safe for colour-blind readers; the
arcgis.learn notebook the project follows used red-yellow-green (``RdYlGn_r``),
which red-green colour-blind readers cannot read. Any matplotlib colour map can
be asked for by name (``--cmap``); nodata is transparent in every map. Stretches are percent clips computed over
valid (non-NaN) pixels only. Nothing here touches pyplot's global state: figures
are built from :class:`matplotlib.figure.Figure` directly, so library users'
backends and open figures are never disturbed.
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
from matplotlib.colors import Colormap
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, FuncFormatter, MaxNLocator

from pix2lst.errors import (
    EmptySceneError,
    OutputWriteError,
    ParameterError,
    UnknownColormapError,
)
from pix2lst.geo.atomic import atomic_output
from pix2lst.geo.qml import LST_COLORMAP
from pix2lst.geo.units import KELVIN_OFFSET

__all__ = [
    "DIFF_CMAP_NAME",
    "KELVIN_OFFSET",
    "LST_CMAP_NAME",
    "MIN_CLEAR_FRACTION",
    "UnknownColormapError",
    "add_celsius_colorbar",
    "celsius_to_kelvin",
    "colorbar_extend",
    "kelvin_to_celsius",
    "lst_cmap",
    "new_figure",
    "percent_clip",
    "save_figure",
    "symmetric_limits",
    "true_colour",
    "wrap_text",
]

#: Default LST colour map: the one of the QGIS style beside every LST GeoTIFF
#: (diverging blue (cool) - yellow - red (hot), colour-blind safe), so that a figure and
#: the raster in QGIS look alike.
LST_CMAP_NAME = LST_COLORMAP
#: Default colour map for differences (B - A), centred on zero: blue cooler, red warmer.
DIFF_CMAP_NAME = "RdBu_r"
#: 0 degrees Celsius in kelvin.


def lst_cmap(name: str | None = None) -> Colormap:
    """The matplotlib colour map ``name`` (default :data:`LST_CMAP_NAME`).

    NaN ("bad") pixels map to fully transparent. Raises
    :class:`UnknownColormapError` for a name matplotlib does not know.
    """
    key = LST_CMAP_NAME if name is None else name
    try:
        cmap = matplotlib.colormaps[key]
    except KeyError:
        known = ", ".join(sorted(n for n in matplotlib.colormaps if not n.endswith("_r"))[:12])
        raise UnknownColormapError(
            f"unknown colour map {key!r}; give any matplotlib colour map name "
            f"(e.g. {LST_CMAP_NAME}, viridis, inferno, coolwarm; known include {known}, ...)"
        ) from None
    return cmap.with_extremes(bad=(0.0, 0.0, 0.0, 0.0))


def percent_clip(values: np.ndarray, low: float = 2.0, high: float = 98.0) -> tuple[float, float]:
    """Percentiles ``low`` and ``high`` (in %) of the finite values of ``values``.

    NaN and +-inf are ignored. Raises :class:`EmptySceneError` when no value is
    finite and ``ValueError`` when the percentiles are not 0 <= low < high <= 100.
    When the two percentiles coincide (a constant image) the range is widened by
    0.5 on each side so that a colour scale can still be drawn.
    """
    if not 0.0 <= low < high <= 100.0:
        raise ParameterError(f"percent clip needs 0 <= low < high <= 100, got {low}, {high}")
    arr = np.asarray(values, dtype=np.float64)
    finite = arr[np.isfinite(arr)]
    if finite.size == 0:
        raise EmptySceneError(
            "every pixel is nodata (NaN), so there is nothing to stretch or display; "
            "check the input raster and its nodata value"
        )
    lo, hi = np.percentile(finite, [low, high])
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    return float(lo), float(hi)


def symmetric_limits(values: np.ndarray, percentile: float = 98.0) -> tuple[float, float]:
    """``(-m, m)`` with ``m`` the ``percentile`` of ``|values|`` (finite only); for maps centred on 0."""
    arr = np.abs(np.asarray(values, dtype=np.float64))
    finite = arr[np.isfinite(arr)]
    if finite.size == 0:
        raise EmptySceneError("the difference has no valid pixel: the two maps share no valid area")
    m = float(np.percentile(finite, percentile))
    if m <= 0.0:
        m = 0.5
    return -m, m


#: Fewest clear pixels, as a fraction of the valid ones, that a true-colour stretch is
#: computed on; below it (a scene all cloud) the stretch uses every valid pixel.
MIN_CLEAR_FRACTION = 0.01


def true_colour(
    rgb: np.ndarray, low: float = 2.0, high: float = 98.0, clear: np.ndarray | None = None
) -> np.ndarray:
    """An RGBA image (h, w, 4) in [0, 1] from a (3, h, w) float stack (R, G, B = B4, B3, B2).

    Each band is stretched on its own ``low``-``high`` percent clip and clipped to
    [0, 1]; alpha is 0 where any band is NaN and 1 elsewhere. ``clear`` (boolean,
    (h, w)) names the pixels the percentiles are taken over, e.g. those without
    cloud: bright clouds then saturate to white instead of setting the top of the
    stretch and darkening the land (a stretch driven by clouds turns it black).
    """
    arr = np.asarray(rgb, dtype=np.float64)
    if arr.ndim != 3 or arr.shape[0] != 3:
        raise ParameterError(
            f"true_colour needs a (3, h, w) array (B4, B3, B2), got shape {arr.shape}"
        )
    valid = np.all(np.isfinite(arr), axis=0)
    if not valid.any():
        raise EmptySceneError("every pixel of the true-colour bands is nodata; nothing to show")
    stretch_on = valid
    if clear is not None:
        if clear.shape != valid.shape:
            raise ParameterError(f"clear is {clear.shape}, the bands are {valid.shape}")
        if (valid & clear).sum() >= MIN_CLEAR_FRACTION * valid.sum():
            stretch_on = valid & clear
    out = np.zeros((*arr.shape[1:], 4), dtype=np.float64)
    for i in range(3):
        lo, hi = percent_clip(arr[i][stretch_on], low, high)
        band = (arr[i] - lo) / (hi - lo)
        out[..., i] = np.where(valid, np.clip(band, 0.0, 1.0), 0.0)
    out[..., 3] = valid.astype(np.float64)
    return out


def kelvin_to_celsius(x: Any) -> Any:
    """Kelvin to degrees Celsius (works on scalars and arrays)."""
    return x - KELVIN_OFFSET


def celsius_to_kelvin(x: Any) -> Any:
    """Degrees Celsius to kelvin (works on scalars and arrays)."""
    return x + KELVIN_OFFSET


def new_figure(width: float = 6.0, height: float = 5.0, dpi: int = 100) -> Figure:
    """A matplotlib ``Figure`` not registered with pyplot (Agg canvas; ``fig.savefig`` works)."""
    return Figure(figsize=(width, height), dpi=dpi, layout="constrained")


def colorbar_extend(values: Any, vmin: float, vmax: float) -> str:
    """``"neither"``, ``"min"``, ``"max"`` or ``"both"``: which ends of a ``vmin``-``vmax``
    colour scale clip some of the finite ``values`` (a colour bar draws those ends as arrows)."""
    arr = np.asarray(np.ma.filled(values, np.nan) if np.ma.isMaskedArray(values) else values,
                     dtype=np.float64)  # fmt: skip
    finite = arr[np.isfinite(arr)]
    below = bool(finite.size and finite.min() < vmin)
    above = bool(finite.size and finite.max() > vmax)
    return {(False, False): "neither", (True, False): "min", (False, True): "max"}.get(
        (below, above), "both"
    )


def add_celsius_colorbar(
    fig: Figure,
    mappable: Any,
    ax: Any = None,
    label: str = "LST (°C)",
    kelvin: bool = True,
    values: Any = None,
    **kwargs: Any,
) -> Any:
    """Add a colour bar for ``mappable`` labelled in degrees Celsius; return it.

    When ``kelvin`` is true the mappable's data are in K and the tick labels are
    converted to °C (the image itself is left in K, so its readout stays exact).
    An end of the scale that clips data (of ``values``, default the mappable's own)
    is drawn as an arrow, unless ``extend`` is given.
    """
    if "extend" not in kwargs and mappable.norm.vmin is not None and mappable.norm.vmax is not None:
        data = mappable.get_array() if values is None else values
        kwargs["extend"] = colorbar_extend(data, mappable.norm.vmin, mappable.norm.vmax)
    cbar = fig.colorbar(mappable, ax=ax, label=label, **kwargs)
    if kelvin:
        vmin, vmax = mappable.norm.vmin, mappable.norm.vmax
        if vmin is not None and vmax is not None:
            lo_c, hi_c = kelvin_to_celsius(vmin), kelvin_to_celsius(vmax)
            ticks_c = [t for t in MaxNLocator(6).tick_values(lo_c, hi_c) if lo_c <= t <= hi_c]
            cbar.locator = FixedLocator([celsius_to_kelvin(t) for t in ticks_c])
        cbar.formatter = FuncFormatter(lambda v, _pos: f"{kelvin_to_celsius(v):g}")
        cbar.update_ticks()
    return cbar


def _verify_png(path: Path) -> None:
    """The PNG reads back completely (a full disk cuts it short)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            im.load()
    except (OSError, UnidentifiedImageError, SyntaxError) as exc:
        raise OutputWriteError(
            f"the PNG written for {path.name} does not read back ({exc}); is the disk full?"
        ) from exc


def wrap_text(text: str, width_in: float, fontsize: float) -> str:
    """``text`` broken into lines that fit ``width_in`` inches at ``fontsize`` points.

    Matplotlib does not wrap titles and captions under constrained layout; a long
    scene id + date + model title would run off the figure. Existing line breaks stay.
    """
    chars = max(20, int(width_in * 72.0 / (0.58 * fontsize)))
    return "\n".join(
        textwrap.fill(line, chars, break_on_hyphens=False) or line for line in text.split("\n")
    )


def save_figure(
    fig: Figure,
    out: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    dpi: float | None = None,
    transparent: bool = False,
) -> Path:
    """Write ``fig`` as a PNG through :func:`~pix2lst.geo.atomic.atomic_output`; return ``out``.

    The one PNG writer of every pix2lst figure (quicklooks here, show_batch,
    show_results and lr_find in export). ``dpi=None`` keeps the figure's own dpi.
    """
    with atomic_output(out, overwrite=overwrite, suffix=".png", verify=_verify_png) as tmp:
        fig.savefig(
            tmp, format="png", dpi="figure" if dpi is None else dpi, transparent=transparent
        )
    return Path(out)

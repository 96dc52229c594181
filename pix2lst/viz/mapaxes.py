"""Maps, not pictures: coordinates, a scale bar, a north arrow and a world file.

A raster is drawn in its own CRS (``imshow`` with the grid's extent), so the
axes' data coordinates are map coordinates:

- ticks in map units along the bottom and left (kilometres for a projected CRS
  in metres, degrees for a geographic one) and latitude/longitude along the top
  and right (exact along those edges, computed with :func:`rasterio.warp.transform`);
- a scale bar with a round length (1, 2 or 5 x 10^k m) of about a fifth of the width;
- a north arrow pointing to true north at the map's centre (grid north differs
  from it by the meridian convergence, up to a few degrees in UTM);
- :func:`write_world_file`: the PNG's georeferencing as a world file (``.pgw``)
  plus a GDAL ``.aux.xml`` with the CRS, so QGIS places the quicklook on the map.

A grid without CRS, or a rotated transform, is drawn in pixel coordinates
(column, row) without scale bar or arrow.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import numpy as np
from matplotlib import patheffects
from matplotlib.figure import Figure
from matplotlib.ticker import FixedLocator, Formatter, MaxNLocator

from pix2lst.errors import ParameterError
from pix2lst.geo.atomic import atomic_output
from pix2lst.viz.raster import Grid

__all__ = [
    "StepFormatter",
    "draw_map",
    "georeferenced",
    "image_extent",
    "metres_per_unit",
    "nice_length",
    "north_bearing",
    "png_transform",
    "tick_decimals",
    "world_file_paths",
    "write_world_file",
]

_HALO = [patheffects.withStroke(linewidth=2.5, foreground="white")]


def georeferenced(grid: Grid) -> bool:
    """True when ``grid`` has a CRS and a north-up transform (no rotation)."""
    t = grid.transform
    return grid.crs is not None and t.b == 0.0 and t.d == 0.0 and t.a > 0.0 and t.e < 0.0


def image_extent(grid: Grid) -> tuple[float, float, float, float]:
    """``(left, right, bottom, top)`` of ``grid`` for ``imshow(extent=...)``.

    Map coordinates when :func:`georeferenced`, else pixel coordinates
    (column right, row down: ``(0, width, height, 0)``).
    """
    if not georeferenced(grid):
        return 0.0, float(grid.width), float(grid.height), 0.0
    t = grid.transform
    return t.c, t.c + t.a * grid.width, t.f + t.e * grid.height, t.f


def metres_per_unit(grid: Grid) -> float:
    """Metres per map unit along x at the grid's centre."""
    crs = grid.crs
    if crs is not None and crs.is_geographic:
        lat = _centre_lonlat(grid)[1]
        return 111_320.0 * max(math.cos(math.radians(lat)), 1e-6)
    try:
        return float(crs.linear_units_factor[1]) if crs is not None else 1.0
    except Exception:  # a CRS without linear units: treat them as metres
        return 1.0


def _centre(grid: Grid) -> tuple[float, float]:
    left, right, bottom, top = image_extent(grid)
    return (left + right) / 2.0, (bottom + top) / 2.0


def _to_lonlat(grid: Grid, xs: Any, ys: Any) -> tuple[np.ndarray, np.ndarray]:
    from rasterio.warp import transform

    lon, lat = transform(grid.crs, "EPSG:4326", list(np.ravel(xs)), list(np.ravel(ys)))
    return np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)


def _centre_lonlat(grid: Grid) -> tuple[float, float]:
    x, y = _centre(grid)
    lon, lat = _to_lonlat(grid, [x], [y])
    return float(lon[0]), float(lat[0])


def nice_length(max_metres: float) -> float:
    """The largest 1, 2 or 5 x 10^k metres not over ``max_metres`` (> 0)."""
    if not max_metres > 0:
        raise ParameterError(f"need a positive length, got {max_metres}")
    exp = math.floor(math.log10(max_metres))
    for m in (5.0, 2.0, 1.0):
        if m * 10.0**exp <= max_metres:
            return m * 10.0**exp
    return 10.0**exp  # pragma: no cover - 1 x 10^exp always fits


def _length_label(metres: float) -> str:
    return f"{metres / 1000:g} km" if metres >= 1000 else f"{metres:g} m"


def north_bearing(grid: Grid) -> float:
    """Angle (degrees, counter-clockwise from grid up) of true north at the grid's centre."""
    from rasterio.warp import transform

    lon, lat = _centre_lonlat(grid)
    step = 0.01
    (x0, x1), (y0, y1) = transform("EPSG:4326", grid.crs, [lon, lon], [lat, lat + step])
    return math.degrees(math.atan2(-(x1 - x0), y1 - y0))


def tick_decimals(values: Any, max_decimals: int = 8) -> int:
    """The fewest decimals that write every tick value exactly (``20.825`` needs 3).

    A tick step of 0.025 needs three decimals, one of 0.5 needs one: the label must
    name the tick's own value, not a rounded neighbour (cartopy's formatters follow
    the step in the same way).
    """
    arr = np.asarray(values, dtype=np.float64)
    arr = arr[np.isfinite(arr)]
    for d in range(max_decimals + 1):
        if np.all(np.abs(arr - np.round(arr, d)) <= 1e-9 * np.maximum(1.0, np.abs(arr))):
            return d
    return max_decimals


class StepFormatter(Formatter):
    """Tick labels that name their tick's value exactly.

    Latitude/longitude (``hemispheres`` ``("N", "S")`` or ``("E", "W")``: the absolute
    value, a degree sign and the hemisphere) take as many decimals as the tick step
    needs, all alike (:func:`tick_decimals`), as cartopy's formatters do. Plain values
    (``scale`` multiplies first, metres to kilometres; ``suffix`` follows) take the
    fewest decimals each tick needs (``400``, ``400.5``).
    """

    def __init__(
        self, scale: float = 1.0, hemispheres: tuple[str, str] | None = None, suffix: str = ""
    ) -> None:
        self.scale, self.hemispheres, self.suffix = scale, hemispheres, suffix
        self.decimals = 0

    def set_locs(self, locs: Any) -> None:
        super().set_locs(locs)
        self.decimals = tick_decimals(np.asarray(locs, dtype=np.float64) * self.scale)

    def __call__(self, x: float, pos: int | None = None) -> str:
        v = x * self.scale
        if self.hemispheres is None:
            text = f"{v:.{tick_decimals([v])}f}"
            return ("0" if float(text) == 0 else text) + self.suffix
        positive, negative = self.hemispheres
        text = f"{abs(v):.{self.decimals}f}"
        hemi = "" if float(text) == 0 else (positive if v > 0 else negative)
        return f"{text}°{hemi}"


def _edge_axis(ax: Any, grid: Grid, which: str, fontsize: float) -> None:
    """Longitude along the top edge or latitude along the right edge, as a secondary axis."""
    left, right, bottom, top = image_extent(grid)
    if which == "top":
        xs = np.linspace(left, right, 64)
        lon, _ = _to_lonlat(grid, xs, np.full_like(xs, top))
        coord, geo = xs, lon
    else:
        ys = np.linspace(bottom, top, 64)
        _, lat = _to_lonlat(grid, np.full_like(ys, right), ys)
        coord, geo = ys, lat
    if not np.all(np.isfinite(geo)) or np.any(np.diff(geo) == 0):
        return
    order = np.argsort(geo)

    def forward(v: Any) -> Any:
        return np.interp(v, coord, geo)

    def inverse(v: Any) -> Any:
        return np.interp(v, geo[order], coord[order])

    lo, hi = float(geo.min()), float(geo.max())
    ticks = FixedLocator([t for t in MaxNLocator(4).tick_values(lo, hi) if lo <= t <= hi])
    if which == "top":
        sec = ax.secondary_xaxis("top", functions=(forward, inverse))
        sec.xaxis.set_major_locator(ticks)
        sec.xaxis.set_major_formatter(StepFormatter(hemispheres=("E", "W")))
    else:
        sec = ax.secondary_yaxis("right", functions=(forward, inverse))
        sec.yaxis.set_major_locator(ticks)
        sec.yaxis.set_major_formatter(StepFormatter(hemispheres=("N", "S")))
    sec.tick_params(labelsize=fontsize, colors="#333")


def _scale_bar(ax: Any, grid: Grid, fontsize: float) -> None:
    from matplotlib.font_manager import FontProperties
    from mpl_toolkits.axes_grid1.anchored_artists import AnchoredSizeBar

    left, right, _, _ = image_extent(grid)
    per_unit = metres_per_unit(grid)
    metres = nice_length(0.25 * (right - left) * per_unit)
    bar = AnchoredSizeBar(
        ax.transData, metres / per_unit, _length_label(metres), "lower right",
        pad=0.4, borderpad=0.6, sep=3, frameon=True, size_vertical=0,
        fontproperties=FontProperties(size=fontsize),
    )  # fmt: skip
    bar.patch.set_alpha(0.75)
    bar.patch.set_edgecolor("none")
    bar.size_bar.get_children()[0].set_linewidth(2.0)
    ax.add_artist(bar)


def _north_arrow(ax: Any, grid: Grid, fontsize: float) -> None:
    angle = math.radians(north_bearing(grid))
    length = 0.09
    x0, y0 = 0.06, 0.08
    tip = (x0 - length * math.sin(angle), y0 + length * math.cos(angle))
    ax.annotate(
        "", xy=tip, xytext=(x0, y0), xycoords="axes fraction",
        arrowprops={"arrowstyle": "-|>", "color": "black", "lw": 1.5, "shrinkA": 0, "shrinkB": 0,
                    "path_effects": _HALO},
    )  # fmt: skip
    ax.text(
        tip[0], tip[1] + 0.015, "N", transform=ax.transAxes, ha="center", va="bottom",
        fontsize=fontsize + 1, fontweight="bold", path_effects=_HALO,
    )  # fmt: skip


def draw_map(
    ax: Any,
    image: np.ndarray,
    grid: Grid,
    *,
    fontsize: float = 8.0,
    decorations: bool = True,
    **imshow_kw: Any,
) -> Any:
    """``imshow`` ``image`` (on ``grid``) in map coordinates with ticks, scale bar, north arrow.

    Returns the ``AxesImage``. ``decorations=False`` keeps the map coordinates
    but leaves ticks, scale bar and arrow out (for small panels).
    """
    im = ax.imshow(image, extent=image_extent(grid), interpolation="nearest", **imshow_kw)
    ax.tick_params(labelsize=fontsize, colors="#333")
    if not georeferenced(grid):
        ax.set_xlabel("column (px)", fontsize=fontsize)
        ax.set_ylabel("row (px)", fontsize=fontsize)
        if not decorations:
            ax.set_xticks([])
            ax.set_yticks([])
        return im
    if not decorations:
        ax.set_xticks([])
        ax.set_yticks([])
        return im
    per_unit = metres_per_unit(grid)
    geographic = grid.crs is not None and grid.crs.is_geographic
    if geographic:
        xlabel, ylabel = "longitude", "latitude"
    else:
        xlabel, ylabel = "easting (km)", "northing (km)"
    for axis in (ax.xaxis, ax.yaxis):
        axis.set_major_locator(MaxNLocator(5))
        axis.set_major_formatter(
            StepFormatter(suffix="°") if geographic else StepFormatter(scale=per_unit / 1000.0)
        )
    ax.set_xlabel(xlabel, fontsize=fontsize)
    ax.set_ylabel(ylabel, fontsize=fontsize)
    ax.text(
        0.99, 0.99, _crs_label(grid), transform=ax.transAxes, ha="right", va="top",
        fontsize=fontsize - 1, color="#333", path_effects=_HALO,
    )  # fmt: skip
    if not grid.crs.is_geographic:  # type: ignore[union-attr]
        _edge_axis(ax, grid, "top", fontsize)
        _edge_axis(ax, grid, "right", fontsize)
    _scale_bar(ax, grid, fontsize)
    _north_arrow(ax, grid, fontsize)
    return im


def _crs_label(grid: Grid) -> str:
    crs = grid.crs
    if crs is None:
        return ""
    epsg = crs.to_epsg()
    return f"EPSG:{epsg}" if epsg else (crs.to_dict().get("proj") or "custom CRS")


def png_transform(fig: Figure, ax: Any, dpi: float) -> tuple[float, ...]:
    """Affine ``(a, b, c, d, e, f)`` from pixel (col, row) of the PNG saved at ``dpi`` to map x, y.

    Call after the figure was drawn (saved) so that its layout is final.
    """
    scale = dpi / fig.dpi
    height = fig.bbox.height * scale
    inv = ax.transData.inverted()

    def at(col: float, row: float) -> np.ndarray:
        return np.asarray(inv.transform((col / scale, (height - row) / scale)))

    o, px, py = at(0.0, 0.0), at(1.0, 0.0), at(0.0, 1.0)
    a, d = px - o
    b, e = py - o
    return float(a), float(b), float(o[0]), float(d), float(e), float(o[1])


def world_file_paths(png: str | os.PathLike[str]) -> tuple[Path, Path]:
    """The world file (``.pgw``) and ``.png.aux.xml`` (CRS) that go beside ``png``."""
    png = Path(png)
    return png.with_suffix(".pgw"), png.with_name(png.name + ".aux.xml")


def write_world_file(
    png: str | os.PathLike[str],
    transform: tuple[float, ...],
    crs: Any,
    *,
    overwrite: bool = False,
) -> tuple[Path, Path]:
    """Write ``png``'s world file (``.pgw``) and ``.png.aux.xml`` (CRS); return both paths.

    ``transform`` is ``(a, b, c, d, e, f)`` of the pixel corners (rasterio's
    order); the world file holds a, d, b, e and the centre of the top-left pixel.
    An existing one is replaced only with ``overwrite`` (as the PNG it describes).
    """
    a, b, c, d, e, f = transform
    world, aux = world_file_paths(png)
    lines = [a, d, b, e, c + a / 2 + b / 2, f + d / 2 + e / 2]
    with atomic_output(world, overwrite=overwrite, suffix=".pgw") as tmp:
        tmp.write_text("".join(f"{v:.10f}\n" for v in lines), encoding="ascii")
    wkt = escape(crs.to_wkt()) if crs is not None else ""
    with atomic_output(aux, overwrite=overwrite, suffix=".xml") as tmp:
        tmp.write_text(
            f'<PAMDataset>\n  <SRS dataAxisToSRSAxisMapping="1,2">{wkt}</SRS>\n</PAMDataset>\n',
            encoding="utf-8",
        )
    return world, aux

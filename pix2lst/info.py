"""``pix2lst info``: what a scene is, or what an LST raster holds (as ``rio info`` does).

A scene (folder, MTL file or URL, STAC item) is described from its metadata and
one band's grid: id, date, level, mission, WRS path/row, bands found, grid and
cloud cover. A raster (an LST GeoTIFF, a composite, any GeoTIFF) is described from
its tags and pixels: units, method, model and its hash, the atmospheric
correction, the scene it came from, the grid, and the minimum, mean and maximum
of its valid pixels (read in strips of rows, so memory stays small on a full scene).

:func:`describe` returns a plain, JSON-ready dict (``--json`` prints it as is);
:func:`format_info` is the text the command prints without ``--json``.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click
import numpy as np
import rasterio
from rasterio.windows import Window

from pix2lst._cli_options import SCENE_INPUT
from pix2lst.errors import SceneError
from pix2lst.geo.grid import Grid, crs_name, read_grid

__all__ = ["describe", "format_info", "info", "raster_info", "scene_info"]

_STRIP_ROWS = 512
# path/row from a Collection product id (LC08_L1TP_020039_...) or a pre-collection id (LC80200390...)
_PRODUCT_ID = re.compile(r"^L[COTEM]\d\d_[A-Z0-9]{4}_(\d{3})(\d{3})_")
_SCENE_ID = re.compile(r"^L[COTEM]\d(\d{3})(\d{3})\d{7}")
_GRID_BANDS = ("B10", "ST_B10", "ST_TRAD", "B4", "SR_B4")
_SCENE_TAGS = ("SCENE_ID", "SPACECRAFT", "DATE_ACQUIRED", "SCENE_CENTER_TIME", "LEVEL")


def _band_key(name: str) -> tuple[str, int, str]:
    """Sort B2 before B10, SR_B2 before SR_B10, then QA bands."""
    m = re.match(r"^(.*?B)(\d+)$", name)
    return (m.group(1), int(m.group(2)), "") if m else ("~", 0, name)


def _grid_dict(grid: Grid) -> dict[str, Any]:
    """Size, CRS, resolution and bounds (map units and, where there is a CRS, lon/lat)."""
    out: dict[str, Any] = {
        "width": grid.width,
        "height": grid.height,
        "crs": crs_name(grid.crs),
        "resolution": list(grid.res),
        "bounds": list(grid.bounds),
    }
    if grid.crs is not None:
        from rasterio.warp import transform_bounds

        out["bounds_lonlat"] = [
            round(v, 6) for v in transform_bounds(grid.crs, "EPSG:4326", *grid.bounds)
        ]
    return out


def _mtl_value(text: str, key: str) -> str | None:
    """``KEY = value`` (txt), ``"KEY": "value"`` (json) or ``<KEY>value</KEY>`` (xml)."""
    m = re.search(rf'\b{key}\b"?\s*(?:=|:|>)\s*"?([^"\s<,}}]+)', text)
    return m.group(1) if m else None


def _mtl_text(source: str | Path, scene: Any) -> str | None:
    """The MTL's text for the keys MtlMetadata does not keep (cloud cover, path/row)."""
    from pix2lst.geo.remote import read_text
    from pix2lst.geo.scene import is_remote

    local = Path(scene.mtl.path)
    if local.is_file():
        return local.read_text(encoding="utf-8", errors="replace")
    if isinstance(source, str) and is_remote(source):
        return read_text(source)
    return None


def scene_info(source: str | os.PathLike[str]) -> dict[str, Any]:
    """What the scene at ``source`` is: ids, date, level, mission, path/row, bands, grid, clouds."""
    from pix2lst.geo.inputs import find_scene
    from pix2lst.geo.scene import is_remote, is_stac

    src: str | Path = source if isinstance(source, str) and is_remote(source) else Path(source)
    scene = find_scene(src)
    mtl = scene.mtl
    props: Mapping[str, Any] = {}
    text: str | None = None
    if is_stac(src):
        from pix2lst.geo.stac import load_item

        kind = "STAC item"
        item = load_item(src)[0]
        props, product_id = item.get("properties") or {}, item.get("id")
    else:
        kind = (
            "MTL URL" if is_remote(str(src)) else ("folder" if Path(src).is_dir() else "MTL file")
        )
        text = _mtl_text(src, scene)
        product_id = _mtl_value(text, "LANDSAT_PRODUCT_ID") if text else None

    def pick(prop: str, key: str) -> str | None:
        value = props.get(prop)
        if value is None and text is not None:
            value = _mtl_value(text, key)
        return None if value is None else str(value)

    path, row = pick("landsat:wrs_path", "WRS_PATH"), pick("landsat:wrs_row", "WRS_ROW")
    if path is None or row is None:
        m = _PRODUCT_ID.match(product_id or "") or _PRODUCT_ID.match(mtl.scene_id)
        m = m or _SCENE_ID.match(mtl.scene_id)
        path, row = (m.group(1), m.group(2)) if m else (None, None)
    cloud = pick("eo:cloud_cover", "CLOUD_COVER")

    # a Level-2 scene also answers to B1..B10 for its SR_/ST_ files: list each file once
    def alias(name: str) -> bool:
        where = scene.bands[name]
        return bool(re.fullmatch(r"B\d+", name)) and any(
            other != name and scene.bands[other] == where for other in scene.bands
        )

    bands = sorted((b for b in scene.bands if not alias(b)), key=_band_key)
    grid_band = next((b for b in _GRID_BANDS if b in scene.bands), bands[0])
    return {
        "kind": "scene",
        "source": str(source),
        "input": kind,
        "scene_id": mtl.scene_id,
        "product_id": product_id,
        "date": mtl.date.isoformat(),
        "time": mtl.scene_center_time,
        "mission": mtl.spacecraft,
        "sensor": mtl.sensor,
        "level": scene.level,
        "processing_level": mtl.processing_level,
        "collection": mtl.collection,
        "path": int(path) if path is not None else None,
        "row": int(row) if row is not None else None,
        "cloud_cover": float(cloud) if cloud is not None else None,
        "sun_elevation": mtl.sun_elevation,
        "bands": bands,
        "grid": {"band": grid_band, **_grid_dict(read_grid(scene.band_path(grid_band)))},
    }


def _stats(src: Any, band: int) -> dict[str, Any]:
    """Minimum, mean and maximum of the valid (not nodata, finite) pixels of ``band``."""
    count, total = 0, 0.0
    low, high = math.inf, -math.inf
    for row in range(0, src.height, _STRIP_ROWS):
        window = Window(0, row, src.width, min(_STRIP_ROWS, src.height - row))
        data = src.read(band, window=window, masked=True)
        values = np.asarray(data.compressed(), dtype=np.float64)
        values = values[np.isfinite(values)]
        if values.size:
            count += int(values.size)
            total += float(values.sum())
            low, high = min(low, float(values.min())), max(high, float(values.max()))
    if count == 0:
        return {"valid_pixels": 0, "min": None, "mean": None, "max": None}
    return {"valid_pixels": count, "min": low, "mean": total / count, "max": high}


def raster_info(path: str | os.PathLike[str]) -> dict[str, Any]:
    """What the raster at ``path`` holds: pix2lst product, units, method, model, atmosphere,
    scene, grid and per-band statistics of the valid pixels."""
    try:
        src = rasterio.open(path)
    except rasterio.errors.RasterioIOError as exc:
        raise SceneError(
            f"{path} is neither a scene (folder, MTL, STAC item) nor a raster rasterio can "
            f"read ({exc})"
        ) from exc
    with src:
        tags = src.tags()
        bands = []
        for i in range(1, src.count + 1):
            bands.append(
                {
                    "band": i,
                    "description": src.descriptions[i - 1],
                    "units": src.units[i - 1] or None,
                    "dtype": src.dtypes[i - 1],
                    **_stats(src, i),
                }
            )
        model = None
        if tags.get("MODEL"):
            model = {"name": tags["MODEL"], "sha256": tags.get("MODEL_SHA256"),
                     "target": tags.get("MODEL_TARGET")}  # fmt: skip
        atmosphere = {k: v for k, v in tags.items() if k.startswith(("ATMOS", "WATER_VAPOUR"))}
        return {
            "kind": "raster",
            "source": str(path),
            "product": tags.get("PIX2LST_PRODUCT"),
            "pix2lst_version": tags.get("PIX2LST_VERSION"),
            "units": tags.get("UNITS") or (src.units[0] or None if src.count else None),
            "method": tags.get("METHOD"),
            "emissivity": tags.get("EMISSIVITY"),
            "cloud_mask": tags.get("CLOUD_MASK"),
            "model": model,
            "atmosphere": atmosphere or None,
            "scene": {k.lower(): tags[k] for k in _SCENE_TAGS if tags.get(k)} or None,
            "driver": src.driver,
            "count": src.count,
            "nodata": src.nodata
            if src.nodata is None or math.isfinite(src.nodata)
            else str(src.nodata),
            "compression": src.compression.value if src.compression else None,
            "overviews": src.overviews(1) if src.count else [],
            "grid": _grid_dict(Grid(src.crs, src.transform, src.width, src.height)),
            "bands": bands,
            "tags": tags,
        }


def describe(source: str | os.PathLike[str]) -> dict[str, Any]:
    """:func:`scene_info` for a scene (folder, MTL, STAC item), else :func:`raster_info`."""
    from pix2lst.geo.scene import is_scene

    return scene_info(source) if is_scene(source) else raster_info(source)


_SUFFIXES = {"cloud_cover": " %", "sun_elevation": "°"}


def _text(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.8g}"
    if isinstance(value, list):
        return " ".join(_text(v) for v in value)
    return str(value)


def format_info(report: Mapping[str, Any], indent: str = "") -> str:
    """``report`` as aligned ``key  value`` lines; nested tables indented, empty keys left out."""
    shown = {k: v for k, v in report.items() if v not in (None, [], {}) and k != "tags"}
    width = max((len(k) for k in shown), default=0)
    lines = []
    for key, value in shown.items():
        label = key.replace("_", " ")
        if isinstance(value, Mapping):
            lines.append(f"{indent}{label}")
            lines.append(format_info(value, indent + "  "))
        elif isinstance(value, list) and value and isinstance(value[0], Mapping):
            for item in value:
                lines.append(f"{indent}{label} {item.get('band', '')}".rstrip())
                lines.append(format_info({k: v for k, v in item.items() if k != "band"},
                                         indent + "  "))  # fmt: skip
        else:
            lines.append(f"{indent}{label:<{width}}  {_text(value)}{_SUFFIXES.get(key, '')}")
    return "\n".join(lines)


@click.command(name="info")
@click.argument("source", metavar="SCENE|RASTER", type=SCENE_INPUT)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (machine-readable).")
def info(source: Path | str, as_json: bool) -> None:
    """What SCENE is (id, date, level, mission, path/row, bands, grid, clouds) or what RASTER
    holds (units, method, model, atmosphere, scene, grid, statistics of valid pixels).

    The description is the command's output, so it is printed also under -q.
    """
    report = describe(source)
    click.echo(json.dumps(report, indent=2) if as_json else format_info(report))

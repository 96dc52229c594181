"""Training-tile export: a composite and its LST cut into matching GeoTIFF tiles.

The layout follows ArcGIS "Export Training Data For Deep Learning" in its
Export_Tiles format: ``DIR/images/`` holds the input tiles (the 8-band
composite), ``DIR/images2/`` the target tiles (LST in kelvin) under the same
names, and ``DIR/manifest.csv`` lists every tile with its scene, pixel window,
map bounds and valid fraction. Several scenes can be appended to one folder.
"""

from __future__ import annotations

import csv
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from rasterio.windows import Window
from rasterio.windows import bounds as window_bounds
from rasterio.windows import transform as window_transform

from pix2lst.errors import (
    DatasetError,
    OutputExistsError,
    SceneError,
)
from pix2lst.export.grid import TileWindow, tile_windows
from pix2lst.geo.atomic import atomic_output
from pix2lst.geo.grid import Grid, check_grid, read_grid
from pix2lst.geo.plausible import check_composite_raster, check_temperature_raster
from pix2lst.geo.writer import raster_writer

__all__ = [
    "MANIFEST_FIELDS",
    "TileRecord",
    "TileReport",
    "check_same_grid",
    "export_tiles",
    "read_manifest",
]

log = logging.getLogger(__name__)

MANIFEST_NAME = "manifest.csv"
MANIFEST_FIELDS = (
    "name", "scene", "row_off", "col_off", "size",
    "left", "bottom", "right", "top", "crs", "valid_fraction",
)  # fmt: skip


@dataclass(frozen=True)
class TileRecord:
    """One row of the manifest."""

    name: str
    scene: str
    row_off: int
    col_off: int
    size: int
    left: float
    bottom: float
    right: float
    top: float
    crs: str
    valid_fraction: float

    @property
    def window(self) -> TileWindow:
        return TileWindow(self.row_off, self.col_off, self.size)


@dataclass(frozen=True)
class TileReport:
    """What :func:`export_tiles` did for one scene."""

    scene: str
    total: int
    written: int
    skipped_nodata: int
    tile: int
    stride: int
    out_dir: Path


def check_same_grid(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> None:
    """Raise :class:`GridMismatchError` naming every difference of CRS, transform, size."""
    check_grid(
        [(str(a), read_grid(a)), (str(b), read_grid(b))],
        hint="write both from the same scene (pix2lst composite / pix2lst physics)",
    )


def read_manifest(out_dir: str | os.PathLike[str]) -> list[TileRecord]:
    """Read ``DIR/manifest.csv``; raise :class:`DatasetError` when it is missing or bad."""
    path = Path(out_dir) / MANIFEST_NAME
    if not path.is_file():
        raise DatasetError(f"{path} not found; export tiles first with `pix2lst tiles`")
    records = []
    with path.open(newline="") as fh:
        for row in csv.DictReader(fh):
            try:
                records.append(
                    TileRecord(
                        name=row["name"],
                        scene=row["scene"],
                        row_off=int(row["row_off"]),
                        col_off=int(row["col_off"]),
                        size=int(row["size"]),
                        left=float(row["left"]),
                        bottom=float(row["bottom"]),
                        right=float(row["right"]),
                        top=float(row["top"]),
                        crs=row["crs"],
                        valid_fraction=float(row["valid_fraction"]),
                    )
                )
            except (KeyError, ValueError) as exc:
                raise DatasetError(f"{path} has a malformed row {row}: {exc}") from exc
    return records


def _write_manifest(out_dir: Path, records: list[TileRecord]) -> None:
    with (
        atomic_output(out_dir / MANIFEST_NAME, overwrite=True) as tmp,
        tmp.open("w", newline="") as fh,
    ):
        writer = csv.DictWriter(fh, fieldnames=MANIFEST_FIELDS)
        writer.writeheader()
        for rec in records:
            writer.writerow({k: getattr(rec, k) for k in MANIFEST_FIELDS})


def _scene_name(composite: Path) -> str:
    stem = composite.name.split(".")[0]
    for suffix in ("_composite", "_toa", "_dn"):
        stem = stem.removesuffix(suffix)
    return stem


def _write_tile(
    path: Path,
    data: np.ndarray,
    grid: Grid,
    descriptions: tuple,
    units: tuple[str | None, ...],
    overwrite: bool,
) -> None:
    with raster_writer(
        path, grid, count=data.shape[0], descriptions=descriptions, units=units,
        overwrite=overwrite,  # no check: the whole LST was checked once, up front
    ) as dst:  # fmt: skip
        dst.write(data, Window(0, 0, grid.width, grid.height))


def export_tiles(
    composite: str | os.PathLike[str],
    lst: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    tile: int = 256,
    stride: int = 128,
    max_nodata: float = 0.0,
    scene: str | None = None,
    overwrite: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> TileReport:
    """Cut ``composite`` (input) and ``lst`` (target) into matching tiles under ``out_dir``.

    A pixel is valid when every composite band and the LST are finite (and not
    the rasters' nodata value). Tiles whose nodata fraction exceeds ``max_nodata``
    (0.0 keeps only complete tiles) are skipped and counted. Tiles are appended to
    an existing dataset; a scene already in its manifest is refused unless
    ``overwrite``, which replaces that scene's tiles. ``progress(done, total)`` is
    called after each tile.
    """
    composite, lst, out = Path(composite), Path(lst), Path(out_dir)
    if not 0.0 <= max_nodata <= 1.0:
        raise DatasetError(f"max_nodata is a fraction in [0, 1], not {max_nodata}")
    for p in (composite, lst):
        if not p.is_file():
            raise SceneError(f"{p} not found")
    check_same_grid(composite, lst)
    check_temperature_raster(lst, "LST target")
    check_composite_raster(composite)
    extent = read_grid(composite)
    windows = tile_windows(extent.height, extent.width, tile, stride)  # bad sizes fail here
    name = scene or _scene_name(composite)
    if any(ch in name for ch in "/\\, "):
        raise DatasetError(f"scene name {name!r} must not contain '/', '\\', ',' or spaces")
    records = read_manifest(out) if (out / MANIFEST_NAME).is_file() else []
    if any(r.scene == name for r in records):
        if not overwrite:
            raise OutputExistsError(
                f"scene {name!r} is already in {out / MANIFEST_NAME}; pass --overwrite to "
                "replace its tiles, or give another --scene name"
            )
        for r in records:
            if r.scene == name:
                for sub in ("images", "images2"):
                    (out / sub / r.name).unlink(missing_ok=True)
        records = [r for r in records if r.scene != name]
    (out / "images").mkdir(parents=True, exist_ok=True)
    (out / "images2").mkdir(parents=True, exist_ok=True)

    written = skipped = 0
    with rasterio.open(composite) as src, rasterio.open(lst) as tgt:
        descriptions = tuple(d or f"band{i + 1}" for i, d in enumerate(src.descriptions))
        crs = src.crs.to_string() if src.crs else ""
        x_units, y_units = tuple(src.units), (tgt.units[0] or None,)
        for i, w in enumerate(windows):
            win = Window(w.col_off, w.row_off, w.size, w.size)
            x = src.read(window=win, out_dtype="float32", masked=True).filled(np.nan)
            y = tgt.read(1, window=win, out_dtype="float32", masked=True).filled(np.nan)
            valid = np.isfinite(x).all(axis=0) & np.isfinite(y)
            frac = float(valid.mean())
            if frac == 0.0 or 1.0 - frac > max_nodata:
                skipped += 1
            else:
                tname = f"{name}_r{w.row_off:05d}_c{w.col_off:05d}.tif"
                grid = Grid(src.crs, window_transform(win, src.transform), w.size, w.size)
                _write_tile(out / "images" / tname, x, grid, descriptions, x_units, overwrite)
                _write_tile(out / "images2" / tname, y[None], grid, ("LST",), y_units, overwrite)
                left, bottom, right, top = window_bounds(win, src.transform)
                records.append(
                    TileRecord(
                        tname,
                        name,
                        w.row_off,
                        w.col_off,
                        w.size,
                        left,
                        bottom,
                        right,
                        top,
                        crs,
                        round(frac, 6),
                    )
                )
                written += 1
            if progress is not None:
                progress(i + 1, len(windows))
    _write_manifest(out, records)
    log.info(
        "%s: %d of %d tiles written, %d skipped for nodata", name, written, len(windows), skipped
    )
    return TileReport(name, len(windows), written, skipped, tile, stride, out)

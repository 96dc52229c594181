"""Time-series cubes: LST rasters of one path/row stacked into an xarray ``(time, y, x)`` Zarr.

Real scenes of one path/row differ by a few pixels in extent between dates. They
share a grid all the same (same CRS, same pixel size, origins a whole number of
pixels apart), so the cube uses that common grid over the union of the extents,
with NaN where a date has no data; scenes that share no grid (another path/row
or CRS, another pixel size, a half-pixel shift) are refused with a clear error.

The cube follows CF: variable ``lst`` (``standard_name = surface_temperature``,
``units = K``, ``grid_mapping = spatial_ref``; rioxarray's CRS/transform
conventions), ``time`` from each scene's acquisition date and scene-centre time,
``scene_id`` per time. Chunks span every time and 256 x 256 pixels, so the time
series of one pixel is one chunk read. The cube is written strip by strip:
memory holds all times of 256 rows, never the cube.

A cube is a folder, so replacing one deletes a folder: only a pix2lst cube
(:func:`is_cube`, its ``pix2lst_product`` attribute) is ever replaced, never a
folder that is or holds one of the run's inputs (:func:`check_cube_output`), and
the new cube is written beside it, read back, and swapped in by renames.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import math
import os
import re
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import rasterio
from affine import Affine
from rasterio.windows import Window

from pix2lst.errors import (
    GridMismatchError,
    OutputExistsError,
    OutputNotWritableError,
    OutputWriteError,
    ParameterError,
    Pix2LstError,
    SceneError,
)
from pix2lst.geo.atomic import check_output, target_of, temp_name, temporaries
from pix2lst.geo.cube import (
    CUBE_PRODUCT,
    CUBE_TITLE,
    cube_layers,
    is_cube,
    open_cube,
)
from pix2lst.geo.grid import Grid, crs_name, grid_of
from pix2lst.geo.units import parse_temperature_units, to_kelvin
from pix2lst.geo.verify import write_failed

__all__ = [
    "CHUNK",
    "CUBE_PRODUCT",
    "LstInfo",
    "check_cube_output",
    "check_layers",
    "common_grid",
    "cube_layers",
    "is_cube",
    "lst_info",
    "open_cube",
    "path_row",
    "scene_layer",
    "write_cube",
]

CHUNK = 256
"""Spatial chunk size (pixels); a chunk holds every time step."""

ZARR_FORMAT = 2
"""Zarr v2: read by every Zarr library and by GDAL (v3 has no fixed-width string type yet)."""

_ALIGN_TOLERANCE = 1e-3  # pixels

_PARTIAL = re.compile(r"\.(?P<pid>\d+)-[0-9a-f]{8}\.(partial|old)$")


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or path.is_relative_to(folder)


def check_cube_output(
    out: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    inputs: Iterable[Any] = (),
    created: str | os.PathLike[str] | None = None,
) -> Path:
    """Validate a cube path before any work; return it as a ``Path``.

    ``inputs``: what must survive the run (the rasters to stack, a batch's output
    folder and input scenes): a cube path that is one of them or holds one is refused
    (:class:`~pix2lst.errors.OutputNotWritableError`), with or without ``overwrite``.
    An existing path is replaced only with ``overwrite`` and only when it is a pix2lst
    cube (:func:`is_cube`); its folder must exist and be writable
    (:func:`pix2lst.geo.atomic.check_output` on the temporary name beside it), unless
    that folder is ``created``, the folder the caller makes before writing (a batch's
    output folder).
    """
    target = Path(out)
    resolved = target.resolve()
    for item in inputs:
        if not isinstance(item, (str, os.PathLike)):
            continue
        keep = Path(item).resolve()
        if _inside(keep, resolved):
            what = "is" if keep == resolved else "holds"
            raise OutputNotWritableError(
                f"refusing to write the cube {target}: it {what} the input {item}, which "
                "writing it would destroy; choose another cube path (e.g. a new folder "
                "named like cube.zarr)"
            )
    if target.exists() or target.is_symlink():
        if not is_cube(target):
            kind = "folder" if target.is_dir() else "file"
            raise OutputNotWritableError(
                f"{target} is a {kind} that is not a pix2lst cube; only a cube replaces a "
                "cube, so nothing was changed: give a new path for the cube"
            )
        if not overwrite:
            raise OutputExistsError(
                f"the cube {target} already exists; pass --overwrite to replace it or give "
                "another path"
            )
    if created is None or not (target.parent.resolve() == Path(created).resolve()):
        check_output(temp_name(target, ".partial"))  # its folder exists and is writable
    return target


def _remove_stale_partials(target: Path) -> None:
    """Remove the temporary cube folders beside ``target`` whose writer process is gone."""
    for entry in temporaries(target.parent):
        m = _PARTIAL.search(entry.name)
        if m is None or target_of(entry).name != target.name or not entry.is_dir():
            continue
        try:
            os.kill(int(m.group("pid")), 0)
            continue  # its writer still runs
        except ProcessLookupError:
            pass
        except PermissionError:
            continue
        shutil.rmtree(entry, ignore_errors=True)


@dataclass(frozen=True)
class LstInfo:
    """One LST raster of a cube: where it is, its grid, time, scene id and unit."""

    path: Path
    grid: Grid
    time: np.datetime64
    scene_id: str
    units: str


def _time(tags: dict[str, str], path: Path) -> np.datetime64:
    date = tags.get("DATE_ACQUIRED") or tags.get("date") or tags.get("DATE")
    if not date:
        raise SceneError(
            f"{path} has no DATE_ACQUIRED tag, so its place in time is unknown; a cube takes "
            "LST rasters written by pix2lst (physics, predict, batch)"
        )
    clock = (tags.get("SCENE_CENTER_TIME") or "00:00:00").strip().strip('"').rstrip("Z")
    clock = re.sub(r"(\.\d{6})\d+", r"\1", clock)  # microseconds at most
    try:
        when = dt.datetime.fromisoformat(f"{date.strip()[:10]}T{clock}")
    except ValueError as exc:
        raise SceneError(f"{path}: DATE_ACQUIRED/SCENE_CENTER_TIME {date} {clock}: {exc}") from exc
    return np.datetime64(when.replace(tzinfo=None), "ns")


def lst_info(path: str | os.PathLike[str]) -> LstInfo:
    """Grid, time, scene id and unit of an LST GeoTIFF written by pix2lst."""
    p = Path(path)
    try:
        with rasterio.open(p) as ds:
            tags = ds.tags()
            grid = grid_of(ds)
            band_units = ds.units[0] if ds.count else None
            if ds.count != 1:
                raise SceneError(f"{p} has {ds.count} bands; a cube stacks single-band LST rasters")
    except rasterio.errors.RasterioIOError as exc:
        raise SceneError(f"cannot read {p} as a raster: {exc}") from exc
    written = band_units or tags.get("UNITS") or tags.get("units") or "K"
    units = parse_temperature_units(written, strict=False)
    if units is None:
        raise SceneError(f"{p} holds {written!r}, not a temperature in K or degC")
    return LstInfo(p, grid, _time(tags, p), tags.get("SCENE_ID") or p.stem, units)


def common_grid(infos: Sequence[LstInfo]) -> tuple[Grid, list[tuple[int, int]]]:
    """The grid covering every raster (union extent) and each raster's (row, col) offset in it.

    Raises :class:`~pix2lst.errors.GridMismatchError` naming the rasters that share
    no grid with the first (CRS, pixel size, rotation, or origins not a whole number
    of pixels apart).
    """
    ref = infos[0]
    t0 = ref.grid.transform
    if t0.b != 0 or t0.d != 0:
        raise GridMismatchError(f"{ref.path} is on a rotated grid; a cube needs north-up rasters")
    problems = []
    offsets = []
    for info in infos:
        t = info.grid.transform
        why = []
        if info.grid.crs != ref.grid.crs:
            why.append(f"CRS {crs_name(info.grid.crs)} vs {crs_name(ref.grid.crs)}")
        elif not (math.isclose(t.a, t0.a, rel_tol=1e-9) and math.isclose(t.e, t0.e, rel_tol=1e-9)):
            why.append(f"pixel size {t.a:g} x {-t.e:g} vs {t0.a:g} x {-t0.e:g}")
        elif t.b != 0 or t.d != 0:
            why.append("a rotated grid")
        else:
            col = (t.c - t0.c) / t0.a
            row = (t.f - t0.f) / t0.e
            if abs(col - round(col)) > _ALIGN_TOLERANCE or abs(row - round(row)) > _ALIGN_TOLERANCE:
                why.append(f"origin {col:+.3f}, {row:+.3f} pixels off (not pixel-aligned)")
            offsets.append((round(row), round(col)))
        if why:
            problems.append(f"{info.path.name} ({info.scene_id}): {'; '.join(why)}")
    if problems:
        raise GridMismatchError(
            f"these rasters share no grid with {ref.path.name} ({ref.scene_id}): "
            f"{' | '.join(problems)}; a cube stacks scenes of one path/row (one CRS, one "
            "pixel grid): build one cube per path/row"
        )
    top = min(r for r, _ in offsets)
    left = min(c for _, c in offsets)
    bottom = max(r + i.grid.height for (r, _), i in zip(offsets, infos, strict=True))
    right = max(c + i.grid.width for (_, c), i in zip(offsets, infos, strict=True))
    transform = t0 * Affine.translation(left, top)
    grid = Grid(ref.grid.crs, transform, right - left, bottom - top)
    return grid, [(r - top, c - left) for r, c in offsets]


_PRODUCT_ID = re.compile(r"^L[COTEM]0\d_[A-Z0-9]{4}_(\d{3})(\d{3})_")
_SCENE_ID = re.compile(r"^L[COTEM]\d(\d{3})(\d{3})\d{7}[A-Z]{3}\d{2}$")


def path_row(scene_id: str) -> str | None:
    """The WRS-2 ``PPP/RRR`` of a Landsat product or scene id; None for another name."""
    m = _PRODUCT_ID.match(scene_id) or _SCENE_ID.match(scene_id)
    return f"{m.group(1)}/{m.group(2)}" if m else None


def check_layers(infos: Sequence[LstInfo]) -> tuple[Grid, list[tuple[int, int]]]:
    """Refuse layers that cannot make one cube; their common grid and offsets.

    Two layers of one acquisition time are a :class:`~pix2lst.errors.ParameterError`;
    layers of several path/rows (read from their scene ids, :func:`path_row`), or that
    share no grid (CRS, pixel size, alignment: :func:`common_grid`), a
    :class:`~pix2lst.errors.GridMismatchError`.
    """
    rows: dict[str | None, list[str]] = {}
    for info in infos:
        rows.setdefault(path_row(info.scene_id), []).append(info.scene_id)
    rows.pop(None, None)
    if len(rows) > 1:
        said = "; ".join(f"{pr}: {', '.join(ids)}" for pr, ids in sorted(rows.items()))  # type: ignore[arg-type]
        raise GridMismatchError(
            f"the scenes cover {len(rows)} path/rows ({said}); a cube stacks scenes of one "
            "path/row: build one cube per path/row"
        )
    ordered = sorted(infos, key=lambda i: i.time)
    for a, b in itertools.pairwise(ordered):
        if a.time == b.time:
            raise ParameterError(
                f"{a.path.name} and {b.path.name} are both of {str(a.time)[:19]} "
                f"({a.scene_id}); a cube holds one raster per acquisition: drop one"
            )
    return common_grid(infos)


def scene_layer(path: Path, grid: Grid, tags: dict[str, str]) -> LstInfo:
    """The layer a scene of ``grid`` with scene tags ``tags`` will be (checked before its
    LST exists: :func:`check_layers` on these)."""
    return LstInfo(path, grid, _time(tags, path), tags.get("SCENE_ID") or path.stem, "K")


def _template(infos: Sequence[LstInfo], grid: Grid) -> Any:
    import dask.array as da
    import rioxarray  # noqa: F401  (registers the .rio accessor)
    import xarray as xr

    t = grid.transform
    x = t.c + t.a * (np.arange(grid.width) + 0.5)
    y = t.f + t.e * (np.arange(grid.height) + 0.5)
    n = len(infos)
    data = da.full((n, grid.height, grid.width), np.nan, dtype=np.float32,
                   chunks=(n, CHUNK, CHUNK))  # fmt: skip
    ds = xr.Dataset(
        {"lst": (("time", "y", "x"), data)},
        coords={
            "time": ("time", np.array([i.time for i in infos], dtype="datetime64[ns]")),
            "y": ("y", y),
            "x": ("x", x),
            "scene_id": ("time", np.array([i.scene_id for i in infos], dtype=str)),
        },
    )
    ds["lst"].attrs.update(
        standard_name="surface_temperature", long_name="land surface temperature", units="K",
    )  # fmt: skip
    ds["x"].attrs.update(standard_name="projection_x_coordinate", long_name="x", units="m")
    ds["y"].attrs.update(standard_name="projection_y_coordinate", long_name="y", units="m")
    ds["time"].attrs.update(standard_name="time", long_name="acquisition time (scene centre, UTC)")
    ds.attrs.update(
        Conventions="CF-1.8", title=CUBE_TITLE, pix2lst_product=CUBE_PRODUCT,
        source=", ".join(str(i.path.name) for i in infos),
    )  # fmt: skip
    # the CRS (spatial_ref, CF grid mapping) and transform, as rioxarray writes them;
    # lst's grid_mapping = "spatial_ref" goes in its encoding and is written as a CF attribute
    return ds.rio.write_crs(grid.crs).rio.write_transform(grid.transform)


def write_cube(
    paths: Sequence[str | os.PathLike[str]],
    out: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    inputs: Iterable[Any] = (),
) -> Any:
    """Stack LST GeoTIFFs of one path/row into the Zarr cube ``out``; the (lazy) Dataset.

    Times are sorted; two rasters of the same acquisition time are refused. Values
    are stored in kelvin whatever the rasters' unit. ``out`` is checked first
    (:func:`check_cube_output`; ``paths`` and ``inputs`` must survive). Written to a
    temporary folder beside ``out``, read back (every time's count of valid pixels),
    flushed to the disk, and renamed onto ``out`` only then; a cube it replaces is
    removed last. A full disk or another write error is one
    :class:`~pix2lst.errors.OutputWriteError`.
    """
    if not paths:
        raise ParameterError("no LST raster given for the cube")
    target = check_cube_output(out, overwrite=overwrite, inputs=[*paths, *inputs])
    infos = sorted((lst_info(p) for p in paths), key=lambda i: i.time)
    grid, offsets = check_layers(infos)
    _remove_stale_partials(target)
    tmp = temp_name(target, ".partial")
    try:
        try:
            counts = _write_store(tmp, infos, grid, offsets)
            _verify_store(tmp, target, grid, counts)
            _fsync_tree(tmp)
            _swap_in(tmp, target)
        except Pix2LstError:
            raise
        except (OSError, RuntimeError, ValueError) as exc:  # zarr/numcodecs on a full disk
            raise write_failed(target, exc) from exc
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return open_cube(target)


def _write_store(
    tmp: Path, infos: Sequence[LstInfo], grid: Grid, offsets: Sequence[tuple[int, int]]
) -> npt.NDArray[np.int64]:
    """Write the cube into the new store ``tmp``; the count of valid pixels per time."""
    import xarray as xr

    counts = np.zeros(len(infos), dtype=np.int64)
    _template(infos, grid).to_zarr(
        tmp, mode="w-", compute=False, consolidated=True, zarr_format=ZARR_FORMAT
    )
    datasets = [rasterio.open(i.path) for i in infos]
    try:
        for y0 in range(0, grid.height, CHUNK):
            rows = min(CHUNK, grid.height - y0)
            block = np.full((len(infos), rows, grid.width), np.nan, dtype=np.float32)
            for k, (info, ds, (r, c)) in enumerate(zip(infos, datasets, offsets, strict=True)):
                lo, hi = max(y0, r), min(y0 + rows, r + info.grid.height)
                if lo >= hi:
                    continue
                win = Window(0, lo - r, info.grid.width, hi - lo)  # type: ignore[no-untyped-call]
                values = to_kelvin(ds.read(1, window=win, out_dtype=np.float32), info.units)
                block[k, lo - y0 : hi - y0, c : c + info.grid.width] = values
            counts += np.isfinite(block).sum(axis=(1, 2))
            region = xr.Dataset({"lst": (("time", "y", "x"), block)})
            region.to_zarr(tmp, region={"time": slice(None), "y": slice(y0, y0 + rows),
                                        "x": slice(None)}, zarr_format=ZARR_FORMAT)  # fmt: skip
    finally:
        for ds in datasets:
            ds.close()
    return counts


def _verify_store(tmp: Path, target: Path, grid: Grid, counts: npt.NDArray[np.int64]) -> None:
    """Read the new store back: its shape and every time's count of valid pixels."""
    import xarray as xr

    with xr.open_zarr(tmp, consolidated=True) as ds:
        shape = (int(ds.sizes["time"]), int(ds.sizes["y"]), int(ds.sizes["x"]))
        if shape != (len(counts), grid.height, grid.width):
            raise OutputWriteError(
                f"the cube {target} reads back as {shape}, not "
                f"{(len(counts), grid.height, grid.width)}; nothing was replaced"
            )
        found = np.zeros_like(counts)
        for y0 in range(0, grid.height, CHUNK):
            strip = ds["lst"].isel(y=slice(y0, y0 + CHUNK)).values
            found += np.isfinite(strip).sum(axis=(1, 2))
    if not np.array_equal(found, counts):
        raise OutputWriteError(
            f"the cube {target} reads back with {found.tolist()} valid pixels per time, not "
            f"{counts.tolist()}; the disk may be full. Nothing was replaced"
        )


def _fsync_tree(root: Path) -> None:
    """Flush every file and folder of the store ``root`` to the disk (before its rename)."""
    for folder, _, files in os.walk(root):
        for name in files:
            fd = os.open(os.path.join(folder, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _swap_in(tmp: Path, target: Path) -> None:
    """Rename the finished store ``tmp`` onto ``target``; a cube there is moved aside first
    and removed only once the new one is in place (put back if the rename fails)."""
    old = None
    if target.exists():
        old = temp_name(target, ".old")
        os.replace(target, old)
    try:
        os.replace(tmp, target)
    except OSError:
        if old is not None:
            os.replace(old, target)
        raise
    with contextlib.suppress(OSError):
        fd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(fd)  # the renames reach the disk
        finally:
            os.close(fd)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)

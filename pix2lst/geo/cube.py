"""One time of a pix2lst LST cube as a raster: what the figures, the viewer and ``info`` read.

A cube is the Zarr store (time, y, x) that ``pix2lst cube`` and ``batch --cube`` write
(:mod:`pix2lst.batch.cube`); its root attribute ``pix2lst_product`` says so. Reading it
needs the batch extra (xarray, rioxarray, zarr), imported only here and only when a
cube is read.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from pix2lst.errors import ParameterError, SceneError
from pix2lst.geo.grid import Grid

__all__ = ["CUBE_PRODUCT", "CUBE_TITLE", "cube_layers", "is_cube", "open_cube", "write_layer"]

CUBE_PRODUCT = "lst_cube"
"""The root attribute ``pix2lst_product`` of every cube pix2lst writes: what makes a
folder a cube that ``--overwrite`` may replace."""

CUBE_TITLE = "pix2lst land surface temperature time series"


def _root_attrs(path: Path) -> dict[str, Any] | None:
    """The root attributes of the Zarr store at ``path`` (v2 ``.zattrs``, v3 ``zarr.json``)."""
    try:
        if (path / ".zattrs").is_file():
            attrs = json.loads((path / ".zattrs").read_text("utf-8"))
        elif (path / "zarr.json").is_file():
            attrs = json.loads((path / "zarr.json").read_text("utf-8")).get("attributes", {})
        else:
            return None
    except (OSError, ValueError, AttributeError):
        return None
    return attrs if isinstance(attrs, dict) else None


def is_cube(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a Zarr cube written by pix2lst (its root attributes say so)."""
    p = Path(path)
    if not p.is_dir() or p.is_symlink():
        return False
    attrs = _root_attrs(p)
    if attrs is None:
        return False
    return attrs.get("pix2lst_product") == CUBE_PRODUCT or (
        attrs.get("title") == CUBE_TITLE and attrs.get("Conventions", "").startswith("CF-")
    )


def open_cube(path: str | os.PathLike[str]) -> Any:
    """The cube at ``path`` as a lazy ``xarray.Dataset`` (CRS and transform via rioxarray)."""
    import rioxarray  # noqa: F401  (registers the .rio accessor)
    import xarray as xr

    p = Path(path)
    if not p.exists():
        raise SceneError(f"cube {p} does not exist; write one with `pix2lst cube` or --cube")
    return xr.open_zarr(p, consolidated=True, decode_coords="all")


def _pick(ds: Any, when: str) -> int:
    times = ds["time"].values
    labels = [str(t)[:19] for t in times]
    ids = [str(s) for s in ds["scene_id"].values]
    matches = [k for k, (t, s) in enumerate(zip(labels, ids, strict=True))
               if t.startswith(when) or s == when]  # fmt: skip
    if len(matches) != 1:
        what = "matches no time" if not matches else "matches several times"
        raise ParameterError(
            f"{when!r} {what} of the cube; give a date (YYYY-MM-DD) or scene id of one of: "
            f"{', '.join(f'{t[:10]} ({s})' for t, s in zip(labels, ids, strict=True))}"
        )
    return matches[0]


def cube_layers(
    path: str | os.PathLike[str], times: Sequence[str]
) -> list[tuple[npt.NDArray[np.float32], Grid, dict[str, str]]]:
    """The LST (kelvin) of the given times of a cube: ``(values, grid, tags)`` per time.

    ``times``: dates (``YYYY-MM-DD``, or any prefix of ``YYYY-MM-DDTHH:MM:SS``) or
    scene ids, each matching exactly one time. ``tags`` carry ``SCENE_ID``,
    ``DATE_ACQUIRED``, ``SCENE_CENTER_TIME`` and ``UNITS`` as pix2lst rasters do, so
    that the figures and the viewer label them.
    """
    ds = open_cube(path)
    grid = Grid(ds.rio.crs, ds.rio.transform(), int(ds.sizes["x"]), int(ds.sizes["y"]))
    out = []
    for when in times:
        k = _pick(ds, when)
        stamp = str(ds["time"].values[k])
        tags = {
            "PIX2LST_PRODUCT": "lst", "UNITS": "K", "SCENE_ID": str(ds["scene_id"].values[k]),
            "DATE_ACQUIRED": stamp[:10], "SCENE_CENTER_TIME": stamp[11:19] + "Z",
        }  # fmt: skip
        values = np.asarray(ds["lst"].isel(time=k).values, dtype=np.float32)
        out.append((values, grid, tags))
    return out


def write_layer(
    values: npt.NDArray[np.float32], grid: Grid, tags: dict[str, str], out: str | os.PathLike[str]
) -> Path:
    """One cube layer as an LST GeoTIFF (for the figures and the viewer, which read files)."""
    from pix2lst.geo.writer import raster_writer

    with raster_writer(out, grid, units=("K",), tags=tags, overwrite=True) as sink:
        sink.write_rows(0, values)
    return Path(out)

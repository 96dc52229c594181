"""Shared fixtures and helpers: the embedded sample, the real data in ../shared/data,
tiny ONNX models with pix2lst metadata, small composites and LST GeoTIFFs.

Test modules import the helpers as ``from tests.conftest import make_model``; no test
module imports another.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
import rasterio
from affine import Affine
from onnx import TensorProto, helper, numpy_helper

from pix2lst.data import sample_scene_path
from pix2lst.runtime.metadata import ModelMetadata

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("PIX2LST_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def sample_scene() -> Path:
    """The embedded sample scene folder (always present)."""
    return sample_scene_path()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data``; tests using it skip with the reason when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real Landsat data not found at {SHARED_DATA} (set PIX2LST_SHARED_DATA)")
    return SHARED_DATA


def shared_scene(name: str) -> Path:
    """Path of one folder of ``../shared/data``, or skip the test with the reason."""
    path = SHARED_DATA / name
    if not path.is_dir():
        pytest.skip(f"real Landsat scene {name} not found under {SHARED_DATA}")
    return path


# -- tiny models and composites (runtime, CLI) --------------------------------

BANDS = ("B1", "B2", "B3", "B4", "B5", "B6", "B7", "B10")


def metadata(tile: int, bands: tuple[str, ...] = BANDS, **kw: Any) -> ModelMetadata:
    n = len(bands)
    args: dict[str, Any] = {
        "bands": bands,
        "input_units": "toa",
        "input_scale": (1.0,) * n,
        "input_offset": (0.0,) * n,
        "output_scale": 1.0,
        "output_offset": 0.0,
        "tile_size": tile,
    }
    args.update(kw)
    return ModelMetadata(**args)


def make_model(
    path: Path,
    kind: str,
    *,
    tile: int = 32,
    bands: tuple[str, ...] = BANDS,
    value: float = 300.0,
    band: int = 0,
    seed: int = 0,
    meta: ModelMetadata | None = None,
    with_metadata: bool = True,
    graph_tile: int | None = None,
    **meta_kw: Any,
) -> Path:
    """Write a tiny model: ``constant`` (value), ``identity`` (band index) or ``conv``."""
    n = len(bands)
    gt = graph_tile or tile
    x = helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", n, gt, gt])
    y = helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N", 1, gt, gt])
    inits = [numpy_helper.from_array(np.array([band], dtype=np.int64), "idx")]
    if kind == "identity":
        nodes = [helper.make_node("Gather", ["input", "idx"], ["output"], axis=1)]
    elif kind == "constant":
        inits += [
            numpy_helper.from_array(np.array(0.0, dtype=np.float32), "zero"),
            numpy_helper.from_array(np.array(value, dtype=np.float32), "c"),
        ]
        nodes = [
            helper.make_node("Gather", ["input", "idx"], ["g"], axis=1),
            helper.make_node("Mul", ["g", "zero"], ["z"]),
            helper.make_node("Add", ["z", "c"], ["output"]),
        ]
    elif kind == "conv":
        rng = np.random.default_rng(seed)
        inits += [
            numpy_helper.from_array(rng.normal(0, 0.3, (4, n, 3, 3)).astype(np.float32), "w1"),
            numpy_helper.from_array(rng.normal(0, 0.1, 4).astype(np.float32), "b1"),
            numpy_helper.from_array(rng.normal(0, 0.3, (1, 4, 3, 3)).astype(np.float32), "w2"),
            numpy_helper.from_array(np.array([0.5], dtype=np.float32), "b2"),
        ]
        nodes = [
            helper.make_node("Conv", ["input", "w1", "b1"], ["h"], pads=[1, 1, 1, 1]),
            helper.make_node("Relu", ["h"], ["r"]),
            helper.make_node("Conv", ["r", "w2", "b2"], ["output"], pads=[1, 1, 1, 1]),
        ]
    else:
        raise ValueError(kind)
    graph = helper.make_graph(nodes, f"pix2lst_{kind}", [x], [y], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    if with_metadata:
        m = meta or metadata(tile, bands, **meta_kw)
        helper.set_model_props(model, m.to_props())
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def write_composite(
    path: Path,
    array: np.ndarray,
    names: tuple[str, ...] | None = BANDS,
    *,
    nodata: float | None = float("nan"),
    tiled: bool = True,
) -> Path:
    """Write a float32 composite GeoTIFF with band descriptions, NaN nodata, UTM grid."""
    n, h, w = array.shape
    profile: dict[str, Any] = {
        "driver": "GTiff",
        "height": h,
        "width": w,
        "count": n,
        "dtype": "float32",
        "crs": "EPSG:32616",
        "transform": Affine(30.0, 0.0, 500000.0, 0.0, -30.0, 3400000.0),
        "nodata": nodata,
        "compress": "deflate",
    }
    if tiled:
        profile.update(tiled=True, blockxsize=64, blockysize=64)
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(array.astype(np.float32))
        if names is not None:
            for i, name in enumerate(names, start=1):
                ds.set_band_description(i, name)
    return path


def sample_dn(size: tuple[int, int] | None = None) -> np.ndarray:
    """The embedded sample's B1-B7, B10 DN as float32 ``(8, h, w)`` (real data)."""
    folder = sample_scene_path()
    bands = []
    for name in BANDS:
        with rasterio.open(folder / f"test_{name}.tif") as ds:
            bands.append(ds.read(1).astype(np.float32))
    arr = np.stack(bands)
    if size is not None:
        arr = arr[:, : size[0], : size[1]]
    return np.ascontiguousarray(arr)


# -- small LST GeoTIFFs (viz) -----------------------------------------------------

BORDER = 6  # nodata ring, pixels
ORIGIN = (400_000.0, 3_400_000.0)  # EPSG:32616, like the embedded sample


def lst_values(height: int = 90, width: int = 120, warm: float = 0.0) -> np.ndarray:
    """Known kelvin values: a 290-310 K west-east ramp, a hot block, NaN border."""
    cols = np.linspace(290.0, 310.0, width)
    values = np.tile(cols, (height, 1)) + 0.01 * np.arange(height)[:, None]
    values[height // 3 : height // 2, width // 4 : width // 2] += 8.0 + warm
    values[:BORDER] = values[-BORDER:] = np.nan
    values[:, :BORDER] = values[:, -BORDER:] = np.nan
    return values.astype(np.float32)


def write_lst(
    path: Path,
    values: np.ndarray,
    *,
    units: str | None = "K",
    date: str | None = "2015-01-22",
    res: float = 30.0,
    origin: tuple[float, float] = ORIGIN,
    crs: str = "EPSG:32616",
    extra_tags: dict[str, str] | None = None,
) -> Path:
    """Write ``values`` as a float32 LST GeoTIFF with NaN nodata and pix2lst-style tags."""
    tags = {"scene": "TESTSCENE", "method": "planck", "emissivity": "sobrino"}
    if units is not None:
        tags["units"] = units
    if date is not None:
        tags["date"] = date
    tags.update(extra_tags or {})
    h, w = values.shape
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=w,
        height=h,
        count=1,
        dtype="float32",
        crs=crs,
        transform=Affine(res, 0.0, origin[0], 0.0, -res, origin[1]),
        nodata=float("nan"),
    ) as dst:
        dst.write(values, 1)
        dst.update_tags(**tags)
    return path


# -- subprocesses -------------------------------------------------------------------


def run_python(code: str, timeout: float = 120) -> None:
    """Run ``code`` in a fresh interpreter (this one's); it must print ``ok`` and exit 0."""
    import subprocess
    import sys

    res = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "ok", res.stdout

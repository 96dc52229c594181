"""Shared fixtures and helpers: the embedded sample, the real data in ../shared/data,
tiny ONNX models with pix2lst metadata, small composites and LST GeoTIFFs.

Test modules import the helpers as ``from tests.conftest import make_model``; no test
module imports another.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
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
    spatial: bool = False,
    **meta_kw: Any,
) -> Path:
    """Write a tiny model: ``constant`` (value), ``identity`` (band index) or ``conv``.

    ``spatial=True``: symbolic height/width (runs larger tiles), else fixed ``graph_tile``.
    """
    n = len(bands)
    gt = graph_tile or tile
    hw: list[int | str] = ["H", "W"] if spatial else [gt, gt]
    x = helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", n, *hw])
    y = helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N", 1, *hw])
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


def make_scene_model(path: Path, target: str = "lst") -> Path:
    """A ``conv`` model of 64 px tiles for a real scene's bands: reflectance as it is, B10
    (kelvin) scaled to about 0; ``target`` ``lst``, or ``lst_minus_bt`` (B10 added back)."""
    residual = {"target": target, "residual_band": "B10"} if target == "lst_minus_bt" else {}
    return make_model(
        path, "conv", tile=64, input_scale=(1.0,) * 7 + (0.01,),
        input_offset=(0.0,) * 7 + (-3.0,), **residual,  # type: ignore[arg-type]
    )  # fmt: skip


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


# -- small Landsat scenes cut from the embedded sample (batch, remote, STAC) ----------

SAMPLE_ID = "LC80200392015216LGN00"
SCENE_BANDS = ("B1", "B2", "B3", "B4", "B5", "B6", "B7", "B10", "B11", "BQA")


def make_scene(
    folder: Path,
    scene_id: str = SAMPLE_ID,
    *,
    date: str = "2015-08-04",
    window: tuple[int, int, int, int] = (0, 0, 96, 128),
    bands: tuple[str, ...] = SCENE_BANDS,
) -> Path:
    """A real scene cut from the embedded sample: ``<scene_id>_B<n>.TIF`` + ``<scene_id>_MTL.txt``.

    ``window`` = (row, col, height, width) of the sample; scenes cut at different
    windows share the sample's grid (what a path/row's dates do). The bands are
    tiled (64 px blocks), so that a window read fetches only some of the file; the
    MTL names every band file (``FILE_NAME_BAND_*``), as USGS MTLs do.
    """
    folder.mkdir(parents=True, exist_ok=True)
    src = sample_scene_path()
    row, col, h, w = window
    for band in bands:
        with rasterio.open(src / f"test_{band}.tif") as ds:
            win = rasterio.windows.Window(col, row, w, h)
            data = ds.read(1, window=win)
            profile = {
                "driver": "GTiff", "width": w, "height": h, "count": 1, "dtype": data.dtype,
                "crs": ds.crs, "transform": ds.window_transform(win), "tiled": True,
                "blockxsize": 64, "blockysize": 64, "compress": "deflate",
            }  # fmt: skip
        with rasterio.open(folder / f"{scene_id}_{band}.TIF", "w", **profile) as out:
            out.write(data, 1)
    text = (src / "test_MTL.txt").read_text()
    text = text.replace(SAMPLE_ID, scene_id).replace(
        "DATE_ACQUIRED = 2015-08-04", f"DATE_ACQUIRED = {date}"
    )
    mtl = folder / f"{scene_id}_MTL.txt"
    mtl.write_text(text)
    return mtl


# -- an HTTP server with range requests on 127.0.0.1 (remote COG tests) ---------------


def _serve(root: str, port_file: str, parent: int) -> None:  # pragma: no cover - child process
    """Serve ``root`` on 127.0.0.1 until the parent process is gone.

    ``/r/<path>`` honours ``Range`` (206), ``/norange/<path>`` ignores it (200, the
    whole file), a missing file is a 404. Each response is logged to
    ``<root>/_requests.log`` as ``<path> <status> <bytes sent>``.

    ``/quirks/<path>`` serves ``<root>/quirks/<path>`` with ranges and the quirks of real
    servers: a range request past byte 0 of a ``stall/*_B10.TIF`` (any GET under
    ``slow/``) gets its headers and 1000 bytes, then nothing more (a server that stalls
    inside a band read); files under ``signed/`` need the query ``?sig=ok`` (else 403), as
    a signed URL's do; a folder is an HTML listing.
    """
    import http.server
    import re
    import threading
    import time

    log_path = os.path.join(root, "_requests.log")
    lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def _empty(self, status: int) -> None:
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()
            self._log(status, 0)

        def _respond(self, body: bool) -> None:
            prefix, _, rest = self.path.lstrip("/").partition("/")
            rel, _, query = rest.partition("?")
            quirks = prefix == "quirks"
            path = os.path.join(root, "quirks", rel) if quirks else os.path.join(root, rel)
            if quirks and rel.startswith("signed/") and query != "sig=ok":
                self._empty(403)
                return
            if quirks and os.path.isdir(path):  # a folder: an HTML listing, as web servers give
                names = "".join(f'<a href="{n}">{n}</a><br>' for n in sorted(os.listdir(path)))
                page = f"<!DOCTYPE html><html><body>{names}</body></html>".encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page if body else b"")
                return
            if prefix not in ("r", "norange", "quirks") or not os.path.isfile(path):
                self._empty(404)
                return
            ranges = prefix != "norange"
            size = os.path.getsize(path)
            start, end, status = 0, size - 1, 200
            m = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range", ""))
            if m and ranges:
                start = int(m.group(1))
                end = min(int(m.group(2)) if m.group(2) else size - 1, size - 1)
                status = 206
            self.send_response(status)
            self.send_header("Content-Length", str(end - start + 1))
            if ranges:
                self.send_header("Accept-Ranges", "bytes")
            if status == 206:
                self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
            self.end_headers()
            sent = 0
            if body:
                with open(path, "rb") as f:
                    f.seek(start)
                    data = f.read(end - start + 1)
                b10 = rel.startswith("stall/") and path.endswith("_B10.TIF") and start > 0
                if quirks and (b10 or rel.startswith("slow/")) and len(data) > 1000:
                    self.wfile.write(data[:1000])
                    self.wfile.flush()
                    time.sleep(3600)  # the stall: the connection stays open, silent
                self.wfile.write(data)
                sent = len(data)
            self._log(status, sent, rel)

        def _log(self, status: int, sent: int, rel: str = "") -> None:
            with lock, open(log_path, "a") as f:
                f.write(f"{rel or self.path} {status} {sent}\n")

        def do_GET(self) -> None:
            self._respond(True)

        def do_HEAD(self) -> None:
            self._respond(False)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    with open(port_file + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    os.replace(port_file + ".tmp", port_file)
    while os.getppid() == parent:  # stop by ourselves when the test process is gone
        time.sleep(0.5)
    os._exit(0)


class HttpServer:
    """The running test server: files under ``root`` are served at :meth:`url`."""

    def __init__(self, root: Path, port: int) -> None:
        self.root = root
        self.port = port

    def url(self, rel: str | Path, *, ranges: bool = True) -> str:
        prefix = "r" if ranges else "norange"
        return f"http://127.0.0.1:{self.port}/{prefix}/{Path(rel).as_posix()}"

    def bytes_served(self, name: str) -> int:
        """Bytes of response bodies sent so far for paths ending in ``name``."""
        log = self.root / "_requests.log"
        if not log.exists():
            return 0
        total = 0
        for line in log.read_text().splitlines():
            path, _, sent = line.rsplit(" ", 2)
            if path.endswith(name):
                total += int(sent)
        return total


@pytest.fixture(scope="session")
def http_server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """An HTTP server with range requests on 127.0.0.1, in its own process (GDAL's
    ``/vsicurl/`` holds the GIL while opening, so a server thread in the test
    process would deadlock); it serves ``http_server.root``."""
    import multiprocessing
    import time

    root = tmp_path_factory.mktemp("http")
    port_file = root / "_port"
    ctx = multiprocessing.get_context("spawn")
    proc = ctx.Process(target=_serve, args=(str(root), str(port_file), os.getpid()), daemon=True)
    proc.start()
    deadline = time.monotonic() + 30
    while not port_file.exists():
        if time.monotonic() > deadline or not proc.is_alive():
            proc.kill()
            pytest.fail("the test HTTP server did not start")
        time.sleep(0.05)
    yield HttpServer(root, int(port_file.read_text()))
    proc.kill()
    proc.join(5)


# -- a Dask LocalCluster of 2 worker processes, shared by the batch tests --------------


@pytest.fixture(scope="session")
def dask_client() -> Any:
    """A ``distributed.Client`` on a real LocalCluster: 2 worker processes on loopback."""
    pytest.importorskip("distributed", reason="the batch extra is not installed")
    import logging

    from distributed import Client, LocalCluster

    cluster = LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
        dashboard_address=None, silence_logs=logging.ERROR,
    )  # fmt: skip
    client = Client(cluster, set_as_default=False)
    yield client
    client.close()
    cluster.close()


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


# -- damaged scenes and small disks (reliability tests) ----------------------------


def crop_scene(dst: Path, size: int = 96, src: Path | None = None) -> Path:
    """Copy the embedded sample (or ``src``) into ``dst``, every band cut to ``size`` px square."""
    src = src or sample_scene_path()
    dst.mkdir(parents=True, exist_ok=True)
    for f in src.iterdir():
        if f.suffix.lower() == ".tif":
            with rasterio.open(f) as ds:
                profile = ds.profile
                data = ds.read(window=rasterio.windows.Window(0, 0, size, size))
            profile.update(width=size, height=size, transform=ds.window_transform(
                rasterio.windows.Window(0, 0, size, size)))  # fmt: skip
            profile.pop("blockxsize", None)
            profile.pop("blockysize", None)
            profile["tiled"] = False
            with rasterio.open(dst / f.name, "w", **profile) as out:
                out.write(data)
        elif f.name.endswith("MTL.txt"):
            (dst / f.name).write_text(f.read_text())
    return dst


def tile_scene(
    src: Path, dst: Path, height: int, width: int, bands: tuple[str, ...] = SCENE_BANDS
) -> Path:
    """A ``height`` x ``width`` scene in ``dst`` made of ``src``'s bands by mirror tiling.

    Copies alternate mirrored (right and below), so no seam is a step edge; bands are
    ``big_<band>.tif`` (256 px tiles, DEFLATE + horizontal predictor, like USGS COGs)
    beside ``src``'s MTL as ``big_MTL.txt``.
    """
    from pix2lst.lst_physics import find_scene

    scene = find_scene(src)
    dst.mkdir(parents=True, exist_ok=True)
    (dst / "big_MTL.txt").write_text(scene.mtl.path.read_text())
    for band in bands:
        if not scene.has(band):
            continue
        with rasterio.open(scene.band_path(band)) as ds:
            a, t, crs = ds.read(1), ds.transform, ds.crs
        h, w = a.shape
        rows = np.arange(height) % (2 * h)
        cols = np.arange(width) % (2 * w)
        rows = np.where(rows < h, rows, 2 * h - 1 - rows)
        cols = np.where(cols < w, cols, 2 * w - 1 - cols)
        profile = {
            "driver": "GTiff", "width": width, "height": height, "count": 1, "dtype": a.dtype,
            "crs": crs, "transform": t, "tiled": True, "blockxsize": 256, "blockysize": 256,
            "compress": "deflate", "predictor": 2,
        }  # fmt: skip
        with rasterio.open(dst / f"big_{band}.tif", "w", **profile) as out:
            out.write(a[rows][:, cols], 1)
    return dst


@contextlib.contextmanager
def tmpfs(mnt: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` (e.g. ``"64k"``) mounted on the new folder ``mnt`` (root only;
    the test skips, saying why, where it cannot be mounted), unmounted afterwards."""
    import shutil
    import subprocess

    mnt.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small tmpfs needs root; the RLIMIT_FSIZE test covers this case")
    res = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mnt)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if res.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({res.stderr.strip()})")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 64 KiB tmpfs mounted under ``tmp_path`` (root only), unmounted afterwards."""
    with tmpfs(tmp_path / "disk", "64k") as mnt:
        yield mnt


LST_LIKE: dict[str, Any] = {
    "input_scale": (1.0,) * 7 + (0.01,),
    "input_offset": (0.0,) * 7 + (-3.0,),
    "output_offset": 290.0,
}
"""``make_model(..., "conv", **LST_LIKE)``: a random conv model whose output on a real
scene is a plausible LST (B10 normalised, output around 290 K), as the writer demands."""

"""Batch runs on Dask and remote reading: the figures of benchmarks/RESULTS.md's batch section.

    python -m benchmarks.batch_check [--scenes 8] [--area 0.0625] [--providers auto]

* scenes per minute for ``--scenes`` scenes with 1 and 2 local Dask workers
  (``pix2lst.batch.run``, wall time including the cluster's start and stop);
* the batch run's overhead against a plain loop of ``LSTPredictor.predict_file``
  over the same scenes in one process (predictor construction included);
* reading a scene over loopback HTTP (GDAL ``/vsicurl/``, a range-request server in
  another process) against the local files: the calibrated composite read strip
  by strip, and a whole ``predict_file``.

The scenes are the benchmark harness's mirror-tiled copies of the embedded sample
(``--area`` of a full 7,821 x 7,661 px scene), each under its own scene id (band
files linked, not copied); the model is the shipped default.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from pix2lst.data import default_model_path

from .context import BENCH_DIR
from .scenes import BANDS, scale_shape, scene_folder

SAMPLE_ID = "LC80200392015216LGN00"


def _scenes(cache: Path, area: float, n: int, root: Path) -> list[Path]:
    """``n`` scene folders ``<id>_B<n>.TIF`` + MTL, the bands linked to one cached scene."""
    src = scene_folder(cache, scale_shape(area))
    mtl_text = (src / "test_MTL.txt").read_text()
    out = []
    for i in range(n):
        sid = f"LC8BENCH{i:02d}"
        folder = root / sid
        folder.mkdir(parents=True)
        for band in BANDS:
            (folder / f"{sid}_{band}.TIF").symlink_to(src / f"test_{band}.tif")
        (folder / f"{sid}_MTL.txt").write_text(mtl_text.replace(SAMPLE_ID, sid))
        out.append(folder / f"{sid}_MTL.txt")
    return out


def _plain_loop(mtls: list[Path], out: Path, providers: str) -> float:
    from pix2lst.runtime import LSTPredictor

    out.mkdir()
    t0 = time.perf_counter()
    predictor = LSTPredictor(default_model_path(), providers=providers)
    for mtl in mtls:
        predictor.predict_file(mtl, out / f"{mtl.parent.name}.tif")
    return time.perf_counter() - t0


def _batch(mtls: list[Path], out: Path, providers: str, workers: int) -> float:
    from pix2lst.batch import PredictOptions, run

    t0 = time.perf_counter()
    rows = run([str(m) for m in mtls], out, "predict", workers=workers,
               options=PredictOptions(providers=providers))  # fmt: skip
    wall = time.perf_counter() - t0
    bad = [r for r in rows if r.status != "ok"]
    if bad:
        raise SystemExit(f"batch failed: {bad[0].error}")
    return wall


def _read_all(location: str | Path) -> float:
    from pix2lst.geo.inputs import find_scene
    from pix2lst.geo.sources import SceneSource
    from pix2lst.lst_physics import scene_calibrator
    from pix2lst.lst_physics.constants import COMPOSITE_BANDS

    t0 = time.perf_counter()
    scene = find_scene(location)
    calibrate = scene_calibrator("toa")(scene, COMPOSITE_BANDS)
    with SceneSource(scene, COMPOSITE_BANDS, calibrate) as src:
        for start in range(0, src.height, 256):
            src.read_rows(start, min(start + 256, src.height))
    return time.perf_counter() - t0


def _http(mtl: Path, providers: str, reps: int) -> dict[str, float]:
    from pix2lst.runtime import LSTPredictor
    from tests.conftest import _serve  # the tests' range-request server

    root = mtl.parent.parent
    port_file = root / "_port"
    ctx = multiprocessing.get_context("spawn")
    proc = ctx.Process(target=_serve, args=(str(root), str(port_file), os.getpid()), daemon=True)
    proc.start()
    try:
        while not port_file.exists():
            time.sleep(0.05)
        url = f"http://127.0.0.1:{port_file.read_text()}/r/{mtl.parent.name}/{mtl.name}"
        local_read = [_read_all(mtl) for _ in range(reps)]
        http_read = [_read_all(url) for _ in range(reps)]
        predictor = LSTPredictor(default_model_path(), providers=providers)
        local_pred, http_pred = [], []
        for k in range(reps):
            for src, times in ((mtl, local_pred), (url, http_pred)):
                dst = root / f"p{k}_{len(times)}_{id(times)}.tif"
                t0 = time.perf_counter()
                predictor.predict_file(src, dst)
                times.append(time.perf_counter() - t0)
                dst.unlink()
    finally:
        proc.kill()
    return {
        "read_local_s": statistics.median(local_read),
        "read_http_s": statistics.median(http_read),
        "predict_local_s": statistics.median(local_pred),
        "predict_http_s": statistics.median(http_pred),
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scenes", type=int, default=8)
    p.add_argument("--area", type=float, default=1 / 16, help="of a full scene")
    p.add_argument("--providers", default="auto")
    p.add_argument("--reps", type=int, default=3, help="repetitions of the HTTP comparison")
    p.add_argument("--cache", type=Path, default=BENCH_DIR / "cache")
    args = p.parse_args()
    shape = scale_shape(args.area)
    work = Path(tempfile.mkdtemp(prefix="pix2lst-batch-bench-"))
    try:
        mtls = _scenes(args.cache, args.area, args.scenes, work / "scenes")
        loop = _plain_loop(mtls, work / "loop", args.providers)
        one = _batch(mtls, work / "w1", args.providers, 1)
        two = _batch(mtls, work / "w2", args.providers, 2)
        http = _http(mtls[0], args.providers, args.reps)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    n = args.scenes
    result = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.node()}: {os.cpu_count()} cores, {platform.processor() or platform.machine()}",
        "scene": f"{shape[0]} x {shape[1]} px (area {args.area:g} of a full scene), {n} scenes",
        "plain_loop_s": loop, "batch_1_worker_s": one, "batch_2_workers_s": two,
        "scenes_per_min_loop": 60 * n / loop, "scenes_per_min_1_worker": 60 * n / one,
        "scenes_per_min_2_workers": 60 * n / two,
        "overhead_1_worker": one / loop - 1, "overhead_2_workers": two / loop - 1,
        **http,
        "read_http_vs_local": http["read_http_s"] / http["read_local_s"],
        "predict_http_vs_local": http["predict_http_s"] / http["predict_local_s"],
    }  # fmt: skip
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

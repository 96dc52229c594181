"""Batch runs on a real Dask LocalCluster (2 worker processes): outputs, manifest, faults, resume."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio

pytest.importorskip("distributed", reason="the batch extra is not installed")

from pix2lst.batch import PredictOptions, read_manifest, run
from pix2lst.batch.manifest import folder_lock
from pix2lst.batch.tasks import PLUGIN_NAME
from pix2lst.errors import OutputExistsError, OutputLockedError, ParameterError
from tests.conftest import LST_LIKE, make_model, make_scene


def _scenes(root, n=3):
    return [
        make_scene(root / f"s{i}", f"LC08_TEST_{i}", date=f"2015-0{i + 1}-04", window=(8 * i, 4 * i, 96, 128))
        for i in range(n)
    ]  # fmt: skip


def test_physics_batch_writes_outputs_manifest_and_resumes(tmp_path, dask_client):
    mtls = _scenes(tmp_path)
    out = tmp_path / "out"
    seen = []
    rows = run([str(m) for m in mtls], out, "physics", client=dask_client,
               progress=lambda d, n: seen.append((d, n)))  # fmt: skip
    assert [r.status for r in rows] == ["ok"] * 3
    assert seen[0] == (0, 3) and seen[-1] == (3, 3)
    for mtl, row in zip(mtls, rows, strict=True):
        assert row.output == str(out / f"{mtl.name.removesuffix('_MTL.txt')}.tif")
        assert row.provider == "numba" and row.seconds > 0 and row.error == ""
        with rasterio.open(row.output) as ds:
            assert ds.tags()["PIX2LST_PRODUCT"] == "lst"
            assert np.isfinite(ds.read(1)).any()
    assert read_manifest(out / "manifest.csv") == [
        r.__class__(r.input, r.output, r.status, round(r.seconds, 2), r.provider, r.error)
        for r in rows
    ]
    assert not list(out.glob(".*.tif*"))  # no temporaries left
    again = run(
        [str(m) for m in mtls], out, "physics", client=dask_client, cube=tmp_path / "c.zarr"
    )
    assert [r.status for r in again] == ["skipped"] * 3
    assert (tmp_path / "c.zarr").is_dir()


def test_predict_batch_equals_predict_file(tmp_path, dask_client):
    from pix2lst.runtime import LSTPredictor

    mtls = _scenes(tmp_path, 2)
    model = make_model(tmp_path / "m.onnx", "conv", tile=32, **LST_LIKE)
    options = PredictOptions(model=str(model), providers="cpu")
    rows = run([str(m.parent) for m in mtls], tmp_path / "out", "predict", client=dask_client,
               options=options)  # fmt: skip
    assert [(r.status, r.provider) for r in rows] == [("ok", "CPUExecutionProvider")] * 2
    LSTPredictor(model, providers="cpu").predict_file(mtls[1], tmp_path / "one.tif")
    with rasterio.open(rows[1].output) as a, rasterio.open(tmp_path / "one.tif") as b:
        np.testing.assert_array_equal(a.read(1), b.read(1))


def test_predict_batch_with_a_larger_tile_equals_predict_file(tmp_path, dask_client):
    from pix2lst.runtime import LSTPredictor

    (mtl,) = _scenes(tmp_path, 1)
    model = make_model(tmp_path / "s.onnx", "conv", tile=32, depth=3, spatial=True, **LST_LIKE)
    options = PredictOptions(model=str(model), providers="cpu", batch_size=2, tile_size=64)
    (row,) = run([str(mtl)], tmp_path / "out", "predict", client=dask_client, options=options)
    assert row.status == "ok", row.error
    LSTPredictor(model, providers="cpu", batch_size=2, tile_size=64).predict_file(
        mtl, tmp_path / "one.tif"
    )
    with rasterio.open(row.output) as a, rasterio.open(tmp_path / "one.tif") as b:
        assert a.tags()["TILE_SIZE"] == "64" and a.tags()["PADDING"] == "8"
        np.testing.assert_array_equal(a.read(1), b.read(1))


@pytest.mark.parametrize(
    ("spatial", "tile", "said"),
    [(False, 64, "exported for fixed 32x32 tiles"), (True, 36, "multiple of 8")],
)
def test_a_tile_the_model_cannot_run_is_refused_before_any_work(tmp_path, spatial, tile, said):
    (mtl,) = _scenes(tmp_path, 1)
    model = make_model(tmp_path / "m.onnx", "conv", tile=32, depth=3, spatial=spatial, **LST_LIKE)
    options = PredictOptions(model=str(model), providers="cpu", tile_size=tile)
    with pytest.raises(ParameterError, match=said) as err:  # no scheduler answers there
        run([str(mtl)], tmp_path / "out", "predict", scheduler="tcp://127.0.0.1:1",
            options=options)  # fmt: skip
    assert "\n" not in str(err.value)
    assert not (tmp_path / "out").exists()


def test_a_padding_that_leaves_no_stride_is_refused_before_any_work(tmp_path):
    # padding must be less than half the run tile: 16 on 32 px tiles leaves no stride
    (mtl,) = _scenes(tmp_path, 1)
    model = make_model(tmp_path / "m.onnx", "conv", tile=32, depth=3, **LST_LIKE)
    options = PredictOptions(model=str(model), providers="cpu", padding=16)
    with pytest.raises(ParameterError, match="padding 16 does not fit 32 px tiles") as err:
        run([str(mtl)], tmp_path / "out", "predict", scheduler="tcp://127.0.0.1:1",
            options=options)  # fmt: skip
    assert "\n" not in str(err.value)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("tile", [0, -32, 64.0, True])
def test_predict_options_refuse_a_tile_that_is_no_size(tile):
    with pytest.raises(ParameterError, match="tile_size must be a positive whole number"):
        PredictOptions(tile_size=tile)


def test_a_failing_scene_is_recorded_and_the_others_finish(tmp_path, dask_client, http_server):
    good, no_b10 = _scenes(tmp_path, 2)
    (no_b10.parent / "LC08_TEST_1_B10.TIF").unlink()
    served = make_scene(http_server.root / "batch404", "LC08_TEST_404")
    (served.parent / "LC08_TEST_404_B4.TIF").unlink()
    norange = make_scene(http_server.root / "batchnr", "LC08_TEST_NR")
    inputs = [
        str(good), str(no_b10), http_server.url("batch404/LC08_TEST_404_MTL.txt"),
        http_server.url(norange.relative_to(http_server.root), ranges=False),
    ]  # fmt: skip
    rows = run(inputs, tmp_path / "out", "physics", client=dask_client, retries=1)
    assert [r.status for r in rows] == ["ok", "failed", "failed", "failed"]
    assert "band B10 not found in scene" in rows[1].error
    assert "HTTP 404 for band B4" in rows[2].error
    assert "does not support HTTP range requests" in rows[3].error
    assert not (tmp_path / "out" / "LC08_TEST_1.tif").exists()
    manifest = (tmp_path / "out" / "manifest.csv").read_text()
    assert manifest.count("\n") == 5 and ",failed," in manifest


def test_a_folder_in_use_is_refused(tmp_path, dask_client):
    (mtl,) = _scenes(tmp_path, 1)
    out = tmp_path / "out"
    out.mkdir()
    with (
        folder_lock(out),
        pytest.raises(OutputLockedError, match=r"in use by another batch run \(pid"),
    ):
        run([str(mtl)], out, "physics", client=dask_client)
    assert run([str(mtl)], out, "physics", client=dask_client)[0].status == "ok"  # released


def test_no_resume_recomputes_only_with_overwrite(tmp_path, dask_client):
    (mtl,) = _scenes(tmp_path, 1)
    run([str(mtl)], tmp_path / "out", "physics", client=dask_client, cube=tmp_path / "c.zarr")
    before = (tmp_path / "out" / "manifest.csv").read_text()
    with pytest.raises(OutputExistsError, match=r"1 output\(s\) already exist.*--overwrite"):
        run([str(mtl)], tmp_path / "out", "physics", client=dask_client, resume=False)
    with pytest.raises(OutputExistsError, match=r"cube .*c\.zarr already exists"):
        run([str(mtl)], tmp_path / "out", "physics", client=dask_client, cube=tmp_path / "c.zarr")
    assert (tmp_path / "out" / "manifest.csv").read_text() == before  # nothing touched
    rows = run(
        [str(mtl)], tmp_path / "out", "physics", client=dask_client, resume=False, overwrite=True
    )
    assert rows[0].status == "ok"


def test_bad_arguments(tmp_path):
    with pytest.raises(ParameterError, match="task must be"):
        run([], tmp_path, "train")  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="at most one of"):
        run([], tmp_path, "physics", workers=2, scheduler="tcp://127.0.0.1:1")
    with pytest.raises(ParameterError, match="takes PhysicsOptions"):
        run([], tmp_path, "physics", options=PredictOptions())


def test_a_local_cluster_of_two_workers(tmp_path, caplog):
    """No client: run() starts its own LocalCluster (2 worker processes: 100 asked, capped
    by the 2 scenes, and says so) and stops it."""
    mtls = _scenes(tmp_path, 2)
    with caplog.at_level("WARNING", logger="pix2lst"):
        rows = run([str(m) for m in mtls], tmp_path / "out", "physics", workers=100)
    assert [r.status for r in rows] == ["ok", "ok"]
    said = [r.getMessage() for r in caplog.records if "capped" in r.getMessage()]
    assert (
        len(said) == 1
        and said[0].startswith("--workers 100 capped to 2 (")
        and "2 scene(s)" in said[0]
    )


def test_local_workers_count_only_their_share_of_the_cores(monkeypatch):
    """Each worker process of the local cluster sizes its predictor (readers, fillers,
    GDAL threads) for its share of the cores, not for the whole machine."""
    from pix2lst._machine import usable_cores
    from pix2lst.batch.runner import _client, _plan

    monkeypatch.setenv("PYTHON_CPU_COUNT", "8")  # a machine of 8 usable cores
    with _client(None, None, _plan(2, 2, "cpu"), 60) as (client, threads):
        seen = client.run(usable_cores)
    assert threads == 4 and sorted(seen.values()) == [4, 4]


def test_a_killed_writers_temporaries_are_removed_and_nothing_else(tmp_path, dask_client):
    import subprocess
    import sys

    (mtl,) = _scenes(tmp_path, 1)
    out = tmp_path / "out"
    out.mkdir()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    left = out / f".LC08_TEST_0.tif.{dead.stdout.strip()}-0123abcd.tif"  # a SIGKILLed writer's
    left.write_bytes(b"partial")
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        writing = out / f".other.tif.{live.pid}-4567cdef.tif"  # a live writer's, in this folder
        writing.write_bytes(b"being written")
        mine = out / ".notes.tif.bak"  # not of our naming: never touched
        mine.write_bytes(b"keep")
        rows = run([str(mtl)], out, "physics", client=dask_client)
        assert rows[0].status == "ok" and not left.exists() and mine.read_bytes() == b"keep"
        assert writing.read_bytes() == b"being written"
    finally:
        live.kill()
        live.wait()


def test_predict_options_refuse_an_unknown_tiling():
    with pytest.raises(ParameterError, match="tiling must be one of auto, host, device"):
        PredictOptions(tiling="gpu")


def test_predict_batch_with_device_tiling_equals_predict_file(tmp_path, dask_client):
    # the workers cut tiles on the model's device (here the CPU provider's): the host
    # path's file, bit for bit
    from pix2lst.runtime import LSTPredictor

    (mtl,) = _scenes(tmp_path, 1)
    model = make_model(tmp_path / "m.onnx", "conv", tile=32, depth=3, **LST_LIKE)
    options = PredictOptions(model=str(model), providers="cpu", batch_size=3, tiling="device")
    (row,) = run([str(mtl)], tmp_path / "out", "predict", client=dask_client, options=options)
    assert row.status == "ok", row.error

    def tiling(dask_worker):  # what the worker's predictor does
        return dask_worker.plugins[PLUGIN_NAME].predictor.tiling

    assert set(dask_client.run(tiling).values()) == {"device"}
    LSTPredictor(model, providers="cpu", tiling="host").predict_file(mtl, tmp_path / "one.tif")
    with rasterio.open(row.output) as a, rasterio.open(tmp_path / "one.tif") as b:
        np.testing.assert_array_equal(a.read(1), b.read(1))


def test_local_workers_follow_the_container_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    # one worker per two usable cores (a CPU quota counts: PYTHON_CPU_COUNT stands for it
    # here), at most one per 2 GiB of the memory limit and one per scene
    import distributed.system

    from pix2lst.batch.runner import WORKER_MEMORY, default_workers

    monkeypatch.setenv("PYTHON_CPU_COUNT", "16")
    monkeypatch.setattr(distributed.system, "memory_limit", lambda: 64 << 30)
    assert default_workers(100) == 8 and default_workers(3) == 3
    monkeypatch.setattr(distributed.system, "memory_limit", lambda: 3 * WORKER_MEMORY + 1)
    assert default_workers(100) == 3  # a container with 6 GiB
    monkeypatch.setenv("PYTHON_CPU_COUNT", "2")
    monkeypatch.setattr(distributed.system, "memory_limit", lambda: 1 << 30)
    assert default_workers(100) == 1

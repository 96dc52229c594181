"""Nothing lost in a batch: resume checks outputs in full, cubes replace only cubes, workers
never replace a file they were not given, signals leave no temporaries, errors are one line."""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import time
import urllib.error
from pathlib import Path

import numpy as np
import pytest
import rasterio
from click.testing import CliRunner

pytest.importorskip("distributed", reason="the batch extra is not installed")

from pix2lst.batch import PhysicsOptions, PredictOptions, read_manifest, run
from pix2lst.batch.inputs import BatchInput
from pix2lst.batch.tasks import _shippable, is_transient, run_scene
from pix2lst.batch.workers import WORKER_MEMORY, plan_workers
from pix2lst.cli import main
from pix2lst.errors import (
    BandNotFoundError,
    OutputExistsError,
    OutputNotWritableError,
    OutputWriteError,
    ParameterError,
    RemoteError,
    SchedulerError,
)
from tests.conftest import LST_LIKE, REPO, make_model, make_scene


def _scene(root: Path, name: str = "LC08_SAFE_0", date: str = "2015-08-04") -> Path:
    return make_scene(root / name, name, date=date)


def _hidden(folder: Path) -> list[str]:
    return sorted(
        p.name for p in folder.iterdir() if p.name.startswith(".") and "lock" not in p.name
    )


def test_resume_refuses_or_recomputes_what_is_not_this_runs_output(tmp_path, dask_client):
    mtl = _scene(tmp_path)
    out = tmp_path / "out"
    (first,) = run([str(mtl)], out, "physics", client=dask_client)
    dst = Path(first.output)
    good = dst.read_bytes()

    def refused(options, said, task="physics"):
        before = dst.read_bytes()
        with pytest.raises(OutputExistsError, match=said) as err:
            run([str(mtl)], out, task, client=dask_client, options=options)
        assert "\n" not in str(err.value) and "--overwrite" in str(err.value)
        assert dst.read_bytes() == before  # refused before any work

    refused(PhysicsOptions(units="C"), "its UNITS is 'K', not 'degC'")
    refused(PhysicsOptions(mask_clouds=True), "its CLOUD_MASK is 'False', not 'True'")
    refused(
        PhysicsOptions(cog=True), "it is a plain GeoTIFF and this run writes a Cloud-Optimised one"
    )
    model = make_model(tmp_path / "m.onnx", "conv", tile=32, **LST_LIKE)
    refused(PredictOptions(model=str(model), providers="cpu"), "its METHOD is 'planck', not 'model'",
            "predict")  # fmt: skip
    dst.write_bytes(good[: int(len(good) * 0.9)])  # cut to 90 %
    refused(None, "it is damaged|does not read")
    dst.write_bytes(good)
    with open(dst, "r+b") as f:  # zero the first block's bytes
        with rasterio.open(dst) as ds:
            off = int(ds.get_tag_item("BLOCK_OFFSET_0_0", "TIFF", bidx=1))
            n = int(ds.get_tag_item("BLOCK_SIZE_0_0", "TIFF", bidx=1))
        f.seek(off)
        f.write(b"\0" * n)
    refused(None, "it is damaged")
    (row,) = run([str(mtl)], out, "physics", client=dask_client, overwrite=True,
                 options=PhysicsOptions(units="C"))  # fmt: skip
    assert row.status == "ok"
    with rasterio.open(dst) as ds:
        assert ds.tags()["UNITS"] == "degC" and np.isfinite(ds.read(1)).any()
    # resumed: the earlier row's seconds and provider stay in the manifest
    (again,) = run(
        [str(mtl)], out, "physics", client=dask_client, options=PhysicsOptions(units="C")
    )
    assert again.status == "skipped" and again.provider == "numba"
    assert again.seconds == pytest.approx(round(row.seconds, 2))
    assert read_manifest(out / "manifest.csv")[0].provider == "numba"


def test_a_worker_never_replaces_a_file_it_was_not_given(tmp_path):
    mtl = _scene(tmp_path)
    dst = tmp_path / "LC08_SAFE_0.tif"
    dst.write_bytes(b"appeared after the start check")
    item = BatchInput(str(mtl), "LC08_SAFE_0")
    row = run_scene(item, str(dst), "physics", PhysicsOptions())
    assert row.status == "failed" and "appeared after the run checked its folder" in row.error
    assert dst.read_bytes() == b"appeared after the start check"
    row = run_scene(item, str(dst), "physics", PhysicsOptions(), overwrite=True)  # assigned
    assert row.status == "ok" and dst.read_bytes()[:2] in (b"II", b"MM")


def test_permanent_errors_are_not_retried_and_transient_ones_ship_as_one_line():
    assert not is_transient(BandNotFoundError("band B10 not found"))
    assert not is_transient(ParameterError("bad"))
    assert not is_transient(OutputWriteError("disk full"))
    assert not is_transient(RemoteError("HTTP 404", transient=False))
    assert is_transient(RemoteError("HTTP 503"))
    assert is_transient(ConnectionResetError("reset"))
    # an HTTP response (an open file) kept as the cause: not picklable, and not shipped
    response = urllib.error.HTTPError("http://x/a_MTL.txt", 503, "busy", {}, open(os.devnull, "rb"))
    try:
        try:
            raise RemoteError("HTTP 503 from http://x/a_MTL.txt\nretry later") from response
        except RemoteError as exc:
            clean = _shippable(exc)
    finally:
        response.close()
    assert isinstance(clean, RemoteError) and clean.__cause__ is None
    assert str(clean) == "HTTP 503 from http://x/a_MTL.txt retry later"
    assert str(pickle.loads(pickle.dumps(clean))) == str(clean)


def test_worker_plan_caps_and_says_so():
    gib = 1 << 30
    plan = plan_workers(100, cores=2, scenes=3, memory=6 * gib)
    assert plan.workers == 2 and plan.threads == 1 and plan.devices == ()
    assert plan.note.startswith("--workers 100 capped to 2 (") and "2 core(s)" in plan.note
    assert plan_workers(2, cores=16, scenes=3, memory=64 * gib).note == ""
    assert plan_workers(8, cores=16, scenes=20, memory=3 * WORKER_MEMORY).workers == 3
    assert plan_workers(None, cores=16, scenes=20, memory=64 * gib).workers == 8
    gpu = plan_workers(None, cores=16, scenes=20, memory=64 * gib, gpus=4)
    assert (gpu.workers, gpu.devices, gpu.threads) == (4, (0, 1, 2, 3), 4)
    one = plan_workers(8, cores=16, scenes=20, memory=64 * gib, gpus=2)
    assert one.workers == 2 and "one worker per GPU" in one.note
    assert plan_workers(None, cores=16, scenes=1, memory=64 * gib, gpus=4).devices == (0,)


def test_worker_device_and_engine_cache_differ_per_worker(monkeypatch, tmp_path):
    from pix2lst.batch.tasks import engine_cache, worker_device

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert [worker_device(n, (0, 1)) for n in (0, 1, 2, "3")] == [0, 1, 0, 1]
    assert worker_device(0, ()) is None
    assert engine_cache(1) == tmp_path / "pix2lst" / "tensorrt" / "gpu1" != engine_cache(0)


def test_cube_paths_that_would_destroy_inputs_or_outputs_are_refused_before_any_work(tmp_path):
    mtl = _scene(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    for cube, said in [
        (out, "holds the input|is the input"),
        (tmp_path, "holds the input"),
        (mtl.parent, "holds the input"),
    ]:
        with pytest.raises(OutputNotWritableError, match=said) as err:
            run([str(mtl)], out, "physics", cube=cube, overwrite=True,
                scheduler="tcp://127.0.0.1:1")  # fmt: skip
        assert "\n" not in str(err.value)
    assert (out / "keep.txt").read_text() == "mine" and not (out / "manifest.csv").exists()
    other = tmp_path / "other"
    other.mkdir()
    with pytest.raises(OutputNotWritableError, match="not a pix2lst cube"):
        run([str(mtl)], out, "physics", cube=other, overwrite=True, scheduler="tcp://127.0.0.1:1")


def test_a_cube_over_two_crs_is_refused_before_any_work(tmp_path):
    from pix2lst.errors import GridMismatchError

    a = _scene(tmp_path, "LC08_SAFE_A", "2015-08-04")
    b = _scene(tmp_path, "LC08_SAFE_B", "2015-08-20")
    for f in b.parent.glob("*.TIF"):  # the same pixels in another UTM zone
        with rasterio.open(f, "r+") as ds:
            ds.crs = "EPSG:32617"
    with pytest.raises(GridMismatchError, match="CRS EPSG:32617 vs EPSG:32616") as err:
        run([str(a), str(b)], tmp_path / "out", "physics", cube=tmp_path / "c.zarr",
            scheduler="tcp://127.0.0.1:1")  # fmt: skip
    assert "\n" not in str(err.value) and not (tmp_path / "out").exists()


def test_bad_scheduler_address_is_one_line(tmp_path):
    mtl = _scene(tmp_path)
    with pytest.raises(SchedulerError, match="is not a Dask scheduler address"):
        run([str(mtl)], tmp_path / "out", "physics", scheduler="notaurl")
    result = CliRunner().invoke(main, ["batch", "physics", str(mtl), "-o", str(tmp_path / "o"),
                                       "--scheduler", "notaurl"])  # fmt: skip
    assert result.exit_code == 1 and len(result.output.strip().splitlines()) == 1
    assert "notaurl" in result.output and "Traceback" not in result.output


def test_summary_names_no_cube_that_was_not_written(tmp_path, dask_client):
    bad = _scene(tmp_path, "LC08_SAFE_X")
    (bad.parent / "LC08_SAFE_X_B10.TIF").unlink()
    result = CliRunner().invoke(main, [
        "batch", "physics", str(bad), "-o", str(tmp_path / "out"), "--cube", str(tmp_path / "c.zarr"),
        "--scheduler", dask_client.scheduler.address, "--retries", "0",
    ])  # fmt: skip
    assert result.exit_code == 1
    assert "; cube " + str(tmp_path / "c.zarr") not in result.output
    assert "no cube written" in result.output and not (tmp_path / "c.zarr").exists()


def _run_cli(args: list[str], env: dict[str, str] | None = None, timeout: float = 180):
    return subprocess.run(
        [sys.executable, "-m", "pix2lst.cli", *args], cwd=REPO, capture_output=True, text=True,
        timeout=timeout, env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})},
    )  # fmt: skip


def test_permanent_failures_say_one_line_and_dask_stays_quiet(tmp_path, http_server):
    good = _scene(tmp_path, "LC08_SAFE_G")
    bad = _scene(tmp_path, "LC08_SAFE_N", "2015-08-20")
    (bad.parent / "LC08_SAFE_N_B10.TIF").unlink()
    refused = "http://127.0.0.1:1/LC08_SAFE_R_MTL.txt"  # nothing listens: transient, retried
    res = _run_cli(["-q", "batch", "physics", str(good), str(bad), refused, "-o",
                    str(tmp_path / "out"), "--workers", "1", "--retries", "1"])  # fmt: skip
    assert res.returncode == 1, res.stderr
    lines = res.stderr.strip().splitlines()
    assert "Traceback" not in res.stderr and "Compute Failed" not in res.stderr, res.stderr
    assert len(lines) == 2, res.stderr  # one line per failed scene, nothing else
    assert "band B10 not found" in lines[0] and "Connection refused" in lines[1]
    assert res.stdout == ""  # -q: no summary
    rows = read_manifest(tmp_path / "out" / "manifest.csv")
    assert [r.status for r in rows] == ["ok", "failed", "failed"]
    assert "retries" not in rows[1].error and "(after 1 retries)" in rows[2].error


SLOW_WORKER = """
import os, time
if os.environ.get("PIX2LST_TEST_SLOW_WRITER"):
    import pix2lst.geo.writer as w
    write = w.RasterWriter._write
    def slow(self, *args, **kw):
        write(self, *args, **kw)
        time.sleep(120)
    w.RasterWriter._write = slow
"""


def test_a_signal_to_the_batch_parent_leaves_no_temporaries(tmp_path):
    sig = signal.SIGINT  # SIGTERM and SIGHUP unwind the same way (tests/test_signals.py)
    mtl = _scene(tmp_path)
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(SLOW_WORKER)  # the worker processes' writer sleeps
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": f"{hook}{os.pathsep}{REPO}", "PIX2LST_TEST_SLOW_WRITER": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "pix2lst.cli", "batch", "physics", str(mtl), "-o", str(out),
         "--workers", "1"], cwd=REPO, env=env, text=True, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while not (out.is_dir() and _hidden(out)) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _hidden(out), "the worker never started writing"
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 128 + sig, err
    assert _hidden(out) == [] and not (out / "LC08_SAFE_0.tif").exists()
    assert "Traceback" not in err
    assert "0 of 1 scene(s) finished" in err and "no partial output was left" in err


def test_batch_atmosphere_equals_the_single_commands_and_resume_sees_it(tmp_path, dask_client):
    from pix2lst.lst_physics.atmosphere import parse_atmosphere
    from pix2lst.lst_physics.lst import write_lst
    from pix2lst.runtime import LSTPredictor

    mtl = _scene(tmp_path)
    model = make_model(tmp_path / "m.onnx", "conv", tile=32, **LST_LIKE)
    address = dask_client.scheduler.address
    for task, extra in [
        ("physics", []),
        ("predict", ["--model", str(model), "--providers", "cpu"]),
    ]:
        out = tmp_path / task
        args = ["batch", task, str(mtl), "-o", str(out), "--scheduler", address, *extra]
        result = CliRunner().invoke(main, [*args, "--atmosphere", "0.9,1.0,1.5"])
        assert result.exit_code == 0, result.output
        spec = parse_atmosphere("0.9,1.0,1.5", None)
        one = tmp_path / f"{task}_one.tif"
        if task == "physics":
            write_lst(mtl, one, atmosphere=spec)
        else:
            LSTPredictor(model, providers="cpu").predict_file(mtl, one, atmosphere=spec)
        with rasterio.open(out / "LC08_SAFE_0.tif") as a, rasterio.open(one) as b:
            assert a.tags()["ATMOSPHERIC_CORRECTION"] == "rte"
            np.testing.assert_array_equal(a.read(1), b.read(1))
        again = CliRunner().invoke(main, [*args, "--atmosphere", "0.9,1.0,1.5"])
        assert again.exit_code == 0 and "1 skipped" in again.output
        other = CliRunner().invoke(main, [*args, "--atmosphere", "0.8,1.0,1.5"])
        assert other.exit_code == 1 and "its ATMOSPHERE is" in other.output
        plain = CliRunner().invoke(main, args)
        assert (
            plain.exit_code == 1
            and "its ATMOSPHERIC_CORRECTION is 'rte', not 'none'" in plain.output
        )


@pytest.mark.parametrize("task", ["physics", "predict"])
def test_a_bad_atmosphere_is_refused_before_any_work(tmp_path, task):
    mtl = _scene(tmp_path)
    result = CliRunner().invoke(main, ["batch", task, str(mtl), "-o", str(tmp_path / "out"),
                                       "--atmosphere", "1.5,1.0,1.5", "--scheduler", "tcp://127.0.0.1:1"])  # fmt: skip
    assert result.exit_code == 1 and len(result.output.strip().splitlines()) == 1, result.output
    assert "tau" in result.output and not (tmp_path / "out").exists()


def test_a_creation_option_the_writer_refuses_is_refused_before_any_work(tmp_path):
    mtl = _scene(tmp_path)
    with pytest.raises(
        ParameterError, match="--co BLOCKXSIZE=100 is refused by the GeoTIFF writer"
    ) as err:
        run([str(mtl)], tmp_path / "out", "physics", scheduler="tcp://127.0.0.1:1",
            options=PhysicsOptions(creation_options=(("blockxsize", "100"),)))  # fmt: skip
    assert "\n" not in str(err.value) and not (tmp_path / "out").exists()
    result = CliRunner().invoke(main, ["batch", "physics", str(mtl), "-o", str(tmp_path / "o"),
                                       "--co", "BLOCKXSIZE=100", "--scheduler", "tcp://127.0.0.1:1"])  # fmt: skip
    assert result.exit_code == 2 and "BLOCKXSIZE=100" in result.output
    assert len(result.output.strip().splitlines()) == 1 and not (tmp_path / "o").exists()


def test_a_file_that_is_no_model_is_refused_before_any_work(tmp_path):
    from pix2lst.errors import ModelError

    mtl = _scene(tmp_path)
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(ModelError, match="not a usable ONNX model"):
        run([str(mtl)], tmp_path / "out", "predict", scheduler="tcp://127.0.0.1:1",
            options=PredictOptions(model=str(bad)))  # fmt: skip
    assert not (tmp_path / "out").exists()


def test_a_stalled_remote_scene_does_not_hold_up_the_local_ones(tmp_path):
    import socket
    import threading

    server = socket.create_server(("127.0.0.1", 0))  # accepts, never answers
    held = []

    def accept():
        while True:
            try:
                held.append(server.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    port = server.getsockname()[1]
    stalled = f"http://127.0.0.1:{port}/LC08_L1TP_020039_20150101_20200910_02_T1_MTL.txt"
    local = _scene(tmp_path)
    out = tmp_path / "out"

    def progress(done, total):
        if done == 1:  # the first scene in: stop the run here
            raise KeyboardInterrupt

    try:
        with pytest.raises(KeyboardInterrupt) as err:
            run([stalled, str(local)], out, "physics", workers=1, progress=progress)
    finally:
        server.close()
        for c in held:
            c.close()
    (row,) = read_manifest(out / "manifest.csv")
    assert row.status == "ok" and "LC08_SAFE_0" in row.output  # the local one, given second
    assert "1 of 2 scene(s) finished" in err.value.left and _hidden(out) == []


def test_resume_keeps_a_prediction_whose_tile_shrank_to_the_raster(tmp_path, dask_client):
    mtl = _scene(tmp_path)  # 96 x 128 px
    model = make_model(tmp_path / "s.onnx", "conv", tile=32, depth=3, spatial=True, **LST_LIKE)
    options = PredictOptions(model=str(model), providers="cpu", tile_size=256)
    (row,) = run([str(mtl)], tmp_path / "out", "predict", client=dask_client, options=options)
    assert row.status == "ok", row.error
    with rasterio.open(row.output) as ds:
        assert int(ds.tags()["TILE_SIZE"]) < 256  # cut into the smallest tile that fits
    (again,) = run([str(mtl)], tmp_path / "out", "predict", client=dask_client, options=options)
    assert again.status == "skipped"
    with pytest.raises(OutputExistsError, match=r"its TILE_SIZE is '.*', not '64'"):
        run([str(mtl)], tmp_path / "out", "predict", client=dask_client,
            options=PredictOptions(model=str(model), providers="cpu", tile_size=64))  # fmt: skip

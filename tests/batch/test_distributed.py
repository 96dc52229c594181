"""A real Dask cluster of separate processes (``dask scheduler`` + 2 ``dask worker``) over TCP
on loopback: a batch runs on it by address, and a worker SIGKILLed mid-run costs nothing."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import rasterio

pytest.importorskip("distributed", reason="the batch extra is not installed")

from pix2lst.batch import PredictOptions, run
from pix2lst.errors import SchedulerError
from tests.conftest import LST_LIKE, REPO, make_model, make_scene

DASK = [sys.executable, "-m", "distributed.cli.dask_scheduler"]
WORKER = [sys.executable, "-m", "distributed.cli.dask_worker"]


@pytest.fixture()
def cluster(tmp_path):
    """A scheduler and 2 workers (each its own process, behind a nanny) on 127.0.0.1."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    file = tmp_path / "scheduler.json"
    procs = [
        subprocess.Popen(
            [*DASK, "--host", "127.0.0.1", "--port", "0", "--no-dashboard", "--scheduler-file", str(file)],
            env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
    ]  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not file.exists():
            if time.monotonic() > deadline:
                pytest.fail("dask scheduler did not start")
            time.sleep(0.1)
        address = json.loads(file.read_text())["address"]
        for _ in range(2):
            procs.append(
                subprocess.Popen(
                    [*WORKER, address, "--host", "127.0.0.1", "--nthreads", "1",
                     "--no-dashboard", "--death-timeout", "60"],
                    env=env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                )
            )  # fmt: skip
        yield address
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()


def _kill_a_busy_worker(address: str, killed: list[int], stop: threading.Event) -> None:
    """SIGKILL the first worker process seen running a pix2lst task."""
    from distributed import Client

    with Client(address, timeout=30, set_as_default=False) as client:
        while not stop.is_set():
            busy = [w for w, keys in client.processing().items()
                    if any(str(k).startswith("pix2lst-") for k in keys)]  # fmt: skip
            if busy:
                pids = client.run(os.getpid, workers=busy[:1])
                pid = next(iter(pids.values()))
                time.sleep(0.2)  # into the scene
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
                return
            time.sleep(0.05)


def test_a_scheduler_and_two_workers_survive_a_sigkill(tmp_path, cluster):
    from distributed import Client

    mtls = [
        make_scene(tmp_path / f"s{i}", f"LC08_DIST_{i}", window=(0, 0, 384, 512)) for i in range(4)
    ]
    model = make_model(tmp_path / "m.onnx", "conv", tile=32, **LST_LIKE)
    with Client(cluster, timeout=30, set_as_default=False) as c:
        c.wait_for_workers(2, timeout=60)
    killed: list[int] = []
    stop = threading.Event()
    killer = threading.Thread(target=_kill_a_busy_worker, args=(cluster, killed, stop))
    killer.start()
    try:
        rows = run([str(m) for m in mtls], tmp_path / "out", "predict", scheduler=cluster,
                   options=PredictOptions(model=str(model), providers="cpu", batch_size=2))  # fmt: skip
    finally:
        stop.set()
        killer.join(30)
    assert killed, "no worker was seen busy, so none was killed"
    assert [r.status for r in rows] == ["ok"] * 4, [r.error for r in rows]
    for row in rows:
        with rasterio.open(row.output) as ds:
            values = ds.read(1)
            assert values.shape == (384, 512) and np.isfinite(values).all()
    assert not list((tmp_path / "out").glob(".*.tif*"))
    with pytest.raises(ProcessLookupError):
        os.kill(killed[0], 0)


def test_a_scheduler_that_does_not_answer(tmp_path):
    (mtl,) = [make_scene(Path(tmp_path) / "s", "LC08_X")]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    started = time.monotonic()
    with pytest.raises(
        SchedulerError, match=rf"no Dask scheduler answers at tcp://127\.0\.0\.1:{port}"
    ):
        run([str(mtl)], tmp_path / "out", "physics", scheduler=f"tcp://127.0.0.1:{port}",
            connect_timeout=2)  # fmt: skip
    assert time.monotonic() - started < 30


def test_workers_started_elsewhere_count_only_their_share_of_the_cores(tmp_path, cluster):
    """``dask worker --nthreads 1`` on this machine: the predictor plugin sizes the
    worker's readers (and fillers, GDAL threads) for its one thread, as the local
    cluster's workers are, not for every core of the machine."""
    from distributed import Client

    from pix2lst._machine import usable_cores
    from pix2lst.batch.tasks import PLUGIN_NAME, PredictorPlugin

    model = make_model(tmp_path / "m.onnx", "conv", tile=32, **LST_LIKE)
    with Client(cluster, timeout=30, set_as_default=False) as c:
        c.wait_for_workers(2, timeout=60)
        before = c.run(usable_cores)
        c.register_plugin(PredictorPlugin(PredictOptions(model=str(model), providers="cpu")),
                          name=PLUGIN_NAME)  # fmt: skip
        after = c.run(usable_cores)
        readers = c.run(lambda dask_worker: dask_worker.plugins[PLUGIN_NAME].predictor.readers)
    assert set(before.values()) == {usable_cores()}  # the machine's, before the plugin
    assert set(after.values()) == {1} and set(readers.values()) == {1}

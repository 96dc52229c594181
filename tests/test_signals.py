"""Interrupted runs, with real processes and real signals: nothing left behind, one line.

The child runs the real CLI on a small scene; its writer is slowed down (a sleep
after the first strip) so that the signal lands while the temporary output exists.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from pix2lst.cli import main
from tests.conftest import REPO, crop_scene

SLOW_CHILD = """
import sys, time
import pix2lst.geo.writer as w
PAUSE = 60.0
write = w.RasterWriter._write
def slow(self, *args, **kw):
    write(self, *args, **kw)
    print("writing", flush=True)
    for _ in range(max(1, round(PAUSE / 0.2))):  # short sleeps: the handler runs within
        time.sleep(PAUSE / max(1, round(PAUSE / 0.2)))  # 0.2 s whichever thread got the signal
w.RasterWriter._write = slow
from pix2lst.cli import main
main(sys.argv[1:], prog_name="pix2lst")
"""


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return crop_scene(tmp_path_factory.mktemp("sig") / "s", 64)


def _as_in_a_terminal() -> None:
    """The child gets SIGINT and SIGHUP as a terminal user's command does, even when the
    suite itself runs as a background job (which starts with them ignored)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGHUP, signal.SIG_DFL)


def start(args: list[str]) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", SLOW_CHILD, *args], cwd=REPO, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=_as_in_a_terminal,
    )  # fmt: skip
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], 120)
    if not ready or proc.stdout.readline().strip() != "writing":
        proc.kill()
        pytest.fail(f"the child never started writing: {proc.communicate()[1]}")
    return proc


def hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_a_signal_unwinds_like_ctrl_c(tmp_path: Path, scene: Path, sig: signal.Signals) -> None:
    out = tmp_path / "lst.tif"
    out.write_bytes(b"previous output")
    proc = start(["physics", str(scene), "-o", str(out), "--overwrite"])
    assert hidden(tmp_path), "the temporary output should exist while writing"
    proc.send_signal(sig)
    try:
        _, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail(f"the child did not stop within 60 s of {sig.name}: {proc.communicate()[1]}")
    assert proc.returncode == 128 + sig, err
    assert "Traceback" not in err
    assert [line for line in err.splitlines() if line.strip()] == [
        f"pix2lst physics: interrupted ({sig.name}); no partial output was left"
    ]
    assert hidden(tmp_path) == [] and out.read_bytes() == b"previous output"


def test_the_next_run_removes_what_a_killed_run_left(
    tmp_path: Path, scene: Path, caplog: pytest.LogCaptureFixture
) -> None:
    out = tmp_path / "lst.tif"
    proc = start(["physics", str(scene), "-o", str(out)])
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    left = hidden(tmp_path)
    assert left and all(name.startswith(f".lst.tif.{proc.pid}-") for name in left)
    for _ in range(50):  # the pid is gone once the parent reaped it
        try:
            os.kill(proc.pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    res = CliRunner().invoke(main, ["physics", str(scene), "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert hidden(tmp_path) == [] and out.is_file()
    assert "removed 1 temporary file(s)" in caplog.text or "temporary file" in caplog.text


def test_an_ignored_hangup_stays_ignored(tmp_path: Path, scene: Path) -> None:
    """Under nohup (SIGHUP ignored) a hangup does not stop the run."""
    out = tmp_path / "lst.tif"
    proc = subprocess.Popen(
        [sys.executable, "-c", SLOW_CHILD.replace("PAUSE = 60.0", "PAUSE = 0.5"),
         "physics", str(scene), "-o", str(out)],
        cwd=REPO, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        preexec_fn=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN),
    )  # fmt: skip
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], 120)
    assert ready and proc.stdout.readline().strip() == "writing"
    proc.send_signal(signal.SIGHUP)
    stdout, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert out.is_file() and "wrote" in stdout

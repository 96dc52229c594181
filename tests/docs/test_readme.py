"""The README's command-line and Python examples run as written, on the embedded sample.

The ``bash`` block of "## Command line" and the ``python`` block of "## Python" are taken
from the README itself and run in a scratch folder (``pix2lst`` is this checkout's CLI),
so the front page cannot drift from the product.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import rasterio

from tests.conftest import REPO


def readme_block(section: str, lang: str) -> str:
    """The first ``lang`` code block of the README's ``## section``."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    body = text.split(f"\n## {section}\n", 1)[1].split("\n## ", 1)[0]
    match = re.search(rf"```{lang}\n(.*?)```", body, re.S)
    assert match, f"no {lang} block under '## {section}'"
    return match.group(1)


def run(args: list[str], cwd: Path) -> str:
    bin_dir = cwd / "bin"
    bin_dir.mkdir(exist_ok=True)
    shim = bin_dir / "pix2lst"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m pix2lst.cli "$@"\n')
    shim.chmod(0o755)
    (bin_dir / "python").symlink_to(sys.executable)
    env = {**os.environ, "PYTHONPATH": str(REPO), "MPLBACKEND": "Agg",
           "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}  # fmt: skip
    proc = subprocess.run(args, capture_output=True, text=True, cwd=cwd, env=env,
                          check=False, timeout=300)  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def test_command_line_example(tmp_path: Path) -> None:
    script = readme_block("Command line", "bash")
    run(["bash", "-euo", "pipefail", "-c", script], tmp_path)
    with (
        rasterio.open(tmp_path / "lst_physics.tif") as a,
        rasterio.open(tmp_path / "lst_model.tif") as b,
    ):
        assert a.units == b.units == ("K",) and a.shape == b.shape == (603, 627)
        assert a.tags()["CLOUD_MASK"] == "True" and "MODEL" in b.tags()
    assert (tmp_path / "compare.png").stat().st_size > 0


def test_python_example(tmp_path: Path) -> None:
    out = run([sys.executable, "-c", readme_block("Python", "python")], tmp_path)
    lines = out.splitlines()
    assert "provider CPUExecutionProvider" in lines[0]
    assert 170 < float(lines[1].split()[0]) < 360  # kelvin
    with rasterio.open(tmp_path / "lst_model.tif") as ds:
        assert np.isfinite(ds.read(1)).mean() > 0.99
    assert (tmp_path / "compare.png").is_file()

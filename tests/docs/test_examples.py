"""The worked examples in docs/examples run as users run them (a fresh Python, the sample).

Each script is executed in a subprocess from a scratch folder, with this checkout first
on the path, so an example that stops working fails here instead of rotting.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio

from tests.conftest import REPO

EXAMPLES = REPO / "docs" / "examples"


def run_example(name: str, *args: str | Path, cwd: Path) -> str:
    env = {**os.environ, "PYTHONPATH": str(REPO), "MPLBACKEND": "Agg"}
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / name), *map(str, args)],
        capture_output=True, text=True, cwd=cwd, env=env, check=False, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def test_every_example_is_tested() -> None:
    here = Path(__file__).read_text(encoding="utf-8")
    for script in sorted(EXAMPLES.glob("*.py")):
        assert f'"{script.name}"' in here, f"{script.name} has no test"
        assert script.read_text(encoding="utf-8").startswith('"""Worked example')


def test_01_physics_lst(tmp_path: Path, sample_scene: Path) -> None:
    out = run_example("01_physics_lst.py", sample_scene, tmp_path / "o", cwd=tmp_path)
    assert "scene LC80200392015216LGN00, acquired 2015-08-04, method planck" in out
    assert "clear pixels:" in out
    with rasterio.open(tmp_path / "o" / "lst.tif") as src:
        lst = src.read(1)
        assert src.units == ("K",) and src.tags()["CLOUD_MASK"] == "True"
    assert 0.3 < np.isfinite(lst).mean() < 0.95  # the sample's cumulus is masked
    assert (tmp_path / "o" / "lst.png").is_file() and (tmp_path / "o" / "lst.pgw").is_file()


def test_02_predict_folder(tmp_path: Path, sample_scene: Path) -> None:
    scenes = tmp_path / "scenes"
    scenes.mkdir()
    (scenes / "a").symlink_to(sample_scene, target_is_directory=True)
    out = run_example("02_predict_folder.py", scenes, tmp_path / "o", cwd=tmp_path)
    assert "model pix2lst_default.onnx" in out and "a: " in out
    with rasterio.open(tmp_path / "o" / "a_lst.tif") as src:
        assert src.tags()["MODEL"] == "pix2lst_default.onnx"
        assert np.isfinite(src.read(1)).mean() > 0.99
    assert (tmp_path / "o" / "a_lst.png").is_file()
    # without arguments it makes its own folder with the sample
    default = run_example("02_predict_folder.py", cwd=tmp_path)
    assert "sample: " in default and (tmp_path / "example-output" / "02").is_dir()


def test_03_train_tiny_model(tmp_path: Path) -> None:
    pytest.importorskip("torch", reason="the training example needs the train extra")
    out = run_example("03_train_tiny_model.py", tmp_path / "o", cwd=tmp_path)
    assert "parity with torch" in out and "provider CPUExecutionProvider" in out
    with rasterio.open(tmp_path / "o" / "predicted_lst.tif") as src:
        lst = src.read(1)
    assert np.isfinite(lst).mean() > 0.99 and 220 < np.nanmedian(lst) < 340  # kelvin, plausible


def test_04_many_scenes_cube(tmp_path: Path) -> None:
    out = run_example("04_many_scenes_cube.py", "--out", tmp_path / "o", cwd=tmp_path)
    assert out.count("ok      ") == 2
    assert "cube {'time': 2, 'y': 603, 'x': 627}, units K" in out
    lines = [line for line in out.splitlines() if "centre pixel" in line]
    assert [line.split()[0] for line in lines] == ["2015-08-04", "2015-08-20"]
    manifest = (tmp_path / "o" / "manifest.csv").read_text()
    assert manifest.count(",ok,") == 2 and (tmp_path / "o" / "cube.zarr").is_dir()

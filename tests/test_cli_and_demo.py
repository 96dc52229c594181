"""The command-line group and ``pix2lst demo`` on the embedded sample."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import rasterio
from click.testing import CliRunner

from pix2lst.cli import COMMANDS, main
from pix2lst.data import default_model_path


def test_every_command_loads_and_has_help() -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["--help"])
    assert result.exit_code == 0, result.output
    for name in COMMANDS:
        assert name in result.output
        sub = runner.invoke(main, [name, "--help"])
        assert sub.exit_code == 0, (name, sub.output)
        assert "Usage: " in sub.output and "needs" not in sub.output


def test_light_commands_never_import_torch(tmp_path: Path) -> None:
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "from click.testing import CliRunner\n"
        "from pix2lst.cli import main\n"
        "for name in ('physics', 'composite', 'predict', 'quicklook', 'compare', 'view', 'demo'):\n"
        "    r = CliRunner().invoke(main, [name, '--help'])\n"
        "    assert r.exit_code == 0, (name, r.output)\n"
        "r = CliRunner().invoke(main, ['train', sys.argv[1], '-o', sys.argv[2]])\n"
        "print(r.exit_code, r.output)\n"
    )
    args = [sys.executable, "-c", code, str(tmp_path), str(tmp_path / "model")]
    out = subprocess.run(args, capture_output=True, text=True, check=True)
    # with torch missing, the training command says what to install instead of crashing
    assert out.stdout.startswith("1 ")
    assert "needs torch, which is not installed" in out.stdout and "torch==2.13.0" in out.stdout


def test_demo_runs_end_to_end(tmp_path: Path) -> None:
    assert default_model_path().is_file(), "the default model must ship inside the package"
    out = tmp_path / "demo"
    result = CliRunner().invoke(main, ["demo", "-o", str(out)])
    assert result.exit_code == 0, result.output
    expected = ["lst_physics.tif", "lst_model.tif", "lst_physics.png", "lst_model.png",
                "true_colour.png", "compare_physics_vs_model.png", "viewer.html"]  # fmt: skip
    for name in expected:
        assert (out / name).stat().st_size > 0, name
        assert str(out / name) in result.output
    assert "RMSE" in result.output
    with rasterio.open(out / "lst_physics.tif") as a, rasterio.open(out / "lst_model.tif") as b:
        phys, model = a.read(1), b.read(1)
        assert a.transform == b.transform and a.crs == b.crs
    ok = np.isfinite(phys) & np.isfinite(model)
    assert ok.mean() > 0.99
    rmse = float(np.sqrt(np.mean((phys[ok] - model[ok]) ** 2)))
    assert rmse < 3.0, f"the shipped model is {rmse:.2f} K from the physics on the sample"
    # a second run without --overwrite refuses and keeps the outputs
    before = (out / "lst_model.tif").stat().st_mtime_ns
    again = CliRunner().invoke(main, ["demo", "-o", str(out)])
    assert again.exit_code != 0 and "--overwrite" in again.output
    assert (out / "lst_model.tif").stat().st_mtime_ns == before

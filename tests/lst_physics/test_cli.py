"""``pix2lst physics`` and ``pix2lst composite`` through click's CliRunner."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio
from click.testing import CliRunner

from pix2lst.cli import main


def test_physics_cli(sample_scene: Path, tmp_path: Path) -> None:
    out = tmp_path / "lst.tif"
    r = CliRunner().invoke(
        main, ["physics", str(sample_scene), "-o", str(out), "--units", "C", "--mask-clouds"]
    )
    assert r.exit_code == 0, r.output
    assert f"wrote {out}" in r.output
    with rasterio.open(out) as ds:
        assert ds.tags()["UNITS"] == "degC" and ds.tags()["CLOUD_MASK"] == "True"
        lst = ds.read(1)
    assert -30 < np.nanmin(lst) and np.nanmax(lst) < 45
    again = CliRunner().invoke(main, ["physics", str(sample_scene), "-o", str(out)])
    assert (
        again.exit_code == 1 and "already exists" in again.output and "--overwrite" in again.output
    )
    ok = CliRunner().invoke(
        main, ["physics", str(sample_scene), "-o", str(out), "--overwrite", "--emissivity", "avdan"]
    )
    assert ok.exit_code == 0, ok.output


def test_physics_cli_errors(sample_scene: Path, tmp_path: Path) -> None:
    r = CliRunner().invoke(
        main, ["physics", str(sample_scene), "-o", str(tmp_path / "x.tif"), "--method", "rte"]
    )
    assert r.exit_code == 1 and "Error: method 'rte' needs" in r.output
    assert not (tmp_path / "x.tif").exists()
    r = CliRunner().invoke(
        main, ["physics", str(sample_scene), "-o", str(tmp_path / "x.tif"), "--units", "F"]
    )
    assert r.exit_code == 2  # click usage error
    r = CliRunner().invoke(main, ["physics", str(tmp_path), "-o", str(tmp_path / "x.tif")])
    assert r.exit_code == 1 and "no MTL file" in r.output


def test_composite_cli(sample_scene: Path, tmp_path: Path) -> None:
    out = tmp_path / "c.tif"
    r = CliRunner().invoke(main, ["composite", str(sample_scene), "-o", str(out), "--units", "dn"])
    assert r.exit_code == 0, r.output
    with rasterio.open(out) as ds:
        assert ds.count == 8 and ds.descriptions[-1] == "B10" and ds.tags()["UNITS"] == "dn"
    r = CliRunner().invoke(
        main, ["composite", str(sample_scene), "-o", str(tmp_path / "no" / "c.tif")]
    )
    assert r.exit_code == 1 and "does not exist" in r.output

"""The atmospheric correction in the prediction pipeline: the model's LST corrected in
kelvin with band 10's brightness temperature, exactly as ``correct_rows`` corrects it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from click.testing import CliRunner

from pix2lst.cli import main
from pix2lst.errors import ParameterError
from pix2lst.geo.grid import Grid
from pix2lst.lst_physics.atmosphere import parse_atmosphere
from pix2lst.runtime import LSTPredictor
from tests.conftest import make_model, sample_dn

NUMBERS = "0.85,1.2,2.0"  # tau, Lu, Ld (W/(m2 sr um)): a humid mid-latitude summer


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory, sample_scene: Path) -> dict[str, Path]:
    from pix2lst.lst_physics import write_composite as physics_composite

    d = tmp_path_factory.mktemp("atmos")
    return {
        # single-channel physics as a model: LST = band 10's BT + 2 K (an emissivity < 1)
        "bt2": make_model(d / "bt2.onnx", "identity", tile=32, band=7, output_offset=2.0),
        "composite": physics_composite(sample_scene, d / "comp.tif"),
        "dir": d,
    }


def _bt(composite: Path) -> np.ndarray:
    with rasterio.open(composite) as ds:
        return ds.read(8).astype(np.float32)  # B10 as brightness temperature (K)


def test_predict_array_corrects_as_correct_rows_does(
    files: dict[str, Path], sample_scene: Path
) -> None:
    with rasterio.open(files["composite"]) as ds:
        arr = ds.read().astype(np.float32)
    p = LSTPredictor(files["bt2"], providers="cpu", padding=4)
    plain = p.predict_array(arr)
    spec = parse_atmosphere(NUMBERS, None)
    corrected = p.predict_array(arr, atmosphere=spec, scene=sample_scene)
    h, w = plain.shape
    with spec.open(sample_scene, Grid(None, Affine.identity(), w, h)) as corr:
        expected = plain.copy()
        corr.correct_rows(expected, arr[7].copy(), 0)
    np.testing.assert_array_equal(corrected, expected)
    valid = np.isfinite(plain)
    assert valid.mean() > 0.5 and not np.array_equal(corrected[valid], plain[valid])
    # in degC: the same kelvin shifted last
    celsius = p.predict_array(arr, atmosphere=spec, scene=sample_scene, units="C")
    np.testing.assert_allclose(celsius, expected - np.float32(273.15), rtol=0, atol=1e-4)
    # no correction (kind none) is the uncorrected output, bit for bit
    none = parse_atmosphere(None, None)
    np.testing.assert_array_equal(p.predict_array(arr, atmosphere=none), plain)


def test_predict_file_with_three_numbers_on_the_sample(
    files: dict[str, Path], sample_scene: Path, tmp_path: Path
) -> None:
    p = LSTPredictor(files["bt2"], providers="cpu", padding=4)
    plain_path, corr_path = tmp_path / "plain.tif", tmp_path / "corr.tif"
    p.predict_file(sample_scene, plain_path)
    spec = parse_atmosphere(NUMBERS, None)
    p.predict_file(sample_scene, corr_path, atmosphere=spec)
    with rasterio.open(plain_path) as a, rasterio.open(corr_path) as b:
        plain, corrected, tags = a.read(1), b.read(1), b.tags()
        grid = Grid(b.crs, b.transform, b.width, b.height)
        assert "ATMOSPHERIC_CORRECTION" not in a.tags()  # as without an atmosphere
    assert tags["ATMOSPHERIC_CORRECTION"] == "rte"
    assert "tau=0.85" in tags["ATMOSPHERE"] and "K1=" in tags["ATMOSPHERE_CONSTANTS"]
    with spec.open(sample_scene, grid) as corr:
        expected = plain.copy()
        corr.correct_rows(expected, _bt(files["composite"]), 0)
    np.testing.assert_array_equal(corrected, expected)
    valid = np.isfinite(plain)
    assert valid.mean() > 0.5 and np.abs(corrected[valid] - plain[valid]).mean() > 0.1


def test_predict_through_the_cli_with_water_vapour_and_the_atmosphere(
    files: dict[str, Path], sample_scene: Path, tmp_path: Path
) -> None:
    base = ["predict", str(sample_scene), "--model", str(files["bt2"]), "--providers", "cpu"]
    out = tmp_path / "smw.tif"
    res = CliRunner().invoke(main, [*base, "-o", str(out), "--water-vapour", "1.5"])
    assert res.exit_code == 0, res.output
    with rasterio.open(out) as ds:
        assert ds.tags()["ATMOSPHERIC_CORRECTION"] == "smw"
        assert np.isfinite(ds.read(1)).mean() > 0.5
    res = CliRunner().invoke(main, [*base, "-o", str(tmp_path / "x.tif"), "--atmosphere", "2,1,1"])
    assert res.exit_code != 0 and "tau" in res.output and "\n" not in res.output.strip()
    assert not (tmp_path / "x.tif").exists()


def test_a_model_without_band_10_cannot_be_corrected(tmp_path: Path, sample_scene: Path) -> None:
    bands = ("B1", "B2", "B3", "B4", "B5", "B6", "B7")
    model = make_model(tmp_path / "m.onnx", "constant", tile=32, bands=bands)
    arr = sample_dn((40, 40))[:7] / np.float32(30000)
    p = LSTPredictor(model, providers="cpu", padding=4)
    spec = parse_atmosphere(NUMBERS, None)
    with pytest.raises(ParameterError, match="needs band 10's brightness temperature"):
        p.predict_array(arr, atmosphere=spec, scene=sample_scene)

"""`pix2lst predict` through click's CliRunner, and bad input through the API."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import rasterio
from click.testing import CliRunner

from pix2lst.cli import main
from pix2lst.errors import (
    BandNotFoundError,
    GridMismatchError,
    ModelError,
    OutputExistsError,
    SceneError,
)
from pix2lst.runtime import LSTPredictor
from pix2lst.runtime import pipeline as pipeline_mod
from tests.conftest import BANDS, make_model, sample_dn, write_composite


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("cli")
    arr = np.ascontiguousarray(sample_dn((90, 70)) / np.float32(30000))
    arr[7] = arr[7] * np.float32(100) + np.float32(270)  # B10 as a brightness temperature (K)
    return {
        "model": make_model(d / "m.onnx", "identity", tile=32, band=7),
        "composite": write_composite(d / "comp.tif", arr),
        "dir": d,
    }


def invoke(*args: str) -> tuple[int, str]:
    res = CliRunner().invoke(main, ["predict", *args])
    return res.exit_code, res.output


def test_cli_predicts_and_prints_a_summary(tmp_path: Path, files: dict[str, Path]) -> None:
    out = tmp_path / "lst.tif"
    code, text = invoke(
        str(files["composite"]),
        "-o",
        str(out),
        "--model",
        str(files["model"]),
        "--providers",
        "cpu",
        "--batch-size",
        "3",
        "--padding",
        "4",
        "--blend",
        "linear",
        "--units",
        "C",
    )
    assert code == 0, text
    assert "tiles" in text and "Mpx/s" in text and "CPUExecutionProvider" in text
    with rasterio.open(out) as ds, rasterio.open(files["composite"]) as src:
        np.testing.assert_allclose(ds.read(1), src.read(8) - np.float32(273.15), rtol=1e-6)
        assert ds.tags()["BLEND"] == "linear" and ds.tags()["PADDING"] == "4"


def test_cli_sessions(tmp_path: Path, files: dict[str, Path]) -> None:
    args = [str(files["composite"]), "--model", str(files["model"]), "--providers", "cpu"]
    code, text = invoke(*args, "-o", str(tmp_path / "a.tif"), "--sessions", "2")
    assert code == 0, text
    code, text = invoke(*args, "-o", str(tmp_path / "b.tif"), "--sessions", "auto")
    assert code == 0, text
    with rasterio.open(tmp_path / "a.tif") as a, rasterio.open(tmp_path / "b.tif") as b:
        np.testing.assert_array_equal(a.read(1), b.read(1))
    code, text = invoke(*args, "-o", str(tmp_path / "c.tif"), "--sessions", "many")
    assert code != 0 and "sessions must be 'auto' or a positive integer" in text
    assert not (tmp_path / "c.tif").exists()


def test_cli_cog(tmp_path: Path, files: dict[str, Path]) -> None:
    from rio_cogeo.cogeo import cog_validate

    out = tmp_path / "lst.tif"
    code, text = invoke(
        str(files["composite"]), "-o", str(out), "--model", str(files["model"]), "--cog"
    )
    assert code == 0, text
    assert cog_validate(str(out))[0]


def test_cli_refuses_existing_output_without_overwrite(
    tmp_path: Path, files: dict[str, Path]
) -> None:
    out = tmp_path / "lst.tif"
    out.write_bytes(b"keep me")
    args = [str(files["composite"]), "-o", str(out), "--model", str(files["model"])]
    code, text = invoke(*args)
    assert code == 1 and "already exists" in text and "--overwrite" in text
    assert out.read_bytes() == b"keep me"
    code, text = invoke(*args, "--overwrite")
    assert code == 0, text
    assert out.read_bytes() != b"keep me"


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--providers", "tensorrt"], "not available"),
        (["--padding", "16"], "less than half the tile"),
        (["--tile-size", "64"], "exported for fixed 32x32 tiles"),
        (["--blend", "gauss"], "Invalid value for '--blend'"),
    ],
)
def test_cli_bad_options(
    tmp_path: Path, files: dict[str, Path], flags: list[str], message: str
) -> None:
    code, text = invoke(
        str(files["composite"]),
        "-o",
        str(tmp_path / "o.tif"),
        "--model",
        str(files["model"]),
        *flags,
    )
    assert code != 0 and message in text
    assert not list(tmp_path.iterdir())


def test_cli_corrupt_model(tmp_path: Path, files: dict[str, Path]) -> None:
    bad = tmp_path / "bad.onnx"
    bad.write_text("not onnx")
    code, text = invoke(str(files["composite"]), "-o", str(tmp_path / "o.tif"), "--model", str(bad))
    assert code == 1 and "not a usable ONNX model" in text


# -- bad input through the API -------------------------------------------------
def test_wrong_band_names(tmp_path: Path, files: dict[str, Path]) -> None:
    arr = sample_dn((40, 40))
    names = ("B1", "B2", "B3", "B4", "B5", "B6", "B7", "B11")
    src = write_composite(tmp_path / "c.tif", arr, names)
    with pytest.raises(BandNotFoundError, match=r"lacks band\(s\) \['B10'\]"):
        LSTPredictor(files["model"]).predict_file(src, tmp_path / "o.tif")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.tif"]


def test_wrong_band_count_without_names(tmp_path: Path, files: dict[str, Path]) -> None:
    src = write_composite(tmp_path / "c.tif", sample_dn((40, 40))[:6], names=None)
    with pytest.raises(BandNotFoundError, match="6 unnamed bands but the model needs 8"):
        LSTPredictor(files["model"]).predict_file(src, tmp_path / "o.tif")


def test_predict_array_wrong_shape(files: dict[str, Path]) -> None:
    with pytest.raises(SceneError, match=r"\(8, height, width\)"):
        LSTPredictor(files["model"]).predict_array(np.zeros((7, 10, 10), np.float32))


def test_composite_units_must_match_the_model(tmp_path: Path, files: dict[str, Path]) -> None:
    src = write_composite(tmp_path / "c.tif", sample_dn((40, 40)))
    with rasterio.open(src, "r+") as ds:
        ds.update_tags(UNITS="dn")
    with pytest.raises(SceneError, match="--units toa"):
        LSTPredictor(files["model"]).predict_file(src, tmp_path / "o.tif")


def test_scene_with_a_missing_band(
    tmp_path: Path, sample_scene: Path, files: dict[str, Path]
) -> None:
    scene = tmp_path / "scene"
    shutil.copytree(sample_scene, scene)
    (scene / "test_B10.tif").unlink()
    with pytest.raises(BandNotFoundError, match="B10"):
        LSTPredictor(files["model"]).predict_file(scene, tmp_path / "o.tif")


def test_scene_bands_on_different_grids(
    tmp_path: Path, sample_scene: Path, files: dict[str, Path]
) -> None:
    scene = tmp_path / "scene"
    shutil.copytree(sample_scene, scene)
    with rasterio.open(sample_scene / "test_B5.tif") as ds:
        profile, data = ds.profile, ds.read(1)
    profile.update(width=data.shape[1] - 10)
    # unlink first: GDAL's GTiff driver deletes a dataset's sidecars (the MTL too) on overwrite
    (scene / "test_B5.tif").unlink()
    with rasterio.open(scene / "test_B5.tif", "w", **profile) as ds:
        ds.write(data[:, :-10], 1)
    with pytest.raises(GridMismatchError):
        LSTPredictor(files["model"]).predict_file(scene, tmp_path / "o.tif")
    assert not (tmp_path / "o.tif").exists()


def test_missing_input(tmp_path: Path, files: dict[str, Path]) -> None:
    with pytest.raises(SceneError, match="does not exist"):
        LSTPredictor(files["model"]).predict_file(tmp_path / "nope.tif", tmp_path / "o.tif")


def test_existing_output_is_checked_before_any_work(tmp_path: Path, files: dict[str, Path]) -> None:
    out = tmp_path / "o.tif"
    out.write_bytes(b"old")
    with pytest.raises(OutputExistsError):
        LSTPredictor(files["model"]).predict_file(tmp_path / "missing-input.tif", out)
    assert out.read_bytes() == b"old"


@pytest.mark.parametrize("cog", [False, True])
def test_an_interrupted_run_leaves_nothing(
    tmp_path: Path, files: dict[str, Path], monkeypatch: pytest.MonkeyPatch, cog: bool
) -> None:
    out = tmp_path / "o.tif"
    out.write_bytes(b"previous result")
    p = LSTPredictor(files["model"], padding=4)
    calls = {"n": 0}
    real = pipeline_mod.kernels.accumulate

    def failing(*args: object) -> None:
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        real(*args)

    monkeypatch.setattr(pipeline_mod.kernels, "accumulate", failing)
    with pytest.raises(KeyboardInterrupt):
        p.predict_file(files["composite"], out, overwrite=True, cog=cog)
    assert out.read_bytes() == b"previous result"  # untouched
    assert [x.name for x in tmp_path.iterdir()] == ["o.tif"]  # no temp file left


def test_a_model_error_names_the_model(tmp_path: Path) -> None:
    meta_tile_wrong = make_model(
        tmp_path / "w.onnx", "identity", tile=16, graph_tile=32, bands=BANDS
    )
    with pytest.raises(ModelError, match=r"w\.onnx"):
        LSTPredictor(meta_tile_wrong)

"""`pix2lst predict` under damaged input and bad options: one clear line, nothing written."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import rasterio
from click.testing import CliRunner

from pix2lst.cli import main
from pix2lst.errors import ImplausibleDataError, ParameterError
from pix2lst.runtime import LSTPredictor
from pix2lst.runtime import predictor as predictor_mod
from tests.conftest import BANDS, crop_scene, make_model, write_composite


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("rel")
    return {
        "scene": crop_scene(d / "s", 160),
        "constant": make_model(d / "c.onnx", "constant", tile=32, value=301.0),
        "cold": make_model(d / "cold.onnx", "constant", tile=32, value=5.0),
        "identity": make_model(d / "id.onnx", "identity", tile=32, band=7),
    }


def predict(*args: str) -> tuple[int, str]:
    res = CliRunner().invoke(main, ["predict", *args])
    return res.exit_code, res.output


def one_error_line(text: str) -> str:
    assert "Traceback" not in text, text
    errors = [line for line in text.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, text
    return errors[0]


def damage(path: Path, kind: str) -> None:
    if kind == "cut short":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif kind == "zero bytes":
        path.write_bytes(b"")
    elif kind == "text":
        path.write_text("this is not a raster\n")
    else:  # a broken header: the first directory offset points nowhere
        data = bytearray(path.read_bytes())
        data[4:8] = b"\xff\xff\xff\x7f"
        path.write_bytes(bytes(data))


@pytest.mark.parametrize("kind", ["cut short", "zero bytes", "text", "broken header"])
def test_damaged_band_files_are_one_line(tmp_path: Path, files: dict[str, Path], kind: str) -> None:
    scene = shutil.copytree(files["scene"], tmp_path / "s")
    damage(scene / "test_B4.tif", kind)
    out = tmp_path / "o.tif"
    code, text = predict(str(scene), "-o", str(out), "--model", str(files["constant"]))
    assert code == 1
    line = one_error_line(text)
    assert "test_B4.tif" in line
    if kind == "cut short":  # met mid-run, after the first strips were read
        # GDAL names the rows it could not read and where the block failed
        assert "cannot read rows" in line and "offset" in line and "cut short" in line
        assert "again" in line
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_the_progress_bar_starts_after_the_inputs_are_checked(
    tmp_path: Path, files: dict[str, Path]
) -> None:
    scene = shutil.copytree(files["scene"], tmp_path / "s")
    (scene / "test_B10.tif").unlink()
    code, text = predict(
        str(scene), "-o", str(tmp_path / "o.tif"), "--model", str(files["constant"])
    )
    assert code == 1 and "band B10 not found" in one_error_line(text)
    assert "predict:" not in text and "%|" not in text


def test_out_of_order_bands_and_wrong_models_are_refused(
    tmp_path: Path, files: dict[str, Path]
) -> None:
    from pix2lst.lst_physics import write_composite as physics_composite

    comp = physics_composite(files["scene"], tmp_path / "comp.tif")
    with rasterio.open(comp) as ds:
        arr = ds.read()
    shuffled = write_composite(
        tmp_path / "shuffled.tif", arr[::-1], names=None
    )  # unnamed, reversed
    out = tmp_path / "o.tif"
    code, text = predict(str(shuffled), "-o", str(out), "--model", str(files["identity"]))
    assert code == 1 and "wrong order" in one_error_line(text) and not out.exists()
    code, text = predict(str(comp), "-o", str(out), "--model", str(files["cold"]))
    line = one_error_line(text)
    assert code == 1 and "outside the plausible 170 to 360 K" in line and "5 to 5 K" in line
    code, text = predict(str(comp), "-o", str(out), "--model", str(files["identity"]))
    assert code == 0, text  # B10 brightness temperature through: plausible
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "comp.tif", "o.qml", "o.tif", "shuffled.tif"  # the LST and its QGIS style
    ]  # fmt: skip


def test_a_few_outliers_are_tolerated(tmp_path: Path, files: dict[str, Path]) -> None:
    arr = np.full((8, 64, 64), 0.2, dtype=np.float32)
    arr[7] = 290.0
    arr[7, 0, :20] = 500.0  # 20 of 4096 px (0.5 %): a fire, a glint
    p = LSTPredictor(files["identity"], padding=4)
    p.predict_file(write_composite(tmp_path / "c.tif", arr), tmp_path / "ok.tif")
    arr[7, :2] = 500.0  # 3 %
    with pytest.raises(ImplausibleDataError, match=r"\(3 %\)"):
        p.predict_file(write_composite(tmp_path / "d.tif", arr), tmp_path / "bad.tif")
    assert not (tmp_path / "bad.tif").exists()


@pytest.mark.parametrize(
    ("flags", "message", "absent"),
    [
        (["--batch-size", "100000"], "at most", "Traceback"),
        (["--providers", "foo"], "'foo' is not a provider name", "pix2lst[gpu]"),
        (["--providers", "openvino"], "onnxruntime-openvino", "pix2lst[gpu]"),
        (["--padding", "15"], "Use --padding 14 or less", "Traceback"),
    ],
)
def test_bad_options_say_what_to_do(
    tmp_path: Path, files: dict[str, Path], flags: list[str], message: str, absent: str
) -> None:
    code, text = predict(
        str(files["scene"]), "-o", str(tmp_path / "o.tif"), "--model", str(files["constant"]),
        "--providers", "cpu", *flags,
    )  # fmt: skip
    line = one_error_line(text)
    assert code == 1 and message in line and absent not in text, text


def test_warm_up_is_a_few_tiles_whatever_the_padding(
    files: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[int] = []
    run = predictor_mod.run_pipeline

    def counting(source, sink, runner, grid, **kw):  # type: ignore[no-untyped-def]
        seen.append(grid.n_tiles)
        return run(source, sink, runner, grid, **kw)

    monkeypatch.setattr(predictor_mod, "run_pipeline", counting)
    LSTPredictor(files["constant"], padding=15)  # stride 2: ~550 tiles on the warm-up raster
    assert seen and max(seen) <= 12
    with pytest.raises(ParameterError, match="batch size 10000000"):
        LSTPredictor(files["constant"], batch_size=10_000_000)


def test_bands_in_model_order_names_are_still_matched(
    tmp_path: Path, files: dict[str, Path]
) -> None:
    """Keep: a composite whose bands are named but stored in another order is read by name."""
    arr = np.full((8, 40, 40), 0.2, dtype=np.float32)
    arr[7] = 295.0
    order = [7, 0, 1, 2, 3, 4, 5, 6]
    src = write_composite(tmp_path / "c.tif", arr[order], tuple(BANDS[i] for i in order))
    LSTPredictor(files["identity"], padding=4).predict_file(src, tmp_path / "o.tif")
    with rasterio.open(tmp_path / "o.tif") as ds:
        assert np.allclose(ds.read(1), 295.0)

"""``pix2lst batch`` and its errors on the command line (CliRunner; the shared LocalCluster by address)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

pytest.importorskip("distributed", reason="the batch extra is not installed")

from pix2lst.batch.manifest import folder_lock, read_manifest
from pix2lst.cli import main
from tests.conftest import LST_LIKE, make_model, make_scene


def _invoke(*args: str):
    return CliRunner().invoke(main, list(args))


def test_batch_physics_and_a_failure_exit_code(tmp_path, dask_client):
    good = make_scene(tmp_path / "a", "LC08_CLI_A", date="2015-08-04")
    bad = make_scene(tmp_path / "b", "LC08_CLI_B", date="2015-08-20")
    (bad.parent / "LC08_CLI_B_B10.TIF").unlink()
    out = tmp_path / "out"
    address = dask_client.scheduler.address
    result = _invoke("batch", "physics", str(good), str(bad.parent), "-o", str(out),
                     "--scheduler", address, "--retries", "0", "--cube", str(tmp_path / "c.zarr"))  # fmt: skip
    assert result.exit_code == 1, result.output
    assert "2 scene(s): 1 ok, 0 skipped, 1 failed" in result.output
    assert "failed: " in result.output and "band B10 not found" in result.output
    assert [r.status for r in read_manifest(out / "manifest.csv")] == ["ok", "failed"]
    assert (tmp_path / "c.zarr").is_dir()
    again = _invoke("batch", "physics", str(good), "-o", str(out), "--scheduler", address)
    assert again.exit_code == 0 and "0 ok, 1 skipped, 0 failed" in again.output


def test_batch_predict(tmp_path, dask_client):
    scene = make_scene(tmp_path / "a", "LC08_CLI_P")
    model = make_model(tmp_path / "m.onnx", "conv", tile=32, **LST_LIKE)
    result = _invoke("batch", "predict", str(scene), "-o", str(tmp_path / "out"), "--model",
                     str(model), "--providers", "cpu", "--scheduler", dask_client.scheduler.address)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert (tmp_path / "out" / "LC08_CLI_P.tif").is_file()


def test_batch_predict_tile_size(tmp_path, dask_client):
    import rasterio

    scene = make_scene(tmp_path / "a", "LC08_CLI_T")
    spatial = make_model(tmp_path / "s.onnx", "conv", tile=32, depth=3, spatial=True, **LST_LIKE)
    result = _invoke("batch", "predict", str(scene), "-o", str(tmp_path / "out"), "--model",
                     str(spatial), "--providers", "cpu", "--tile-size", "64", "--batch-size", "2",
                     "--scheduler", dask_client.scheduler.address)  # fmt: skip
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "out" / "LC08_CLI_T.tif") as ds:
        assert ds.tags()["TILE_SIZE"] == "64"


def test_batch_predict_tile_size_of_a_fixed_model_is_one_line(tmp_path):
    scene = make_scene(tmp_path / "a", "LC08_CLI_F")
    fixed = make_model(tmp_path / "f.onnx", "conv", tile=32, depth=3, **LST_LIKE)
    result = _invoke("batch", "predict", str(scene), "-o", str(tmp_path / "out"), "--model",
                     str(fixed), "--tile-size", "64", "--scheduler", "tcp://127.0.0.1:1")  # fmt: skip
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "exported for fixed 32x32 tiles" in lines[0], result.output
    assert "Traceback" not in result.output and not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["{glob}"], "matched no file or folder"),
        (["{scene}", "{scene}"], "is given twice"),
        (["{scene}", "--workers", "2", "--scheduler", "tcp://127.0.0.1:1"], "not both"),
    ],
)
def test_input_errors_on_the_command_line(tmp_path, args, said):
    scene = make_scene(tmp_path / "a", "LC08_CLI_E")
    args = [a.format(glob=tmp_path / "none*", scene=scene) for a in args]
    result = _invoke("batch", "physics", *args, "-o", str(tmp_path / "out"))
    assert result.exit_code == 2 if said == "not both" else result.exit_code == 1
    assert said in result.output
    assert "Traceback" not in result.output


def test_a_shared_output_folder_is_refused(tmp_path):
    scene = make_scene(tmp_path / "a", "LC08_CLI_L")
    (tmp_path / "out").mkdir()
    with folder_lock(tmp_path / "out"):
        result = _invoke("batch", "physics", str(scene), "-o", str(tmp_path / "out"))
    assert result.exit_code == 1 and "in use by another batch run" in result.output

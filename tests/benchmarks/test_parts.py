"""The ``host`` (null model) and ``gpu`` benchmark parts, run here on the CPU provider.

No timing assertions: the null model is exact, and the GPU slices run every contender
on the CPU provider with a tiny model in seconds, so a slice that would break on the
GPU machine breaks here first.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.models import read_metadata
from benchmarks.null_model import null_model
from pix2lst.data import default_model_path
from pix2lst.runtime import LSTPredictor
from tests.conftest import make_model, sample_dn


def test_null_model_carries_the_metadata_and_gives_the_output_offset(tmp_path: Path) -> None:
    like = default_model_path()
    if not like.is_file():  # a tiny model with the same kind of metadata instead
        like = make_model(tmp_path / "like.onnx", "conv", tile=32, output_offset=290.0)
    path = null_model(like, tmp_path / "null.onnx")
    meta = read_metadata(path)
    assert meta == read_metadata(like)
    arr = np.ascontiguousarray(sample_dn((70, 90)) / np.float32(30000))
    arr[meta.bands.index("B10")] += np.float32(290.0)  # band 10 a brightness temperature, K
    arr[:, :5, :7] = np.nan
    out = LSTPredictor(path, providers="cpu", padding=meta.tile_size // 4).predict_array(arr)
    valid = np.isfinite(arr).all(axis=0)
    want = np.full(arr.shape[1:], meta.output_offset, dtype=np.float64)  # zeros out: the offset
    if meta.target == "lst_minus_bt":  # ... plus the brightness temperature, rounded once
        want += arr[meta.bands.index(str(meta.residual_band))]
    assert (out[valid] == want.astype(np.float32)[valid]).all()
    assert np.isnan(out[~valid]).all()
    assert null_model(like, tmp_path / "null.onnx") == path  # cached


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A tiny U-Net (2 filters, 64 px tiles) and a benchmark cache holding it."""
    pytest.importorskip("torch", reason="the tiny U-Net is built with the train extra")
    from benchmarks.models import tiny_model

    cache = tmp_path_factory.mktemp("bench") / "cache"
    return tiny_model(cache), cache


def _gpu_slice(tiny: tuple[Path, Path], out: Path, *args: str) -> dict:
    from click.testing import CliRunner

    from benchmarks.__main__ import main

    model, cache = tiny
    result = CliRunner().invoke(main, ["gpu", "--quick", "--model", str(model), "--cache",
                                       str(cache), "--out", str(out), *args])  # fmt: skip
    assert result.exit_code == 0, result.output
    slice_ = args[args.index("--slice") + 1]
    return json.loads((out / f"gpu-slice{slice_}.json").read_text())


def test_gpu_slice_1_parity_and_scene_run_on_the_cpu(
    tiny: tuple[Path, Path], tmp_path: Path
) -> None:
    doc = _gpu_slice(tiny, tmp_path, "--provider", "cpu", "--slice", "1")
    assert doc["params"]["slice"] == 1 and doc["params"]["provider"] == "cpu"
    assert "--provider cpu --slice 1" in doc["command"]
    summary = doc["data"]["summary"]
    assert summary["failed"] == []
    # the same provider both ways: the same mosaic, bit for bit
    assert summary["parity"] == {"max_abs_k": 0.0, "mean_abs_k": 0.0, "same_nodata": True}
    rows = {r[0]: r for r in doc["tables"][0]["rows"]}
    assert set(rows) == {"scene", "scene-b32"}
    assert all(r[1] > 0 and r[5] == "CPUExecutionProvider" for r in rows.values())
    assert "vs CPUExecutionProvider" in (tmp_path / "gpu-slice1.md").read_text()


def test_gpu_slice_2_ceilings_and_torch_run_on_the_cpu(
    tiny: tuple[Path, Path], tmp_path: Path
) -> None:
    doc = _gpu_slice(tiny, tmp_path, "--provider", "cpu", "--slice", "2")
    assert doc["data"]["summary"]["failed"] == []
    rows = {r[0]: r for r in doc["tables"][0]["rows"]}
    assert set(rows) == {"ceiling-b8", "ceiling-b32", "device-io-b8", "device-io-b32",
                         "torch-fp32-b32"}  # fmt: skip
    assert all(r[1] > 0 and r[3] > 0 for r in rows.values())  # seconds and tiles/s measured
    assert rows["torch-fp32-b32"][5] == "torch cpu"
    assert rows["device-io-b8"][5] == rows["ceiling-b8"][5] == "CPUExecutionProvider"
    # each ceiling ran as many tiles as the full scene needs at its batch
    runs = doc["data"]["runs"]
    stride = 64 - 2 * 16
    tiles = -(-300 // stride) * -(-320 // stride)
    assert runs["ceiling-b8"][0]["result"]["tiles"] == tiles
    assert runs["device-io-b32"][0]["result"]["tiles"] == -(-tiles // 32) * 32


def test_gpu_part_on_cuda_says_why_it_cannot_run_here(tmp_path: Path) -> None:
    import onnxruntime as ort
    from click.testing import CliRunner

    from benchmarks.__main__ import main
    from benchmarks.bench_gpu import cuda_status

    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("a CUDA build: the slice would run")
    ok, why = cuda_status()
    assert not ok and "no CUDA provider" in why
    result = CliRunner().invoke(main, ["gpu", "--cache", str(tmp_path / "c"),
                                       "--out", str(tmp_path / "o")])  # fmt: skip
    assert result.exit_code != 0 and why in result.output
    assert not (tmp_path / "c" / "scenes").exists()  # refused before any work

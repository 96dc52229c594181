"""The ``host`` (null model) and ``gpu`` benchmark parts: they run here, on the CPU provider.

No timing assertions: the null model is exact, and the GPU part runs its CPU rows
and says why its CUDA rows were skipped.
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
    arr[:, :5, :7] = np.nan
    out = LSTPredictor(path, providers="cpu", padding=meta.tile_size // 4).predict_array(arr)
    valid = np.isfinite(arr).all(axis=0)
    want = np.full(arr.shape[1:], meta.output_offset, dtype=np.float64)  # zeros out: the offset
    if meta.target == "lst_minus_bt":  # ... plus the brightness temperature, rounded once
        want += arr[meta.bands.index(str(meta.residual_band))]
    assert (out[valid] == want.astype(np.float32)[valid]).all()
    assert np.isnan(out[~valid]).all()
    assert null_model(like, tmp_path / "null.onnx") == path  # cached


def test_gpu_part_runs_its_cpu_rows_and_says_why_cuda_is_skipped(tmp_path: Path) -> None:
    import onnxruntime as ort
    from click.testing import CliRunner

    from benchmarks.__main__ import main
    from benchmarks.bench_gpu import cuda_status

    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("a CUDA build: the CUDA rows would run (minutes); this test is for CPU builds")
    out = tmp_path / "results"
    result = CliRunner().invoke(
        main, ["gpu", "--quick", "--cache", str(tmp_path / "cache"), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    doc = json.loads((out / "gpu.json").read_text())
    ok, why = cuda_status()
    assert not ok and doc["data"]["summary"]["cuda"] is False
    assert "no CUDA provider" in why and why in (out / "gpu.md").read_text()
    rows = {r[0]: r for r in doc["tables"][0]["rows"]}
    assert set(rows) == {"cpu-scene-sessions-auto", "cpu-scene-sessions-1",
                         f"cpu-ceiling-sessions-{doc['params']['cpu_sessions_auto']}"}  # fmt: skip
    assert all(r[2] > 0 for r in rows.values())  # run seconds measured
    assert doc["data"]["summary"]["cpu_auto_s"] > 0

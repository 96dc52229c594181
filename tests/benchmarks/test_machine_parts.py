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
    # and where each scene's core-seconds went, by thread
    stages = [r for r in doc["tables"][1]["rows"] if r[0] == "cpu-scene-sessions-1"]
    assert stages and stages[0][2].startswith("main")


def test_thread_clock_times_each_stage_of_a_real_run(tmp_path: Path) -> None:
    from benchmarks.tasks_predict import core_seconds
    from benchmarks.thread_clock import ThreadClock
    from tests.conftest import LST_LIKE, make_scene

    mtl = make_scene(tmp_path / "s", "LC08_CLOCK", window=(0, 0, 130, 150))
    model = make_model(tmp_path / "m.onnx", "conv", tile=32, **LST_LIKE)
    predictor = LSTPredictor(model, providers="cpu", padding=8, sessions=1)
    c0 = core_seconds()
    with ThreadClock() as clock:
        predictor.predict_file(mtl, tmp_path / "out.tif")
    total = core_seconds() - c0
    roles = clock.roles(total)
    # every stage of the pipeline ran on its own named threads, timed as they ended
    for role in ("main", "pix2lst-read", "pix2lst-fill", "pix2lst-infer", "pix2lst-write"):
        assert roles[role]["core_s"] > 0 and roles[role]["threads"] >= 1, role
        assert roles[role]["busiest_s"] <= roles[role]["core_s"] + 1e-9
    named = sum(r["core_s"] for k, r in roles.items() if k != "native")
    assert named <= total + 0.05  # the threads' own clocks add up to at most the process's
    assert roles["native"]["core_s"] == pytest.approx(max(0.0, total - named))


def test_gpu_part_cuda_branch_runs_every_contender_on_the_cpu(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GPU minutes are few: the part's CUDA branch (its contenders' parameters, the
    # report, the goals) runs here with every "cuda" moved to the CPU provider. The
    # device-I/O ceilings need CUDA OrtValues and fail: the part reports them FAILED
    # and goes on.
    from click.testing import CliRunner

    import benchmarks.bench_gpu as bench_gpu
    from benchmarks.__main__ import main
    from benchmarks.harness import Contender

    real_compare = bench_gpu.compare

    def on_the_cpu(contenders: list[Contender], reps: int, **kw: object) -> object:
        moved = []
        for c in contenders:
            params = dict(c.params)
            if params.get("providers") == "cuda" or c.task.endswith(":cuda_parity"):
                params["providers"] = "cpu"
            moved.append(Contender(c.name, c.task, params))
        return real_compare(moved, reps, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(bench_gpu, "cuda_status", lambda: (True, "stand-in: CUDA on the CPU"))
    monkeypatch.setattr(bench_gpu, "_torch_cuda", lambda: False)
    monkeypatch.setattr(bench_gpu, "compare", on_the_cpu)
    out = tmp_path / "results"
    result = CliRunner().invoke(
        main, ["gpu", "--quick", "--cache", str(tmp_path / "cache"), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    doc = json.loads((out / "gpu.json").read_text())
    rows = {r[0]: r for r in doc["tables"][0]["rows"]}
    e2e = ["cuda-scene-device-b8", "cuda-scene-host-b8", "cuda-scene-device-b32",
           "cuda-scene-device-b32-f32-strips", "cuda-scene-device-b32-io-idle",
           "cuda-composite-defaults"]  # fmt: skip
    for name in [*e2e, "cuda-ceiling-host-b8", "cuda-ceiling-host-b32"]:
        assert rows[name][2] > 0, name  # measured (on the CPU)
    failed = [n for n in rows if n.startswith("cuda-ceiling-device")]
    assert len(failed) == 4 and all(rows[n][2] == "FAILED" for n in failed)
    summary = doc["data"]["summary"]
    assert sorted(summary["failed"]) == sorted(failed)
    assert summary["cuda_scene_s"] > 0 and summary["parity_max_abs_k"] == 0.0
    assert summary["parity_same_nodata"] is True
    assert (
        "scene folder end to end (defaults: device tiling, batch 32)"
        in (out / "gpu.md").read_text()
    )
    # --only: a short device session runs some contenders; the report still builds
    result = CliRunner().invoke(
        main, ["gpu", "--quick", "--only", "cuda-scene-device-b32,cuda-vs-cpu",
               "--cache", str(tmp_path / "cache"), "--out", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    doc = json.loads((out / "gpu.json").read_text())
    assert {r[0] for r in doc["tables"][0]["rows"]} == {
        "cuda-scene-device-b32", "cuda-scene-device-b32-f32-strips",
        "cuda-scene-device-b32-io-idle",
    }  # fmt: skip
    assert doc["data"]["summary"]["parity_max_abs_k"] == 0.0
    assert doc["data"]["summary"]["cpu_auto_s"] != doc["data"]["summary"]["cpu_auto_s"]  # NaN


def test_stage_floors_time_every_stage_of_the_null_pipeline_alone(tmp_path: Path) -> None:
    # the host part's "each stage alone" table, on the tiny benchmark scene
    from benchmarks.context import Context
    from benchmarks.harness import run_task

    ctx = Context(quick=True, cache=tmp_path / "cache", progress=lambda _: None)
    like = default_model_path()
    if not like.is_file():
        like = make_model(tmp_path / "like.onnx", "conv", tile=32, output_offset=290.0)
    tile = read_metadata(like).tile_size
    model = null_model(like, tmp_path / "null.onnx")
    work = tmp_path / "work"
    work.mkdir()
    params = {"model": str(model), "src": str(ctx.scene(1.0)), "work": str(work),
              "padding": tile // 4, "batch_size": 8}  # fmt: skip
    result, _, _ = run_task("tasks_floor:stage_floors", params)
    stages = result["stages"]
    assert set(stages) == {"decode", "lookup", "cut", "ort", "accumulate", "finalize",
                           "write", "close"}  # fmt: skip
    assert all(v >= 0 for v in stages.values())
    assert stages["decode"] > 0 and stages["close"] > 0  # inflating, reading back
    assert result["total_core_s"] == pytest.approx(sum(stages.values()))
    assert result["shape"] == list(ctx.scene_shape(1.0))
    assert result["batches"] == -(-result["tiles"] // 8)
    assert list(work.iterdir()) == []  # its outputs removed

"""The plan: decided once, from the provider that loaded and the machine (a pure function of
plain values, so GPU layouts are checked here with provider names as inputs), logged,
shown by ``predict --explain``, and executed as it says."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from pix2lst.cli import main
from pix2lst.errors import ImplausibleDataError, ParameterError, ProviderError
from pix2lst.runtime import LSTPredictor, Plan, decide_plan
from pix2lst.runtime import pipeline as pipeline_mod
from pix2lst.runtime.model import BatchRunner, Fp32Check, load_model
from pix2lst.runtime.summary import PredictionSummary
from tests.conftest import make_model, sample_dn, write_composite

CPU, CUDA, TRT = "CPUExecutionProvider", "CUDAExecutionProvider", "TensorrtExecutionProvider"


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("plan")
    arr = np.ascontiguousarray(sample_dn((90, 70)) / np.float32(30000))
    arr[7] = arr[7] * np.float32(100) + np.float32(270)  # B10 as a brightness temperature (K)
    return {
        "bt": make_model(d / "bt.onnx", "identity", tile=32, band=7),
        # bands listed in the wrong order: band 10 read as ... 3 K too cold
        "cold": make_model(d / "cold.onnx", "identity", tile=32, band=7, output_offset=-3.0),
        "composite": write_composite(d / "comp.tif", arr),
        "array": arr,  # type: ignore[dict-item]
    }


def test_the_gpu_defaults_are_safe() -> None:
    # CUDA that loaded: one session, 8 tiles, tiles cut on the host, fp32, no engine
    # building in the constructor, the host's cores free for readers, fillers, blending
    cuda = decide_plan(CUDA, [CUDA, CPU], 16, model_tile=256)
    assert (cuda.sessions, cuda.batch_size, cuda.tiling, cuda.fp16, cuda.warmup) == (
        1, 8, "host", False, False,
    )  # fmt: skip
    assert (cuda.readers, cuda.fillers, cuda.blend_threads, cuda.io_priority) == (
        16,
        4,
        4,
        "normal",
    )
    assert (cuda.tile, cuda.padding, cuda.threads) == (256, 64, 0)
    # the layout follows the provider that loaded, not the one asked for: a CUDA request
    # that fell back to the CPU is planned as the CPU
    cpu = decide_plan(CPU, [CPU], 16, model_tile=256)
    assert (cpu.sessions, cpu.threads, cpu.batch_size, cpu.readers) == (4, 4, 2, 8)
    assert (cpu.fillers, cpu.blend_threads, cpu.io_priority, cpu.warmup) == (4, 1, "idle", True)
    # device tiling and warm-up only when asked
    asked = decide_plan(TRT, [TRT, CUDA, CPU], 16, model_tile=256, tiling="device", warmup=True)
    assert (asked.tiling, asked.fillers, asked.warmup, asked.batch_size) == ("device", 2, True, 8)
    assert decide_plan(CPU, [CPU], 2, model_tile=256) == decide_plan(
        CPU, [CPU], 2, model_tile=256, tiling="auto", io_priority="auto", sessions="auto"
    )


def test_sessions_are_capped_and_the_plan_says_so() -> None:
    plan = decide_plan(CPU, [CPU], 2, model_tile=32, sessions=1000)
    assert plan.sessions == 2 and plan.threads == 1
    assert plan.notes == ("1000 sessions capped at 2, the usable cores",)
    assert "note: 1000 sessions capped at 2, the usable cores" in plan.lines()
    with pytest.raises(ParameterError, match="sessions must be 'auto' or a positive integer"):
        decide_plan(CPU, [CPU], 2, model_tile=32, sessions="many")
    with pytest.raises(ParameterError, match="less than half the tile"):
        decide_plan(CPU, [CPU], 2, model_tile=32, padding=16)


def test_a_small_raster_shrinks_the_tile() -> None:
    plan = decide_plan(CPU, [CPU], 2, model_tile=256, tile=1024)
    small = plan.for_raster(255, 200, step=128, minimum=256)
    assert small.tile == 256 and small.notes[-1] == (
        "tile 1024 px shrunk to 256 px for a 255 x 200 px raster"
    )
    assert plan.for_raster(300, 100, step=128, minimum=256).tile == 384
    assert plan.for_raster(7000, 100, step=128, minimum=256) is plan
    own = decide_plan(CPU, [CPU], 2, model_tile=256)
    assert own.for_raster(10, 10, step=128, minimum=256) is own  # never below the model's tile


def test_a_255_px_scene_at_tile_1024_never_cuts_1024_px_tiles(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    tiles: list[int] = []
    real = pipeline_mod._Run.__init__

    def spy(self: object, sources: object, sink: object, runners: object, grid: object,
            *args: object) -> None:  # fmt: skip
        tiles.append(grid.tile)  # type: ignore[attr-defined]
        real(self, sources, sink, runners, grid, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(pipeline_mod._Run, "__init__", spy)
    with caplog.at_level(logging.INFO, logger="pix2lst"):
        p = LSTPredictor(providers="cpu", tile_size=1024, sessions=1)
        assert p.tile_size == 1024 and tiles == [256]  # the warm-up: the model's own tile
        arr = np.full((8, 255, 255), 0.1, np.float32)
        arr[7] = 300.0
        out = p.predict_array(arr)
    assert tiles == [256, 256] and p.grid(255, 255).tile == 256
    assert np.isfinite(out).all()
    assert "tile 1024 px shrunk to 256 px for a 255 x 255 px raster" in caplog.text
    assert all(r.input_shape[-1] == 256 for r in p._runners_at(256))


def test_the_predictor_logs_its_plan_and_the_cli_explains_it(
    files: dict[str, Path], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="pix2lst"):
        p = LSTPredictor(files["bt"], providers="cpu", padding=4, batch_size=3, sessions=1)
    assert isinstance(p.plan, Plan) and p.plan.provider == CPU
    assert f"plan: provider: {CPU}" in caplog.text and "batch size: 3 tiles" in caplog.text
    assert p.explain().splitlines() == p.plan.lines()
    res = CliRunner().invoke(main, [
        "predict", str(files["composite"]), "--model", str(files["bt"]), "--providers", "cpu",
        "--padding", "4", "--batch-size", "3", "--sessions", "1", "--explain",
    ])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert res.output.splitlines() == p.plan.lines()
    assert "tiles cut on: host" in res.output and "precision: fp32" in res.output
    res = CliRunner().invoke(main, ["predict", str(files["composite"]), "--providers", "cpu"])
    assert res.exit_code == 2 and "Missing option '-o' / '--output'" in res.output


def test_quiet_prints_nothing_and_the_summary_counts_one_tile(
    files: dict[str, Path], tmp_path: Path
) -> None:
    args = ["predict", str(files["composite"]), "--model", str(files["bt"]), "--providers", "cpu"]
    res = CliRunner().invoke(main, ["-q", *args, "-o", str(tmp_path / "q.tif")])
    assert res.exit_code == 0 and res.output == ""
    assert (tmp_path / "q.tif").is_file()
    one = PredictionSummary(tmp_path / "o.tif", 20, 20, 1, 1, 1.0, 0.5, CPU)
    assert ", 1 tile (0 nodata skipped)" in one.line()
    assert ", 4 tiles (1 nodata skipped)" in replace(one, tiles=4, tiles_run=3).line()


def test_a_prediction_below_band_10_bt_names_the_band_order(
    files: dict[str, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    arr = files["array"]  # type: ignore[assignment]
    with caplog.at_level(logging.WARNING, logger="pix2lst"):
        LSTPredictor(files["bt"], providers="cpu", padding=4).predict_array(arr)
    assert "brightness temperature" not in caplog.text  # LST = BT: physics allows it
    cold = LSTPredictor(files["cold"], providers="cpu", padding=4)
    with caplog.at_level(logging.WARNING, logger="pix2lst"):
        out = cold.predict_array(arr)  # plausible kelvin, but 3 K below BT everywhere
        cold.predict_file(files["composite"], tmp_path / "cold.tif")
    assert np.isfinite(out).all()
    warnings = [r.getMessage() for r in caplog.records if "band 10" in r.getMessage()]
    assert len(warnings) == 2
    assert "below band 10's brightness temperature on 100 % of the valid pixels" in warnings[0]
    assert "lists its bands in the wrong order" in warnings[0] and "B1,B2" in warnings[0]


def test_predict_array_refuses_implausible_lst(files: dict[str, Path]) -> None:
    arr = files["array"].copy()  # type: ignore[attr-defined]
    arr[7] = 20000.0  # DN where the model wants kelvin
    p = LSTPredictor(files["bt"], providers="cpu", padding=4)
    with pytest.raises(
        ImplausibleDataError, match=r"predict_array's LST: .* outside the plausible"
    ):
        p.predict_array(arr)
    assert np.allclose(p.predict_array(arr, check_range=False), 20000.0)


def test_reduced_precision_is_checked_against_fp32_on_the_first_batch(tmp_path: Path) -> None:
    # the check itself, on the CPU: a "reduced" session 0.1 K off is refused on its first
    # batch, one within 0.05 K passes, and the check runs once
    ref, near, far = (
        make_model(tmp_path / f"{k}.onnx", "constant", tile=32, value=300.0 + dv)
        for k, dv in (("ref", 0.0), ("near", 0.04), ("far", 0.1))
    )
    reference = load_model(ref)
    batch = np.full((2, 8, 32, 32), 300.0, np.float32)
    ok = BatchRunner(load_model(near), 2, check=Fp32Check(reference))
    ok.run(batch, 2)
    assert ok._check is None
    bad = BatchRunner(load_model(far), 2, check=Fp32Check(reference))
    bad.warmup()  # zeros: the check waits for a real batch
    with pytest.raises(ProviderError, match=r"up to 0\.1 K on the first batch \(at most 0\.05 K"):
        bad.run(batch, 2)


def test_predict_has_the_data_options_only() -> None:
    # the layout is the plan's: no scheduler internals on the command line
    from pix2lst.runtime.cli import predict

    names = {o for p in predict.params for o in p.opts if o.startswith("--")} - {"--help"}
    data = {"--output", "--model", "--providers", "--tile-size", "--padding", "--blend",
            "--batch-size", "--units", "--sessions", "--cog", "--co", "--overwrite"}  # fmt: skip
    assert len(data) == 12
    assert names == data | {"--atmosphere", "--water-vapour", "--explain"}

"""Provider selection, refusal, fallback warnings, provider options, model validation."""

from __future__ import annotations

import logging
from pathlib import Path

import onnxruntime as ort
import pytest

from pix2lst.data import default_model_path
from pix2lst.errors import ModelError, ProviderError
from pix2lst.runtime import LSTPredictor, SessionConfig, load_model, resolve_providers
from pix2lst.runtime import session as session_mod
from pix2lst.runtime.session import provider_options
from tests.conftest import make_model

TRT, CUDA, CPU = (
    "TensorrtExecutionProvider",
    "CUDAExecutionProvider",
    "CPUExecutionProvider",
)
GPU_BUILD = [TRT, CUDA, CPU]


def test_auto_prefers_tensorrt_then_cuda_then_cpu() -> None:
    assert resolve_providers("auto", GPU_BUILD) == [TRT, CUDA, CPU]
    assert resolve_providers("auto", [CUDA, CPU, "AzureExecutionProvider"]) == [CUDA, CPU]
    assert resolve_providers("auto", ["AzureExecutionProvider", CPU]) == [CPU]
    # the openvino extra: OpenVINO (fp32 by default) before the plain CPU provider
    ov = "OpenVINOExecutionProvider"
    assert resolve_providers("auto", [ov, CPU]) == [ov, CPU]


def test_auto_uses_the_real_build() -> None:
    assert resolve_providers("auto")[-1] == CPU


def test_explicit_lists_short_names_and_comma_lists() -> None:
    assert resolve_providers("cuda,cpu", GPU_BUILD) == [CUDA, CPU]
    assert resolve_providers(["tensorrt", "CUDA"], GPU_BUILD) == [TRT, CUDA]
    assert resolve_providers(CPU, GPU_BUILD) == [CPU]
    assert resolve_providers(" cpu , cpu ", GPU_BUILD) == [CPU]


def test_unavailable_provider_is_refused_naming_the_available_ones() -> None:
    with pytest.raises(ProviderError, match=r"'cuda' is not available.*CPUExecutionProvider"):
        resolve_providers("cuda", ["AzureExecutionProvider", CPU])
    with pytest.raises(ProviderError, match="no execution provider"):
        resolve_providers(" , ", GPU_BUILD)


def test_monkeypatched_gpu_build_is_seen(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ort, "get_available_providers", lambda: GPU_BUILD)
    assert resolve_providers("auto") == GPU_BUILD


def test_predictor_refuses_an_unavailable_provider(tmp_path: Path) -> None:
    model = make_model(tmp_path / "m.onnx", "identity")
    with pytest.raises(ProviderError, match="tensorrt"):
        LSTPredictor(model, providers="tensorrt")


def test_fallback_is_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A GPU build whose CUDA libraries fail to load falls back to CPU: never silently."""
    model = make_model(tmp_path / "m.onnx", "identity")
    real = ort.InferenceSession
    asked: list[list[str]] = []

    def fake_session(
        src: object,
        sess_options: object = None,
        providers: list[str] | None = None,
        provider_options: object = None,
    ) -> ort.InferenceSession:
        asked.append(list(providers or []))
        return real(src, sess_options=sess_options, providers=[CPU])  # what ORT does then

    monkeypatch.setattr(ort, "get_available_providers", lambda: GPU_BUILD)
    monkeypatch.setattr(session_mod.ort, "InferenceSession", fake_session)
    config = SessionConfig(providers="cuda", trt_cache_dir=tmp_path / "trt")
    with caplog.at_level(logging.WARNING, logger="pix2lst.runtime.session"):
        loaded = load_model(model, config)
    assert asked == [[CUDA, CPU]]
    assert loaded.provider == CPU
    assert "fell back" in caplog.text and "CUDAExecutionProvider" in caplog.text


def test_tensorrt_options_cache_keyed_by_model_and_shape(tmp_path: Path) -> None:
    config = SessionConfig(trt_cache_dir=tmp_path, device_id=1, cudnn_conv_algo_search="HEURISTIC")
    pairs = provider_options(
        [TRT, CUDA, CPU],
        config,
        model_hash="ab" * 32,
        input_name="input",
        input_shape=(8, 8, 256, 256),
    )
    names = [n for n, _ in pairs]
    assert names == [TRT, CUDA, CPU]
    trt = pairs[0][1]
    assert trt["trt_fp16_enable"] is True and trt["trt_engine_cache_enable"] is True
    assert trt["trt_engine_cache_path"] == str(tmp_path / f"{'ab' * 8}_8x8x256x256_fp16")
    assert Path(trt["trt_timing_cache_path"]).is_dir()
    assert trt["trt_profile_max_shapes"] == "input:8x8x256x256"
    assert trt["trt_profile_min_shapes"] == "input:1x8x256x256"
    assert pairs[1][1] == {
        "device_id": 1,
        "cudnn_conv_algo_search": "HEURISTIC",
        "do_copy_in_default_stream": True,
    }
    fp32 = provider_options(
        [TRT],
        SessionConfig(trt_cache_dir=tmp_path, trt_fp16=False),
        model_hash="cd" * 32,
        input_shape=(4, 8, 64, 64),
    )
    assert fp32[0][1]["trt_engine_cache_path"].endswith("_4x8x64x64_fp32")


def test_session_config_is_validated() -> None:
    with pytest.raises(ValueError, match="graph_optimization"):
        SessionConfig(graph_optimization="max")
    with pytest.raises(ValueError, match="cudnn_conv_algo_search"):
        SessionConfig(cudnn_conv_algo_search="fast")


def test_cpu_threads_and_optimisation_level(tmp_path: Path) -> None:
    model = make_model(tmp_path / "m.onnx", "conv")
    loaded = load_model(
        model, SessionConfig(providers="cpu", intra_op_threads=1, graph_optimization="basic")
    )
    assert loaded.provider == CPU
    opts = loaded.session.get_session_options()
    assert opts.intra_op_num_threads == 1
    assert opts.graph_optimization_level == ort.GraphOptimizationLevel.ORT_ENABLE_BASIC


# -- model validation ---------------------------------------------------------
def test_model_metadata_is_read(tmp_path: Path) -> None:
    loaded = load_model(make_model(tmp_path / "m.onnx", "conv", tile=64))
    assert loaded.metadata.tile_size == 64 and loaded.metadata.bands[-1] == "B10"
    assert len(loaded.sha256) == 64 and loaded.input_name == "input"


def test_a_file_that_is_not_onnx_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"this is not a protobuf \x00\xff" * 10)
    with pytest.raises(ModelError, match="not a usable ONNX model"):
        load_model(bad)
    truncated = tmp_path / "trunc.onnx"
    truncated.write_bytes(make_model(tmp_path / "ok.onnx", "conv").read_bytes()[:200])
    with pytest.raises(ModelError, match="not a usable ONNX model"):
        load_model(truncated)


def test_a_foreign_onnx_model_without_metadata_is_refused(tmp_path: Path) -> None:
    foreign = make_model(tmp_path / "f.onnx", "conv", with_metadata=False)
    with pytest.raises(ModelError, match="carries no pix2lst metadata"):
        LSTPredictor(foreign)


def test_a_model_whose_graph_contradicts_its_metadata_is_refused(tmp_path: Path) -> None:
    wrong = make_model(tmp_path / "w.onnx", "conv", tile=32, graph_tile=64)
    with pytest.raises(ModelError, match="tile_size 32"):
        load_model(wrong)


def test_missing_model_file(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="does not exist"):
        load_model(tmp_path / "nope.onnx")


@pytest.mark.skipif(default_model_path().is_file(), reason="the default model is installed")
def test_missing_default_model_is_a_clear_error() -> None:
    with pytest.raises(ModelError, match="default model is not installed"):
        LSTPredictor()


@pytest.mark.skipif(
    not default_model_path().is_file(), reason="the default model is not yet shipped"
)
def test_default_model_loads() -> None:
    p = LSTPredictor(padding=None)
    assert p.padding == p.tile_size // 4


@pytest.mark.parametrize("padding", [16, 40, -1])
def test_padding_too_large_is_refused_at_construction(tmp_path: Path, padding: int) -> None:
    model = make_model(tmp_path / "m.onnx", "identity", tile=32)
    with pytest.raises(ValueError, match="less than half the tile"):
        LSTPredictor(model, padding=padding)


def test_thread_spinning_is_off_by_default(tmp_path: Path) -> None:
    """ORT's spinning threads would steal the cores the reader and writer threads need."""
    loaded = load_model(make_model(tmp_path / "m.onnx", "identity"))
    opts = loaded.session.get_session_options()
    assert opts.get_session_config_entry("session.intra_op.allow_spinning") == "0"


def test_openvino_options() -> None:
    ov = "OpenVINOExecutionProvider"
    # fp32 unless asked: OpenVINO's own default is bf16 on CPUs that support it
    assert provider_options([ov], SessionConfig())[0][1] == {
        "device_type": "CPU",
        "precision": "FP32",
    }
    own = SessionConfig(openvino_precision=None)
    assert provider_options([ov], own)[0][1] == {"device_type": "CPU"}
    bf16 = provider_options([ov], SessionConfig(openvino_precision="bf16"))[0][1]
    assert "INFERENCE_PRECISION_HINT" in bf16["load_config"]
    fp32 = provider_options([ov], SessionConfig(openvino_precision="fp32"))[0][1]
    assert fp32["precision"] == "FP32"
    assert resolve_providers("openvino", [ov, CPU]) == [ov]

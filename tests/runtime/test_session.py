"""Provider selection, refusal, fallback warnings, provider options, model validation."""

from __future__ import annotations

import logging
from pathlib import Path

import onnxruntime as ort
import pytest

from pix2lst.data import default_model_path
from pix2lst.errors import ModelError, ParameterError, ProviderError
from pix2lst.runtime import LSTPredictor, SessionConfig, load_model, resolve_providers
from pix2lst.runtime import plan as plan_mod
from pix2lst.runtime import session as session_mod
from pix2lst.runtime.session import provider_options
from tests.conftest import make_model

TRT, CUDA, CPU = (
    "TensorrtExecutionProvider",
    "CUDAExecutionProvider",
    "CPUExecutionProvider",
)
GPU_BUILD = [TRT, CUDA, CPU]


@pytest.fixture
def gpu_libraries(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """TensorRT's library loads (a recording loader) and ``preload_dlls`` is recorded."""
    calls: dict[str, list[str]] = {"loaded": [], "preload": []}

    def load(name: str) -> object:
        calls["loaded"].append(name)
        return object()

    monkeypatch.setattr(session_mod, "_load_library", load)
    monkeypatch.setattr(ort, "preload_dlls", lambda: calls["preload"].append("x"), raising=False)
    session_mod._preload.cache_clear()
    return calls


def test_auto_takes_cuda_then_cpu_and_tensorrt_only_when_asked(
    gpu_libraries: dict[str, list[str]],
) -> None:
    # TensorRT (engines, fp16, caches) has not been measured on a GPU: never by default
    assert resolve_providers("auto", GPU_BUILD) == [CUDA, CPU]
    assert gpu_libraries["loaded"] == []  # auto does not even look for libnvinfer
    assert resolve_providers("tensorrt,cuda", GPU_BUILD) == [TRT, CUDA]
    assert resolve_providers("auto", [CUDA, CPU, "AzureExecutionProvider"]) == [CUDA, CPU]
    assert resolve_providers("auto", ["AzureExecutionProvider", CPU]) == [CPU]
    # the openvino extra: OpenVINO (fp32 by default) before the plain CPU provider
    ov = "OpenVINOExecutionProvider"
    assert resolve_providers("auto", [ov, CPU]) == [ov, CPU]


def test_auto_uses_the_real_build() -> None:
    assert resolve_providers("auto")[-1] == CPU


def test_explicit_lists_short_names_and_comma_lists(gpu_libraries: dict[str, list[str]]) -> None:
    assert resolve_providers("cuda,cpu", GPU_BUILD) == [CUDA, CPU]
    assert resolve_providers(["tensorrt", "CUDA"], GPU_BUILD) == [TRT, CUDA]
    assert resolve_providers(CPU, GPU_BUILD) == [CPU]
    assert resolve_providers(" cpu , cpu ", GPU_BUILD) == [CPU]


def test_unavailable_provider_is_refused_naming_the_available_ones() -> None:
    with pytest.raises(ProviderError, match=r"'cuda' is not available.*CPUExecutionProvider"):
        resolve_providers("cuda", ["AzureExecutionProvider", CPU])
    with pytest.raises(ProviderError, match="no execution provider"):
        resolve_providers(" , ", GPU_BUILD)


def test_monkeypatched_gpu_build_is_seen(
    monkeypatch: pytest.MonkeyPatch, gpu_libraries: dict[str, list[str]]
) -> None:
    monkeypatch.setattr(ort, "get_available_providers", lambda: GPU_BUILD)
    reasons: list[str] = []
    assert resolve_providers("auto", reasons=reasons) == [CUDA, CPU]
    assert reasons == [
        "auto: first available of " + ", ".join(session_mod.AUTO_ORDER)
        + "; TensorRT only when asked for (providers='tensorrt')"
    ]  # fmt: skip
    assert resolve_providers("tensorrt") == [TRT]
    assert gpu_libraries["loaded"][0].startswith("libnvinfer")
    assert gpu_libraries["preload"] == ["x"]  # CUDA/cuDNN from pip before libnvinfer


def test_tensorrt_whose_libraries_do_not_load_is_refused_when_asked(
    monkeypatch: pytest.MonkeyPatch, gpu_libraries: dict[str, list[str]]
) -> None:
    """onnxruntime-gpu lists TensorRT without its libraries: asked for, it is refused."""

    def missing(name: str) -> object:
        gpu_libraries["loaded"].append(name)
        raise OSError(f"{name}: cannot open shared object file")

    monkeypatch.setattr(session_mod, "_load_library", missing)
    reasons: list[str] = []
    assert resolve_providers("auto", GPU_BUILD, reasons=reasons) == [CUDA, CPU]
    assert not session_mod.tensorrt_loadable()
    assert gpu_libraries["loaded"] == list(session_mod.TENSORRT_LIBRARIES)  # every name tried
    with pytest.raises(ProviderError, match=r"libnvinfer.*'cuda'"):
        resolve_providers("tensorrt,cuda", GPU_BUILD)
    assert resolve_providers("cuda", GPU_BUILD) == [CUDA]  # CUDA alone never looks for it


def test_gpu_session_preloads_and_logs_one_line_on_the_provider_and_why(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    gpu_libraries: dict[str, list[str]],
) -> None:
    model = make_model(tmp_path / "m.onnx", "identity")
    real = ort.InferenceSession
    order: list[str] = []

    def missing(name: str) -> object:
        raise OSError(name)

    class CudaSession:  # what a working CUDA build gives back, over a real CPU session
        def __init__(self, src: object, sess_options: object = None, providers: object = None,
                     provider_options: object = None) -> None:  # fmt: skip
            order.append(f"session {providers}")
            self._s = real(src, sess_options=sess_options, providers=[CPU])

        def get_providers(self) -> list[str]:
            return [CUDA, CPU]

        def __getattr__(self, name: str) -> object:
            return getattr(self._s, name)

    monkeypatch.setattr(session_mod, "_load_library", missing)
    monkeypatch.setattr(ort, "get_available_providers", lambda: GPU_BUILD)
    monkeypatch.setattr(ort, "preload_dlls", lambda: order.append("preload"), raising=False)
    monkeypatch.setattr(session_mod.ort, "InferenceSession", CudaSession)
    with caplog.at_level(logging.INFO, logger="pix2lst.runtime.session"):
        loaded = load_model(model, SessionConfig(providers="auto"))
    assert order == ["preload", f"session {[CUDA, CPU]}"]  # once, before the session
    assert loaded.provider == CUDA
    lines = [(r.levelname, r.getMessage()) for r in caplog.records]
    assert lines[0][0] == "INFO" and "runs on CUDAExecutionProvider" in lines[0][1]
    assert "TensorRT only when asked" in lines[0][1] and "EP Error" not in caplog.text
    # the stand-in's nodes really run on the CPU: a GPU session says so, as a warning
    assert len(lines) == 2 and lines[1][0] == "WARNING"
    assert "1 node(s) of the model run on the CPU inside the CUDAExecutionProvider" in lines[1][1]
    assert "(Gather)" in lines[1][1]
    assert session_mod.cpu_placed_nodes(loaded.session) == ["Gather"]


def test_sessions_auto_and_counts() -> None:
    auto = plan_mod.auto_sessions
    assert auto(CPU, 1) == 1 and auto(CPU, 2) == 2 and auto(CPU, 3) == 2  # 2 x 1 thread
    assert auto(CPU, 8) == 2 and auto(CPU, 16) == 4  # 4 x 4 threads on 16 cores
    assert auto(CPU, 32) == 4 and auto(CPU, 64) == 4  # memory: 4 x 8, 4 x 16 threads
    assert auto(CUDA, 16) == 1 and auto(TRT, 64) == 1  # one per GPU device
    assert auto("OpenVINOExecutionProvider", 16) == 1
    parse = plan_mod.parse_sessions
    assert parse("auto") is None and parse(" 3 ") == 3 and parse(2) == 2
    for bad in ("0", "two", 0, -1, True, 1.5):
        with pytest.raises(ParameterError, match="sessions must be"):
            parse(bad)  # type: ignore[arg-type]


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
    monkeypatch.setattr(ort, "preload_dlls", lambda: None, raising=False)
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
    # fp32 unless asked; the cache is keyed by the device too (a worker per GPU)
    assert trt["trt_fp16_enable"] is False and trt["trt_engine_cache_enable"] is True
    assert trt["trt_engine_cache_path"] == str(tmp_path / f"{'ab' * 8}_8x8x256x256_fp32_gpu1")
    assert Path(trt["trt_timing_cache_path"]).is_dir()
    assert trt["trt_profile_max_shapes"] == "input:8x8x256x256"
    assert trt["trt_profile_min_shapes"] == "input:1x8x256x256"
    assert pairs[1][1] == {
        "device_id": 1,
        "cudnn_conv_algo_search": "HEURISTIC",
        "do_copy_in_default_stream": True,
    }
    fp16 = provider_options(
        [TRT],
        SessionConfig(trt_cache_dir=tmp_path, trt_fp16=True),
        model_hash="cd" * 32,
        input_shape=(4, 8, 64, 64),
    )
    assert fp16[0][1]["trt_engine_cache_path"].endswith("_4x8x64x64_fp16")
    assert fp16[0][1]["trt_fp16_enable"] is True


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

"""The one ONNX Runtime session factory: providers, their options, fallback reporting.

``providers="auto"`` takes CUDA, then OpenVINO (fp32), then CPU, among those
:func:`onnxruntime.get_available_providers` lists; TensorRT only when asked for (its
engines, fp16 and caches have not been measured on a GPU). OpenVINO is there only
where ``onnxruntime-openvino`` replaces ``onnxruntime`` (a CPU build without CUDA);
it runs the shipped model in fp32 within about 1e-6 K of ORT's CPU provider, faster,
so it is the CPU default where installed. An explicit list (short names ``tensorrt``, ``cuda``, ``openvino``, ``cpu`` or full
provider names) is honoured or refused with :class:`~pix2lst.errors.ProviderError`
naming what is available.

onnxruntime-gpu lists TensorRT even where TensorRT's libraries are absent (ORT
then prints a multi-line "EP Error" banner and retries without it). So before
TensorRT is asked for, :func:`tensorrt_loadable` checks that ``libnvinfer`` loads
(ctypes): an explicit ``tensorrt`` is refused with the reason. Before a CUDA or TensorRT session,
``onnxruntime.preload_dlls()`` (ORT >= 1.21) loads CUDA and cuDNN installed from
pip. One log line says which provider runs and why; after creation the providers
the session really uses are compared with what was asked, and a fallback is
logged as a warning, never silently; so is each node a GPU session places on the CPU
(:func:`cpu_placed_nodes`).
"""

from __future__ import annotations

import ctypes
import functools
import json
import logging
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import onnxruntime as ort

from pix2lst.errors import ParameterError, ProviderError
from pix2lst.runtime.plan import GPU_PROVIDERS

__all__ = [
    "GPU_PROVIDERS",
    "PROVIDER_ALIASES",
    "SessionConfig",
    "available_providers",
    "cpu_placed_nodes",
    "create_session",
    "preload_gpu_libraries",
    "provider_options",
    "resolve_providers",
    "tensorrt_loadable",
]

log = logging.getLogger(__name__)

TRT = "TensorrtExecutionProvider"
CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"
OPENVINO = "OpenVINOExecutionProvider"
AUTO_ORDER = (CUDA, OPENVINO, CPU)
"""What ``providers="auto"`` takes, the first available first; TensorRT only when asked."""

PROVIDER_ALIASES: dict[str, str] = {
    "tensorrt": TRT,
    "trt": TRT,
    "cuda": CUDA,
    "gpu": CUDA,
    "openvino": OPENVINO,
    "cpu": CPU,
}
"""Short provider names accepted on the command line and in the API."""

_OPT_LEVELS = {
    "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
    "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
    "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
    "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
}


@dataclass(frozen=True)
class SessionConfig:
    """How to build a session. Group of options for one concern: the execution providers.

    ``openvino_precision``: ``"fp32"`` (default: exact to ~1e-6 K), ``"bf16"`` (an
    inference-precision hint; faster, but up to 0.03 K off) or ``None``
    (OpenVINO's own default, which is bf16 on CPUs that support it).
    ``spinning`` lets ORT's idle threads spin; off by default because spinning threads
    take the cores the reader and writer threads need.
    ``memory_pattern``: ORT's memory-pattern planning, which pre-allocates one block for
    all of a run's intermediate tensors. Off by default: with the shipped model on the
    CPU it raised peak memory at the same speed; turning the arena off as well saved
    less memory and was much slower.
    ``trt_cache_dir`` defaults to ``$XDG_CACHE_HOME/pix2lst/tensorrt`` (read when a
    session is made, not at import); engines and timing caches are kept in a
    sub-folder keyed by model hash, input shape, precision and device id, so a second
    run does not rebuild and workers on other devices do not share one.
    ``trt_fp16``: TensorRT in fp16, only when asked; the predictor then compares the
    first batch with an fp32 CPU session and refuses more than 0.05 K of difference.
    ``warmup``: run the pipeline and one batch in the constructor (None: on the CPU
    yes, on a GPU no, where it would build engines; True: always; False: never).
    """

    providers: str | Sequence[str] = "auto"
    device_id: int = 0
    intra_op_threads: int = 0
    graph_optimization: str = "all"
    trt_fp16: bool = False
    trt_cache_dir: Path | None = None
    trt_workspace_bytes: int = 4 << 30
    cudnn_conv_algo_search: str = "EXHAUSTIVE"
    openvino_precision: str | None = "fp32"
    spinning: bool = False
    memory_pattern: bool = False
    warmup: bool | None = None

    @property
    def reduced_precision(self) -> bool:
        """Whether fp16/bf16 was asked for (TensorRT fp16, OpenVINO's bf16 hint)."""
        return self.trt_fp16 or (self.openvino_precision or "").lower() == "bf16"

    def __post_init__(self) -> None:
        if self.graph_optimization not in _OPT_LEVELS:
            raise ParameterError(
                f"graph_optimization must be one of {sorted(_OPT_LEVELS)}, "
                f"not {self.graph_optimization!r}"
            )
        if self.cudnn_conv_algo_search not in ("EXHAUSTIVE", "HEURISTIC", "DEFAULT"):
            raise ParameterError(
                "cudnn_conv_algo_search must be EXHAUSTIVE, HEURISTIC or DEFAULT, "
                f"not {self.cudnn_conv_algo_search!r}"
            )
        if self.intra_op_threads < 0:
            raise ParameterError(
                f"intra_op_threads must be >= 0 (0: ORT's default), not {self.intra_op_threads}"
            )


def available_providers() -> list[str]:
    """The execution providers this onnxruntime build offers."""
    return list(ort.get_available_providers())


TENSORRT_LIBRARIES = ("libnvinfer.so.10", "libnvinfer.so.8", "libnvinfer.so")
"""Names under which TensorRT's runtime library is looked for (Linux)."""
if sys.platform == "win32":  # pragma: no cover - not tested on Windows
    TENSORRT_LIBRARIES = ("nvinfer_10.dll", "nvinfer.dll")


def _load_library(name: str) -> object:
    """Load a shared library by name (the seam tests replace)."""
    return ctypes.CDLL(name)


def tensorrt_loadable() -> bool:
    """Whether TensorRT's runtime library (``libnvinfer``) loads in this process."""
    preload_gpu_libraries()
    for name in TENSORRT_LIBRARIES:
        try:
            _load_library(name)
        except OSError:
            continue
        return True
    return False


@functools.cache
def _preload() -> None:
    preload = getattr(ort, "preload_dlls", None)
    if preload is None:  # onnxruntime < 1.21, or a CPU build without it
        return
    try:
        preload()
    except Exception as exc:
        log.debug("onnxruntime.preload_dlls() failed: %s", exc)


def preload_gpu_libraries() -> None:
    """Call ``onnxruntime.preload_dlls()`` once, where it exists: CUDA and cuDNN from pip."""
    if CUDA in available_providers() or TRT in available_providers():
        _preload()


def resolve_providers(
    requested: str | Sequence[str],
    available: Sequence[str] | None = None,
    *,
    reasons: list[str] | None = None,
) -> list[str]:
    """Turn ``"auto"``, a short name, a comma list or a list into provider names.

    Raises :class:`ProviderError` when a provider asked for explicitly is not
    available, naming the ones that are, or when TensorRT is asked for and its
    libraries do not load. ``reasons``, when given, receives one sentence on why
    ``"auto"`` chose what it chose.
    """
    avail = list(available) if available is not None else available_providers()
    if isinstance(requested, str):
        names = [p.strip() for p in requested.split(",") if p.strip()]
    else:
        names = [str(p).strip() for p in requested]
    if not names:
        raise ProviderError("no execution provider given; use 'auto' or e.g. 'cuda,cpu'")
    if [n.lower() for n in names] == ["auto"]:
        chosen = [p for p in AUTO_ORDER if p in avail]
        if not chosen:
            raise ProviderError(f"none of {list(AUTO_ORDER)} is available (available: {avail})")
        why = f"auto: first available of {', '.join(p for p in AUTO_ORDER)}"
        if TRT in avail:
            why += "; TensorRT only when asked for (providers='tensorrt')"
        if reasons is not None:
            reasons.append(why)
        return chosen
    resolved: list[str] = []
    for name in names:
        full = PROVIDER_ALIASES.get(name.lower(), name)
        if full not in avail:
            short = [k for k, v in PROVIDER_ALIASES.items() if v in avail]
            if full in (CUDA, TRT):
                hint = "for CUDA/TensorRT install pix2lst[gpu] (onnxruntime-gpu) instead of pix2lst[cpu]"
            elif full == OPENVINO:
                hint = "for OpenVINO install onnxruntime-openvino instead of onnxruntime"
            elif not full.endswith("ExecutionProvider"):
                hint = f"{name!r} is not a provider name; use auto, {', '.join(PROVIDER_ALIASES)} or a full ONNX Runtime provider name"
            else:
                hint = "install an onnxruntime build that has it"
            raise ProviderError(
                f"execution provider {name!r} is not available in this onnxruntime build; "
                f"available: {', '.join(avail)} (short names: {', '.join(short)}); {hint}"
            )
        if full == TRT and not tensorrt_loadable():
            raise ProviderError(
                "TensorRT was asked for but its library (libnvinfer) does not load; install "
                "TensorRT (e.g. pip install tensorrt) or ask for 'cuda'"
            )
        if full not in resolved:
            resolved.append(full)
    if reasons is not None:
        reasons.append("as asked")
    return resolved


def _cache_home() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "pix2lst" / "tensorrt"


def provider_options(
    providers: Sequence[str],
    config: SessionConfig,
    *,
    model_hash: str = "model",
    input_name: str = "input",
    input_shape: tuple[int, int, int, int] | None = None,
) -> list[tuple[str, dict[str, Any]]]:
    """``(name, options)`` pairs for ``InferenceSession(providers=...)``.

    ``input_shape`` is ``(batch, bands, tile, tile)``: it keys the TensorRT cache
    and fixes its optimisation profile (batches 1 .. batch).
    """
    out: list[tuple[str, dict[str, Any]]] = []
    for name in providers:
        opts: dict[str, Any] = {}
        if name == TRT:
            key = model_hash[:16]
            if input_shape is not None:
                key += "_" + "x".join(str(v) for v in input_shape)
            key += "_fp16" if config.trt_fp16 else "_fp32"
            if config.device_id:
                key += f"_gpu{config.device_id}"
            cache = (config.trt_cache_dir or _cache_home()) / key
            cache.mkdir(parents=True, exist_ok=True)
            opts = {
                "device_id": config.device_id,
                "trt_fp16_enable": config.trt_fp16,
                "trt_max_workspace_size": config.trt_workspace_bytes,
                "trt_engine_cache_enable": True,
                "trt_engine_cache_path": str(cache),
                "trt_timing_cache_enable": True,
                "trt_timing_cache_path": str(cache),
            }
            if input_shape is not None:
                n, c, h, w = input_shape
                opts["trt_profile_min_shapes"] = f"{input_name}:1x{c}x{h}x{w}"
                opts["trt_profile_opt_shapes"] = f"{input_name}:{n}x{c}x{h}x{w}"
                opts["trt_profile_max_shapes"] = f"{input_name}:{n}x{c}x{h}x{w}"
        elif name == CUDA:
            opts = {
                "device_id": config.device_id,
                "cudnn_conv_algo_search": config.cudnn_conv_algo_search,
                "do_copy_in_default_stream": True,
            }
        elif name == OPENVINO:
            opts = {"device_type": "CPU"}
            hint = (config.openvino_precision or "").lower()
            if hint == "bf16":  # faster, a few hundredths of a kelvin off
                opts["load_config"] = json.dumps({"CPU": {"INFERENCE_PRECISION_HINT": "bf16"}})
            elif hint:
                opts["precision"] = hint.upper()
        out.append((name, opts))
    return out


def create_session(
    model: bytes | str | os.PathLike[str],
    providers: Sequence[str],
    config: SessionConfig,
    *,
    reason: str = "",
    **option_keys: Any,
) -> ort.InferenceSession:
    """Create a session on ``providers`` (already resolved) and warn on fallback.

    ``option_keys`` go to :func:`provider_options` (model hash, input name/shape);
    ``reason`` (why these providers) goes into the one log line.
    """
    if CUDA in providers or TRT in providers:
        preload_gpu_libraries()
    so = ort.SessionOptions()
    so.graph_optimization_level = _OPT_LEVELS[config.graph_optimization]
    if config.intra_op_threads:
        so.intra_op_num_threads = config.intra_op_threads
    so.log_severity_level = 3  # ORT prints; the fallbacks that matter are logged below
    gpu = any(p in GPU_PROVIDERS for p in providers)
    if gpu:
        so.add_session_config_entry("session.record_ep_graph_assignment_info", "1")
    so.add_session_config_entry("session.intra_op.allow_spinning", "1" if config.spinning else "0")
    so.enable_mem_pattern = config.memory_pattern
    pairs = provider_options(providers, config, **option_keys)
    if CPU not in providers:
        pairs.append((CPU, {}))  # ORT needs it for nodes others do not support
    src = model if isinstance(model, bytes) else str(model)
    session = ort.InferenceSession(
        src,
        sess_options=so,
        providers=[name for name, _ in pairs],
        provider_options=[opts for _, opts in pairs],
    )
    used = list(session.get_providers())
    if used[:1] != list(providers[:1]):
        log.warning(
            "ONNX Runtime fell back: asked for %s, the session uses %s (check the CUDA/"
            "cuDNN/TensorRT libraries if a GPU provider was expected)",
            list(providers),
            used,
        )
    else:
        log.info("ONNX Runtime runs on %s%s", used[0], f" ({reason})" if reason else "")
    if gpu and used[0] in GPU_PROVIDERS:
        on_cpu = cpu_placed_nodes(session)
        if on_cpu:
            log.warning(
                "%d node(s) of the model run on the CPU inside the %s session (%s): each "
                "costs a copy between host and device; export the model with operators "
                "the provider supports",
                len(on_cpu),
                used[0],
                ", ".join(sorted(set(on_cpu))[:8]),
            )
    return session


def cpu_placed_nodes(session: ort.InferenceSession) -> list[str]:
    """The operator types of the nodes ``session`` placed on ORT's CPU provider (empty
    where the session did not record its placement, which :func:`create_session` asks
    for on GPU sessions, or where this onnxruntime cannot tell)."""
    info = getattr(session, "get_provider_graph_assignment_info", None)
    if info is None:  # pragma: no cover - onnxruntime before the placement API
        return []
    try:
        subgraphs = info()
    except Exception:  # not recorded by this ONNX Runtime session
        return []
    return [node.op_type for sub in subgraphs if sub.ep_name == CPU for node in sub.get_nodes()]

"""The one ONNX Runtime session factory: providers, their options, fallback reporting.

``providers="auto"`` takes TensorRT, then CUDA, then OpenVINO (fp32), then CPU,
among those :func:`onnxruntime.get_available_providers` lists. OpenVINO is there
only with the ``openvino`` extra (``onnxruntime-openvino`` replaces ``onnxruntime``);
on this project's 2-core CPU it ran the shipped model 1.98x faster than ORT's CPU
provider in fp32, with a largest difference of 1.2e-6 K (``python -m
benchmarks.openvino_check``, 2026-11-24), so it is the CPU default where installed.
An explicit list (short names ``tensorrt``, ``cuda``, ``openvino``, ``cpu`` or full
provider names) is honoured or refused with :class:`~pix2lst.errors.ProviderError`
naming what is available.
After creation the providers the session really uses are compared with what
was asked, and a fallback is logged as a warning, never silently.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import onnxruntime as ort

from pix2lst.errors import ParameterError, ProviderError

__all__ = [
    "PROVIDER_ALIASES",
    "SessionConfig",
    "available_providers",
    "create_session",
    "provider_options",
    "resolve_providers",
]

log = logging.getLogger(__name__)

TRT = "TensorrtExecutionProvider"
CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"
OPENVINO = "OpenVINOExecutionProvider"
AUTO_ORDER = (TRT, CUDA, OPENVINO, CPU)

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
    inference-precision hint; 1.2x faster again here, but up to 0.03 K off) or ``None``
    (OpenVINO's own default, which is bf16 on CPUs that support it).
    ``spinning`` lets ORT's idle threads spin; off by default because spinning threads
    take the cores the reader and writer threads need.
    ``memory_pattern``: ORT's memory-pattern planning, which pre-allocates one block for
    all of a run's intermediate tensors. Off by default: with the shipped model (batch 8,
    CPU) it raised peak memory by ~145 MB at the same speed (8.3 vs 8.4 ms per tile,
    measured 2026-11-24); turning the arena off as well saved less and cost 60 % speed.
    ``trt_cache_dir`` defaults to ``$XDG_CACHE_HOME/pix2lst/tensorrt`` (read when a
    session is made, not at import); engines and timing caches are kept in a
    sub-folder keyed by model hash and input shape, so a second run does not rebuild.
    """

    providers: str | Sequence[str] = "auto"
    device_id: int = 0
    intra_op_threads: int = 0
    graph_optimization: str = "all"
    trt_fp16: bool = True
    trt_cache_dir: Path | None = None
    trt_workspace_bytes: int = 4 << 30
    cudnn_conv_algo_search: str = "EXHAUSTIVE"
    openvino_precision: str | None = "fp32"
    spinning: bool = False
    memory_pattern: bool = False
    warmup: bool = True

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


def resolve_providers(
    requested: str | Sequence[str], available: Sequence[str] | None = None
) -> list[str]:
    """Turn ``"auto"``, a short name, a comma list or a list into provider names.

    Raises :class:`ProviderError` when a provider asked for explicitly is not
    available, naming the ones that are.
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
        return chosen
    resolved: list[str] = []
    for name in names:
        full = PROVIDER_ALIASES.get(name.lower(), name)
        if full not in avail:
            short = [k for k, v in PROVIDER_ALIASES.items() if v in avail]
            raise ProviderError(
                f"execution provider {name!r} is not available in this onnxruntime build; "
                f"available: {', '.join(avail)} (short names: {', '.join(short)}). "
                "For CUDA/TensorRT install pix2lst[gpu] (onnxruntime-gpu) instead of pix2lst[cpu]"
            )
        if full not in resolved:
            resolved.append(full)
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
            if hint == "bf16":  # measured 2026-11-24: 1.2x fp32 OpenVINO, max error 0.03 K
                opts["load_config"] = json.dumps({"CPU": {"INFERENCE_PRECISION_HINT": "bf16"}})
            elif hint:
                opts["precision"] = hint.upper()
        out.append((name, opts))
    return out


def create_session(
    model: bytes | str | os.PathLike[str],
    providers: Sequence[str],
    config: SessionConfig,
    **option_keys: Any,
) -> ort.InferenceSession:
    """Create a session on ``providers`` (already resolved) and warn on fallback.

    ``option_keys`` go to :func:`provider_options` (model hash, input name/shape).
    """
    so = ort.SessionOptions()
    so.graph_optimization_level = _OPT_LEVELS[config.graph_optimization]
    if config.intra_op_threads:
        so.intra_op_num_threads = config.intra_op_threads
    so.log_severity_level = 3
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
        log.info("ONNX Runtime session on %s", used)
    return session

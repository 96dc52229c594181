"""How many local worker processes a batch runs, decided once from the machine (pure maths).

CPU: one worker per two usable cores by default, never more than the cores, the
scenes, or the memory holds (:data:`WORKER_MEMORY` each); a ``--workers`` above
that is capped, and the plan says so in one line. GPU: one worker per GPU, each
with its own device id and TensorRT engine cache folder (two processes on one GPU
would only take turns on it and double its memory).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["WORKER_MEMORY", "WorkerPlan", "gpu_count", "plan_workers"]

WORKER_MEMORY = 2 << 30
"""Memory one worker may need: a full-scene prediction and its headroom."""


@dataclass(frozen=True)
class WorkerPlan:
    """Local workers: how many, ORT threads each, GPU device ids (one per worker, or
    empty on CPU), and ``note``: one line saying why fewer were started than asked."""

    workers: int
    threads: int
    devices: tuple[int, ...] = ()
    note: str = ""


def plan_workers(
    requested: int | None, *, cores: int, scenes: int, memory: int, gpus: int = 0
) -> WorkerPlan:
    """The local workers for ``scenes`` scenes on a machine of ``cores`` usable cores,
    ``memory`` bytes and ``gpus`` GPUs the model runs on (0: CPU)."""
    cores, scenes = max(1, cores), max(1, scenes)
    if gpus > 0:
        cap = min(gpus, scenes)
        default, why = cap, f"one worker per GPU: {gpus} GPU(s), {scenes} scene(s)"
    else:
        by_memory = max(1, memory // WORKER_MEMORY)
        cap = min(cores, scenes, by_memory)
        default = min(max(1, cores // 2), cap)
        why = (
            f"{cores} core(s), {scenes} scene(s), {memory / (1 << 30):.1f} GiB of memory at "
            f"{WORKER_MEMORY >> 30} GiB a worker"
        )
    n = default if requested is None else max(1, min(requested, cap))
    note = f"--workers {requested} capped to {n} ({why})" if requested and requested > n else ""
    devices = tuple(range(n)) if gpus > 0 else ()
    return WorkerPlan(n, max(1, cores // n), devices, note)


def gpu_count(providers: str = "auto") -> int:
    """NVIDIA GPUs a prediction with ``providers`` runs on here (0: it runs on the CPU).

    Counts the devices the driver lists (``/proc/driver/nvidia/gpus``), or those of
    ``CUDA_VISIBLE_DEVICES`` where it is set, when ONNX Runtime has CUDA or TensorRT
    and ``providers`` asks for them (``auto``, ``cuda``, ``tensorrt``).
    """
    text = str(providers).lower()
    if text == "cpu" or not any(k in text for k in ("auto", "cuda", "tensorrt", "trt")):
        return 0
    try:
        import onnxruntime as ort
    except ImportError:
        return 0
    have = set(ort.get_available_providers())
    if not have & {"CUDAExecutionProvider", "TensorrtExecutionProvider"}:
        return 0
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return len([d for d in visible.split(",") if d.strip() and d.strip() != "-1"])
    gpus = Path("/proc/driver/nvidia/gpus")
    return len(list(gpus.iterdir())) if gpus.is_dir() else 0

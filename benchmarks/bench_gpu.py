"""Part ``gpu``: the GPU measurement, as two slices of at most 5 minutes each.

``--slice 1``: CUDA vs CPU parity through the product (a 1/16-area scene folder:
largest and mean difference in kelvin, same nodata) and the product end to end on the
provider from the full scene folder (default options, then ``batch_size=32``).

``--slice 2``: the ceilings and the torch reference, on the tiles of a full scene: ONNX
Runtime through the product's session with host arrays (``LSTPredictor.run_batch``,
batch 8 and 32), ONNX Runtime with device I/O (IO binding; on CUDA also with CUDA
graphs), and the same weights in torch on the device (fp32; fp16 autocast on CUDA).

``--provider`` is ``cuda`` by default; ``--provider cpu`` runs both slices on any machine,
which is how they are tested. Where CUDA is asked for but absent, the part stops with
the reason before any work. A contender that fails is reported and the others go on.
"""

from __future__ import annotations

from typing import Any

from benchmarks.context import Context
from benchmarks.harness import Contender, compare, median_of
from benchmarks.report import Report, Table, runs_json

__all__ = ["cuda_status", "run"]


def cuda_status() -> tuple[bool, str]:
    """Whether CUDA can be measured here, and why not when it cannot."""
    import onnxruntime as ort

    if "CUDAExecutionProvider" not in ort.get_available_providers():
        return False, (
            "this onnxruntime build has no CUDA provider (install onnxruntime-gpu; on the GPU "
            "machine unpack ../shared/gpu's parts)"
        )
    import os
    import shutil

    if not (shutil.which("nvidia-smi") or os.path.exists("/dev/nvidia0")):
        return False, "no NVIDIA device on this machine (no nvidia-smi, no /dev/nvidia0)"
    return True, "CUDA provider and an NVIDIA device present"


def _torch_device(provider: str) -> tuple[str | None, str]:
    try:
        import torch
    except ImportError:
        return None, "torch is not installed"
    if provider != "cuda":
        return "cpu", "torch on the CPU"
    if torch.cuda.is_available():
        return "cuda", "torch on CUDA"
    return None, "torch sees no CUDA device"


def _slice_1(ctx: Context, spec: Any, padding: int) -> list[Contender]:
    e2e = {"model": spec.onnx, "padding": padding, "providers": ctx.provider,
           "src": str(ctx.scene(1.0))}  # fmt: skip
    return [
        Contender("parity", "tasks_gpu:parity",
                  {"model": spec.onnx, "src": str(ctx.scene(1 / 16)), "work": str(ctx.work),
                   "provider": ctx.provider}),
        Contender("scene", "tasks:predict_e2e", {**e2e, "dst": str(ctx.work / "gpu-scene.tif")}),
        Contender("scene-b32", "tasks:predict_e2e",
                  {**e2e, "dst": str(ctx.work / "gpu-scene-b32.tif"), "batch_size": 32}),
    ]  # fmt: skip


def _slice_2(ctx: Context, spec: Any, padding: int, report: Report) -> list[Contender]:
    h, w = ctx.scene_shape(1.0)
    geo = {"model": spec.onnx, "src": str(ctx.composite(ctx.scene(1 / 16))), "height": h,
           "width": w, "padding": padding}  # fmt: skip
    out = []
    for b in (8, 32):
        out.append(Contender(f"ceiling-b{b}", "tasks:ort_ceiling",
                             {**geo, "providers": ctx.provider, "batch_size": b}))  # fmt: skip
        out.append(Contender(f"device-io-b{b}", "tasks_gpu:ort_device_ceiling",
                             {**geo, "provider": ctx.provider, "batch_size": b}))  # fmt: skip
    if ctx.provider == "cuda":
        out.append(Contender("device-io-cuda-graph-b32", "tasks_gpu:ort_device_ceiling",
                             {**geo, "provider": "cuda", "batch_size": 32, "cuda_graph": True}))  # fmt: skip
    device, why = _torch_device(ctx.provider)
    if device is None:
        report.notes.append(f"torch reference skipped: {why}")
        return out
    for fp16 in (False, True) if device == "cuda" else (False,):
        geo_t = {k: v for k, v in geo.items() if k != "model"}
        out.append(Contender(f"torch-{'fp16' if fp16 else 'fp32'}-b32", "tasks_gpu:torch_reference",
                             {**geo_t, "spec": spec.as_dict(), "batch_size": 32,
                              "device": device, "fp16": fp16}))  # fmt: skip
    return out


def run(ctx: Context) -> Report:
    """One slice of the GPU measurement on ``ctx.provider``."""
    if ctx.provider == "cuda":
        ok, why = cuda_status()
        if not ok:
            raise RuntimeError(f"cannot measure CUDA here: {why}; --provider cpu runs the slices")
    reps = ctx.n_reps(2 if ctx.slice == 1 else 1)  # each slice within 5 minutes on the GPU box
    report = Report(f"gpu-slice{ctx.slice}", f"GPU slice {ctx.slice} ({ctx.provider})", ctx.quick)
    spec = ctx.default_model()
    padding = spec.tile // 4
    shape = ctx.scene_shape(1.0)
    report.params = {"reps": reps, "model": spec.as_dict(), "padding": padding,
                     "provider": ctx.provider, "slice": ctx.slice}  # fmt: skip
    if ctx.slice == 1:
        contenders = _slice_1(ctx, spec, padding)
    else:
        contenders = _slice_2(ctx, spec, padding, report)
    runs = compare(contenders, reps, progress=ctx.progress, keep_going=True)
    report.data["runs"] = runs_json(runs)
    failed = {n: rs[0].result["error"] for n, rs in runs.items() if "error" in rs[0].result}
    t = Table(
        f"{spec.label}, padding {padding}, {shape[0]} x {shape[1]} px; median of {reps}",
        ["contender", "run s", "setup s", "tiles/s", "peak RSS MB", "provider"],
    )
    summary: dict[str, Any] = {"failed": sorted(failed)}
    for c in contenders:
        rs = runs[c.name]
        if c.name in failed:
            t.rows.append([c.name, "FAILED", "-", "-", "-", "-"])
        elif c.name == "parity":
            r = rs[0].result
            summary["parity"] = {k: r[k] for k in ("max_abs_k", "mean_abs_k", "same_nodata")}
            t.notes.append(
                f"{r['provider']} vs CPUExecutionProvider on a 1/16-area scene folder "
                f"({r['pixels']:,} px): max |diff| {r['max_abs_k']:.2g} K, mean "
                f"{r['mean_abs_k']:.2g} K, same nodata: {r['same_nodata']}"
            )
        else:
            tps = median_of(rs, "tiles_per_s") if "tiles_per_s" in rs[0].result else float("nan")
            t.rows.append([c.name, median_of(rs, "run_s"), median_of(rs, "setup_s"), tps,
                           median_of(rs, "peak_rss_mb"), rs[0].result.get("provider", "-")])  # fmt: skip
            summary[c.name] = median_of(rs, "run_s")
    t.notes.append(
        "scene: the product end to end (predict_file) from the scene folder; ceiling: the "
        "product's session alone on a scene's tiles in host memory; device-io: ORT with input "
        "and output bound on the device; torch: the same weights, input on the device."
    )
    report.tables.append(t)
    report.notes += [f"{n} FAILED: {e[-1500:]}" for n, e in failed.items()]
    report.data["summary"] = summary
    return report

"""Part ``gpu``: the whole GPU measurement as one prepared run (issue 11).

On a machine with a CUDA device and onnxruntime-gpu (see ``../shared/gpu/README.md``
for packing it for the H200 box), contenders alternate:

* ORT-CUDA ceiling with host arrays (the harness's ``ort_ceiling``, batch 8 and 32)
  and with device I/O (IO binding to CUDA ``OrtValue``s; with and without
  ``enable_cuda_graph``);
* end to end on CUDA from the scene folder: device tiling (``tiling="auto"`` on
  CUDA: strips uploaded once, tiles cut on the device) at batch 8 and 32 (32 is
  its default), host tiling (overlapping tiles uploaded, the path before) at batch
  8, device tiling with float32 strips instead of 16-bit DN (what the compact
  upload earns), device tiling with ``io_priority="idle"`` (the default before
  ``"auto"`` chose ``"normal"`` on a GPU); and from the composite (defaults);
* CUDA vs CPU parity through the runtime (1/16-area scene: largest / mean
  difference in kelvin, same nodata);
* torch on CUDA with the same weights (fp32 and fp16 autocast), if torch sees a GPU;
* the CPU provider on all cores: end to end with ``sessions="auto"`` and with one
  session, and the ORT ceiling with as many sessions as auto takes.

Where CUDA is not there (no CUDA provider in this onnxruntime build, or no
device), the CUDA contenders are skipped and the report says why; the CPU rows
still run, so the part is tested on any machine (``--quick``: the tiny scene).
Goals (H200, 16 cores): scene folder end to end <= 1.5 s and <= 1.3 x the
ORT-CUDA ceiling measured in the same run; CUDA vs CPU within 0.01 K; CPU
provider on 16 cores >= 2.5 x the 41.5 s measured with one session (<= 16 s).
"""

from __future__ import annotations

import os
import shutil
from typing import Any

from benchmarks.context import Context
from benchmarks.harness import Contender, Run, compare, median_of
from benchmarks.report import Report, Table, runs_json
from benchmarks.thread_clock import roles_table

__all__ = ["cuda_status", "run"]


def cuda_status() -> tuple[bool, str]:
    """Whether CUDA can be measured here, and why not when it cannot."""
    import onnxruntime as ort

    if "CUDAExecutionProvider" not in ort.get_available_providers():
        return False, (
            "this onnxruntime build has no CUDA provider (install onnxruntime-gpu; on the H200 "
            "box unpack ../shared/gpu's parts)"
        )
    if not (shutil.which("nvidia-smi") or os.path.exists("/dev/nvidia0")):
        return False, "no NVIDIA device on this machine (no nvidia-smi, no /dev/nvidia0)"
    return True, "CUDA provider and an NVIDIA device present"


def _torch_cuda() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def _val(runs: list[Run], key: str) -> Any:
    return median_of(runs, key) if runs else float("nan")


def run(ctx: Context) -> Report:
    """CUDA ceilings, end to end, parity, torch reference; CPU provider on all cores."""
    from pix2lst.runtime.session import auto_sessions, usable_cores

    reps = ctx.n_reps(3)
    report = Report("gpu", "GPU and many-core CPU", ctx.quick)
    spec = ctx.default_model()
    shape = ctx.scene_shape(1.0)
    folder = ctx.scene(1.0)
    comp = ctx.composite(folder)
    small = ctx.scene(1 / 16)
    padding = spec.tile // 4
    work = ctx.work
    ok, why = cuda_status()
    cores = usable_cores()
    auto = auto_sessions("CPUExecutionProvider", cores)
    report.params = {"reps": reps, "model": spec.as_dict(), "padding": padding, "cuda": ok,
                     "cuda_status": why, "cores": cores, "cpu_sessions_auto": auto}  # fmt: skip
    geo = {"model": spec.onnx, "src": str(comp), "height": shape[0], "width": shape[1],
           "padding": padding}  # fmt: skip
    e2e = {"model": spec.onnx, "padding": padding}
    c: list[tuple[str, Contender]] = []

    def cuda_scene(name: str, dst: str, **params: Any) -> tuple[str, Contender]:
        """The scene folder end to end on CUDA, written to ``work / dst``."""
        run = {**e2e, "src": str(folder), "providers": "cuda", "dst": str(work / dst), **params}
        return ("e2e", Contender(name, "tasks_predict:predict_e2e", run))

    if ok:
        for b in (8, 32):
            c.append(
                (
                    "ceiling",
                    Contender(
                        f"cuda-ceiling-host-b{b}",
                        "tasks_predict:ort_ceiling",
                        {**geo, "providers": "cuda", "batch_size": b},
                    ),
                )
            )
            c.append(
                (
                    "ceiling",
                    Contender(
                        f"cuda-ceiling-device-b{b}",
                        "tasks_gpu:ort_device_ceiling",
                        {**geo, "batch_size": b},
                    ),
                )
            )
            c.append(
                (
                    "ceiling",
                    Contender(
                        f"cuda-ceiling-device-graph-b{b}",
                        "tasks_gpu:ort_device_ceiling",
                        {**geo, "batch_size": b, "cuda_graph": True},
                    ),
                )
            )
            # host tiling at batch 8 only (the issue measured it slower at 32: 12.5 s vs 11.3)
            for tiling in ("device", "host") if b == 8 else ("device",):
                c.append(cuda_scene(f"cuda-scene-{tiling}-b{b}", f"gpu-s{b}-{tiling}.tif",
                                    batch_size=b, tiling=tiling))  # fmt: skip
        # device tiling with float32 strips: what the compact DN upload earns
        c.append(cuda_scene("cuda-scene-device-b32-f32-strips", "gpu-s32-f32.tif",
                            batch_size=32, tiling="device", upload_dn=False))  # fmt: skip
        # the old default: reader and writer at SCHED_IDLE, GDAL on one thread
        c.append(cuda_scene("cuda-scene-device-b32-io-idle", "gpu-s32-idle.tif",
                            batch_size=32, tiling="device", io_priority="idle"))  # fmt: skip
        c.append(
            (
                "e2e",
                Contender(
                    "cuda-composite-defaults",
                    "tasks_predict:predict_e2e",
                    {**e2e, "src": str(comp), "providers": "cuda", "dst": str(work / "gpu-c.tif")},
                ),
            )
        )
        c.append(
            (
                "parity",
                Contender(
                    "cuda-vs-cpu",
                    "tasks_gpu:cuda_parity",
                    {"model": spec.onnx, "src": str(small), "work": str(work), "padding": padding},
                ),
            )
        )
        if _torch_cuda():
            for fp16 in (False, True):
                c.append(
                    (
                        "ceiling",
                        Contender(
                            f"torch-cuda-{'fp16' if fp16 else 'fp32'}-b32",
                            "tasks_gpu:torch_reference",
                            {
                                "spec": spec.as_dict(),
                                "src": str(comp),
                                "height": shape[0],
                                "width": shape[1],
                                "padding": padding,
                                "batch_size": 32,
                                "fp16": fp16,
                            },
                        ),
                    )
                )
    c.append(
        (
            "cpu",
            Contender(
                "cpu-scene-sessions-auto",
                "tasks_predict:predict_e2e",
                {
                    **e2e,
                    "src": str(folder),
                    "providers": "cpu",
                    "sessions": "auto",
                    "dst": str(work / "gpu-cpu-auto.tif"),
                },
            ),
        )
    )
    c.append(
        (
            "cpu",
            Contender(
                "cpu-scene-sessions-1",
                "tasks_predict:predict_e2e",
                {
                    **e2e,
                    "src": str(folder),
                    "providers": "cpu",
                    "sessions": 1,
                    "dst": str(work / "gpu-cpu-1.tif"),
                },
            ),
        )
    )
    c.append(("cpu", Contender(f"cpu-ceiling-sessions-{auto}", "tasks_predict:ort_ceiling",
                               {**geo, "providers": "cpu", "sessions": auto})))  # fmt: skip
    if ctx.only:  # a short device session: only some contenders
        c = [(k, x) for k, x in c if any(word in x.name for word in ctx.only)]
        report.notes.append(f"only the contenders matching {', '.join(ctx.only)} were run")
    # one failing contender (a CUDA path that breaks) must not cost the others' figures
    runs = compare([x for _, x in c], reps, progress=ctx.progress, keep_going=True)
    failed = {name: rs[0].result["error"] for name, rs in runs.items() if "error" in rs[0].result}
    report.data["runs"] = runs_json(runs)
    if not ok:
        report.notes.append(f"CUDA contenders SKIPPED: {why}. Only the CPU rows were measured.")
    t = Table(
        f"{spec.label}, padding {padding}, {shape[0]} x {shape[1]} px; median of {reps}",
        ["contender", "kind", "run s", "tiles/s", "core s", "peak RSS MB", "provider"],
    )
    for kind, x in c:
        rs = runs[x.name]
        if x.name in failed:
            t.rows.append([x.name, kind, "FAILED", "-", "-", "-", "-"])
            continue
        if kind == "parity":
            continue
        tiles = _val(rs, "tiles_per_s") if "tiles_per_s" in rs[0].result else "-"
        prov = rs[0].result.get("provider") or rs[0].result.get("summary", {}).get("provider", "-")
        t.rows.append([x.name, kind, _val(rs, "run_s"), tiles,
                       _val(rs, "core_s") if "core_s" in rs[0].result else "-",
                       _val(rs, "peak_rss_mb"), prov])  # fmt: skip
    summary: dict[str, Any] = {"cuda": ok, "cuda_status": why}
    if ok:
        ceilings = [_val(runs[x.name], "run_s") for k, x in c
                    if k == "ceiling" and x.name.startswith("cuda")]  # fmt: skip
        best = min((v for v in ceilings if v == v), default=float("nan"))  # failed: NaN
        scene = _val(runs.get("cuda-scene-device-b32", []), "run_s")  # the defaults on CUDA
        par = {"max_abs_k": float("nan"), "mean_abs_k": float("nan"), "same_nodata": None,
               **(runs["cuda-vs-cpu"][0].result if "cuda-vs-cpu" in runs else {})}  # fmt: skip
        summary.update(cuda_scene_s=scene, cuda_best_ceiling_s=best, over_ceiling=scene / best,
                       parity_max_abs_k=par["max_abs_k"], parity_same_nodata=par["same_nodata"])  # fmt: skip
        t.notes.append(
            f"goals: scene folder end to end (defaults: device tiling, batch 32) {scene:.2f} s "
            f"(<= 1.5 s), {scene / best:.2f} x the "
            f"best ORT-CUDA ceiling of this run (<= 1.3); CUDA vs CPU max {par['max_abs_k']:.2g} "
            f"K, mean {par['mean_abs_k']:.2g} K (<= 0.01 K), same nodata {par['same_nodata']}"
        )
    cpu_auto = _val(runs.get("cpu-scene-sessions-auto", []), "run_s")
    cpu_one = _val(runs.get("cpu-scene-sessions-1", []), "run_s")
    summary.update(cpu_auto_s=cpu_auto, cpu_one_session_s=cpu_one, cpu_sessions_auto=auto)
    t.notes.append(
        f"CPU provider on {cores} cores: sessions=auto ({auto} session(s) of {cores // auto} "
        f"threads) {cpu_auto:.2f} s, one session {cpu_one:.2f} s end to end (16-core goal: <= 16 s)"
    )
    for name, error in failed.items():
        report.notes.append(f"{name} FAILED: {error[-1500:]}")
    summary["failed"] = sorted(failed)
    report.data["summary"] = summary
    report.tables.append(t)
    # which stage a scene waits on there: its busiest thread bounds the run from below
    scenes = {x.name: runs[x.name] for k, x in c
              if x.task.endswith("predict_e2e") and x.name not in failed}  # fmt: skip
    if scenes:
        report.tables.append(
            roles_table("Where each scene's core-seconds go, by thread", scenes, {})
        )
    return report

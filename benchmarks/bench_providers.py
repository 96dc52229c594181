"""Part ``providers``: every ONNX Runtime execution provider this machine offers.

Per provider and model: session creation, first run (engine build, allocations)
and steady-state tiles/s as separate figures, and the full-scene prediction time
with the default model. CUDA and TensorRT (fp32 and fp16) appear when
``onnxruntime-gpu`` and a GPU are present; the OpenVINO provider when
``onnxruntime-openvino`` is installed instead of ``onnxruntime``.
"""

from __future__ import annotations

from benchmarks.context import Context
from benchmarks.harness import Contender, compare, median_of
from benchmarks.report import Report, Table, runs_json

__all__ = ["run"]

_SKIP = {"AzureExecutionProvider"}  # a remote-inference provider, not a local device
_SHORT = {
    "CPUExecutionProvider": "cpu",
    "CUDAExecutionProvider": "cuda",
    "TensorrtExecutionProvider": "tensorrt",
    "OpenVINOExecutionProvider": "openvino",
}


def run(ctx: Context) -> Report:
    """Probe each available provider with the default and the reference model."""
    import onnxruntime as ort

    reps = ctx.n_reps(1)  # the probe averages 10 batches itself
    available = [p for p in ort.get_available_providers() if p not in _SKIP]
    report = Report("providers", "ONNX Runtime execution providers", ctx.quick)
    default, reference = ctx.default_model(), ctx.reference_model()
    shape = ctx.scene_shape(1.0)
    folder = ctx.scene(1.0)
    comp = ctx.composite(folder)
    report.params = {"reps": reps, "available": ort.get_available_providers(),
                     "models": [default.as_dict(), reference.as_dict()]}  # fmt: skip
    n_batches = 2 if ctx.quick else 10
    contenders = []
    for prov in available:
        short = _SHORT.get(prov, prov)
        for spec in (default, reference):
            contenders.append(Contender(
                f"{short}-{spec.key}", "tasks_predict:provider_probe",
                {"model": spec.onnx, "src": str(comp), "provider": short,
                 "n_batches": n_batches if spec is default else max(2, n_batches // 3),
                 "height": shape[0], "width": shape[1], "padding": spec.tile // 4},
            ))  # fmt: skip
        contenders.append(Contender(
            f"{short}-scene", "tasks_predict:predict_e2e",
            {"model": default.onnx, "src": str(folder), "dst": str(ctx.work / "prov.tif"),
             "padding": default.tile // 4, "providers": short},
        ))  # fmt: skip
    runs = compare(contenders, reps, progress=ctx.progress)
    report.data["runs"] = runs_json(runs)
    t = Table(
        f"Per provider, batch 8, median of {reps}",
        ["provider", "model", "session s", "first run s", "steady tiles/s", "ms/tile",
         "scene inference s (est.)", "full scene e2e s", "peak RSS MB"],
    )  # fmt: skip
    for prov in available:
        short = _SHORT.get(prov, prov)
        scene_s = median_of(runs[f"{short}-scene"], "wall_s")
        for spec in (default, reference):
            rs = runs[f"{short}-{spec.key}"]
            t.rows.append([
                prov, spec.label, median_of(rs, "create_s"), median_of(rs, "first_run_s"),
                median_of(rs, "tiles_per_s"), median_of(rs, "ms_per_tile"),
                median_of(rs, "scene_infer_s_est"), scene_s if spec is default else "-",
                median_of(rs, "peak_rss_mb"),
            ])  # fmt: skip
    t.notes.append(
        f"scene inference s (est.) = tiles of a {shape[0]} x {shape[1]} scene at padding "
        "tile/4 / steady tiles/s; full scene e2e s = LSTPredictor.predict_file on the scene "
        "folder with the default model, including session creation"
    )
    missing = [p for p in ("CUDAExecutionProvider", "TensorrtExecutionProvider",
                           "OpenVINOExecutionProvider") if p not in available]  # fmt: skip
    if missing:
        t.notes.append(
            f"not available in this onnxruntime build / on this machine: {', '.join(missing)}"
        )
    report.tables.append(t)
    return report

"""OpenVINO against ONNX Runtime's CPU provider: speed and accuracy on real tiles.

Run it where ``onnxruntime-openvino`` replaces ``onnxruntime`` (the ``openvino``
extra; a separate virtual environment, the two packages cannot share one)::

    python -m benchmarks.openvino_check [--model M.onnx] [--batches 20]

For the CPU provider, OpenVINO in fp32 and OpenVINO with the bf16 inference
precision hint it reports steady-state ms per tile (batch 8, after one warm-up
batch; median of 3 timed rounds) and the largest difference from the CPU
provider's prediction in kelvin (the model's output de-normalised), on real
normalised tiles of the embedded sample. The runtime's CPU default changes to
OpenVINO only if it is faster and within 0.05 K.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np
import onnxruntime as ort

from pix2lst.data import default_model_path, sample_scene_path
from pix2lst.runtime.model import BatchRunner, load_model
from pix2lst.runtime.session import SessionConfig

from .tasks_predict import tile_pool

VARIANTS = (("cpu", None), ("openvino", "fp32"), ("openvino", "bf16"))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default=str(default_model_path()))
    p.add_argument("--batches", type=int, default=20)
    args = p.parse_args()
    if "OpenVINOExecutionProvider" not in ort.get_available_providers():
        raise SystemExit(
            "OpenVINOExecutionProvider is not available: install onnxruntime-openvino "
            "(pip install -e '.[openvino]') in its own environment"
        )
    ref: np.ndarray | None = None
    rows = []
    for provider, precision in VARIANTS:
        loaded = load_model(
            args.model, SessionConfig(providers=provider, openvino_precision=precision)
        )
        meta = loaded.metadata
        runner = BatchRunner(loaded, 8)
        pool = tile_pool(str(sample_scene_path()), meta, 8)
        runner.run(pool, 8)  # warm-up (OpenVINO compiles here)
        rounds = []
        for _ in range(3):
            t0 = time.perf_counter()
            for _ in range(args.batches):
                pred = runner.run(pool, 8)
            rounds.append((time.perf_counter() - t0) / (8 * args.batches))
        kelvin = pred * meta.output_scale + meta.output_offset
        if ref is None:
            ref = kelvin
        row = {
            "provider": loaded.provider,
            "precision": precision or "default",
            "ms_per_tile": 1000 * statistics.median(rounds),
            "max_abs_diff_k": float(np.abs(kelvin - ref).max()),
            "mean_abs_diff_k": float(np.abs(kelvin - ref).mean()),
        }
        rows.append(row)
        print(json.dumps(row))
    base = rows[0]["ms_per_tile"]
    print(
        "| provider | precision | ms/tile (batch 8) | speed vs CPU EP | max abs diff K | mean abs diff K |"
    )
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['provider']} | {r['precision']} | {r['ms_per_tile']:.2f} | "
            f"{base / r['ms_per_tile']:.2f} x | {r['max_abs_diff_k']:.4f} | "
            f"{r['mean_abs_diff_k']:.5f} |"
        )
    print(f"onnxruntime {ort.__version__}")


if __name__ == "__main__":
    main()

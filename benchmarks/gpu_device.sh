#!/usr/bin/env bash
# The whole GPU measurement of issue 11 as one command, for the H200 machine.
#
# Prepared and run here on the CPU provider (the CUDA rows are then skipped with the
# reason); not yet run on a GPU. On the device machine, after the first two parts of
# ../shared/gpu/ were copied (see its README), in the transfer that takes .gpu/part3:
#
#     source .gpu/part3/device_unpack.sh && bash benchmarks/gpu_device.sh
#
# It builds the benchmark scenes there (about a minute: the cache does not travel),
# runs `python -m benchmarks gpu` (ORT-CUDA ceilings with host and device I/O, CUDA
# graphs, end to end from the scene folder with device and host tiling and from the
# composite, CUDA-vs-CPU parity,
# torch-CUDA on the same weights, the CPU provider on all cores with sessions=auto
# and with one session; a contender that fails is reported and the others go on) and
# leaves results/gpu.{md,json} and nvidia-smi's view
# under $OUT, which comes back. REPS (default 1) sets the repetitions; ONLY (e.g.
# ONLY=cuda-scene,cuda-vs-cpu) runs only the contenders whose names hold one of its words.
set -euo pipefail
OUT="${OUT:-/tmp/pix2lst-gpu-out}"
mkdir -p "$OUT"
PY="$(command -v python3 || command -v python)"
{ nvidia-smi || true; } > "$OUT/nvidia-smi.txt" 2>&1
"$PY" -c "import onnxruntime as o; print(o.__version__, o.get_available_providers())" \
    > "$OUT/onnxruntime.txt" 2>&1
"$PY" -m benchmarks gpu --reps "${REPS:-1}" ${ONLY:+--only "$ONLY"} --cache /tmp/pix2lst-bench-cache \
    --out "$OUT/results" 2>&1 | tee "$OUT/gpu.log"

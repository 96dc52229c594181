"""Child tasks of the ``gpu`` part: ORT-CUDA with device I/O, torch on CUDA, CUDA-vs-CPU parity.

* :func:`ort_device_ceiling`: ONNX Runtime on CUDA with the input and output on
  the device (IO binding to CUDA ``OrtValue``s, the input pool uploaded once),
  optionally with ``enable_cuda_graph``: what the GPU needs when nothing else
  is in the way.
* :func:`torch_reference`: the same weights in torch on CUDA (fp32, or fp16 autocast).
* :func:`cuda_parity`: one input predicted through the runtime on CUDA and on the
  CPU provider; largest and mean difference, same nodata.

torch is imported only inside :func:`torch_reference` (the runtime never imports it).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.tasks_predict import tile_pool
from pix2lst.runtime.tiling import TileGrid

__all__ = ["cuda_parity", "ort_device_ceiling", "torch_reference"]


def ort_device_ceiling(
    model: str, src: str, height: int, width: int, padding: int, batch_size: int = 8,
    cuda_graph: bool = False, device_id: int = 0,
) -> dict[str, Any]:  # fmt: skip
    """ORT-CUDA on a scene's worth of tiles with input and output bound on the device."""
    import onnxruntime as ort

    from benchmarks.models import read_metadata

    if hasattr(ort, "preload_dlls"):  # CUDA and cuDNN from pip
        ort.preload_dlls()
    meta = read_metadata(model)
    t0 = time.perf_counter()
    so = ort.SessionOptions()
    so.log_severity_level = 3
    opts: dict[str, Any] = {"device_id": device_id, "cudnn_conv_algo_search": "EXHAUSTIVE"}
    if cuda_graph:
        opts["enable_cuda_graph"] = "1"
    session = ort.InferenceSession(
        model, sess_options=so,
        providers=[("CUDAExecutionProvider", opts), "CPUExecutionProvider"],
    )  # fmt: skip
    grid = TileGrid(height, width, meta.tile_size, padding)
    pool = tile_pool(src, meta, batch_size)
    t = meta.tile_size
    x = ort.OrtValue.ortvalue_from_numpy(pool, "cuda", device_id)
    y = ort.OrtValue.ortvalue_from_shape_and_type(
        (batch_size, 1, t, t), np.float32, "cuda", device_id
    )
    binding = session.io_binding()
    binding.bind_ortvalue_input(session.get_inputs()[0].name, x)
    binding.bind_ortvalue_output(session.get_outputs()[0].name, y)
    for _ in range(3):  # warm-up (and the CUDA graph capture)
        session.run_with_iobinding(binding)
    binding.synchronize_outputs()
    n_batches = -(-grid.n_tiles // batch_size)
    t1 = time.perf_counter()
    for _ in range(n_batches):
        session.run_with_iobinding(binding)
    binding.synchronize_outputs()
    run_s = time.perf_counter() - t1
    return {
        "wall_s": run_s, "run_s": run_s, "setup_s": t1 - t0, "tiles": n_batches * batch_size,
        "tiles_per_s": n_batches * batch_size / run_s, "provider": session.get_providers()[0],
        "cuda_graph": cuda_graph, "batch_size": batch_size,
    }  # fmt: skip


def torch_reference(
    spec: dict[str, Any], src: str, height: int, width: int, padding: int,
    batch_size: int = 8, fp16: bool = False,
) -> dict[str, Any]:  # fmt: skip
    """The same weights in torch on CUDA, input already on the device; tiles/s."""
    import torch

    from benchmarks.models import load_torch, read_metadata

    meta = read_metadata(spec["onnx"])
    net = load_torch(spec).cuda().eval()
    grid = TileGrid(height, width, meta.tile_size, padding)
    x = torch.from_numpy(tile_pool(src, meta, batch_size)).cuda()
    n_batches = -(-grid.n_tiles // batch_size)
    with torch.inference_mode(), torch.autocast("cuda", dtype=torch.float16, enabled=fp16):
        for _ in range(3):
            net(x)
        torch.cuda.synchronize()
        t1 = time.perf_counter()
        for _ in range(n_batches):
            net(x)
        torch.cuda.synchronize()
    run_s = time.perf_counter() - t1
    return {
        "wall_s": run_s, "run_s": run_s, "tiles": n_batches * batch_size,
        "tiles_per_s": n_batches * batch_size / run_s, "fp16": fp16,
        "device": torch.cuda.get_device_name(0),
    }  # fmt: skip


def cuda_parity(
    model: str, src: str, work: str, padding: int, providers: str = "cuda"
) -> dict[str, Any]:
    """``src`` predicted on ``providers`` and on the CPU provider: differences in kelvin."""
    import rasterio

    from pix2lst.runtime import LSTPredictor

    outs = {}
    for prov in (providers, "cpu"):
        dst = Path(work) / f"parity-{prov}.tif"
        p = LSTPredictor(model, providers=prov, padding=padding, sessions=1)
        p.predict_file(src, dst, overwrite=True)
        with rasterio.open(dst) as ds:
            outs[prov] = (ds.read(1), p.provider)
        dst.unlink(missing_ok=True)
    (a, used), (b, _) = outs[providers], outs["cpu"]
    ok = np.isfinite(a) & np.isfinite(b)
    d = np.abs(a[ok].astype(np.float64) - b[ok])
    return {
        "wall_s": 0.0, "provider": used, "max_abs_k": float(d.max()), "mean_abs_k": float(d.mean()),
        "same_nodata": bool((np.isnan(a) == np.isnan(b)).all()), "pixels": int(ok.sum()),
    }  # fmt: skip

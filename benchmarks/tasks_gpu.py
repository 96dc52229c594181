"""Child tasks of the ``gpu`` part: parity between providers, ORT with device I/O, torch.

* :func:`parity`: one scene predicted by the product on ``provider`` and on the CPU
  provider; largest and mean difference in kelvin, same nodata.
* :func:`ort_device_ceiling`: ONNX Runtime alone with input and output bound on the
  provider's device (IO binding to ``OrtValue``s, the tiles uploaded once; on CUDA
  optionally with CUDA graphs): what the device does when nothing else is in the way.
* :func:`torch_reference`: the same weights in torch on the device (fp32, or fp16
  autocast on CUDA), input already there.

``provider`` is ``cuda`` on the GPU machine and ``cpu`` anywhere else, so that every
task runs (and is tested) on any machine. torch is imported only by :func:`torch_reference`.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.models import read_metadata
from benchmarks.tasks import tile_pool

__all__ = ["ort_device_ceiling", "parity", "torch_reference"]


def parity(model: str, src: str, work: str, provider: str = "cuda") -> dict[str, Any]:
    """``src`` predicted on ``provider`` and on the CPU provider: differences in kelvin."""
    import rasterio

    from pix2lst.runtime import LSTPredictor

    outs = {}
    for i, prov in enumerate((provider, "cpu")):
        dst = Path(work) / f"parity-{i}.tif"
        predictor = LSTPredictor(model, providers=prov, sessions=1)
        summary = predictor.predict_file(src, dst, overwrite=True)
        with rasterio.open(dst) as ds:
            outs[i] = (ds.read(1), summary.provider)
        dst.unlink(missing_ok=True)
    (a, used), (b, _) = outs[0], outs[1]
    ok = np.isfinite(a) & np.isfinite(b)
    d = np.abs(a[ok].astype(np.float64) - b[ok])
    return {
        "wall_s": 0.0, "provider": used, "max_abs_k": float(d.max()), "mean_abs_k": float(d.mean()),
        "same_nodata": bool((np.isnan(a) == np.isnan(b)).all()), "pixels": int(ok.sum()),
    }  # fmt: skip


def _tiles(model: str, height: int, width: int, padding: int, batch_size: int) -> tuple[Any, int]:
    """The model's metadata and the batches a ``height`` x ``width`` scene needs."""
    meta = read_metadata(model)
    stride = meta.tile_size - 2 * padding
    n_tiles = -(-height // stride) * -(-width // stride)
    return meta, -(-n_tiles // batch_size)


def ort_device_ceiling(
    model: str, src: str, height: int, width: int, padding: int, batch_size: int = 8,
    provider: str = "cuda", cuda_graph: bool = False,
) -> dict[str, Any]:  # fmt: skip
    """ORT on a scene's worth of batches with input and output bound on the device."""
    import onnxruntime as ort

    if provider == "cuda" and hasattr(ort, "preload_dlls"):  # CUDA and cuDNN from pip
        ort.preload_dlls()
    meta, n_batches = _tiles(model, height, width, padding, batch_size)
    t0 = time.perf_counter()
    device = "cuda" if provider == "cuda" else "cpu"
    providers: list[Any] = ["CPUExecutionProvider"]
    if device == "cuda":
        opts = {"device_id": 0, **({"enable_cuda_graph": "1"} if cuda_graph else {})}
        providers.insert(0, ("CUDAExecutionProvider", opts))
    session = ort.InferenceSession(model, providers=providers)
    pool = tile_pool(src, meta, batch_size)
    t = meta.tile_size
    x = ort.OrtValue.ortvalue_from_numpy(pool, device, 0)
    y = ort.OrtValue.ortvalue_from_shape_and_type((batch_size, 1, t, t), np.float32, device, 0)
    binding = session.io_binding()
    binding.bind_ortvalue_input(session.get_inputs()[0].name, x)
    binding.bind_ortvalue_output(session.get_outputs()[0].name, y)
    for _ in range(3):  # warm-up (and the CUDA graph's capture)
        session.run_with_iobinding(binding)
    binding.synchronize_outputs()
    t1 = time.perf_counter()
    for _ in range(n_batches):
        session.run_with_iobinding(binding)
    binding.synchronize_outputs()
    run_s = time.perf_counter() - t1
    return {
        "wall_s": run_s, "run_s": run_s, "setup_s": t1 - t0, "tiles": n_batches * batch_size,
        "tiles_per_s": n_batches * batch_size / run_s, "provider": session.get_providers()[0],
    }  # fmt: skip


def torch_reference(
    spec: dict[str, Any], src: str, height: int, width: int, padding: int,
    batch_size: int = 8, device: str = "cuda", fp16: bool = False,
) -> dict[str, Any]:  # fmt: skip
    """The same weights in torch on ``device``, input already there; tiles/s."""
    import torch

    from benchmarks.models import load_torch

    meta, n_batches = _tiles(spec["onnx"], height, width, padding, batch_size)
    net = load_torch(spec).to(device).eval()
    x = torch.from_numpy(tile_pool(src, meta, batch_size)).to(device)

    def sync() -> None:
        if device == "cuda":
            torch.cuda.synchronize()

    with torch.inference_mode(), torch.autocast(device, dtype=torch.float16, enabled=fp16):
        for _ in range(3):
            net(x)
        sync()
        t1 = time.perf_counter()
        for _ in range(n_batches):
            net(x)
        sync()
    run_s = time.perf_counter() - t1
    name = torch.cuda.get_device_name(0) if device == "cuda" else "cpu"
    return {
        "wall_s": run_s, "run_s": run_s, "tiles": n_batches * batch_size,
        "tiles_per_s": n_batches * batch_size / run_s, "provider": f"torch {name}",
    }  # fmt: skip

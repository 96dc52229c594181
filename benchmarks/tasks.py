"""Child tasks around the product: end-to-end prediction and the ONNX Runtime ceiling.

* :func:`predict_e2e`: ``LSTPredictor(...).predict_file(src, dst)``, what a user runs,
  with the product's own options only;
* :func:`ort_ceiling`: the same predictor's session alone (``LSTPredictor.run_batch``) on
  as many tiles as the scene needs, already normalised and batched in memory: no reading,
  no blending, no writing; the time the product cannot go below with one session.

Both report wall seconds of the work (``run_s``), set-up seconds, the process's CPU
seconds over the run and the hypervisor's steal time over it.
"""

from __future__ import annotations

import os
import resource
import time
from pathlib import Path
from typing import Any

import numpy as np
import rasterio

__all__ = ["core_seconds", "ort_ceiling", "predict_e2e", "steal_seconds", "tile_pool"]


def core_seconds() -> float:
    """CPU time of this process so far, all threads, user + system (``getrusage``)."""
    use = resource.getrusage(resource.RUSAGE_SELF)
    return use.ru_utime + use.ru_stime


def steal_seconds() -> float:
    """CPU time the hypervisor gave elsewhere while this machine's CPUs wanted it, summed over
    them since boot (``/proc/stat``; NaN where there is none): what a busy host takes from a
    shared VM's figures."""
    try:
        with open("/proc/stat") as fh:
            fields = fh.readline().split()
        return int(fields[8]) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


def tile_pool(composite: str, meta: Any, n: int) -> np.ndarray:
    """``n`` real tiles of normalised model input from the top rows of an 8-band composite."""
    tile = meta.tile_size
    with rasterio.open(composite) as ds:
        names = [d or f"band{i + 1}" for i, d in enumerate(ds.descriptions)]
        order = [names.index(b) + 1 if b in names else i + 1 for i, b in enumerate(meta.bands)]
        rows = ds.read(order, window=((0, min(tile, ds.height)), (0, ds.width)),
                       out_dtype="float32")  # fmt: skip
    scale = np.asarray(meta.input_scale, np.float32)[:, None, None]
    offset = np.asarray(meta.input_offset, np.float32)[:, None, None]
    norm = np.nan_to_num(rows * scale + offset, nan=0.0)
    pad = ((0, 0), (0, tile - norm.shape[1]), (0, max(0, tile - norm.shape[2])))
    norm = np.pad(norm, pad, mode="reflect")
    starts = [(i * tile // 2) % max(1, norm.shape[2] - tile + 1) for i in range(n)]
    return np.stack([norm[:, :, s : s + tile] for s in starts]).astype(np.float32)


def ort_ceiling(
    model: str, src: str, height: int, width: int, padding: int, batch_size: int = 8,
    providers: str = "auto",
) -> dict[str, Any]:  # fmt: skip
    """One session on the tiles of a ``height`` x ``width`` scene, in memory; the run time."""
    from pix2lst.runtime import LSTPredictor

    t0 = time.perf_counter()
    predictor = LSTPredictor(model, providers=providers, batch_size=batch_size, padding=padding,
                             sessions=1)  # fmt: skip
    n_tiles = predictor.grid(height, width).n_tiles
    pool = tile_pool(src, predictor.metadata, 2 * batch_size)
    batches = [pool[:batch_size].copy(), pool[batch_size:].copy()]
    predictor.run_batch(batches[0])  # warm
    t1 = time.perf_counter()
    c0, s0 = core_seconds(), steal_seconds()
    for i, start in enumerate(range(0, n_tiles, batch_size)):
        n = min(batch_size, n_tiles - start)
        predictor.run_batch(batches[i % 2][:n])
    run_s = time.perf_counter() - t1
    mpx = height * width / 1e6
    return {
        "wall_s": run_s, "run_s": run_s, "setup_s": t1 - t0,
        "core_s": core_seconds() - c0, "steal_s": steal_seconds() - s0,
        "tiles": n_tiles, "tiles_per_s": n_tiles / run_s, "mpx": mpx, "mpx_per_s": mpx / run_s,
        "provider": predictor.provider,
    }  # fmt: skip


def predict_e2e(
    model: str, src: str, dst: str, padding: int | None = None, blend: str = "hann",
    batch_size: int | None = None, providers: str = "auto", sessions: int | str = "auto",
    tile_size: int | None = None, keep: bool = False,
) -> dict[str, Any]:  # fmt: skip
    """``LSTPredictor(...).predict_file(src, dst)``: set-up and run seconds, core-s, Mpx/s."""
    from pix2lst.runtime import LSTPredictor

    t0 = time.perf_counter()
    predictor = LSTPredictor(model, providers=providers, batch_size=batch_size, padding=padding,
                             blend=blend, sessions=sessions, tile_size=tile_size)  # fmt: skip
    t1 = time.perf_counter()
    c0, s0 = core_seconds(), steal_seconds()
    summary = predictor.predict_file(src, dst, overwrite=True)
    run_s = time.perf_counter() - t1
    cpu_s = core_seconds() - c0
    if not keep:
        Path(dst).unlink(missing_ok=True)
    mpx = summary.height * summary.width / 1e6
    return {
        "wall_s": time.perf_counter() - t0, "setup_s": t1 - t0, "run_s": run_s,
        "core_s": cpu_s, "steal_s": steal_seconds() - s0, "cores_busy": cpu_s / run_s,
        "sessions": predictor.sessions, "mpx": mpx, "mpx_per_s": mpx / run_s,
        "tiles": summary.tiles, "inference_s": summary.inference_seconds,
        "provider": summary.provider,
    }  # fmt: skip

"""Child task: the runtime's per-strip kernels, Numba against their plain-numpy twins.

One strip of the pipeline is: normalise the strip's rows (``normalise_rows``, once
per pixel) and cut its tiles into model batches (``cut_tiles``), add ``weights * prediction`` into the accumulators
(``accumulate``, the blending proper), and turn finished rows into output
(``finalize_rows``). The input strip holds real DNs of the benchmark scene
(bands B1-B7, B10); predictions are fixed random values (the kernels' cost does
not depend on them). Timings exclude the first call (JIT compilation or cache
load), which is reported separately.

Batches are cut into ``n_batches`` buffers in turn, as the pipeline cycles them (3 on
2 cores: a filler's, a session's, one being blended). ``stores="ordinary"`` recompiles
the Numba tile cut without non-temporal stores (:mod:`pix2lst.runtime.streamed`; in
this child process only), to show what they earn.
"""

from __future__ import annotations

import itertools
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from rasterio.windows import Window

from pix2lst.runtime import kernels, kernels_ref
from pix2lst.runtime.blending import blend_weights
from pix2lst.runtime.buffers import aligned_zeros
from pix2lst.runtime.tiling import TileGrid

__all__ = ["blend_kernels"]

_BANDS = ("B1", "B2", "B3", "B4", "B5", "B6", "B7", "B10")


def _strip(scene: str, tile: int) -> np.ndarray:
    rows = []
    for band in _BANDS:
        with rasterio.open(Path(scene) / f"test_{band}.tif") as ds:
            rows.append(ds.read(1, window=Window(0, 0, ds.width, tile), out_dtype="float32"))
    return np.stack(rows)


def blend_kernels(
    backend: str, scene: str, tile: int, padding: int, strips: int, blend: str = "hann",
    batch_size: int = 8, reps: int = 3, n_batches: int = 3, stores: str = "streamed",
) -> dict[str, Any]:  # fmt: skip
    """Time ``strips`` strips of fill/accumulate/finalize with ``backend`` numba|numpy."""
    norm: Any
    cut: Any
    accum: Any
    final: Any
    valid_fn: Any
    if backend == "numba":
        norm, cut, accum, final, valid_fn = (
            kernels.normalise_rows, kernels.cut_tiles, kernels.accumulate,
            kernels.finalize_rows, kernels.gather_valid,
        )  # fmt: skip
    else:
        norm, cut, accum, final, valid_fn = (
            kernels_ref.normalise_rows_np, kernels_ref.cut_tiles_np, kernels_ref.accumulate_np,
            kernels_ref.finalize_rows_np, kernels_ref.gather_valid_np,
        )  # fmt: skip
    if stores == "ordinary":
        from numba import njit

        from pix2lst.runtime import streamed

        streamed.STREAMING = False  # type: ignore[misc]  # read when the copy compiles
        cut = njit(nogil=True)(kernels.cut_tiles.py_func)  # not the cached, streamed build
    buf = _strip(scene, tile)
    n_bands, _, width = buf.shape
    grid = TileGrid(tile * 8, width, tile, padding)
    rmap = np.arange(tile, dtype=np.int64)
    arows = np.arange(tile, dtype=np.int64)  # accumulator rows (a ring in the pipeline)
    cmap = grid.strip_cols()
    weights = blend_weights(blend, tile, padding)
    scale = np.full(n_bands, 1e-4, np.float32)
    offset = np.full(n_bands, -1.0, np.float32)
    batches = [
        aligned_zeros((batch_size, n_bands, tile, tile), np.float32) for _ in range(n_batches)
    ]
    rng = np.random.default_rng(0)
    preds = rng.uniform(-1, 1, (batch_size, tile, tile)).astype(np.float32)
    acc = np.zeros((tile, grid.padded_width), np.float64)
    wacc = np.zeros_like(acc)
    valid = np.zeros((tile, grid.padded_width), np.uint8)
    row_valid = np.zeros(buf.shape[1:], np.uint8)
    out = np.zeros((grid.stride, width), np.float32)
    resid = np.zeros_like(out)
    starts = np.arange(grid.n_cols, dtype=np.int64) * grid.stride
    chunks = [starts[i : i + batch_size] for i in range(0, len(starts), batch_size)]
    turn = itertools.count()

    def one_strip(times: dict[str, float]) -> None:
        rows = buf.copy()  # normalised in place (the copy is not timed)
        t = time.perf_counter()
        norm(rows, scale, offset, row_valid)  # and each row's validity, as the readers do
        valid_fn(row_valid, rmap, cmap, valid)  # the strip's, as the pipeline gathers it
        tc = time.perf_counter()
        for cs in chunks:
            cut(rows, rmap, cmap, cs, batches[next(turn) % n_batches])
        t1 = time.perf_counter()
        for cs in chunks:
            accum(acc, wacc, preds[: len(cs)], cs, weights, valid, arows, 0, tile)
        t2 = time.perf_counter()
        final(acc, wacc, arows[padding : padding + grid.stride], padding, 50.0, 300.0, 0.0,
              resid, False, out)  # fmt: skip
        t3 = time.perf_counter()
        acc[arows[: grid.stride]] = 0.0  # the finished rows cleared (not timed)
        wacc[arows[: grid.stride]] = 0.0
        times["fill_s"] += t1 - t
        times["cut_s"] += t1 - tc
        times["accumulate_s"] += t2 - t1
        times["finalize_s"] += t3 - t2

    t0 = time.perf_counter()
    one_strip({"fill_s": 0.0, "cut_s": 0.0, "accumulate_s": 0.0, "finalize_s": 0.0})
    first_call_s = time.perf_counter() - t0
    per_rep: list[dict[str, float]] = []
    for _ in range(reps):
        times = {"fill_s": 0.0, "cut_s": 0.0, "accumulate_s": 0.0, "finalize_s": 0.0}
        for _ in range(strips):
            one_strip(times)
        times["blend_s"] = times["accumulate_s"] + times["finalize_s"]
        times["total_s"] = times["blend_s"] + times["fill_s"]
        per_rep.append(times)
    med = {k: statistics.median(r[k] for r in per_rep) for k in per_rep[0]}
    mpx = strips * grid.stride * width / 1e6
    return {
        **med,
        "wall_s": med["total_s"],
        "first_call_s": first_call_s,
        "mpx": mpx,
        "tiles": strips * grid.n_cols,
        "blend_mpx_per_s": mpx / med["blend_s"],
        "fill_mpx_per_s": mpx / med["fill_s"],
        "stores": stores,
        "cut_gb": strips * grid.n_cols * n_bands * tile * tile * 4 / 1e9,
        "n_batches": n_batches,
        "total_mpx_per_s": mpx / med["total_s"],
    }

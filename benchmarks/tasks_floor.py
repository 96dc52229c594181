"""Child task: the null-model pipeline's stages one after another, each alone (its floor).

The pipeline overlaps its stages on threads, and on a small machine they compete for
the same cores and caches. Here each stage runs alone over the whole scene, in this
process sized for one core (``PYTHON_CPU_COUNT=1``: one ONNX Runtime thread, one GDAL
thread), with the product's own code and buffers:

* ``decode``: the 8 bands' DN read in 32-row full-width chunks (``read_dn``: inflating
  the DEFLATE blocks, undoing the predictor, copying into the chunk), as a reader does;
* ``lookup``: those chunks looked up into normalised model input and validity
  (``lookup_rows``), and the residual band's values (``lookup_values``);
* ``cut``, ``accumulate``, ``finalize``: the tile cut into 3 cycling batch buffers, the
  blending and the finished rows, over as many strips as the scene has
  (:func:`benchmarks.tasks_blend.blend_kernels`);
* ``ort``: the null model run on every batch of the scene (``BatchRunner.run``);
* ``write``: the null model's real output (made first, not timed) streamed through
  :func:`~pix2lst.geo.writer.raster_writer` strip by strip (GDAL's compression, the range
  count, the streamed overview pyramid), then ``close``: appending the overviews,
  reading every block back, the rename.

Figures are CPU seconds of the process (all threads: tifffile and the final check
use a few) over each stage. Their sum is what the host side costs with no overlap and
no competition; the pipeline's own core-s can only come near it.
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.tasks_predict import core_seconds, predict_e2e
from pix2lst._machine import OVERRIDE
from pix2lst.runtime.ring import DN_CHUNK as CHUNK  # rows of DN per read, as the readers
from pix2lst.runtime.ring import dn_input_tables, dn_table

__all__ = ["stage_floors"]


def stage_floors(
    model: str, src: str, work: str, padding: int, batch_size: int = 8
) -> dict[str, Any]:
    """Each stage of the null-model pipeline alone over the scene ``src`` (a scene folder)."""
    os.environ[OVERRIDE] = "1"
    from benchmarks.tasks_blend import blend_kernels
    from pix2lst.geo.grid import Grid
    from pix2lst.geo.sources import open_source
    from pix2lst.geo.writer import raster_writer
    from pix2lst.lst_physics import scene_calibrator
    from pix2lst.runtime import LSTPredictor, kernels
    from pix2lst.runtime.predictor import gdal_cache_bytes

    out_dir = Path(work)
    ref = out_dir / "floor-null.tif"
    predict_e2e(model, src, str(ref), padding, providers="cpu", sessions=1, keep=True)

    predictor = LSTPredictor(
        model=model, providers="cpu", sessions=1, padding=padding, batch_size=batch_size
    )
    meta = predictor.metadata
    source = open_source(
        src, meta.bands, meta.input_units, calibrate=scene_calibrator(meta.input_units), threads=1
    )
    figures: dict[str, float] = {}
    try:
        height, width = source.height, source.width
        grid = predictor.grid(height, width)
        scale = np.asarray(meta.input_scale, np.float32)
        offset = np.asarray(meta.input_offset, np.float32)
        values = dn_table(source)
        if values is None:
            raise ValueError(f"{src} is not a scene of DN bands")
        inputs = dn_input_tables(values, scale, offset)
        ri = meta.bands.index(meta.residual_band) if meta.residual_band else -1
        n_bands = len(meta.bands)
        dn = np.empty((n_bands, CHUNK, width), dtype=source.dn_dtype)  # type: ignore[attr-defined]
        rows = np.empty((n_bands, CHUNK, width), dtype=np.float32)
        valid = np.empty((CHUNK, width), dtype=np.uint8)
        resid = np.empty((CHUNK, width), dtype=np.float32)
        # first calls (Numba's cache load, for whole and partial chunks) outside the timings
        for m in (2, CHUNK):
            kernels.lookup_rows(dn[:, :m], inputs, rows[:, :m], valid[:m])
            kernels.lookup_values(dn[ri, :m], values[ri], resid[:m])
        decode = lookup = 0.0
        for a in range(0, height, CHUNK):
            m = min(CHUNK, height - a)
            c = core_seconds()
            source.read_dn(a, a + m, (0, width), dn[:, :m])  # type: ignore[attr-defined]
            c1 = core_seconds()
            kernels.lookup_rows(dn[:, :m], inputs, rows[:, :m], valid[:m])
            if ri >= 0:
                kernels.lookup_values(dn[ri, :m], values[ri], resid[:m])
            c2 = core_seconds()
            decode += c1 - c
            lookup += c2 - c1
        figures["decode"], figures["lookup"] = decode, lookup
    finally:
        source.close()

    blend = blend_kernels(
        "numba", src, grid.tile, padding, strips=grid.n_rows, batch_size=batch_size, reps=1
    )
    # blend_kernels' strips have the scene's width and as many tiles per strip
    figures["cut"] = blend["cut_s"]
    figures["accumulate"] = blend["accumulate_s"]
    figures["finalize"] = blend["finalize_s"]

    runner = predictor.runners[0]
    batch = runner.new_batch()
    n_batches = math.ceil(grid.n_tiles / batch_size)
    runner.run(batch, batch_size)  # first run outside the timing
    c = core_seconds()
    for _ in range(n_batches):
        runner.run(batch, batch_size)
    figures["ort"] = core_seconds() - c

    import rasterio

    with rasterio.open(ref) as ds:
        lst = ds.read(1)
        grid_out = Grid(ds.crs, ds.transform, ds.width, ds.height)
        tags = ds.tags()
        units = ds.units
    dst = out_dir / "floor-write.tif"
    stride = grid.stride
    c = core_seconds()
    t = time.perf_counter()
    # GDAL's block cache bounded as predict_file bounds it (the input blocks are decoded
    # by geo.decode): GDAL compresses blocks as they leave the cache, during the rows' writes
    with (
        rasterio.Env(GDAL_CACHEMAX=gdal_cache_bytes(0, grid_out.width)),
        raster_writer(dst, grid_out, units=units, tags=tags, overwrite=True, threads=1) as sink,
    ):
        for a in range(0, grid_out.height, stride):
            sink.write_rows(a, lst[a : a + stride])
        c_end = core_seconds()  # the block's end: overviews appended, read back, renamed
    figures["write"] = c_end - c
    figures["close"] = core_seconds() - c_end
    write_wall = time.perf_counter() - t
    dst.unlink(missing_ok=True)
    ref.unlink(missing_ok=True)
    total = sum(figures.values())
    return {
        "stages": figures,
        "total_core_s": total,
        "tiles": grid.n_tiles,
        "batches": n_batches,
        "write_wall_s": write_wall,
        "shape": [height, width],
    }

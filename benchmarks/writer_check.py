"""Time the one writer on a full-size Landsat LST (7,811 x 7,681 float32), 512-row strips.

Usage: PYTHONPATH=<checkout> python benchmarks/writer_check.py [on|off] (the LST range check;
without an argument the writer's defaults). Best of 3 (temporary folders under /tmp)."""

import inspect
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from affine import Affine
from rasterio.crs import CRS

from pix2lst.geo.grid import Grid
from pix2lst.geo.writer import raster_writer

H, W = 7811, 7681
grid = Grid(CRS.from_epsg(32616), Affine(30, 0, 400000, 0, -30, 3400000), W, H)
rows = np.arange(512, dtype=np.float32)[:, None]
cols = np.arange(W, dtype=np.float32)[None, :]
kw = {}
if "check_range" in inspect.signature(raster_writer).parameters and len(sys.argv) > 1:
    kw["check_range"] = sys.argv[1] == "on"
reps = []
for _ in range(3):
    d = tempfile.mkdtemp(dir="/tmp")
    t0 = time.perf_counter()
    with raster_writer(Path(d) / "lst.tif", grid, units=("K",), **kw) as w:
        for r in range(0, H, 512):
            n = min(512, H - r)
            strip = 290 + 10 * np.sin((rows[:n] + r) / 300) * np.cos(cols / 200)
            w.write_rows(r, strip.astype(np.float32))
    reps.append(time.perf_counter() - t0)
print(sys.argv[1:] or ["default"], f"best of 3: {min(reps):.2f} s", [f"{x:.2f}" for x in reps])

"""The writer's end on a full scene: wall and core-seconds of a whole ``raster_writer`` block.

A 7821 x 7661 float32 LST raster streamed in 128-row strips through ``write_rows``
(``threads=1``), constant (the null model) or noisy (300 K + N(0, 3 K), NaN in a 400 px
border); medians of ``--repeat`` runs, the file size, and the overviews alone (GDAL's
``build_overviews(average)`` on the closed file, or the streamed pyramid + append).

    python benchmarks/writer_end.py            # this checkout's pix2lst
    PYTHONPATH=/path/to/old/checkout python benchmarks/writer_end.py   # another one
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from functools import partial
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from rasterio.crs import CRS
from rasterio.enums import Resampling

from pix2lst.geo import writer as writer_mod
from pix2lst.geo.grid import Grid
from pix2lst.geo.writer import overview_factors, raster_writer

H, W, STRIP = 7821, 7661, 128
GRID = Grid(CRS.from_epsg(32616), Affine(30.0, 0, 400_000.0, 0, -30.0, 3_400_000.0), W, H)


def strips(kind: str) -> list[np.ndarray]:
    if kind == "constant":
        full = np.full((H, W), 300.0, dtype=np.float32)
    else:
        full = (300 + 3 * np.random.default_rng(0).standard_normal((H, W))).astype(np.float32)
        border = np.ones((H, W), dtype=bool)
        border[400:-400, 400:-400] = False
        full[border] = np.nan
    return [full[s : s + STRIP] for s in range(0, H, STRIP)]


def timed(fn) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    t, c = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - t, time.process_time() - c


END: list[tuple[float, float]] = []
"""Wall and core-seconds from the last write_rows to the end of the block, per run."""


def write(path: Path, data: list[np.ndarray], **kw: object) -> None:
    with raster_writer(path, GRID, units=("K",), overwrite=True, threads=1, **kw) as w:  # type: ignore[arg-type]
        for k, a in enumerate(data):
            w.write_rows(k * STRIP, a)
        t, c = time.perf_counter(), time.process_time()
    END.append((time.perf_counter() - t, time.process_time() - c))


def overviews_alone(folder: Path, data: list[np.ndarray]) -> tuple[float, float]:
    base = folder / "base.tif"
    write(base, data, overviews=False)
    copy = folder / "copy.tif"
    shutil.copy(base, copy)
    factors = overview_factors(H, W)
    if hasattr(writer_mod, "OverviewStream"):  # streamed: the pyramid + the append
        from pix2lst.geo.overviews import OverviewStream, append_overviews

        def run() -> None:
            stream = OverviewStream(H, W, factors, folder)
            for k, a in enumerate(data):
                stream.add(k * STRIP, a)
            append_overviews(copy, stream, block=256)
            stream.close()

    else:

        def run() -> None:
            with rasterio.Env(GDAL_NUM_THREADS="ALL_CPUS"), rasterio.open(copy, "r+") as ds:
                ds.build_overviews(factors, Resampling.average)

    return timed(run)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(dir=Path(__file__).parent) as tmp:
        folder = Path(tmp)
        for kind in ("constant", "noisy"):
            data = strips(kind)
            runs = [timed(partial(write, folder / "lst.tif", data)) for _ in range(args.repeat + 1)]
            runs = runs[1:]  # the first warms up (imports, GDAL, Numba's cache)
            ends = END[-args.repeat :]
            size = (folder / "lst.tif").stat().st_size
            ovr = [overviews_alone(folder, data) for _ in range(args.repeat)]
            print(
                f"{kind:8s} whole block {statistics.median(r[0] for r in runs):.2f} s wall "
                f"{statistics.median(r[1] for r in runs):.2f} core-s (its end "
                f"{statistics.median(r[0] for r in ends):.2f} s wall "
                f"{statistics.median(r[1] for r in ends):.2f} core-s), {size / 2**20:.1f} MiB; "
                f"overviews alone {statistics.median(r[0] for r in ovr):.2f} s wall "
                f"{statistics.median(r[1] for r in ovr):.2f} core-s"
            )


if __name__ == "__main__":
    main()

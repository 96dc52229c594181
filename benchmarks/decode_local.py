"""Ad hoc: read 8 bands in full-width strips with geo.decode.BlockReader vs rasterio.

``python -m benchmarks.decode_local [scene folder] [--reps 3] [--rows 128]``: each band
B1-B7, B10 read strip by strip (one band after another, one thread) into one reused
strip buffer; prints core-s (process CPU time) and wall per repetition and the medians.
rasterio runs with NUM_THREADS=1 (its default block cache keeps each tile decoded once).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import rasterio
from rasterio.windows import Window

from pix2lst.geo.decode import BlockReader

BANDS = ("B1", "B2", "B3", "B4", "B5", "B6", "B7", "B10")
DEFAULT = Path(__file__).parent / "cache" / "scenes" / "mirror_7821x7661"


def with_blocks(paths: list[Path], rows: int) -> int:
    total = 0
    for path in paths:
        reader = BlockReader.open(path)
        if reader is None:
            raise SystemExit(f"{path}: BlockReader declined it (see DEBUG log)")
        with reader:
            buf = np.empty((rows, reader.width), reader.dtype)
            for r0 in range(0, reader.height, rows):
                r1 = min(r0 + rows, reader.height)
                reader.read(r0, r1, 0, reader.width, buf[: r1 - r0])
                total += int(buf[0, 0])
    return total


def with_rasterio(paths: list[Path], rows: int) -> int:
    total = 0
    with rasterio.Env(NUM_THREADS=1, GDAL_NUM_THREADS=1):
        for path in paths:
            with rasterio.open(path) as ds:
                buf = np.empty((rows, ds.width), ds.dtypes[0])
                for r0 in range(0, ds.height, rows):
                    r1 = min(r0 + rows, ds.height)
                    ds.read(1, window=Window(0, r0, ds.width, r1 - r0), out=buf[: r1 - r0])
                    total += int(buf[0, 0])
    return total


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("scene", nargs="?", type=Path, default=DEFAULT)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--rows", type=int, default=128)
    args = parser.parse_args()
    paths = [args.scene / f"test_{band}.tif" for band in BANDS]
    runs: dict[str, list[tuple[float, float]]] = {"BlockReader": [], "rasterio": []}
    check = {}
    for rep in range(args.reps):
        for name, fn in (("BlockReader", with_blocks), ("rasterio", with_rasterio)):
            c0, w0 = time.process_time(), time.perf_counter()
            check[name] = fn(paths, args.rows)
            cpu, wall = time.process_time() - c0, time.perf_counter() - w0
            runs[name].append((cpu, wall))
            print(f"rep {rep} {name:12s} {cpu:6.2f} core-s {wall:6.2f} s wall", flush=True)
    if len(set(check.values())) != 1:
        raise SystemExit(f"the two readers disagree: {check}")
    for name, values in runs.items():
        cpu = statistics.median(v[0] for v in values)
        wall = statistics.median(v[1] for v in values)
        print(f"median {name:12s} {cpu:6.2f} core-s {wall:6.2f} s wall")


if __name__ == "__main__":
    main()

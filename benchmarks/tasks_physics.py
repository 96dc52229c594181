"""Child tasks: the physics chain, Numba kernels against their plain-numpy twins.

* :func:`lst_kernels`: ``compute_lst`` on whole bands B4, B5, B10 held in memory
  (DN -> radiance -> BT, reflectance -> NDVI -> emissivity -> LST) and
  ``calibrate_composite`` on an 8-band 512-row strip, with ``engine`` numba|numpy.
* :func:`write_scene`: ``write_lst`` or ``write_composite`` of a scene folder, end
  to end (reading compressed bands, writing a compressed GeoTIFF), as users run them.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from rasterio.windows import Window

import pix2lst.lst_physics as physics
from pix2lst.lst_physics.calibrate import Engine

__all__ = ["lst_kernels", "write_scene"]


def _timed(fn: Any, reps: int) -> tuple[float, float]:
    t = time.perf_counter()
    fn()
    first = time.perf_counter() - t
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return first, statistics.median(times)


def _read(path: Path | str) -> np.ndarray:
    with rasterio.open(path) as ds:
        return ds.read(1)


def lst_kernels(engine: str, scene: str, reps: int = 3) -> dict[str, Any]:
    """Mpx/s of the LST chain (whole scene in RAM) and of the composite calibration."""
    sc = physics.find_scene(scene)
    eng: Engine = "numba" if engine == "numba" else "numpy"
    red, nir, tir = (_read(sc.band_path(name)) for name in ("B4", "B5", "B10"))
    h, w = red.shape
    first, lst_s = _timed(lambda: physics.compute_lst(red, nir, tir, sc, engine=eng), reps)
    red = nir = tir = np.empty(0, np.uint16)  # free the bands before the next kernel
    strip = min(512, h)
    dn = []
    for name in physics.COMPOSITE_BANDS:
        with rasterio.open(sc.band_path(name)) as ds:
            dn.append(ds.read(1, window=Window(0, 0, w, strip)))
    stack = np.stack(dn)
    cfirst, cal_s = _timed(
        lambda: physics.calibrate_composite(stack, physics.COMPOSITE_BANDS, sc, "toa", engine=eng),
        reps,
    )
    mpx = h * w / 1e6
    return {
        "wall_s": lst_s,
        "lst_s": lst_s,
        "lst_first_s": first,
        "lst_mpx_per_s": mpx / lst_s,
        "calibrate_s": cal_s,
        "calibrate_first_s": cfirst,
        "calibrate_mpx_per_s": strip * w / 1e6 / cal_s,
        "mpx": mpx,
    }


def write_scene(product: str, scene: str, dst: str) -> dict[str, Any]:
    """``write_lst`` (product ``lst``) or ``write_composite`` (``composite``) end to end."""
    t0 = time.perf_counter()
    if product == "lst":
        physics.write_lst(scene, dst, overwrite=True)
    else:
        physics.write_composite(scene, dst, units="toa", overwrite=True)
    wall = time.perf_counter() - t0
    with rasterio.open(dst) as ds:
        h, w = ds.height, ds.width
        size_mb = Path(dst).stat().st_size / 1e6
    Path(dst).unlink(missing_ok=True)
    return {"wall_s": wall, "run_s": wall, "mpx": h * w / 1e6, "mpx_per_s": h * w / 1e6 / wall,
            "output_mb": size_mb}  # fmt: skip

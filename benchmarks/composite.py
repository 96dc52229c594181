"""The 8-band TOA composite of a benchmark scene, as ``pix2lst composite --units toa`` writes it.

Uses the physics chain's own writer when :mod:`pix2lst.lst_physics` offers one;
otherwise calibrates strip by strip through the runtime's scene reader (which
calls the physics calibration) and writes a tiled, DEFLATE-compressed float32
GeoTIFF with the band names in the band descriptions.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio
from rasterio.windows import Window

__all__ = ["COMPOSITE_BANDS", "write_composite_toa"]

COMPOSITE_BANDS = ("B1", "B2", "B3", "B4", "B5", "B6", "B7", "B10")


def write_composite_toa(folder: Path, dst: Path) -> None:
    """Write the TOA composite of scene ``folder`` to ``dst`` (atomically)."""
    import pix2lst.lst_physics as physics

    writer = getattr(physics, "write_composite", None)
    if writer is not None:
        writer(folder, dst, units="toa")
        return
    from pix2lst._io import atomic_output
    from pix2lst.runtime.sources import SceneSource

    source = SceneSource(folder, COMPOSITE_BANDS, "toa")
    profile = {
        "driver": "GTiff", "height": source.height, "width": source.width,
        "count": len(COMPOSITE_BANDS), "dtype": "float32", "crs": source.crs,
        "transform": source.transform, "nodata": np.nan, "tiled": True, "blockxsize": 512,
        "blockysize": 512, "compress": "deflate", "predictor": 3, "interleave": "band",
        "bigtiff": "if_safer", "num_threads": "all_cpus",
    }  # fmt: skip
    try:
        with atomic_output(dst, overwrite=True) as tmp, rasterio.open(tmp, "w", **profile) as out:
            for i, name in enumerate(COMPOSITE_BANDS, start=1):
                out.set_band_description(i, name)
            for r0 in range(0, source.height, 512):
                r1 = min(source.height, r0 + 512)
                out.write(source.read_rows(r0, r1), window=Window(0, r0, source.width, r1 - r0))
    finally:
        source.close()

"""Worked example 1: land surface temperature of one Landsat scene with the physics chain.

    python docs/examples/01_physics_lst.py [SCENE] [OUT_DIR]

SCENE is a Landsat-8/9 scene folder or its MTL file (Level-1 or Level-2; default:
the sample embedded in pix2lst). Writes into OUT_DIR (default ``example-output/01``):

- ``lst.tif``: LST in kelvin, clouds masked (band unit K, tags SCENE_ID, DATE_ACQUIRED,
  METHOD, ...), with overviews, ready for QGIS;
- ``lst.png``: a map of it (°C colour bar, coordinates, scale bar, north arrow) with a
  world file ``lst.pgw`` beside it, so a GIS can place the PNG too.

The same from the shell:

    pix2lst physics SCENE -o lst.tif --mask-clouds
    pix2lst quicklook lst.tif -o lst.png
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import rasterio

from pix2lst.data import sample_scene_path
from pix2lst.lst_physics import write_lst
from pix2lst.viz import quicklook


def main(scene: Path, out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    # Single-channel LST from B10 brightness temperature and NDVI emissivity (Sobrino);
    # cloud, shadow and cirrus pixels (QA_PIXEL, or BQA in older scenes) become nodata.
    lst = write_lst(scene, out_dir / "lst.tif", mask_clouds=True, overwrite=True)

    with rasterio.open(lst) as src:
        values = src.read(1)  # float32 kelvin, NaN = nodata (fill or cloud)
        tags = src.tags()
    clear = np.isfinite(values)
    celsius = values[clear] - 273.15
    print(f"scene {tags['SCENE_ID']}, acquired {tags['DATE_ACQUIRED']}, method {tags['METHOD']}")
    print(
        f"clear pixels: {clear.mean():.0%}; LST {np.percentile(celsius, 2):.1f} to "
        f"{np.percentile(celsius, 98):.1f} °C (2-98 %), median {np.median(celsius):.1f} °C"
    )

    png = quicklook(lst, out_dir / "lst.png", overwrite=True)  # cmap="viridis" etc. also work
    print(f"wrote {lst} and {png} (+ {png.with_suffix('.pgw').name})")


if __name__ == "__main__":
    scene = Path(sys.argv[1]) if len(sys.argv) > 1 else sample_scene_path()
    out_dir = Path(sys.argv[2]) if len(sys.argv) > 2 else Path("example-output/01")
    main(scene, out_dir)

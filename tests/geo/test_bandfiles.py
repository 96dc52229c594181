"""The file sources read through GDAL: windows, rows and DN agree, reopened handles read the
same in their own threads, and a decoder name other than GDAL's is one line."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
from rasterio.windows import Window

from pix2lst.errors import ParameterError

BANDS = ("B1", "B2", "B3", "B4", "B5", "B6", "B7", "B10")


def test_sources_read_what_gdal_reads(sample_scene: Path, tmp_path: Path) -> None:
    # "auto" and "gdal" both read through GDAL: the same DN, values and windows, and the
    # scene's DN are the band files' own
    from pix2lst.geo.inputs import find_scene
    from pix2lst.geo.sources import open_source
    from pix2lst.lst_physics import scene_calibrator
    from pix2lst.lst_physics import write_composite as physics_composite

    comp = physics_composite(sample_scene, tmp_path / "c.tif")
    for src in (sample_scene, comp):
        opened = [
            open_source(src, BANDS, "toa", calibrate=scene_calibrator("toa"), decoder=d)
            for d in ("auto", "gdal")
        ]
        auto, gdal = opened
        try:
            np.testing.assert_array_equal(auto.read_rows(3, 200), gdal.read_rows(3, 200))
            window = Window(100, 50, 300, 77)
            a = np.empty((len(BANDS), 77, 300), np.float32)
            b = np.empty_like(a)
            auto.read(window, out=a)  # type: ignore[attr-defined]
            gdal.read(window, out=b)  # type: ignore[attr-defined]
            np.testing.assert_array_equal(a, b)
            np.testing.assert_array_equal(a, auto.read_rows(50, 127)[:, :, 100:400])
            if hasattr(auto, "read_dn"):
                x = np.empty((len(BANDS), 60, 200), auto.dn_dtype)  # type: ignore[attr-defined]
                auto.read_dn(10, 70, (400, 600), x)  # type: ignore[attr-defined]
                scene = find_scene(sample_scene)
                for i, band in enumerate(BANDS):
                    with rasterio.open(scene.band_path(band)) as ds:
                        np.testing.assert_array_equal(
                            x[i], ds.read(1, window=Window(400, 10, 200, 60))
                        )
        finally:
            for each in opened:
                each.close()
    with pytest.raises(ParameterError, match="decoder must be one of auto, gdal"):
        open_source(sample_scene, BANDS, calibrate=scene_calibrator("toa"), decoder="tiff")


def test_reopened_sources_read_the_same_in_their_own_threads(
    sample_scene: Path, tmp_path: Path
) -> None:
    # parallel readers take handles from reopen(): the scene and calibration are shared,
    # only files are opened (in the handle's own thread, on first use). Each handle reads
    # in its own thread and is closed by this thread; the original keeps working after
    # its copies are closed
    from pix2lst.geo.sources import open_source
    from pix2lst.lst_physics import scene_calibrator
    from pix2lst.lst_physics import write_composite as physics_composite

    comp = physics_composite(sample_scene, tmp_path / "c.tif")
    window = Window(37, 20, 400, 150)
    for src in (sample_scene, comp):
        first = open_source(src, BANDS, "toa", calibrate=scene_calibrator("toa"))
        try:
            want = first.read(window)  # type: ignore[attr-defined]
            copies = [first.reopen() for _ in range(3)]  # type: ignore[attr-defined]

            def read(copy: Any) -> Any:
                return copy.read(window, out=np.empty((len(BANDS), 150, 400), np.float32))

            with ThreadPoolExecutor(len(copies)) as pool:  # read in threads other than this one
                got = list(pool.map(read, copies))
            for g in got:
                np.testing.assert_array_equal(g, want)
            for c in copies:
                c.close()
            np.testing.assert_array_equal(first.read(window), want)  # type: ignore[attr-defined]
        finally:
            first.close()

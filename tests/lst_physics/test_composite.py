"""The 8-band composite: writer, window reader, the three training scenes, bad input."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.windows import Window

from pix2lst.errors import BandNotFoundError, OutputExistsError
from pix2lst.lst_physics import (
    COMPOSITE_BANDS,
    calibrate_composite,
    find_scene,
    open_composite,
    write_composite,
)
from tests.conftest import shared_scene


def test_sample_composite(sample_scene: Path, tmp_path: Path) -> None:
    out = write_composite(sample_scene, tmp_path / "c.tif")
    sc = find_scene(sample_scene)
    dn = np.stack([rasterio.open(sc.band_path(b)).read(1) for b in COMPOSITE_BANDS])
    with rasterio.open(out) as ds, rasterio.open(sc.band_path("B1")) as ref:
        assert ds.count == 8 and ds.descriptions == COMPOSITE_BANDS
        assert ds.dtypes == ("float32",) * 8 and math.isnan(ds.nodata)
        assert ds.crs == ref.crs and ds.transform == ref.transform
        assert ds.tags()["UNITS"] == "toa" and ds.tags()["BANDS"] == ",".join(COMPOSITE_BANDS)
        assert ds.units[0] == "TOA reflectance" and ds.units[7].startswith("K")
        data = ds.read()
    np.testing.assert_array_equal(data, calibrate_composite(dn, COMPOSITE_BANDS, sc))
    assert 0 < np.nanmin(data[:7]) and np.nanmax(data[:7]) < 1.2  # reflectance
    assert 240 < np.nanmin(data[7]) and np.nanmax(data[7]) < 320  # BT in K


def test_sample_composite_dn(sample_scene: Path, tmp_path: Path) -> None:
    out = write_composite(sample_scene, tmp_path / "c.tif", units="dn")
    with rasterio.open(out) as ds:
        np.testing.assert_array_equal(
            ds.read(8), rasterio.open(sample_scene / "test_B10.tif").read(1)
        )


def test_reader_matches_file(sample_scene: Path, tmp_path: Path) -> None:
    out = write_composite(sample_scene, tmp_path / "c.tif")
    w = Window(100, 50, 64, 33)
    with open_composite(sample_scene) as r, rasterio.open(out) as ds:
        assert (r.width, r.height) == (ds.width, ds.height) and r.crs == ds.crs
        np.testing.assert_array_equal(r.read(w), ds.read(window=w))
        edge = r.read(Window(-8, -8, 16, 16), boundless=True)
        assert np.isnan(edge[:, :8, :]).all() and np.isfinite(edge[:, 8:, 8:]).all()


def test_maui_landsat9(tmp_path: Path) -> None:
    folder = shared_scene("LC09_L1TP_063046_20230714_20230714_02_T1")
    out = write_composite(folder, tmp_path / "c.tif")
    with rasterio.open(out) as ds:
        data = ds.read()
        assert ds.tags()["SPACECRAFT"] == "LANDSAT_9"
    assert np.isfinite(data).all()
    assert 285 < np.nanmedian(data[7]) < 320  # Maui in July, BT with the L9 K1/K2


def test_l2_composite_is_surface_reflectance(tmp_path: Path) -> None:
    folder = shared_scene("LC08_L2SP_005009_20150710_fullscene_515m")
    out = write_composite(folder, tmp_path / "c.tif")
    sc = find_scene(folder)
    with (
        rasterio.open(out) as ds,
        rasterio.open(sc.band_path("SR_B4")) as sr,
        rasterio.open(sc.band_path("ST_TRAD")) as tr,
    ):
        assert "surface reflectance" in ds.tags()["CALIBRATION"]
        data, red, trad = ds.read(), sr.read(1), tr.read(1)
    ok = red > 0
    np.testing.assert_allclose(data[3][ok], red[ok] * 2.75e-5 - 0.2, rtol=1e-6)
    assert np.isnan(data[3][~ok]).all()
    valid = trad != -9999
    bt = 1321.0789 / np.log(774.8853 / (trad[valid] * 0.001) + 1)
    np.testing.assert_allclose(data[7][valid], bt, rtol=1e-6)
    assert np.isnan(data[7][~valid]).all()
    dn = write_composite(folder, tmp_path / "d.tif", units="dn")
    with rasterio.open(dn) as ds:
        b10 = ds.read(8)
    np.testing.assert_allclose(b10[valid], (trad[valid] * 0.001 - 0.1) / 3.342e-4, rtol=1e-5)


def test_composite_errors(sample_scene: Path, tmp_path: Path) -> None:
    folder = tmp_path / "s"
    folder.mkdir()
    (folder / "test_MTL.txt").write_text((sample_scene / "test_MTL.txt").read_text())
    for b in ("B1", "B2", "B3", "B4", "B5", "B6", "B7"):
        (folder / f"test_{b}.tif").write_bytes((sample_scene / f"test_{b}.tif").read_bytes())
    with pytest.raises(BandNotFoundError, match="band B10 not found"):
        write_composite(folder, tmp_path / "c.tif")
    (tmp_path / "c.tif").write_bytes(b"")
    with pytest.raises(OutputExistsError):
        write_composite(sample_scene, tmp_path / "c.tif")
    with pytest.raises(ValueError, match="3 bands"):
        calibrate_composite(
            np.zeros((2, 4, 4), np.uint16), ("B1", "B2", "B10"), find_scene(sample_scene)
        )

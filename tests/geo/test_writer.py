"""The one writer: profile, band unit and description, tags, overviews, COG, creation options,
verified before the rename, nothing left behind on failure."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.crs import CRS
from rasterio.enums import Resampling
from rasterio.windows import Window

from pix2lst.errors import ImplausibleDataError, OutputExistsError, OutputWriteError
from pix2lst.geo import writer as writer_mod
from pix2lst.geo.grid import Grid
from pix2lst.geo.plausible import lst_range_count
from pix2lst.geo.writer import overview_factors, raster_writer

GRID = Grid(CRS.from_epsg(32616), Affine(30.0, 0, 400_000.0, 0, -30.0, 3_400_000.0), 600, 520)


def _values() -> np.ndarray:
    v = np.linspace(280, 320, GRID.width * GRID.height, dtype=np.float32)
    return v.reshape(GRID.height, GRID.width)


def test_overview_factors() -> None:
    assert overview_factors(200, 250) == []
    assert overview_factors(520, 600) == [2, 4]
    assert overview_factors(7821, 7661) == [2, 4, 8, 16, 32]


def test_writes_unit_description_tags_and_overviews(tmp_path: Path) -> None:
    out = tmp_path / "lst.tif"
    with raster_writer(out, GRID, units=("K",), tags={"SCENE_ID": "X"}) as w:
        w.write_rows(0, _values()[:300])
        w.write_rows(300, _values()[300:])
    with rasterio.open(out) as ds:
        assert ds.units == ("K",) and ds.descriptions == ("LST",)
        assert ds.tags()["SCENE_ID"] == "X" and ds.overviews(1) == [2, 4]
        assert ds.profile["compress"] == "zstd" and ds.crs == GRID.crs
        np.testing.assert_array_equal(ds.read(1), _values())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lst.tif"]


def noisy(h: int, w: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    a = (300 + 3 * rng.standard_normal((h, w))).astype(np.float32)
    a[:, :5] = np.nan  # a NaN border, as a scene's corners
    a[rng.uniform(size=a.shape) < 0.05] = np.nan
    return a


def _overview(path: Path, lvl: int) -> np.ndarray:
    with rasterio.open(path, OVERVIEW_LEVEL=lvl) as ds:
        return ds.read(1)


def test_overviews_are_gdals_nan_aware_average(tmp_path: Path) -> None:
    # the overviews are GDAL's AVERAGE (NaN left out of the means, as GDAL does it): the
    # same as GDAL building them on a copy without overviews; written in any order
    a = noisy(GRID.height, GRID.width, seed=3)
    out = tmp_path / "lst.tif"
    with raster_writer(out, GRID, units=("K",)) as w:
        w.write(a[256:], Window(0, 256, GRID.width, GRID.height - 256))  # out of order
        w.write(a[None, :256], Window(0, 0, GRID.width, 256))  # a (1, h, w) window
    gdal = tmp_path / "gdal.tif"
    with raster_writer(gdal, GRID, overviews=False) as w:
        w.write_rows(0, a)
    with rasterio.open(gdal, "r+") as ds:
        assert ds.overviews(1) == []
        ds.build_overviews([2, 4], Resampling.average)
    with rasterio.open(out) as ds:
        assert ds.overviews(1) == [2, 4] and ds.tags(ns="rio_overview")["resampling"] == "average"
        np.testing.assert_array_equal(ds.read(1), a)
    for lvl in (0, 1):
        ours = _overview(out, lvl)
        np.testing.assert_array_equal(ours, _overview(gdal, lvl))
        f = 2 ** (lvl + 1)
        assert ours.shape == (-(-GRID.height // f), -(-GRID.width // f))
        assert np.isnan(ours[:, : 5 // f]).all()  # all-NaN blocks stay NaN
        assert np.isfinite(ours[:, 5 // f + 1 :]).mean() > 0.99  # NaN left out of the means
    block = a[:2, 6:8]  # one level-0 pixel away from the border: the mean of its valid pixels
    np.testing.assert_allclose(_overview(out, 0)[0, 3], np.nanmean(block), rtol=1e-6)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gdal.tif", "lst.tif"]


def test_the_callers_check_sees_every_write_and_refuses(tmp_path: Path) -> None:
    # the writer holds no rule of its own: an implausible LST passes without a check, and
    # the caller's check refuses it, nothing written
    cold = np.full((GRID.height, GRID.width), 20.0, np.float32)  # 20 K: implausible
    with raster_writer(tmp_path / "free.tif", GRID, units=("K",)) as w:
        w.write_rows(0, cold)
    check = lst_range_count("K")
    assert check is not None
    with pytest.raises(ImplausibleDataError, match=r"the LST written to .*cold\.tif"):
        with raster_writer(tmp_path / "cold.tif", GRID, units=("K",), check=check) as w:
            w.write_rows(0, cold[:100])
            w.write(cold[100:], Window(0, 100, GRID.width, GRID.height - 100))
    assert check.valid == check.outside == GRID.width * GRID.height
    assert sorted(p.name for p in tmp_path.iterdir()) == ["free.tif"]


def test_cog_and_creation_options(tmp_path: Path) -> None:
    from rio_cogeo.cogeo import cog_validate

    with raster_writer(tmp_path / "c.tif", GRID, units=("degC",), cog=True) as w:
        w.write(_values() - np.float32(273.15), Window(0, 0, GRID.width, GRID.height))
    assert cog_validate(str(tmp_path / "c.tif"))[0]
    with raster_writer(tmp_path / "d.tif", GRID, creation_options=["COMPRESS=DEFLATE"]) as w:
        w.write(_values(), Window(0, 0, GRID.width, GRID.height))
    with rasterio.open(tmp_path / "d.tif") as ds:
        assert ds.profile["compress"] == "deflate"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.tif", "d.tif"]


def test_failed_verification_keeps_the_old_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "lst.tif"
    out.write_bytes(b"the previous output")

    def broken(path: Path, grid: Grid, count: int, *args: object, **kw: object) -> None:
        raise OutputWriteError(f"writing {path.name} failed (simulated)")

    monkeypatch.setattr(writer_mod, "verify_raster", broken)
    with pytest.raises(OutputWriteError, match="simulated"):
        with raster_writer(out, GRID, overwrite=True) as w:
            w.write_rows(0, _values())
    assert out.read_bytes() == b"the previous output"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lst.tif"]
    with pytest.raises(OutputExistsError):
        with raster_writer(out, GRID):
            pass


def test_a_file_gdal_cannot_create_says_so_and_keeps_the_old_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GDAL refusing to create the temporary file is an OutputWriteError naming the
    # target (it used to surface as an UnboundLocalError from the writer's cleanup)
    import rasterio.errors

    out = tmp_path / "lst.tif"
    out.write_bytes(b"the previous output")
    real = writer_mod.rasterio.open

    def refuse(path: Any, mode: str = "r", **kw: Any) -> Any:
        if mode == "w":
            raise rasterio.errors.RasterioIOError("simulated: cannot create")
        return real(path, mode, **kw)

    monkeypatch.setattr(writer_mod.rasterio, "open", refuse)
    with pytest.raises(OutputWriteError, match=r"cannot create .*lst\.tif.*simulated"):
        with raster_writer(out, GRID, overwrite=True):
            pass
    assert out.read_bytes() == b"the previous output"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lst.tif"]

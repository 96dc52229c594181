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
from rasterio.windows import Window

from pix2lst.errors import OutputExistsError, OutputWriteError
from pix2lst.geo import writer as writer_mod
from pix2lst.geo.grid import Grid
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

    def broken(path: Path, grid: Grid, count: int) -> None:
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

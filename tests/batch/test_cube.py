"""Time-series cubes: one grid for a path/row's dates, CF attributes, Zarr chunks, refusals."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from click.testing import CliRunner

pytest.importorskip("xarray", reason="the batch extra is not installed")

from pix2lst.batch.cube import cube_layers, is_cube, open_cube, write_cube
from pix2lst.errors import (
    GridMismatchError,
    OutputExistsError,
    OutputNotWritableError,
    OutputWriteError,
    ParameterError,
)
from pix2lst.lst_physics.lst import write_lst
from tests.conftest import lst_values, make_scene, tmpfs
from tests.conftest import write_lst as write_lst_tif


@pytest.fixture()
def outputs(tmp_path):
    """Physics LST of three dates of one path/row, each a few pixels off in extent."""
    windows = [(0, 0, 96, 128), (10, 7, 90, 120), (3, 20, 100, 110)]
    dates = ["2015-07-01", "2015-04-01", "2015-05-01"]
    paths = []
    for i, (w, d) in enumerate(zip(windows, dates, strict=True)):
        mtl = make_scene(tmp_path / f"s{i}", f"LC08_CUBE_{i}", date=d, window=w)
        paths.append(write_lst(mtl, tmp_path / f"lst{i}.tif"))
    return paths


def test_dates_are_placed_on_their_common_grid(tmp_path, outputs):
    ds = write_cube(outputs, tmp_path / "c.zarr")
    assert dict(ds.sizes) == {"time": 3, "y": 103, "x": 130}  # the union of the extents
    assert [str(t)[:10] for t in ds["time"].values] == ["2015-04-01", "2015-05-01", "2015-07-01"]
    assert list(ds["scene_id"].values) == ["LC08_CUBE_1", "LC08_CUBE_2", "LC08_CUBE_0"]
    assert str(ds["time"].values[0])[11:19] == "16:19:21"  # SCENE_CENTER_TIME
    lst = ds["lst"]
    assert lst.attrs["standard_name"] == "surface_temperature" and lst.attrs["units"] == "K"
    assert lst.encoding["chunks"] == (3, 103, 130)  # every time in one chunk (<= 256 x 256 px)
    assert ds.rio.crs.to_epsg() == 32616
    with rasterio.open(outputs[1]) as src:  # the 2015-04-01 raster sits at its own offset
        values = src.read(1)
        col, row = ~ds.rio.transform() * (src.transform.c, src.transform.f)
    r, c = round(row), round(col)
    np.testing.assert_array_equal(lst.isel(time=0).values[r : r + 90, c : c + 120], values)
    assert np.isnan(lst.isel(time=0).values[:r]).all()  # no data there that date


def test_cf_attributes_on_disk(tmp_path, outputs):
    import zarr

    write_cube(outputs, tmp_path / "c.zarr")
    group = zarr.open_group(str(tmp_path / "c.zarr"), mode="r")
    attrs = dict(group["lst"].attrs)
    assert attrs["grid_mapping"] == "spatial_ref" and attrs["units"] == "K"
    assert "crs_wkt" in dict(group["spatial_ref"].attrs)
    assert group["lst"].chunks == (3, 103, 130)


def test_two_times_for_the_figures(tmp_path, outputs):
    write_cube(outputs, tmp_path / "c.zarr")
    (a, grid, tags_a), (b, _, tags_b) = cube_layers(tmp_path / "c.zarr", ["2015-04", "LC08_CUBE_0"])
    assert a.shape == b.shape == (grid.height, grid.width)
    assert tags_a["DATE_ACQUIRED"] == "2015-04-01" and tags_b["SCENE_ID"] == "LC08_CUBE_0"
    with pytest.raises(ParameterError, match="matches no time of the cube"):
        cube_layers(tmp_path / "c.zarr", ["2016"])
    with pytest.raises(ParameterError, match="matches several times"):
        cube_layers(tmp_path / "c.zarr", ["2015"])


def test_scenes_without_a_common_grid_are_refused(tmp_path):
    a = write_lst_tif(tmp_path / "a.tif", lst_values(), date="2015-01-01")
    other_crs = write_lst_tif(tmp_path / "b.tif", lst_values(), date="2015-02-01", crs="EPSG:32617")
    half = write_lst_tif(tmp_path / "c.tif", lst_values(), date="2015-03-01",
                         origin=(400_015.0, 3_400_000.0))  # fmt: skip
    with pytest.raises(
        GridMismatchError, match=r"b\.tif .*CRS EPSG:32617 vs EPSG:32616.*one cube per path/row"
    ):
        write_cube([a, other_crs], tmp_path / "x.zarr")
    with pytest.raises(GridMismatchError, match=r"c\.tif .*not pixel-aligned"):
        write_cube([a, half], tmp_path / "y.zarr")
    assert not (tmp_path / "x.zarr").exists() and not (tmp_path / "y.zarr").exists()


def test_celsius_rasters_are_stored_in_kelvin(tmp_path):
    k = write_lst_tif(tmp_path / "k.tif", lst_values(), date="2015-01-01")
    c = write_lst_tif(tmp_path / "c.tif", lst_values() - 273.15, date="2015-02-01", units="degC")
    ds = write_cube([k, c], tmp_path / "c.zarr")
    np.testing.assert_allclose(ds["lst"].isel(time=1).values, lst_values(), atol=1e-3)


def test_same_time_twice_and_overwrite(tmp_path, outputs):
    with pytest.raises(ParameterError, match="one raster per acquisition"):
        write_cube([outputs[0], outputs[0]], tmp_path / "c.zarr")
    write_cube(outputs, tmp_path / "c.zarr")
    with pytest.raises(FileExistsError):
        write_cube(outputs, tmp_path / "c.zarr")
    write_cube(outputs[:2], tmp_path / "c.zarr", overwrite=True)
    assert open_cube(tmp_path / "c.zarr").sizes["time"] == 2


def test_cli_cube(tmp_path, outputs):
    from pix2lst.cli import main

    result = CliRunner().invoke(
        main, ["cube", str(tmp_path / "lst*.tif"), "-o", str(tmp_path / "c.zarr")]
    )
    assert result.exit_code == 0, result.output
    assert "3 x 103 x 130" in result.output
    result = CliRunner().invoke(
        main, ["cube", str(tmp_path / "none*.tif"), "-o", str(tmp_path / "d.zarr")]
    )
    assert result.exit_code != 0 and "matched no file" in result.output


def _files(folder):
    return sorted((p.relative_to(folder), p.read_bytes()) for p in folder.rglob("*") if p.is_file())


def test_overwrite_never_deletes_a_folder_that_is_not_a_cube(tmp_path, outputs):
    # an input scene's folder, a folder of results, the folder holding the cube's own inputs
    scene_folder = outputs[0].parent / "s0"
    keep = tmp_path / "results"
    keep.mkdir()
    (keep / "notes.txt").write_text("mine")
    for target, said in [
        (scene_folder, "is a folder that is not a pix2lst cube"),
        (keep, "is a folder that is not a pix2lst cube"),
        (tmp_path, "holds the input"),
        (outputs[1], "is the input"),
    ]:
        before = _files(target) if target.is_dir() else target.read_bytes()
        with pytest.raises((OutputNotWritableError, OutputExistsError), match=said) as err:
            write_cube(outputs, target, overwrite=True)
        assert "\n" not in str(err.value)
        assert (_files(target) if target.is_dir() else target.read_bytes()) == before


def test_a_zarr_store_of_someone_else_is_not_replaced(tmp_path, outputs):
    import xarray as xr

    other = tmp_path / "other.zarr"
    xr.Dataset({"v": ("x", np.arange(3.0))}).to_zarr(other, zarr_format=2)
    before = _files(other)
    with pytest.raises(OutputNotWritableError, match="not a pix2lst cube"):
        write_cube(outputs, other, overwrite=True)
    assert _files(other) == before
    write_cube(outputs, tmp_path / "c.zarr")
    assert is_cube(tmp_path / "c.zarr") and not is_cube(other) and not is_cube(outputs[0])


def test_a_cube_replaces_a_cube_atomically_and_leaves_nothing_beside(tmp_path, outputs):
    cube = tmp_path / "c.zarr"
    write_cube(outputs[:2], cube)
    stale = tmp_path / ".c.zarr.999999-0123abcd.partial"  # a killed writer's (no such pid)
    (stale / "lst").mkdir(parents=True)
    ds = write_cube(outputs, cube, overwrite=True)
    assert ds.sizes["time"] == 3 and not stale.exists()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


@pytest.fixture
def disk_200k(tmp_path):
    """A 200 KiB tmpfs (root only): a one-time cube fits (about 140 KiB in pages), a
    three-time one beside it does not."""
    with tmpfs(tmp_path / "disk", "200k") as mnt:
        yield mnt


def test_a_cube_onto_a_full_disk_is_one_line_and_keeps_the_old_cube(disk_200k, outputs):
    small_disk = disk_200k
    cube = small_disk / "c.zarr"
    write_cube(outputs[:1], cube)
    before = _files(cube)
    with pytest.raises(OutputWriteError, match=r"writing .*c\.zarr failed .*free space") as err:
        write_cube(outputs, cube, overwrite=True)
    assert "\n" not in str(err.value)
    assert _files(cube) == before and [p.name for p in small_disk.iterdir()] == ["c.zarr"]


def test_cli_cube_refuses_to_replace_a_folder_in_one_line(tmp_path, outputs):
    from pix2lst.cli import main

    result = CliRunner().invoke(
        main, ["cube", str(tmp_path / "lst*.tif"), "-o", str(tmp_path), "--overwrite"]
    )
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1 and "holds the input" in result.output
    assert all(p.is_file() for p in outputs)


def test_scenes_of_two_path_rows_are_refused_even_on_one_grid(tmp_path):
    from pix2lst.batch.cube import path_row

    assert path_row("LC08_L2SP_008059_20191201_20200825_02_T1") == "008/059"
    assert path_row("LC80200392015216LGN00") == "020/039" and path_row("lst") is None
    a = write_lst_tif(tmp_path / "a.tif", lst_values(), date="2015-01-01")
    b = write_lst_tif(tmp_path / "b.tif", lst_values(), date="2015-02-01")
    for path, sid in [(a, "LC08_L1TP_020039_20150101_20200910_02_T1"),
                      (b, "LC08_L1TP_020040_20150201_20200910_02_T1")]:  # fmt: skip
        with rasterio.open(path, "r+") as ds:
            ds.update_tags(SCENE_ID=sid)
    with pytest.raises(
        GridMismatchError, match=r"2 path/rows \(020/039: .*020/040: .*one cube per"
    ):
        write_cube([a, b], tmp_path / "c.zarr")
    assert not (tmp_path / "c.zarr").exists()

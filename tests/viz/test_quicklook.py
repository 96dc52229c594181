"""Quicklook and comparison PNGs, and their CLI commands."""

from __future__ import annotations

import io
import re
from pathlib import Path

import matplotlib.text
import numpy as np
import pytest
import rasterio
from affine import Affine
from click.testing import CliRunner
from matplotlib.colors import Normalize
from PIL import Image
from rasterio.crs import CRS

from pix2lst.cli import main
from pix2lst.errors import GridMismatchError, OutputExistsError
from pix2lst.viz import compare, quicklook
from pix2lst.viz.mapaxes import (
    georeferenced,
    image_extent,
    metres_per_unit,
    nice_length,
    north_bearing,
)
from pix2lst.viz.quicklook import lst_figure
from pix2lst.viz.raster import Grid, read_lst
from pix2lst.viz.style import lst_cmap, percent_clip
from tests.conftest import lst_values, write_lst


def _rgba(path_or_buf: Path | io.BytesIO) -> np.ndarray:
    with Image.open(path_or_buf) as img:
        return np.asarray(img.convert("RGBA"))


def test_quicklook_pixels_colours_and_transparent_nodata(tmp_path: Path) -> None:
    values = lst_values()
    layer = read_lst(write_lst(tmp_path / "lst.tif", values))
    fig = lst_figure(layer)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=fig.dpi, transparent=True)
    png = _rgba(buf)
    ax = fig.axes[0]

    def pixel(row: float, col: float) -> np.ndarray:  # the map is drawn in map coordinates
        x, y = ax.transData.transform(layer.grid.transform * (col + 0.5, row + 0.5))
        return png[png.shape[0] - 1 - round(y), round(x)]

    assert ax.get_title() == "TESTSCENE · 2015-01-22 · physics planck, sobrino emissivity"
    assert pixel(2, 2)[3] == 0  # nodata border is transparent
    vmin, vmax = percent_clip(values)
    for row, col in [(45, 20), (45, 100), (35, 40)]:  # cool, warm, the hot block
        px = pixel(row, col)
        want = np.array(lst_cmap()(Normalize(vmin, vmax)(values[row, col]), bytes=True))
        assert px[3] == 255
        np.testing.assert_allclose(px[:3], want[:3], atol=3)


def test_quicklook_is_a_map_with_world_file(tmp_path: Path) -> None:
    values = lst_values()
    src = write_lst(tmp_path / "lst.tif", values)
    out = quicklook(src, tmp_path / "q.png")
    assert (tmp_path / "q.pgw").is_file() and (tmp_path / "q.png.aux.xml").is_file()
    with rasterio.open(out) as png, rasterio.open(src) as tif:
        assert png.crs == tif.crs
        # the PNG's georeferencing puts every LST pixel where the GeoTIFF has it
        png_rgba = np.stack([png.read(i) for i in (1, 2, 3, 4)], axis=-1)
        vmin, vmax = percent_clip(values)
        for row, col in [(45, 20), (45, 100), (35, 40), (80, 110)]:
            x, y = tif.xy(row, col)
            r, c = png.index(x, y)
            want = np.array(lst_cmap()(Normalize(vmin, vmax)(values[row, col]), bytes=True))
            np.testing.assert_allclose(png_rgba[r, c, :3], want[:3], atol=3)
        assert png.transform.a == pytest.approx(-png.transform.e)  # square pixels, north up
    fig = lst_figure(read_lst(src))
    ax = fig.axes[0]
    assert ax.get_xlabel() == "easting (km)" and ax.get_ylabel() == "northing (km)"
    fig.canvas.draw()
    texts = {t.get_text() for t in fig.findobj(matplotlib.text.Text)}
    assert "N" in texts and "EPSG:32616" in texts  # north arrow and CRS
    assert any(re.fullmatch(r"[125]0*(\.0)? (m|km)", t) for t in texts), texts  # scale bar
    assert ax.get_xticklabels()[0].get_text() == "400"  # km of easting
    top, right = ax.child_axes
    lons = [t.get_text() for t in top.xaxis.get_ticklabels()]
    lats = [t.get_text() for t in right.yaxis.get_ticklabels()]
    assert len(lons) >= 2 and all(re.fullmatch(r"88\.0\d+°W", t) for t in lons), lons
    assert len(lats) >= 2 and all(re.fullmatch(r"30\.7\d+°N", t) for t in lats), lats
    # each label names its own tick exactly, all with the decimals the tick step needs
    for axis, labels, sign in ((top.xaxis, lons, -1.0), (right.yaxis, lats, 1.0)):
        for tick, label in zip(axis.get_ticklocs(), labels, strict=True):
            assert sign * float(label[:-2]) == pytest.approx(tick, abs=1e-9), (tick, label)
        assert len({len(label) for label in labels}) == 1, labels


def test_mask_hides_another_rasters_nodata(tmp_path: Path) -> None:
    values = lst_values()
    src = write_lst(tmp_path / "lst.tif", values)
    clouds = values.copy()
    clouds[30:60, 70:100] = np.nan  # a "cloud" in the mask raster only
    mask = write_lst(tmp_path / "clear.tif", clouds)
    out = quicklook(src, tmp_path / "q.png", mask=mask, note="clouds masked")
    with rasterio.open(out) as png, rasterio.open(src) as tif:
        alpha = png.read(4)
        for (row, col), visible in [((45, 85), False), ((45, 20), True)]:
            r, c = png.index(*tif.xy(row, col))
            assert bool(alpha[r, c] == 255) is visible, (row, col)
    other = write_lst(tmp_path / "other.tif", lst_values(45, 60), res=60.0)
    with pytest.raises(GridMismatchError):
        quicklook(src, tmp_path / "x.png", mask=other)
    b = write_lst(tmp_path / "b.tif", lst_values(warm=-5.0), date="2015-08-04")
    assert compare(src, b, tmp_path / "c.png", mask=mask, note="n").stat().st_size > 10_000


def test_map_helpers() -> None:
    assert [nice_length(v) for v in (7.0, 1999.0, 2000.0, 0.3, 6e4)] == [
        5.0,
        1000.0,
        2000.0,
        0.2,
        5e4,
    ]
    with pytest.raises(ValueError):
        nice_length(0.0)
    utm = Grid(CRS.from_epsg(32616), Affine(30.0, 0, 400_000.0, 0, -30.0, 3_400_000.0), 100, 100)
    # west of the zone's central meridian (87°W) true north leans east (clockwise, negative)
    # of grid north, east of it west; by under 2° this close to it
    assert -2.0 < north_bearing(utm) < 0.0
    east = Grid(CRS.from_epsg(32616), Affine(30.0, 0, 600_000.0, 0, -30.0, 3_400_000.0), 100, 100)
    assert 0.0 < north_bearing(east) < 2.0
    assert image_extent(utm) == (400_000.0, 403_000.0, 3_397_000.0, 3_400_000.0)
    bare = Grid(None, Affine.identity(), 100, 50)
    assert not georeferenced(bare) and image_extent(bare) == (0.0, 100.0, 50.0, 0.0)
    geographic = Grid(CRS.from_epsg(4326), Affine(0.001, 0, -87.5, 0, -0.001, 30.8), 100, 100)
    assert metres_per_unit(geographic) == pytest.approx(
        111_320 * np.cos(np.radians(30.75)), rel=1e-3
    )


def test_titles_read_new_and_old_tags(tmp_path: Path) -> None:
    new = {"SCENE_ID": "LC08_L1TP_020039_20150122_20200910_02_T1", "SPACECRAFT": "LANDSAT_8",
           "DATE_ACQUIRED": "2015-01-22", "MODEL": "pix2lst_default.onnx",
           "MODEL_SHA256": "08557c7354828f93", "MODEL_TARGET": "lst_minus_bt", "UNITS": "K"}  # fmt: skip
    path = write_lst(tmp_path / "p.tif", lst_values(), date=None, extra_tags=new)
    layer = read_lst(path)
    assert layer.title == (
        "LC08_L1TP_020039_20150122_20200910_02_T1 · Landsat-8 · 2015-01-22 · "
        "model pix2lst_default.onnx (08557c73)"
    )
    assert layer.label == "2015-01-22 · model"
    physics = write_lst(
        tmp_path / "q.tif", lst_values(), extra_tags={"METHOD": "planck", "CLOUD_MASK": "True"}
    )
    assert read_lst(physics).title.endswith("physics planck, sobrino emissivity · clouds masked")


def test_quicklook_writes_png_and_refuses_overwrite(tmp_path: Path) -> None:
    src = write_lst(tmp_path / "lst.tif", lst_values())
    out = quicklook(src, tmp_path / "q.png", cmap="inferno", clip=(5, 95))
    img = _rgba(out)
    assert img.shape[0] > 300 and img.shape[1] > 500
    assert (img[..., 3] == 0).any() and (img[..., 3] == 255).any()
    before = out.read_bytes()
    with pytest.raises(OutputExistsError):
        quicklook(src, out)
    assert out.read_bytes() == before
    quicklook(src, out, overwrite=True)
    assert not list(tmp_path.glob(".q.png*"))  # no temporary left behind


def test_compare_same_grid_and_mismatch(tmp_path: Path) -> None:
    a = write_lst(tmp_path / "a.tif", lst_values())
    b = write_lst(tmp_path / "b.tif", lst_values(warm=-5.0), date="2015-08-04")
    out = compare(a, b, tmp_path / "cmp.png")
    assert _rgba(out).shape[1] > 800
    c = write_lst(tmp_path / "c.tif", lst_values(45, 60), res=60.0)  # same extent, coarser
    with pytest.raises(GridMismatchError, match=r"size 120x90 vs 60x45.*transform"):
        compare(a, c, tmp_path / "cmp2.png")
    assert not (tmp_path / "cmp2.png").exists()
    compare(a, c, tmp_path / "cmp2.png", resample=True)
    assert (tmp_path / "cmp2.png").exists()


def _plane(height: int, width: int, res: float) -> np.ndarray:
    """LST as a linear function of map position (K): 290 K + 2 K/km east + 1 K/km south."""
    x = (np.arange(width) + 0.5) * res
    y = (np.arange(height) + 0.5) * res
    return (290.0 + 0.002 * x[None, :] + 0.001 * y[:, None]).astype(np.float32)


def test_resample_puts_b_on_a_grid(tmp_path: Path) -> None:
    a_path = write_lst(tmp_path / "a.tif", _plane(90, 120, 30.0))
    c_path = write_lst(tmp_path / "c.tif", _plane(45, 60, 60.0), res=60.0)  # same extent
    a = read_lst(a_path)
    c = read_lst(c_path, onto=a.source_grid)
    assert c.values.shape == a.values.shape == (90, 120)
    inner = (slice(2, -2), slice(2, -2))  # bilinear is exact on a plane away from the edge
    np.testing.assert_allclose(c.values[inner], a.values[inner], atol=0.01)


def test_cli_quicklook_compare(tmp_path: Path) -> None:
    a = write_lst(tmp_path / "a.tif", lst_values())
    b = write_lst(tmp_path / "b.tif", lst_values(warm=-5.0), date="2015-08-04")
    runner = CliRunner()
    res = runner.invoke(main, ["quicklook", str(a), "-o", str(tmp_path / "q.png")])
    assert res.exit_code == 0, res.output
    res = runner.invoke(main, ["quicklook", str(a), "-o", str(tmp_path / "q.png")])
    assert res.exit_code == 1 and "already exists" in res.output
    res = runner.invoke(
        main, ["quicklook", str(a), "-o", str(tmp_path / "x.png"), "--cmap", "nope"]
    )
    assert res.exit_code == 1 and "unknown colour map 'nope'" in res.output
    res = runner.invoke(
        main, ["quicklook", str(a), "-o", str(tmp_path / "x.png"), "--clip", "9", "3"]
    )
    assert res.exit_code == 2 and "LOW < HIGH" in res.output
    res = runner.invoke(main, ["compare", str(a), str(b), "-o", str(tmp_path / "c.png")])
    assert res.exit_code == 0, res.output
    c = write_lst(tmp_path / "c.tif", lst_values(), crs="EPSG:32617")
    res = runner.invoke(main, ["compare", str(a), str(c), "-o", str(tmp_path / "d.png")])
    assert res.exit_code == 1 and "CRS EPSG:32616 vs EPSG:32617" in res.output

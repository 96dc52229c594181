"""Quicklook and comparison PNGs, and their CLI commands."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from matplotlib.colors import Normalize
from PIL import Image

from pix2lst.cli import main
from pix2lst.errors import GridMismatchError, OutputExistsError
from pix2lst.viz import compare, quicklook
from pix2lst.viz.quicklook import lst_figure
from pix2lst.viz.raster import read_lst
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

    def pixel(row: float, col: float) -> np.ndarray:
        x, y = ax.transData.transform((col, row))
        return png[png.shape[0] - 1 - round(y), round(x)]

    assert ax.get_title() == "TESTSCENE · 2015-01-22 · physics planck, sobrino emissivity"
    assert pixel(2, 2)[3] == 0  # nodata border is transparent
    vmin, vmax = percent_clip(values)
    for row, col in [(45, 20), (45, 100), (35, 40)]:  # cool, warm, the hot block
        px = pixel(row, col)
        want = np.array(lst_cmap()(Normalize(vmin, vmax)(values[row, col]), bytes=True))
        assert px[3] == 255
        np.testing.assert_allclose(px[:3], want[:3], atol=3)


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

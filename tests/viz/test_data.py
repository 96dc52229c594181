"""Small synthetic LST GeoTIFFs for the viz tests, and tests of reading them for display.

Other viz test modules import :func:`write_lst` from here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pix2lst.errors import EmptySceneError, GridMismatchError
from pix2lst.viz.raster import check_same_grid, decimated_shape, read_grid, read_lst
from tests.conftest import lst_values, write_lst


def test_read_lst_kelvin_nan_and_tags(tmp_path: Path) -> None:
    values = lst_values()
    layer = read_lst(write_lst(tmp_path / "a.tif", values))
    np.testing.assert_array_equal(layer.values, values)
    assert layer.source_units == "K"
    assert layer.date == "2015-01-22"
    assert layer.title == "TESTSCENE · 2015-01-22 · physics planck, sobrino emissivity"


def test_read_lst_celsius_tag_is_converted(tmp_path: Path) -> None:
    values = lst_values()
    layer = read_lst(write_lst(tmp_path / "c.tif", values - 273.15, units="celsius"))
    assert layer.source_units == "C"
    np.testing.assert_allclose(layer.values, values, atol=1e-4)


def test_date_from_landsat_file_name(tmp_path: Path) -> None:
    name = "LC09_L1TP_063046_20230714_20230714_02_T1_LST.tif"
    layer = read_lst(write_lst(tmp_path / name, lst_values(), date=None))
    assert layer.date == "2023-07-14"
    assert layer.label == "2023-07-14 · physics"


def test_decimated_read_keeps_real_pixel_values(tmp_path: Path) -> None:
    values = lst_values(300, 400)
    layer = read_lst(write_lst(tmp_path / "big.tif", values), max_pixels=10_000)
    h, w = decimated_shape(300, 400, 10_000)
    assert layer.values.shape == (h, w) and h * w <= 10_000
    rows = np.floor((np.arange(h) + 0.5) * 300 / h).astype(int)
    cols = np.floor((np.arange(w) + 0.5) * 400 / w).astype(int)
    np.testing.assert_array_equal(layer.values, values[np.ix_(rows, cols)])
    # the display grid covers the same extent
    assert layer.grid.transform @ (w, h) == pytest.approx(layer.source_grid.transform @ (400, 300))


def test_all_nodata_is_refused(tmp_path: Path) -> None:
    path = write_lst(tmp_path / "e.tif", np.full((20, 20), np.nan, np.float32))
    with pytest.raises(EmptySceneError, match="every pixel is nodata"):
        read_lst(path)


def test_grid_mismatch_says_what_differs(tmp_path: Path) -> None:
    a = write_lst(tmp_path / "a.tif", lst_values())
    b = write_lst(tmp_path / "b.tif", lst_values(80, 120), res=60.0, crs="EPSG:32617")
    with pytest.raises(GridMismatchError) as info:
        check_same_grid(read_grid(a), read_grid(b))
    msg = str(info.value)
    assert "CRS EPSG:32616 vs EPSG:32617" in msg
    assert "size 120x90 vs 120x80" in msg
    assert "transform" in msg and "--resample" in msg
    check_same_grid(read_grid(a), read_grid(a))


def test_title_from_runtime_tags(tmp_path: Path) -> None:
    source = "LC09_L1TP_063046_20230714_20230714_02_T1"
    path = write_lst(
        tmp_path / "pred.tif",
        lst_values(),
        date=None,
        extra_tags={"scene": "", "method": "", "model": "pix2lst_default.onnx", "source": source},
    )
    layer = read_lst(path)
    assert layer.title == f"{source} · 2023-07-14 · model pix2lst_default.onnx"

"""Viz on real data: the embedded sample through the physics chain, and ../shared/data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from PIL import Image

from pix2lst.errors import GridMismatchError
from pix2lst.lst_physics import write_composite
from pix2lst.lst_physics import write_lst as physics_lst
from pix2lst.viz import compare, quicklook, read_lst, read_rgb, rgb_quicklook, write_viewer
from tests.conftest import shared_scene


def test_quicklook_of_physics_lst(tmp_path: Path, sample_scene: Path) -> None:
    lst = physics_lst(sample_scene, tmp_path / "lst.tif")
    layer = read_lst(lst)
    with rasterio.open(lst) as src:
        np.testing.assert_array_equal(layer.values, src.read(1))
    assert layer.source_units == "K"
    assert layer.title == (
        "LC80200392015216LGN00 · Landsat-8 · 2015-08-04 · physics planck, sobrino emissivity"
    )
    celsius = physics_lst(sample_scene, tmp_path / "lst_c.tif", units="C")
    np.testing.assert_allclose(read_lst(celsius).values, layer.values, atol=1e-3)
    out = quicklook(lst, tmp_path / "lst.png")
    assert Image.open(out).size[0] > 800


def test_true_colour_of_scene_folder_and_composite(tmp_path: Path, sample_scene: Path) -> None:
    scene = read_rgb(sample_scene)
    composite = read_rgb(write_composite(sample_scene, tmp_path / "comp.tif"))
    assert scene.image.shape == composite.image.shape == (603, 627, 4)
    # the same TOA reflectance, the same stretch: the same picture
    np.testing.assert_allclose(scene.image, composite.image, atol=1e-5)
    assert scene.image[..., 3].all()  # the sample has no fill
    assert scene.image[..., :3].std() > 0.1  # a real picture, not a flat one
    out = rgb_quicklook(tmp_path / "comp.tif", tmp_path / "rgb.png")
    assert Image.open(out).mode == "RGBA"


def test_compare_and_view_with_masked_clouds(tmp_path: Path, sample_scene: Path) -> None:
    a = physics_lst(sample_scene, tmp_path / "lst.tif")
    b = physics_lst(sample_scene, tmp_path / "lst_masked.tif", mask_clouds=True)
    assert compare(a, b, tmp_path / "cmp.png", rgb=sample_scene).stat().st_size > 10_000
    out = write_viewer([a, b], tmp_path / "v.html", rgb=sample_scene)
    assert out.stat().st_size > 1_000_000


def test_shared_scenes_on_other_grids(tmp_path: Path, sample_scene: Path) -> None:
    maui = shared_scene("LC09_L1TP_063046_20230714_20230714_02_T1")
    lst = physics_lst(maui, tmp_path / "maui.tif")
    assert read_lst(lst).date == "2023-07-14"
    with pytest.raises(GridMismatchError, match="CRS EPSG:32605 vs EPSG:32616"):
        compare(lst, physics_lst(sample_scene, tmp_path / "s.tif"), tmp_path / "x.png")
    # the optical-only second date on the same grid gives the true colour of August
    august = shared_scene("LC09_L1TP_063046_20230831_20230901_02_T1")
    layer = read_rgb(august)
    assert layer.date == "2023-08-31" and layer.image.shape[:2] == (367, 301)
    out = compare(lst, lst, tmp_path / "cmp.png", rgb=august)
    assert out.exists()

"""Golden values of the single-channel chain and the public interface on the embedded sample."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio

from pix2lst.lst_physics import COMPOSITE_BANDS, compute_lst, find_scene, read_mtl
from pix2lst.lst_physics.equations import (
    brightness_temperature,
    emissivity_avdan,
    emissivity_sobrino,
    radiance,
    single_channel_lst,
)
from pix2lst.lst_physics.params import LstParams
from pix2lst.lst_physics.reference import lst_numpy


def test_golden_lst_300k_eps_097() -> None:
    # lambda 10.895 um, rho 14388 um K: both in micrometres (not metres).
    assert single_channel_lst(300.0, 0.97) == pytest.approx(302.09, abs=0.005)


def test_blackbody_lst_equals_bt() -> None:
    assert single_channel_lst(287.5, 1.0) == pytest.approx(287.5)


def test_bt_of_landsat8_b10_constants() -> None:
    # DN 30000 with the pre-collection L8 B10 constants -> L = 10.126 W/(m2 sr um)
    rad = radiance(30000, 3.342e-4, 0.1)
    assert rad == pytest.approx(10.126)
    bt = brightness_temperature(rad, 774.8853, 1321.0789)
    assert bt == pytest.approx(1321.0789 / np.log(774.8853 / 10.126 + 1))
    assert 300 < bt < 310


def test_sobrino_emissivity_branches() -> None:
    eps = emissivity_sobrino(np.array([-0.3, 0.1, 0.2, 0.35, 0.5, 0.9]))
    assert eps[0] == pytest.approx(0.991)  # water
    assert eps[1] == pytest.approx(0.971) and eps[2] == pytest.approx(0.971)  # soil
    assert eps[4] == pytest.approx(0.987) and eps[5] == pytest.approx(0.987)  # vegetation
    pv = 0.25  # ((0.35 - 0.2) / 0.3) ** 2
    assert eps[3] == pytest.approx(0.987 * pv + 0.971 * (1 - pv) + 4 * 0.005 * pv * (1 - pv))
    assert np.all(np.diff(eps[1:]) >= 0)  # monotone over land


def test_avdan_emissivity_range() -> None:
    eps = emissivity_avdan(np.array([0.0, 0.4, 0.8]), 0.0, 0.8)
    np.testing.assert_allclose(eps, [0.986, 0.986 + 0.004 * 0.25, 0.990])


def test_fused_kernel_matches_equations_on_sample(sample_scene) -> None:
    sc = find_scene(sample_scene)
    arrays = [rasterio.open(sc.band_path(b)).read(1) for b in ("B4", "B5", "B10")]
    lst = compute_lst(*arrays, sc)
    ml, al, k1, k2 = sc.mtl.thermal("B10")
    bt = brightness_temperature(radiance(arrays[2], ml, al), k1, k2)
    (rm, ra), (nm, na) = sc.mtl.toa_reflectance("B4"), sc.mtl.toa_reflectance("B5")
    red, nir = rm * arrays[0] + ra, nm * arrays[1] + na
    expected = single_channel_lst(bt, emissivity_sobrino((nir - red) / (nir + red)))
    np.testing.assert_allclose(lst, expected, rtol=2e-7, atol=1e-4)
    assert np.isfinite(lst).all()
    assert 250 < float(np.nanmin(lst)) and float(np.nanmax(lst)) < 320


def test_landsat9_constants_come_from_mtl(shared_data) -> None:
    mtl = read_mtl(
        next((shared_data / "LC09_L1TP_063046_20230714_20230714_02_T1").glob("*_MTL.txt"))
    )
    assert mtl.spacecraft == "LANDSAT_9"
    assert mtl.thermal("B10") == (3.8e-4, 0.1, 799.0284, 1329.2405)


def test_public_interface() -> None:
    assert COMPOSITE_BANDS == ("B1", "B2", "B3", "B4", "B5", "B6", "B7", "B10")
    p = LstParams(2e-5, -0.1, 2e-5, -0.1, 3.342e-4, 0.1, 774.8853, 1321.0789)
    out = lst_numpy(np.array([[8000]]), np.array([[20000]]), np.array([[30000]]), p.vector())
    assert out.dtype == np.float32 and out.shape == (1, 1)


def test_cloud_mask_bits() -> None:
    from pix2lst.lst_physics import cloud_mask

    c2 = np.array(
        [21824, 1, 2, 4, 8, 16, 64, 128], np.uint16
    )  # clear land, fill, dilated, cirrus, cloud, shadow, clear, water
    np.testing.assert_array_equal(cloud_mask(c2, "QA_PIXEL", 2), [0, 1, 1, 1, 1, 1, 0, 0])
    pre = np.array([20480, 61440, 0b11 << 12, 0b11 << 14, 1, 0b10 << 14], np.uint16)
    np.testing.assert_array_equal(cloud_mask(pre, "BQA", 0), [0, 1, 1, 1, 1, 0])
    c1 = np.array([2720, 1 << 4, 0b11 << 7, 0b11 << 11, 1, 0b01 << 5], np.uint16)
    np.testing.assert_array_equal(cloud_mask(c1, "BQA", 1), [0, 1, 1, 1, 1, 0])

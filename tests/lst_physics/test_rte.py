"""The USGS radiative-transfer inversion and the validation of the default chain (L2 fullscene)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio

from pix2lst.lst_physics import find_scene, write_lst
from pix2lst.lst_physics.validate import compare_to_usgs_st
from tests.conftest import shared_scene

L2_FULL = "LC08_L2SP_005009_20150710_fullscene_515m"


def _st_b10(folder: Path) -> np.ndarray:
    sc = find_scene(folder)
    with rasterio.open(sc.band_path("ST_B10")) as ds:
        dn = ds.read(1).astype(np.float64)
    return np.where(dn == 0, np.nan, dn * sc.mtl.st_mult + sc.mtl.st_add)


def test_rte_reproduces_usgs_st_b10(tmp_path: Path) -> None:
    folder = shared_scene(L2_FULL)
    out = write_lst(folder, tmp_path / "rte.tif", method="rte")
    with rasterio.open(out) as ds:
        ours = ds.read(1)
        assert ds.tags()["METHOD"] == "rte"
    ref = _st_b10(folder)
    both = np.isfinite(ours) & np.isfinite(ref)
    assert both.sum() > 100_000
    mae = float(np.mean(np.abs(ours[both] - ref[both])))
    assert mae < 0.2, f"rte MAE {mae:.3f} K"
    # whole-scene nodata borders: nodata exactly where USGS has none
    np.testing.assert_array_equal(np.isfinite(ours), np.isfinite(ref))


def test_rte_validation_function() -> None:
    v = compare_to_usgs_st(shared_scene(L2_FULL), method="rte", clear_only=False)
    assert v.mae < 0.2 and abs(v.bias) < 0.2 and v.n > 100_000


def test_default_chain_against_usgs() -> None:
    """No atmospheric correction: a bias of a few tenths of a kelvin in this dry Arctic air."""
    folder = shared_scene(L2_FULL)
    clear = compare_to_usgs_st(folder)
    allv = compare_to_usgs_st(folder, clear_only=False)
    assert clear.n > 40_000 and allv.n > clear.n
    assert -1.5 < clear.bias < 0.5 and clear.rmse < 1.5, str(clear)
    assert allv.rmse < 2.0, str(allv)


def test_planck_on_l2_uses_sr_and_trad(tmp_path: Path) -> None:
    out = write_lst(shared_scene(L2_FULL), tmp_path / "p.tif", mask_clouds=True)
    with rasterio.open(out) as ds:
        tags, lst = ds.tags(), ds.read(1)
    assert tags["INPUTS"] == "SR_B4,SR_B5,ST_TRAD" and "surface reflectance" in tags["REFLECTANCE"]
    assert 240 < np.nanmin(lst) and np.nanmax(lst) < 300
    assert 0.1 < np.isfinite(lst).mean() < 0.5  # nodata borders + clouds removed


def test_rte_without_aux_bands_is_refused(tmp_path: Path) -> None:
    from pix2lst.errors import BandNotFoundError

    with pytest.raises(BandNotFoundError, match="ST_TRAD"):
        write_lst(
            shared_scene("LC08_L2SP_204023_20200927_20201006_02_T1"),
            tmp_path / "o.tif",
            method="rte",
        )

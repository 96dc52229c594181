"""``validate``: any LST raster against a Level-2 scene's ST_B10, checked with plain numpy."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
from click.testing import CliRunner
from rasterio.windows import Window

from pix2lst.errors import BandNotFoundError, GridMismatchError, SceneError
from pix2lst.lst_physics import find_scene, parse_atmosphere, validate_lst, write_lst
from pix2lst.lst_physics.cli import validate
from tests.conftest import shared_scene

COLOMBIA = "LC08_L2SP_008059_20191201_fullscene_450m"
GREENLAND = "LC08_L2SP_005009_20150710_fullscene_515m"


@pytest.fixture(scope="module")
def colombia_lst(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = shared_scene(COLOMBIA)
    out = tmp_path_factory.mktemp("validate") / "lst_c.tif"
    return write_lst(folder, out, atmosphere=parse_atmosphere("bundle", None), units="C")


def _band(folder: Path, name: str, window: Window | None = None) -> np.ndarray:
    with rasterio.open(find_scene(folder).band_path(name)) as ds:
        return ds.read(1, window=window)


def _numpy_figures(lst_k: np.ndarray, folder: Path, window: Window | None = None) -> dict:
    mtl = find_scene(folder).mtl
    st_dn = _band(folder, "ST_B10", window).astype(np.float64)
    qa = _band(folder, "QA_PIXEL", window)
    st = np.where(st_dn > 0, st_dn * mtl.st_mult + mtl.st_add, np.nan)
    ok = np.isfinite(lst_k) & (st > 150) & ((qa & (1 << 6)) != 0) & ((qa & 1) == 0)
    d = lst_k[ok].astype(np.float64) - st[ok]
    r = _band(folder, "SR_B4", window) * 2.75e-5 - 0.2
    n = _band(folder, "SR_B5", window) * 2.75e-5 - 0.2
    ndvi = ((n - r) / (n + r))[ok]
    veg = d[ndvi >= 0.5]
    return {
        "n": d.size, "bias": d.mean(), "rmse": np.sqrt((d**2).mean()), "mae": np.abs(d).mean(),
        "p95": np.percentile(np.abs(d), 95), "p99": np.percentile(np.abs(d), 99),
        "veg_n": veg.size, "veg_rmse": np.sqrt((veg**2).mean()),
    }  # fmt: skip


def test_validate_agrees_with_numpy(colombia_lst: Path) -> None:
    folder = shared_scene(COLOMBIA)
    v = validate_lst(colombia_lst, folder)
    with rasterio.open(colombia_lst) as ds:
        lst_k = ds.read(1).astype(np.float64) + 273.15
    ref = _numpy_figures(lst_k, folder)
    assert v.units == "degC" and not v.resampled and v.clear_only
    assert v.n == ref["n"] > 25_000
    for key in ("bias", "rmse", "mae", "p95", "p99"):
        assert getattr(v.overall, key) == pytest.approx(ref[key], abs=0.01), key
    assert v.by_class["vegetation"].n == ref["veg_n"]
    assert v.by_class["vegetation"].rmse == pytest.approx(ref["veg_rmse"], abs=0.01)
    assert sum(s.n for s in v.by_class.values()) == v.n
    assert v.rmse <= 0.4  # bundle atmosphere + pix2lst's emissivity


def test_reference_resampled_onto_another_grid(colombia_lst: Path, tmp_path: Path) -> None:
    folder = shared_scene(COLOMBIA)
    win = Window(100, 150, 300, 200)  # a pixel-aligned crop: bilinear returns the pixels
    with rasterio.open(colombia_lst) as src:
        profile = src.profile | {
            "width": 300, "height": 200, "transform": src.window_transform(win),
            "tiled": False, "compress": None,
        }  # fmt: skip
        data = src.read(1, window=win)
    crop = tmp_path / "crop.tif"
    with rasterio.open(crop, "w", **profile) as dst:
        dst.write(data, 1)
        dst.units = ("degC",)
    v = validate_lst(crop, folder)
    ref = _numpy_figures(data.astype(np.float64) + 273.15, folder, win)
    assert v.resampled and v.n == ref["n"] > 1000
    assert v.bias == pytest.approx(ref["bias"], abs=0.01)
    assert v.rmse == pytest.approx(ref["rmse"], abs=0.01)


def test_validate_refuses_with_one_line(colombia_lst: Path, tmp_path: Path) -> None:
    with pytest.raises(BandNotFoundError, match="ST_B10") as info:
        validate_lst(colombia_lst, shared_scene("LC09_L1TP_063046_20230714_20230714_02_T1"))
    assert "\n" not in str(info.value)
    with pytest.raises(GridMismatchError, match="do not overlap") as info2:
        validate_lst(colombia_lst, shared_scene(GREENLAND))
    assert "\n" not in str(info2.value)
    bare = tmp_path / "bare.tif"
    with rasterio.open(colombia_lst) as src:
        profile, data = src.profile, src.read(1)
    with rasterio.open(bare, "w", **profile) as dst:
        dst.write(data, 1)
    with pytest.raises(SceneError, match="unit"):
        validate_lst(bare, shared_scene(COLOMBIA))


def test_validate_cli_text_and_json(colombia_lst: Path) -> None:
    folder = str(shared_scene(COLOMBIA))
    res = CliRunner().invoke(validate, [str(colombia_lst), "--reference", folder])
    assert res.exit_code == 0, res.output
    assert "RMSE K" in res.output and "vegetation" in res.output
    res = CliRunner().invoke(validate, [str(colombia_lst), "--reference", folder, "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    expected = validate_lst(colombia_lst, folder)
    assert data["overall"]["n"] == expected.n
    assert data["overall"]["rmse"] == pytest.approx(expected.rmse)
    assert set(data["by_class"]) == {"water", "bare soil", "mixed", "vegetation"}


def test_validate_cli_writes_a_report_once(colombia_lst: Path, tmp_path: Path) -> None:
    from pix2lst.cli import main

    folder = str(shared_scene(COLOMBIA))
    report = tmp_path / "report.json"
    args = ["validate", str(colombia_lst), "--reference", folder, "--json", "-o", str(report)]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    assert json.loads(report.read_text())["overall"]["n"] > 25_000
    again = CliRunner().invoke(main, args)
    assert again.exit_code != 0 and "already exists" in again.output
    assert CliRunner().invoke(main, [*args, "--overwrite"]).exit_code == 0

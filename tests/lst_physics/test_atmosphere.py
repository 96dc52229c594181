"""The atmospheric correction: parsing, golden values, kernel vs twin, rasters, write_lst, CLI."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from rasterio.crs import CRS
from rasterio.warp import transform_bounds

from pix2lst.errors import BandNotFoundError, GridMismatchError, ParameterError
from pix2lst.geo.grid import Grid, read_grid
from pix2lst.lst_physics import (
    AtmosphereSpec,
    find_scene,
    parse_atmosphere,
    write_composite,
    write_lst,
)
from pix2lst.lst_physics.atmosphere_kernels import MODE_RTE, MODE_SMW, correct_numba, correct_numpy
from pix2lst.lst_physics.cli import physics
from pix2lst.lst_physics.constants import LAMBDA_B10_UM, RHO_UM_K, SMW_COEFFICIENTS_L8
from pix2lst.lst_physics.qa import cloud_mask
from tests.conftest import shared_scene

K1, K2 = 774.8853, 1321.0789  # Landsat-8 band 10 (the embedded sample's MTL)
C = LAMBDA_B10_UM / RHO_UM_K
COLOMBIA = "LC08_L2SP_008059_20191201_fullscene_450m"
GRID = Grid(CRS.from_epsg(32616), Affine(30.0, 0, 500000.0, 0, -30.0, 3400000.0), 40, 30)


def _planck(t: float) -> float:
    return K1 / (math.exp(K2 / t) - 1.0)


def _bt(rad: float) -> float:
    return K2 / math.log(K1 / rad + 1.0)


def _single_channel(bt: float, eps: float) -> float:
    return bt / (1.0 + C * bt * math.log(eps))


def _params(mode: int) -> np.ndarray:
    return np.array([K1, K2, LAMBDA_B10_UM, RHO_UM_K, mode], dtype=np.float64)


_COEF = np.asarray(SMW_COEFFICIENTS_L8)


def _one(value: float) -> np.ndarray:
    return np.full((1, 1), value, dtype=np.float64)


# -- golden values ------------------------------------------------------------


@pytest.mark.parametrize("engine", [correct_numba, correct_numpy])
@pytest.mark.parametrize("ts", [280.0, 300.0, 320.0])
def test_rte_recovers_the_planted_surface_temperature(engine, ts: float) -> None:
    # forward model: L = tau (eps B(Ts) + (1 - eps) Ld) + Lu, then the chain's LST from BT
    eps, tau, lu, ld = 0.97, 0.42, 4.9, 7.6
    bt = _bt(tau * (eps * _planck(ts) + (1 - eps) * ld) + lu)
    lst = np.array([[_single_channel(bt, eps)]], dtype=np.float64)
    engine(lst, np.array([[bt]]), _one(tau), _one(lu), _one(ld), _params(MODE_RTE), _COEF)
    assert lst[0, 0] == pytest.approx(ts, abs=1e-6)


def test_golden_single_channel_value_of_the_design_note() -> None:
    # BT 300 K, emissivity 0.97 -> 302.09 K; the kernel's implied emissivity is 0.97 again
    lst = _single_channel(300.0, 0.97)
    assert lst == pytest.approx(302.09, abs=0.005)
    assert math.exp((300.0 / lst - 1.0) / (C * 300.0)) == pytest.approx(0.97, abs=1e-12)


@pytest.mark.parametrize("engine", [correct_numba, correct_numpy])
@pytest.mark.parametrize(
    ("w", "eps", "expected"),
    [
        # A Tb/eps + B/eps + C with the table's rows typed out by hand (Tb = 300 K)
        (0.5, 1.0, 0.9751 * 300 - 205.8929 + 212.7173),  # 299.3544 K, bin 0
        (0.6, 1.0, 0.9751 * 300 - 205.8929 + 212.7173),  # 6 kg/m2 closes bin 0
        (0.61, 1.0, 1.0090 * 300 - 232.2750 + 230.5698),  # bin 1
        (1.8, 0.97, (1.0541 * 300 - 253.1943) / 0.97 + 238.9548),  # bin 2
        (5.5, 0.98, (1.9403 * 300 - 547.2681) / 0.98 + 277.9953),  # bin 9
        (6.0, 0.98, (1.9403 * 300 - 547.2681) / 0.98 + 277.9953),
        (0.0, 1.0, 0.9751 * 300 - 205.8929 + 212.7173),
    ],
)
def test_smw_golden_values(engine, w: float, eps: float, expected: float) -> None:
    lst = np.array([[_single_channel(300.0, eps)]])
    engine(lst, np.array([[300.0]]), _one(w), _one(0), _one(0), _params(MODE_SMW), _COEF)
    assert lst[0, 0] == pytest.approx(expected, abs=1e-6)


# -- kernel vs numpy twin -----------------------------------------------------


def _field(lo: float, hi: float, shape: tuple[int, int]):  # type: ignore[no-untyped-def]
    values = st.one_of(st.floats(lo, hi, width=32), st.just(float("nan")))
    return arrays(np.float32, shape, elements=values)


@settings(max_examples=30, deadline=None)
@given(data=st.data(), shape=st.tuples(st.integers(1, 5), st.integers(1, 7)))
def test_kernel_matches_twin(data: st.DataObject, shape: tuple[int, int]) -> None:
    bt = data.draw(_field(240, 330, shape))
    eps = data.draw(arrays(np.float64, shape, elements=st.floats(0.93, 1.0)))
    lst = (bt / (1.0 + C * bt * np.log(eps))).astype(np.float32)
    mode = data.draw(st.sampled_from([MODE_RTE, MODE_SMW]))
    a0 = (
        data.draw(_field(0.0, 6.0, shape)) if mode == MODE_SMW else data.draw(_field(0.25, 1, shape))
    )
    a1, a2 = data.draw(_field(0, 8, shape)), data.draw(_field(0, 10, shape))
    ours, twin = lst.copy(), lst.copy()
    correct_numba(ours, bt, a0, a1, a2, _params(mode), _COEF)
    correct_numpy(twin, bt, a0, a1, a2, _params(mode), _COEF)
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(twin))
    np.testing.assert_allclose(ours, twin, rtol=1e-6, atol=0)
    assert np.isnan(ours[np.isnan(lst) | np.isnan(bt)]).all()  # NaN stays NaN


# -- parsing: one line each ---------------------------------------------------


def _raster(path: Path, values: list[float], grid: Grid = GRID) -> Path:
    with rasterio.open(
        path, "w", driver="GTiff", width=grid.width, height=grid.height, count=len(values),
        dtype="float32", crs=grid.crs, transform=grid.transform, nodata=float("nan"),
    ) as ds:  # fmt: skip
        for i, v in enumerate(values, 1):
            ds.write(np.full(grid.shape, v, np.float32), i)
    return path


@pytest.mark.parametrize(
    ("atm", "wv", "words"),
    [
        ("0,4,5", None, "(0, 1]"),
        ("1.2,4,5", None, "(0, 1]"),
        ("0.5,-1,5", None, "non-negative"),
        ("0.5,1,-0.1", None, "non-negative"),
        ("0.5,1", None, "three finite numbers"),
        ("0.5,nan,1", None, "three finite numbers"),
        ("no/such/file.tif", None, "neither a number nor an existing raster"),
        (None, "6.5", "0-6 g/cm2"),
        (None, "-0.1", "0-6 g/cm2"),
        (None, "45", "10 mm"),
        ("bundle", "2", "not both"),
    ],
)
def test_parse_refuses_with_one_line(atm: str | None, wv: str | None, words: str) -> None:
    with pytest.raises(ParameterError, match=None) as info:
        parse_atmosphere(atm, wv)
    assert words in str(info.value) and "\n" not in str(info.value)


def test_parse_kinds(tmp_path: Path) -> None:
    assert parse_atmosphere(None, None) == AtmosphereSpec()
    assert not parse_atmosphere(None, None).applied
    assert parse_atmosphere(" 0.42, 4.9 ,7.6", None) == AtmosphereSpec(
        "rte", "numbers", values=(0.42, 4.9, 7.6)
    )
    assert parse_atmosphere("BUNDLE", None).source == "bundle"
    assert parse_atmosphere(None, "2.5") == AtmosphereSpec("smw", "water_vapour", values=(2.5,))
    three = _raster(tmp_path / "atm.tif", [0.5, 1.0, 2.0])
    assert parse_atmosphere(str(three), None).paths == (str(three),)
    one = _raster(tmp_path / "tcwv.tif", [2.0])
    assert parse_atmosphere(None, str(one)).kind == "smw"
    files = ",".join(
        str(_raster(tmp_path / f"{n}.tif", [v])) for n, v in zip("tud", (0.5, 1, 2), strict=True)
    )
    assert parse_atmosphere(files, None).source == "raster"
    with pytest.raises(ParameterError, match="needs 3"):
        parse_atmosphere(str(one), None)
    with pytest.raises(ParameterError, match="one band"):
        parse_atmosphere(None, str(three))


# -- opening on a grid: rasters, bundle, constants ----------------------------


def _rows(spec: AtmosphereSpec, sample_scene: Path, grid: Grid = GRID) -> np.ndarray:
    bt = np.full(grid.shape, 295.0, np.float32)
    lst = np.full(grid.shape, _single_channel(295.0, 0.975), np.float32)
    with spec.open(sample_scene, grid) as corr:
        corr.correct_rows(lst[:10], bt[:10], 0)
        corr.correct_rows(lst[10:], bt[10:], 10)
    return lst


def test_raster_resampled_onto_the_grid_equals_the_numbers(tmp_path: Path, sample_scene) -> None:
    numbers = _rows(parse_atmosphere("0.5,1,2", None), sample_scene)
    assert np.all(np.abs(numbers - _single_channel(295.0, 0.975)) > 1.0)
    # a coarse raster in geographic coordinates that covers the grid
    left, bottom, right, top = transform_bounds(GRID.crs, "EPSG:4326", *GRID.bounds)
    geo = Grid(
        CRS.from_epsg(4326),
        Affine(0.002, 0, left - 0.01, 0, -0.002, top + 0.01),
        int((right - left + 0.02) / 0.002) + 1,
        int((top - bottom + 0.02) / 0.002) + 1,
    )
    path = _raster(tmp_path / "atm.tif", [0.5, 1.0, 2.0], geo)
    spec = parse_atmosphere(str(path), None)
    np.testing.assert_allclose(_rows(spec, sample_scene), numbers, atol=1e-4)
    with spec.open(sample_scene, GRID) as corr:
        assert corr.tags["ATMOSPHERIC_CORRECTION"] == "rte"
        assert str(path) in corr.tags["ATMOSPHERE"]


def test_raster_that_does_not_cover_the_grid_is_refused(tmp_path: Path, sample_scene) -> None:
    half = Grid(GRID.crs, GRID.transform, GRID.width // 2, GRID.height)
    spec = parse_atmosphere(str(_raster(tmp_path / "half.tif", [0.5, 1, 2], half)), None)
    with pytest.raises(GridMismatchError, match="does not cover the scene") as info:
        spec.open(sample_scene, GRID)
    assert "\n" not in str(info.value)


def test_raster_values_out_of_range_are_refused(tmp_path: Path, sample_scene) -> None:
    bad_tau = parse_atmosphere(str(_raster(tmp_path / "a.tif", [1.5, 1, 2])), None)
    with pytest.raises(ParameterError, match=r"\(0, 1\]"):
        bad_tau.open(sample_scene, GRID)
    wet = parse_atmosphere(None, str(_raster(tmp_path / "w.tif", [7.0])))
    with pytest.raises(ParameterError, match="0-6 g/cm2"):
        wet.open(sample_scene, GRID)


def test_bundle_needs_the_level2_bands(sample_scene) -> None:
    with pytest.raises(BandNotFoundError, match="ST_ATRAN") as info:
        parse_atmosphere("bundle", None).open(sample_scene, GRID)
    assert "\n" not in str(info.value)
    with pytest.raises(ParameterError, match="not only its MTL"):
        parse_atmosphere("bundle", None).open(find_scene(sample_scene).mtl, GRID)


def test_correction_needs_band10_constants() -> None:
    with pytest.raises(ParameterError, match="K1/K2"):
        parse_atmosphere("0.5,1,2", None).open(None, GRID)
    # no correction needs nothing and changes nothing
    lst = np.array([[300.0, np.nan]], np.float32)
    with AtmosphereSpec().open(None, GRID) as corr:
        corr.correct_rows(lst, lst.copy(), 0)
        assert corr.tags == {"ATMOSPHERIC_CORRECTION": "none"}
    np.testing.assert_array_equal(lst, np.array([[300.0, np.nan]], np.float32))


def test_rows_outside_the_grid_are_refused(tmp_path: Path, sample_scene) -> None:
    spec = parse_atmosphere(str(_raster(tmp_path / "a.tif", [0.5, 1, 2])), None)
    rows = np.full((5, GRID.width), 300.0, np.float32)
    with spec.open(sample_scene, GRID) as corr, pytest.raises(ParameterError, match="not on"):
        corr.correct_rows(rows, rows.copy(), GRID.height - 2)


# -- write_lst ----------------------------------------------------------------


def test_no_correction_is_bit_identical(tmp_path: Path, sample_scene) -> None:
    plain = write_lst(sample_scene, tmp_path / "a.tif")
    none = write_lst(sample_scene, tmp_path / "b.tif", atmosphere=AtmosphereSpec())
    with rasterio.open(plain) as a, rasterio.open(none) as b:
        np.testing.assert_array_equal(a.read(1).view(np.uint32), b.read(1).view(np.uint32))
        assert a.tags()["ATMOSPHERIC_CORRECTION"] == b.tags()["ATMOSPHERIC_CORRECTION"] == "none"


def test_physics_and_a_model_that_reproduces_it_meet_exactly(tmp_path: Path, sample_scene) -> None:
    # a "model" whose output is physics' uncorrected LST, corrected with the composite's BT
    spec = parse_atmosphere("0.6,3.1,5.2", None)
    corrected = write_lst(sample_scene, tmp_path / "c.tif", atmosphere=spec, units="C")
    plain = write_lst(sample_scene, tmp_path / "p.tif")
    comp = write_composite(sample_scene, tmp_path / "comp.tif")
    with rasterio.open(plain) as p, rasterio.open(comp) as c, rasterio.open(corrected) as o:
        model = p.read(1)
        bt = c.read(8)
        ours = o.read(1)
        tags = o.tags()
    with spec.open(sample_scene, read_grid(plain)) as corr:
        corr.correct_rows(model, bt, 0)
    np.testing.assert_array_equal(ours, model + np.float32(-273.15))
    assert np.isfinite(ours).sum() > 100_000
    assert tags["ATMOSPHERIC_CORRECTION"] == "rte"
    assert tags["ATMOSPHERE"] == "tau=0.6, Lu=3.1, Ld=5.2 W/(m2 sr um)"


def _clear_stats(path: Path, folder: Path) -> tuple[float, float]:
    sc = find_scene(folder)
    with rasterio.open(path) as ds:
        ours = ds.read(1).astype(np.float64)
    with rasterio.open(sc.band_path("ST_B10")) as ds:
        st_dn = ds.read(1)
    with rasterio.open(sc.band_path("QA_PIXEL")) as ds:
        qa = ds.read(1)
    ref = st_dn * sc.mtl.st_mult + sc.mtl.st_add
    ok = (st_dn > 0) & ~cloud_mask(qa, "QA_PIXEL", 2) & np.isfinite(ours) & (ref > 150)
    d = ours[ok] - ref[ok]
    return float(d.mean()), float(np.sqrt(np.mean(d * d)))


def test_bundle_and_numbers_bring_humid_physics_to_usgs(tmp_path: Path) -> None:
    folder = shared_scene(COLOMBIA)
    bias0, _ = _clear_stats(write_lst(folder, tmp_path / "none.tif"), folder)
    assert bias0 < -10  # no correction: more than 10 K too cold in humid air
    bundle = write_lst(folder, tmp_path / "b.tif", atmosphere=parse_atmosphere("bundle", None))
    _, rmse = _clear_stats(bundle, folder)
    assert rmse <= 0.4
    # the scene's median clear-land tau, Lu, Ld (as three numbers a user would type)
    numbers = parse_atmosphere("0.3542,5.005,2.108", None)
    bias, rmse = _clear_stats(write_lst(folder, tmp_path / "n.tif", atmosphere=numbers), folder)
    assert abs(bias) <= 0.3 and rmse <= 1.0
    rte = write_lst(folder, tmp_path / "r.tif", method="rte", atmosphere=numbers)
    with rasterio.open(rte) as ds:
        assert ds.tags()["ATMOSPHERIC_CORRECTION"] == "rte"
    assert _clear_stats(rte, folder)[1] <= 1.0


# -- CLI ----------------------------------------------------------------------


def test_cli_physics_atmosphere(tmp_path: Path, sample_scene) -> None:
    out = tmp_path / "lst.tif"
    res = CliRunner().invoke(
        physics, [str(sample_scene), "-o", str(out), "--atmosphere", "0.6,3.1,5.2"]
    )
    assert res.exit_code == 0, res.output
    with rasterio.open(out) as ds:
        assert ds.tags()["ATMOSPHERIC_CORRECTION"] == "rte"
    res = CliRunner().invoke(
        physics, [str(sample_scene), "-o", str(tmp_path / "x.tif"), "--water-vapour", "2.0"]
    )
    assert res.exit_code == 0, res.output
    with rasterio.open(tmp_path / "x.tif") as ds:
        assert ds.tags()["ATMOSPHERIC_CORRECTION"] == "smw"
        assert ds.tags()["ATMOSPHERE"] == "water vapour 2 g/cm2"


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--atmosphere", "0.5,1,2", "--water-vapour", "2"], "not both"),
        (["--atmosphere", "2,1,1"], "(0, 1]"),
        (["--water-vapour", "9"], "0-6 g/cm2"),
        (["--atmosphere", "bundle"], "ST_ATRAN"),
    ],
)
def test_cli_refuses_before_any_work(tmp_path: Path, sample_scene, args, words: str) -> None:
    from pix2lst.cli import main

    out = tmp_path / "lst.tif"
    res = CliRunner().invoke(main, ["physics", str(sample_scene), "-o", str(out), *args])
    assert res.exit_code != 0
    assert words in res.output
    assert len([ln for ln in res.output.splitlines() if ln.startswith("Error")]) == 1
    assert not out.exists() and list(tmp_path.iterdir()) == []

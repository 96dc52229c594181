"""Each Numba kernel against its plain-numpy twin (hypothesis), on every input dtype."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from pix2lst.lst_physics import (
    LstParams,
    RteParams,
    calibrate_composite,
    calibrate_numba,
    calibrate_numpy,
    lst_numba,
    lst_numpy,
    rte_numba,
    rte_numpy,
)
from pix2lst.lst_physics.calibrate import resolve_mtl
from pix2lst.lst_physics.kernels import KIND_BT, KIND_LINEAR

SETTINGS = settings(max_examples=40, deadline=None)
shapes = st.tuples(st.integers(1, 17), st.integers(1, 23))


def _same(a: np.ndarray, b: np.ndarray) -> None:
    assert a.dtype == b.dtype == np.float32
    np.testing.assert_array_equal(np.isnan(a), np.isnan(b))
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-5, equal_nan=True)


def _dn(dtype: type, shape: tuple[int, ...]) -> st.SearchStrategy[np.ndarray]:
    if dtype is np.int16:
        elements = st.sampled_from([-32768, 0, 1, 5000, 12000, 32767]) | st.integers(-100, 32767)
    elif dtype is np.float32:
        elements = st.sampled_from([0.0, math.nan, 1.0]) | st.floats(0, 65535, width=32)
    else:
        elements = st.sampled_from([0, 1, 65535]) | st.integers(0, 65535)
    return arrays(dtype, shape, elements=elements)


@pytest.mark.parametrize("dtype", [np.uint16, np.int16, np.float32])
@SETTINGS
@given(
    data=st.data(),
    shape=shapes,
    emis=st.sampled_from([0, 1]),
    offset=st.sampled_from([0.0, -273.15]),
)
def test_lst_kernel_matches_twin(
    dtype: type, data: st.DataObject, shape: tuple[int, int], emis: int, offset: float
) -> None:
    red, nir, tir = (data.draw(_dn(dtype, shape)) for _ in range(3))
    fill = -32768.0 if dtype is np.int16 else math.nan
    p = LstParams(
        2e-5, -0.1, 2e-5, -0.1, 3.342e-4, 0.1, 774.8853, 1321.0789,
        red_fill=fill, nir_fill=fill, tir_fill=fill, emissivity=emis,
        ndvi_lo=-0.2 if emis else 0.2, ndvi_hi=0.8 if emis else 0.5, offset=offset,
    )  # fmt: skip
    v = p.vector()
    out = lst_numba(red, nir, tir, v)
    _same(out, lst_numpy(red, nir, tir, v))
    bad = (red == 0) | (nir == 0) | (tir == 0) | (red == fill) | (nir == fill) | (tir == fill)
    assert np.isnan(out[bad]).all()


@pytest.mark.parametrize("dtype", [np.uint16, np.int16, np.float32])
@SETTINGS
@given(data=st.data(), shape=shapes, n=st.integers(1, 4))
def test_calibrate_kernel_matches_twin(
    dtype: type, data: st.DataObject, shape: tuple[int, int], n: int
) -> None:
    dn = data.draw(_dn(dtype, (n, *shape)))
    kind = np.array([data.draw(st.sampled_from([KIND_LINEAR, KIND_BT])) for _ in range(n)])
    a = np.where(kind == KIND_BT, 3.342e-4, 2e-5 / math.sin(math.radians(40)))
    b = np.where(kind == KIND_BT, 0.1, -0.1)
    k1, k2 = np.full(n, 774.8853), np.full(n, 1321.0789)
    fill = np.array([data.draw(st.sampled_from([math.nan, -32768.0, 5000.0])) for _ in range(n)])
    out = calibrate_numba(dn, kind, a, b, k1, k2, fill)
    _same(out, calibrate_numpy(dn, kind, a, b, k1, k2, fill))
    _same(calibrate_numba(dn, kind, a, b, k1, k2, fill, parallel=False), out)  # serial twin
    for i in range(n):
        assert np.isnan(out[i][(dn[i] == 0) | (dn[i] == fill[i])]).all()


@SETTINGS
@given(data=st.data(), shape=shapes)
def test_rte_kernel_matches_twin(data: st.DataObject, shape: tuple[int, int]) -> None:
    def band(lo: int, hi: int) -> np.ndarray:
        return data.draw(
            arrays(np.int16, shape, elements=st.sampled_from([-9999, 0]) | st.integers(lo, hi))
        )

    trad, urad, drad = band(3000, 12000), band(0, 3000), band(0, 5000)
    atran, emis = band(1, 10000), band(1, 10000)
    v = RteParams(k1=774.8853, k2=1321.0789).vector()
    out = rte_numba(trad, urad, drad, atran, emis, v)
    _same(out, rte_numpy(trad, urad, drad, atran, emis, v))
    assert np.isnan(out[(trad == -9999) | (emis == -9999) | (atran <= 0)]).all()


def test_rte_recovers_planted_temperature() -> None:
    # forward model: L_toa = tau (eps B(T) + (1 - eps) Ld) + Lu with B(T) = K1 / (exp(K2/T) - 1)
    k1, k2, t, eps, tau, lu, ld = 774.8853, 1321.0789, 295.0, 0.97, 0.8, 1.2, 2.0
    ltoa = tau * (eps * k1 / (math.exp(k2 / t) - 1) + (1 - eps) * ld) + lu
    dn = [
        np.array([[round(x / s)]], np.int16)
        for x, s in ((ltoa, 1e-3), (lu, 1e-3), (ld, 1e-3), (tau, 1e-4), (eps, 1e-4))
    ]
    out = rte_numba(*dn, RteParams(k1=k1, k2=k2).vector())
    assert out[0, 0] == pytest.approx(t, abs=0.02)


def test_calibrate_composite_engines_and_fill(sample_scene) -> None:
    import rasterio

    from pix2lst.lst_physics import COMPOSITE_BANDS, find_scene

    sc = find_scene(sample_scene)
    dn = np.stack(
        [rasterio.open(sc.band_path(b)).read(1, window=((0, 40), (0, 50))) for b in COMPOSITE_BANDS]
    )
    dn[:, 0, 0] = 0  # fill in every band
    dn[3, 1, 1] = 0  # fill in B4 only
    a = calibrate_composite(dn, COMPOSITE_BANDS, sc)
    b = calibrate_composite(dn, COMPOSITE_BANDS, sc.mtl, engine="numpy")
    _same(a, b)
    assert np.isnan(a[:, 0, 0]).all() and np.isnan(a[3, 1, 1]) and np.isfinite(a[4, 1, 1])
    m, add = resolve_mtl(sc)[0].toa_reflectance("B2")
    expected = (m * dn[1, 5, 5] + add) / math.sin(math.radians(sc.mtl.sun_elevation))
    assert a[1, 5, 5] == pytest.approx(expected, rel=1e-6)
    raw = calibrate_composite(dn, COMPOSITE_BANDS, sc, "dn")
    assert raw[7, 5, 5] == dn[7, 5, 5] and np.isnan(raw[0, 0, 0])


@pytest.mark.parametrize("dtype", [np.uint16, np.int16])
@SETTINGS
@given(data=st.data(), shape=shapes, emis=st.sampled_from([0, 1]))
def test_lst_lut_path_matches_twin(
    dtype: type, data: st.DataObject, shape: tuple[int, int], emis: int
) -> None:
    red, nir, tir = (data.draw(_dn(dtype, shape)) for _ in range(3))
    fill = -32768.0 if dtype is np.int16 else math.nan
    p = LstParams(
        2e-5, -0.1, 2e-5, -0.1, 3.8e-4, 0.1, 799.0284, 1329.2405,
        red_fill=fill, nir_fill=fill, tir_fill=fill, emissivity=emis,
        ndvi_lo=-0.3 if emis else 0.2, ndvi_hi=0.9 if emis else 0.5,
    )  # fmt: skip
    v = p.vector()
    _same(lst_numba(red, nir, tir, v, lut=True), lst_numpy(red, nir, tir, v))


def test_lst_lut_default_on_large_windows() -> None:
    rng = np.random.default_rng(1)
    red, nir, tir = (rng.integers(0, 40000, (300, 400)).astype(np.uint16) for _ in range(3))
    tir[0, :10] = 1  # radiance of DN 1 is positive; DN 0 is fill
    v = LstParams(2e-5, -0.1, 2e-5, -0.1, 3.342e-4, 0.1, 774.8853, 1321.0789).vector()
    a = lst_numba(red, nir, tir, v)  # table path (120,000 px > 65,536)
    _same(a, lst_numba(red, nir, tir, v, lut=False))
    _same(a, lst_numpy(red, nir, tir, v))

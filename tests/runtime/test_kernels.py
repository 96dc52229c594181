"""Each Numba kernel against its plain-numpy twin (hypothesis), and the blend windows."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pix2lst.runtime import kernels
from pix2lst.runtime.blending import BLENDS, blend_weights
from pix2lst.runtime.ring import dn_input_tables
from pix2lst.runtime.tiling import TileGrid
from tests.runtime import kernels_ref


@st.composite
def strips(draw: st.DrawFn) -> dict:
    tile = draw(st.integers(2, 24))
    padding = draw(st.integers(0, (tile - 1) // 2))
    height, width = draw(st.integers(1, 40)), draw(st.integers(1, 60))
    grid = TileGrid(height, width, tile, padding)
    n_bands = draw(st.integers(1, 4))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    buf = rng.normal(size=(n_bands, height, width)).astype(np.float32)
    buf[rng.random(buf.shape) < draw(st.sampled_from([0.0, 0.05, 0.5, 1.0]))] = np.nan
    row = draw(st.integers(0, grid.n_rows - 1))
    return {
        "grid": grid,
        "buf": buf,
        "rmap": np.ascontiguousarray(grid.strip_rows(row)),
        "cmap": grid.strip_cols(),
        "rng": rng,
        "blend": draw(st.sampled_from(BLENDS)),
    }


@given(strips())
@settings(max_examples=60, deadline=None)
def test_gather_valid_and_tiles_with_data(s: dict) -> None:
    g: TileGrid = s["grid"]
    a = np.zeros((g.tile, g.padded_width), dtype=np.uint8)
    kernels_ref.strip_valid_np(s["buf"], s["rmap"], s["cmap"], a)  # the oracle
    rv1 = np.isfinite(s["buf"]).all(axis=0).astype(np.uint8)  # per-row validity
    c = np.zeros_like(a)
    kernels.gather_valid(rv1, s["rmap"], s["cmap"], c)
    np.testing.assert_array_equal(c, a)  # per-row validity gathered == strip validity
    kernels_ref.gather_valid_np(rv1, s["rmap"], s["cmap"], c)
    np.testing.assert_array_equal(c, a)
    np.testing.assert_array_equal(
        kernels.tiles_with_data(a, g.n_cols, g.stride, g.tile),
        kernels_ref.tiles_with_data_np(a, g.n_cols, g.stride, g.tile),
    )


@given(strips())
@settings(max_examples=60, deadline=None)
def test_normalise_and_cut_tiles(s: dict) -> None:
    g: TileGrid = s["grid"]
    rng = s["rng"]
    n_bands = s["buf"].shape[0]
    scale = rng.uniform(0.1, 3, n_bands).astype(np.float32)
    offset = rng.uniform(-2, 2, n_bands).astype(np.float32)
    rows1, rows2 = s["buf"].copy(), s["buf"].copy()
    v1 = np.full(rows1.shape[1:], 9, dtype=np.uint8)
    v2 = v1.copy()
    kernels.normalise_rows(rows1, scale, offset, v1)
    kernels_ref.normalise_rows_np(rows2, scale, offset, v2)
    np.testing.assert_array_equal(rows1, rows2)
    np.testing.assert_array_equal(v1, v2)
    np.testing.assert_array_equal(v1, np.isfinite(s["buf"]).all(axis=0))
    assert np.isfinite(rows1).all()
    col_starts = (np.arange(g.n_cols) * g.stride).astype(np.int64)
    a = np.full((g.n_cols + 1, n_bands, g.tile, g.tile), 7, dtype=np.float32)
    b = a.copy()
    kernels.cut_tiles(rows1, s["rmap"], s["cmap"], col_starts, a)
    kernels_ref.cut_tiles_np(rows1, s["rmap"], s["cmap"], col_starts, b)
    np.testing.assert_array_equal(a, b)
    assert (a[-1] == 7).all()  # items past len(col_starts) untouched
    # rows and batch with other strides (the kernels' plain copies, not streamed ones)
    wide = np.zeros((n_bands, rows1.shape[1], 2 * rows1.shape[2]), dtype=np.float32)
    wide[:, :, ::2] = rows1
    c = np.full((g.n_cols + 1, n_bands, g.tile, 2 * g.tile), 7, dtype=np.float32)
    kernels.cut_tiles(wide[:, :, ::2], s["rmap"], s["cmap"], col_starts, c[:, :, :, 1::2])
    np.testing.assert_array_equal(c[:, :, :, 1::2], b)
    assert (c[:, :, :, ::2] == 7).all()


@given(strips())
@settings(max_examples=60, deadline=None)
def test_cut_strip_holds_every_tile(s: dict) -> None:
    # device tiling: the whole padded strip, whose slices at the tile starts are the
    # tiles cut_tiles copies (reflection at both borders included)
    g: TileGrid = s["grid"]
    rows = np.nan_to_num(s["buf"])
    n_bands = rows.shape[0]
    a = np.full((n_bands, g.tile, g.padded_width), 7, dtype=np.float32)
    b = np.zeros_like(a)
    kernels.cut_strip(rows, s["rmap"], s["cmap"], a)
    kernels_ref.cut_strip_np(rows, s["rmap"], s["cmap"], b)
    np.testing.assert_array_equal(a, b)
    col_starts = (np.arange(g.n_cols) * g.stride).astype(np.int64)
    tiles = np.zeros((g.n_cols, n_bands, g.tile, g.tile), dtype=np.float32)
    kernels.cut_tiles(rows, s["rmap"], s["cmap"], col_starts, tiles)
    for k, cs in enumerate(col_starts):
        np.testing.assert_array_equal(a[:, :, cs : cs + g.tile], tiles[k])
    # the compact upload: uint16 DN strips (a kernel compiled for that type)
    dn = (np.abs(rows) * 1000).astype(np.uint16)
    c = np.full((n_bands, g.tile, g.padded_width), 7, dtype=np.uint16)
    d = np.zeros_like(c)
    kernels.cut_strip(dn, s["rmap"], s["cmap"], c)
    kernels_ref.cut_strip_np(dn, s["rmap"], s["cmap"], d)
    np.testing.assert_array_equal(c, d)


@given(strips())
@settings(max_examples=60, deadline=None)
def test_dn_lookup_equals_normalising_the_values(s: dict) -> None:
    # a scene's DN looked up in one table per band give bit for bit what
    # calibrating first (values = table[dn]) and normalising gives
    rng = s["rng"]
    n_bands = s["buf"].shape[0]
    values = rng.normal(300, 20, (n_bands, 256)).astype(np.float32)
    values[:, 0] = np.nan  # fill DN
    values[rng.random(values.shape) < 0.1] = np.nan
    dn = rng.integers(0, 256, s["buf"].shape).astype(np.uint8)
    looked_up = np.stack([values[b][dn[b]] for b in range(n_bands)])
    scale = rng.uniform(0.001, 0.1, n_bands).astype(np.float32)
    offset = rng.uniform(-2, 2, n_bands).astype(np.float32)
    inputs = dn_input_tables(values, scale, offset)
    out1 = np.full(dn.shape, 5, np.float32)
    out2 = out1.copy()
    v1 = np.full(dn.shape[1:], 9, dtype=np.uint8)
    v2, v3 = v1.copy(), v1.copy()
    kernels.lookup_rows(dn, inputs, out1, v1)
    kernels_ref.lookup_rows_np(dn, inputs, out2, v2)
    kernels.normalise_rows(looked_up, scale, offset, v3)
    np.testing.assert_array_equal(out1, out2)
    np.testing.assert_array_equal(out1, looked_up)
    np.testing.assert_array_equal(v1, v2)
    np.testing.assert_array_equal(v1, v3)
    r1 = np.full(dn.shape[1:], 5, np.float32)
    r2 = r1.copy()
    kernels.lookup_values(dn[-1], values[-1], r1)
    kernels_ref.lookup_values_np(dn[-1], values[-1], r2)
    np.testing.assert_array_equal(r1, r2)
    np.testing.assert_array_equal(r1, np.stack([values[-1][dn[-1]]])[0])
    v4, v5 = np.full_like(v1, 9), np.full_like(v1, 9)  # validity alone (device tiling)
    kernels.valid_rows(dn, inputs, v4)
    kernels_ref.valid_rows_np(dn, inputs, v5)
    np.testing.assert_array_equal(v4, v1)
    np.testing.assert_array_equal(v5, v1)


@given(strips())
@settings(max_examples=60, deadline=None)
def test_accumulate_and_finalize(s: dict) -> None:
    g: TileGrid = s["grid"]
    rng = s["rng"]
    valid = np.zeros((g.tile, g.padded_width), dtype=np.uint8)
    kernels_ref.strip_valid_np(s["buf"], s["rmap"], s["cmap"], valid)
    weights = blend_weights(s["blend"], g.tile, g.padding)
    col_starts = (np.arange(g.n_cols) * g.stride).astype(np.int64)
    preds = rng.normal(300, 5, (g.n_cols, g.tile, g.tile)).astype(np.float32)
    preds[rng.random(preds.shape) < 0.05] = np.nan  # a model may emit NaN: excluded
    acc = rng.normal(size=valid.shape)
    wacc = rng.uniform(0, 1, valid.shape)
    acc2, wacc2 = acc.copy(), wacc.copy()
    arows = rng.permutation(g.tile).astype(np.int64)  # the accumulator is a ring of rows
    acc3, wacc3 = acc.copy(), wacc.copy()
    kernels.accumulate(acc, wacc, preds, col_starts, weights, valid, arows, 0, g.tile)
    kernels_ref.accumulate_np(acc2, wacc2, preds, col_starts, weights, valid, arows, 0, g.tile)
    np.testing.assert_allclose(acc, acc2, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(wacc, wacc2, rtol=1e-12, atol=1e-12)
    # in bands of rows, as several blend threads add them: the same sums, bit for bit
    cut = int(rng.integers(0, g.tile + 1))
    for a, b in ((cut, g.tile), (0, cut)):
        kernels.accumulate(acc3, wacc3, preds, col_starts, weights, valid, arows, a, b)
    np.testing.assert_array_equal(acc3, acc)
    np.testing.assert_array_equal(wacc3, wacc)

    rows = min(g.tile, 5)
    resid = rng.normal(300, 3, (rows, g.width)).astype(np.float32)
    out_rows = rng.permutation(g.tile)[:rows].astype(np.int64)
    wacc[out_rows[0], g.padding] = 0.0  # a pixel without weight becomes NaN
    for has_resid in (False, True):
        out1 = np.zeros((rows, g.width), dtype=np.float32)
        out2 = np.zeros_like(out1)
        args = (out_rows, g.padding, 0.5, 250.0, -273.15, resid, has_resid)
        kernels.finalize_rows(acc, wacc, *args, out1)
        kernels_ref.finalize_rows_np(acc, wacc, *args, out2)
        np.testing.assert_array_equal(out1, out2)
        assert np.isnan(out1[0, 0])


@pytest.mark.parametrize("blend", BLENDS)
@pytest.mark.parametrize(("tile", "padding"), [(32, 8), (256, 64), (16, 0), (5, 2)])
def test_blend_windows(blend: str, tile: int, padding: int) -> None:
    w = blend_weights(blend, tile, padding)
    assert w.shape == (tile, tile) and w.dtype == np.float64
    np.testing.assert_array_equal(w, w.T)
    np.testing.assert_array_equal(w, w[::-1, ::-1])
    centre = w[padding : tile - padding, padding : tile - padding]
    assert (centre > 0).all()  # every pixel is inside some tile's centre: always covered
    if blend == "crop":
        assert w.sum() == (tile - 2 * padding) ** 2
    else:
        assert (w > 0).all() and w.max() <= 1.0


def test_unknown_blend() -> None:
    with pytest.raises(ValueError, match="hann, linear, crop"):
        blend_weights("gauss", 32, 8)

"""Padded tiling: pure window maths, checked with hypothesis."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pix2lst.runtime.tiling import TileGrid, default_padding, reflect_index


@st.composite
def grids(draw: st.DrawFn) -> TileGrid:
    tile = draw(st.integers(1, 64))
    padding = draw(st.integers(0, (tile - 1) // 2))
    return TileGrid(draw(st.integers(1, 300)), draw(st.integers(1, 300)), tile, padding)


@given(st.integers(1, 50), st.integers(0, 60))
@settings(deadline=None)  # no timing in a property test: a busy machine must not fail it
def test_reflect_index_matches_numpy_pad(size: int, pad: int) -> None:
    data = np.arange(size)
    if size > 1:  # numpy refuses to reflect a single value; we repeat it
        expected = np.pad(data, pad, mode="reflect")
    else:
        expected = np.zeros(size + 2 * pad, dtype=int)
    got = data[reflect_index(np.arange(-pad, size + pad), size)]
    np.testing.assert_array_equal(got, expected)


def test_default_padding_is_the_notebooks() -> None:
    assert default_padding(256) == 64
    assert TileGrid(7800, 7700, 256, 64).stride == 128


@given(grids())
@settings(max_examples=200)
def test_tile_centres_partition_the_raster(grid: TileGrid) -> None:
    assert grid.stride == grid.tile - 2 * grid.padding
    # the centre of tile c covers [c*stride, (c+1)*stride): together they cover everything
    for n, size, origin in (
        (grid.n_rows, grid.height, grid.row_origin),
        (grid.n_cols, grid.width, grid.col_origin),
    ):
        centres = [origin(i) + grid.padding for i in range(n)]
        assert centres[0] == 0
        assert all(b - a == grid.stride for a, b in itertools.pairwise(centres))
        assert centres[-1] < size <= centres[-1] + grid.stride
    assert grid.n_tiles == grid.n_rows * grid.n_cols


@given(grids())
@settings(max_examples=200)
def test_finished_rows_partition_the_raster_in_order(grid: TileGrid) -> None:
    rows: list[int] = []
    for r in range(grid.n_rows):
        start, stop = grid.finished_rows(r)
        # a finished row is not touched by any later strip
        if r + 1 < grid.n_rows and stop > start:
            assert stop <= max(grid.row_origin(r + 1), 0)
        # and it lies inside the current strip's accumulator
        if stop > start:
            assert grid.row_origin(r) <= start and stop <= grid.row_origin(r) + grid.tile
        rows.extend(range(start, stop))
    assert rows == list(range(grid.height))


@given(grids())
@settings(max_examples=100)
def test_strip_indices_stay_in_the_raster(grid: TileGrid) -> None:
    cols = grid.strip_cols()
    assert cols.shape == (grid.padded_width,)
    assert cols.min() >= 0 and cols.max() < grid.width
    # inside the raster the mapping is the identity
    inner = cols[grid.padding : grid.padding + grid.width]
    np.testing.assert_array_equal(inner, np.arange(grid.width))
    for r in range(grid.n_rows):
        rows = grid.strip_rows(r)
        assert rows.shape == (grid.tile,)
        assert rows.min() >= 0 and rows.max() < grid.height
        assert rows.max() - rows.min() < min(grid.tile, grid.height)


def test_one_pixel_strip_and_tiny_raster() -> None:
    g = TileGrid(1, 500, 32, 8)
    assert g.n_rows == 1 and g.n_cols == 32
    np.testing.assert_array_equal(g.strip_rows(0), np.zeros(32, dtype=int))
    tiny = TileGrid(3, 2, 256, 64)
    assert tiny.n_tiles == 1 and tiny.finished_rows(0) == (0, 3)


@pytest.mark.parametrize("padding", [-1, 16, 17, 100])
def test_padding_must_be_less_than_half_a_tile(padding: int) -> None:
    with pytest.raises(ValueError, match="less than half the tile"):
        TileGrid(100, 100, 32, padding)


def test_bad_sizes_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 1 x 1"):
        TileGrid(0, 10, 32, 8)

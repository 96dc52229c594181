"""Streamed overviews: the Numba kernel, its numpy twin and a nanmean reference agree; the
writer appends them as overviews GDAL reads, equal to GDAL's AVERAGE where sizes divide."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.crs import CRS
from rasterio.enums import Resampling
from rasterio.windows import Window

from pix2lst.errors import ParameterError
from pix2lst.geo import verify as verify_mod
from pix2lst.geo.grid import Grid
from pix2lst.geo.overviews import OverviewStream, accumulate_rows, accumulate_rows_ref
from pix2lst.geo.writer import raster_writer


def nanmean_pyramid(a: np.ndarray, factors: list[int]) -> list[np.ndarray]:
    """Each overview pixel: the mean of the finite pixels of its f x f block (NaN if none)."""
    out = []
    for f in factors:
        h, w = -(-a.shape[0] // f), -(-a.shape[1] // f)
        p = np.full((h * f, w * f), np.nan)
        p[: a.shape[0], : a.shape[1]] = np.where(np.isfinite(a), a, np.nan)
        with warnings.catch_warnings():  # all-NaN blocks: the mean of nothing is NaN
            warnings.simplefilter("ignore", RuntimeWarning)
            out.append(np.nanmean(p.reshape(h, f, w, f), axis=(1, 3)).astype(np.float32))
    return out


def noisy(h: int, w: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    a = (300 + 3 * rng.standard_normal((h, w))).astype(np.float32)
    a[:, :5] = np.nan  # a NaN border, as a scene's corners
    a[rng.uniform(size=a.shape) < 0.05] = np.nan
    a[3, 7] = np.inf  # not finite: left out like NaN
    return a


@pytest.mark.parametrize("kernel", [accumulate_rows, accumulate_rows_ref])
@pytest.mark.parametrize(
    ("h", "w", "factors"),
    [(37, 53, [2, 4, 8]), (64, 40, [2, 4]), (9, 9, [4]), (31, 47, [2, 6]), (20, 33, [3, 6])],
)
def test_streamed_pyramid_matches_nanmean(
    tmp_path: Path, kernel: object, h: int, w: int, factors: list[int]
) -> None:
    a = noisy(h, w)
    stream = OverviewStream(h, w, factors, tmp_path, kernel=kernel)
    start = 0
    for n in [1, 5, 2, 11, 3] * 20:  # strips of any height, in order
        if start >= h:
            break
        assert stream.add(start, a[start : start + n])
        start += min(n, h - start)
    assert stream.complete
    for lvl, ref in enumerate(nanmean_pyramid(a, factors)):
        got = stream.level(lvl, 0, ref.shape[0])
        np.testing.assert_allclose(got, ref, rtol=1e-6, equal_nan=True)
        tiles = list(stream.tiles(lvl, 8))
        assert len(tiles) == -(-ref.shape[0] // 8) * -(-ref.shape[1] // 8)
        np.testing.assert_allclose(tiles[0][: ref.shape[0], : ref.shape[1]], ref[:8, :8], rtol=1e-6)
    stream.close()


def test_rows_out_of_order_are_refused(tmp_path: Path) -> None:
    stream = OverviewStream(16, 8, [2, 4], tmp_path)
    a = noisy(16, 8)
    assert not stream.add(4, a[4:8])  # not the next rows
    assert not stream.add(0, a[:4, :6])  # not full width
    assert stream.add(0, a[:4]) and not stream.complete
    with pytest.raises(ParameterError, match="multiple"):
        OverviewStream(16, 8, [2, 3], tmp_path)


GRID = Grid(CRS.from_epsg(32616), Affine(30.0, 0, 400_000.0, 0, -30.0, 3_400_000.0), 640, 520)


def _overview(path: Path, lvl: int) -> np.ndarray:
    with rasterio.open(path, OVERVIEW_LEVEL=lvl) as ds:
        return ds.read(1)


def test_writer_appends_streamed_overviews_gdal_reads(tmp_path: Path) -> None:
    a = noisy(GRID.height, GRID.width, seed=3)
    out = tmp_path / "lst.tif"
    with raster_writer(out, GRID, units=("K",)) as w:
        assert w.overviews is not None
        for s in range(0, GRID.height, 100):  # 1-band physics writes (1, h, w) windows
            n = min(100, GRID.height - s)
            w.write(a[None, s : s + n], Window(0, s, GRID.width, n))
        assert w.overviews is not None and w.overviews.complete
    with rasterio.open(out) as ds:
        assert ds.overviews(1) == [2, 4] and ds.tags(ns="rio_overview")["resampling"] == "average"
        np.testing.assert_array_equal(ds.read(1), a)
        small = ds.read(1, out_shape=(GRID.height // 4, GRID.width // 4))
    refs = nanmean_pyramid(a, [2, 4])
    np.testing.assert_allclose(small, refs[1], rtol=1e-6, equal_nan=True)
    for lvl, ref in enumerate(refs):
        np.testing.assert_allclose(_overview(out, lvl), ref, rtol=1e-6, equal_nan=True)
    assert verify_mod._decode_blocks(out)  # base and overview IFDs decode
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lst.tif"]


def test_streamed_equals_gdal_average_without_nan(tmp_path: Path) -> None:
    a = (290 + np.random.default_rng(4).uniform(0, 20, (GRID.height, GRID.width))).astype("f4")
    ours = tmp_path / "ours.tif"
    with raster_writer(ours, GRID) as w:
        w.write_rows(0, a[:300])
        w.write_rows(300, a[300:])
    gdal = tmp_path / "gdal.tif"
    with raster_writer(gdal, GRID, overviews=False) as w:
        w.write_rows(0, a)
    with rasterio.open(gdal, "r+") as ds:
        ds.build_overviews([2, 4], Resampling.average)
    for lvl in (0, 1):
        np.testing.assert_allclose(_overview(ours, lvl), _overview(gdal, lvl), rtol=1e-6)


def test_writes_out_of_order_fall_back_to_gdal(tmp_path: Path) -> None:
    a = noisy(GRID.height, GRID.width, seed=5)
    out = tmp_path / "lst.tif"
    with raster_writer(out, GRID) as w:
        w.write(a[256:], Window(0, 256, GRID.width, GRID.height - 256))
        assert w.overviews is None  # not the next rows: GDAL builds them at the end
        w.write(a[:256], Window(0, 0, GRID.width, 256))
    with rasterio.open(out) as ds:
        assert ds.overviews(1) == [2, 4] and ds.tags(ns="rio_overview")["resampling"] == "average"
        np.testing.assert_array_equal(ds.read(1), a)


def test_a_helper_thread_counts_and_averages_beside_gdal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # with GDAL threads (cores to spare: a GPU box) a helper thread counts the values and
    # averages the overviews while GDAL writes the same rows: the same file as the writing
    # thread doing it all; what the helper raises reaches the caller, and nothing is left
    import threading

    from pix2lst.errors import ImplausibleDataError, OutputWriteError

    a = noisy(GRID.height, GRID.width, seed=6)
    seen: set[str] = set()
    real_add = OverviewStream.add

    def add(self: OverviewStream, start: int, rows: np.ndarray) -> bool:
        seen.add(threading.current_thread().name)
        return real_add(self, start, rows)

    monkeypatch.setattr(OverviewStream, "add", add)
    outs = {}
    for threads in (1, 2):
        outs[threads] = tmp_path / f"t{threads}.tif"
        seen.clear()
        with raster_writer(outs[threads], GRID, units=("K",), threads=threads) as w:
            assert (w._helper is not None) == (threads > 1)
            for s in range(0, GRID.height, 128):
                w.write_rows(s, a[s : s + 128])
        assert {n.split("_")[0] for n in seen} == (
            {"pix2lst-count"} if threads > 1 else {threading.current_thread().name}
        )
    with rasterio.open(outs[1]) as x, rasterio.open(outs[2]) as y:
        np.testing.assert_array_equal(x.read(1), y.read(1))
    for lvl in (0, 1):
        np.testing.assert_array_equal(_overview(outs[1], lvl), _overview(outs[2], lvl))

    cold = np.full((GRID.height, GRID.width), 20.0, np.float32)  # 20 K: implausible
    with (
        pytest.raises(ImplausibleDataError),
        raster_writer(tmp_path / "cold.tif", GRID, units=("K",), threads=2) as w,
    ):
        w.write_rows(0, cold)

    def full(self: OverviewStream, start: int, rows: np.ndarray) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(OverviewStream, "_add", full)
    with (
        pytest.raises(OutputWriteError, match="No space left"),
        raster_writer(tmp_path / "full.tif", GRID, units=("K",), threads=2) as w,
    ):
        w.write_rows(0, a)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t1.tif", "t2.tif"]

"""write_lst on real data, nodata handling, cloud masking, and every bad-input case."""

from __future__ import annotations

import math
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.windows import Window

from pix2lst.errors import (
    BandNotFoundError,
    EmptySceneError,
    GridMismatchError,
    MetadataError,
    OutputExistsError,
    OutputNotWritableError,
)
from pix2lst.lst_physics import compute_lst, find_scene, write_lst

BANDS = ("B1", "B2", "B3", "B4", "B5", "B6", "B7", "B10", "BQA")


def make_scene(
    src: Path,
    dst: Path,
    size: int = 64,
    edit: Callable[[str, np.ndarray, dict], tuple[np.ndarray, dict]] | None = None,
    bands: tuple[str, ...] = BANDS,
) -> Path:
    """A size x size crop of the sample, bands optionally edited (array, profile)."""
    dst.mkdir(parents=True, exist_ok=True)
    shutil.copy(src / "test_MTL.txt", dst / "test_MTL.txt")
    for b in bands:
        with rasterio.open(src / f"test_{b}.tif") as ds:
            w = Window(200, 200, size, size)
            arr = ds.read(1, window=w)
            prof = {
                **ds.profile,
                "width": size,
                "height": size,
                "transform": ds.window_transform(w),
            }
        if edit is not None:
            arr, prof = edit(b, arr, prof)
        prof.update(dtype=arr.dtype, width=arr.shape[1], height=arr.shape[0])
        with rasterio.open(dst / f"test_{b}.tif", "w", **prof) as out:
            out.write(arr, 1)
    return dst


def test_write_lst_sample(sample_scene: Path, tmp_path: Path) -> None:
    out = write_lst(sample_scene, tmp_path / "lst.tif")
    with rasterio.open(out) as ds, rasterio.open(sample_scene / "test_B10.tif") as ref:
        assert ds.dtypes == ("float32",) and math.isnan(ds.nodata)
        assert ds.crs == ref.crs and ds.transform == ref.transform and ds.shape == ref.shape
        assert ds.profile["tiled"] and ds.block_shapes == [(256, 256)]
        assert ds.compression.name.lower() == "zstd"
        tags = ds.tags()
        assert tags["METHOD"] == "planck" and tags["EMISSIVITY"] == "sobrino"
        assert tags["UNITS"] == "K" and tags["SCENE_ID"] == "LC80200392015216LGN00"
        assert float(tags["K1"]) == 774.8853 and float(tags["LAMBDA_UM"]) == 10.895
        assert ds.descriptions == ("LST",) and ds.units == ("K",)
        lst = ds.read(1)
    sc = find_scene(sample_scene)
    arrays = [rasterio.open(sc.band_path(b)).read(1) for b in ("B4", "B5", "B10")]
    np.testing.assert_array_equal(lst, compute_lst(*arrays, sc))  # streamed == in memory
    assert np.isfinite(lst).all() and 250 < lst.min() and lst.max() < 320
    assert sorted(tmp_path.iterdir()) == [out.with_suffix(".qml"), out]  # its QGIS style, no temp


def test_celsius_and_strip_size_invariance(sample_scene: Path, tmp_path: Path) -> None:
    k = write_lst(sample_scene, tmp_path / "k.tif", strip_rows=512)
    c = write_lst(sample_scene, tmp_path / "c.tif", units="C", strip_rows=256)
    with rasterio.open(k) as a, rasterio.open(c) as b:
        assert b.tags()["UNITS"] == "degC"
        np.testing.assert_allclose(b.read(1), a.read(1) - 273.15, atol=1e-4)


def test_avdan_warns(sample_scene: Path, tmp_path: Path) -> None:
    with pytest.warns(UserWarning, match="not tile-stable|tile-stable"):
        out = write_lst(sample_scene, tmp_path / "a.tif", emissivity="avdan")
    with rasterio.open(out) as ds:
        assert ds.tags()["EMISSIVITY"] == "avdan" and np.isfinite(ds.read(1)).all()


def test_mask_clouds_sample(sample_scene: Path, tmp_path: Path) -> None:
    out = write_lst(sample_scene, tmp_path / "m.tif", mask_clouds=True)
    with rasterio.open(out) as ds, rasterio.open(sample_scene / "test_BQA.tif") as qa:
        lst, q = ds.read(1), qa.read(1)
    cloudy = ((q >> 14) & 3) == 3
    assert cloudy.any() and np.isnan(lst[cloudy]).all()
    assert np.isfinite(lst[~cloudy & (((q >> 12) & 3) != 3)]).all()


def test_fill_in_any_band_gives_nan(sample_scene: Path, tmp_path: Path) -> None:
    def edit(b: str, a: np.ndarray, p: dict) -> tuple[np.ndarray, dict]:
        a = a.copy()
        a[{"B4": 0, "B5": 1, "B10": 2}.get(b, 9), :5] = 0
        return a, p

    out = write_lst(make_scene(sample_scene, tmp_path / "s", edit=edit), tmp_path / "o.tif")
    lst = rasterio.open(out).read(1)
    assert np.isnan(lst[:3, :5]).all() and np.isfinite(lst[3:]).all()


def test_int16_band_with_nodata(sample_scene: Path, tmp_path: Path) -> None:
    def edit(b: str, a: np.ndarray, p: dict) -> tuple[np.ndarray, dict]:
        if b != "B5":
            return a, p
        a = (a // 2).astype(np.int16)  # still a valid DN range for int16
        a[10:12, :] = -32768
        return a, {**p, "nodata": -32768}

    out = write_lst(make_scene(sample_scene, tmp_path / "s", edit=edit), tmp_path / "o.tif")
    lst = rasterio.open(out).read(1)
    assert np.isnan(lst[10:12]).all() and np.isfinite(np.delete(lst, [10, 11], axis=0)).all()


def test_missing_band(sample_scene: Path, tmp_path: Path) -> None:
    sc = make_scene(sample_scene, tmp_path / "s", bands=("B4", "B5"))
    with pytest.raises(BandNotFoundError, match="band B10 not found"):
        write_lst(sc, tmp_path / "o.tif")
    with pytest.raises(BandNotFoundError, match="no quality band"):
        write_lst(
            make_scene(sample_scene, tmp_path / "t", bands=("B4", "B5", "B10")),
            tmp_path / "o.tif",
            mask_clouds=True,
        )
    assert not (tmp_path / "o.tif").exists()


def test_missing_mtl_key(sample_scene: Path, tmp_path: Path) -> None:
    sc = make_scene(sample_scene, tmp_path / "s", bands=("B4", "B5", "B10"))
    mtl = sc / "test_MTL.txt"
    mtl.write_text(
        "\n".join(x for x in mtl.read_text().splitlines() if "K2_CONSTANT_BAND_10" not in x)
    )
    with pytest.raises(MetadataError, match="K2_CONSTANT_BAND_10 is missing"):
        write_lst(sc, tmp_path / "o.tif")
    assert not (tmp_path / "o.tif").exists()


def test_grid_mismatch(sample_scene: Path, tmp_path: Path) -> None:
    def edit(b: str, a: np.ndarray, p: dict) -> tuple[np.ndarray, dict]:
        return (a[:-1], p) if b == "B10" else (a, p)

    sc = make_scene(sample_scene, tmp_path / "s", edit=edit, bands=("B4", "B5", "B10"))
    with pytest.raises(
        GridMismatchError, match=r"band B4 vs band B10: size 64x64 vs 64x63 \(w x h\)"
    ):
        write_lst(sc, tmp_path / "o.tif")

    def shift(b: str, a: np.ndarray, p: dict) -> tuple[np.ndarray, dict]:
        t = p["transform"]
        moved = rasterio.Affine(t.a, t.b, t.c + 30.0, t.d, t.e, t.f)
        return (a, {**p, "transform": moved}) if b == "B5" else (a, p)

    sc2 = make_scene(sample_scene, tmp_path / "t", edit=shift, bands=("B4", "B5", "B10"))
    with pytest.raises(GridMismatchError, match=r"not on one grid: band B4 vs band B5: transform"):
        write_lst(sc2, tmp_path / "o.tif")
    assert not (tmp_path / "o.tif").exists()


def test_all_nodata_scene(sample_scene: Path, tmp_path: Path) -> None:
    sc = make_scene(sample_scene, tmp_path / "s", edit=lambda b, a, p: (np.zeros_like(a), p))
    with pytest.raises(EmptySceneError, match="every pixel"):
        write_lst(sc, tmp_path / "o.tif")
    assert sorted(x.name for x in tmp_path.iterdir()) == ["s"]  # no partial/temp file


def test_output_exists_and_unwritable(sample_scene: Path, tmp_path: Path) -> None:
    out = tmp_path / "o.tif"
    out.write_bytes(b"keep")
    with pytest.raises(OutputExistsError, match="--overwrite"):
        write_lst(sample_scene, out)
    assert out.read_bytes() == b"keep"
    with pytest.raises(OutputNotWritableError, match="does not exist"):
        write_lst(sample_scene, tmp_path / "nope" / "o.tif")
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        if os.access(ro, os.W_OK):
            pytest.skip("running as a user that can write read-only folders (root)")
        with pytest.raises(OutputNotWritableError, match="not writable"):
            write_lst(sample_scene, ro / "o.tif")
    finally:
        ro.chmod(0o755)


def test_unwritable_folder_checked_before_work(
    sample_scene: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pix2lst.geo.atomic

    monkeypatch.setattr(pix2lst.geo.atomic.os, "access", lambda *a, **k: False)
    with pytest.raises(OutputNotWritableError, match="not writable"):
        write_lst(sample_scene, tmp_path / "o.tif")
    assert list(tmp_path.iterdir()) == []


def test_rte_needs_l2(sample_scene: Path, tmp_path: Path) -> None:
    with pytest.raises(BandNotFoundError, match="method 'rte' needs"):
        write_lst(sample_scene, tmp_path / "o.tif", method="rte")


def test_tile_scene_streams_like_the_sample(sample_scene: Path, tmp_path: Path) -> None:
    from tests.conftest import tile_scene

    big = tile_scene(sample_scene, tmp_path / "big", 700, 650, bands=("B4", "B5", "B10"))
    out = write_lst(big, tmp_path / "big.tif", strip_rows=256)
    small = rasterio.open(write_lst(sample_scene, tmp_path / "s.tif")).read(1)
    with rasterio.open(out) as ds:
        assert ds.shape == (700, 650)
        lst = ds.read(1)
    np.testing.assert_array_equal(lst[:603, :627], small)  # the first tile is the sample itself
    np.testing.assert_array_equal(lst[603:700, :627], small[::-1][: 700 - 603])  # mirrored below

"""Tiles, manifest, grid checks, the leak-free split, normalisation and metrics (no training)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import rasterio
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from rasterio.transform import Affine
from rasterio.windows import Window

from pix2lst.cli import main
from pix2lst.errors import DatasetError, GridMismatchError, OutputExistsError
from pix2lst.export.grid import TileWindow, tile_offsets, tile_windows, windows_overlap
from pix2lst.export.metrics import evaluate_lst, psnr_arcgis, ssim_arcgis, to_unit_scale
from pix2lst.export.norm import Normalisation
from pix2lst.export.tiles import TileRecord, check_same_grid, export_tiles, read_manifest


@pytest.fixture(scope="module")
def sample_pair(tmp_path_factory: pytest.TempPathFactory, sample_scene: Path) -> tuple[Path, Path]:
    """Composite (toa) and physics LST of the embedded sample."""
    from pix2lst.lst_physics import write_composite, write_lst

    d = tmp_path_factory.mktemp("pair")
    comp, lst = d / "sample_composite.tif", d / "sample_lst.tif"
    write_composite(sample_scene, comp, units="toa")
    write_lst(sample_scene, lst)
    return comp, lst


# -- pure grid maths ------------------------------------------------------------
def test_offsets_snap_last_tile_to_edge() -> None:
    assert tile_offsets(603, 128, 64) == [0, 64, 128, 192, 256, 320, 384, 448, 475]
    assert tile_offsets(256, 256, 128) == [0]
    with pytest.raises(DatasetError, match="smaller than one"):
        tile_offsets(100, 128, 64)
    with pytest.raises(DatasetError, match="stride"):
        tile_offsets(300, 128, 200)


@settings(max_examples=60, deadline=None)
@given(st.integers(8, 300), st.integers(8, 300), st.integers(4, 64), st.data())
def test_windows_cover_scene_and_stay_inside(
    h: int, w: int, tile: int, data: st.DataObject
) -> None:
    tile = min(tile, h, w)
    stride = data.draw(st.integers(1, tile))
    cover = np.zeros((h, w), bool)
    for win in tile_windows(h, w, tile, stride):
        assert win.row_stop <= h and win.col_stop <= w
        cover[win.row_off : win.row_stop, win.col_off : win.col_stop] = True
    assert cover.all()


def test_windows_overlap() -> None:
    a = TileWindow(0, 0, 64)
    assert windows_overlap(a, TileWindow(32, 32, 64))
    assert not windows_overlap(a, TileWindow(64, 0, 64))
    assert not windows_overlap(a, TileWindow(0, 64, 64))


# -- tiles and manifest ---------------------------------------------------------------
def test_tiles_round_trip(sample_pair: tuple[Path, Path], tmp_path: Path) -> None:
    comp, lst = sample_pair
    out = tmp_path / "ds"
    r = export_tiles(comp, lst, out, tile=128, stride=128, scene="mobile")
    assert (r.total, r.written, r.skipped_nodata) == (25, 25, 0)  # 5 x 5 with edge snapping
    recs = read_manifest(out)
    assert len(recs) == 25 and {p.name for p in (out / "images").iterdir()} == {
        x.name for x in recs
    }
    assert {p.name for p in (out / "images2").iterdir()} == {x.name for x in recs}
    rec = recs[7]
    with rasterio.open(comp) as src, rasterio.open(out / "images" / rec.name) as t:
        win = Window(rec.col_off, rec.row_off, 128, 128)
        np.testing.assert_array_equal(t.read(), src.read(window=win))
        assert (
            t.descriptions == src.descriptions == ("B1", "B2", "B3", "B4", "B5", "B6", "B7", "B10")
        )
        assert t.crs == src.crs
        assert t.transform.almost_equals(src.window_transform(win))
        assert t.bounds == pytest.approx((rec.left, rec.bottom, rec.right, rec.top))
    with rasterio.open(lst) as src, rasterio.open(out / "images2" / rec.name) as t:
        np.testing.assert_array_equal(t.read(1), src.read(1, window=win))
    assert all(math.isclose(x.valid_fraction, 1.0) for x in recs)


def test_tiles_append_scenes_and_refuse_duplicates(
    sample_pair: tuple[Path, Path], tmp_path: Path
) -> None:
    comp, lst = sample_pair
    out = tmp_path / "ds"
    export_tiles(comp, lst, out, tile=256, stride=256, scene="a")
    export_tiles(comp, lst, out, tile=256, stride=256, scene="b")
    recs = read_manifest(out)
    assert sorted({r.scene for r in recs}) == ["a", "b"] and len(recs) == 18
    assert len({r.name for r in recs}) == 18
    with pytest.raises(OutputExistsError, match="already in"):
        export_tiles(comp, lst, out, tile=256, stride=256, scene="a")
    export_tiles(comp, lst, out, tile=256, stride=128, scene="a", overwrite=True)
    recs = read_manifest(out)
    assert sum(r.scene == "a" for r in recs) == 16 and len(list((out / "images").iterdir())) == 25


def test_tiles_skip_nodata_and_count(sample_pair: tuple[Path, Path], tmp_path: Path) -> None:
    comp, lst = sample_pair
    with rasterio.open(lst) as src:
        prof, y = src.profile, src.read(1)
    y[:300, :300] = np.nan  # one corner of nodata
    holed = tmp_path / "holed.tif"
    with rasterio.open(holed, "w", **prof) as dst:
        dst.write(y, 1)
    strict = export_tiles(comp, holed, tmp_path / "strict", tile=128, stride=128, scene="s")
    loose = export_tiles(comp, holed, tmp_path / "loose", tile=128, stride=128, scene="s",
                         max_nodata=0.5)  # fmt: skip
    # rows/cols 0, 128 are fully inside the hole (4 tiles); row or col 256 is partly (5 tiles)
    assert strict.skipped_nodata == 9 and strict.written == 16
    assert loose.skipped_nodata == 4 and loose.written == 21
    fracs = sorted(r.valid_fraction for r in read_manifest(tmp_path / "loose"))
    assert fracs[0] < 1.0


def test_grid_mismatch_says_what_differs(sample_pair: tuple[Path, Path], tmp_path: Path) -> None:
    comp, lst = sample_pair
    with rasterio.open(lst) as src:
        prof, y = src.profile, src.read()
    shifted = tmp_path / "shifted.tif"
    prof2 = {**prof, "transform": prof["transform"] @ Affine.translation(1, 0)}
    with rasterio.open(shifted, "w", **prof2) as dst:
        dst.write(y)
    with pytest.raises(GridMismatchError, match="transform"):
        check_same_grid(comp, shifted)
    small = tmp_path / "small.tif"
    with rasterio.open(small, "w", **{**prof, "width": 600, "crs": "EPSG:4326"}) as dst:
        dst.write(y[:, :, :600])
    with pytest.raises(GridMismatchError, match=r"CRS .*size 627x603 vs 600x603 \(w x h\)"):
        export_tiles(comp, small, tmp_path / "ds", tile=128, stride=64)


def test_cli_tiles(sample_pair: tuple[Path, Path], tmp_path: Path) -> None:
    comp, lst = sample_pair
    args = ["tiles", str(comp), str(lst), "-o", str(tmp_path / "ds"), "--tile", "256"]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    assert "16 of 16 tiles written" in res.output
    res = CliRunner().invoke(main, args)
    assert res.exit_code != 0 and "already in" in res.output


# -- split -------------------------------------------------------------------------
def _records(scene: str, h: int, w: int, tile: int, stride: int) -> list[TileRecord]:
    return [
        TileRecord(
            f"{scene}_{t.row_off}_{t.col_off}",
            scene,
            t.row_off,
            t.col_off,
            tile,
            0,
            0,
            0,
            0,
            "",
            1.0,
        )
        for t in tile_windows(h, w, tile, stride)
    ]


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_block_split_shares_no_pixel(seed: int) -> None:
    from pix2lst.export.dataset import split_tiles

    recs = _records("a", 603, 627, 128, 64) + _records("b", 367, 301, 128, 64)
    train, valid = split_tiles(recs, split="blocks", val_fraction=0.2, seed=seed)
    assert train and valid and not set(train) & set(valid)
    assert len(valid) >= 0.2 * len(recs)
    for i in train:
        for j in valid:
            assert recs[i].scene != recs[j].scene or not windows_overlap(
                recs[i].window, recs[j].window
            )


def test_scene_split() -> None:
    from pix2lst.export.dataset import split_tiles

    recs = _records("a", 300, 300, 64, 64) + _records("b", 300, 300, 64, 64)
    train, valid = split_tiles(recs, split="scene", valid_scenes=["b"])
    assert {recs[i].scene for i in valid} == {"b"} and {recs[i].scene for i in train} == {"a"}
    with pytest.raises(DatasetError, match="at least two scenes"):
        split_tiles(_records("a", 300, 300, 64, 64), split="scene")


# -- normalisation -------------------------------------------------------------------------
def test_residual_normalisation_round_trip() -> None:
    bands = ("B4", "B5", "B10")
    norm = Normalisation.build(bands, input_norm="fixed", stats=None, target="lst_minus_bt",
                               target_range=(-2.0, 8.0))  # fmt: skip
    x = np.stack([np.full((4, 4), 0.1), np.full((4, 4), 0.4), np.full((4, 4), 300.0)])[None]
    lst = np.full((1, 4, 4), 301.5)
    y = norm.target_from_lst(lst, x)
    np.testing.assert_allclose(y, (1.5 - 3.0) / 5.0, rtol=1e-6)
    np.testing.assert_allclose(norm.lst_from_output(y, x), lst, rtol=1e-6)
    np.testing.assert_allclose(norm.normalise_input(x)[0, :, 0, 0], [-0.8, -0.2, 0.2], rtol=1e-5)


# -- metrics -----------------------------------------------------------------------------
def test_metrics_known_values() -> None:
    rng = np.random.default_rng(0)
    t = rng.uniform(-1, 1, (64, 64))
    assert psnr_arcgis(t, t) == math.inf
    assert ssim_arcgis(t, t) == pytest.approx(1.0)
    # a constant error of 0.1 on the [-1, 1] scale: MSE 0.01 -> 10 log10(1 / 0.01) = 20 dB
    assert psnr_arcgis(t + 0.1, t) == pytest.approx(20.0)
    assert ssim_arcgis(t + rng.normal(0, 0.3, t.shape), t) < 0.9


def test_evaluate_lst_in_kelvin() -> None:
    rng = np.random.default_rng(1)
    target = rng.uniform(290, 310, (2, 32, 32))
    pred = target + 0.5
    pred[0, 0, 0] = np.nan  # nodata pixels are left out
    m = evaluate_lst([(pred, target)], lst_range=(290.0, 310.0))
    assert m.rmse_k == pytest.approx(0.5) and m.mae_k == pytest.approx(0.5)
    assert m.bias_k == pytest.approx(0.5) and m.n_pixels == 2 * 32 * 32 - 1
    # 0.5 K over a 20 K range is 0.05 on [-1, 1]: PSNR = 10 log10(1 / 0.0025)
    assert m.psnr == pytest.approx(10 * math.log10(1 / 0.0025))
    np.testing.assert_allclose(to_unit_scale(np.array([290.0, 310.0]), 290, 310), [-1, 1])


def test_thermal_shift_keeps_emissivity() -> None:
    from pix2lst.export.augment import ThermalShift
    from pix2lst.lst_physics.equations import emissivity_sobrino, single_channel_lst

    rng = np.random.default_rng(0)
    ndvi = rng.uniform(-0.3, 0.8, (1, 16, 16))
    bt = rng.uniform(255.0, 270.0, (16, 16))
    lst = single_channel_lst(bt, emissivity_sobrino(ndvi[0]))
    # fixed normalisation: BT 240..340 K and LST - BT -2..8 K to -1..1
    xs, xo, ys, yo = 0.02, -5.8, 5.0, 3.0
    x = np.stack([ndvi[0], bt * xs + xo]).astype(np.float32)
    y = (((lst - bt) - yo) / ys)[None].astype(np.float32)
    shift = ThermalShift(1, xs, xo, ys, yo, low=30.0, high=40.0, p=1.0)
    x2, y2 = shift(x, y, np.ones((1, 16, 16), bool), rng)
    bt2 = (x2[1].astype(np.float64) - xo) / xs
    delta = bt2 - bt
    assert np.ptp(delta) < 1e-3 and 30.0 <= delta.mean() <= 40.0
    np.testing.assert_array_equal(x2[0], x[0])  # reflectance bands untouched
    # the shifted pair is what the physics chain gives for the same surface at BT + delta
    expected = single_channel_lst(bt2, emissivity_sobrino(ndvi[0])) - bt2
    np.testing.assert_allclose(y2[0] * ys + yo, expected, atol=2e-3)
    assert (y2[0] * ys + yo).mean() > (y[0] * ys + yo).mean()  # warmer surface, larger correction


def test_spectral_jitter_recomputes_sobrino_targets() -> None:
    from pix2lst.errors import DatasetError
    from pix2lst.export.augment import SpectralJitter, check_sobrino_targets
    from pix2lst.lst_physics.equations import emissivity_sobrino, single_channel_lst

    rng = np.random.default_rng(3)
    red = rng.uniform(0.02, 0.3, (32, 32))
    nir = rng.uniform(0.01, 0.5, (32, 32))
    bt = rng.uniform(280.0, 300.0, (32, 32))
    lst = single_channel_lst(bt, emissivity_sobrino((nir - red) / (nir + red)))
    assert check_sobrino_targets(red, nir, bt, lst) < 1e-9
    with pytest.raises(DatasetError, match="Sobrino"):
        check_sobrino_targets(red, nir, bt, lst + 0.3)  # e.g. RTE or Avdan targets
    # fixed normalisation: reflectance 0..1 and BT 240..340 K to -1..1, LST - BT -2..8 K
    xs, xo, ys, yo = (2.0, 2.0, 0.02), (-1.0, -1.0, -5.8), 5.0, 3.0
    x = np.stack([red * xs[0] + xo[0], nir * xs[1] + xo[1], bt * xs[2] + xo[2]]).astype(np.float32)
    y = (((lst - bt) - yo) / ys)[None].astype(np.float32)
    valid = np.ones((1, 32, 32), bool)
    valid[0, :4] = False  # nodata rows keep their values
    jitter = SpectralJitter((0, 1), 0, 1, 2, xs, xo, ys, yo, p=1.0)
    ndvi_means = []
    for _ in range(20):
        x2, y2 = jitter(x, y, valid, rng)
        r2, n2, b2 = ((x2[i].astype(np.float64) - xo[i]) / xs[i] for i in range(3))
        np.testing.assert_allclose(b2, bt, atol=1e-3)  # temperature untouched
        np.testing.assert_array_equal(x2[:, :4], x[:, :4])
        np.testing.assert_array_equal(y2[:, :4], y[:, :4])
        v = valid[0]
        # the new pair is what the physics chain gives for the new reflectances
        check_sobrino_targets(r2[v], n2[v], b2[v], (b2 + y2[0] * ys + yo)[v], tol_k=2e-3)
        ndvi_means.append(float(((n2 - r2) / (n2 + r2))[v].mean()))
    assert np.ptp(ndvi_means) > 0.2  # it really moves the surfaces around
    with pytest.raises(DatasetError):
        SpectralJitter((0, 1), 0, 1, 1, xs, xo, ys, yo)  # BT among the reflectance channels

"""Pix2Pix networks, a real (tiny) training run on the embedded sample, and ONNX export."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from click.testing import CliRunner

from pix2lst.cli import main
from pix2lst.errors import DatasetError, ModelError
from pix2lst.export.dataset import TileData, prepare_data
from pix2lst.export.learner import HISTORY_COLUMNS, Pix2Pix, TrainConfig, format_history
from pix2lst.export.metrics import Metrics
from pix2lst.export.model_io import load_model
from pix2lst.export.networks import (
    GeneratorConfig,
    PatchDiscriminator,
    UNetGenerator,
    count_parameters,
)
from pix2lst.export.onnx_export import OPSET, export_model, export_onnx, metadata_for
from pix2lst.export.tiles import export_tiles
from pix2lst.runtime.metadata import FORMAT_VERSION, ModelMetadata

TINY = {"depth": 3, "width": 4}


@pytest.fixture(scope="module")
def tiles_dir(tmp_path_factory: pytest.TempPathFactory, sample_scene: Path) -> Path:
    """64 px tiles (stride 64) of the embedded sample's composite and physics LST."""
    from pix2lst.lst_physics import write_composite, write_lst

    d = tmp_path_factory.mktemp("export")
    comp, lst = d / "composite.tif", d / "lst.tif"
    write_composite(sample_scene, comp, units="toa")
    write_lst(sample_scene, lst)
    export_tiles(comp, lst, d / "tiles", tile=64, stride=64, scene="sample")
    return d


@pytest.fixture(scope="module")
def data(tiles_dir: Path) -> TileData:
    # both physics-consistent augmentations on, as the default model is trained
    return prepare_data(tiles_dir / "tiles", 8, target="lst_minus_bt", input_norm="fixed",
                        target_range=(-2.0, 8.0), seed=0, thermal_shift=(-30.0, 50.0),
                        spectral_jitter=True)  # fmt: skip


def test_spectral_jitter_needs_sobrino_residual_targets(tiles_dir: Path, data: TileData) -> None:
    # the sample's physics LST passed the Sobrino consistency check in the fixture
    augs = data.physics_augmentations()
    assert [type(a).__name__ for a in augs] == ["SpectralJitter", "ThermalShift"]
    x, y, m = next(iter(data.train_dl(0)))
    assert torch.isfinite(x).all() and torch.isfinite(y).all() and float(y.abs().max()) <= 1.0
    assert bool(m.any())  # valid pixels survive the augmentations
    with pytest.raises(DatasetError, match="lst_minus_bt"):
        prepare_data(tiles_dir / "tiles", 8, target="lst", spectral_jitter=True)


@pytest.fixture(scope="module")
def trained(data: TileData, tmp_path_factory: pytest.TempPathFactory) -> tuple[Pix2Pix, Path]:
    model = Pix2Pix(data, **TINY, config=TrainConfig(disc_width=8, seed=0))
    folder = tmp_path_factory.mktemp("model") / "m"
    model.fit(3, 2e-3, checkpoint_dir=folder.parent / "ckpt")
    model.save(folder, onnx=True)
    return model, folder


# -- networks ----------------------------------------------------------------------
def test_unet_256_parameter_count() -> None:
    # the reference unet_256 (depth 8, 64 filters): 54.414 M for RGB -> RGB (pix2pix prints it)
    assert count_parameters(UNetGenerator(GeneratorConfig(3, 3, 8, 64))) == 54_413_955
    n = count_parameters(UNetGenerator(GeneratorConfig(8, 1, 8, 64)))
    assert n == 54_414_977 and round(n / 1e6, 1) == 54.4
    assert count_parameters(PatchDiscriminator(6)) == 2_768_705  # the 70x70 PatchGAN: 2.769 M


def test_generator_shapes_and_range() -> None:
    g = UNetGenerator(GeneratorConfig(8, 1, 4, 4)).eval()
    y = g(torch.randn(2, 8, 32, 32) * 5)
    assert y.shape == (2, 1, 32, 32) and float(y.detach().abs().max()) <= 1.0
    d = PatchDiscriminator(9, 8)
    assert d(torch.randn(2, 9, 64, 64)).shape == (2, 1, 6, 6)
    with pytest.raises(ModelError):
        GeneratorConfig(8, 1, 1, 4)


# -- data ------------------------------------------------------------------------------
def test_prepare_data_split_and_stats(data: TileData, tmp_path: Path) -> None:
    assert data.tile_size == 64 and len(data.bands) == 8
    assert set(data.train_idx).isdisjoint(data.valid_idx)
    train_x = data.x[data.train_idx]
    assert data.input_stats.maximum[7] == pytest.approx(float(np.nanmax(train_x[:, 7])))
    x, y, m = next(iter(data.train_dl()))
    assert x.shape == (8, 8, 64, 64) and y.shape == (8, 1, 64, 64) and bool(m.all())
    out = data.show_batch(tmp_path / "batch.png", rows=2)
    assert out.stat().st_size > 10_000


# -- training ------------------------------------------------------------------------------
def test_fit_learns_and_reports_table(trained: tuple[Pix2Pix, Path]) -> None:
    model, _ = trained
    assert len(model.history) == 3
    table = format_history(model.history)
    assert table.splitlines()[0].split() == list(HISTORY_COLUMNS)
    assert model.history[-1].l1_loss < model.history[0].l1_loss
    m = model.compute_metrics()
    # the baseline "LST = BT" (residual 0) errs by the mean residual, about 1 K here
    xs, ls = zip(*model.data.valid_batches(), strict=True)
    bt_rmse = float(np.sqrt(np.nanmean((np.concatenate(ls) - np.concatenate(xs)[:, 7]) ** 2)))
    assert np.isfinite([m.psnr, m.ssim, m.rmse_k]).all()
    assert m.rmse_k < bt_rmse


def test_resume_continues_from_checkpoint(data: TileData, tmp_path: Path) -> None:
    cfg = TrainConfig(disc_width=8, seed=1)
    straight = Pix2Pix(data, **TINY, config=cfg)
    straight.fit(2, 1e-3)
    first = Pix2Pix(data, **TINY, config=cfg)
    first.fit(1, 1e-3, checkpoint_dir=tmp_path)  # "interrupted" after one epoch
    again = Pix2Pix(data, **TINY, config=cfg)
    again.fit(2, 1e-3, checkpoint_dir=tmp_path, resume=True)
    assert len(again.history) == 2 and again.history[0] == first.history[0]
    # the resumed second epoch sees the same batches and state as an uninterrupted run
    assert again.history[1].train_loss == pytest.approx(straight.history[1].train_loss, rel=1e-4)
    assert again.history[1].D_loss == pytest.approx(straight.history[1].D_loss, rel=1e-4)


def test_lr_find_restores_weights(data: TileData, tmp_path: Path) -> None:
    model = Pix2Pix(data, **TINY, config=TrainConfig(disc_width=8))
    before = {k: v.clone() for k, v in model.G.state_dict().items()}
    r = model.lr_find(start=1e-5, end=1e-1, steps=12, out=tmp_path / "lr.png")
    assert 1e-5 <= r.suggested <= 1e-1 and (tmp_path / "lr.png").is_file()
    for k, v in model.G.state_dict().items():
        torch.testing.assert_close(v, before[k])


def test_saved_folder_round_trip(trained: tuple[Pix2Pix, Path]) -> None:
    model, folder = trained
    for name in ("generator.pt", "model.json", "show_results.png", "show_batch.png", "model.onnx"):
        assert (folder / name).is_file(), name
    state = torch.load(folder / "generator.pt", weights_only=True)
    assert not any(k.startswith("module.") for k in state)
    gen, definition, _ = load_model(folder)
    assert definition["training_scenes"] == ["sample"] and definition["architecture"]["depth"] == 3
    assert definition["onnx"]["max_abs_diff_k"] < 0.01
    x = torch.from_numpy(np.nan_to_num(model.data.normalised(model.data.valid_idx[:2])[0]))
    model.G.eval()
    torch.testing.assert_close(gen(x), model.G(x))


# -- ONNX --------------------------------------------------------------------------------
def test_onnx_metadata_parity_dynamic_batch(trained: tuple[Pix2Pix, Path], tmp_path: Path) -> None:
    import onnxruntime as ort

    _, folder = trained
    rep = export_model(folder, tmp_path / "m64.onnx", tile_size=64)
    assert rep.max_abs_diff_k < 0.01 and rep.n_parity_tiles >= 1
    proto = onnx.load(str(rep.path))
    assert max(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")) >= OPSET
    props = {p.key: p.value for p in proto.metadata_props}
    meta = ModelMetadata.from_props(props)
    assert json.loads(props["pix2lst.output_units"]) == "K" == meta.output_units
    assert meta.format_version == FORMAT_VERSION
    assert meta.tile_size == 64 and meta.target == "lst_minus_bt" and meta.residual_band == "B10"
    assert meta.bands == ("B1", "B2", "B3", "B4", "B5", "B6", "B7", "B10") and meta.depth == 3
    sess = ort.InferenceSession(str(rep.path), providers=["CPUExecutionProvider"])
    dims = sess.get_inputs()[0].shape
    assert dims[1] == 8 and all(isinstance(d, str) for d in (dims[0], dims[2], dims[3]))
    assert sess.run(None, {"x": np.zeros((3, 8, 64, 64), np.float32)})[0].shape == (3, 1, 64, 64)
    # symbolic height/width: the same graph runs larger tiles (multiples of 2**depth)
    assert sess.run(None, {"x": np.zeros((1, 8, 128, 96), np.float32)})[0].shape == (1, 1, 128, 96)


def test_onnx_other_tile_size_and_fp16(trained: tuple[Pix2Pix, Path], tmp_path: Path) -> None:
    _, folder = trained
    rep = export_model(folder, tmp_path / "m128.onnx", tile_size=128, fp16=True)
    assert rep.tile_size == 128 and rep.max_abs_diff_k < 0.01
    assert rep.fp16_path is not None and rep.fp16_path.is_file()
    assert rep.fp16_max_abs_diff_k is not None and rep.fp16_max_abs_diff_k < 0.5
    with pytest.raises(ModelError, match="multiple of"):
        export_model(folder, tmp_path / "bad.onnx", tile_size=100)


def test_onnx_export_refused_beyond_tolerance(
    trained: tuple[Pix2Pix, Path], tmp_path: Path
) -> None:
    _, folder = trained
    gen, definition, norm = load_model(folder)
    x = np.load(folder / "parity_tiles.npy")
    with pytest.raises(ModelError, match="refused"):
        export_onnx(gen, metadata_for(definition, norm, 64), tmp_path / "r.onnx", x,
                    tolerance_k=-1.0)  # fmt: skip
    assert not (tmp_path / "r.onnx").exists() and not list(tmp_path.iterdir())


def test_runtime_predicts_with_exported_model(
    trained: tuple[Pix2Pix, Path], tiles_dir: Path
) -> None:
    from pix2lst.export.evaluate import evaluate_scene

    _, folder = trained
    ev = evaluate_scene(folder / "model.onnx", tiles_dir / "composite.tif", tiles_dir / "lst.tif")
    assert ev.tile_size == 64 and ev.prediction.shape == (603, 627)
    assert ev.metrics.n_pixels > 0.9 * 603 * 627 and ev.metrics.rmse_k < 2.0


# -- CLI -----------------------------------------------------------------------------------
def test_cli_train_and_export(
    tiles_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    computed = []
    real = Pix2Pix.compute_metrics

    def counted(self: Pix2Pix) -> Metrics:
        computed.append(real(self))
        return computed[-1]

    monkeypatch.setattr(Pix2Pix, "compute_metrics", counted)
    out = tmp_path / "cli_model"
    res = CliRunner().invoke(main, ["train", str(tiles_dir / "tiles"), "-o", str(out), "--epochs", "1",
                                    "--depth", "3", "--width", "4", "--disc-width", "8",
                                    "--head", "4", "--ndvi", "--thermal-shift", "-30", "50",
                                    "--spectral-jitter"])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "train_loss" in res.output and (out / "model.onnx").is_file()
    # the table's header and the epoch-0 row, each printed once (live, not again at the end)
    lines = res.output.splitlines()
    assert sum("train_loss" in line for line in lines) == 1, res.output
    assert sum(line.startswith("0 ") for line in lines) == 1, res.output
    arch = json.loads((out / "model.json").read_text())["architecture"]
    assert arch["head"] == 4 and len(arch["ndvi"]) == 6  # the default model's recipe, tiny
    # metrics computed once; the saved and the printed ones are those
    assert len(computed) == 1
    assert json.loads((out / "model.json").read_text())["metrics"] == computed[0].to_dict()
    assert f"metrics: {computed[0]}" in res.output
    res = CliRunner().invoke(main, ["export", str(out), "-o", str(tmp_path / "x.onnx")])
    assert res.exit_code == 0, res.output
    assert "max |ORT - torch|" in res.output
    res = CliRunner().invoke(main, ["export", str(out), "-o", str(tmp_path / "x.onnx")])
    assert res.exit_code != 0 and "already exists" in res.output

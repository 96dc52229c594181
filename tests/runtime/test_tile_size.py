"""Run tiles larger than the model's own (``tile_size=``), on models with symbolic height/width."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from click.testing import CliRunner

from pix2lst.cli import main
from pix2lst.errors import ParameterError
from pix2lst.runtime import LSTPredictor
from pix2lst.runtime.model import BatchRunner, load_model
from tests.conftest import make_model, sample_dn, write_composite


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("tile")
    arr = np.ascontiguousarray(sample_dn((100, 90)) / np.float32(30000))
    return {
        "spatial": make_model(
            d / "s.onnx", "conv", tile=32, depth=3, spatial=True, output_offset=290.0
        ),
        "fixed": make_model(d / "f.onnx", "conv", tile=32, depth=3),
        "composite": write_composite(d / "comp.tif", arr),
    }


def test_larger_tiles_give_the_same_mosaic_where_the_context_is_the_same(
    files: dict[str, Path],
) -> None:
    # two 3x3 convolutions see 2 px: with crop blending and padding 4 every output pixel
    # comes from a tile centre with full context, so any run tile gives the same mosaic
    x = sample_dn((100, 90)) / np.float32(30000)
    ref = LSTPredictor(files["spatial"], providers="cpu", padding=4, blend="crop")
    want = ref.predict_array(x, check_range=False)
    assert ref.tile_size == 32
    for tile in (40, 64, 128):
        pred = LSTPredictor(files["spatial"], providers="cpu", padding=4, blend="crop",
                            tile_size=tile, batch_size=2)  # fmt: skip
        assert pred.tile_size == tile and pred.runner.input_shape == (2, 8, tile, tile)
        np.testing.assert_allclose(
            pred.predict_array(x, check_range=False), want, rtol=0, atol=1e-4
        )


def test_padding_follows_the_model_tile_not_the_run_tile(files: dict[str, Path]) -> None:
    pred = LSTPredictor(files["spatial"], providers="cpu", tile_size=64)
    assert pred.padding == 8 and pred.grid(100, 90).stride == 48
    hann = pred.predict_array(sample_dn((100, 90)) / np.float32(30000), check_range=False)
    assert hann.shape == (100, 90) and np.isfinite(hann).all()


@pytest.mark.parametrize(
    ("model", "tile", "message"),
    [
        ("spatial", 36, "multiple of 8"),
        ("spatial", 16, "at least 32 px"),
        ("fixed", 64, "exported for fixed 32x32 tiles"),
    ],
)
def test_bad_run_tiles_are_refused_in_one_line(
    files: dict[str, Path], model: str, tile: int, message: str
) -> None:
    with pytest.raises(ParameterError, match=message) as err:
        LSTPredictor(files[model], providers="cpu", tile_size=tile)
    assert "\n" not in str(err.value)
    loaded = load_model(files[model])
    with pytest.raises(ParameterError, match=message):
        BatchRunner(loaded, 2, tile)
    assert BatchRunner(loaded, 2, 32).input_shape == (2, 8, 32, 32)  # the own tile always fits


def test_cli_tile_size(tmp_path: Path, files: dict[str, Path]) -> None:
    out = tmp_path / "lst.tif"
    res = CliRunner().invoke(main, [
        "predict", str(files["composite"]), "-o", str(out), "--model", str(files["spatial"]),
        "--providers", "cpu", "--tile-size", "64", "--batch-size", "2",
    ])  # fmt: skip
    assert res.exit_code == 0, res.output
    with rasterio.open(out) as ds:
        assert ds.tags()["TILE_SIZE"] == "64" and ds.tags()["PADDING"] == "8"
        assert np.isfinite(ds.read(1)).all()


def test_the_shipped_model_runs_larger_tiles() -> None:
    model = load_model(None)
    assert model.metadata.tile_size == 256 and model.spatial_dims_symbolic
    runner = BatchRunner(model, 1, 512)
    out = runner.run(np.zeros(runner.input_shape, np.float32), 1)
    assert out.shape == (1, 512, 512) and np.isfinite(out).all()

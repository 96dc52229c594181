"""Device tiling: strips uploaded once, tiles cut by the shipped graph where the model runs.

No GPU here: the strip runner runs on ORT's CPU provider (the same IO-binding chain,
with CPU buffers), which is how CI checks that device tiling gives the host path's
mosaic bit for bit."""

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
from pix2lst.runtime.plan import decide_plan
from pix2lst.runtime.session import CPU, CUDA, OPENVINO, TRT, SessionConfig
from pix2lst.runtime.strips import STRIP_GRAPHS, StripRunner, resolve_tiling
from tests.conftest import make_model, make_scene_model
from tests.runtime.test_predict import _assert_reference_mosaic, scene_like


@pytest.fixture(scope="module")
def conv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_model(tmp_path_factory.mktemp("strips") / "conv.onnx", "conv", tile=32)


def test_the_shipped_graph_is_what_the_script_builds() -> None:
    pytest.importorskip("onnx")
    from scripts.build_strip_graph import build

    for kind, path in STRIP_GRAPHS.items():
        assert path.read_bytes() == build(kind), "run scripts/build_strip_graph.py"


def test_tiling_auto_cuts_on_the_host_on_every_provider() -> None:
    # device tiling is an expert's plan field until a GPU has measured it
    for provider in (CPU, CUDA, TRT, OPENVINO):
        assert resolve_tiling("auto", provider) == "host"
    assert resolve_tiling("device", CPU) == "device"
    assert resolve_tiling("host", CUDA) == "host"
    with pytest.raises(ParameterError, match="tiling must be one of auto, host, device, not 'gpu'"):
        resolve_tiling("gpu")


def test_the_batch_follows_the_sessions_not_the_tiling() -> None:
    # 8 tiles in flight shared by the sessions, on any provider and either tiling
    for provider in (CPU, CUDA, TRT):
        for tiling in ("auto", "host", "device"):
            plan = decide_plan(provider, [provider], 16, model_tile=32, sessions=1, tiling=tiling)
            assert plan.batch_size == 8 and plan.tiling == (
                "device" if tiling == "device" else "host"
            )
    assert decide_plan(CPU, [CPU], 2, model_tile=32, sessions=2, tiling="device").batch_size == 4


def test_a_bad_tiling_is_refused_before_the_model_loads(tmp_path: Path) -> None:
    with pytest.raises(ParameterError, match="tiling must be one of"):
        LSTPredictor(tmp_path / "missing.onnx", providers="cpu", tiling="strips")


@pytest.mark.parametrize("batch_size", [1, 3, 8])
def test_a_strip_runner_predicts_what_the_batch_runner_does(conv: Path, batch_size: int) -> None:
    # starts in any order, repeated, at both ends of the strip; chunks of batch_size,
    # the last one short (padded with its last tile)
    model = load_model(conv, SessionConfig(providers="cpu", warmup=False), batch_size=batch_size)
    runner = BatchRunner(model, batch_size)
    strips = StripRunner(runner)
    rng = np.random.default_rng(5)
    strip = rng.normal(size=(8, 32, 150)).astype(np.float32)
    starts = np.array([0, 118, 16, 16, 64, 100, 3], dtype=np.int64)
    got = strips.run(strip, starts)
    assert got.shape == (7, 32, 32)
    assert strips.batches == -(-7 // batch_size)
    for k, s in enumerate(starts):
        tile = np.ascontiguousarray(strip[None, :, :, s : s + 32])
        np.testing.assert_array_equal(got[k], runner.run(tile, 1)[0])
    assert strips.run(strip, np.zeros(0, dtype=np.int64)).shape == (0, 32, 32)
    with pytest.raises(ParameterError, match="do not fit a strip of width 150"):
        strips.run(strip, np.array([119], dtype=np.int64))
    with pytest.raises(ParameterError, match="a strip must be"):
        strips.run(strip[:, :16], np.array([0], dtype=np.int64))


def test_dn_strips_are_looked_up_on_the_device(conv: Path) -> None:
    # the compact upload: uint16 DN and one table per band give what the float32 strip
    # of the looked-up values gives
    model = load_model(conv, SessionConfig(providers="cpu", warmup=False), batch_size=3)
    strips = StripRunner(BatchRunner(model, 3))
    rng = np.random.default_rng(9)
    dn = rng.integers(0, 4096, (8, 32, 100)).astype(np.uint16)
    lut = rng.normal(size=(8, 4096)).astype(np.float32)
    starts = np.array([0, 68, 30, 5], dtype=np.int64)
    with pytest.raises(ParameterError, match="needs the scene's DN table first"):
        strips.run(dn, starts)
    with pytest.raises(ParameterError, match="a DN table must be"):
        strips.set_lut(lut[:3])
    strips.set_lut(lut)
    values = np.stack([lut[b][dn[b]] for b in range(8)])
    np.testing.assert_array_equal(strips.run(dn, starts), strips.run(values, starts))
    with pytest.raises(ParameterError, match="float32 or uint16"):
        strips.run(dn.astype(np.int32), starts)


@pytest.mark.parametrize(("sessions", "batch_size"), [(1, 1), (1, 3), (2, 3), (1, None)])
def test_device_tiling_gives_the_host_mosaic(
    conv: Path, sessions: int, batch_size: int | None
) -> None:
    # holes, empty strips, reflection at all four borders: bit for bit the host path's
    arr = scene_like(150, 120, 11, holes=True)
    arr[:, 56:110] = np.nan
    kw = {"providers": "cpu", "padding": 8, "sessions": sessions, "batch_size": batch_size}
    host = LSTPredictor(conv, tiling="host", **kw)  # type: ignore[arg-type]
    dev = LSTPredictor(conv, tiling="device", **kw)  # type: ignore[arg-type]
    assert (host.tiling, dev.tiling) == ("host", "device")
    assert len(dev.strip_runners) == sessions
    if batch_size is None:  # on the CPU the host rule: 8 tiles shared by the sessions
        assert dev.batch_size == host.batch_size == 8 // sessions
    out = dev.predict_array(arr, check_range=False)
    np.testing.assert_array_equal(out, host.predict_array(arr, check_range=False))
    _assert_reference_mosaic(dev, arr, 8, "hann")
    assert np.isnan(out[56:110]).all()
    tiny = scene_like(5, 3, 1, holes=False)  # one tile, folded at every border
    np.testing.assert_array_equal(
        dev.predict_array(tiny, check_range=False), host.predict_array(tiny, check_range=False)
    )


def test_device_tiling_of_the_sample_scene(tmp_path: Path, sample_scene: Path) -> None:
    # the shipped model on the embedded scene: the file is the host path's, bit for bit;
    # where tiles are cut is a plan field (Python), not a command-line option
    outs = {}
    for tiling in ("host", "device"):
        dst = tmp_path / f"{tiling}.tif"
        LSTPredictor(providers="cpu", tiling=tiling).predict_file(sample_scene, dst)
        with rasterio.open(dst) as ds:
            outs[tiling] = ds.read(1)
            assert ds.tags()["PROVIDER"] == "CPUExecutionProvider"
    assert np.isfinite(outs["device"]).mean() > 0.5
    np.testing.assert_array_equal(outs["device"], outs["host"])
    res = CliRunner().invoke(
        main, ["predict", str(sample_scene), "-o", str(tmp_path / "x.tif"), "--tiling", "host"]
    )
    assert res.exit_code == 2 and "No such option '--tiling'" in res.output
    with pytest.raises(ParameterError, match="tiling must be one of auto, host, device"):
        LSTPredictor(providers="cpu", tiling="gpu")


@pytest.mark.parametrize("target", ["lst", "lst_minus_bt"])
def test_device_tiling_of_a_scene_uploads_dn_and_of_a_composite_values(
    tmp_path: Path, sample_scene: Path, target: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a scene folder goes up as uint16 DN (looked up on the device, the residual BT
    # looked up on the host), a composite as float32 input: both the host path's file
    from pix2lst.lst_physics import write_composite as physics_composite

    model = make_scene_model(tmp_path / "m.onnx", target)
    comp = physics_composite(sample_scene, tmp_path / "comp.tif")
    kinds: list[str] = []
    real_run = StripRunner.run

    def spy(self: StripRunner, strip: np.ndarray, starts: np.ndarray) -> np.ndarray:
        kinds.append(strip.dtype.name)
        return real_run(self, strip, starts)

    monkeypatch.setattr(StripRunner, "run", spy)
    host = LSTPredictor(model, providers="cpu", tiling="host")
    dev = LSTPredictor(model, providers="cpu", tiling="device", batch_size=5)
    assert not dev.strip_runners[0].upload_dn  # on the CPU float32 strips are cheaper
    a = tmp_path / "host.tif"
    for src in (sample_scene, comp):
        host.predict_file(src, a, check_range=False, overwrite=True)
        with rasterio.open(a) as x:
            expected = x.read(1)
        for upload_dn in (False, True):  # True: what a GPU does
            for r in dev.strip_runners:
                r.upload_dn = upload_dn
            kinds.clear()
            b = tmp_path / f"dev-{upload_dn}.tif"
            dev.predict_file(src, b, check_range=False, overwrite=True)
            dn = upload_dn and src == sample_scene  # a composite has no DN
            assert kinds and set(kinds) == {"uint16" if dn else "float32"}
            with rasterio.open(b) as y:
                np.testing.assert_array_equal(y.read(1), expected)

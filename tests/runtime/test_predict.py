"""End-to-end prediction: exactness properties, streaming vs in-memory reference, files."""

from __future__ import annotations

import itertools
import os
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pix2lst._machine import usable_cores
from pix2lst.errors import EmptySceneError
from pix2lst.geo.sources import ArraySource
from pix2lst.runtime import BLENDS, LSTPredictor
from pix2lst.runtime import ring as ring_mod
from pix2lst.runtime.pipeline import ArraySink, run_pipeline
from pix2lst.runtime.plan import auto_sessions, decide_plan
from pix2lst.runtime.priority import idle_priority_available, resolve_io_priority
from pix2lst.runtime.ring import column_splits
from tests.conftest import (
    BANDS,
    LST_LIKE,
    make_model,
    make_scene_model,
    run_python,
    sample_dn,
    write_composite,
)
from tests.runtime.kernels_ref import reference_mosaic

CPU, CUDA = "CPUExecutionProvider", "CUDAExecutionProvider"
TILES = (16, 32)


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("models")
    out: dict[str, Path] = {}
    for tile in TILES:
        out[f"identity{tile}"] = make_model(d / f"id{tile}.onnx", "identity", tile=tile, band=7)
        out[f"constant{tile}"] = make_model(d / f"c{tile}.onnx", "constant", tile=tile, value=301.3)
    out["conv"] = make_model(d / "conv.onnx", "conv", tile=32)
    out["conv_dn"] = make_model(
        d / "conv_dn.onnx",
        "conv",
        tile=32,
        input_units="dn",
        input_scale=(1 / 30000,) * 8,
        output_scale=10.0,
        output_offset=290.0,
    )
    return out


_predictors: dict[tuple[str, int, str], LSTPredictor] = {}


def predictor(path: Path, padding: int, blend: str) -> LSTPredictor:
    key = (str(path), padding, blend)
    if key not in _predictors:
        _predictors[key] = LSTPredictor(
            path, providers="cpu", batch_size=4, padding=padding, blend=blend
        )
    return _predictors[key]


def scene_like(h: int, w: int, seed: int, holes: bool) -> np.ndarray:
    """A real-data cut (sample DN rescaled) with optional nodata (rotated footprint + holes)."""
    arr = sample_dn()[:, :h, :w] / np.float32(30000)
    if holes:
        rng = np.random.default_rng(seed)
        yy, xx = np.mgrid[:h, :w]
        arr[:, (xx + yy) < rng.integers(0, max(h, w))] = np.nan  # a rotated footprint corner
        arr[rng.integers(0, 8), rng.random((h, w)) < 0.02] = np.nan  # one band missing here
    return np.ascontiguousarray(arr, dtype=np.float32)


settings_ = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@given(
    h=st.integers(1, 90),
    w=st.integers(1, 90),
    tile=st.sampled_from(TILES),
    pad_frac=st.floats(0, 0.49),
    blend=st.sampled_from(BLENDS),
    holes=st.booleans(),
    seed=st.integers(0, 1000),
)
@settings_
def test_identity_model_gives_back_its_band(
    models: dict[str, Path],
    h: int,
    w: int,
    tile: int,
    pad_frac: float,
    blend: str,
    holes: bool,
    seed: int,
) -> None:
    padding = min(int(tile * pad_frac), (tile - 1) // 2)
    arr = scene_like(h, w, seed, holes)
    out = predictor(models[f"identity{tile}"], padding, blend).predict_array(arr, check_range=False)
    nodata = ~np.isfinite(arr).all(axis=0)
    np.testing.assert_array_equal(np.isnan(out), nodata)  # input nodata stays nodata
    np.testing.assert_allclose(out[~nodata], arr[7][~nodata], rtol=1e-6)


@given(
    h=st.integers(1, 90),
    w=st.integers(1, 90),
    tile=st.sampled_from(TILES),
    pad_frac=st.floats(0, 0.49),
    blend=st.sampled_from(BLENDS),
    holes=st.booleans(),
    seed=st.integers(0, 1000),
)
@settings_
def test_constant_model_gives_an_exactly_constant_mosaic(
    models: dict[str, Path],
    h: int,
    w: int,
    tile: int,
    pad_frac: float,
    blend: str,
    holes: bool,
    seed: int,
) -> None:
    padding = min(int(tile * pad_frac), (tile - 1) // 2)
    arr = scene_like(h, w, seed, holes)
    out = predictor(models[f"constant{tile}"], padding, blend).predict_array(arr, check_range=False)
    valid = np.isfinite(arr).all(axis=0)
    assert (out[valid] == np.float32(301.3)).all()
    assert np.isnan(out[~valid]).all()


def _assert_reference_mosaic(
    p: LSTPredictor, arr: np.ndarray, padding: int, blend: str
) -> np.ndarray:
    """The streamed mosaic of the 32 px ``conv`` model equals the in-memory reference's."""
    out = p.predict_array(arr, check_range=False)
    ref = reference_mosaic(
        arr,
        lambda b: p.run_batch(b)[:, None],
        tile=32,
        padding=padding,
        blend=blend,
        scale=np.ones(8, np.float32),
        offset=np.zeros(8, np.float32),
    )
    np.testing.assert_array_equal(np.isnan(out), np.isnan(ref))
    np.testing.assert_allclose(out, ref, rtol=2e-6, atol=1e-5)
    return out


@pytest.mark.parametrize("blend", BLENDS)
@pytest.mark.parametrize(
    ("h", "w", "padding"),
    [(200, 173, 8), (31, 300, 0), (1, 77, 15), (77, 1, 3), (10, 12, 8), (97, 64, 13)],
)
def test_streaming_equals_in_memory_reference(
    models: dict[str, Path], blend: str, h: int, w: int, padding: int
) -> None:
    arr = scene_like(h, w, h + w, holes=True)
    p = predictor(models["conv"], padding, blend)
    _assert_reference_mosaic(p, arr, padding, blend)


@pytest.mark.parametrize("batch_size", [1, 3, 8])
@pytest.mark.parametrize(("h", "w"), [(150, 40), (150, 120)])
def test_batches_that_span_strips_and_empty_strips(
    models: dict[str, Path], batch_size: int, h: int, w: int
) -> None:
    # batches fill across strip borders (1-4 tiles a strip here, some strips without
    # any valid pixel in the middle): the mosaic is still the in-memory reference's
    arr = scene_like(h, w, 7, holes=True)
    arr[:, 56:110] = np.nan  # strips 4 and 5 (rows 56-88, 72-104) have no valid pixel
    p = LSTPredictor(models["conv"], providers="cpu", batch_size=batch_size, padding=8)
    out = _assert_reference_mosaic(p, arr, 8, "hann")
    assert np.isnan(out[56:110]).all()


def _idle_policy_works() -> bool:
    """Whether a thread here can move itself to SCHED_IDLE (a sandbox may refuse or ignore it)."""
    if not idle_priority_available():
        return False
    result: list[bool] = []

    def probe() -> None:
        try:
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
            result.append(os.sched_getscheduler(0) == os.SCHED_IDLE)
        except OSError:
            result.append(False)

    t = threading.Thread(target=probe)
    t.start()
    t.join()
    return result[0]


@pytest.mark.skipif(
    not _idle_policy_works(),
    reason="threads cannot move to SCHED_IDLE here (not Linux, or sandboxed)",
)
def test_reader_and_writer_yield_to_inference(models: dict[str, Path]) -> None:
    # io_priority="idle": the reader reads the first strip at normal priority, then
    # everything at SCHED_IDLE; the writer always; the caller's thread is untouched
    p = predictor(models["conv"], 8, "hann")
    arr = scene_like(200, 64, 1, holes=False)
    seen: dict[str, list[int]] = {"read": [], "write": []}

    class Source(ArraySource):
        def read_rows(self, start: int, stop: int, out: np.ndarray | None = None) -> np.ndarray:
            seen["read"].append(os.sched_getscheduler(0))
            return super().read_rows(start, stop, out=out)

    class Sink(ArraySink):
        def write_rows(self, start: int, rows: np.ndarray) -> None:
            seen["write"].append(os.sched_getscheduler(0))
            super().write_rows(start, rows)

    base = os.sched_getscheduler(0)  # the caller's policy (SCHED_OTHER unless run under chrt)
    outs = {}
    for priority in ("idle", "normal"):
        seen["read"].clear()
        seen["write"].clear()
        sink = Sink(200, 64)
        run_pipeline(Source(arr, 8), sink, p.runner, p.grid(200, 64), io_priority=priority)
        outs[priority] = sink.array
        assert os.sched_getscheduler(0) == base
        if priority == "idle":
            assert seen["read"][0] == base and len(seen["read"]) > 2
            assert set(seen["read"][1:]) == {os.SCHED_IDLE}
            assert set(seen["write"]) == {os.SCHED_IDLE}
        else:
            assert set(seen["read"] + seen["write"]) == {base}
    np.testing.assert_array_equal(outs["idle"], outs["normal"])
    with pytest.raises(ValueError, match="io_priority"):
        LSTPredictor(models["conv"], providers="cpu", io_priority="low")


def test_io_priority_auto_follows_the_provider(models: dict[str, Path]) -> None:
    # on the CPU, reading and writing yield to ORT; on a GPU the cores are free for them
    assert resolve_io_priority("auto", "CPUExecutionProvider") == "idle"
    assert resolve_io_priority("auto", None) == "idle"
    assert resolve_io_priority("auto", "OpenVINOExecutionProvider") == "idle"
    for gpu in ("CUDAExecutionProvider", "TensorrtExecutionProvider"):
        assert resolve_io_priority("auto", gpu) == "normal"
        assert resolve_io_priority("idle", gpu) == "idle"  # an explicit choice stays
    assert LSTPredictor(models["conv"], providers="cpu").io_priority == "idle"
    assert LSTPredictor(models["conv"], providers="cpu", io_priority="normal").io_priority == (
        "normal"
    )
    with pytest.raises(ValueError, match="io_priority must be one of auto, idle, normal"):
        resolve_io_priority("low")


def test_denormalisation_residual_and_celsius(tmp_path: Path) -> None:
    meta = dict(
        input_scale=(2.0,) * 8, input_offset=(-1.0,) * 8, output_scale=4.0, output_offset=-3.0
    )
    plain = make_model(tmp_path / "p.onnx", "identity", band=2, **meta)
    resid = make_model(
        tmp_path / "r.onnx", "identity", band=2, target="lst_minus_bt", residual_band="B10", **meta
    )
    arr = scene_like(150, 40, 0, holes=False)  # taller than the input ring: rows wrap
    y = (arr[2] * 2 - 1) * 4 - 3  # the network sees x*2-1; output de-normalised *4-3
    out = LSTPredictor(plain, padding=5).predict_array(arr, check_range=False)
    np.testing.assert_allclose(out, y, rtol=1e-5, atol=1e-4)
    out_r = LSTPredictor(resid, padding=5).predict_array(arr, units="C", check_range=False)
    np.testing.assert_allclose(out_r, y + arr[7] - 273.15, rtol=1e-5, atol=1e-4)


def test_no_seams_on_a_smooth_input(models: dict[str, Path]) -> None:
    yy, xx = np.mgrid[:96, :120].astype(np.float32)
    arr = np.stack([np.sin(xx / 15) + np.cos(yy / 11)] * 8).astype(np.float32)
    out = predictor(models["conv"], 8, "hann").predict_array(arr, check_range=False)
    # second differences across tile borders are no larger than inside tiles
    d2 = np.abs(np.diff(out[:, 2:-2], n=2, axis=1))[2:-2]
    borders = [c * 16 + k for c in range(1, 8) for k in (-1, 0)]  # stride 16
    inner = np.delete(d2, borders, axis=1)
    assert d2[:, borders].max() <= 3 * inner.max()


def test_nodata_tiles_are_not_sent_to_the_model(tmp_path: Path, models: dict[str, Path]) -> None:
    arr = scene_like(64, 64, 0, holes=False)
    arr[:, :40] = np.nan  # the top strip is empty
    src = write_composite(tmp_path / "c.tif", arr)
    p = predictor(models["identity16"], 4, "hann")
    summary = p.predict_file(src, tmp_path / "o.tif", check_range=False)  # not an LST model
    assert summary.tiles == 64 and summary.tiles_run < 64
    grid = p.grid(64, 64)
    empty = sum(grid.strip_rows(r).max() < 40 for r in range(grid.n_rows))
    assert empty == 4 and summary.tiles - summary.tiles_run == empty * grid.n_cols
    with rasterio.open(tmp_path / "o.tif") as ds:
        out = ds.read(1)
    assert np.isnan(out[:40]).all() and np.allclose(out[40:], arr[7, 40:], rtol=1e-6)


def test_an_all_nodata_input_is_refused_and_writes_nothing(
    tmp_path: Path, models: dict[str, Path]
) -> None:
    arr = np.full((8, 40, 50), np.nan, dtype=np.float32)
    src = write_composite(tmp_path / "c.tif", arr)
    p = predictor(models["identity16"], 4, "hann")
    with pytest.raises(EmptySceneError, match=r"every pixel of .* is nodata"):
        p.predict_file(src, tmp_path / "o.tif")
    assert sorted(f.name for f in tmp_path.iterdir()) == ["c.tif"]
    assert np.isnan(
        p.predict_array(arr, check_range=False)
    ).all()  # the array API answers NaN for NaN


def test_predict_file_writes_a_georeferenced_tagged_geotiff(
    tmp_path: Path, models: dict[str, Path]
) -> None:
    arr = scene_like(120, 100, 3, holes=True) * np.float32(30000)
    src = write_composite(tmp_path / "in.tif", arr)
    p = LSTPredictor(models["conv_dn"], padding=8)
    seen: list[tuple[int, int]] = []
    s = p.predict_file(
        src, tmp_path / "lst.tif", units="C", progress=lambda d, t: seen.append((d, t))
    )
    assert s.tiles == p.grid(120, 100).n_tiles and s.provider == "CPUExecutionProvider"
    assert seen[-1] == (s.tiles, s.tiles) and s.mpx_per_s > 0
    with rasterio.open(tmp_path / "lst.tif") as ds, rasterio.open(src) as inp:
        assert ds.dtypes == ("float32",) and np.isnan(ds.nodata)
        assert ds.crs == inp.crs and ds.transform == inp.transform
        assert ds.profile["tiled"] and ds.profile["compress"] == "zstd"
        tags = ds.tags()
        assert tags["UNITS"] == "degC" and tags["BLEND"] == "hann" and tags["PADDING"] == "8"
        assert tags["MODEL"] == "conv_dn.onnx" and tags["PROVIDER"] == "CPUExecutionProvider"
        assert tags["METHOD"] == "model" and tags["MODEL_TARGET"] and "TARGET" not in tags
        assert ds.units == ("degC",) and ds.descriptions == ("LST",)
        out = ds.read(1)
    expected = p.predict_array(arr, units="C", check_range=False)
    np.testing.assert_array_equal(out, expected)
    assert not list(tmp_path.glob(".*"))  # no temporary file left


def test_cog_output_is_valid(tmp_path: Path, models: dict[str, Path]) -> None:
    from rio_cogeo.cogeo import cog_validate

    src = write_composite(tmp_path / "in.tif", scene_like(600, 600, 0, holes=True))
    p = predictor(models["identity32"], 8, "hann")
    p.predict_file(src, tmp_path / "cog.tif", cog=True, check_range=False)
    valid, errors, _ = cog_validate(str(tmp_path / "cog.tif"))
    assert valid, errors
    with rasterio.open(tmp_path / "cog.tif") as ds:
        assert ds.overviews(1) and ds.tags()["BLEND"] == "hann"
        np.testing.assert_array_equal(
            ds.read(1), p.predict_array(scene_like(600, 600, 0, True), check_range=False)
        )
    assert sorted(x.name for x in tmp_path.iterdir()) == ["cog.tif", "in.tif"]


@pytest.mark.parametrize("target", ["lst", "lst_minus_bt"])
def test_scene_folder_equals_composite(
    tmp_path: Path, sample_scene: Path, target: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the scene is read as DN (decoded by GDAL, either decoder name) and looked up
    # (kernels.lookup_rows, the residual BT by table), the composite as calibrated
    # values: bit for bit the same output
    import functools

    from pix2lst.geo.sources import open_source
    from pix2lst.lst_physics import write_composite as physics_composite
    from pix2lst.runtime import predictor as predictor_mod

    model = make_scene_model(tmp_path / "m.onnx", target)
    p = LSTPredictor(model)
    comp = physics_composite(sample_scene, tmp_path / "comp.tif")
    a = p.predict_file(sample_scene, tmp_path / "a.tif", check_range=False)  # random weights
    p.predict_file(comp, tmp_path / "b.tif", check_range=False)
    p.predict_file(sample_scene / "test_MTL.txt", tmp_path / "c.tif", check_range=False)
    gdal = functools.partial(open_source, decoder="gdal")
    monkeypatch.setattr(predictor_mod, "open_source", gdal)
    p.predict_file(sample_scene, tmp_path / "d.tif", check_range=False)
    with (
        rasterio.open(tmp_path / "a.tif") as x,
        rasterio.open(tmp_path / "b.tif") as y,
        rasterio.open(tmp_path / "c.tif") as z,
        rasterio.open(tmp_path / "d.tif") as g,
    ):
        np.testing.assert_array_equal(x.read(1), y.read(1))
        np.testing.assert_array_equal(x.read(1), z.read(1))
        np.testing.assert_array_equal(x.read(1), g.read(1))
        assert x.crs == y.crs and x.transform == y.transform
    assert a.tiles == p.grid(a.height, a.width).n_tiles


def test_runtime_never_imports_torch(tmp_path: Path, models: dict[str, Path]) -> None:
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "import numpy as np, pix2lst.runtime as rt\n"
        f"p = rt.LSTPredictor({str(models['identity16'])!r}, padding=4)\n"
        "a = np.random.default_rng(0).random((8, 40, 30), dtype=np.float32)\n"
        "assert np.allclose(p.predict_array(a, check_range=False), a[7])\n"
        "from pix2lst.runtime import cli\n"
        "assert 'torch' not in [m for m in sys.modules if sys.modules[m] is not None]\n"
        "print('ok')\n"
    )
    run_python(code, timeout=120)


def test_bands_are_matched_by_name_not_position(tmp_path: Path, models: dict[str, Path]) -> None:
    arr = scene_like(40, 40, 0, holes=False)
    order = [7, 0, 1, 2, 3, 4, 5, 6]  # B10 first in the file
    src = write_composite(tmp_path / "shuffled.tif", arr[order], tuple(BANDS[i] for i in order))
    p = predictor(models["identity16"], 4, "hann")
    p.predict_file(src, tmp_path / "o.tif", check_range=False)  # identity: B10 reflectance-like
    with rasterio.open(tmp_path / "o.tif") as ds:
        np.testing.assert_allclose(ds.read(1), arr[7], rtol=1e-6)


@pytest.mark.parametrize("dtype", ["float32", "uint16"])
def test_composite_with_a_nodata_value_and_integer_dtype(
    tmp_path: Path, models: dict[str, Path], dtype: str
) -> None:
    """A composite whose nodata is a value (0), not NaN, in float32 or integer DN."""
    arr = np.round(sample_dn((70, 50)))
    arr[:, :10, :10] = 0
    path = tmp_path / "c.tif"
    profile = {
        "driver": "GTiff", "height": 70, "width": 50, "count": 8, "dtype": dtype,
        "nodata": 0, "crs": "EPSG:32616", "tiled": True, "blockxsize": 16, "blockysize": 16,
    }  # fmt: skip
    with rasterio.open(path, "w", **profile) as ds:
        ds.write(arr.astype(dtype))
        for i, name in enumerate(BANDS, start=1):
            ds.set_band_description(i, name)
    p = predictor(models["identity16"], 4, "hann")
    p.predict_file(path, tmp_path / "o.tif", check_range=False)  # identity on DN
    with rasterio.open(tmp_path / "o.tif") as ds:
        out = ds.read(1)
    assert np.isnan(out[:10, :10]).all()
    expected = arr[7].copy()
    expected[:10, :10] = np.nan
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("batch_size", [1, 3])
def test_several_sessions_give_the_same_mosaic(
    models: dict[str, Path], batch_size: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # batches run on the sessions in turn, in parallel, and are blended in the order
    # they were filled: the mosaic is bit for bit the one session's (4 usable cores, so
    # that 3 sessions are not capped)
    monkeypatch.setenv("PYTHON_CPU_COUNT", "4")
    arr = scene_like(150, 120, 3, holes=True)
    one = LSTPredictor(
        models["conv"], providers="cpu", batch_size=batch_size, padding=8, sessions=1
    )
    out1 = one.predict_array(arr, check_range=False)
    for n in (2, 3):
        many = LSTPredictor(
            models["conv"], providers="cpu", batch_size=batch_size, padding=8, sessions=str(n)
        )
        assert many.sessions == n and len({id(m.session) for m in many.models}) == n
        for m in many.models:  # the cores shared between the sessions
            threads = m.session.get_session_options().intra_op_num_threads
            assert threads == max(1, usable_cores() // n)
        np.testing.assert_array_equal(many.predict_array(arr, check_range=False), out1)
        if batch_size == 3:
            _assert_reference_mosaic(many, arr, 8, "hann")
    auto = LSTPredictor(models["conv"], providers="cpu", padding=8)
    assert auto.sessions == auto_sessions("CPUExecutionProvider", usable_cores())


def test_sessions_are_capped_by_the_cores_and_the_tiles(
    models: dict[str, Path], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # --sessions 1000 never loads 1000 sessions: at most one per usable core (said in one
    # warning), and a raster of fewer tiles runs on fewer of them (same mosaic)
    monkeypatch.setenv("PYTHON_CPU_COUNT", "3")
    with caplog.at_level("WARNING", logger="pix2lst"):
        p = LSTPredictor(models["conv"], providers="cpu", padding=8, sessions=1000)
    assert p.sessions == 3 and len(p.models) == 3
    assert "1000 sessions capped at 3, the usable cores" in caplog.text
    tiny = scene_like(10, 12, 1, holes=False)  # one tile
    one = LSTPredictor(models["conv"], providers="cpu", padding=8, sessions=1)
    np.testing.assert_array_equal(
        p.predict_array(tiny, check_range=False), one.predict_array(tiny, check_range=False)
    )


def test_the_usable_cores_size_sessions_threads_and_readers(
    models: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    # PYTHON_CPU_COUNT stands for a container's CPU limit (a cgroup quota, read the same
    # way: tests/test_machine.py) or for a bigger machine
    arr = scene_like(150, 120, 3, holes=True)
    out = LSTPredictor(models["conv"], providers="cpu", padding=8, sessions=1).predict_array(
        arr, check_range=False
    )
    monkeypatch.setenv("PYTHON_CPU_COUNT", "1")
    one = LSTPredictor(models["conv"], providers="cpu", padding=8)
    threads = one.model.session.get_session_options().intra_op_num_threads
    assert (one.sessions, one.readers, threads, one.batch_size) == (1, 1, 1, 8)
    monkeypatch.setenv("PYTHON_CPU_COUNT", "16")  # the layout sessions="auto" picks there
    big = LSTPredictor(models["conv"], providers="cpu", padding=8)
    threads = {m.session.get_session_options().intra_op_num_threads for m in big.models}
    assert (big.sessions, big.readers, threads, big.batch_size) == (4, 8, {4}, 2)
    monkeypatch.setenv("PYTHON_CPU_COUNT", "64")  # more cores: more threads, not sessions
    huge = LSTPredictor(models["conv"], providers="cpu", padding=8)
    threads = {m.session.get_session_options().intra_op_num_threads for m in huge.models}
    assert (huge.sessions, threads, huge.batch_size) == (4, {16}, 2)
    # on a GPU the host's cores decode: up to 16 readers (the plan for a CUDA session)
    gpu, gpu64 = (
        decide_plan(CUDA, [CUDA, CPU], cores, model_tile=32, sessions=1) for cores in (16, 64)
    )
    assert (big.readers, huge.readers, gpu.readers, gpu64.readers) == (8, 8, 16, 16)
    for p in (one, big, huge):
        np.testing.assert_array_equal(p.predict_array(arr, check_range=False), out)


def test_more_fillers_and_blend_threads_on_a_gpu_give_the_same_mosaic(
    models: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    # on a 16- or 64-core GPU machine the plan has one filler thread per 4 cores cut
    # tiles, more than there are sessions (a GPU has one), and up to 4 threads blend bands
    # of rows: the batches still run and blend in order, the mosaic is the same bit for
    # bit. On a CPU there is one filler per session (the sessions take the cores) and this
    # thread blends alone. The GPU plans run here with the CPU provider's session
    import pix2lst.runtime.pipeline as pipeline_mod

    arr = scene_like(150, 120, 3, holes=True)
    pools: dict[str, list[int]] = {"pix2lst-fill": [], "pix2lst-blend": []}
    real = pipeline_mod.ThreadPoolExecutor

    def counting(n: int, **kw: Any) -> Any:
        pools.get(kw.get("thread_name_prefix", ""), []).append(n)
        return real(n, **kw)

    for tiling in ("host", "device"):
        p = LSTPredictor(
            models["conv"], providers="cpu", batch_size=2, padding=8, sessions=1, tiling=tiling
        )
        out1 = p.predict_array(arr, check_range=False)
        plans = [
            decide_plan(provider, [provider], cores, model_tile=32, padding=8, sessions=1,
                        batch_size=2, tiling=tiling)
            for provider, cores in ((CPU, 64), (CUDA, 16), (CUDA, 64))
        ]  # fmt: skip
        with monkeypatch.context() as m:
            m.setattr(pipeline_mod, "ThreadPoolExecutor", counting)
            for plan in plans:
                p.plan = replace(plan, provider=CPU, providers=(CPU,))
                np.testing.assert_array_equal(p.predict_array(arr, check_range=False), out1)
    # host tiling: 1 filler on the CPU, 4 and 16 on a GPU; device tiling: at most
    # one more than the sessions. Blend helpers only on a GPU: 3 with this thread
    assert pools == {"pix2lst-fill": [1, 4, 16, 1, 2, 2], "pix2lst-blend": [3, 3, 3, 3]}


@given(
    width=st.integers(1, 5000),
    parts=st.integers(1, 20),
    align=st.sampled_from([1, 7, 256, 512]),
)
@settings(max_examples=200, deadline=None)
def test_column_splits_partition_the_width_on_block_edges(
    width: int, parts: int, align: int
) -> None:
    splits = column_splits(width, parts, align)
    assert 1 <= len(splits) <= parts
    assert splits[0][0] == 0 and splits[-1][1] == width
    for (a, b), (c, _) in itertools.pairwise(splits):
        assert b == c and b % align == 0 and a < b  # contiguous, on block edges
    assert len(splits) == min(parts, -(-width // align))  # as many as there are blocks


@pytest.mark.parametrize("kind", ["composite", "scene"])
def test_parallel_column_readers_give_the_same_file(
    tmp_path: Path, sample_scene: Path, kind: str
) -> None:
    # the sample (627 px wide) split at column 512: two handles, each decoding its
    # own blocks and calibrating its own columns, write the file one reader writes
    from pix2lst.lst_physics import write_composite as physics_composite

    model = make_model(tmp_path / "m.onnx", "conv", tile=64, **LST_LIKE)  # a plausible LST
    src = sample_scene if kind == "scene" else physics_composite(sample_scene, tmp_path / "c.tif")
    p = LSTPredictor(model, providers="cpu")
    outs = []
    seen: list[int] = []
    real = ring_mod._read_columns

    def spy(source: Any, *args: Any, **kwargs: Any) -> None:
        seen.append(id(source))
        real(source, *args, **kwargs)

    for readers in (1, 3):
        p.plan = replace(p.plan, readers=readers)
        seen.clear()
        ring_mod._read_columns = spy  # type: ignore[assignment]
        try:
            p.predict_file(src, tmp_path / f"r{readers}.tif")
        finally:
            ring_mod._read_columns = real  # type: ignore[assignment]
        assert len(set(seen)) == min(readers, 2)  # 627 px: two column blocks of 512
        with rasterio.open(tmp_path / f"r{readers}.tif") as ds:
            outs.append(ds.read(1))
    np.testing.assert_array_equal(outs[0], outs[1])
    assert np.isfinite(outs[0]).mean() > 0.5

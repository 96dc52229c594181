"""The benchmark harness: scene building, per-process memory, the baseline, a quick run.

No timing assertions: only that the harness measures what it says and writes
its reports. The quick run uses the tiny scene and narrow models (benchmarks --quick).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio

# ``benchmarks`` is a top-level folder of the repository, not an installed package:
# ``python -m pytest`` (make test) has the repository on sys.path, bare ``pytest`` not.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.harness import Contender, compare, median_of, run_task
from benchmarks.scenes import mirror_indices, scene_folder


def test_mirror_indices_reflect_without_jumps() -> None:
    idx = mirror_indices(0, 12, 4)
    assert idx.tolist() == [0, 1, 2, 3, 3, 2, 1, 0, 0, 1, 2, 3]
    assert np.abs(np.diff(idx)).max() <= 1  # neighbours stay neighbours: no seams


def test_scene_folder_mirrors_the_real_sample(tmp_path: Path, sample_scene: Path) -> None:
    folder = scene_folder(tmp_path, (700, 650))
    with (
        rasterio.open(folder / "test_B10.tif") as ds,
        rasterio.open(sample_scene / "test_B10.tif") as src,
    ):
        big, small = ds.read(1), src.read(1)
        assert (ds.height, ds.width) == (700, 650)
        assert ds.profile["compress"] == "deflate" and ds.profile["tiled"]
        assert ds.crs == src.crs
    h, w = small.shape
    np.testing.assert_array_equal(big[:h, :w], small)
    np.testing.assert_array_equal(big[h : h + 10, :w], small[::-1][:10])  # reflected below
    np.testing.assert_array_equal(big[:h, w : w + 10], small[:, ::-1][:, :10])  # and right
    mtl = (folder / "test_MTL.txt").read_text()
    assert "REFLECTIVE_LINES = 700" in mtl and "THERMAL_SAMPLES = 650" in mtl
    assert scene_folder(tmp_path, (700, 650)) == folder  # cached, not rebuilt

    import pix2lst.lst_physics as physics

    scene = physics.find_scene(folder)
    assert scene.has("B10") and scene.has("B4")


def test_peak_rss_is_per_contender() -> None:
    small, _, rss_small = run_task("tasks_selftest:hold_memory", {"mb": 0, "value": 2.0})
    big, _, rss_big = run_task("tasks_selftest:hold_memory", {"mb": 300})
    assert small["value"] == 2.0 and big["touched"] > 0
    assert rss_big - rss_small > 250  # the 300 MiB shows up in that child only
    assert small["import_rss_mb"] > 0


def test_compare_alternates_and_summarises() -> None:
    contenders = [
        Contender("a", "tasks_selftest:hold_memory", {"mb": 0, "value": 1.0}),
        Contender("b", "tasks_selftest:hold_memory", {"mb": 0, "value": 3.0}),
    ]
    seen: list[str] = []
    runs = compare(contenders, 2, progress=seen.append)
    assert [r.rep for r in runs["a"]] == [0, 1]
    assert median_of(runs["b"], "value") == 3.0
    order = [line.split(": ")[1] for line in seen if "rep " in line]
    assert order == ["a", "b", "b", "a"]  # rotated each repetition


def test_failing_task_reports_its_error() -> None:
    from benchmarks.harness import BenchmarkError

    with pytest.raises(BenchmarkError, match="hold_memory"):
        run_task("tasks_selftest:hold_memory", {"mb": -1})


def test_compare_can_keep_going_past_a_failing_contender() -> None:
    from benchmarks.harness import BenchmarkError

    bad = Contender("bad", "tasks_selftest:hold_memory", {"mb": -1})
    good = Contender("good", "tasks_selftest:hold_memory", {"mb": 0, "value": 4.0})
    with pytest.raises(BenchmarkError):
        compare([bad, good], 1)
    seen: list[str] = []
    runs = compare([bad, good], 1, progress=seen.append, keep_going=True)
    assert "hold_memory" in runs["bad"][0].result["error"]
    assert median_of(runs["bad"], "value") != median_of(runs["bad"], "value")  # NaN: missing
    assert median_of(runs["good"], "value") == 4.0
    assert any("FAILED" in line for line in seen)


def test_quick_run_writes_reports(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from benchmarks.__main__ import main

    out = tmp_path / "results"
    result = CliRunner().invoke(
        main, ["physics", "--quick", "--cache", str(tmp_path / "cache"), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    for part in ("physics",):
        doc = json.loads((out / f"{part}.json").read_text())
        assert doc["quick"] is True and doc["machine"]["cores"] >= 1
        assert "--quick" in doc["command"]
        assert doc["machine"]["versions"]["numpy"]
        md = (out / f"{part}.md").read_text()
        assert "| numba" in md or "numba" in md
    physics = json.loads((out / "physics.json").read_text())
    rows = physics["tables"][0]["rows"]
    assert rows and all(r[3] > 0 for r in rows)  # Mpx/s figures are there


@pytest.mark.slow
def test_quick_run_of_every_part(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from benchmarks.__main__ import main

    out = tmp_path / "results"
    result = CliRunner().invoke(
        main, ["all", "--quick", "--cache", str(tmp_path / "cache"), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    e2e = json.loads((out / "e2e.json").read_text())
    summary = e2e["data"]["summary"]
    assert summary["ours_vs_baseline"]["mean_abs_k"] < 1e-3  # same mosaic both ways
    assert {p.stem for p in out.glob("*.md")} >= {"physics", "e2e", "host", "accuracy"}


def test_baseline_computes_the_same_mosaic_as_the_runtime(tmp_path: Path) -> None:
    from benchmarks.baseline import torch_baseline
    from benchmarks.context import Context
    from benchmarks.tasks import ort_ceiling, predict_e2e

    ctx = Context(quick=True, cache=tmp_path / "cache", progress=lambda _: None)
    folder = ctx.scene(1.0)
    comp = ctx.composite(folder)
    spec = ctx.default_model()
    assert spec.stand_in or Path(spec.onnx).is_file()
    ours = predict_e2e(spec.onnx, str(comp), str(tmp_path / "ours.tif"), padding=16, keep=True)
    base = torch_baseline(spec.as_dict(), str(comp), str(tmp_path / "base.tif"), padding=16)
    ceiling = ort_ceiling(spec.onnx, str(comp), 300, 320, padding=16)
    assert ours["tiles"] == base["tiles"] == ceiling["tiles"]
    with rasterio.open(tmp_path / "ours.tif") as a, rasterio.open(tmp_path / "base.tif") as b:
        x, y = a.read(1), b.read(1)
    assert np.isfinite(x).all() and np.isfinite(y).all()
    np.testing.assert_allclose(x, y, atol=1e-3)  # kelvin: same weights, same hann blend


def test_steal_seconds_is_the_machines_steal_time_or_nan() -> None:
    import math
    import os

    from benchmarks.tasks import steal_seconds

    a = steal_seconds()
    b = steal_seconds()
    if not os.path.exists("/proc/stat"):
        assert math.isnan(a)
        return
    with open("/proc/stat") as fh:
        ticks = int(fh.readline().split()[8])
    assert 0 <= a <= b <= ticks / os.sysconf("SC_CLK_TCK") + 1.0  # a counter since boot

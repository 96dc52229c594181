"""The accuracy part's child tasks: the seam statistic and the per-tile-size scores."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from benchmarks.tasks_accuracy import seam_statistic, tile_accuracy
from tests.conftest import make_model


def test_seam_statistic_finds_steps_at_tile_borders() -> None:
    x = np.linspace(0, 10, 256)
    smooth = np.add.outer(x, x)
    assert seam_statistic(smooth, 64, 0)["seam_score"] == pytest.approx(1.0, rel=1e-6)
    stepped = smooth + (np.arange(256) // 64)[None, :] * 0.5  # jumps at every tile border
    assert seam_statistic(stepped, 64, 0)["seam_score"] > 5


def test_tile_accuracy_scores_each_run_tile(tmp_path: Path, sample_scene: Path) -> None:
    # B10 (kelvin) scaled to about 0, so that the LST is a plausible 290 K or so
    model = make_model(tmp_path / "m.onnx", "conv", tile=32, depth=3, spatial=True,
                       input_scale=(1.0,) * 7 + (0.01,), input_offset=(0.0,) * 7 + (-3.0,),
                       output_offset=290.0)  # fmt: skip
    res = tile_accuracy(str(model), {"sample": str(sample_scene)}, str(tmp_path), [32, 64])
    first, second = res["rows"]
    assert (first["tile"], second["tile"]) == (32, 64) and first["padding"] == second[
        "padding"
    ] == 8
    assert first["max_abs_diff_vs_first_k"] == 0.0 and second["n_pixels"] == first["n_pixels"] > 0
    assert second["tiles"] < first["tiles"] and np.isfinite(second["rmse_k"])

"""`pix2lst tiles`: swapped or implausible inputs and bad parameters refused before any folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from pix2lst.cli import main
from pix2lst.errors import ImplausibleDataError
from pix2lst.export.tiles import export_tiles
from tests.conftest import lst_values, write_composite, write_lst


@pytest.fixture
def pair(tmp_path: Path) -> tuple[Path, Path]:
    arr = np.random.default_rng(0).uniform(0.02, 0.4, (8, 90, 120)).astype(np.float32)
    arr[7] = 290.0
    comp = write_composite(tmp_path / "comp.tif", arr)
    lst = write_lst(tmp_path / "lst.tif", lst_values(), origin=(500_000.0, 3_400_000.0))
    return comp, lst


def tiles(*args: str) -> tuple[int, str]:
    res = CliRunner().invoke(main, ["tiles", *args])
    assert "Traceback" not in res.output
    return res.exit_code, res.output


def test_swapped_inputs_are_refused(tmp_path: Path, pair: tuple[Path, Path]) -> None:
    comp, lst = pair
    out = tmp_path / "ds"
    code, text = tiles(str(lst), str(comp), "-o", str(out), "--tile", "32", "--stride", "32")
    assert code == 1 and "swapped" in text, text
    assert not out.exists()


def test_a_target_that_is_not_a_temperature_is_refused(
    tmp_path: Path, pair: tuple[Path, Path]
) -> None:
    comp, _ = pair
    reflectance = write_lst(
        tmp_path / "b1.tif", np.full((90, 120), 0.12, np.float32), units=None,
        origin=(500_000.0, 3_400_000.0),
    )  # fmt: skip
    with pytest.raises(ImplausibleDataError, match="does not look like a temperature"):
        export_tiles(comp, reflectance, tmp_path / "ds", tile=32, stride=32)
    assert not (tmp_path / "ds").exists()


def test_a_composite_with_implausible_bands_is_refused(
    tmp_path: Path, pair: tuple[Path, Path]
) -> None:
    _, lst = pair
    arr = np.full((8, 90, 120), 290.0, dtype=np.float32)  # B1 holds a temperature
    bad = write_composite(tmp_path / "bad.tif", arr)
    with pytest.raises(ImplausibleDataError, match=r"band B1 .* not a reflectance"):
        export_tiles(bad, lst, tmp_path / "ds", tile=32, stride=32)


def test_bad_parameters_leave_no_empty_folders(tmp_path: Path, pair: tuple[Path, Path]) -> None:
    comp, lst = pair
    out = tmp_path / "ds"
    for flags in (["--tile", "0"], ["--tile", "32", "--stride", "64"]):
        code, text = tiles(str(comp), str(lst), "-o", str(out), *flags)
        assert code == 1 and "tiles:" not in text, text
        assert not out.exists()
    code, text = tiles(str(comp), str(lst), "-o", str(out), "--tile", "32", "--stride", "32")
    assert code == 0 and (out / "images").is_dir() and (out / "manifest.csv").is_file(), text

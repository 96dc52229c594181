"""`quicklook` and `view` on rasters that are not LST maps, damaged, or their own output."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from pix2lst.cli import main
from pix2lst.errors import SceneError
from pix2lst.viz.raster import read_lst
from tests.conftest import lst_values, write_composite, write_lst


def run(*args: str) -> tuple[int, str]:
    res = CliRunner().invoke(main, list(args))
    assert "Traceback" not in res.output
    return res.exit_code, res.output


def test_a_composite_is_not_an_lst_map(tmp_path: Path) -> None:
    arr = np.full((8, 40, 40), 0.2, dtype=np.float32)
    arr[7] = 290.0
    comp = write_composite(tmp_path / "comp.tif", arr)
    for command in ("quicklook", "view"):
        code, text = run(command, str(comp), "-o", str(tmp_path / f"{command}.out"))
        assert code == 1 and "has 8 bands (B1, B2" in text and "not an LST map" in text, text
        assert "warning" not in text.lower()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["comp.tif"]


def test_corrupt_tiffs_are_one_line(tmp_path: Path) -> None:
    good = write_lst(tmp_path / "lst.tif", lst_values(200, 200))
    cut = tmp_path / "cut.tif"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size * 2 // 3])
    junk = tmp_path / "junk.tif"
    junk.write_text("not a tiff")
    for bad in (cut, junk):
        for command in ("quicklook", "view"):
            code, text = run(command, str(bad), "-o", str(tmp_path / f"{command}.out"))
            assert code == 1 and str(bad) in text, text
    assert not (tmp_path / "quicklook.out").exists() and not (tmp_path / "view.out").exists()


def test_a_picture_never_replaces_its_input(tmp_path: Path) -> None:
    lst = write_lst(tmp_path / "lst.tif", lst_values())
    before = lst.read_bytes()
    for command in ("quicklook", "view"):
        code, text = run(command, str(lst), "-o", str(lst), "--overwrite")
        assert code == 1 and "it is the input" in text, text
    assert lst.read_bytes() == before


def test_a_missing_band_is_counted_in_the_singular(tmp_path: Path) -> None:
    lst = write_lst(tmp_path / "l.tif", lst_values())
    with pytest.raises(SceneError, match=r"has 1 band; band 2 does not exist"):
        read_lst(lst, band=2)

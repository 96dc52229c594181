"""``pix2lst compare`` and ``pix2lst view`` take two times of a cube (``CUBE.zarr@DATE``)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

pytest.importorskip("xarray", reason="the batch extra is not installed")

from pix2lst.batch.cube import write_cube
from pix2lst.cli import main
from pix2lst.lst_physics.lst import write_lst
from tests.conftest import make_scene


@pytest.fixture()
def cube(tmp_path):
    paths = []
    for i, (date, window) in enumerate(
        [("2023-04-15", (0, 0, 96, 128)), ("2023-07-20", (5, 3, 96, 128))]
    ):
        mtl = make_scene(tmp_path / f"s{i}", f"LC08_VIZ_{i}", date=date, window=window)
        paths.append(write_lst(mtl, tmp_path / f"lst{i}.tif"))
    return write_cube(paths, tmp_path / "lst.zarr") and tmp_path / "lst.zarr"


def test_compare_two_times_of_a_cube(tmp_path, cube):
    out = tmp_path / "cmp.png"
    result = CliRunner().invoke(
        main, ["compare", f"{cube}@2023-04-15", f"{cube}@2023-07", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert out.stat().st_size > 1000


def test_view_two_times_of_a_cube(tmp_path, cube):
    out = tmp_path / "v.html"
    result = CliRunner().invoke(
        main, ["view", f"{cube}@LC08_VIZ_0", f"{cube}@2023-07-20", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    html = out.read_text()
    assert "2023-04-15" in html and "2023-07-20" in html


def test_a_time_not_in_the_cube(tmp_path, cube):
    result = CliRunner().invoke(
        main, ["compare", f"{cube}@2020-01-01", f"{cube}@2023-07", "-o", str(tmp_path / "x.png")]
    )
    assert result.exit_code == 2
    assert (
        "matches no time of the cube" in result.output
        and "2023-04-15 (LC08_VIZ_0)" in result.output
    )

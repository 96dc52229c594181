"""Maps a reader can trust: implausible values hidden and said, world files never replaced
unasked, tick labels that name their tick, arrows on clipped colour bars, and a true-colour
stretch that clouds do not set."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from matplotlib.colors import to_hex

from pix2lst.cli import main
from pix2lst.errors import OutputExistsError
from pix2lst.geo.plausible import LST_RANGE_K
from pix2lst.viz import quicklook, write_viewer
from pix2lst.viz.mapaxes import StepFormatter, tick_decimals
from pix2lst.viz.quicklook import lst_figure
from pix2lst.viz.raster import read_lst
from pix2lst.viz.rgb import read_rgb
from pix2lst.viz.style import lst_cmap, true_colour
from tests.conftest import BANDS, lst_values, write_composite, write_lst

CORRUPT = [(20, 30, 3.0e38), (40, 60, -3.0e38), (50, 70, 1.0e6)]


def _corrupt_lst(path: Path) -> Path:
    values = lst_values()
    for row, col, v in CORRUPT:
        values[row, col] = v
    return write_lst(path, values)


def test_implausible_values_are_said_once_and_drawn_as_nodata(tmp_path: Path) -> None:
    bad = _corrupt_lst(tmp_path / "bad.tif")
    good = write_lst(tmp_path / "good.tif", lst_values(warm=1.0))
    layer = read_lst(bad)
    for row, col, _ in CORRUPT:
        assert np.isnan(layer.values[row, col])
    finite = layer.values[np.isfinite(layer.values)]
    assert 285.0 < finite.min() and finite.max() < 320.0  # the scale is the real data's
    runs = {
        "quicklook": ["quicklook", str(bad), "-o", str(tmp_path / "q.png")],
        "compare": ["compare", str(good), str(bad), "-o", str(tmp_path / "c.png")],
        "view": ["view", str(good), str(bad), "-o", str(tmp_path / "v.html")],
    }
    for name, args in runs.items():
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 0, (name, result.output)
        low, high = LST_RANGE_K
        said = f"outside {low:g}-{high:g} K"
        warnings = [line for line in result.stderr.splitlines() if said in line]
        assert len(warnings) == 1, (name, result.stderr)
        assert f"{len(CORRUPT)} of " in warnings[0] and "3e+38" in warnings[0]
        assert "drawn as nodata" in warnings[0]


def test_quicklook_never_replaces_a_world_file_unasked(tmp_path: Path) -> None:
    src = write_lst(tmp_path / "lst.tif", lst_values())
    png, world, aux = tmp_path / "q.png", tmp_path / "q.pgw", tmp_path / "q.png.aux.xml"
    for kept in (world, aux):
        kept.write_text("a user's own file\n")
        with pytest.raises(OutputExistsError, match=kept.name):
            quicklook(src, png)
        assert not png.exists() and kept.read_text() == "a user's own file\n"
        result = CliRunner().invoke(main, ["quicklook", str(src), "-o", str(png)])
        assert result.exit_code == 1 and "--overwrite" in result.output and not png.exists()
        kept.unlink()
    world.write_text("old\n")
    quicklook(src, png, overwrite=True)
    assert png.is_file() and len(world.read_text().split()) == 6 and aux.is_file()
    with pytest.raises(OutputExistsError):  # a second run without --overwrite
        quicklook(src, png)


def test_latitude_labels_name_their_tick() -> None:
    fmt = StepFormatter(hemispheres=("N", "S"))
    assert fmt.format_ticks([20.8, 20.825, 20.85]) == ["20.800°N", "20.825°N", "20.850°N"]
    assert fmt.format_ticks([-0.5, 0.0, 0.5]) == ["0.5°S", "0.0°", "0.5°N"]
    west = StepFormatter(hemispheres=("E", "W")).format_ticks([-88.06, -88.04, -88.02])
    assert west == ["88.06°W", "88.04°W", "88.02°W"]
    assert tick_decimals([20.8, 20.825]) == 3 and tick_decimals([3390.0, 3392.0]) == 0
    km = StepFormatter(scale=1e-3).format_ticks([3_390_555.0, 3_392_000.0])
    assert km == ["3390.555", "3392"]  # kilometres exact, not 3390.55


def test_clipped_colour_bars_get_arrows(tmp_path: Path) -> None:
    layer = read_lst(write_lst(tmp_path / "lst.tif", lst_values()))

    def extend(clip: tuple[float, float]) -> str:
        fig = lst_figure(layer, clip=clip)
        return str(fig.axes[0].images[0].colorbar.extend)

    assert extend((2.0, 98.0)) == "both"
    assert extend((0.0, 100.0)) == "neither"
    assert extend((0.0, 90.0)) == "max" and extend((10.0, 100.0)) == "min"


def test_the_viewer_colour_bars_get_arrows_where_they_clip(tmp_path: Path) -> None:
    a = write_lst(tmp_path / "a.tif", lst_values())
    b = write_lst(tmp_path / "b.tif", lst_values(warm=3.0))
    for clip, want in (((2.0, 98.0), ["max", "min"]), ((0.0, 100.0), [])):
        page = write_viewer([a, b], tmp_path / f"v{clip[0]:g}.html", clip=clip).read_text()
        m = re.search(r'id="pix2lst-data">(.*?)</script>', page, re.S)
        assert m is not None
        lst_bar, diff_bar = json.loads(m.group(1).replace("<\\/", "</"))["colorbars"]
        assert sorted(lst_bar["arrows"]) == want
        cmap = lst_cmap(None)
        for end, colour in lst_bar["arrows"].items():
            assert colour == to_hex(cmap(0.0 if end == "min" else 1.0))
        assert diff_bar["arrows"] == {}  # B - A is 0 or 3 K: within its symmetric 98 % scale


def test_clouds_do_not_blacken_the_true_colour(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    h, w = 60, 80
    land = rng.uniform(0.02, 0.12, (3, h, w))
    cloud = rng.uniform(0.5, 0.9, (1, h, w)).repeat(3, axis=0)
    cloudy = np.zeros((h, w), dtype=bool)
    cloudy[:, : int(w * 0.6)] = True  # 60 % of the scene under cloud
    stack = np.where(cloudy, cloud, land)
    arr = np.full((8, h, w), 0.1, dtype=np.float32)
    arr[[3, 2, 1]] = stack  # B4, B3, B2
    arr[7] = 290.0
    image = read_rgb(write_composite(tmp_path / "c.tif", arr, BANDS)).image
    brightness = image[..., :3].mean(axis=-1)
    assert np.median(brightness[~cloudy]) > 0.3  # the land keeps its contrast
    assert brightness[~cloudy].std() > 0.1
    assert np.median(brightness[cloudy]) > 0.99  # clouds saturate to white
    stretched_by_clouds = true_colour(stack)[..., :3].mean(axis=-1)  # the old stretch
    assert np.median(stretched_by_clouds[~cloudy]) < 0.1

"""The shared colour maps and stretches."""

from __future__ import annotations

import re

import numpy as np
import pytest
from matplotlib.colors import Colormap, to_hex

from pix2lst.errors import EmptySceneError
from pix2lst.viz.style import (
    LST_CMAP_NAME,
    UnknownColormapError,
    add_celsius_colorbar,
    kelvin_to_celsius,
    lst_cmap,
    new_figure,
    percent_clip,
    symmetric_limits,
    true_colour,
)


def test_default_cmap_is_green_to_red() -> None:
    cmap = lst_cmap()
    assert isinstance(cmap, Colormap)
    assert cmap.name.startswith(LST_CMAP_NAME)
    r0, g0, _, _ = cmap(0.0)
    r1, g1, _, _ = cmap(1.0)
    assert g0 > r0  # cool end is green
    assert r1 > g1  # hot end is red
    assert cmap(np.nan)[3] == 0.0  # NaN is transparent


def test_any_matplotlib_cmap_and_unknown_name() -> None:
    assert lst_cmap("viridis").name.startswith("viridis")
    with pytest.raises(UnknownColormapError, match="unknown colour map 'nope'"):
        lst_cmap("nope")


def test_percent_clip_ignores_nan() -> None:
    values = np.concatenate([np.arange(101, dtype=np.float64), [np.nan] * 50])
    assert percent_clip(values) == pytest.approx((2.0, 98.0))
    assert percent_clip(values, 0, 100) == pytest.approx((0.0, 100.0))
    lo, hi = percent_clip(np.full(10, 300.0))
    assert lo < 300.0 < hi
    with pytest.raises(EmptySceneError):
        percent_clip(np.full((4, 4), np.nan))
    with pytest.raises(ValueError, match="low < high"):
        percent_clip(values, 50, 10)


def test_symmetric_limits() -> None:
    lo, hi = symmetric_limits(np.array([-1.0, 3.0, np.nan]), percentile=100)
    assert (lo, hi) == (-3.0, 3.0)


def test_true_colour_alpha_and_range() -> None:
    rng = np.random.default_rng(0)
    rgb = rng.uniform(0.0, 0.3, size=(3, 20, 30))
    rgb[1, 0, 0] = np.nan
    img = true_colour(rgb)
    assert img.shape == (20, 30, 4)
    assert img.min() >= 0.0 and img.max() <= 1.0
    assert img[0, 0, 3] == 0.0 and img[1, 1, 3] == 1.0
    with pytest.raises(ValueError, match=r"\(3, h, w\)"):
        true_colour(rgb[:2])


def test_kelvin_to_celsius() -> None:
    assert kelvin_to_celsius(273.15) == pytest.approx(0.0)
    np.testing.assert_allclose(kelvin_to_celsius(np.array([300.0])), [26.85])


def test_colorbar_ticks_are_celsius(tmp_path) -> None:  # type: ignore[no-untyped-def]
    fig = new_figure()
    ax = fig.add_subplot()
    im = ax.imshow(np.linspace(290.0, 310.0, 100).reshape(10, 10), cmap=lst_cmap())
    cbar = add_celsius_colorbar(fig, im, ax=ax)
    labels = [t.get_text() for t in cbar.ax.get_yticklabels()]
    values = [float(t) for t in labels]
    assert len(values) >= 3
    assert all(16.85 <= v <= 36.85 for v in values)  # 290-310 K shown in °C
    assert all(v == round(v) for v in values)  # ticks on round Celsius values
    assert cbar.ax.get_ylabel() == "LST (°C)"
    fig.savefig(tmp_path / "x.png")
    assert (tmp_path / "x.png").stat().st_size > 1000


def test_figures_and_the_qgis_style_share_one_colour_map() -> None:
    from pix2lst.geo.qml import LST_COLORMAP, qml_text

    assert LST_CMAP_NAME == LST_COLORMAP
    colours = re.findall(r'<item [^>]*color="(#[0-9a-fA-F]{6})"', qml_text(290.0, 310.0))
    assert len(colours) >= 2
    cmap = lst_cmap()
    assert colours[0].lower() == to_hex(cmap(0.0)) and colours[-1].lower() == to_hex(cmap(1.0))

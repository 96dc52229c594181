"""The offline HTML viewer, checked without a browser (see test_viz_browser for one)."""

from __future__ import annotations

import base64
import io
import json
import re
from pathlib import Path

import numpy as np
import pytest
import rasterio
from click.testing import CliRunner
from PIL import Image

from pix2lst.cli import main
from pix2lst.errors import GridMismatchError, OutputExistsError
from pix2lst.viz import write_viewer
from pix2lst.viz.raster import decimated_shape
from pix2lst.viz.viewer import leaflet_assets
from tests.conftest import ORIGIN, lst_values, write_lst

# The only URL-like strings allowed: XML namespace names, which browsers never fetch.
_NAMESPACE = re.compile(r"http://www\.w3\.org/[0-9]{4}/[a-z]+")


def viewer_config(path: Path) -> dict:  # type: ignore[type-arg]
    """The JSON the viewer embeds."""
    text = path.read_text(encoding="utf-8")
    m = re.search(r'<script type="application/json" id="pix2lst-data">(.*?)</script>', text, re.S)
    assert m is not None
    return json.loads(m.group(1).replace("<\\/", "</"))  # type: ignore[no-any-return]


def assert_offline(text: str) -> None:
    """No URL anywhere that a browser could fetch: no http(s), no protocol-relative URL."""
    leftover = _NAMESPACE.sub("", text)
    assert not re.search(r"https?:", leftover, re.I), re.search(r".{60}https?:.{60}", leftover)
    assert not re.search(r"""\s(?:src|href)\s*=\s*["'](?!data:|#)""", leftover, re.I)
    assert "@import" not in leftover
    for url in re.findall(r"url\(\s*['\"]?([^)'\"]*)", leftover):
        assert url.startswith(("data:", "#")), url
    assert "//cdn" not in leftover.lower() and "unpkg" not in leftover.lower()


def test_leaflet_assets_are_vendored_and_offline() -> None:
    js, css = leaflet_assets()
    assert "Leaflet 1.9.4" in js and len(js) > 100_000
    assert ".leaflet-container" in css
    assert_offline(js + css)
    static = Path(__file__).resolve().parents[2] / "pix2lst" / "viz" / "static"
    assert "BSD 2-Clause" in (static / "LEAFLET_LICENSE.txt").read_text()


def test_viewer_is_self_contained_and_embeds_values(tmp_path: Path, sample_scene: Path) -> None:
    with rasterio.open(sample_scene / "test_B4.tif") as src:  # lay LST on the sample's grid
        h, w, t = src.height, src.width, src.transform
    a_vals, b_vals = lst_values(h, w), lst_values(h, w, warm=-4.0)
    kw = {"res": t.a, "origin": (t.c, t.f)}
    a = write_lst(tmp_path / "a.tif", a_vals, **kw)  # type: ignore[arg-type]
    b = write_lst(tmp_path / "b.tif", b_vals, date="2015-08-04", **kw)  # type: ignore[arg-type]
    out = write_viewer([a, b], tmp_path / "v.html", rgb=sample_scene)
    text = out.read_text(encoding="utf-8")
    assert_offline(text)
    assert (
        "<title>pix2lst LST viewer: 2015-01-22 · physics | 2015-08-04 · physics | True colour"
        in text
    )
    cfg = viewer_config(out)
    assert (cfg["width"], cfg["height"]) == (w, h)
    assert [layer["label"] for layer in cfg["layers"]][:2] == [
        "2015-01-22 · physics",
        "2015-08-04 · physics",
    ]
    for layer, want in zip(cfg["layers"], [a_vals, b_vals, None], strict=True):
        assert layer["png"].startswith("data:image/png;base64,")
        png = Image.open(io.BytesIO(base64.b64decode(layer["png"].split(",", 1)[1])))
        assert png.size == (w, h)
        if want is None:
            assert "values" not in layer  # the true-colour pane has no temperatures
            continue
        got = np.frombuffer(base64.b64decode(layer["values"]), dtype="<f4").reshape(h, w)
        np.testing.assert_array_equal(got, want)
        assert np.asarray(png.convert("RGBA"))[0, 0, 3] == 0  # nodata transparent
    assert cfg["crs"] == "EPSG:32616"
    assert cfg["colorbar"]["label"] == "LST (°C)" and len(cfg["colorbar"]["ticks"]) >= 3


def test_viewer_decimates_large_rasters(tmp_path: Path) -> None:
    values = lst_values(300, 400)
    a = write_lst(tmp_path / "a.tif", values)
    cfg = viewer_config(write_viewer([a], tmp_path / "v.html", max_pixels=20_000))
    h, w = decimated_shape(300, 400, 20_000)
    assert (cfg["height"], cfg["width"]) == (h, w) and h * w <= 20_000
    assert (cfg["source_height"], cfg["source_width"]) == (300, 400)
    got = np.frombuffer(base64.b64decode(cfg["layers"][0]["values"]), dtype="<f4").reshape(h, w)
    rows = np.floor((np.arange(h) + 0.5) * 300 / h).astype(int)
    cols = np.floor((np.arange(w) + 0.5) * 400 / w).astype(int)
    np.testing.assert_array_equal(got, values[np.ix_(rows, cols)])  # real pixel values
    assert "nearest-pixel decimation" in cfg["note"]


def test_viewer_grid_mismatch_overwrite_and_cli(tmp_path: Path) -> None:
    a = write_lst(tmp_path / "a.tif", lst_values())
    moved = (ORIGIN[0] + 300.0, ORIGIN[1])
    b = write_lst(tmp_path / "b.tif", lst_values(), origin=moved)
    with pytest.raises(GridMismatchError, match="transform"):
        write_viewer([a, b], tmp_path / "v.html")
    out = write_viewer([a, b], tmp_path / "v.html", resample=True)
    got = viewer_config(out)["layers"][1]["values"]
    shifted = np.frombuffer(base64.b64decode(got), dtype="<f4").reshape(90, 120)
    np.testing.assert_allclose(shifted[20:70, 20:100], lst_values()[20:70, 10:90], atol=1e-4)
    with pytest.raises(OutputExistsError):
        write_viewer([a], out)
    runner = CliRunner()
    res = runner.invoke(main, ["view", str(a), str(b), "-o", str(tmp_path / "w.html")])
    assert res.exit_code == 1 and "--resample" in res.output
    res = runner.invoke(main, ["view", str(a), "-o", str(out), "--overwrite", "--title", "T"])
    assert res.exit_code == 0, res.output
    assert "<title>T</title>" in out.read_text(encoding="utf-8")

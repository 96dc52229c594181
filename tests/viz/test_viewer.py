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
from rasterio.warp import transform as warp_transform

from pix2lst.cli import main
from pix2lst.errors import GridMismatchError, OutputExistsError
from pix2lst.viz import write_viewer
from pix2lst.viz.raster import decimated_shape
from pix2lst.viz.viewer import QUANTUM_K, decode_values, encode_values, leaflet_assets
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
    kinds = [layer["kind"] for layer in cfg["layers"]]
    assert kinds == ["lst", "lst", "diff", "rgb"]
    assert cfg["layers"][2]["label"] == "2015-08-04 · physics − 2015-01-22 · physics"
    for layer, want in zip(cfg["layers"], [a_vals, b_vals, b_vals - a_vals, None], strict=True):
        if want is None:
            assert "values" not in layer  # the true-colour pane has no temperatures
            assert layer["image"].startswith("data:image/webp;base64,")
            webp = Image.open(io.BytesIO(base64.b64decode(layer["image"].split(",", 1)[1])))
            assert webp.size == (w, h)  # (alpha dropped by the encoder: no nodata here)
            continue
        got = decode_values(layer["values"], h, w)
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want))  # nodata stays nodata
        ok = np.isfinite(want)
        assert np.abs(got[ok] - want[ok]).max() <= QUANTUM_K / 2 + 1e-4
        assert len(layer["lut"]) == 255 and layer["vmin"] < layer["vmax"]
    assert cfg["layers"][2]["vmin"] == -cfg["layers"][2]["vmax"]  # centred on zero
    assert cfg["crs"] == "EPSG:32616" and cfg["pixel_size_m"] == pytest.approx(30.0)
    # exact lon/lat nodes at the display grid's corners, for the readout
    ll = cfg["lonlat"]
    lon, lat = warp_transform("EPSG:32616", "EPSG:4326", [t.c], [t.f])
    assert (ll["lon"][0], ll["lat"][0]) == pytest.approx((lon[0], lat[0]), abs=1e-7)
    labels = [c["label"] for c in cfg["colorbars"]]
    assert labels == ["LST (°C)", "ΔLST, B − A (K = °C)"]
    assert len(cfg["colorbars"][0]["ticks"]) >= 3


def test_viewer_is_compact(tmp_path: Path, sample_scene: Path) -> None:
    """Readout values take about a third of float32 text, and the page about a fifth."""
    from pix2lst.lst_physics import write_lst as physics_lst

    a = physics_lst(sample_scene, tmp_path / "a.tif")
    out = write_viewer([a], tmp_path / "v.html", rgb=sample_scene)
    cfg = viewer_config(out)
    h, w = cfg["height"], cfg["width"]
    float_text = 4 * h * w * 4 / 3  # base64 of float32, as the viewer used to embed
    assert len(cfg["layers"][0]["values"]["data"]) < 0.4 * float_text
    assert out.stat().st_size < 1_200_000


def test_values_round_trip_and_mask(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    values = (250.0 + 80.0 * rng.random((37, 53))).astype(np.float32)
    values[0, :] = np.nan
    values[5, 7] = np.nan
    got = decode_values(encode_values(values), 37, 53)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(values))
    ok = np.isfinite(values)
    assert np.abs(got[ok] - values[ok]).max() <= QUANTUM_K / 2 + 1e-4
    # a mask raster hides its nodata pixels in every LST pane
    a = write_lst(tmp_path / "a.tif", lst_values())
    masked = lst_values()
    masked[40:50, 60:70] = np.nan
    m = write_lst(tmp_path / "m.tif", masked)
    cfg = viewer_config(write_viewer([a, a], tmp_path / "v.html", mask=m))
    for layer in cfg["layers"]:
        got = decode_values(layer["values"], 90, 120)
        assert np.isnan(got[40:50, 60:70]).all() and np.isfinite(got[30, 30])


def test_viewer_decimates_large_rasters(tmp_path: Path) -> None:
    values = lst_values(300, 400)
    a = write_lst(tmp_path / "a.tif", values)
    cfg = viewer_config(write_viewer([a], tmp_path / "v.html", max_pixels=20_000))
    h, w = decimated_shape(300, 400, 20_000)
    assert (cfg["height"], cfg["width"]) == (h, w) and h * w <= 20_000
    assert (cfg["source_height"], cfg["source_width"]) == (300, 400)
    got = decode_values(cfg["layers"][0]["values"], h, w)
    rows = np.floor((np.arange(h) + 0.5) * 300 / h).astype(int)
    cols = np.floor((np.arange(w) + 0.5) * 400 / w).astype(int)
    want = values[np.ix_(rows, cols)]  # real pixel values, to half a quantum
    np.testing.assert_allclose(got, want, atol=QUANTUM_K / 2 + 1e-4, equal_nan=True)
    assert "nearest-pixel decimation" in cfg["note"]


def test_viewer_grid_mismatch_overwrite_and_cli(tmp_path: Path) -> None:
    a = write_lst(tmp_path / "a.tif", lst_values())
    moved = (ORIGIN[0] + 300.0, ORIGIN[1])
    b = write_lst(tmp_path / "b.tif", lst_values(), origin=moved)
    with pytest.raises(GridMismatchError, match="transform"):
        write_viewer([a, b], tmp_path / "v.html")
    out = write_viewer([a, b], tmp_path / "v.html", resample=True)
    got = viewer_config(out)["layers"][1]["values"]
    shifted = decode_values(got, 90, 120)
    np.testing.assert_allclose(
        shifted[20:70, 20:100], lst_values()[20:70, 10:90], atol=QUANTUM_K / 2 + 1e-4
    )
    with pytest.raises(OutputExistsError):
        write_viewer([a], out)
    runner = CliRunner()
    res = runner.invoke(main, ["view", str(a), str(b), "-o", str(tmp_path / "w.html")])
    assert res.exit_code == 1 and "--resample" in res.output
    res = runner.invoke(main, ["view", str(a), "-o", str(out), "--overwrite", "--title", "T"])
    assert res.exit_code == 0, res.output
    assert "<title>T</title>" in out.read_text(encoding="utf-8")

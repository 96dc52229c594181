"""The QGIS style beside an LST GeoTIFF: well-formed QML, the figures' colour map at its stops,
stretched on the data's 2nd-98th percentiles, written atomically, never replaced unasked."""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from pathlib import Path

import matplotlib
import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.crs import CRS

from pix2lst.errors import ParameterError
from pix2lst.geo.grid import Grid
from pix2lst.geo.qml import LST_COLORMAP, qml_path, qml_text, write_qml
from pix2lst.geo.writer import raster_writer

GRID = Grid(CRS.from_epsg(32616), Affine(30.0, 0, 400_000.0, 0, -30.0, 3_400_000.0), 200, 150)


def _hex(rgba: tuple[float, ...]) -> str:
    return "#" + "".join(f"{round(255 * c):02x}" for c in rgba[:3])


def _ramp(text: str) -> tuple[ET.Element, ET.Element]:
    root = ET.fromstring(text)  # well-formed, the DOCTYPE included
    assert root.tag == "qgis"
    renderer = root.find("pipe/rasterrenderer")
    assert renderer is not None
    assert renderer.get("type") == "singlebandpseudocolor" and renderer.get("band") == "1"
    shader = renderer.find("rastershader/colorrampshader")
    assert shader is not None and shader.get("colorRampType") == "INTERPOLATED"
    return renderer, shader


def test_the_style_is_well_formed_qml_whose_stops_are_the_colormap() -> None:
    text = qml_text(280.5, 312.25, "K")
    assert text.startswith("<!DOCTYPE qgis")
    renderer, shader = _ramp(text)
    assert float(renderer.get("classificationMin", "")) == 280.5
    assert float(shader.get("maximumValue", "")) == 312.25
    cmap = matplotlib.colormaps[LST_COLORMAP]
    items = shader.findall("item")
    assert len(items) == 11
    values = [float(i.get("value", "")) for i in items]
    assert values[0] == 280.5 and values[-1] == 312.25 and values == sorted(values)
    for item, value in zip(items, values, strict=True):
        assert item.get("color") == _hex(cmap((value - 280.5) / (312.25 - 280.5)))
        assert item.get("label") == f"{value:.1f} K" and item.get("alpha") == "255"
    options = {o.get("name"): o.get("value") for o in shader.findall("colorramp/Option/Option")}
    assert options["color1"] == ",".join(str(round(255 * c)) for c in cmap(0.0))
    assert options["color2"] == ",".join(str(round(255 * c)) for c in cmap(1.0))
    for stop in (options["stops"] or "").split(":"):
        pos, rgba = stop.split(";")
        assert rgba == ",".join(str(round(255 * c)) for c in cmap(float(pos)))
    assert len((options["stops"] or "").split(":")) == 9
    # another colour map, other units
    _, shader = _ramp(qml_text(-5.0, 40.0, "degC", cmap="viridis"))
    first = shader.findall("item")[0]
    assert first.get("color") == _hex(matplotlib.colormaps["viridis"](0.0))
    assert first.get("label") == "-5.0 degC"
    with pytest.raises(ParameterError, match="no colour map 'nope'"):
        qml_text(0.0, 1.0, cmap="nope")
    with pytest.raises(ParameterError, match="finite min < max"):
        qml_text(300.0, 300.0)


def test_the_figures_use_the_same_colour_map() -> None:
    from pix2lst.viz.style import LST_CMAP_NAME

    assert LST_CMAP_NAME == LST_COLORMAP


def _lst(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    a = (295 + 6 * rng.standard_normal((GRID.height, GRID.width))).astype(np.float32)
    a[:, :7] = np.nan
    return a


def test_the_writer_styles_an_lst_on_its_percentiles_and_keeps_an_existing_style(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    out = tmp_path / "lst.tif"
    values = _lst()
    with raster_writer(out, GRID, units=("K",), style=True) as w:
        w.write_rows(0, values)
    style = qml_path(out)
    assert style == tmp_path / "lst.qml" and sorted(tmp_path.iterdir()) == [style, out]
    renderer, _ = _ramp(style.read_text())
    lo, hi = np.percentile(values[np.isfinite(values)], [2, 98])
    assert float(renderer.get("classificationMin", "")) == pytest.approx(lo, rel=1e-9)
    assert float(renderer.get("classificationMax", "")) == pytest.approx(hi, rel=1e-9)
    # no style unless asked (a raster that is not an LST)
    with raster_writer(tmp_path / "other.tif", GRID, units=("K",)) as w:
        w.write_rows(0, values)
    assert not (tmp_path / "other.qml").exists()
    # a style already there is kept without overwrite, replaced with it
    mine = tmp_path / "mine.qml"
    mine.write_text("my own style")
    with caplog.at_level(logging.WARNING, logger="pix2lst.geo.qml"):
        with raster_writer(tmp_path / "mine.tif", GRID, units=("degC",), style=True) as w:
            w.write_rows(0, values - np.float32(273.15))
    assert mine.read_text() == "my own style" and "kept the existing QGIS style" in caplog.text
    with raster_writer(
        tmp_path / "mine.tif", GRID, units=("degC",), style=True, overwrite=True
    ) as w:
        w.write_rows(0, values - np.float32(273.15))
    _, shader = _ramp(mine.read_text())
    assert shader.findall("item")[0].get("label", "").endswith(" degC")
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    # nothing valid to stretch on: no style, the raster is written
    assert write_qml(tmp_path / "other.tif") is not None
    empty = tmp_path / "flat.tif"
    with raster_writer(empty, GRID, units=("K",), style=True) as w:
        w.write_rows(0, np.full((GRID.height, GRID.width), 300.0, np.float32))
    assert empty.exists() and not qml_path(empty).exists()


def test_physics_and_the_predictor_write_the_style(sample_scene: Path, tmp_path: Path) -> None:
    from pix2lst.lst_physics import write_composite, write_lst
    from pix2lst.runtime import LSTPredictor
    from tests.conftest import make_model

    out = write_lst(sample_scene, tmp_path / "phys.tif")
    with rasterio.open(out) as ds:
        values = ds.read(1)
    renderer, _ = _ramp(qml_path(out).read_text())
    # a scene is stretched on a decimated read (its overviews): between the 1st and 3rd,
    # and the 97th and 99th percentiles of all its pixels
    p1, p3, p97, p99 = np.percentile(values[np.isfinite(values)], [1, 3, 97, 99])
    assert p1 < float(renderer.get("classificationMin", "")) < p3
    assert p97 < float(renderer.get("classificationMax", "")) < p99
    # a model giving band 10's brightness temperature: an LST, styled; unchecked, not
    (tmp_path / "m").mkdir()
    model = make_model(tmp_path / "m" / "id.onnx", "identity", tile=32, band=7)
    comp = write_composite(sample_scene, tmp_path / "comp.tif")
    p = LSTPredictor(model)
    p.predict_file(comp, tmp_path / "pred.tif")
    _ramp(qml_path(tmp_path / "pred.tif").read_text())
    p.predict_file(comp, tmp_path / "free.tif", check_range=False)
    assert sorted(x.name for x in tmp_path.iterdir() if x.is_file()) == [
        "comp.tif", "free.tif", "phys.qml", "phys.tif", "pred.qml", "pred.tif",
    ]  # fmt: skip

"""Outputs a GIS user trusts: physics, composite and predict write the same tag names and
spelling, the band unit and description, and carry the scene over from their input."""

from __future__ import annotations

from pathlib import Path

import rasterio

from pix2lst.lst_physics import write_composite, write_lst
from pix2lst.runtime import LSTPredictor
from tests.conftest import make_model

SCENE = {
    "SCENE_ID": "LC80200392015216LGN00",
    "SPACECRAFT": "LANDSAT_8",
    "DATE_ACQUIRED": "2015-08-04",
    "SCENE_CENTER_TIME": "16:19:21.7917421Z",
    "LEVEL": "L1",
}


def _read(path: Path) -> tuple[dict[str, str], tuple, tuple, list[int]]:
    with rasterio.open(path) as ds:
        return ds.tags(), ds.units, ds.descriptions, ds.overviews(1)


def test_physics_and_predict_outputs_agree(sample_scene: Path, tmp_path: Path) -> None:
    model = make_model(tmp_path / "m.onnx", "identity", band=7, tile=64)
    physics = write_lst(sample_scene, tmp_path / "physics.tif", units="C")
    composite = write_composite(sample_scene, tmp_path / "composite.tif")
    predictor = LSTPredictor(model, padding=8)
    from_scene = predictor.predict_file(sample_scene, tmp_path / "a.tif", units="C").output
    from_composite = predictor.predict_file(composite, tmp_path / "b.tif", units="C").output

    p_tags, p_units, p_desc, p_ovr = _read(physics)
    assert p_units == ("degC",) and p_desc == ("LST",) and p_ovr == [2, 4]
    assert p_tags["METHOD"] == "planck" and p_tags["PIX2LST_PRODUCT"] == "lst"
    for out in (from_scene, from_composite):
        tags, units, desc, ovr = _read(out)
        assert (units, desc, ovr) == (p_units, p_desc, p_ovr)
        assert {k: tags[k] for k in SCENE} == SCENE == {k: p_tags[k] for k in SCENE}
        assert tags["UNITS"] == p_tags["UNITS"] == "degC"
        assert tags["PIX2LST_PRODUCT"] == "lst" and tags["PIX2LST_VERSION"]
        assert tags["METHOD"] == "model" and tags["MODEL"] == "m.onnx"
        assert len(tags["MODEL_SHA256"]) == 64 and tags["MODEL_TARGET"] == "lst"
        assert "target" not in tags and "units" not in tags  # one spelling: upper case
    c_tags, *_ = _read(composite)
    assert {k: c_tags[k] for k in SCENE} == SCENE and c_tags["PIX2LST_PRODUCT"] == "composite"

"""``pix2lst info``: a scene's identity, bands and grid, and what an LST raster holds."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
from click.testing import CliRunner

from pix2lst.cli import main
from pix2lst.geo.mtl import read_mtl
from tests.conftest import crop_scene, make_model, shared_scene, write_lst


def _info(*args: str) -> dict:
    result = CliRunner().invoke(main, ["info", "--json", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_a_scene_folder_and_its_mtl_are_one_scene(sample_scene: Path) -> None:
    folder = _info(str(sample_scene))
    mtl_file = next(sample_scene.glob("*MTL.txt"))
    by_mtl = _info(str(mtl_file))
    assert folder["input"] == "folder" and by_mtl["input"] == "MTL file"
    assert {k: v for k, v in folder.items() if k not in ("input", "source")} == {
        k: v for k, v in by_mtl.items() if k not in ("input", "source")
    }
    mtl = read_mtl(mtl_file)
    assert folder["kind"] == "scene" and folder["scene_id"] == mtl.scene_id
    assert folder["date"] == mtl.date.isoformat() and folder["mission"] == "LANDSAT_8"
    assert folder["level"] == "L1" and folder["sun_elevation"] == mtl.sun_elevation
    text = mtl_file.read_text()
    assert f"WRS_PATH = {folder['path']}\n" in text and f"WRS_ROW = {folder['row']}\n" in text
    assert f"CLOUD_COVER = {folder['cloud_cover']:.2f}\n" in text
    assert folder["bands"][:7] == [f"B{i}" for i in range(1, 8)]
    assert folder["bands"][-3:] == ["B10", "B11", "BQA"]
    grid = folder["grid"]
    with rasterio.open(next(sample_scene.glob("*B10.tif"))) as ds:
        assert (grid["width"], grid["height"]) == (ds.width, ds.height)
        assert grid["crs"] == f"EPSG:{ds.crs.to_epsg()}" and grid["resolution"] == list(ds.res)
        assert grid["bounds"] == list(ds.bounds)
    west, south, east, north = grid["bounds_lonlat"]
    assert -88 < west < east < -87 and 30 < south < north < 31  # Mobile Bay / Pensacola
    text_out = CliRunner().invoke(
        main, ["-q", "info", str(sample_scene)]
    )  # the output, not chatter
    assert text_out.exit_code == 0 and mtl.scene_id in text_out.output
    assert "cloud cover" in text_out.output and f"{folder['cloud_cover']:g} %" in text_out.output


def test_a_stac_item_says_its_path_row_and_clouds(tmp_path: Path) -> None:
    folder = shared_scene("LC08_L2SP_008059_20191201_fullscene_450m")
    source = next(folder.glob("*_ST_stac.json"))
    item = json.loads(source.read_text())
    for asset in item["assets"].values():  # the item's files, read from the local copy
        asset["href"] = str(folder / asset["href"].rsplit("/", 1)[-1])
    path = tmp_path / "item.json"
    path.write_text(json.dumps(item))
    got = _info(str(path))
    props = item["properties"]
    assert got["input"] == "STAC item" and got["product_id"] == item["id"]
    assert got["cloud_cover"] == props["eo:cloud_cover"] and got["level"] == "L2"
    assert (got["path"], got["row"]) == (
        int(props["landsat:wrs_path"]),
        int(props["landsat:wrs_row"]),
    )
    assert "ST_B10" in got["bands"] and "B10" not in got["bands"]  # the alias is not a file
    with rasterio.open(next(folder.glob("*_ST_B10.TIF"))) as ds:
        assert (got["grid"]["width"], got["grid"]["height"]) == (ds.width, ds.height)


def test_an_lst_raster_says_units_method_scene_and_stats(tmp_path: Path) -> None:
    scene = crop_scene(tmp_path / "scene", size=64)
    physics, predicted = tmp_path / "p.tif", tmp_path / "m.tif"
    model = make_model(tmp_path / "m.onnx", "identity", band=7, tile=32)
    runner = CliRunner()
    assert (
        runner.invoke(main, ["physics", str(scene), "-o", str(physics), "--units", "C"]).exit_code
        == 0
    )
    r = runner.invoke(main, ["predict", str(scene), "-o", str(predicted), "--model", str(model),
                             "--providers", "cpu"])  # fmt: skip
    assert r.exit_code == 0, r.output
    got = _info(str(physics))
    with rasterio.open(physics) as ds:
        values = ds.read(1)
        tags = ds.tags()
    assert got["kind"] == "raster" and got["product"] == "lst"
    assert got["units"] == tags["UNITS"] == "degC" and got["method"] == "planck"
    assert got["scene"]["scene_id"] == tags["SCENE_ID"] and got["scene"]["date_acquired"]
    assert got["atmosphere"] == {k: v for k, v in tags.items() if k.startswith("ATMOS")} or (
        got["atmosphere"] is None and not any(k.startswith("ATMOS") for k in tags)
    )
    (band,) = got["bands"]
    valid = values[np.isfinite(values)].astype(np.float64)
    assert band["valid_pixels"] == valid.size > 0
    assert band["min"] == float(valid.min()) and band["max"] == float(valid.max())
    assert band["mean"] == pytest.approx(float(valid.mean()), rel=1e-12)
    assert got["grid"]["width"] == got["grid"]["height"] == 64
    model_info = _info(str(predicted))["model"]
    assert model_info["name"] == "m.onnx"
    assert model_info["sha256"] == hashlib.sha256(model.read_bytes()).hexdigest()


def test_a_corrupt_raster_shows_its_extremes_and_nonsense_is_one_line(tmp_path: Path) -> None:
    values = np.full((20, 30), 300.0, dtype=np.float32)
    values[3, 4] = 3.0e38
    lst = write_lst(tmp_path / "l.tif", values)
    assert _info(str(lst))["bands"][0]["max"] == float(np.float32(3.0e38))
    junk = tmp_path / "notes.tif"
    junk.write_text("not a raster")
    result = CliRunner().invoke(main, ["info", str(junk)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1 and "neither a scene" in result.output

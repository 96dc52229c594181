"""STAC items as scenes: USGS file-suffix keys (real STAC 0.7.0 items), common names, eo:bands."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio

from pix2lst.errors import BandNotFoundError, StacError
from pix2lst.geo.inputs import find_scene
from pix2lst.geo.scene import is_scene
from pix2lst.geo.stac import stac_scene
from pix2lst.lst_physics.lst import write_lst
from tests.conftest import make_scene, shared_scene

USGS = "LC08_L2SP_005009_20150710_fullscene_515m"
ITEM = "LC08_L2SP_005009_20150710_20200908_02_T2_SR_stac.json"

COMMON = {
    "coastal": "B1", "blue": "B2", "green": "B3", "red": "B4", "nir08": "B5", "swir16": "B6",
    "swir22": "B7", "lwir11": "B10", "bqa": "BQA",
}  # fmt: skip


def usgs_item(tmp_path: Path, *, with_trad: bool = True) -> Path:
    """The real USGS item, its hrefs pointed at the local files (plus ST_TRAD if asked)."""
    folder = shared_scene(USGS)
    d = json.loads((folder / ITEM).read_text())
    for asset in d["assets"].values():
        asset["href"] = str(folder / asset["href"].rsplit("/", 1)[-1])
    if with_trad:  # the USGS ST item's key for the band-10 radiance
        d["assets"]["ST_TRAD.TIF"] = {
            "href": str(folder / "LC08_L2SP_005009_20150710_20200908_02_T2_ST_TRAD.TIF"),
            "type": "image/vnd.stac.geotiff; cloud-optimized=true",
        }
    path = tmp_path / "usgs_item.json"
    path.write_text(json.dumps(d))
    return path


def common_item(
    folder: Path, mtl: Path, *, style: str = "keys", platform: str = "landsat-8"
) -> dict:
    """A STAC 1.0 item with common-name keys (or opaque keys + eo:bands), relative hrefs."""
    scene_id = mtl.name.removesuffix("_MTL.txt")
    assets: dict = {"mtl.txt": {"href": mtl.name, "roles": ["metadata"]}}
    for name, band in COMMON.items():
        href = f"{scene_id}_{band}.TIF"
        if style == "keys":
            assets[name] = {"href": href, "roles": ["data"]}
        else:  # opaque keys: the band is known from eo:bands only
            eo = {"name": band} if band in ("B4", "B5") else {"common_name": name}
            assets[f"asset_{band.lower()}"] = {"href": href, "eo:bands": [eo]}
    return {
        "type": "Feature", "stac_version": "1.0.0", "id": scene_id,
        "geometry": None, "bbox": None, "links": [],
        "properties": {"datetime": "2015-08-04T16:19:21Z", "platform": platform},
        "assets": assets,
    }  # fmt: skip


def test_real_usgs_item_maps_file_suffix_keys(tmp_path):
    scene = find_scene(usgs_item(tmp_path))
    assert scene.level == "L2"
    assert scene.scene_id == "LC08_L2SP_005009_20150710_20200908_02_T2"
    assert str(scene.band_path("B4")).endswith("_SR_B4.TIF")
    assert str(scene.band_path("B10")).endswith("_ST_TRAD.TIF")
    assert str(scene.band_path("QA_PIXEL")).endswith("_QA_PIXEL.TIF")


def test_physics_through_the_item_equals_the_folder(tmp_path):
    item = usgs_item(tmp_path)
    a = write_lst(item, tmp_path / "item.tif")
    b = write_lst(shared_scene(USGS), tmp_path / "folder.tif")
    with rasterio.open(a) as x, rasterio.open(b) as y:
        np.testing.assert_array_equal(x.read(1), y.read(1))


def test_the_real_item_lacks_band_10_and_says_so(tmp_path):
    item = usgs_item(tmp_path, with_trad=False)  # the USGS SR item has no ST_* asset
    with pytest.raises(
        BandNotFoundError, match=r"band ST_TRAD not found in scene .*usgs_item\.json"
    ):
        write_lst(item, tmp_path / "lst.tif")
    assert not (tmp_path / "lst.tif").exists()


@pytest.mark.parametrize("style", ["keys", "eo_bands"])
def test_common_names_and_eo_bands(tmp_path, style):
    mtl = make_scene(tmp_path / "scene")
    path = tmp_path / "scene" / "item.json"
    path.write_text(json.dumps(common_item(tmp_path / "scene", mtl, style=style)))
    assert is_scene(path)
    scene = find_scene(path)
    assert scene.level == "L1"
    for band in COMMON.values():
        assert Path(scene.band_path(band)) == tmp_path / "scene" / f"{scene.scene_id}_{band}.TIF"
    a = write_lst(path, tmp_path / "item.tif")
    b = write_lst(mtl, tmp_path / "mtl.tif")
    with rasterio.open(a) as x, rasterio.open(b) as y:
        np.testing.assert_array_equal(x.read(1), y.read(1))


def test_a_pystac_item_is_a_scene(tmp_path):
    pystac = pytest.importorskip("pystac")
    mtl = make_scene(tmp_path / "scene")
    path = tmp_path / "scene" / "item.json"
    path.write_text(json.dumps(common_item(tmp_path / "scene", mtl)))
    item = pystac.Item.from_file(str(path))
    scene = find_scene(item)
    assert Path(scene.band_path("B10")).is_file()


def test_an_item_served_over_http_reads_remotely(http_server, tmp_path):
    mtl = make_scene(http_server.root / "stac")
    path = http_server.root / "stac" / "item.json"
    path.write_text(json.dumps(common_item(http_server.root / "stac", mtl)))
    scene = find_scene(http_server.url("stac/item.json"))
    assert str(scene.band_path("B4")).startswith("/vsicurl/http://127.0.0.1:")
    a = write_lst(scene, tmp_path / "remote.tif")
    b = write_lst(mtl, tmp_path / "local.tif")
    with rasterio.open(a) as x, rasterio.open(b) as y:
        np.testing.assert_array_equal(x.read(1), y.read(1))


@pytest.mark.parametrize(
    ("platform", "said"), [("sentinel-2a", "sentinel-2a"), ("LANDSAT_7", "landsat-7")]
)
def test_other_missions_are_refused(tmp_path, platform, said):
    mtl = make_scene(tmp_path / "scene")
    d = common_item(tmp_path / "scene", mtl, platform=platform)
    with pytest.raises(StacError, match=f"is from {said}, not Landsat-8/9"):
        stac_scene(d)


def test_an_item_without_mtl_is_refused(tmp_path):
    mtl = make_scene(tmp_path / "scene")
    d = common_item(tmp_path / "scene", mtl)
    del d["assets"]["mtl.txt"]
    d["links"] = [{"rel": "self", "href": str(tmp_path / "scene" / "item.json")}]
    with pytest.raises(StacError, match="has no MTL asset"):
        stac_scene(d)


def test_an_item_collection_is_not_an_item(tmp_path):
    path = tmp_path / "collection.json"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": []}))
    with pytest.raises(StacError, match="ItemCollection is expanded by `pix2lst batch`"):
        find_scene(path)

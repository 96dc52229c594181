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


# -- hrefs checked against the bands they claim; one scene from SR + ST items --------------

L1 = "LC09_L1TP_063046_20230714_20230714_02_T1"
L1_OTHER = "LC09_L1TP_063046_20230831_20230901_02_T1"
L2 = "LC08_L2SP_008059_20191201_fullscene_450m"
L2_ID = "LC08_L2SP_008059_20191201_20200825_02_T1"
L1_KEYS = {"coastal": "B1", "blue": "B2", "green": "B3", "red": "B4", "nir08": "B5",
           "swir16": "B6", "swir22": "B7", "lwir11": "B10"}  # fmt: skip


def l1_item(tmp_path: Path, **point: str) -> Path:
    """A STAC 1.0 item of the real L1 scene, absolute hrefs; ``point[key] = band`` points
    asset ``key`` at another band's file (``mtl="<folder>"``: another folder's MTL)."""
    folder = shared_scene(L1)
    mtl_folder = shared_scene(point.pop("mtl")) if "mtl" in point else folder
    assets: dict = {"mtl.txt": {"href": str(next(mtl_folder.glob("*_MTL.txt")))}}
    for key, band in L1_KEYS.items():
        assets[key] = {"href": str(folder / f"{L1}_{point.get(key, band)}.TIF")}
    item = {
        "type": "Feature", "stac_version": "1.0.0", "id": L1, "geometry": None,
        "links": [], "properties": {"platform": "landsat-9"}, "assets": assets,
    }  # fmt: skip
    path = tmp_path / "l1_item.json"
    path.write_text(json.dumps(item))
    return path


def usgs_pair(tmp_path: Path) -> tuple[Path, Path]:
    """USGS's real SR and ST items of one L2 scene, their hrefs pointed at the local files."""
    folder = shared_scene(L2)
    out = []
    for kind in ("SR", "ST"):
        d = json.loads((folder / f"{L2_ID}_{kind}_stac.json").read_text())
        for asset in d["assets"].values():
            asset["href"] = str(folder / asset["href"].rsplit("/", 1)[-1])
        path = tmp_path / f"{kind}.json"
        path.write_text(json.dumps(d))
        out.append(path)
    return out[0], out[1]


@pytest.mark.parametrize(
    ("point", "said"),
    [
        ({"lwir11": "B4"}, r"asset 'lwir11' of STAC item .* claims band B10 but points at "
                           rf"{L1}_B4\.TIF \(band B4\)"),
        ({"red": "B5", "nir08": "B4"}, r"asset 'red' .* claims band B4 but points at .*_B5\.TIF"),
        ({"mtl": L1_OTHER}, rf"the MTL asset of STAC item {L1} .* is the MTL of {L1_OTHER}, "
                            rf"but the item's id is {L1}"),
    ],
)  # fmt: skip
def test_hrefs_that_point_at_another_band_or_scene_are_refused(tmp_path, point, said):
    item = l1_item(tmp_path, **point)
    with pytest.raises(StacError, match=said) as info:
        write_lst(item, tmp_path / "lst.tif")
    assert "\n" not in str(info.value)
    assert not (tmp_path / "lst.tif").exists()


def test_a_band_file_of_another_scene_is_refused(tmp_path):
    item = l1_item(tmp_path)
    d = json.loads(item.read_text())
    other = shared_scene(L1_OTHER)
    d["assets"]["red"]["href"] = str(other / f"{L1_OTHER}_B4.TIF")
    item.write_text(json.dumps(d))
    with pytest.raises(
        StacError, match=rf"asset 'red' .* a file of {L1_OTHER}, but the item's MTL is of {L1}"
    ):
        find_scene(item)


def test_two_keys_on_one_opaque_file_are_refused(tmp_path):
    item = l1_item(tmp_path)
    d = json.loads(item.read_text())
    folder = tmp_path / "opaque"
    folder.mkdir()
    for key in ("red", "nir08"):  # both at one file whose name tells no band
        d["assets"][key]["href"] = str(folder / "data.tif")
    item.write_text(json.dumps(d))
    with pytest.raises(
        StacError, match=r"assets 'red' and 'nir08' .* point at the same file data\.tif"
    ):
        find_scene(item)


def test_the_checked_item_reads_like_its_folder(tmp_path):
    scene = find_scene(l1_item(tmp_path))
    folder = find_scene(shared_scene(L1))
    assert scene.product_id == folder.product_id == L1
    assert dict(scene.bands).keys() >= {"B4", "B5", "B10"}
    a = write_lst(scene, tmp_path / "item.tif")
    b = write_lst(folder, tmp_path / "folder.tif")
    with rasterio.open(a) as x, rasterio.open(b) as y:
        np.testing.assert_array_equal(x.read(1), y.read(1))


def test_usgs_sr_and_st_items_together_are_one_scene(tmp_path):
    sr, st = usgs_pair(tmp_path)
    with pytest.raises(BandNotFoundError, match="no ST_TRAD"):
        find_scene(sr).band_path("B10")  # the SR item alone has no thermal band
    scene = find_scene([sr, st])
    folder = find_scene(shared_scene(L2))
    assert scene.product_id == folder.product_id == L2_ID
    assert {"SR_B4", "SR_B5", "ST_TRAD", "ST_ATRAN", "ST_URAD", "QA_PIXEL"} <= set(scene.bands)
    for band in ("B4", "B5", "B10", "ST_EMIS"):
        assert Path(scene.band_path(band)) == folder.band_path(band)
    a = write_lst(scene, tmp_path / "items.tif", method="rte")
    b = write_lst(folder, tmp_path / "folder.tif", method="rte")
    with rasterio.open(a) as x, rasterio.open(b) as y:
        np.testing.assert_array_equal(x.read(1), y.read(1))
        assert x.tags()["SCENE_ID"] == L2_ID


def test_items_of_two_scenes_are_not_one_scene(tmp_path):
    sr, _ = usgs_pair(tmp_path)
    with pytest.raises(StacError, match=rf"are of different scenes \({L2_ID}, {L1}\)"):
        find_scene([sr, l1_item(tmp_path)])


def test_the_identity_of_items_folders_and_urls_is_the_product_id(tmp_path):
    from pix2lst.geo.inputs import scene_identity

    sr, st = usgs_pair(tmp_path)
    assert scene_identity(sr) == scene_identity(st) == scene_identity([sr, st]) == L2_ID
    assert scene_identity(shared_scene(L2)) == L2_ID
    d = json.loads(sr.read_text())
    d["id"] = f"{L2_ID}_SR"  # USGS's STAC 1.0 ids carry the item's kind
    assert scene_identity(d) == L2_ID
    assert scene_identity(l1_item(tmp_path)) == scene_identity(shared_scene(L1)) == L1
    assert scene_identity(f"https://h.org/c2/{L1}/{L1}_MTL.txt?sig=1") == L1
    assert scene_identity(find_scene(shared_scene(L1))) == L1

"""Batch INPUT expansion: folders, MTLs, globs, @lists, STAC items and collections, URLs."""

from __future__ import annotations

import json
import os

import pytest

from pix2lst.batch.inputs import expand_inputs
from pix2lst.errors import BatchInputError
from tests.conftest import make_scene


@pytest.fixture()
def scenes(tmp_path):
    return [
        make_scene(tmp_path / f"s{i}", f"LC08_TEST_{i}", date=f"2015-0{i + 1}-04") for i in range(3)
    ]


def test_folders_mtls_and_globs(tmp_path, scenes):
    items = expand_inputs([str(scenes[0].parent), str(scenes[1]), str(tmp_path / "s2*")])
    assert [i.scene_id for i in items] == ["LC08_TEST_0", "LC08_TEST_1", "LC08_TEST_2"]
    assert items[0].source == str(scenes[0].parent.resolve())


def test_a_list_file_with_comments(tmp_path, scenes):
    listing = tmp_path / "scenes.txt"
    listing.write_text(f"# my scenes\n{scenes[2].parent}\n\n  {scenes[0]}\n")
    assert [i.scene_id for i in expand_inputs(f"@{listing}")] == ["LC08_TEST_2", "LC08_TEST_0"]


def test_an_empty_glob_is_an_error(tmp_path):
    with pytest.raises(BatchInputError, match=r"pattern '.*nothing\*' matched no file"):
        expand_inputs([str(tmp_path / "nothing*")])


def test_a_duplicate_scene_is_an_error(scenes):
    folder, mtl = str(scenes[0].parent), str(scenes[0])
    with pytest.raises(BatchInputError, match="scene LC08_TEST_0 is given twice"):
        expand_inputs([folder, mtl])
    with pytest.raises(BatchInputError, match="given twice"):
        expand_inputs([folder, folder])


def test_a_missing_input_and_an_empty_list(tmp_path):
    with pytest.raises(BatchInputError, match="does not exist"):
        expand_inputs([str(tmp_path / "nope")])
    with pytest.raises(BatchInputError, match="no input given"):
        expand_inputs([])
    (tmp_path / "empty.txt").write_text("# nothing\n")
    with pytest.raises(BatchInputError, match="names no input"):
        expand_inputs([f"@{tmp_path / 'empty.txt'}"])


def test_an_item_collection_is_one_scene_per_item(tmp_path, scenes):
    features = []
    for mtl in scenes[:2]:
        sid = mtl.name.removesuffix("_MTL.txt")
        rel = os.path.relpath(mtl.parent, tmp_path)
        assets = {"mtl.txt": {"href": f"{rel}/{mtl.name}"}}
        assets.update({k: {"href": f"{rel}/{sid}_{b}.TIF"} for k, b in (("red", "B4"), ("nir08", "B5"), ("lwir11", "B10"))})  # fmt: skip
        features.append({"type": "Feature", "id": sid, "properties": {"platform": "landsat-8"}, "assets": assets, "links": []})  # fmt: skip
    path = tmp_path / "collection.json"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    items = expand_inputs([str(path)])
    assert [i.scene_id for i in items] == ["LC08_TEST_0", "LC08_TEST_1"]
    assert items[0].source == f"{path.resolve()}#LC08_TEST_0"  # the manifest's input column
    from pix2lst.geo.inputs import find_scene

    scene = find_scene(items[1].target)  # relative hrefs resolve against the collection
    assert scene.band_path("B10") == scenes[1].parent / "LC08_TEST_1_B10.TIF"


def test_urls_are_named_by_their_mtl():
    items = expand_inputs(["https://h.org/c2/LC09_L1TP_063046_20230714_20230714_02_T1_MTL.txt"])
    assert items[0].scene_id == "LC09_L1TP_063046_20230714_20230714_02_T1"
    assert items[0].source.startswith("https://")


def test_a_folder_and_its_stac_item_are_one_scene(tmp_path):
    from tests.conftest import shared_scene

    folder = shared_scene("LC08_L2SP_008059_20191201_fullscene_450m")
    product = "LC08_L2SP_008059_20191201_20200825_02_T1"
    item = json.loads((folder / f"{product}_ST_stac.json").read_text())
    item["id"] = "LC08_L2SP_008059_20191201_02_T1"  # a catalogue's id without the processing date
    for asset in item["assets"].values():  # the item's files are the folder's
        asset["href"] = str(folder / asset["href"].rsplit("/", 1)[-1])
    path = tmp_path / "item.json"
    path.write_text(json.dumps(item))
    (from_item,) = expand_inputs([str(path)])
    (from_folder,) = expand_inputs([str(folder)])
    assert from_item.scene_id == from_folder.scene_id == product  # one output name
    collection = tmp_path / "items.json"
    collection.write_text(json.dumps({"type": "FeatureCollection", "features": [item]}))
    for given in ([str(folder), str(path)], [str(collection), str(folder)]):
        with pytest.raises(BatchInputError, match=f"scene {product} is given twice"):
            expand_inputs(given)

"""Scene discovery on every real folder, on naming variants, and on bad folders."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pix2lst.errors import BandNotFoundError, SceneError
from pix2lst.lst_physics import COMPOSITE_BANDS, find_scene
from tests.conftest import SHARED_DATA

# folder -> (level, bands that must be found)
EXPECTED = {
    "LC08_p020r039_20150122_cloudy_603x627": ("L1", {*COMPOSITE_BANDS, "B8", "B9", "B11", "BQA"}),
    "LC09_L1TP_063046_20230714_20230714_02_T1": ("L1", set(COMPOSITE_BANDS)),
    "LC09_L1TP_063046_20230831_20230901_02_T1": ("L1", {"B2", "B3", "B4", "B5", "B6", "B7"}),
    "LC08_L1TP_017051_20151205_20200908_02_T1": ("L1", {"B2", "B3", "B4", "B5", "B6", "B7", "B8"}),
    "LC08_L2SP_017051_20151205_20200908_02_T1": ("L2", {"SR_B2", "SR_B7", "ST_B10", "B4"}),
    "LC08_L2SP_204023_20200927_20201006_02_T1": ("L2", {"SR_B1", "SR_B7", "ST_B10", "B1"}),
    "LC08_L2SP_005009_20150710_fullscene_515m": (
        "L2",
        {
            *COMPOSITE_BANDS,
            "ST_B10",
            "ST_TRAD",
            "ST_URAD",
            "ST_DRAD",
            "ST_ATRAN",
            "ST_EMIS",
            "QA_PIXEL",
        },
    ),
    "LC08_L2SP_008059_20191201_fullscene_450m": (
        "L2",
        {*COMPOSITE_BANDS, "ST_B10", "ST_TRAD", "ST_ATRAN", "QA_PIXEL", "QA_RADSAT"},
    ),
    "LC08_L1TP_227074_20190809_20200827_02_T1": ("L1", {"B2", "B3", "B4", "B5", "B6", "B7"}),
    "LC08_L1TP_227074_20190825_20200826_02_T1": ("L1", {"B2", "B3", "B4", "B5", "B6", "B7"}),
}


def test_every_shared_folder_is_known() -> None:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real Landsat data not found at {SHARED_DATA}")
    folders = {p.name for p in SHARED_DATA.iterdir() if p.is_dir()}
    assert folders <= set(EXPECTED), f"new folders need an expectation: {folders - set(EXPECTED)}"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_discovery(name: str) -> None:
    folder = SHARED_DATA / name
    if not folder.is_dir():
        pytest.skip(f"real Landsat scene {name} not found under {SHARED_DATA}")
    level, must = EXPECTED[name]
    sc = find_scene(folder)
    assert sc.level == level
    assert must <= set(sc.bands), sorted(sc.bands)
    for band in must:
        assert sc.band_path(band).is_file()
    if level == "L2" and "ST_TRAD" in sc.bands:
        assert sc.band_path("B10") == sc.band_path("ST_TRAD")
        assert sc.band_path("B4") == sc.band_path("SR_B4")


def test_sample_and_mtl_path(sample_scene: Path) -> None:
    a = find_scene(sample_scene)
    b = find_scene(sample_scene / "test_MTL.txt")
    assert a.bands == b.bands and a.scene_id == b.scene_id
    assert a.band_path("b10").name == "test_B10.tif"
    assert a.quality_band()[0] == "BQA"


def test_l2_mtl_json_path() -> None:
    folder = SHARED_DATA / "LC08_L2SP_005009_20150710_fullscene_515m"
    if not folder.is_dir():
        pytest.skip("L2 fullscene not available")
    sc = find_scene(next(folder.glob("*_MTL.json")))
    assert sc.mtl.path.suffix == ".json" and sc.level == "L2"
    assert sc.quality_band()[0] == "QA_PIXEL"


def test_lower_case_and_foreign_files(sample_scene: Path, tmp_path: Path) -> None:
    for band in ("B4", "B5", "B10"):
        shutil.copy(sample_scene / f"test_{band}.tif", tmp_path / f"lc08_l1tp_x_{band.lower()}.tif")
    shutil.copy(sample_scene / "test_MTL.txt", tmp_path / "lc08_l1tp_x_mtl.txt")
    (tmp_path / "notes_B4.tif").write_bytes(b"")  # another prefix: not part of the scene
    sc = find_scene(tmp_path)
    assert set(sc.bands) == {"B4", "B5", "B10"}
    assert sc.band_path("B4").name == "lc08_l1tp_x_b4.tif"


def test_missing_band_lists_what_was_found(sample_scene: Path) -> None:
    sc = find_scene(sample_scene)
    with pytest.raises(BandNotFoundError, match=r"band ST_TRAD not found .* bands found: B1, B10"):
        sc.band_path("ST_TRAD")


def test_l2_without_trad_explains() -> None:
    folder = SHARED_DATA / "LC08_L2SP_017051_20151205_20200908_02_T1"
    if not folder.is_dir():
        pytest.skip("L2 017051 not available")
    with pytest.raises(BandNotFoundError, match="no ST_TRAD"):
        find_scene(folder).band_path("B10")


def test_bad_paths(tmp_path: Path, sample_scene: Path) -> None:
    with pytest.raises(SceneError, match="does not exist"):
        find_scene(tmp_path / "missing")
    with pytest.raises(SceneError, match="no MTL file"):
        find_scene(tmp_path)
    with pytest.raises(SceneError, match="neither a scene folder nor an MTL"):
        find_scene(sample_scene / "test_B1.tif")
    (tmp_path / "A_MTL.txt").write_text((sample_scene / "test_MTL.txt").read_text())
    (tmp_path / "B_MTL.txt").write_text((sample_scene / "test_MTL.txt").read_text())
    with pytest.raises(SceneError, match="several scenes"):
        find_scene(tmp_path)
    with pytest.raises(SceneError, match="no band files"):
        find_scene(tmp_path / "A_MTL.txt")

"""MTL parsing: every format and collection present in the real data, and malformed files."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from pix2lst.errors import MetadataError
from pix2lst.geo.mtl import parse_mtl_text
from pix2lst.lst_physics import read_mtl
from tests.conftest import shared_scene

L2_FULL = "LC08_L2SP_005009_20150710_fullscene_515m"


def test_pre_collection_sample(sample_scene: Path) -> None:
    m = read_mtl(sample_scene / "test_MTL.txt")
    assert (m.spacecraft, m.collection, m.level) == ("LANDSAT_8", 0, "L1")
    assert m.scene_id == "LC80200392015216LGN00"
    assert m.date == dt.date(2015, 8, 4)  # the MTL's date, not the rasters' (see caveat)
    assert m.sun_elevation == pytest.approx(64.74360932)
    assert m.thermal("B10") == (3.342e-4, 0.1, 774.8853, 1321.0789)
    assert m.thermal("B11")[2:] == (480.8883, 1201.1442)
    assert m.toa_reflectance("B4") == (2e-5, -0.1)
    assert m.radiance_add["B1"] == pytest.approx(-60.99049)
    assert m.st_mult is None and not m.sr_mult


def test_collection2_l1_landsat9() -> None:
    folder = shared_scene("LC09_L1TP_063046_20230714_20230714_02_T1")
    m = read_mtl(next(folder.glob("*_MTL.txt")))
    assert (m.spacecraft, m.collection, m.level, m.processing_level) == (
        "LANDSAT_9",
        2,
        "L1",
        "L1TP",
    )
    assert m.scene_id == "LC09_L1TP_063046_20230714_20230714_02_T1"
    assert m.thermal("B10") == (3.8e-4, 0.1, 799.0284, 1329.2405)


@pytest.mark.parametrize("suffix", ["txt", "json", "xml"])
def test_collection2_l2_all_formats_agree(suffix: str) -> None:
    folder = shared_scene(L2_FULL)
    m = read_mtl(next(folder.glob(f"*_MTL.{suffix}")))
    ref = read_mtl(next(folder.glob("*_MTL.txt")))
    assert (m.level, m.collection, m.spacecraft) == ("L2", 2, "LANDSAT_8")
    assert m.scene_id == "LC08_L2SP_005009_20150710_20200908_02_T2"
    # L1 TOA rescaling and L2 SR rescaling are kept apart although their keys are equal
    assert m.reflectance_mult["B4"] == 2e-5 and m.sr_mult["B4"] == 2.75e-5
    assert m.sr_add["B7"] == -0.2
    assert (m.st_mult, m.st_add) == (0.00341802, 149.0)
    assert m.thermal("B10") == ref.thermal("B10")
    assert dict(m.radiance_mult) == dict(ref.radiance_mult)
    assert m.sun_elevation == ref.sun_elevation and m.date == ref.date


def test_every_shared_mtl_parses(shared_data: Path) -> None:
    paths = sorted(shared_data.glob("*/*MTL.*"))
    assert len(paths) >= 10
    for p in paths:
        m = read_mtl(p)
        assert m.thermal("B10")[2] > 700  # K1 of band 10 present in every MTL
        assert 0 < m.sun_elevation < 90


def _write(tmp_path: Path, text: str, name: str = "X_MTL.txt") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(MetadataError, match="does not exist"):
        read_mtl(tmp_path / "nope_MTL.txt")


def test_truncated_group(sample_scene: Path, tmp_path: Path) -> None:
    text = (sample_scene / "test_MTL.txt").read_text().split("END_GROUP = L1_METADATA_FILE")[0]
    with pytest.raises(MetadataError, match="never closed"):
        read_mtl(_write(tmp_path, text))


def test_missing_sun_elevation_names_key(sample_scene: Path, tmp_path: Path) -> None:
    lines = (sample_scene / "test_MTL.txt").read_text().splitlines()
    text = "\n".join(line for line in lines if "SUN_ELEVATION" not in line)
    with pytest.raises(MetadataError, match="SUN_ELEVATION is missing"):
        read_mtl(_write(tmp_path, text))


def test_malformed_number_names_key(sample_scene: Path, tmp_path: Path) -> None:
    text = (sample_scene / "test_MTL.txt").read_text()
    text = text.replace("K1_CONSTANT_BAND_10 = 774.8853", "K1_CONSTANT_BAND_10 = abc")
    with pytest.raises(MetadataError, match="K1_CONSTANT_BAND_10 = 'abc'"):
        read_mtl(_write(tmp_path, text))


def test_missing_band_constant_reported_on_use(sample_scene: Path, tmp_path: Path) -> None:
    lines = (sample_scene / "test_MTL.txt").read_text().splitlines()
    text = "\n".join(line for line in lines if "RADIANCE_MULT_BAND_10" not in line)
    m = read_mtl(_write(tmp_path, text))
    with pytest.raises(MetadataError, match="RADIANCE_MULT_BAND_10 is missing"):
        m.thermal("B10")


def test_garbage_and_bad_json_xml(tmp_path: Path) -> None:
    with pytest.raises(MetadataError, match="KEY = VALUE"):
        read_mtl(_write(tmp_path, "hello world"))
    with pytest.raises(MetadataError, match="not valid JSON"):
        read_mtl(_write(tmp_path, "{", "X_MTL.json"))
    with pytest.raises(MetadataError, match="not valid XML"):
        read_mtl(_write(tmp_path, "<a>", "X_MTL.xml"))
    with pytest.raises(MetadataError, match="SPACECRAFT_ID is missing"):
        read_mtl(
            _write(
                tmp_path,
                '{"LANDSAT_METADATA_FILE": {"IMAGE_ATTRIBUTES": {"SUN_ELEVATION": "40"}}}',
                "Y_MTL.json",
            )
        )


def test_parse_nested_groups() -> None:
    g = parse_mtl_text(
        'GROUP = A\n  GROUP = B\n    K = "v"\n  END_GROUP = B\n  J = 1\nEND_GROUP = A\nEND\n'
    )
    assert g == {"A": {"J": "1"}, "B": {"K": "v"}}

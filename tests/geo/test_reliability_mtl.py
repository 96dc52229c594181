"""Metadata that cannot be physical is refused once, where the MTL is parsed, by every command."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from pix2lst.cli import main
from pix2lst.errors import MetadataError, SceneError
from pix2lst.geo.inputs import find_scene
from pix2lst.geo.mtl import read_mtl
from tests.conftest import crop_scene, make_model


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return crop_scene(tmp_path_factory.mktemp("mtl") / "s", 48)


def edited(scene: Path, tmp_path: Path, pattern: str, repl: str) -> Path:
    work = shutil.copytree(scene, tmp_path / "s")
    mtl = work / "test_MTL.txt"
    text, n = re.subn(pattern, repl, mtl.read_text(), count=1, flags=re.M)
    assert n == 1, pattern
    mtl.write_text(text)
    return work


def run_all(folder: Path, tmp_path: Path) -> list[tuple[int, str]]:
    model = make_model(tmp_path / "m.onnx", "constant", tile=32)  # tiny: loads in no time
    out = []
    for command in ("physics", "composite", "predict"):
        extra = ["--model", str(model)] if command == "predict" else []
        args = [command, str(folder), "-o", str(tmp_path / f"{command}.tif"), *extra]
        res = CliRunner().invoke(main, args)
        out.append((res.exit_code, res.output))
    return out


@pytest.mark.parametrize(
    ("pattern", "repl", "message"),
    [
        (r"K1_CONSTANT_BAND_10 = .*", "K1_CONSTANT_BAND_10 = inf", "not a finite number"),
        (r"K1_CONSTANT_BAND_10 = .*", "K1_CONSTANT_BAND_10 = NaN", "not a finite number"),
        (r"K1_CONSTANT_BAND_10 = .*", "K1_CONSTANT_BAND_10 = 0", "K1_CONSTANT_BAND_10 = 0.0"),
        (r"K1_CONSTANT_BAND_10 = .*", "K1_CONSTANT_BAND_10 = 1e-30", "between 100 and 5000"),
        (r"K2_CONSTANT_BAND_10 = .*", "K2_CONSTANT_BAND_10 = -1321", "between 500 and 5000"),
        (r"K1_CONSTANT_BAND_10 = .*", "K1_CONSTANT_BAND_10 = 770.0", "they are not band 10's"),
        (r"K2_CONSTANT_BAND_10 = .*", "K2_CONSTANT_BAND_10 = 600", "they are not band 10's"),
        (r"RADIANCE_MULT_BAND_10 = .*", "RADIANCE_MULT_BAND_10 = 0", "must be positive"),
        (r"REFLECTANCE_MULT_BAND_4 = .*", "REFLECTANCE_MULT_BAND_4 = -2e-5", "must be positive"),
        (r"SUN_ELEVATION = .*", "SUN_ELEVATION = 0", "below the horizon"),
        (r"SUN_ELEVATION = .*", "SUN_ELEVATION = -12.5", "below the horizon"),
        (r"(K1_CONSTANT_BAND_10 = .*)", r"\1\n    K1_CONSTANT_BAND_10 = 480.8", "given twice"),
        (r"SPACECRAFT_ID = .*", 'SPACECRAFT_ID = "LANDSAT_7"', "supports Landsat 8 and Landsat 9"),
        (r"SPACECRAFT_ID = .*", 'SPACECRAFT_ID = "LANDSAT_5"', "is a LANDSAT_5 scene"),
    ],
)
def test_every_command_refuses_impossible_metadata_alike(
    scene: Path, tmp_path: Path, pattern: str, repl: str, message: str
) -> None:
    folder = edited(scene, tmp_path, pattern, repl)
    results = run_all(folder, tmp_path)
    for code, text in results:
        assert code == 1 and message in text and "Traceback" not in text, text
    assert len({text for _, text in results}) == 1  # one check, one message, for every command
    assert not list(tmp_path.glob("*.tif"))  # (the model is m.onnx)


def test_a_repeated_key_with_the_same_value_is_fine(scene: Path, tmp_path: Path) -> None:
    folder = edited(scene, tmp_path, r"(K1_CONSTANT_BAND_10 = .*)", r"\1\n    \1")
    assert read_mtl(folder / "test_MTL.txt").k1["B10"] == pytest.approx(774.8853)


def test_json_duplicates_and_infinite_values(tmp_path: Path) -> None:
    body = (
        '{"LANDSAT_METADATA_FILE": {"IMAGE_ATTRIBUTES": {"SPACECRAFT_ID": "LANDSAT_9", '
        '"SUN_ELEVATION": "40", "SUN_ELEVATION": "41"}}}'
    )
    path = tmp_path / "X_MTL.json"
    path.write_text(body)
    with pytest.raises(MetadataError, match="SUN_ELEVATION is given twice"):
        read_mtl(path)
    path.write_text(
        json.dumps(
            {"IMAGE_ATTRIBUTES": {"SPACECRAFT_ID": "LANDSAT_9", "SUN_ELEVATION": "Infinity"}}
        )
    )
    with pytest.raises(MetadataError, match="not a finite number"):
        read_mtl(path)


def test_night_scenes_keep_what_needs_no_reflectance(scene: Path, tmp_path: Path) -> None:
    """Sun below the horizon: the thermal constants still read; reflectance is refused."""
    folder = edited(scene, tmp_path, r"SUN_ELEVATION = .*", "SUN_ELEVATION = -5")
    mtl = find_scene(folder).mtl
    assert mtl.thermal("B10")[2] == pytest.approx(774.8853)
    with pytest.raises(MetadataError, match="daytime scene"):
        mtl.toa_reflectance("B4")


def test_a_landsat7_folder_says_so(scene: Path, tmp_path: Path) -> None:
    work = shutil.copytree(scene, tmp_path / "le07")
    for name in ("B10", "B11"):
        (work / f"test_{name}.tif").unlink()
    shutil.copy(scene / "test_B10.tif", work / "test_B6_VCID_1.tif")
    shutil.copy(scene / "test_B11.tif", work / "test_B6_VCID_2.tif")
    with pytest.raises(SceneError, match=r"Landsat 7 ETM.*supports Landsat 8 and Landsat 9"):
        find_scene(work)
    res = CliRunner().invoke(main, ["physics", str(work), "-o", str(tmp_path / "x.tif")])
    assert res.exit_code == 1 and "Landsat 7" in res.output and "B10 not found" not in res.output


@pytest.mark.parametrize(
    ("k1", "k2", "said"),
    [
        (480.8883, 1201.1442, "these are Landsat 8's band-11 constants"),
        (799.0284, 1329.2405, "these are Landsat 9's band-10 constants"),
    ],
)
def test_other_thermal_constants_under_the_band_10_keys(
    scene: Path, tmp_path: Path, k1: float, k2: float, said: str
) -> None:
    text = (scene / "test_MTL.txt").read_text()
    text = re.sub(r"K1_CONSTANT_BAND_10 = .*", f"K1_CONSTANT_BAND_10 = {k1}", text)
    text = re.sub(r"K2_CONSTANT_BAND_10 = .*", f"K2_CONSTANT_BAND_10 = {k2}", text)
    work = shutil.copytree(scene, tmp_path / "s")
    (work / "test_MTL.txt").write_text(text)
    with pytest.raises(MetadataError, match=said) as info:
        read_mtl(work / "test_MTL.txt")
    message = str(info.value)
    assert "a Landsat 8 MTL" in message and "band 10 has K1 774.8853, K2 1321.0789" in message
    res = CliRunner().invoke(main, ["physics", str(work), "-o", str(tmp_path / "lst.tif")])
    assert res.exit_code == 1 and said in res.output and "Traceback" not in res.output
    assert not (tmp_path / "lst.tif").exists()


def test_each_missions_own_band_10_constants_pass() -> None:
    from pix2lst.geo.mtl import THERMAL_CONSTANTS
    from tests.conftest import shared_scene

    for name, craft in [
        ("LC09_L1TP_063046_20230714_20230714_02_T1", "LANDSAT_9"),
        ("LC08_L2SP_008059_20191201_fullscene_450m", "LANDSAT_8"),
    ]:
        mtl = find_scene(shared_scene(name)).mtl
        assert mtl.spacecraft == craft
        assert (mtl.k1["B10"], mtl.k2["B10"]) == THERMAL_CONSTANTS[craft]["B10"]


@pytest.mark.parametrize("dtype", ["uint8", "float32"])
def test_a_b10_file_that_cannot_hold_tirs_dn_is_refused(
    scene: Path, tmp_path: Path, dtype: str
) -> None:
    import rasterio

    work = shutil.copytree(scene, tmp_path / "s")
    b10 = work / "test_B10.tif"
    with rasterio.open(b10) as ds:
        profile, data = ds.profile, ds.read(1)
    profile.update(dtype=dtype, nodata=0)
    scaled = (data >> 8).astype(dtype)  # what a conversion to 8 bits leaves
    # written beside, then renamed: GDAL's create deletes an existing band's MTL with it
    with rasterio.open(tmp_path / "b10.tif", "w", **profile) as ds:
        ds.write(scaled, 1)
    (tmp_path / "b10.tif").replace(b10)
    results = run_all(work, tmp_path)
    for code, text in results:  # physics, composite and predict all read B10 as DN
        assert code == 1 and "Traceback" not in text, text
        assert f"band B10 ({b10}) is {dtype}, but Landsat-8/9 Level-1 thermal DN are uint16" in text
    assert not list(tmp_path.glob("*.tif"))

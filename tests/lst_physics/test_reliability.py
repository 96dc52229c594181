"""`pix2lst physics`, `composite` and `demo`: implausible results refused, outputs checked first."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from pix2lst.cli import main
from pix2lst.errors import BandNotFoundError, ImplausibleDataError
from pix2lst.geo.plausible import RangeCount, lst_range_count
from pix2lst.lst_physics import write_lst
from tests.conftest import crop_scene, shared_scene

L2_FULL = "LC08_L2SP_005009_20150710_fullscene_515m"


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return crop_scene(tmp_path_factory.mktemp("phys") / "s", 96)


def test_physics_refuses_an_implausible_lst(scene: Path, tmp_path: Path) -> None:
    """A band-10 gain positive but wrong: the LST (below 150 K) is refused, nothing written."""
    work = shutil.copytree(scene, tmp_path / "s")
    mtl = work / "test_MTL.txt"
    mtl.write_text(
        re.sub(r"RADIANCE_MULT_BAND_10 = .*", "RADIANCE_MULT_BAND_10 = 1e-7", mtl.read_text())
    )
    out = tmp_path / "lst.tif"
    with pytest.raises(ImplausibleDataError, match="bad calibration constants") as err:
        write_lst(work, out)
    assert "outside the plausible 170 to 360 K" in str(err.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s"]
    res = CliRunner().invoke(main, ["physics", str(work), "-o", str(out), "--units", "C"])
    assert res.exit_code == 1 and "-103.15 to 86.85 degC" in res.output
    assert "wrote" not in res.output


def test_the_streamed_range_count() -> None:
    import numpy as np

    count = lst_range_count("K")
    assert isinstance(count, RangeCount) and lst_range_count("dn") is None
    count.update(np.array([[300.0, np.nan, 140.0]], dtype=np.float32))
    count.update(np.full((1, 97), 290.0, dtype=np.float32))
    assert (count.valid, count.outside) == (99, 1)
    with pytest.raises(ImplausibleDataError, match="1 of 99 valid pixels"):
        count.check("x")  # 1 % is already one too many here: 1 > 0.99
    count.update(np.full((1, 1), 290.0, dtype=np.float32))
    count.check("x")  # 1 of 100: tolerated


def test_rte_on_an_incomplete_level2_bundle_says_what_is_missing(tmp_path: Path) -> None:
    src = shared_scene(L2_FULL)
    work = tmp_path / "l2"
    work.mkdir()
    for f in src.iterdir():
        if f.name.endswith(("_MTL.txt", "_SR_B4.TIF", "_SR_B5.TIF")):
            (work / f.name).symlink_to(f)
    with pytest.raises(BandNotFoundError, match="Level-2 bundle is incomplete") as err:
        write_lst(work, tmp_path / "x.tif", method="rte")
    assert "planck for L1" not in str(err.value)


def test_demo_checks_every_output_before_writing_any(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    out.mkdir()
    (out / "viewer.html").write_text("an earlier viewer")
    res = CliRunner().invoke(main, ["demo", "-o", str(out)])
    assert res.exit_code == 1 and "viewer.html already exists" in res.output
    assert sorted(p.name for p in out.iterdir()) == ["viewer.html"]


def test_demo_into_a_folder_it_cannot_create(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    res = CliRunner().invoke(main, ["demo", "-o", str(blocker / "sub")])
    assert res.exit_code == 1 and "cannot create the output folder" in res.output
    assert "Traceback" not in res.output


def test_rte_under_cold_cloud_tops_writes_nodata_and_names_the_clouds(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # the humid, 81 % cloudy Colombia scene with its cloud pixels' radiance made that of
    # cloud tops colder than any land surface: those pixels become nodata, with a warning
    # that names the clouds, instead of a refusal that blames band order or constants
    import numpy as np
    import rasterio

    from pix2lst.lst_physics.qa import cloud_mask

    src = shared_scene("LC08_L2SP_008059_20191201_fullscene_450m")
    scene = tmp_path / "scene"
    shutil.copytree(src, scene)
    (trad_path,) = scene.glob("*_ST_TRAD.TIF")
    (qa_path,) = scene.glob("*_QA_PIXEL.TIF")
    with rasterio.open(qa_path) as ds:
        cloud = cloud_mask(ds.read(1), "QA_PIXEL", 2)

    def band(name: str) -> np.ndarray:
        (path,) = scene.glob(f"*_{name}.TIF")
        with rasterio.open(path) as ds:
            return ds.read(1).astype(np.float64)

    lu, ld = band("ST_URAD") * 1e-3, band("ST_DRAD") * 1e-3
    tau, eps = band("ST_ATRAN") * 1e-4, band("ST_EMIS") * 1e-4
    b160 = 774.8853 / (np.exp(1321.0789 / 160.0) - 1.0)  # a 160 K surface's radiance
    with rasterio.open(trad_path, "r+") as ds:
        trad = ds.read(1)
        cold = cloud & (trad != -9999) & (band("ST_ATRAN") != -9999) & (band("ST_EMIS") > 0)
        at_sensor = tau * (eps * b160 + (1 - eps) * ld) + lu
        trad[cold] = np.round(at_sensor[cold] / 1e-3).astype(trad.dtype)
        ds.write(trad, 1)
    assert cold.mean() > 0.5  # most of the scene: a refusal without this rule
    with caplog.at_level("WARNING", logger="pix2lst"):
        out = write_lst(scene, tmp_path / "lst.tif", method="rte")
    with rasterio.open(out) as ds:
        lst = ds.read(1)
    assert np.isnan(lst[cold]).all() and np.isfinite(lst[~cloud & (trad != -9999)]).mean() > 0.99
    said = [r.getMessage() for r in caplog.records if "under cloud" in r.getMessage()]
    assert len(said) == 1 and "QA_PIXEL" in said[0] and "--mask-clouds" in said[0]

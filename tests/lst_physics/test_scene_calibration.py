"""The scene calibration hook gives calibrate_composite's values bit for bit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio
from hypothesis import given, settings
from hypothesis import strategies as st

from pix2lst.geo.inputs import find_scene
from pix2lst.lst_physics import calibrate_composite
from pix2lst.lst_physics.scene_calibration import scene_calibrator
from tests.conftest import shared_scene

BANDS = ("B1", "B2", "B3", "B4", "B5", "B6", "B7", "B10")


def _assert_same(scene: object, dn: np.ndarray, units: str, nodata: list) -> None:
    hook = scene_calibrator(units)(scene, BANDS)  # type: ignore[arg-type]
    want = calibrate_composite(dn, BANDS, scene, units, nodata=nodata)  # type: ignore[arg-type]
    got = hook(dn, nodata, None)
    assert got.dtype == np.float32 and got.shape == dn.shape
    np.testing.assert_array_equal(got, want)  # NaN where NaN, every other bit equal
    out = np.full(dn.shape, -1.0, np.float32)
    assert hook(dn, nodata, out) is out
    np.testing.assert_array_equal(out, want)
    table = hook.table(dn.dtype, nodata)  # type: ignore[attr-defined]
    if dn.dtype.kind == "u" and dn.dtype.itemsize <= 2:  # the runtime's DN lookup
        assert table.shape == (len(BANDS), 1 << (8 * dn.dtype.itemsize))
        looked_up = np.stack([table[b][dn[b]] for b in range(len(BANDS))])
        np.testing.assert_array_equal(looked_up, want)
    else:
        assert table is None


@given(
    seed=st.integers(0, 2**31),
    dtype=st.sampled_from(["uint16", "int16", "uint8", "int32", "float32"]),
    units=st.sampled_from(["toa", "dn"]),
    fill=st.sampled_from([None, 7]),
)
@settings(max_examples=40, deadline=None)
def test_same_values_as_the_physics_chain_for_any_dn(
    sample_scene: Path, seed: int, dtype: str, units: str, fill: int | None
) -> None:
    rng = np.random.default_rng(seed)
    info = np.iinfo(dtype) if dtype != "float32" else np.iinfo("int16")
    dn = rng.integers(info.min, int(info.max) + 1, (8, 5, 37)).astype(dtype)
    dn[:, 0, :3] = 0  # fill DN
    dn[:, 1, :2] = 7
    _assert_same(find_scene(sample_scene), dn, units, [fill] * 8)


def test_same_values_on_real_level1_and_level2_bands(sample_scene: Path) -> None:
    for folder in (sample_scene, shared_scene("LC08_L2SP_005009_20150710_fullscene_515m")):
        scene = find_scene(folder)
        dn, nodata = [], []
        for b in BANDS:
            with rasterio.open(scene.band_path(b)) as ds:
                dn.append(ds.read(1, window=((0, 64), (0, 300))))
                nodata.append(ds.nodata)
        stack = np.stack(dn)  # L1: uint16 (the table path); L2: uint16 + int16 -> int32
        assert stack.dtype.itemsize == (2 if scene.level == "L1" else 4)
        _assert_same(scene, stack, "toa", nodata)

"""The xarray API: scenes (local, remote, STAC) in, DataArrays with CRS and transform out."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio

pytest.importorskip("rioxarray", reason="the batch extra is not installed")

from pix2lst.batch import composite_xarray, physics_xarray, predict_xarray
from pix2lst.errors import BandNotFoundError
from pix2lst.lst_physics.lst import write_lst
from pix2lst.runtime import LSTPredictor
from tests.conftest import make_model, make_scene


@pytest.fixture()
def scene(tmp_path):
    return make_scene(tmp_path / "scene", "LC08_XR")


def test_physics_xarray_is_what_physics_writes(tmp_path, scene):
    da = physics_xarray(scene)
    path = write_lst(scene, tmp_path / "lst.tif")
    with rasterio.open(path) as ds:
        np.testing.assert_array_equal(da.values, ds.read(1))
        assert da.rio.crs == ds.crs and da.rio.transform() == ds.transform
    assert da.dims == ("y", "x") and da.attrs["units"] == "K"
    assert da.attrs["SCENE_ID"] == "LC08_XR" and da.attrs["standard_name"] == "surface_temperature"
    x0, y0 = ds.transform * (0.5, 0.5)
    assert float(da.x[0]) == x0 and float(da.y[0]) == y0  # pixel centres


def test_composite_and_prediction(tmp_path, scene):
    comp = composite_xarray(scene)
    assert comp.dims == ("band", "y", "x") and list(comp.band.values)[-1] == "B10"
    predictor = LSTPredictor(make_model(tmp_path / "m.onnx", "conv", tile=32), providers="cpu")
    lst = predict_xarray(scene, predictor)
    np.testing.assert_array_equal(lst.values, predictor.predict_array(comp.values))
    assert lst.rio.crs == comp.rio.crs and lst.rio.transform() == comp.rio.transform()
    assert (
        lst.attrs["MODEL_SHA256"] == predictor.model.sha256 and lst.attrs["SCENE_ID"] == "LC08_XR"
    )
    shuffled = comp.isel(band=[7, 3, 0, 1, 2, 4, 5, 6])  # bands are taken by name
    np.testing.assert_array_equal(predictor.predict_xarray(shuffled).values, lst.values)
    with pytest.raises(BandNotFoundError, match=r"lacks \['B10'\]"):
        predictor.predict_xarray(comp.isel(band=slice(0, 7)))


def test_a_remote_scene_in_xarray(http_server, tmp_path):
    mtl = make_scene(http_server.root / "xr", "LC08_XR_REMOTE")
    remote = physics_xarray(http_server.url("xr/LC08_XR_REMOTE_MTL.txt"))
    np.testing.assert_array_equal(remote.values, physics_xarray(mtl).values)

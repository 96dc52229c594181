"""The xarray API: scenes (local, remote, STAC) in, DataArrays with CRS and transform out."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("rioxarray", reason="the batch extra is not installed")

from pix2lst.batch import composite_xarray, physics_xarray, predict_xarray
from pix2lst.errors import BandNotFoundError, ImplausibleDataError, ParameterError, SceneError
from pix2lst.lst_physics.lst import write_lst
from pix2lst.runtime import LSTPredictor
from tests.conftest import LST_LIKE, make_model, make_scene, shared_scene


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
    predictor = LSTPredictor(
        make_model(tmp_path / "m.onnx", "conv", tile=32, **LST_LIKE), providers="cpu"
    )
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


# -- lazy (dask-backed) results, the time coordinate, odc-stac Datasets, SR + ST items ----------

MAUI = "LC09_L1TP_063046_20230714_20230714_02_T1"
MAUI_AFTER = "LC09_L1TP_063046_20230831_20230901_02_T1"
L2 = "LC08_L2SP_008059_20191201_fullscene_450m"
L2_ID = "LC08_L2SP_008059_20191201_20200825_02_T1"


@pytest.fixture()
def threads():
    import dask

    with dask.config.set(scheduler="threads"):
        yield


def _tasks(da) -> int:
    return len(da.data.__dask_graph__())


def _attrs(da) -> dict:
    """The attributes but rioxarray's NaN ``_FillValue`` (NaN != NaN)."""
    assert np.isnan(da.attrs.get("_FillValue", np.nan))
    return {k: v for k, v in da.attrs.items() if k != "_FillValue"}


def test_lazy_physics_equals_eager_and_reads_by_window(threads, caplog):
    maui = shared_scene(MAUI)
    eager = physics_xarray(maui)
    lazy = physics_xarray(maui, chunks=64)
    assert lazy.chunks == ((64, 64, 64, 64, 64, 47), (301,)) and _tasks(lazy) >= 6
    # nothing read yet; one chunk reads its own rows, not the scene's
    with caplog.at_level("DEBUG", logger="pix2lst.batch.xarray_windows"):
        part = lazy[64:128].values
    reads = [r.getMessage() for r in caplog.records if "reading rows" in r.getMessage()]
    assert reads == [f"physics: reading rows 64-128 of {eager.attrs['SCENE_ID']}"]
    np.testing.assert_array_equal(part, eager.values[64:128])
    np.testing.assert_array_equal(lazy.values, eager.values)
    assert lazy.rio.crs == eager.rio.crs and lazy.rio.transform() == eager.rio.transform()
    same = _attrs(lazy)
    assert same.items() <= _attrs(eager).items() and same["EMISSIVITY"] == "sobrino"
    with pytest.warns(UserWarning, match="avdan"):  # the scene's NDVI range, once, up front
        avdan = physics_xarray(maui, emissivity="avdan", chunks={"y": 100})
    with pytest.warns(UserWarning, match="avdan"):
        np.testing.assert_array_equal(avdan.values, physics_xarray(maui, emissivity="avdan").values)


@pytest.mark.parametrize(
    "kw",
    [
        {"method": "rte", "mask_clouds": True, "units": "C"},
        {"atmosphere": "bundle", "mask_clouds": True},  # planck corrected by ST_ATRAN/URAD/DRAD
        {"method": "rte", "water_vapour": 3.0},  # the USGS emissivity, mono-window corrected
    ],
)
def test_lazy_rte_atmosphere_and_cloud_mask_travel(threads, kw):
    """The graph pickles as a distributed scheduler sends it to its workers, and computes."""
    import cloudpickle

    scene = shared_scene(L2)
    eager = physics_xarray(scene, **kw)
    lazy = physics_xarray(scene, chunks=128, **kw)
    values = cloudpickle.loads(cloudpickle.dumps(lazy.data)).compute()
    np.testing.assert_array_equal(values, eager.values)
    np.testing.assert_array_equal(lazy.values, eager.values)  # in this process
    assert _attrs(lazy).items() <= _attrs(eager).items()
    assert 0.05 < np.isfinite(values).mean() < (0.2 if "mask_clouds" in kw else 0.8)


def test_lazy_atmosphere_of_numbers(threads):
    maui = shared_scene(MAUI)
    plain = physics_xarray(maui, chunks=64)
    lazy = physics_xarray(maui, atmosphere="0.42,4.9,7.6", chunks=64)
    eager = physics_xarray(maui, atmosphere="0.42,4.9,7.6")
    np.testing.assert_array_equal(lazy.values, eager.values)
    assert np.nanmean(lazy.values - plain.values) > 2  # a humid atmosphere warms the surface
    assert (
        lazy.attrs["ATMOSPHERIC_CORRECTION"] == "rte"
        and plain.attrs["ATMOSPHERIC_CORRECTION"] == "none"
    )
    with pytest.raises(ParameterError, match="not both"):
        physics_xarray(maui, atmosphere="0.42,4.9,7.6", water_vapour=2.0, chunks=64)


def test_lazy_composite_equals_eager(threads, caplog):
    maui = shared_scene(MAUI)
    eager = composite_xarray(maui)
    lazy = composite_xarray(maui, chunks=100)
    assert lazy.chunks == ((8,), (100, 100, 100, 67), (301,))
    with caplog.at_level("DEBUG", logger="pix2lst.batch.xarray_windows"):
        np.testing.assert_array_equal(lazy[:, 300:].values, eager.values[:, 300:])
    reads = [r.getMessage() for r in caplog.records if "reading rows" in r.getMessage()]
    assert len(reads) == 1 and "rows 300-367" in reads[0]
    np.testing.assert_array_equal(lazy.values, eager.values)
    assert list(lazy.band.values) == list(eager.band.values) and _attrs(lazy) == _attrs(eager)
    with pytest.raises(ParameterError, match="whole rows"):
        composite_xarray(maui, chunks={"y": 100, "x": 100})
    with pytest.raises(ParameterError, match="rows per chunk"):
        composite_xarray(maui, chunks=0)


@pytest.mark.parametrize("padding", [None, 10])
def test_lazy_prediction_equals_eager(tmp_path, threads, padding, caplog):
    """Strips on whole tile strides with a tile of context: the tile grid of every block is the
    scene's own, so the lazy mosaic is the eager one bit for bit."""
    maui = shared_scene(MAUI)
    model = make_model(tmp_path / "m.onnx", "conv", tile=32, **LST_LIKE)
    predictor = LSTPredictor(model, providers="cpu", padding=padding)
    stride = predictor.grid(367, 301).stride  # 16, or 12 with padding 10
    eager = predict_xarray(maui, predictor)
    lazy = predict_xarray(maui, predictor, chunks=50)
    rows = lazy.chunks[0]
    assert all(r % stride == 0 and r >= 32 for r in rows[:-1]) and len(rows) >= 5
    np.testing.assert_array_equal(lazy.values, eager.values)
    assert _attrs(lazy) == _attrs(eager) and lazy.time.values == eager.time.values
    # one strip reads its own rows and its neighbours' (the context), not the scene
    start = rows[0]
    with caplog.at_level("DEBUG", logger="pix2lst.batch.xarray_windows"):
        strip = lazy[start : start + rows[1]].values
    reads = sorted(r.getMessage().split()[3] for r in caplog.records if "reading" in r.getMessage())
    edges = np.cumsum((0, *rows))
    assert reads == sorted(f"{edges[i]}-{edges[i + 1]}" for i in range(3))
    np.testing.assert_array_equal(strip, eager.values[start : start + rows[1]])
    celsius = predict_xarray(maui, predictor, chunks=50, units="C")
    np.testing.assert_array_equal(celsius.values, predict_xarray(maui, predictor, units="C").values)
    import cloudpickle

    with pytest.raises(ParameterError, match="runs in the process that holds its predictor"):
        cloudpickle.dumps(lazy.data)  # what a distributed scheduler would send its workers
    # any dask-backed composite, chunked anyhow, is realigned to the tile grid
    comp = composite_xarray(maui, chunks=37)
    np.testing.assert_array_equal(predictor.predict_xarray(comp).values, eager.values)
    with pytest.raises(ParameterError, match=r"composite DataArray \(band, y, x\)"):
        predictor.predict_xarray(comp.isel(band=0))


def test_time_coordinate_stacks_two_dates(threads):
    import xarray as xr

    before, after = shared_scene(MAUI), shared_scene(MAUI_AFTER)  # after: no thermal band
    a = composite_xarray(before, bands=("B4", "B5"), chunks=128)
    b = composite_xarray(after, bands=("B4", "B5"), chunks=128)
    assert str(a.time.values) == "2023-07-14T20:47:53.111172000"  # DATE_ACQUIRED + centre time
    cube = xr.concat([a, b], "time")
    assert cube.dims == ("time", "band", "y", "x") and cube.chunks is not None
    assert [str(t)[:19] for t in cube.time.values] == ["2023-07-14T20:47:53", "2023-08-31T20:48:13"]
    np.testing.assert_array_equal(
        cube.isel(time=1).values, composite_xarray(after, bands=("B4", "B5")).values
    )
    lst = physics_xarray(before)
    assert str(lst.time.values) == str(a.time.values)


ODC_NAMES = {  # odc-stac's common names of a Landsat C2 item -> the band files
    "coastal": "B1", "blue": "B2", "green": "B3", "red": "B4",
    "nir08": "B5", "swir16": "B6", "swir22": "B7", "lwir11": "B10",
}  # fmt: skip


def _odc_like(folder, files, when, attrs=None, dtype=None):
    """A Dataset shaped as ``odc.stac.load`` returns it: one variable per band named by its
    asset key, dims (time, y, x) with one time, the DN as loaded, a ``nodata`` attribute,
    pixel-centre x/y and a ``spatial_ref`` coordinate."""
    import rioxarray  # noqa: F401
    import xarray as xr

    data = {}
    for var, suffix in files.items():
        (path,) = folder.glob(f"*_{suffix}.TIF")
        with rasterio.open(path) as ds:
            dn, t, crs = ds.read(1), ds.transform, ds.crs
        values = dn[None] if dtype is None else dn[None].astype(dtype)
        data[var] = (("time", "y", "x"), values, {"nodata": 0, **(attrs or {}).get(var, {})})
    h, w = dn.shape
    coords = {
        "time": [np.datetime64(when, "ns")],
        "y": t.f + t.e * (np.arange(h) + 0.5),
        "x": t.c + t.a * (np.arange(w) + 0.5),
    }
    return xr.Dataset(data, coords=coords).rio.write_crs(crs)


def test_odc_stac_dataset_with_the_mtl(tmp_path, threads):
    maui = shared_scene(MAUI)
    predictor = LSTPredictor(
        make_model(tmp_path / "m.onnx", "conv", tile=32, **LST_LIKE), providers="cpu"
    )
    ds = _odc_like(maui, ODC_NAMES, "2023-07-14T20:47:53.111172")
    mtl = next(maui.glob("*_MTL.txt"))
    scene_lst = predict_xarray(maui, predictor)
    lst = predict_xarray(ds, predictor, mtl=mtl)  # calibrated exactly as the scene is
    np.testing.assert_array_equal(lst.values, scene_lst.values)
    assert lst.dims == ("y", "x") and lst.rio.crs == scene_lst.rio.crs
    assert (
        lst.time.values == ds.time.values[0]
        and lst.attrs["SCENE_ID"] == scene_lst.attrs["SCENE_ID"]
    )
    # odc-stac's dask-backed load (chunks in y and x) gives a lazy prediction, the same values
    lazy = predict_xarray(ds.chunk({"y": 100, "x": 128}), predictor, mtl=mtl)
    assert lazy.chunks is not None and _tasks(lazy) > 8
    np.testing.assert_array_equal(lazy.values, scene_lst.values)
    # a DataArray with a band dimension (ds.to_array("band")) is the same input
    np.testing.assert_array_equal(
        predict_xarray(ds.to_array("band"), predictor, mtl=mtl, chunks=64).values, scene_lst.values
    )
    with pytest.raises(SceneError, match="pass mtl="):  # DN without the MTL's constants
        predict_xarray(ds, predictor)
    with pytest.raises(BandNotFoundError, match=r"lack \['B1'\]"):
        predict_xarray(ds.drop_vars("coastal"), predictor, mtl=mtl)
    import xarray as xr

    two = xr.concat([ds, ds.assign_coords(time=ds.time + np.timedelta64(16, "D"))], "time")
    with pytest.raises(ParameterError, match="2 times; predict one scene at a time"):
        predict_xarray(two, predictor, mtl=mtl)


def test_odc_stac_dataset_of_scaled_values(tmp_path, threads):
    """Values already in the model's units are taken as they are; DN as reflectance is refused."""
    import xarray as xr

    maui = shared_scene(MAUI)
    predictor = LSTPredictor(
        make_model(tmp_path / "m.onnx", "conv", tile=32, **LST_LIKE), providers="cpu"
    )
    comp = composite_xarray(maui)
    ds = xr.Dataset(
        {
            name: comp.sel(band=band, drop=True).expand_dims("time")
            for name, band in ODC_NAMES.items()
        }
    )
    np.testing.assert_array_equal(
        predict_xarray(ds, predictor).values, predict_xarray(maui, predictor).values
    )
    dn = _odc_like(maui, ODC_NAMES, "2023-07-14T20:47:53", dtype=np.float32)
    with pytest.raises(ImplausibleDataError, match="band B1: 100% of the valid values"):
        predict_xarray(dn, predictor)


def test_odc_stac_level2_dataset(tmp_path, threads):
    """A Level-2 load: SR DN with their scale and offset; band 10 from ``trad`` (ST_TRAD),
    never from ``lwir11`` (ST_B10, surface temperature)."""
    l2 = shared_scene(L2)
    predictor = LSTPredictor(
        make_model(tmp_path / "m.onnx", "conv", tile=32, **LST_LIKE), providers="cpu"
    )
    sr = {"scale": 2.75e-05, "offset": -0.2}
    files = {k: f"SR_{v}" for k, v in ODC_NAMES.items() if k != "lwir11"}
    ds = _odc_like(
        l2, {**files, "lwir11": "ST_B10", "trad": "ST_TRAD"}, "2019-12-01T15:20:00",
        attrs={**{k: sr for k in files}, "lwir11": {"scale": 0.00341802, "offset": 149.0}},
    )  # fmt: skip
    mtl = next(l2.glob("*_MTL.txt"))
    lst = predict_xarray(ds, predictor, mtl=mtl)
    np.testing.assert_array_equal(lst.values, predict_xarray(l2, predictor).values)
    with pytest.raises(SceneError, match=r"'lwir11' of a Level-2 scene is surface temperature"):
        predict_xarray(ds.drop_vars("trad"), predictor, mtl=mtl)
    with pytest.raises(SceneError, match=r"'lwir11' with scale 0.00341802 is USGS Level-2"):
        predict_xarray(ds.drop_vars("trad"), predictor)


def _local_item(folder, name):
    """A USGS STAC item of ``folder`` with its asset hrefs pointing at the files there."""
    import json

    item = json.loads((folder / name).read_text())
    for asset in item["assets"].values():
        path = folder / asset["href"].rsplit("/", 1)[-1]
        if path.exists():
            asset["href"] = str(path)
    return item


def test_sr_and_st_items_of_one_scene_together(tmp_path, threads):
    l2 = shared_scene(L2)
    sr = _local_item(l2, f"{L2_ID}_SR_stac.json")  # SR_B1-7, QA: no band-10 radiance
    st = _local_item(l2, f"{L2_ID}_ST_stac.json")  # ST_*: no reflectance
    folder = physics_xarray(l2)
    both = physics_xarray([sr, st])
    np.testing.assert_array_equal(both.values, folder.values)
    assert both.attrs["SCENE_ID"] == L2_ID and str(both.time.values)[:10] == "2019-12-01"
    np.testing.assert_array_equal(
        physics_xarray((st, sr), method="rte", chunks=128).values,
        physics_xarray(l2, method="rte").values,
    )
    predictor = LSTPredictor(
        make_model(tmp_path / "m.onnx", "conv", tile=32, **LST_LIKE), providers="cpu"
    )
    np.testing.assert_array_equal(
        predict_xarray([sr, st], predictor, chunks=64).values,
        predict_xarray(l2, predictor).values,
    )
    with pytest.raises(BandNotFoundError, match="ST_TRAD not found"):
        physics_xarray(sr)
    greenland = shared_scene("LC08_L2SP_005009_20150710_fullscene_515m")
    other = _local_item(greenland, "LC08_L2SP_005009_20150710_20200908_02_T2_ST_stac.json")
    with pytest.raises(SceneError, match="one scene"):  # the ST item of another scene
        physics_xarray([sr, other])


@settings(max_examples=200, deadline=None)
@given(
    rows=st.integers(1, 600),
    height=st.integers(1, 2000),
    tile=st.sampled_from([16, 32, 64, 256]),
    quarter=st.integers(0, 3),
)
def test_aligned_chunks_cover_the_raster_on_whole_strides(rows, height, tile, quarter):
    from pix2lst.runtime.lazy import aligned_chunks, overlap_depth

    padding = quarter * tile // 8  # 0 .. 3/8 of the tile
    stride = tile - 2 * padding
    depth = overlap_depth(tile, stride)
    chunks = aligned_chunks(rows, height, tile, stride)
    assert sum(chunks) == height and depth % stride == 0 and depth >= tile
    assert all(c % stride == 0 and c >= rows for c in chunks[:-1])  # block starts on the grid
    assert len(chunks) == 1 or min(chunks) >= depth  # every block is a whole overlap deep

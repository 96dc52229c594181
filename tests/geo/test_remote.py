"""Remote scenes over a real HTTP server on 127.0.0.1: read window by window, faults said clearly."""

from __future__ import annotations

import multiprocessing
import os
import shutil
import socket
import time
from pathlib import Path

import numpy as np
import pytest
import rasterio
from click.testing import CliRunner

from pix2lst.errors import RemoteError
from pix2lst.geo.inputs import find_scene
from pix2lst.geo.remote import gdal_path, url_join
from pix2lst.geo.scene import is_remote, is_scene
from pix2lst.geo.sources import SceneSource
from pix2lst.lst_physics import scene_calibrator
from pix2lst.lst_physics.lst import write_lst
from tests.conftest import LST_LIKE, make_model, make_scene, sample_scene_path, shared_scene


@pytest.fixture
def stalling_server(http_server):
    """``(root, base URL)`` of the test server's quirks (``/quirks/``: stalls, signed URLs,
    HTML listings; see ``tests.conftest._serve``)."""
    root = http_server.root / "quirks"
    root.mkdir(exist_ok=True)
    return root, f"http://127.0.0.1:{http_server.port}/quirks"


def _served_scene(http_server, name: str, **kw) -> tuple[Path, str]:
    """A scene under the server's root; (local MTL, its URL)."""
    mtl = make_scene(http_server.root / name, **kw)
    return mtl, http_server.url(mtl.relative_to(http_server.root))


def test_gdal_paths_keep_the_double_slash():
    assert gdal_path("https://h.org/a/b.TIF") == "/vsicurl/https://h.org/a/b.TIF"
    assert gdal_path("s3://bucket/k/b.TIF") == "/vsis3/bucket/k/b.TIF"
    assert gdal_path("/vsicurl/https://h/x.TIF") == "/vsicurl/https://h/x.TIF"
    assert url_join("https://h.org/a/x_MTL.txt", "x_B4.TIF") == "https://h.org/a/x_B4.TIF"
    assert is_remote("https://h") and not is_remote(Path("https:/h"))
    assert is_scene("https://h.org/a/LC08_X_MTL.json") and not is_scene("https://h.org/a/c.tif")


def test_remote_scene_reads_like_the_local_one(http_server, tmp_path):
    mtl, url = _served_scene(http_server, "same")
    scene = find_scene(url)
    assert scene.scene_id == find_scene(mtl).scene_id
    b4 = scene.band_path("B4")
    assert isinstance(b4, str) and b4.startswith("/vsicurl/http://127.0.0.1:")
    local = write_lst(mtl, tmp_path / "local.tif")
    remote = write_lst(url, tmp_path / "remote.tif")
    with rasterio.open(local) as a, rasterio.open(remote) as b:
        np.testing.assert_array_equal(a.read(1), b.read(1))
        assert a.transform == b.transform and a.crs == b.crs
        assert b.tags()["SCENE_ID"] == a.tags()["SCENE_ID"]


def test_a_window_is_read_without_downloading_the_file(http_server):
    mtl, url = _served_scene(http_server, "big", window=(0, 0, 512, 512), bands=("B4",))
    mtl.write_text(mtl.read_text())  # the MTL names more bands than exist: only B4 is opened
    scene = find_scene(url)
    band = mtl.parent / f"{scene.scene_id}_B4.TIF"
    before = http_server.bytes_served(band.name)
    with SceneSource(scene, ("B4",), scene_calibrator("dn")(scene, ("B4",))) as src:
        rows = src.read_rows(0, 16)
    assert rows.shape == (1, 16, 512)
    with rasterio.open(band) as ds:
        np.testing.assert_array_equal(rows[0], ds.read(1, window=((0, 16), (0, 512))))
    served = http_server.bytes_served(band.name) - before
    assert 0 < served < band.stat().st_size / 2


def test_predict_reads_a_remote_scene(http_server, tmp_path):
    from pix2lst.runtime import LSTPredictor

    mtl, url = _served_scene(http_server, "predict")
    model = make_model(tmp_path / "m.onnx", "conv", tile=32, **LST_LIKE)
    predictor = LSTPredictor(model, providers="cpu")
    predictor.predict_file(mtl, tmp_path / "local.tif")
    predictor.predict_file(url, tmp_path / "remote.tif")
    with rasterio.open(tmp_path / "local.tif") as a, rasterio.open(tmp_path / "remote.tif") as b:
        np.testing.assert_array_equal(a.read(1), b.read(1))


def test_cli_physics_takes_a_url(http_server, tmp_path):
    from pix2lst.cli import main

    _, url = _served_scene(http_server, "cli")
    result = CliRunner().invoke(main, ["physics", url, "-o", str(tmp_path / "lst.tif")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "lst.tif").is_file()


def test_a_404_on_one_band_names_band_and_url(http_server, tmp_path):
    mtl, url = _served_scene(http_server, "missing")
    (mtl.parent / f"{find_scene(mtl).scene_id}_B10.TIF").unlink()
    with pytest.raises(RemoteError, match=r"HTTP 404 for band B10 .*_B10\.TIF") as info:
        write_lst(url, tmp_path / "lst.tif")
    assert info.value.transient is False
    assert not (tmp_path / "lst.tif").exists()


def test_a_server_without_range_requests_is_refused_clearly(http_server, tmp_path):
    mtl, _ = _served_scene(http_server, "norange")
    url = http_server.url(mtl.relative_to(http_server.root), ranges=False)
    with pytest.raises(RemoteError, match="does not support HTTP range requests") as info:
        write_lst(url, tmp_path / "lst.tif")
    assert info.value.transient is False


def test_an_unreachable_url_says_so():
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(
        RemoteError, match=r"cannot reach http://127\.0\.0\.1:\d+/x_MTL\.txt"
    ) as info:
        find_scene(f"http://127.0.0.1:{port}/x_MTL.txt")
    assert info.value.transient is True


def test_a_missing_mtl_is_a_404(http_server):
    with pytest.raises(RemoteError, match="HTTP 404"):
        find_scene(http_server.url("nowhere/LC08_X_MTL.txt"))


def test_bands_not_on_the_server_are_skipped_from_discovery(http_server):
    mtl, url = _served_scene(http_server, "partial", bands=("B4", "B5", "B10"))
    shutil.copy(mtl, mtl.with_name("copy.txt"))
    scene = find_scene(url)
    # the MTL names B1..B11 and BQA: all are band locations; opening a missing one is a 404
    assert {"B4", "B5", "B10", "B1"} <= set(scene.bands)


def test_a_server_that_stalls_inside_a_band_read_fails_in_bounded_time(
    stalling_server, tmp_path, monkeypatch
):
    root, base = stalling_server
    # blocks of 512 x 512 px: the B10 blocks lie past the header GDAL reads at open
    mtl = make_scene(root / "stall", window=(0, 0, 512, 512), bands=("B4", "B5", "B10"))
    url = f"{base}/stall/{mtl.name}"
    monkeypatch.setenv("GDAL_HTTP_LOW_SPEED_TIME", "1")  # short limits for a fast test
    monkeypatch.setenv("GDAL_HTTP_MAX_RETRY", "1")
    monkeypatch.setenv("GDAL_HTTP_RETRY_DELAY", "0.1")
    t0 = time.monotonic()
    with pytest.raises(RemoteError) as info:
        write_lst(url, tmp_path / "lst.tif")
    assert time.monotonic() - t0 < 30
    message = str(info.value)
    assert "\n" not in message
    assert f"{base}/stall/{mtl.name.replace('MTL.txt', 'B10.TIF')}" in message
    assert "stalled" in message and "B4.TIF" not in message
    assert info.value.transient is True
    assert not (tmp_path / "lst.tif").exists()


def test_remote_reads_get_gdal_limits_and_the_users_win(monkeypatch):
    from pix2lst.geo.remote import HttpLimits, http_limits, use_remote_settings

    for key in HttpLimits().gdal_options():
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("GDAL_HTTP_TIMEOUT", "42")
    limits = use_remote_settings()
    assert limits.timeout == 42 and limits == http_limits()
    assert os.environ["GDAL_HTTP_TIMEOUT"] == "42"  # the user's value is kept
    assert os.environ["GDAL_HTTP_LOW_SPEED_TIME"] == "30"
    assert os.environ["GDAL_HTTP_MAX_RETRY"] == "3"
    assert os.environ["GDAL_HTTP_CONNECTTIMEOUT"] == "30"
    monkeypatch.setenv("GDAL_HTTP_MAX_RETRY", "many")
    with pytest.raises(RemoteError, match=r"GDAL_HTTP_MAX_RETRY='many' .* is not a number"):
        http_limits()


def test_a_metadata_fetch_that_stalls_is_retried_then_fails(stalling_server):
    from pix2lst.geo.remote import HttpLimits, read_text

    root, base = stalling_server
    mtl = make_scene(root / "slow", bands=("B4",))
    limits = HttpLimits(stall_time=0.5, retries=1, retry_delay=0.05)
    t0 = time.monotonic()
    with pytest.raises(RemoteError, match=rf"^{base}/slow/{mtl.name} stalled") as info:
        read_text(f"{base}/slow/{mtl.name}", limits=limits)
    assert 1.0 <= time.monotonic() - t0 < 10  # two attempts of 0.5 s each
    assert info.value.transient is True and info.value.__cause__ is None


# -- S3: an S3-compatible server (moto) on 127.0.0.1 ------------------------------------


def _serve_moto(port_file: str, parent: int) -> None:  # pragma: no cover - child process
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    with open(port_file + ".tmp", "w") as f:
        f.write(str(server.get_host_and_port()[1]))
    os.replace(port_file + ".tmp", port_file)
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(0)


@pytest.fixture(scope="module")
def s3_server(tmp_path_factory):
    """The endpoint URL of moto's S3 server in its own process (GDAL holds the GIL while
    opening, so a server thread in the test process would deadlock)."""
    pytest.importorskip("moto.server", reason="moto[server] (the dev extra) is not installed")
    pytest.importorskip("boto3", reason="boto3 (the s3 extra) is not installed")
    port_file = tmp_path_factory.mktemp("moto") / "_port"
    ctx = multiprocessing.get_context("spawn")
    proc = ctx.Process(target=_serve_moto, args=(str(port_file), os.getpid()), daemon=True)
    proc.start()
    deadline = time.monotonic() + 60
    while not port_file.exists():
        if time.monotonic() > deadline or not proc.is_alive():
            proc.kill()
            pytest.fail("moto's S3 server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{int(port_file.read_text())}"
    proc.kill()
    proc.join(5)


@pytest.fixture
def s3_env(s3_server, tmp_path, monkeypatch):
    """The standard AWS settings pointing at the test server (no ~/.aws files read)."""
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    for key in ("AWS_PROFILE", "AWS_S3_ENDPOINT", "AWS_ENDPOINT_URL_S3", "AWS_NO_SIGN_REQUEST"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_server)
    return s3_server


def _upload(folder: Path, bucket: str, prefix: str, *, public: bool = False) -> None:
    import boto3

    s3 = boto3.client("s3")
    if bucket not in [b["Name"] for b in s3.list_buckets().get("Buckets", [])]:
        s3.create_bucket(Bucket=bucket, **({"ACL": "public-read"} if public else {}))
    extra = {"ACL": "public-read"} if public else None
    for f in sorted(folder.iterdir()):
        s3.upload_file(str(f), bucket, f"{prefix}/{f.name}", ExtraArgs=extra)


def test_an_s3_mtl_reads_like_the_local_scene(s3_env, tmp_path):
    mtl = make_scene(tmp_path / "scene", bands=("B4", "B5", "B10"))
    _upload(tmp_path / "scene", "landsat", "c2/scene")
    scene = find_scene(f"s3://landsat/c2/scene/{mtl.name}")
    assert scene.band_path("B10") == "/vsis3/landsat/c2/scene/" + mtl.name.replace(
        "MTL.txt", "B10.TIF"
    )
    local = write_lst(mtl, tmp_path / "local.tif")
    remote = write_lst(f"s3://landsat/c2/scene/{mtl.name}", tmp_path / "s3.tif")
    with rasterio.open(local) as a, rasterio.open(remote) as b:
        np.testing.assert_array_equal(a.read(1), b.read(1))
        assert b.tags()["SCENE_ID"] == a.tags()["SCENE_ID"]


def test_an_s3_stac_item_with_relative_hrefs(s3_env, tmp_path):
    import json

    mtl = make_scene(tmp_path / "item", bands=("B4", "B5", "B10"))
    scene_id = mtl.name.removesuffix("_MTL.txt")
    assets = {"mtl.txt": {"href": mtl.name}}
    for key, band in (("red", "B4"), ("nir08", "B5"), ("lwir11", "B10")):
        assets[key] = {"href": f"./{scene_id}_{band}.TIF"}
    item = {
        "type": "Feature", "stac_version": "1.0.0", "id": scene_id, "geometry": None,
        "links": [], "properties": {"platform": "landsat-8"}, "assets": assets,
    }  # fmt: skip
    (tmp_path / "item" / "item.json").write_text(json.dumps(item))
    _upload(tmp_path / "item", "landsat", "stac/item")
    scene = find_scene("s3://landsat/stac/item/item.json")
    assert scene.band_path("B4") == f"/vsis3/landsat/stac/item/{scene_id}_B4.TIF"
    a = write_lst(scene, tmp_path / "s3.tif")
    b = write_lst(mtl, tmp_path / "local.tif")
    with rasterio.open(a) as x, rasterio.open(b) as y:
        np.testing.assert_array_equal(x.read(1), y.read(1))


def test_a_public_bucket_needs_no_credentials(s3_env, tmp_path, monkeypatch):
    mtl = make_scene(tmp_path / "public", bands=("B4", "B5", "B10"))
    _upload(tmp_path / "public", "public-landsat", "p", public=True)
    _upload(tmp_path / "public", "private-landsat", "p")
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    monkeypatch.setenv("AWS_NO_SIGN_REQUEST", "YES")
    out = write_lst(f"s3://public-landsat/p/{mtl.name}", tmp_path / "lst.tif")
    with rasterio.open(out) as ds:
        assert ds.tags()["SCENE_ID"] == mtl.name.removesuffix("_MTL.txt")
    with pytest.raises(RemoteError, match=r"^access to s3://private-landsat/p/.* was denied"):
        find_scene(f"s3://private-landsat/p/{mtl.name}")


def test_a_missing_s3_key_is_one_line(s3_env, tmp_path):
    _upload(sample_scene_path(), "landsat", "sample")
    with pytest.raises(
        RemoteError, match=r"^s3://landsat/nowhere/X_MTL\.txt does not exist"
    ) as info:
        find_scene("s3://landsat/nowhere/X_MTL.txt")
    assert info.value.transient is False and "\n" not in str(info.value)
    with pytest.raises(RemoteError, match=r"does not exist .*give the URL of the MTL file"):
        find_scene("s3://landsat/sample/")


def test_a_signed_url_keeps_its_query_for_the_bands(stalling_server, tmp_path):
    root, base = stalling_server
    mtl = make_scene(root / "signed", bands=("B4", "B5", "B10"))
    url = f"{base}/signed/{mtl.name}?sig=ok"
    scene = find_scene(url)
    assert scene.scene_id == mtl.name.removesuffix("_MTL.txt")
    assert scene.band_path("B10") == f"/vsicurl/{base}/signed/{scene.scene_id}_B10.TIF?sig=ok"
    a = write_lst(url, tmp_path / "signed.tif")
    b = write_lst(mtl, tmp_path / "local.tif")
    with rasterio.open(a) as x, rasterio.open(b) as y:
        np.testing.assert_array_equal(x.read(1), y.read(1))
    with pytest.raises(RemoteError, match=r"HTTP 403 for file .*_MTL\.txt\?sig=bad"):
        find_scene(f"{base}/signed/{mtl.name}?sig=bad")


def test_an_mtl_json_url_with_a_query_is_parsed_as_json(stalling_server):
    root, base = stalling_server
    folder = shared_scene("LC08_L2SP_008059_20191201_fullscene_450m")
    (root / "signed" / "json").mkdir(parents=True)
    mtl = next(folder.glob("*_MTL.json"))
    shutil.copy(mtl, root / "signed" / "json" / mtl.name)
    scene = find_scene(f"{base}/signed/json/{mtl.name}?sig=ok")
    assert scene.level == "L2" and scene.scene_id == mtl.name.removesuffix("_MTL.json")
    assert str(scene.band_path("ST_TRAD")).endswith("_ST_TRAD.TIF?sig=ok")


def test_a_folder_url_says_give_the_mtl(stalling_server):
    root, base = stalling_server
    make_scene(root / "listing", bands=("B4",))
    assert is_scene(f"{base}/listing/")
    with pytest.raises(RemoteError, match="give the URL of the MTL file") as info:
        find_scene(f"{base}/listing/")
    assert "\n" not in str(info.value) and info.value.transient is False


def test_opening_remote_bands_sets_the_limits_again(http_server, monkeypatch):
    """Bands opened after the limits were taken out of the environment (a scene resolved
    before, in another thread or worker set-up) still read under them."""
    from pix2lst.geo.remote import HttpLimits

    _, url = _served_scene(http_server, "again", bands=("B4",))
    scene = find_scene(url)
    for key in HttpLimits().gdal_options():
        monkeypatch.delenv(key, raising=False)
    with SceneSource(scene, ("B4",), scene_calibrator("dn")(scene, ("B4",))) as src:
        assert src.read_rows(0, 4).shape == (1, 4, 128)
    assert os.environ["GDAL_HTTP_LOW_SPEED_TIME"] == "30"
    assert os.environ["GDAL_HTTP_MAX_RETRY"] == "3"

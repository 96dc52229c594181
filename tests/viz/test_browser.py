"""The offline viewer in a real headless Chromium (Selenium): loads offline, panes in sync and
filled by the image, titles whole, hover readout equal to the raster (temperature, difference,
map x/y, latitude/longitude), a scale bar. Skips when chromium/chromedriver are not installed.

A screenshot is kept in the pytest tmp dir and copied to ``tests/artifacts/viewer.png``.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
from rasterio.warp import transform as warp_transform

from pix2lst.viz import write_viewer
from tests.conftest import lst_values, write_lst

pytestmark = pytest.mark.browser

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
CHROMIUM = next(
    (p for p in ("/usr/bin/chromium", "/usr/bin/chromium-browser") if Path(p).exists()), None
)
CHROMEDRIVER = shutil.which("chromedriver") or (
    "/usr/bin/chromedriver" if Path("/usr/bin/chromedriver").exists() else None
)


@pytest.fixture(scope="module")
def driver() -> Iterator[Any]:
    if CHROMIUM is None or CHROMEDRIVER is None:
        pytest.skip(
            "headless browser test needs Debian chromium and chromium-driver (apt-get install chromium chromium-driver)"
        )
    webdriver = pytest.importorskip(
        "selenium.webdriver", reason="selenium is not installed (dev extra)"
    )
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="pix2lst-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        "--window-size=1400,900",
    ):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    drv = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    try:
        yield drv
    finally:
        drv.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _open(driver: Any, html: Path) -> list[dict[str, Any]]:
    """Load ``html``; return the network events of that load."""
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get_log("performance")  # drop the start page's events
    driver.get_log("browser")
    driver.get(html.as_uri())
    WebDriverWait(driver, 10).until(lambda d: d.execute_script("return !!window.pix2lst"))
    events = [json.loads(e["message"])["message"] for e in driver.get_log("performance")]
    return [e for e in events if e["method"].startswith("Network.")]


def _browser_internal(url: str) -> bool:
    """True for Chromium's own pages and resources (never requested by the viewer)."""
    return url.split(":", 1)[0] in {"chrome", "chrome-untrusted", "chrome-extension", "devtools"}


def _state(driver: Any) -> list[tuple[float, float, float]]:
    return [
        tuple(v)
        for v in driver.execute_script(
            "return window.pix2lst.maps.map(m => [m.getZoom(), m.getCenter().lat, m.getCenter().lng])"
        )
    ]


def _hover(driver: Any, element: Any) -> None:
    """Move the mouse off the maps, then onto the centre of ``element`` (a fresh mousemove)."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    header = driver.find_element(By.ID, "header")
    ActionChains(driver).move_to_element(header).move_to_element(element).perform()


def _celsius(text: str) -> float:
    m = re.search(r"(-?\d+\.\d+) °C", text)
    assert m is not None, text
    return float(m.group(1))


def test_viewer_in_headless_chromium(driver: Any, tmp_path: Path, sample_scene: Path) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    with rasterio.open(sample_scene / "test_B4.tif") as src:
        h, w, t = src.height, src.width, src.transform
    a_vals, b_vals = lst_values(h, w), lst_values(h, w, warm=-4.0) - 1.5
    kw: dict[str, Any] = {"res": t.a, "origin": (t.c, t.f)}
    a = write_lst(tmp_path / "a.tif", a_vals, **kw)
    b = write_lst(tmp_path / "b.tif", b_vals, date="2015-08-04", **kw)
    html = write_viewer([a, b], tmp_path / "viewer.html", rgb=sample_scene)

    # Loads with no failed request, nothing but the file itself and data: URIs, no error.
    # Chromium's own WebUI (chrome://, devtools://) can still be loading from its start page on
    # some builds; those requests are the browser's, not the viewer's, so they are set aside.
    network = [
        e
        for e in _open(driver, html)
        if not _browser_internal(e.get("params", {}).get("request", {}).get("url", ""))
        and not _browser_internal(e.get("params", {}).get("documentURL", ""))
    ]
    sent = [e for e in network if e["method"] == "Network.requestWillBeSent"]
    urls = [e["params"]["request"]["url"] for e in sent]
    assert urls and urls[0] == html.as_uri()
    assert all(u == html.as_uri() or u.startswith("data:") for u in urls), urls
    ours = {e["params"]["requestId"] for e in sent}
    failed = [
        e
        for e in network
        if e["method"] == "Network.loadingFailed" and e["params"]["requestId"] in ours
    ]
    assert not failed, failed
    severe = [
        e
        for e in driver.get_log("browser")
        if e["level"] == "SEVERE" and not _browser_internal(e.get("message", "").split(" ", 1)[0])
    ]
    assert not severe, severe

    # Every pane shows its image, decoded at the display size, and the image fills its pane.
    images = driver.find_elements(By.CSS_SELECTOR, "img.leaflet-image-layer")
    assert len(images) == 4  # A, B, B - A, true colour
    panes = driver.find_elements(By.CSS_SELECTOR, ".pane-map")
    for img, pane in zip(images, panes, strict=True):
        size = driver.execute_script(
            "return [arguments[0].complete, arguments[0].naturalWidth, arguments[0].naturalHeight]",
            img,
        )
        assert size == [True, w, h]
        assert img.is_displayed() and img.size["width"] > 100
        r, m = img.rect, pane.rect  # the picture covers its map: no empty band beside or below
        assert r["width"] >= 0.98 * m["width"] and r["height"] >= 0.98 * m["height"], (r, m)
    # Titles are whole: no label clipped, the full tag title is on the page.
    for i in range(4):
        clipped = driver.execute_script(
            "var e = document.getElementById('label-' + arguments[0]);"
            "return e.scrollHeight > e.clientHeight + 1 || e.scrollWidth > e.clientWidth + 1",
            i,
        )
        assert not clipped, i
    assert "TESTSCENE · 2015-01-22 · physics planck" in driver.find_element(By.ID, "label-0").text
    # The LST bar's 2-98 % stretch clips both ends: an arrow in the end's colour at each; the
    # difference (B - A is -1.5 K, -5.5 K in the block) fits its symmetric scale: no arrow.
    arrows = driver.find_elements(By.CSS_SELECTOR, ".colorbar-arrow")
    assert len(arrows) == 2 and all(a.is_displayed() and a.size["width"] > 5 for a in arrows)
    ramp = driver.find_elements(By.CSS_SELECTOR, ".colorbar-ramp")[0].rect
    low, high = arrows[0].rect, arrows[1].rect
    assert low["x"] + low["width"] <= ramp["x"] + 1 and high["x"] >= ramp["x"] + ramp["width"] - 1
    # A scale bar in every pane, in round metres or kilometres.
    scales = [e.text for e in driver.find_elements(By.CSS_SELECTOR, ".pix2lst-scale-text")]
    assert len(scales) == 4 and all(re.fullmatch(r"[125]0*( m| km)", s) for s in scales), scales

    # A zoom in one pane moves the others (double-click zooms in by zoomDelta).
    before = _state(driver)
    assert len(set(before)) == 1
    ActionChains(driver).move_to_element_with_offset(panes[0], 40, 30).double_click().perform()
    after = _state(driver)
    delta = driver.execute_script("return window.pix2lst.maps[0].options.zoomDelta")
    assert after[0][0] == pytest.approx(before[0][0] + delta)
    assert all(s == pytest.approx(after[0]) for s in after)
    ActionChains(driver).move_to_element(panes[3]).click_and_hold().move_by_offset(
        -80, 50
    ).release().perform()
    dragged = _state(driver)
    assert dragged[3][1:] != pytest.approx(after[3][1:])  # the drag moved the RGB pane...
    tol = 1.01 / 2 ** dragged[3][0]  # a screen pixel (Leaflet rounds pixel origins), in map units
    assert all(s == pytest.approx(dragged[3], abs=tol) for s in dragged), dragged  # ...followed

    # The hover readout is the raster's value at the pixel under the cursor, in every pane;
    # the status line gives latitude/longitude and map x/y of that pixel's centre.
    for row, col in [(300, 200), (h // 3 + 5, w // 4 + 5), (100, 500)]:
        driver.execute_script(
            "window.pix2lst.maps[0].setView([arguments[0], arguments[1]], 2)",
            -(row + 0.5),
            col + 0.5,
        )
        _hover(driver, panes[1])
        texts = [driver.find_element(By.ID, f"readout-{i}").text for i in range(4)]
        assert _celsius(texts[0]) == pytest.approx(a_vals[row, col] - 273.15, abs=0.02)
        assert _celsius(texts[1]) == pytest.approx(b_vals[row, col] - 273.15, abs=0.02)
        diff = float(re.fullmatch(r"([+-]\d+\.\d+) K", texts[2]).group(1))  # type: ignore[union-attr]
        assert diff == pytest.approx(b_vals[row, col] - a_vals[row, col], abs=0.03)
        assert "2015-01-22" in texts[3] and "2015-08-04" in texts[3]
        status = driver.find_element(By.ID, "status").text
        assert f"row {row}, col {col}" in status
        x, y = t * (col + 0.5, row + 0.5)
        assert f"x {x:.1f}, y {y:.1f} (EPSG:32616)" in status
        (lon,), (lat,) = warp_transform("EPSG:32616", "EPSG:4326", [x], [y])
        m = re.search(r"(\d+\.\d+)°N, (\d+\.\d+)°W", status)
        assert m is not None, status
        assert float(m.group(1)) == pytest.approx(lat, abs=2e-5)  # about 2 m
        assert -float(m.group(2)) == pytest.approx(lon, abs=2e-5)
    # Over the nodata border the readout says so.
    driver.execute_script("window.pix2lst.maps[0].setView([-1.5, 1.5], 2)")
    _hover(driver, panes[0])
    assert driver.find_element(By.ID, "readout-0").text == "nodata"

    driver.execute_script(
        "window.pix2lst.maps[0].fitBounds([[-arguments[0], 0], [0, arguments[1]]])", h, w
    )
    ActionChains(driver).move_to_element_with_offset(panes[0], 30, 20).perform()
    shot = tmp_path / "viewer.png"
    assert driver.save_screenshot(str(shot))
    from PIL import Image

    pixels = np.asarray(Image.open(shot).convert("RGB"), dtype=np.float64)
    grey = np.array([0xE8, 0xE8, 0xE8], dtype=np.float64)  # the empty map background
    for pane in panes:  # each pane really shows a picture, edge to edge, not a blank map
        r = pane.rect
        crop = pixels[
            int(r["y"]) + 2 : int(r["y"] + r["height"]) - 2,
            int(r["x"]) + 2 : int(r["x"] + r["width"]) - 2,
        ]
        assert crop.size and crop.std(axis=(0, 1)).max() > 10.0
        empty = np.all(np.abs(crop - grey) < 2, axis=-1)
        assert empty.mean() < 0.02, f"{empty.mean():.1%} of a pane is empty background"
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copy(shot, ARTIFACTS / "viewer.png")


def test_viewer_readout_on_decimated_raster(driver: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    rng = np.random.default_rng(1)
    values = (295.0 + 10.0 * rng.random((400, 500))).astype(np.float32)  # every pixel differs
    html = write_viewer(
        [write_lst(tmp_path / "r.tif", values)], tmp_path / "r.html", max_pixels=40_000
    )
    _open(driver, html)
    dh, dw = driver.execute_script(
        "return [window.pix2lst.config.height, window.pix2lst.config.width]"
    )
    assert dh * dw <= 40_000
    pane = driver.find_element(By.CSS_SELECTOR, ".pane-map")
    for row, col in [(10, 10), (123, 77), (dh - 3, dw - 4)]:
        driver.execute_script(
            "window.pix2lst.maps[0].setView([arguments[0], arguments[1]], 3)",
            -(row + 0.5),
            col + 0.5,
        )
        _hover(driver, pane)
        src_row, src_col = int((row + 0.5) * 400 / dh), int((col + 0.5) * 500 / dw)
        got = _celsius(driver.find_element(By.ID, "readout-0").text)
        assert got == pytest.approx(values[src_row, src_col] - 273.15, abs=0.02)
        assert f"source row {src_row}, col {src_col}" in driver.find_element(By.ID, "status").text

"""geo.decode.BlockReader: bit for bit what rasterio reads, one decode per block, fallbacks."""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import rasterio
from affine import Affine
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rasterio.windows import Window

from pix2lst.errors import ParameterError, SceneError
from pix2lst.geo.decode import BlockReader
from tests.conftest import shared_scene

INTS = ("uint8", "uint16", "int16", "uint32", "int32")
FLOATS = ("float32", "float64")


def _values(rng: np.random.Generator, dtype: str, shape: tuple[int, ...]) -> np.ndarray:
    """Random values spanning the dtype (floats: a smooth field plus noise, some NaN)."""
    if dtype in FLOATS:
        rows, cols = np.mgrid[0 : shape[-2], 0 : shape[-1]]
        a = (np.sin(rows / 7.0) + np.cos(cols / 5.0)) * 300.0 + rng.normal(size=shape)
        a[rng.random(shape) < 0.02] = np.nan
        return a.astype(dtype)
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max, size=shape, endpoint=True, dtype=dtype)


def _write(path: Path, data: np.ndarray, **profile: Any) -> Path:
    count, height, width = data.shape
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=width,
        height=height,
        count=count,
        dtype=data.dtype,
        crs="EPSG:32616",
        transform=Affine(30.0, 0.0, 500000.0, 0.0, -30.0, 3400000.0),
        **profile,
    ) as ds:
        ds.write(data)
    return path


@st.composite
def geotiffs(draw: st.DrawFn) -> dict[str, Any]:
    dtype = draw(st.sampled_from(INTS + FLOATS))
    height, width = draw(st.integers(1, 90)), draw(st.integers(1, 90))
    count = draw(st.sampled_from([1, 3]))
    compress = draw(st.sampled_from(["none", "deflate", "lzw", "zstd"]))
    profile: dict[str, Any] = {"compress": compress}
    if compress != "none":
        profile["predictor"] = draw(st.sampled_from([1] if dtype in FLOATS else [1, 2]))
    if draw(st.booleans()):
        block = draw(st.sampled_from([16, 32, 48]))
        profile.update(tiled=True, blockxsize=block, blockysize=draw(st.sampled_from([16, 32])))
    else:
        profile.update(tiled=False, blockysize=draw(st.integers(1, height)))
    if count > 1:
        profile["interleave"] = draw(st.sampled_from(["band", "band", "pixel"]))
    if draw(st.booleans()):
        profile["nodata"] = float("nan") if dtype in FLOATS else int(np.iinfo(dtype).max)
    if draw(st.integers(0, 4)) == 0:  # a big-endian file: tifffile's own decode path
        profile["endianness"] = "big"
    seed = draw(st.integers(0, 2**32 - 1))
    return {"dtype": dtype, "shape": (count, height, width), "profile": profile, "seed": seed}


@st.composite
def window_sequences(draw: st.DrawFn, height: int, width: int) -> list[tuple[int, int, int, int]]:
    """Random windows, then a downward stream of (sometimes overlapping) row strips."""
    windows = []
    for _ in range(draw(st.integers(1, 4))):
        r0, r1 = sorted(draw(st.lists(st.integers(0, height), min_size=2, max_size=2)))
        c0, c1 = sorted(draw(st.lists(st.integers(0, width), min_size=2, max_size=2)))
        windows.append((r0, max(r1, r0 + 1) if r0 < height else r1, c0, c1))
    c0, c1 = sorted(draw(st.lists(st.integers(0, width), min_size=2, max_size=2)))
    row = 0
    while row < height:
        step = draw(st.integers(1, 40))
        back = draw(st.integers(0, min(row, 12)))
        windows.append((row - back, min(row + step, height), c0, c1))
        row += step
    return [(r0, min(r1, height), c0, c1) for r0, r1, c0, c1 in windows]


@settings(
    max_examples=int(os.environ.get("DECODE_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(spec=geotiffs(), data=st.data())
def test_matches_rasterio(spec: dict[str, Any], data: st.DataObject, tmp_path: Path) -> None:
    rng = np.random.default_rng(spec["seed"])
    path = _write(tmp_path / "t.tif", _values(rng, spec["dtype"], spec["shape"]), **spec["profile"])
    count, height, width = spec["shape"]
    with rasterio.open(path) as ds:
        for band in range(1, count + 1):
            expected = ds.read(band)
            with BlockReader.open(path, band) as reader:  # type: ignore[union-attr]
                assert (reader.height, reader.width, reader.dtype) == (height, width, ds.dtypes[0])
                for r0, r1, c0, c1 in data.draw(window_sequences(height, width)):
                    # a strided view into a larger buffer, as the runtime's ring passes
                    buf = np.full((r1 - r0 + 3, 2 * (c1 - c0) + 5), 7, dtype=reader.dtype)
                    out = buf[2 : 2 + r1 - r0, 1 : 1 + 2 * (c1 - c0) : 2]
                    reader.read(r0, r1, c0, c1, out)
                    window = ds.read(band, window=Window(c0, r0, c1 - c0, r1 - r0))
                    np.testing.assert_array_equal(out, window)
                    np.testing.assert_array_equal(window, expected[r0:r1, c0:c1])
                    assert (buf[:2] == 7).all() and (buf[:, 0] == 7).all()


def test_sample_scene_every_band(sample_scene: Path) -> None:
    windows = [(0, 603, 0, 627), (0, 37, 5, 600), (300, 603, 611, 627), (100, 101, 0, 1)]
    tifs = sorted(sample_scene.glob("*.tif"))
    assert len(tifs) >= 10
    for path in tifs:
        with rasterio.open(path) as ds, BlockReader.open(path) as reader:  # type: ignore[union-attr]
            for r0, r1, c0, c1 in windows:
                out = np.empty((r1 - r0, c1 - c0), reader.dtype)
                reader.read(r0, r1, c0, c1, out)
                expected = ds.read(1, window=Window(c0, r0, c1 - c0, r1 - r0))
                np.testing.assert_array_equal(
                    out, expected, err_msg=f"{path.name} {r0, r1, c0, c1}"
                )


def test_real_collection2_band() -> None:
    scene = shared_scene("LC09_L1TP_063046_20230714_20230714_02_T1")
    path = next(iter(sorted(scene.glob("*_B10.TIF"))))
    with rasterio.open(path) as ds, BlockReader.open(path) as reader:  # type: ignore[union-attr]
        expected = ds.read(1)
        out = np.empty_like(expected)
        for row in range(0, reader.height, 50):
            end = min(row + 50, reader.height)
            reader.read(row, end, 0, reader.width, out[row:end])
        np.testing.assert_array_equal(out, expected)


def _counting(reader: BlockReader) -> list[tuple[int, int]]:
    """Record every block ``reader`` decodes and the block rows it keeps after each."""
    decoded: list[tuple[int, int]] = []
    decode = reader._decode_block

    def counted(br: int, bc: int) -> np.ndarray:
        decoded.append((br, bc))
        assert len(reader._cache) <= 2
        return decode(br, bc)

    reader._decode_block = counted  # type: ignore[method-assign]
    return decoded


def test_streaming_decodes_each_block_once(tmp_path: Path) -> None:
    data = _values(np.random.default_rng(1), "uint16", (1, 200, 150))
    path = _write(
        tmp_path / "s.tif",
        data,
        compress="deflate",
        predictor=2,
        tiled=True,
        blockxsize=64,
        blockysize=64,
    )
    with BlockReader.open(path) as reader:  # type: ignore[union-attr]
        decoded = _counting(reader)
        out = np.empty((200, 150), np.uint16)
        for r0, r1 in [(0, 40), (40, 56), (30, 72), (56, 72), (72, 130), (130, 200), (190, 200)]:
            reader.read(r0, r1, 0, 150, out[r0:r1])
            assert len(reader._cache) <= 2
        np.testing.assert_array_equal(out, data[0])
        assert sorted(decoded) == [(br, bc) for br in range(4) for bc in range(3)]
        # a window of two columns keeps only those columns' blocks
        reader.read(0, 10, 0, 10, out[:10, :10])
        assert sum(len(blocks) for blocks in reader._cache.values()) <= 4


def test_reading_down_reuses_one_block_row_of_buffers(tmp_path: Path) -> None:
    # a reader moving down frees the block rows above its window: the next row decodes
    # into their buffers (one row of fresh memory, not two); going back up decodes again
    data = _values(np.random.default_rng(5), "uint16", (1, 256, 150))
    path = _write(tmp_path / "d.tif", data, compress="deflate", predictor=2, tiled=True,
                  blockxsize=64, blockysize=64)  # fmt: skip
    with BlockReader.open(path) as reader:  # type: ignore[union-attr]
        decoded = _counting(reader)
        out = np.empty((256, 150), np.uint16)
        for r0 in range(0, 256, 16):
            reader.read(r0, r0 + 16, 0, 150, out[r0 : r0 + 16])
            assert list(reader._cache) == [r0 // 64]  # only the row being read
        np.testing.assert_array_equal(out, data[0])
        buffers = {id(b) for b in reader._pool}
        buffers |= {id(buf) for row in reader._cache.values() for _, buf in row.values()}
        assert len(buffers) == 3  # one block row's worth, reused by each row in turn
        assert len(decoded) == 12  # every block once
        back = np.empty((20, 150), np.uint16)
        reader.read(10, 30, 0, 150, back)  # back up: row 0 again
        np.testing.assert_array_equal(back, data[0, 10:30])
        assert len(decoded) == 15


def test_two_readers_of_one_file_in_two_threads(tmp_path: Path) -> None:
    data = _values(np.random.default_rng(2), "float32", (2, 300, 200))
    path = _write(
        tmp_path / "c.tif",
        data,
        compress="zstd",
        predictor=1,
        tiled=True,
        blockxsize=32,
        blockysize=32,
        interleave="band",
    )
    outs = [np.empty((300, 200), np.float32) for _ in range(2)]
    errors: list[BaseException] = []

    def stream(band: int) -> None:
        try:
            with BlockReader.open(path, band) as reader:  # type: ignore[union-attr]
                for _ in range(3):
                    for row in range(0, 300, 7):
                        end = min(row + 7, 300)
                        reader.read(row, end, 0, 200, outs[band - 1][row:end])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=stream, args=(band,)) for band in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for band in (0, 1):
        np.testing.assert_array_equal(outs[band], data[band])


def test_sparse_blocks_read_as_gdal_does(tmp_path: Path) -> None:
    path = tmp_path / "sparse.tif"
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=64,
        height=64,
        count=1,
        dtype="int16",
        nodata=-9,
        tiled=True,
        blockxsize=16,
        blockysize=16,
        compress="deflate",
        sparse_ok=True,
    ) as ds:
        ds.write(np.full((1, 16, 16), 5, np.int16), window=Window(16, 16, 16, 16))
    with rasterio.open(path) as ds, BlockReader.open(path) as reader:  # type: ignore[union-attr]
        out = np.empty((64, 64), np.int16)
        reader.read(0, 64, 0, 64, out)
        np.testing.assert_array_equal(out, ds.read(1))
    assert (out == -9).sum() == 64 * 64 - 256


def _tiled(tmp_path: Path, name: str = "t.tif", **profile: Any) -> Path:
    data = _values(np.random.default_rng(3), profile.pop("dtype", "uint16"), (1, 40, 40))
    base = {"tiled": True, "blockxsize": 16, "blockysize": 16}
    return _write(tmp_path / name, data, **{**base, **profile})


@pytest.mark.parametrize(
    ("profile", "why"),
    [
        ({"compress": "jpeg", "dtype": "uint8"}, "compression 7"),
        ({"compress": "lerc", "dtype": "float32"}, "compression 34887"),
        ({"compress": "deflate", "nbits": 12}, "12-bit"),
        ({"compress": "deflate", "predictor": 2, "dtype": "float32"}, "horizontal-differencing"),
        ({"compress": "zstd", "predictor": 3, "dtype": "float32"}, "floating-point predictor"),
        ({"compress": "deflate", "dtype": "int8"}, "sample type"),
    ],
)
def test_declines_what_it_cannot_decode(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, profile: dict[str, Any], why: str
) -> None:
    path = _tiled(tmp_path, **profile)
    with caplog.at_level("DEBUG", logger="pix2lst.geo.decode"):
        assert BlockReader.open(path) is None
    assert why in caplog.text


def test_declines_non_local_and_non_tiff(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    text = tmp_path / "notes.tif"
    text.write_text("not a tiff")
    path = _tiled(tmp_path, compress="deflate")
    with caplog.at_level("DEBUG", logger="pix2lst.geo.decode"):
        assert BlockReader.open("/vsicurl/https://example.org/a.tif") is None
        assert BlockReader.open("https://example.org/a.tif") is None
        assert BlockReader.open(tmp_path / "missing.tif") is None
        assert BlockReader.open(tmp_path) is None
        assert BlockReader.open(text) is None
        assert BlockReader.open(path, band=2) is None
    assert "not a local file" in caplog.text
    assert "not a TIFF" in caplog.text
    assert "band 2 is not one of its 1 samples" in caplog.text


def test_corrupt_and_truncated_blocks_raise_scene_error(tmp_path: Path) -> None:
    path = _tiled(tmp_path, compress="deflate", predictor=2)
    with BlockReader.open(path) as reader:  # type: ignore[union-attr]
        offset, count = reader._offsets[4], reader._counts[4]
    raw = bytearray(path.read_bytes())
    raw[offset : offset + count] = b"\x00garbage" * (count // 8) + b"\x01" * (count % 8)
    path.write_bytes(bytes(raw))
    with BlockReader.open(path) as reader:  # type: ignore[union-attr]
        out = np.empty((16, 40), np.uint16)
        reader.read(0, 16, 0, 40, out)  # block row 0 is intact
        with pytest.raises(SceneError, match=r"t\.tif: block 4 \(block row 1, block col 1\)") as e:
            reader.read(16, 32, 0, 40, out)
    assert "\n" not in str(e.value) and "again" in str(e.value)
    path.write_bytes(bytes(raw[: offset + count // 2]))
    with BlockReader.open(path) as reader, pytest.raises(SceneError, match="truncated"):  # type: ignore[union-attr]
        reader.read(16, 32, 0, 40, out)


def test_bad_windows_and_outputs_raise_parameter_error(tmp_path: Path) -> None:
    path = _tiled(tmp_path, compress="lzw")
    reader = BlockReader.open(path)
    assert reader is not None
    assert reader.block_shape == (16, 16) and "40x40 uint16" in repr(reader)
    with pytest.raises(ParameterError, match="outside"):
        reader.read(0, 41, 0, 10, np.empty((41, 10), np.uint16))
    with pytest.raises(ParameterError, match="shape"):
        reader.read(0, 10, 0, 10, np.empty((10, 11), np.uint16))
    with pytest.raises(ParameterError, match="dtype"):
        reader.read(0, 10, 0, 10, np.empty((10, 10), np.int8))
    wide = np.empty((10, 10), np.float32)  # a lossless cast is allowed
    reader.read(0, 10, 0, 10, wide)
    reader.read(5, 5, 0, 10, np.empty((0, 10), np.uint16))
    reader.close()
    reader.close()


def test_sources_decode_with_block_readers_and_give_gdals_values(
    sample_scene: Path, tmp_path: Path
) -> None:
    # the scene and composite sources decode local blocks themselves unless told
    # decoder="gdal"; both give the same DN, values and windows
    from pix2lst.geo.sources import open_source
    from pix2lst.lst_physics import scene_calibrator
    from pix2lst.lst_physics import write_composite as physics_composite

    bands = ("B1", "B2", "B3", "B4", "B5", "B6", "B7", "B10")
    comp = physics_composite(sample_scene, tmp_path / "c.tif")
    for src in (sample_scene, comp):
        opened = [
            open_source(src, bands, "toa", calibrate=scene_calibrator("toa"), decoder=d)
            for d in ("auto", "gdal")
        ]
        fast, gdal = opened
        try:
            # the composite's float predictor is left to GDAL (faster there)
            assert (fast._blocks is not None) == (src == sample_scene)  # type: ignore[attr-defined]
            assert gdal._blocks is None  # type: ignore[attr-defined]
            np.testing.assert_array_equal(fast.read_rows(3, 200), gdal.read_rows(3, 200))
            window = Window(100, 50, 300, 77)
            a = np.empty((len(bands), 77, 300), np.float32)
            b = np.empty_like(a)
            fast.read(window, out=a)  # type: ignore[attr-defined]
            gdal.read(window, out=b)  # type: ignore[attr-defined]
            np.testing.assert_array_equal(a, b)
            if hasattr(fast, "read_dn"):
                x = np.empty((len(bands), 60, 200), fast.dn_dtype)  # type: ignore[attr-defined]
                y = np.empty_like(x)
                fast.read_dn(10, 70, (400, 600), x)  # type: ignore[attr-defined]
                gdal.read_dn(10, 70, (400, 600), y)  # type: ignore[attr-defined]
                np.testing.assert_array_equal(x, y)
        finally:
            for each in opened:
                each.close()
    with pytest.raises(ParameterError, match="decoder must be one of auto, gdal"):
        open_source(sample_scene, bands, calibrate=scene_calibrator("toa"), decoder="tiff")


def test_reopened_sources_read_the_same_in_their_own_threads(
    sample_scene: Path, tmp_path: Path
) -> None:
    # parallel readers take handles from reopen(): the scene, calibration and parsed
    # block layout are shared, only files are opened. Each handle reads in its own thread
    # (a GDAL-decoded one opens its datasets there) and is closed by this thread; the
    # original keeps working after its copies are closed
    from pix2lst.geo.sources import open_source
    from pix2lst.lst_physics import scene_calibrator
    from pix2lst.lst_physics import write_composite as physics_composite

    bands = ("B1", "B2", "B3", "B4", "B5", "B6", "B7", "B10")
    comp = physics_composite(sample_scene, tmp_path / "c.tif")
    window = Window(37, 20, 400, 150)
    for src, decoder in [(sample_scene, "auto"), (sample_scene, "gdal"), (comp, "auto")]:
        first = open_source(src, bands, "toa", calibrate=scene_calibrator("toa"), decoder=decoder)
        try:
            want = first.read(window)  # type: ignore[attr-defined]
            copies = [first.reopen() for _ in range(3)]  # type: ignore[attr-defined]
            if first._blocks is not None:  # type: ignore[attr-defined]
                for c in copies:  # new file handles, the parsed layout shared
                    assert c._datasets is None  # GDAL not opened while blocks are decoded here
                    for a, b in zip(c._blocks, first._blocks, strict=True):
                        assert a._fh is not b._fh and a._offsets is b._offsets

            def read(copy: Any) -> Any:
                return copy.read(window, out=np.empty((len(bands), 150, 400), np.float32))

            with ThreadPoolExecutor(len(copies)) as pool:  # read in threads other than this one
                got = list(pool.map(read, copies))
            for g in got:
                np.testing.assert_array_equal(g, want)
            for c in copies:
                c.close()
            np.testing.assert_array_equal(first.read(window), want)  # type: ignore[attr-defined]
        finally:
            first.close()

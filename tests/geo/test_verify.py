"""The read-back check of a written raster (:mod:`pix2lst.geo.verify`): a truncated file,
a block that does not decode (an overview's too), values other than those written."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.crs import CRS

from pix2lst.errors import OutputWriteError
from pix2lst.geo.grid import Grid
from pix2lst.geo.verify import checksum, verify_raster
from pix2lst.geo.writer import raster_writer

GRID = Grid(CRS.from_epsg(32616), Affine(30.0, 0, 400_000.0, 0, -30.0, 3_400_000.0), 600, 520)


def _values() -> np.ndarray:
    v = np.linspace(280, 320, GRID.width * GRID.height, dtype=np.float32)
    return v.reshape(GRID.height, GRID.width)


def test_verify_reads_every_block(tmp_path: Path) -> None:
    out = tmp_path / "lst.tif"
    with raster_writer(out, GRID, overviews=False) as w:
        w.write_rows(0, _values())
    data = out.read_bytes()
    cut = tmp_path / "cut.tif"
    cut.write_bytes(data[: len(data) * 2 // 3])  # a truncated file, as a full disk leaves
    with pytest.raises(OutputWriteError, match="failed"):
        verify_raster(cut, GRID, 1)


def test_verify_decodes_every_block_of_every_overview(tmp_path: Path) -> None:
    out = tmp_path / "lst.tif"
    noisy = _values() + np.random.default_rng(0).normal(0, 3, _values().shape).astype(np.float32)
    with raster_writer(out, GRID) as w:
        w.write_rows(0, noisy)
    verify_raster(out, GRID, 1, checksum(noisy))  # the writer's own file passes
    with rasterio.open(out, OVERVIEW_LEVEL=1) as ovr:  # a block of the last overview
        off = int(ovr.get_tag_item("BLOCK_OFFSET_0_0", "TIFF", bidx=1))
        n = int(ovr.get_tag_item("BLOCK_SIZE_0_0", "TIFF", bidx=1))
    data = bytearray(out.read_bytes())
    data[off + n // 2 : off + n] = bytes(n - n // 2)  # zeroed as a lost write leaves it
    bad = tmp_path / "bad.tif"
    bad.write_bytes(bytes(data))
    with pytest.raises(OutputWriteError, match=r"failed \(overview 1:4 does not read back"):
        verify_raster(bad, GRID, 1)


def test_verify_compares_the_values_with_those_written(tmp_path: Path) -> None:
    # a block that decodes but holds other values (a zeroed block of an uncompressed
    # file) differs from the checksum of what was written
    out = tmp_path / "lst.tif"
    values = _values()
    with raster_writer(out, GRID, overviews=False, creation_options=["COMPRESS=NONE"]) as w:
        w.write_rows(0, values)
    with rasterio.open(out) as ds:
        off = int(ds.get_tag_item("BLOCK_OFFSET_1_1", "TIFF", bidx=1))
        n = int(ds.get_tag_item("BLOCK_SIZE_1_1", "TIFF", bidx=1))
    data = bytearray(out.read_bytes())
    data[off : off + n] = bytes(n)
    bad = tmp_path / "bad.tif"
    bad.write_bytes(bytes(data))
    verify_raster(bad, GRID, 1)  # every block reads: without the checksum it passes
    with pytest.raises(OutputWriteError, match=r"reads back other values than were written"):
        verify_raster(bad, GRID, 1, checksum(values))


def test_checksum_is_the_sum_of_the_bits_in_any_order() -> None:
    rng = np.random.default_rng(1)
    a = rng.normal(300, 5, (3, 40, 50)).astype(np.float32)
    a[0, :3] = np.nan
    whole = checksum(a)
    parts = checksum(a[:, :17]) + checksum(a[:, 17:])
    np.testing.assert_array_equal(whole, parts)
    assert whole.dtype == np.uint64 and whole.shape == (3,)
    expected = [sum(int(v) for v in band.view(np.uint32).ravel()) % 2**64 for band in a]
    assert [int(v) for v in whole] == expected
    b = a.copy()
    b[1, 5, 5] = np.nextafter(b[1, 5, 5], np.float32(np.inf))  # one ulp
    assert checksum(b)[1] != whole[1] and checksum(b)[0] == whole[0]
    assert int(checksum(a[2])[0]) == int(whole[2])  # a 2-D array is one band


def test_any_codec_gdal_writes_is_read_back_by_gdal(tmp_path: Path) -> None:
    # the check is GDAL's own reading: another codec (LERC) and a raster written in
    # windows (each pixel once: its checksum compared) pass; so does one written in part
    # (no checksum: the rest is nodata)
    out = tmp_path / "lerc.tif"
    values = _values()
    with raster_writer(out, GRID, creation_options=["COMPRESS=LERC"]) as w:
        w.write_rows(0, values[:100])
        w.write_rows(100, values[100:])
        assert w.written() is not None
    with rasterio.open(out) as ds:
        assert ds.profile["compress"] == "lerc" and ds.overviews(1) == [2, 4]
        np.testing.assert_array_equal(ds.read(1), values)
    verify_raster(out, GRID, 1, checksum(values))
    part = tmp_path / "part.tif"
    with raster_writer(part, GRID) as w:
        w.write_rows(0, values[:100])
        assert w.written() is None
    with rasterio.open(part) as ds:
        assert np.isnan(ds.read(1)[100:]).all()

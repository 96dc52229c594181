"""The model folder: generator weights, JSON model definition, parity tiles.

Layout of ``FOLDER/``:

* ``generator.pt``: ``state_dict`` of the bare :class:`UNetGenerator` (no wrapper prefixes);
* ``model.json``: the model definition: architecture, bands, tile size,
  normalisation, statistics of the training split, metrics, scenes, history;
* ``parity_tiles.npy``: a few normalised validation tiles for the ONNX parity check;
* ``show_results.png``, ``show_batch.png`` (and ``lr_find.png`` when the finder ran);
* ``model.onnx``: the self-describing ONNX model (see :mod:`pix2lst.export.onnx_export`).

This module writes and reads what it is given; it computes nothing. Metrics,
figures and the ONNX file are orchestrated by :meth:`pix2lst.export.learner.Pix2Pix.save`,
which calls :func:`save_model` first and :func:`pix2lst.export.onnx_export.export_model`
after it (the data flows one way: learner -> model_io <- onnx_export).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from pix2lst import __version__
from pix2lst.errors import ModelError, OutputExistsError
from pix2lst.export.dataset import TileData
from pix2lst.export.networks import GeneratorConfig, UNetGenerator, count_parameters
from pix2lst.export.norm import Normalisation
from pix2lst.geo.atomic import atomic_output

__all__ = [
    "DEFINITION_NAME",
    "PARITY_NAME",
    "WEIGHTS_NAME",
    "load_model",
    "model_definition",
    "save_model",
    "write_definition",
]

DEFINITION_NAME = "model.json"
WEIGHTS_NAME = "generator.pt"
PARITY_NAME = "parity_tiles.npy"


def model_definition(
    data: TileData,
    generator: nn.Module,
    gconfig: GeneratorConfig,
    *,
    metrics: Mapping[str, float],
    train_config: Mapping[str, Any],
    history: Sequence[Mapping[str, Any]],
    physics_method: str = "",
) -> dict[str, Any]:
    """The JSON model definition of a generator trained on ``data``."""
    valid_scenes = sorted({data.records[i].scene for i in data.valid_idx})
    return {
        "format": "pix2lst-model/1",
        "pix2lst_version": __version__,
        "architecture": gconfig.to_dict(),
        "parameters": count_parameters(generator),
        "bands": list(data.bands),
        "input_units": "toa",
        "tile_size": data.tile_size,
        "normalisation": asdict(data.norm),
        "input_stats": asdict(data.input_stats),
        "lst_stats": asdict(data.lst_stats),
        "metrics": dict(metrics),
        "training_scenes": data.scenes,
        "validation_scenes": valid_scenes,
        "n_train_tiles": len(data.train_idx),
        "n_valid_tiles": len(data.valid_idx),
        "train_config": dict(train_config),
        "history": [dict(h) for h in history],
        "physics_method": physics_method,
    }


def write_definition(
    folder: str | os.PathLike[str], definition: Mapping[str, Any], *, overwrite: bool = True
) -> Path:
    """Write ``definition`` as the folder's ``model.json`` (atomically)."""
    path = Path(folder) / DEFINITION_NAME
    with atomic_output(path, overwrite=overwrite) as tmp:
        tmp.write_text(json.dumps(definition, indent=2))
    return path


def check_model_folder(folder: str | os.PathLike[str], *, overwrite: bool = False) -> Path:
    """``folder`` as a Path; :class:`OutputExistsError` when it holds files and not ``overwrite``."""
    out = Path(folder)
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise OutputExistsError(f"{out} exists and is not empty; pass overwrite=True to replace it")
    return out


def save_model(
    folder: str | os.PathLike[str],
    generator: nn.Module,
    definition: Mapping[str, Any],
    parity_tiles: np.ndarray,
    *,
    overwrite: bool = False,
) -> Path:
    """Write the generator weights, ``definition`` and the parity tiles into ``folder``.

    ``parity_tiles`` are normalised real tiles (N, C, T, T); NaN is stored as 0.
    Raises :class:`OutputExistsError` when ``folder`` holds files and not ``overwrite``.
    """
    out = check_model_folder(folder, overwrite=overwrite)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_output(out / WEIGHTS_NAME, overwrite=True) as tmp:
        torch.save(generator.state_dict(), tmp)
    with atomic_output(out / PARITY_NAME, overwrite=True, suffix=".npy") as tmp:
        np.save(tmp, np.nan_to_num(parity_tiles, nan=0.0))
    write_definition(out, definition)
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

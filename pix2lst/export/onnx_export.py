"""ONNX export of the bare generator, with metadata and a torch-vs-ORT parity check.

The graph is the generator in eval mode: ``y = G(x)`` with ``x`` the normalised
input ``(batch, C, T, T)`` float32 (dynamic batch, fixed tile ``T``) and ``y``
the normalised output ``(batch, 1, T, T)``. Everything else the runtime needs
(band order, normalisation, de-normalisation to kelvin and the output unit
``K``, tile size, target representation) is in ``metadata_props`` as written by
:meth:`pix2lst.runtime.metadata.ModelMetadata.to_props`.

Parity: ONNX Runtime (CPU) and torch run the same real tiles; the largest
absolute difference, converted to kelvin (``|dy| * output_scale``; for an
LST - BT model the added BT is identical on both sides), must be at most
``tolerance_k`` (0.01 K) or the export is refused with :class:`ModelError` and
nothing is written. The optional fp16 variant stores weights and computes in
float16 with float32 inputs and outputs (Cast nodes at both ends).
"""

from __future__ import annotations

import copy
import io
import os
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import torch
from torch import nn

from pix2lst import __version__
from pix2lst.errors import ModelError
from pix2lst.export.model_io import PARITY_NAME, load_model
from pix2lst.export.norm import Normalisation
from pix2lst.geo.atomic import atomic_output, check_output
from pix2lst.runtime.metadata import KELVIN, ModelMetadata

__all__ = [
    "OPSET",
    "ExportReport",
    "export_model",
    "export_onnx",
    "fit_tiles",
    "metadata_for",
    "onnx_parity",
]

OPSET = 17
TOLERANCE_K = 0.01


@dataclass(frozen=True)
class ExportReport:
    path: Path
    tile_size: int
    size_bytes: int
    max_abs_diff_k: float
    n_parity_tiles: int
    fp16_path: Path | None = None
    fp16_size_bytes: int | None = None
    fp16_max_abs_diff_k: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(self).items()}


class _Half(nn.Module):
    """float32 in, float16 compute, float32 out."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x.half()).float()


def fit_tiles(x: np.ndarray, tile: int) -> np.ndarray:
    """Real tiles (N, C, t, t) brought to ``tile`` px: reflect-padded or centre-cropped."""
    t = x.shape[-1]
    if t == tile:
        return x
    if t > tile:
        o = (t - tile) // 2
        return np.ascontiguousarray(x[..., o : o + tile, o : o + tile])
    while x.shape[-1] < tile:
        pad = min(tile - x.shape[-1], x.shape[-1] - 1)
        x = np.pad(x, ((0, 0), (0, 0), (0, pad), (0, pad)), mode="reflect")
    return np.ascontiguousarray(x)


DYNAMIC_AXES = {
    "x": {0: "batch", 2: "height", 3: "width"},
    "y": {0: "batch", 2: "height", 3: "width"},
}
"""Batch and spatial dims are symbolic: the model runs at any multiple of ``2**depth``
(``LSTPredictor(tile_size=...)``); ``pix2lst.tile_size`` stays the tile it was made for."""


def _to_onnx_bytes(net: nn.Module, example: torch.Tensor) -> bytes:
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            net, (example,), buf,  # type: ignore[arg-type]
            dynamo=False, opset_version=OPSET,
            input_names=["x"], output_names=["y"],
            dynamic_axes=DYNAMIC_AXES, do_constant_folding=True,
        )  # fmt: skip
    return buf.getvalue()


def onnx_parity(model_bytes: bytes, net: nn.Module, x: np.ndarray) -> float:
    """Largest |ORT - torch| on normalised inputs ``x`` (N, C, T, T), normalised units."""
    sess = ort.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
    with torch.no_grad():
        ref = net(torch.from_numpy(x)).float().numpy()
    got = np.concatenate([sess.run(["y"], {"x": x[i : i + 1]})[0] for i in range(len(x))])
    return float(np.max(np.abs(got.astype(np.float64) - ref)))


def export_onnx(
    generator: nn.Module,
    metadata: ModelMetadata,
    out: str | os.PathLike[str],
    parity_x: np.ndarray,
    *,
    fp16: bool = False,
    tolerance_k: float = TOLERANCE_K,
    overwrite: bool = False,
) -> ExportReport:
    """Export ``generator`` (eval mode, CPU) to ``out`` with ``metadata``; parity-checked.

    ``parity_x`` are real normalised tiles (N, C, T, T) at the metadata tile size.
    """
    path = check_output(out, overwrite=overwrite)
    tile = metadata.tile_size
    if parity_x.ndim != 4 or parity_x.shape[1:] != (len(metadata.bands), tile, tile):
        raise ModelError(f"parity tiles must be (N, {len(metadata.bands)}, {tile}, {tile}), "
                         f"not {parity_x.shape}")  # fmt: skip
    net = generator.cpu().eval()
    x = np.ascontiguousarray(parity_x, dtype=np.float32)
    props = metadata.to_props()

    def build(model_net: nn.Module, dst: Path, tol_k: float) -> tuple[int, float]:
        model = onnx.load_from_string(_to_onnx_bytes(model_net, torch.from_numpy(x[:1])))
        onnx.helper.set_model_props(model, props)
        onnx.checker.check_model(model)
        data = model.SerializeToString()
        diff_k = onnx_parity(data, model_net, x) * metadata.output_scale
        if diff_k > tol_k:
            raise ModelError(
                f"ONNX Runtime and torch differ by {diff_k:.4g} K on real tiles (limit {tol_k} K); "
                "the export was refused: check for unsupported ops or use float32"
            )
        with atomic_output(dst, overwrite=overwrite) as tmp:
            tmp.write_bytes(data)
        return len(data), diff_k

    size, diff = build(net, path, tolerance_k)
    report = ExportReport(path, tile, size, diff, len(x))
    if fp16:
        half = _Half(copy.deepcopy(net).half()).eval()
        hpath = path.with_name(path.stem + "_fp16.onnx")
        with torch.no_grad():
            ref32 = net(torch.from_numpy(x)).numpy()
            ref16 = half(torch.from_numpy(x)).numpy()
        # fp16 is checked against its own torch twin; its cost vs fp32 is reported too
        hsize, hdiff = build(half, hpath, max(tolerance_k, 1.0))
        report = ExportReport(path, tile, size, diff, len(x), hpath, hsize,
                              max(hdiff, float(np.abs(ref16 - ref32).max()) * metadata.output_scale))  # fmt: skip
    return report


def export_model(
    folder: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    tile_size: int | None = None,
    fp16: bool = False,
    parity_tiles: np.ndarray | None = None,
    overwrite: bool = False,
) -> ExportReport:
    """Export a saved model folder (see :mod:`pix2lst.export.model_io`) to ONNX.

    ``tile_size`` overrides the training tile size (the generator is fully
    convolutional; it must be a multiple of ``2**depth``). Parity runs on the
    folder's saved validation tiles, reflect-padded or cropped to that size.
    """
    check_output(out, overwrite=overwrite)
    gen, definition, norm = load_model(folder)
    depth = int(definition["architecture"]["depth"])
    tile = int(tile_size or definition["tile_size"])
    if tile % (2**depth):
        raise ModelError(f"tile size {tile} is not a multiple of 2**depth = {2**depth}")
    if parity_tiles is None:
        ppath = Path(folder) / PARITY_NAME
        if not ppath.is_file():
            raise ModelError(f"{ppath} not found: pass parity_tiles (normalised real tiles)")
        parity_tiles = np.load(ppath)
    meta = metadata_for(definition, norm, tile)
    return export_onnx(
        gen, meta, out, fit_tiles(parity_tiles, tile), fp16=fp16, overwrite=overwrite
    )


def metadata_for(definition: dict[str, Any], norm: Normalisation, tile: int) -> ModelMetadata:
    """The runtime metadata of a model definition at inference tile size ``tile``."""
    arch = dict(definition["architecture"])
    arch["training_tile_size"] = int(definition["tile_size"])
    arch["parameters"] = int(definition.get("parameters", 0))
    return ModelMetadata(
        bands=norm.bands, input_units=definition.get("input_units", "toa"),
        input_scale=norm.input_scale, input_offset=norm.input_offset,
        output_scale=norm.output_scale, output_offset=norm.output_offset, output_units=KELVIN,
        tile_size=tile, target=norm.target, residual_band=norm.residual_band,
        depth=int(arch["depth"]), physics_method=definition.get("physics_method", ""),
        training_scenes=tuple(definition.get("training_scenes", ())),
        metrics={k: float(v) for k, v in definition.get("metrics", {}).items()},
        architecture=arch, pix2lst_version=__version__,
    )  # fmt: skip

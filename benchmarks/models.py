"""The model the benchmarks drive, and its torch twin for the baselines.

:func:`default_model` is ``--model`` when given, else the shipped default
(:func:`pix2lst.data.default_model_path`), else a labelled STAND-IN of the same
architecture with random weights (U-Net depth 7, 16 filters, 256 px tiles; 2 filters
and 128 px under ``--quick``). :func:`tiny_model` is a U-Net of a few filters for the
benchmarks' own tests. Models built here are exported to ONNX (opset 17, dynamic
batch) with pix2lst metadata under ``cache/models/``, with their torch weights
beside them (``.pt``). A model without ``.pt`` (the shipped one) gets its torch twin
from its ONNX initialisers (:func:`load_torch`).
"""

from __future__ import annotations

import json
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from pix2lst.data import default_model_path
from pix2lst.runtime.metadata import ModelMetadata

__all__ = ["ModelSpec", "default_model", "load_torch", "read_metadata", "tiny_model"]

BANDS = ("B1", "B2", "B3", "B4", "B5", "B6", "B7", "B10")


@dataclass(frozen=True)
class ModelSpec:
    """A model file and what the reports say about it."""

    key: str
    onnx: str
    label: str
    depth: int
    width: int
    tile: int
    stand_in: bool
    torch_weights: str | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def read_metadata(path: str | Path) -> ModelMetadata:
    """The pix2lst metadata of an ONNX file."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    props = {p.key: p.value for p in model.metadata_props}
    return ModelMetadata.from_props(props, source=str(path))


def _stand_in_metadata(depth: int, tile: int, arch: dict[str, Any]) -> ModelMetadata:
    # Plausible normalisation: TOA reflectance 0..1 -> [-1, 1]; BT 250..350 K -> [-1, 1];
    # output [-1, 1] -> 250..350 K.
    return ModelMetadata(
        bands=BANDS,
        input_units="toa",
        input_scale=(2.0,) * 7 + (1 / 50,),
        input_offset=(-1.0,) * 7 + (-6.0,),
        output_scale=50.0,
        output_offset=300.0,
        tile_size=tile,
        depth=depth,
        physics_method="benchmark stand-in (random weights)",
        architecture=arch,
        pix2lst_version="benchmark",
    )


def _build(cache: Path, key: str, depth: int, width: int, tile: int) -> tuple[Path, Path]:
    """Export a random-weight U-Net to ``cache/models/<key>.onnx`` (+ ``.pt``), once."""
    folder = cache / "models"
    onnx_path = folder / f"{key}.onnx"
    pt_path = folder / f"{key}.pt"
    if onnx_path.exists() and pt_path.exists():
        return onnx_path, pt_path
    import onnx
    import torch

    from pix2lst.export.networks import GeneratorConfig, UNetGenerator

    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    config = GeneratorConfig(in_channels=len(BANDS), depth=depth, width=width)
    net = UNetGenerator(config).eval()
    tmp = onnx_path.with_suffix(".partial.onnx")
    with warnings.catch_warnings():  # the TorchScript exporter's deprecation notices
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            net, (torch.zeros(1, len(BANDS), tile, tile),), str(tmp), dynamo=False,
            opset_version=17, input_names=["input"], output_names=["output"],
            dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}},
        )  # fmt: skip
    model = onnx.load(str(tmp))
    meta = _stand_in_metadata(depth, tile, config.to_dict())
    for k, v in meta.to_props().items():
        entry = model.metadata_props.add()
        entry.key, entry.value = k, v
    onnx.save(model, str(tmp))
    torch.save(net.state_dict(), pt_path)
    tmp.rename(onnx_path)
    return onnx_path, pt_path


def _spec(path: Path, label: str) -> ModelSpec:
    meta = read_metadata(path)
    arch = dict(meta.architecture)
    depth = int(arch.get("depth", meta.depth))
    width = int(arch.get("width", 0))
    pt = path.with_suffix(".pt")
    return ModelSpec(
        "default", str(path),
        f"{label} (U-Net depth {depth}, {width} filters, {meta.tile_size} px tiles)",
        depth, width, meta.tile_size, False, str(pt) if pt.is_file() else None,
    )  # fmt: skip


def default_model(cache: Path, *, quick: bool = False, path: Path | None = None) -> ModelSpec:
    """``path``, or the shipped default model, or a labelled stand-in when there is none."""
    if path is not None:
        return _spec(path, path.name)
    shipped = default_model_path()
    if shipped.exists():
        return _spec(shipped, "shipped default")
    depth, width, tile = (7, 2, 128) if quick else (7, 16, 256)
    onnx_path, pt = _build(cache, f"standin_d{depth}_w{width}_t{tile}", depth, width, tile)
    return ModelSpec(
        "default", str(onnx_path),
        f"STAND-IN for the default (no shipped model): U-Net depth {depth}, {width} "
        f"filters, {tile} px tiles, random weights",
        depth, width, tile, True, str(pt),
    )  # fmt: skip


def tiny_model(cache: Path) -> Path:
    """A U-Net of depth 5 and 2 filters on 64 px tiles, random weights (for quick tests)."""
    return _build(cache, "tiny_d5_w2_t64", 5, 2, 64)[0]


def _load_onnx_weights(net: Any, path: str) -> int:
    """Copy an exported generator's ONNX initialisers into ``net``; return tensors matched.

    Tensors keep their state-dict names, except where the exporter folded a
    BatchNorm into the convolution before it (``onnx::Conv_*`` weight + bias, in
    graph order): that convolution takes the folded weight, and its BatchNorm
    becomes the identity plus the folded bias.
    """
    import numpy as np
    import onnx
    import torch
    from onnx import numpy_helper
    from torch import nn

    graph = onnx.load(path).graph
    inits = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    folded = iter([np.array(inits[n]) for n in inits if n.startswith("onnx::Conv_")])
    matched = 0
    modules = list(net.modules())
    with torch.no_grad():
        for i, mod in enumerate(modules):
            if not isinstance(mod, (nn.Conv2d, nn.ConvTranspose2d, nn.BatchNorm2d)):
                continue
            names = {
                n: p
                for n, p in mod.state_dict(keep_vars=True).items()
                if n != "num_batches_tracked"
            }
            prefix = next(k for k, m in net.named_modules() if m is mod)
            full = {f"{prefix}.{n}": n for n in names}
            if all(k in inits for k in full):
                for k, n in full.items():
                    names[n].copy_(torch.from_numpy(np.array(inits[k])))
                matched += len(full)
                continue
            nxt = modules[i + 1] if i + 1 < len(modules) else None
            if isinstance(mod, nn.Conv2d) and isinstance(nxt, nn.BatchNorm2d):
                w, b = next(folded), next(folded)
                mod.weight.copy_(torch.from_numpy(w))
                nxt.weight.fill_(1.0)
                nxt.bias.copy_(torch.from_numpy(b))
                if nxt.running_mean is not None and nxt.running_var is not None:
                    nxt.running_mean.zero_()
                    nxt.running_var.fill_(1.0 - nxt.eps)
                matched += len(full) + 4
    return matched


def load_torch(spec: dict[str, Any]) -> Any:
    """The torch generator of a :class:`ModelSpec` (as a dict), eval mode, weights loaded.

    Weights come from the ``.pt`` file, or for a shipped model from its ONNX
    initialisers (:func:`_load_onnx_weights`; the count of matched tensors is
    stored as ``net.matched_weights``).
    """
    import torch

    from pix2lst.export.networks import GeneratorConfig, UNetGenerator

    meta = read_metadata(spec["onnx"])
    arch = {k: v for k, v in dict(meta.architecture).items() if k != "name"}
    arch.setdefault("in_channels", len(meta.bands))
    arch.setdefault("depth", spec["depth"])
    arch.setdefault("width", spec["width"])
    known = set(GeneratorConfig.__dataclass_fields__)
    net = UNetGenerator(GeneratorConfig(**{k: v for k, v in arch.items() if k in known}))
    if spec.get("torch_weights"):
        net.load_state_dict(torch.load(spec["torch_weights"], weights_only=True))
        matched = len(net.state_dict())
    else:
        matched = _load_onnx_weights(net, spec["onnx"])
    net.eval()
    total = sum(1 for k in net.state_dict() if not k.endswith("num_batches_tracked"))
    setattr(net, "matched_weights", json.dumps([min(matched, total), total]))  # noqa: B010
    return net

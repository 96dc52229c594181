"""The self-describing model: what a pix2lst ONNX file carries in ``metadata_props``.

This module is the contract between :mod:`pix2lst.export` (which writes the
metadata) and :mod:`pix2lst.runtime` (which reads it). It imports neither torch
nor onnxruntime.

The network maps a normalised input tile to a normalised output tile:

* input, per band ``i`` in :attr:`ModelMetadata.bands` order:
  ``x_norm[i] = x[i] * input_scale[i] + input_offset[i]``, where ``x`` is the
  composite in :attr:`ModelMetadata.input_units` (``"toa"``: TOA reflectance for
  B1-B7 and brightness temperature in kelvin for B10; ``"dn"``: raw DN);
* output (one band): ``y_k = y_norm * output_scale + output_offset`` and, when
  :attr:`ModelMetadata.target` is ``"lst_minus_bt"``, the residual is added to
  the un-normalised brightness temperature band named by
  :attr:`ModelMetadata.residual_band`: ``LST = y_k + x[residual_band]``. The
  result is in :attr:`ModelMetadata.output_units`, which must be kelvin (``"K"``).

Format versions: 1 had no ``output_units`` key (its outputs are kelvin: such
files, e.g. the shipped default model, are read as ``"K"``); from 2 on the key is
required, and a file that lacks it or names another unit is refused.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from pix2lst.errors import ModelError

__all__ = ["FORMAT_VERSION", "KELVIN", "OUTPUT_UNITS", "TARGETS", "ModelMetadata"]

FORMAT_VERSION = 2
"""Version of the metadata layout; bumped on incompatible changes (2: ``output_units``)."""

KELVIN = "K"
"""The unit of the de-normalised output (``pix2lst.output_units``)."""

OUTPUT_UNITS = (KELVIN,)
"""Output units the runtime accepts."""

_UNITS_SINCE = 2
"""The first format version whose files must carry ``output_units``."""

TARGETS = ("lst", "lst_minus_bt")
"""What the network predicts: LST itself, or the correction LST - BT."""

_PREFIX = "pix2lst."


@dataclass(frozen=True)
class ModelMetadata:
    """Everything the runtime needs to use a model, and provenance for people."""

    bands: tuple[str, ...]
    input_units: str
    input_scale: tuple[float, ...]
    input_offset: tuple[float, ...]
    output_scale: float
    output_offset: float
    tile_size: int
    output_units: str = KELVIN
    target: str = "lst"
    residual_band: str | None = None
    depth: int = 0
    physics_method: str = ""
    training_scenes: tuple[str, ...] = ()
    metrics: Mapping[str, float] = field(default_factory=dict)
    architecture: Mapping[str, Any] = field(default_factory=dict)
    pix2lst_version: str = ""
    format_version: int = FORMAT_VERSION

    def __post_init__(self) -> None:
        n = len(self.bands)
        if n == 0:
            raise ModelError("model metadata lists no input bands")
        if len(set(self.bands)) != n:
            raise ModelError(f"model metadata lists a band twice: {list(self.bands)}")
        if len(self.input_scale) != n or len(self.input_offset) != n:
            raise ModelError(
                f"model metadata has {n} bands but {len(self.input_scale)} input scales and "
                f"{len(self.input_offset)} input offsets; re-export the model"
            )
        values = (*self.input_scale, *self.input_offset, self.output_scale, self.output_offset)
        if not all(math.isfinite(v) for v in values):
            raise ModelError("model metadata holds a non-finite normalisation constant")
        if self.output_scale == 0 or any(s == 0 for s in self.input_scale):
            raise ModelError("model metadata holds a zero normalisation scale")
        if self.output_units not in OUTPUT_UNITS:
            raise ModelError(
                f"model output units are {self.output_units!r}, but pix2lst needs a model whose "
                f"de-normalised output is kelvin ({KELVIN!r}); re-export it with pix2lst.export"
            )
        if self.input_units not in ("toa", "dn"):
            raise ModelError(f"input_units must be 'toa' or 'dn', not {self.input_units!r}")
        if self.target not in TARGETS:
            raise ModelError(f"target must be one of {TARGETS}, not {self.target!r}")
        if self.target == "lst_minus_bt":
            if self.residual_band is None or self.residual_band not in self.bands:
                raise ModelError(
                    "a model that predicts LST - BT needs residual_band naming one of its "
                    f"input bands (bands: {list(self.bands)}, residual_band: {self.residual_band!r})"
                )
        if self.tile_size <= 0:
            raise ModelError(f"tile_size must be positive, not {self.tile_size}")
        if self.depth < 0 or (self.depth and self.tile_size % (2**self.depth)):
            raise ModelError(
                f"tile_size {self.tile_size} is not a multiple of 2**depth = {2**self.depth}"
            )
        if self.format_version < 1:
            raise ModelError(
                f"model metadata format {self.format_version} is not a version (1 to "
                f"{FORMAT_VERSION}); re-export the model"
            )
        if self.format_version > FORMAT_VERSION:
            raise ModelError(
                f"model metadata format {self.format_version} is newer than this pix2lst "
                f"understands ({FORMAT_VERSION}); upgrade pix2lst"
            )

    # -- (de)serialisation -------------------------------------------------
    def to_props(self) -> dict[str, str]:
        """Return the ``metadata_props`` entries (string keys and values) for an ONNX file."""
        props: dict[str, str] = {}
        for key, value in asdict(self).items():
            props[_PREFIX + key] = json.dumps(value)
        return props

    @classmethod
    def from_props(cls, props: Mapping[str, str], *, source: str = "the model") -> ModelMetadata:
        """Rebuild metadata from ``metadata_props``; raise :class:`ModelError` if absent or bad."""
        ours = {k[len(_PREFIX) :]: v for k, v in props.items() if k.startswith(_PREFIX)}
        if not ours:
            raise ModelError(
                f"{source} carries no pix2lst metadata (band order, normalisation, tile size); "
                "export it with `pix2lst export` or pix2lst.export.export_onnx()"
            )
        required = (
            "bands",
            "input_units",
            "input_scale",
            "input_offset",
            "output_scale",
            "output_offset",
            "tile_size",
        )
        missing = [k for k in required if k not in ours]
        if missing:
            raise ModelError(f"{source} lacks pix2lst metadata keys {missing}; re-export it")
        try:
            raw = {k: json.loads(v) for k, v in ours.items()}
        except json.JSONDecodeError as exc:
            raise ModelError(f"{source} has malformed pix2lst metadata: {exc}") from exc
        known = set(cls.__dataclass_fields__)
        kwargs: dict[str, Any] = {k: v for k, v in raw.items() if k in known}
        try:
            # files without a format version predate version 2 (and output_units)
            version = kwargs["format_version"] = int(kwargs.get("format_version", 1))
            if "output_units" not in kwargs and version >= _UNITS_SINCE:
                raise ModelError(
                    f"{source} has pix2lst metadata format {version} but no output_units key "
                    f"(the unit of its output, {KELVIN!r}); re-export it with pix2lst.export"
                )
            units = kwargs.get("output_units", KELVIN)
            if units not in OUTPUT_UNITS:
                raise ModelError(
                    f"{source} gives output in {units!r}, but pix2lst needs kelvin output "
                    f"(output_units {KELVIN!r}); re-export it with pix2lst.export"
                )
            for key in ("bands", "input_scale", "input_offset", "training_scenes"):
                if key in kwargs:
                    kwargs[key] = tuple(kwargs[key])
            kwargs["tile_size"] = int(kwargs["tile_size"])
            kwargs["output_scale"] = float(kwargs["output_scale"])
            kwargs["output_offset"] = float(kwargs["output_offset"])
            kwargs["input_scale"] = tuple(float(v) for v in kwargs["input_scale"])
            kwargs["input_offset"] = tuple(float(v) for v in kwargs["input_offset"])
            return cls(**kwargs)
        except (TypeError, ValueError) as exc:
            if isinstance(exc, ModelError):
                raise
            raise ModelError(f"{source} has malformed pix2lst metadata: {exc}") from exc

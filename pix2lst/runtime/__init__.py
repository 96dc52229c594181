"""The torch-free runtime: ONNX Runtime sessions, padded tiling, Numba blending, streaming GeoTIFF.

This subpackage never imports torch. Names are imported lazily (as in
:mod:`pix2lst.export`), so ``import pix2lst.runtime.metadata`` (the contract the
export side writes) needs neither onnxruntime nor numba. Typical use::

    from pix2lst.runtime import LSTPredictor

    predictor = LSTPredictor("model.onnx", providers="auto", padding=64, blend="hann")
    summary = predictor.predict_file("scene_folder_or_composite.tif", "lst.tif", cog=True)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pix2lst._lazy import lazy_names

if TYPE_CHECKING:  # the real types for type checkers; at run time see __getattr__
    from pix2lst.geo.sources import open_source
    from pix2lst.runtime.blending import BLENDS, blend_weights
    from pix2lst.runtime.metadata import FORMAT_VERSION, TARGETS, ModelMetadata
    from pix2lst.runtime.model import BatchRunner, LoadedModel, load_model
    from pix2lst.runtime.pipeline import PipelineStats, run_pipeline
    from pix2lst.runtime.predictor import UNITS, LSTPredictor, PredictionSummary
    from pix2lst.runtime.priority import IO_PRIORITIES
    from pix2lst.runtime.session import (
        PROVIDER_ALIASES,
        SessionConfig,
        available_providers,
        create_session,
        resolve_providers,
    )
    from pix2lst.runtime.strips import StripRunner
    from pix2lst.runtime.tiling import TILINGS, TileGrid, default_padding, reflect_index

__all__ = [
    "BLENDS",
    "FORMAT_VERSION",
    "IO_PRIORITIES",
    "PROVIDER_ALIASES",
    "TARGETS",
    "TILINGS",
    "UNITS",
    "BatchRunner",
    "LSTPredictor",
    "LoadedModel",
    "ModelMetadata",
    "PipelineStats",
    "PredictionSummary",
    "SessionConfig",
    "StripRunner",
    "TileGrid",
    "available_providers",
    "blend_weights",
    "create_session",
    "default_padding",
    "load_model",
    "open_source",
    "reflect_index",
    "resolve_providers",
    "run_pipeline",
]

_WHERE = {
    "BLENDS": "blending", "blend_weights": "blending",
    "FORMAT_VERSION": "metadata", "TARGETS": "metadata", "ModelMetadata": "metadata",
    "BatchRunner": "model", "LoadedModel": "model", "load_model": "model",
    "IO_PRIORITIES": "priority", "PipelineStats": "pipeline", "run_pipeline": "pipeline",
    "UNITS": "predictor", "LSTPredictor": "predictor", "PredictionSummary": "predictor",
    "PROVIDER_ALIASES": "session", "SessionConfig": "session",
    "available_providers": "session", "create_session": "session",
    "resolve_providers": "session", "open_source": "pix2lst.geo.sources",
    "TileGrid": "tiling", "default_padding": "tiling", "reflect_index": "tiling",
    "TILINGS": "tiling", "StripRunner": "strips",
}  # fmt: skip

__getattr__, __dir__ = lazy_names(__name__, _WHERE)

"""The torch-free runtime: ONNX Runtime sessions, padded tiling, Numba blending, streaming GeoTIFF.

This subpackage never imports torch. Typical use::

    from pix2lst.runtime import LSTPredictor

    predictor = LSTPredictor("model.onnx", providers="auto", padding=64, blend="hann")
    summary = predictor.predict_file("scene_folder_or_composite.tif", "lst.tif", cog=True)
"""

from pix2lst.geo.sources import open_source
from pix2lst.runtime.blending import BLENDS, blend_weights
from pix2lst.runtime.metadata import FORMAT_VERSION, TARGETS, ModelMetadata
from pix2lst.runtime.model import BatchRunner, LoadedModel, load_model
from pix2lst.runtime.pipeline import IO_PRIORITIES, PipelineStats, run_pipeline
from pix2lst.runtime.predictor import UNITS, LSTPredictor, PredictionSummary
from pix2lst.runtime.session import (
    PROVIDER_ALIASES,
    SessionConfig,
    available_providers,
    create_session,
    resolve_providers,
)
from pix2lst.runtime.tiling import TileGrid, default_padding, reflect_index

__all__ = [
    "BLENDS",
    "FORMAT_VERSION",
    "IO_PRIORITIES",
    "PROVIDER_ALIASES",
    "TARGETS",
    "UNITS",
    "BatchRunner",
    "LSTPredictor",
    "LoadedModel",
    "ModelMetadata",
    "PipelineStats",
    "PredictionSummary",
    "SessionConfig",
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

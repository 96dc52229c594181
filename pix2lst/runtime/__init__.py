"""The torch-free runtime: ONNX Runtime sessions, padded tiling, Numba blending, streaming GeoTIFF.

This subpackage never imports torch. Names are imported lazily (as in
:mod:`pix2lst.export`), so ``import pix2lst.runtime.metadata`` (the contract the
export side writes) needs neither onnxruntime nor numba. Typical use::

    from pix2lst.runtime import LSTPredictor

    predictor = LSTPredictor("model.onnx", providers="auto", padding=64, blend="hann")
    print(predictor.explain())  # the plan: provider, sessions, threads, batch, tile...
    summary = predictor.predict_file("scene_folder_or_composite.tif", "lst.tif", cog=True)

The names below are what a user calls; the modules (``pipeline``, ``kernels``,
``session``...) are the runtime's internals.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pix2lst._lazy import lazy_names

if TYPE_CHECKING:  # the real types for type checkers; at run time see __getattr__
    from pix2lst.errors import ModelError, ParameterError, ProviderError
    from pix2lst.runtime.blending import BLENDS
    from pix2lst.runtime.metadata import ModelMetadata
    from pix2lst.runtime.model import LoadedModel, load_model
    from pix2lst.runtime.plan import Plan, decide_plan
    from pix2lst.runtime.predictor import UNITS, LSTPredictor
    from pix2lst.runtime.session import SessionConfig, available_providers, resolve_providers
    from pix2lst.runtime.summary import PredictionSummary

__all__ = [
    "BLENDS",
    "UNITS",
    "LSTPredictor",
    "LoadedModel",
    "ModelError",
    "ModelMetadata",
    "ParameterError",
    "Plan",
    "PredictionSummary",
    "ProviderError",
    "SessionConfig",
    "available_providers",
    "decide_plan",
    "load_model",
    "resolve_providers",
]

_WHERE = {
    "BLENDS": "blending", "ModelMetadata": "metadata",
    "LoadedModel": "model", "load_model": "model",
    "Plan": "plan", "decide_plan": "plan",
    "UNITS": "predictor", "LSTPredictor": "predictor", "PredictionSummary": "summary",
    "SessionConfig": "session", "available_providers": "session",
    "resolve_providers": "session",
    "ModelError": "pix2lst.errors", "ParameterError": "pix2lst.errors",
    "ProviderError": "pix2lst.errors",
}  # fmt: skip

__getattr__, __dir__ = lazy_names(__name__, _WHERE)

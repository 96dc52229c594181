"""Tiny ONNX models and composites for the runtime tests (plus tests of the helpers).

The models are built with ``onnx.helper`` and carry real pix2lst metadata:
a constant model, an identity-of-one-band model and a small two-layer conv net,
all with a dynamic batch and a fixed tile size.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx

from pix2lst.runtime.metadata import ModelMetadata
from tests.conftest import make_model, sample_dn


def test_models_carry_metadata(tmp_path: Path) -> None:
    path = make_model(tmp_path / "c.onnx", "conv", tile=32)
    model = onnx.load(str(path))
    props = {p.key: p.value for p in model.metadata_props}
    assert ModelMetadata.from_props(props).tile_size == 32
    assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "N"


def test_sample_dn_is_real() -> None:
    arr = sample_dn()
    assert arr.shape == (8, 627, 603) or arr.shape == (8, 603, 627)
    assert 10000 < float(np.median(arr[7])) < 40000  # band-10 DN of a real scene

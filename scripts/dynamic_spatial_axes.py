"""One-off: give an exported pix2lst ONNX model symbolic height/width (same weights, same metadata).

Models exported before dynamic spatial axes have a fixed ``(batch, C, T, T)``
input; their graph is fully convolutional, so naming dims 2 and 3 lets ONNX
Runtime run them at any multiple of ``2**depth`` (``LSTPredictor(tile_size=...)``).
Usage: ``python scripts/dynamic_spatial_axes.py MODEL.onnx [OUT.onnx]`` (default: in place).
Needs the ``onnx`` package (the export extra); the runtime does not.
"""

from __future__ import annotations

import sys
from pathlib import Path

import onnx


def make_dynamic(src: Path, dst: Path) -> None:
    model = onnx.load(str(src))
    for node in (*model.graph.input, *model.graph.output):
        dims = node.type.tensor_type.shape.dim
        if len(dims) == 4:
            dims[2].ClearField("dim_value")
            dims[2].dim_param = "height"
            dims[3].ClearField("dim_value")
            dims[3].dim_param = "width"
    del model.graph.value_info[:]  # inferred intermediate shapes would pin the tile again
    onnx.checker.check_model(model)
    dst.write_bytes(model.SerializeToString())


if __name__ == "__main__":
    src = Path(sys.argv[1])
    make_dynamic(src, Path(sys.argv[2]) if len(sys.argv) > 2 else src)

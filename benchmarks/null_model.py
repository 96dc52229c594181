"""A null model: the shipped model's metadata, a graph that returns zeros.

Run through the pipeline it measures the host side alone (decoding, calibration,
normalisation, tile copies, blending, compression and writing): ONNX Runtime
does next to nothing (one ``ConstantOfShape`` per batch). The output is exactly
``output_offset`` (plus the residual band for an ``lst_minus_bt`` model) on every
valid pixel.
"""

from __future__ import annotations

from pathlib import Path

from benchmarks.models import read_metadata

__all__ = ["null_model"]


def null_model(like: str | Path, dst: Path) -> Path:
    """Write (once) a zeros-out ONNX model carrying ``like``'s pix2lst metadata to ``dst``."""
    if dst.exists():
        return dst
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    meta = read_metadata(like)
    n = len(meta.bands)
    # symbolic height and width, as exported models have: it runs any tile size
    x = helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", n, "height", "width"])
    y = helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch", 1, "height", "width"])
    inits = [
        numpy_helper.from_array(np.array([0], dtype=np.int64), "first"),
        numpy_helper.from_array(np.array([1], dtype=np.int64), "one"),
        numpy_helper.from_array(np.array([2, 3], dtype=np.int64), "hw"),
    ]
    nodes = [
        helper.make_node("Shape", ["input"], ["shape"]),
        helper.make_node("Gather", ["shape", "first"], ["n"], axis=0),
        helper.make_node("Gather", ["shape", "hw"], ["size"], axis=0),
        helper.make_node("Concat", ["n", "one", "size"], ["out_shape"], axis=0),
        helper.make_node(
            "ConstantOfShape", ["out_shape"], ["output"],
            value=numpy_helper.from_array(np.array([0.0], dtype=np.float32)),
        ),
    ]  # fmt: skip
    graph = helper.make_graph(nodes, "pix2lst_null", [x], [y], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 9
    for key, value in meta.to_props().items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(model)
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_suffix(".partial.onnx")
    onnx.save(model, str(tmp))
    tmp.rename(dst)
    return dst

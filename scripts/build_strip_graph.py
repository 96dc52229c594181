"""Build ``pix2lst/data/models/strip_tiles.onnx``: the graph that cuts tiles out of a strip.

The runtime's device tiling (:mod:`pix2lst.runtime.strips`) uploads each strip of
normalised input rows once and lets ONNX Runtime cut the overlapping tiles on the
model's device, instead of copying 4x-overlapping tiles on the host and uploading
those. The graph is tiny and generic (every size symbolic), so it ships as a file
and the runtime needs neither ``onnx`` nor torch to use it. Run this script (it needs
``onnx``, a dev dependency) after changing the graph; a test checks that the shipped
file is what it builds.

Inputs:
    ``strip``  float32 ``(bands, tile, width)``: one strip's rows, columns already
               padded (reflected at the scene border);
    ``starts`` int64 ``(n,)``: the first column of each tile in the strip.
Output:
    ``tiles``  float32 ``(n, bands, tile, tile)``: ``strip[:, :, s:s + tile]`` for each
               ``s`` in ``starts``.

    python scripts/build_strip_graph.py [--check]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "pix2lst" / "data" / "models" / "strip_tiles.onnx"
OPSET = 17
IR_VERSION = 8  # readable by onnxruntime >= 1.17, the oldest the runtime supports


def build() -> bytes:
    """The serialised graph (deterministic: the same bytes on every run)."""
    import onnx
    from onnx import TensorProto, helper

    i64 = TensorProto.INT64
    consts = [
        helper.make_tensor("one", i64, [], [1]),
        helper.make_tensor("zero", i64, [], [0]),
        helper.make_tensor("axis0", i64, [1], [0]),
        helper.make_tensor("axis1", i64, [1], [1]),
    ]
    nodes = [
        helper.make_node("Shape", ["strip"], ["shape"]),
        helper.make_node("Gather", ["shape", "one"], ["tile"], axis=0),  # scalar: rows
        helper.make_node("Range", ["zero", "tile", "one"], ["offsets"]),  # (tile,)
        helper.make_node("Unsqueeze", ["starts", "axis1"], ["starts_col"]),  # (n, 1)
        helper.make_node("Unsqueeze", ["offsets", "axis0"], ["offsets_row"]),  # (1, tile)
        helper.make_node("Add", ["starts_col", "offsets_row"], ["columns"]),  # (n, tile)
        helper.make_node("Gather", ["strip", "columns"], ["gathered"], axis=2),  # (b, t, n, t)
        helper.make_node("Transpose", ["gathered"], ["tiles"], perm=[2, 0, 1, 3]),
    ]
    graph = helper.make_graph(
        nodes,
        "pix2lst_strip_tiles",
        [
            helper.make_tensor_value_info("strip", TensorProto.FLOAT, ["bands", "tile", "width"]),
            helper.make_tensor_value_info("starts", i64, ["n"]),
        ],
        [helper.make_tensor_value_info("tiles", TensorProto.FLOAT, ["n", "bands", "tile", "tile"])],
        initializer=consts,
    )
    model = helper.make_model(
        graph,
        producer_name="pix2lst scripts/build_strip_graph.py",
        opset_imports=[helper.make_opsetid("", OPSET)],
    )
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model, full_check=True)
    return model.SerializeToString()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check the shipped file")
    args = parser.parse_args(argv)
    data = build()
    if args.check:
        same = OUT.is_file() and OUT.read_bytes() == data
        print(f"{OUT}: {'up to date' if same else 'OUT OF DATE: run scripts/build_strip_graph.py'}")
        return 0 if same else 1
    OUT.write_bytes(data)
    print(f"wrote {OUT} ({len(data)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

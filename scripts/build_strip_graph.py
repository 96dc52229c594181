"""Build ``pix2lst/data/models/strip_tiles*.onnx``: the graphs that cut tiles out of a strip.

The runtime's device tiling (:mod:`pix2lst.runtime.strips`) uploads each strip of
normalised input rows once and lets ONNX Runtime cut the overlapping tiles on the
model's device, instead of copying 4x-overlapping tiles on the host and uploading
those. The graph is tiny and generic (every size symbolic), so it ships as a file
and the runtime needs neither ``onnx`` nor torch to use it. Run this script (it needs
``onnx``, a dev dependency) after changing the graph; a test checks that the shipped
file is what it builds.

``strip_tiles.onnx`` (normalised model input):
    ``strip``  float32 ``(bands, tile, width)``: one strip's rows, columns already
               padded (reflected at the scene border);
    ``starts`` int64 ``(n,)``: the first column of each tile in the strip;
    -> ``tiles`` float32 ``(n, bands, tile, tile)``: ``strip[:, :, s:s + tile]`` for
               each ``s`` in ``starts``.
``strip_tiles_dn.onnx`` (a scene's raw DN, the compact upload):
    ``strip``  uint16 ``(bands, tile, width)``: DN;
    ``starts`` as above;
    ``lut``    float32 ``(bands, entries)``: the model input of every DN of each band
               (calibration and normalisation in one table, 0 for nodata);
    -> ``tiles`` float32 ``(n, bands, tile, tile)``: ``lut[b, strip[b, :, s:s + tile]]``.

    python scripts/build_strip_graph.py [--check]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

MODELS = Path(__file__).resolve().parents[1] / "pix2lst" / "data" / "models"
OUT = {"values": MODELS / "strip_tiles.onnx", "dn": MODELS / "strip_tiles_dn.onnx"}
OPSET = 17
IR_VERSION = 8  # readable by onnxruntime >= 1.17, the oldest the runtime supports


def build(kind: str = "values") -> bytes:
    """The serialised graph of ``kind`` (``values`` or ``dn``); the same bytes on every run."""
    import onnx
    from onnx import TensorProto, helper

    i64 = TensorProto.INT64
    consts = [
        helper.make_tensor("one", i64, [], [1]),
        helper.make_tensor("zero", i64, [], [0]),
        helper.make_tensor("axis0", i64, [1], [0]),
        helper.make_tensor("axis1", i64, [1], [1]),
    ]
    tiles = "tiles" if kind == "values" else "dn_tiles"
    nodes = [
        helper.make_node("Shape", ["strip"], ["shape"]),
        helper.make_node("Gather", ["shape", "one"], ["tile"], axis=0),  # scalar: rows
        helper.make_node("Range", ["zero", "tile", "one"], ["offsets"]),  # (tile,)
        helper.make_node("Unsqueeze", ["starts", "axis1"], ["starts_col"]),  # (n, 1)
        helper.make_node("Unsqueeze", ["offsets", "axis0"], ["offsets_row"]),  # (1, tile)
        helper.make_node("Add", ["starts_col", "offsets_row"], ["columns"]),  # (n, tile)
        helper.make_node("Gather", ["strip", "columns"], ["gathered"], axis=2),  # (b, t, n, t)
        helper.make_node("Transpose", ["gathered"], [tiles], perm=[2, 0, 1, 3]),
    ]
    inputs = [
        helper.make_tensor_value_info(
            "strip",
            TensorProto.FLOAT if kind == "values" else TensorProto.UINT16,
            ["bands", "tile", "width"],
        ),
        helper.make_tensor_value_info("starts", i64, ["n"]),
    ]
    if kind == "dn":
        # model input = lut[band, dn]: one flat gather at dn + band * entries
        consts += [
            helper.make_tensor("band_shape", i64, [4], [1, -1, 1, 1]),
            helper.make_tensor("flat", i64, [1], [-1]),
        ]
        nodes += [
            helper.make_node("Shape", ["lut"], ["lut_shape"]),
            helper.make_node("Gather", ["lut_shape", "zero"], ["bands"], axis=0),
            helper.make_node("Gather", ["lut_shape", "one"], ["entries"], axis=0),
            helper.make_node("Range", ["zero", "bands", "one"], ["band_index"]),
            helper.make_node("Mul", ["band_index", "entries"], ["band_base"]),
            helper.make_node("Reshape", ["band_base", "band_shape"], ["band_base64"]),
            # int32 indices (at most bands x 65536): half the bytes of int64 on the device
            helper.make_node("Cast", ["band_base64"], ["band_base4"], to=TensorProto.INT32),
            helper.make_node("Cast", ["dn_tiles"], ["dn32"], to=TensorProto.INT32),
            helper.make_node("Add", ["dn32", "band_base4"], ["index"]),  # (n, bands, t, t)
            helper.make_node("Reshape", ["lut", "flat"], ["lut_flat"]),
            helper.make_node("Gather", ["lut_flat", "index"], ["tiles"], axis=0),
        ]
        inputs.append(helper.make_tensor_value_info("lut", TensorProto.FLOAT, ["bands", "entries"]))
    graph = helper.make_graph(
        nodes,
        f"pix2lst_strip_tiles_{kind}",
        inputs,
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
    stale = 0
    for kind, out in OUT.items():
        data = build(kind)
        if args.check:
            same = out.is_file() and out.read_bytes() == data
            stale += not same
            print(f"{out}: {'up to date' if same else 'OUT OF DATE: run this script'}")
            continue
        out.write_bytes(data)
        print(f"wrote {out} ({len(data)} bytes)")
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main())

"""Graph edits around the tensorflowjs converter, and the check that its fused ops are sound.

tensorflowjs 4.22's `normalize_bias_add` turns any Add/AddV2 whose first input is a Conv2D,
DepthwiseConv2dNative or MatMul (with no other consumer) into a BiasAdd, without checking that the
other operand is a 1-D constant. Grappler then fuses a residual sum into `_FusedConv2D` as if it were
a bias, which the wasm backend rejects ("FusedConv2D only supports rank-1 bias but got rank 4") and
other backends compute by luck of broadcasting. Swapping the operands of such an Add before
conversion (addition is commutative, bit for bit) keeps the converter from misreading it.
"""
from __future__ import annotations

import base64
import json
from pathlib import Path

PRODUCERS = {"Conv2D", "DepthwiseConv2dNative", "MatMul"}
FUSED = {"_FusedConv2D", "FusedDepthwiseConv2dNative", "_FusedMatMul"}


def _base(name: str) -> str:
    return name.lstrip("^").split(":")[0]


def swap_residual_adds(graph_def) -> list[str]:
    """Put the non-constant operand first in each Add the converter would misread; the names edited."""
    nodes = {n.name: n for n in graph_def.node}
    consumers: dict[str, int] = {}
    for node in graph_def.node:
        for name in node.input:
            consumers[_base(name)] = consumers.get(_base(name), 0) + 1
    edited = []
    for node in graph_def.node:
        if node.op not in ("Add", "AddV2") or len(node.input) < 2:
            continue
        first, second = nodes.get(_base(node.input[0])), nodes.get(_base(node.input[1]))
        if first is None or second is None or first.op not in PRODUCERS or consumers.get(first.name) != 1:
            continue
        if second.op == "Const" and len(second.attr["value"].tensor.tensor_shape.dim) == 1:
            continue
        if second.op in PRODUCERS and consumers.get(second.name) == 1:
            continue
        node.input[0], node.input[1] = node.input[1], node.input[0]
        edited.append(node.name)
    return edited


def unsound_fusions(model_json: Path) -> list[str]:
    """Fused ops of a converted model whose bias is not a rank-1 weight: each as 'name (reason)'."""
    model = json.loads(Path(model_json).read_text())
    weights = {w["name"]: w["shape"] for group in model["weightsManifest"] for w in group["weights"]}
    bad = []
    for node in model["modelTopology"]["node"]:
        if node["op"] not in FUSED:
            continue
        ops = [base64.b64decode(s).decode() for s in node.get("attr", {}).get("fused_ops", {})
               .get("list", {}).get("s", [])]
        if "BiasAdd" not in ops:
            continue
        bias = _base(node["input"][2]) if len(node["input"]) > 2 else None
        shape = weights.get(bias)
        if shape is None or len(shape) != 1:
            bad.append(f"{node['name']} (bias {bias} has shape {shape if shape else 'of a computed tensor'})")
    return bad


DT_INT32, DT_INT64 = 3, 9
PASS_THROUGH = {"Squeeze", "Identity", "Reshape"}


def simplify(graph_def) -> list[str]:
    """Edits that leave the class map as it is: argmax of the logits (no softmax in front), int32 ids.

    The softmax stays in the graph for the `BiseNetV2/prob` output but is no longer on the class map's path.
    """
    nodes = {n.name: n for n in graph_def.node}
    consumers: dict[str, list] = {}
    for node in graph_def.node:
        for name in node.input:
            consumers.setdefault(_base(name), []).append(node)
    edits = []
    for node in graph_def.node:
        if node.op != "ArgMax":
            continue
        source = nodes.get(_base(node.input[0]))
        if source is not None and source.op == "Softmax":
            node.input[0] = source.input[0]
            edits.append(f"{node.name}: argmax of the logits, without {source.name} in front")
        if node.attr["output_type"].type == DT_INT64:
            node.attr["output_type"].type = DT_INT32
            edits.append(f"{node.name}: int32 class ids")
            chain = list(consumers.get(node.name, []))
            while chain:
                after = chain.pop()
                if after.op in PASS_THROUGH and after.attr["T"].type == DT_INT64:
                    after.attr["T"].type = DT_INT32
                    chain.extend(consumers.get(after.name, []))
    return edits

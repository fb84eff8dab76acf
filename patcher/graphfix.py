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
from typing import Any

PRODUCERS = {"Conv2D", "DepthwiseConv2dNative", "MatMul"}
FUSED = {"_FusedConv2D", "FusedDepthwiseConv2dNative", "_FusedMatMul"}


def _base(name: str) -> str:
    return name.lstrip("^").split(":")[0]


def _consumers(graph_def: Any) -> dict[str, list[Any]]:
    found: dict[str, list] = {}
    for node in graph_def.node:
        for name in node.input:
            found.setdefault(_base(name), []).append(node)
    return found


def _misread(node: Any, nodes: dict, consumers: dict) -> bool:
    """True when an Add with `node` first is one the converter may read as a bias: `node` is a producer
    with no other consumer, or a BiasAdd (no other consumer) of one, which TensorFlow's constant folding
    drops when its bias is zero (as slim's biases start), leaving the producer first."""
    if node.op == "BiasAdd" and len(consumers.get(node.name, [])) == 1:
        node = nodes.get(_base(node.input[0]))
        if node is None:
            return False
    return node.op in PRODUCERS and len(consumers.get(node.name, [])) == 1


def swap_residual_adds(graph_def: Any) -> list[str]:
    """Put the non-constant operand first in each Add the converter would misread; the names edited."""
    nodes = {n.name: n for n in graph_def.node}
    consumers = _consumers(graph_def)
    edited = []
    for node in graph_def.node:
        if node.op not in ("Add", "AddV2") or len(node.input) < 2:
            continue
        first, second = nodes.get(_base(node.input[0])), nodes.get(_base(node.input[1]))
        if first is None or second is None or not _misread(first, nodes, consumers):
            continue
        if second.op == "Const" and len(second.attr["value"].tensor.tensor_shape.dim) == 1:
            continue
        if _misread(second, nodes, consumers):
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
BATCH_NORMS = {"FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3"}


def _const(node: Any) -> Any:
    from tensorflow.python.framework import tensor_util  # noqa: PLC0415 - TensorFlow only when building

    return tensor_util.MakeNdarray(node.attr["value"].tensor)


def _set_const(node: Any, value: Any) -> None:
    from tensorflow.python.framework import tensor_util  # noqa: PLC0415 - TensorFlow only when building

    node.attr["value"].tensor.CopyFrom(tensor_util.make_tensor_proto(value.astype("float32")))


def fold_batch_norms(graph_def: Any) -> list[str]:
    """Fold each inference batch norm that feeds a 1x1 convolution with a bias into that convolution.

    optimize_for_inference folds a batch norm into the convolution before it; one that follows a pooling
    (as in a context block) is left, and the converter runs it as a Mul and an Add. For a 1x1 kernel,
    conv(x * s + b) = conv'(x) + bias' with conv' = W * s per input channel and bias' = bias + W^T b.
    """
    nodes = {n.name: n for n in graph_def.node}
    consumers = _consumers(graph_def)
    edits, dead = [], set()
    for bn in list(graph_def.node):
        if bn.op not in BATCH_NORMS or bn.attr["is_training"].b or bn.attr["data_format"].s not in (b"", b"NHWC"):
            continue
        params = [nodes.get(_base(name)) for name in bn.input[1:5]]
        after = consumers.get(bn.name, [])
        if any(p is None or p.op != "Const" for p in params) or len(after) != 1 or after[0].op != "Conv2D":
            continue
        conv = after[0]
        weights = nodes.get(_base(conv.input[1]))
        biased = consumers.get(conv.name, [])
        if (weights is None or weights.op != "Const" or len(consumers.get(weights.name, [])) != 1
                or len(biased) != 1 or biased[0].op != "BiasAdd"):
            continue
        bias = nodes.get(_base(biased[0].input[1]))
        w = _const(weights)
        if bias is None or bias.op != "Const" or len(consumers.get(bias.name, [])) != 1 or w.shape[:2] != (1, 1):
            continue
        gamma, beta, mean, variance = (_const(p).astype("float64") for p in params)
        scale = gamma / (variance + bn.attr["epsilon"].f) ** 0.5
        shift = beta - mean * scale
        _set_const(bias, _const(bias) + shift @ w[0, 0].astype("float64"))
        _set_const(weights, w * scale[None, None, :, None])
        conv.input[0] = bn.input[0]
        dead.add(bn.name)
        edits.append(f"{bn.name}: folded into {conv.name}")
    _drop(graph_def, dead)
    return edits


def _drop(graph_def: Any, names: set[str], op: str | None = None) -> None:
    """Remove the named nodes (of `op` only, if given) and the constants only they used."""
    gone = [n for n in graph_def.node if n.name in names and op in (None, n.op)]
    inputs = {_base(i) for n in gone for i in n.input}
    keep = [n for n in graph_def.node if not (n.name in names and op in (None, n.op))]
    used = {_base(i) for n in keep for i in n.input}
    keep = [n for n in keep if not (n.op == "Const" and n.name in inputs and n.name not in used)]
    del graph_def.node[:]
    graph_def.node.extend(keep)


def simplify(graph_def: Any) -> list[str]:
    """Edits that leave the class map as it is: argmax of the logits (no softmax in front), int32 ids
    (through what follows the argmax, such as the Squeeze to [H, W]), every batch norm folded.

    The softmax stays in the graph for a probabilities output but is no longer on the class map's path.
    """
    edits = fold_batch_norms(graph_def)
    nodes = {n.name: n for n in graph_def.node}
    consumers = _consumers(graph_def)
    for node in list(graph_def.node):
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



def argmax_source(nodes: dict[str, Any], output: str) -> str | None:
    """The node whose output the ArgMax behind `output` takes (the logits, or a softmax of them), found by
    walking first inputs back from `output`; `nodes` maps each node's name to (op, inputs). None when no
    ArgMax is on that path."""
    found = nodes.get(output)
    while found is not None and found[0] != "ArgMax":
        found = nodes.get(_base(found[1][0])) if found[1] else None
    return _base(found[1][0]) if found is not None else None

"""graphfix.swap_residual_adds and the fusion guard on hand-made graphs: a residual Add behind a BiasAdd.

slim's convolutions are Conv2D + BiasAdd with biases that start at zero; the converter's first grappler
pass folds a BiasAdd of zeros away, leaving Add(Conv2D, skip), which it then fuses as a bias.
"""
from __future__ import annotations

import base64
import json
import subprocess
import sys

import numpy as np
import pytest

from patcher import graphfix

pytestmark = pytest.mark.tf


def graph(adds: list[tuple[str, str]], extra_consumers: tuple[str, ...] = (), bias: float = 0.0):
    """input -> relu 'skip'; conv 'c1' and 'c2' of skip, each with a BiasAdd 'b1', 'b2' of a constant
    bias when something uses it; one AddV2 per (first, second) of `adds`; `extra_consumers` get one more (an Identity)."""
    import tensorflow.compat.v1 as tf

    from tensorflow.core.framework import graph_pb2

    def const(name: str, value: np.ndarray):
        node = graph_def.node.add(name=name, op="Const")
        node.attr["dtype"].type = tf.float32.as_datatype_enum
        node.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(value.astype(np.float32)))

    def op(name: str, kind: str, *inputs: str):
        node = graph_def.node.add(name=name, op=kind)
        node.input.extend(inputs)
        node.attr["T"].type = tf.float32.as_datatype_enum
        if kind == "Conv2D":
            node.attr["strides"].list.i.extend([1, 1, 1, 1])
            node.attr["padding"].s = b"SAME"
        return node

    graph_def = graph_pb2.GraphDef()
    placeholder = graph_def.node.add(name="input", op="Placeholder")
    placeholder.attr["dtype"].type = tf.float32.as_datatype_enum
    placeholder.attr["shape"].shape.CopyFrom(tf.TensorShape([1, None, None, 4]).as_proto())
    op("skip", "Relu", "input")
    rng = np.random.default_rng(0)
    for i in (1, 2):
        const(f"w{i}", rng.normal(0, 0.3, (3, 3, 4, 4)))
        const(f"bias{i}", np.full(4, bias))
        op(f"c{i}", "Conv2D", "skip", f"w{i}")
        if f"b{i}" in {name for pair in adds for name in pair} | set(extra_consumers):
            op(f"b{i}", "BiasAdd", f"c{i}", f"bias{i}")
    const("row", np.ones(4))
    for k, (first, second) in enumerate(adds):
        op(f"add{k}", "AddV2", first, second)
    for name in extra_consumers:
        op(f"{name}_also", "Identity", name)
    return graph_def


@pytest.mark.parametrize("adds, extra, edited", [
    ([("b1", "skip")], (), ["add0"]),  # the residual add behind a BiasAdd: swapped
    ([("c1", "skip")], (), ["add0"]),  # behind the convolution itself, as before
    ([("skip", "b1")], (), []),  # the other operand is first already
    ([("b1", "row")], (), []),  # a rank-1 constant is a bias indeed
    ([("b1", "skip")], ("b1",), []),  # the BiasAdd feeds something else too: no fold, no misreading
    ([("b1", "skip")], ("c1",), []),  # the convolution feeds something else too
    ([("b1", "b2")], (), []),  # both operands could be misread: swapping would not help
])
def test_residual_adds_behind_a_bias_add_are_swapped(adds, extra, edited):
    graph_def = graph(adds, extra)
    before = {n.name: list(n.input) for n in graph_def.node}
    assert graphfix.swap_residual_adds(graph_def) == edited
    for node in graph_def.node:
        want = before[node.name][::-1] if node.name in edited else before[node.name]
        assert list(node.input) == want


def fused_ops(model_json) -> dict[str, list[str]]:
    model = json.loads(model_json.read_text())
    return {n["name"]: [base64.b64decode(s).decode() for s in n.get("attr", {}).get("fused_ops", {}).get("list", {}).get("s", [])]
            for n in model["modelTopology"]["node"] if n["op"] == "_FusedConv2D"}


def test_the_converter_misreads_the_add_unless_swapped_and_the_guard_says_so(tmp_path):
    """The real converter: zero biases (slim's start) fuse the residual add as a bias, which the guard
    reports; swapped first, the convolution keeps its own zero bias and the add stays an add."""
    import tensorflow.compat.v1 as tf

    graph_def = graph([("b1", "skip")])
    tf.disable_v2_behavior()
    with tf.Graph().as_default():
        tf.import_graph_def(graph_def, name="")
    out = graph_def.node.add(name="output", op="Identity", input=["add0"])
    out.attr["T"].type = tf.float32.as_datatype_enum
    bad = {}
    for swap in (False, True):
        if swap:
            assert graphfix.swap_residual_adds(graph_def) == ["add0"]
        pb = tmp_path / f"swap{swap}.pb"
        pb.write_bytes(graph_def.SerializeToString())
        subprocess.run([sys.executable, "-m", "tensorflowjs.converters.converter", "--input_format=tf_frozen_model",
                        "--output_node_names=output", str(pb), str(tmp_path / f"web{swap}")],
                       check=True, capture_output=True)
        bad[swap] = graphfix.unsound_fusions(tmp_path / f"web{swap}" / "model.json")
    assert len(bad[False]) == 1 and "of a computed tensor" in bad[False][0], bad
    assert bad[True] == [] and all(ops == ["BiasAdd"] for ops in fused_ops(tmp_path / "webTrue" / "model.json").values())

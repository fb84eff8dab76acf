"""Freezing from the recipe's graph expression (patcher/freeze.py) and the recipe's extra packages
(patcher/packages.py).

The synthetic cartoon upstream (tests/synthetic_cartoon.py, no freeze script), patched with the draft
recipe's steps: a random checkpoint of what the draft's `restore` names, frozen by the child process as
build would run it; the frozen graph must compute what the live graph computes with that checkpoint.
"""
from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import shutil
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest

import synthetic_cartoon
from patcher import packages
from patcher.errors import VerifyError
from patcher.recipe import Step
from patcher.runner import run_steps
from patcher.child import run_child, upstream_env

RECIPE = Path(__file__).resolve().parent.parent / "patches/white-box-cartoonization.toml"
needs_slim = pytest.mark.skipif(importlib.util.find_spec("tf_slim") is None,
                                reason="tf_slim is not installed (pip install tf-slim==1.1.0): the patched upstream imports it")


def draft() -> tuple[dict, list[Step]]:
    raw = tomllib.loads(RECIPE.read_text(encoding="utf-8"))
    model = next(iter(raw["models"].values()))
    spec = {"graph": model["graph"], "input": model["input"]["name"],
            "outputs": [o["node"] for o in model["outputs"].values()], "graph_path": model["graph_path"],
            "graph_imports": model["graph_imports"], "restore": model["restore"]}
    return spec, [Step(s["codemod"], tuple(s["files"]), s["sites"], s.get("params", {})) for s in raw["step"]]


@pytest.fixture(scope="module")
def patched(tmp_path_factory) -> Path:
    """The synthetic cartoon upstream with the draft recipe's steps applied (a plain folder)."""
    root, _ = synthetic_cartoon.make_upstream(tmp_path_factory.mktemp("cartoon") / "repo")
    dest = tmp_path_factory.mktemp("patched") / "checkout"
    shutil.copytree(root, dest, ignore=shutil.ignore_patterns(".git"))
    for outcome in run_steps(lambda p: (dest / p).read_bytes(), draft()[1]):
        for path, data in outcome.files.items():
            (dest / path).write_bytes(data)
    return dest


def child(dest: Path, mode: str, *args: str, spec: dict) -> list[dict]:
    return run_child("patcher.freeze", mode, ["--spec", json.dumps(spec), *args], dest, upstream_env(dest), VerifyError,
                     lambda r: f"{r['stage']}: " + (f"{r['where']}: " if r.get("where") else "") + r["message"])


@pytest.mark.tf
@needs_slim
def test_a_graph_frozen_from_the_expression_computes_what_the_live_graph_does(patched, tmp_path):
    import tensorflow.compat.v1 as tf

    from patcher import freeze

    spec, _ = draft()
    prefix, frozen = tmp_path / "random.ckpt", tmp_path / "frozen.pb"
    assert child(patched, "checkpoint", "--prefix", str(prefix), "--seed", "3", spec=spec)[-1]["variables"] == 18
    record = child(patched, "freeze", "--checkpoint", str(prefix), "--out", str(frozen), spec=spec)[-1]
    assert record["stage"] == "freeze" and record["restored"] == 18 and record["outputs"] == ["output"]

    saved = dict(tf.train.list_variables(str(prefix)))
    assert all(name.startswith("generator/") for name in saved) and len(saved) == 18
    reader = tf.train.load_checkpoint(str(prefix))
    biases = [n for n in saved if n.endswith("biases")]
    assert len(biases) == 9 and all(np.abs(reader.get_tensor(n)).min() > 0 for n in biases), "biases randomised too"

    graph_def = tf.GraphDef()
    graph_def.ParseFromString(frozen.read_bytes())
    assert not {n.op for n in graph_def.node} & {"VariableV2", "VarHandleOp", "ReadVariableOp", "SaveV2", "RestoreV2"}
    x = np.random.default_rng(0).uniform(-1, 1, (1, 45, 31, 3)).astype(np.float32)
    with tf.Graph().as_default() as graph:
        tf.import_graph_def(graph_def, name="")
        with tf.Session(graph=graph) as sess:
            cold = sess.run("output:0", {"input:0": x})

    added = set(sys.modules)
    try:
        live, image, outputs = freeze.build(tf, spec, freeze.namespace(spec, str(patched)))
        restore = freeze.restore_map(tf, live, spec["restore"])
        with live.as_default(), tf.Session(graph=live) as sess:
            tf.train.Saver(restore).restore(sess, str(prefix))
            warm = sess.run(outputs[0], {image: x})
    finally:
        for name in set(sys.modules) - added:
            del sys.modules[name]
        sys.path.remove(str((patched / spec["graph_path"]).resolve()))
    assert cold.shape == (1, 45, 31, 3) and float(np.abs(cold - warm).max()) <= 1e-6


@pytest.mark.tf
def test_restore_maps_scopes_lists_and_moving_averages():
    import tensorflow.compat.v1 as tf

    from patcher import freeze

    graph = tf.Graph()
    with graph.as_default():
        for name in ("g/w", "g/b", "d/w"):
            tf.get_variable(name, [2, 2])
        tf.get_variable("g/steps", [], trainable=False)
    assert sorted(freeze.restore_map(tf, graph, {"scope": "g"})) == ["g/b", "g/steps", "g/w"]
    assert sorted(freeze.restore_map(tf, graph, {"scope": "g", "trainable": True})) == ["g/b", "g/w"]
    assert sorted(freeze.restore_map(tf, graph, {})) == ["d/w", "g/b", "g/steps", "g/w"]
    assert list(freeze.restore_map(tf, graph, {"variables": ["d/w"]})) == ["d/w"]
    assert sorted(freeze.restore_map(tf, graph, {"scope": "g", "trainable": True, "moving_average": 0.999})) == [
        "g/b/ExponentialMovingAverage", "g/w/ExponentialMovingAverage"]
    with pytest.raises(ValueError, match="^restore selects no variable \\(scope 'gen', 4 variables in the graph\\)$"):
        freeze.restore_map(tf, graph, {"scope": "gen"})
    with pytest.raises(ValueError, match="^restore names g/x, which the graph has no variable of \\(1 missing\\)$"):
        freeze.restore_map(tf, graph, {"variables": ["g/x", "g/w"]})


@pytest.mark.tf
def test_random_values_give_every_variable_a_value_batch_norms_by_their_roles():
    import tensorflow.compat.v1 as tf

    from patcher import freeze

    graph = tf.Graph()
    with graph.as_default():
        x = tf.placeholder(tf.float32, [1, 4, 4, 3])
        kernel = tf.get_variable("conv/w", [3, 3, 3, 8])
        bias = tf.get_variable("conv/b", [8], initializer=tf.zeros_initializer())
        y = tf.nn.bias_add(tf.nn.conv2d(x, kernel, 1, "SAME"), bias)
        gamma, beta, mean, variance = (tf.get_variable(f"bn/{n}", [8]) for n in ("scale", "shift", "avg", "var"))
        tf.nn.fused_batch_norm(y, gamma, beta, mean, variance, is_training=False)
        tf.get_variable("step", [], tf.int64, initializer=tf.zeros_initializer())
    values = freeze.random_values(tf, np, graph, 5)
    assert sorted(values) == ["bn/avg", "bn/scale", "bn/shift", "bn/var", "conv/b", "conv/w"], "floats only"
    assert 0.8 <= values["bn/scale"].min() and values["bn/scale"].max() <= 1.2
    assert 0.5 <= values["bn/var"].min() and values["bn/var"].max() <= 1.5
    assert np.abs(values["conv/b"]).min() > 0 and abs(float(values["conv/w"].std()) - 1 / np.sqrt(27)) < 0.06
    again = freeze.random_values(tf, np, graph, 5)
    assert all(np.array_equal(values[k], again[k]) for k in values)


@pytest.mark.tf
@needs_slim
def test_a_checkpoint_that_does_not_fit_is_one_line(patched, tmp_path):
    spec, _ = draft()
    prefix = tmp_path / "other.ckpt"
    child(patched, "checkpoint", "--prefix", str(prefix), spec={**spec, "restore": {"scope": "generator/stem"}})
    with pytest.raises(VerifyError) as caught:
        child(patched, "freeze", "--checkpoint", str(prefix), "--out", str(tmp_path / "f.pb"), spec=spec)
    assert str(caught.value).startswith(f"checkpoint: LookupError: checkpoint {prefix} does not fit the graph: "
                                        "16 of 18 variables missing, 0 of another shape: generator/")


def test_packages_must_be_pinned():
    assert packages.parse(["tf-slim==1.1.0", "a.b_c==2.0rc1"]) == ("tf-slim==1.1.0", "a.b_c==2.0rc1")
    for bad in ("tf-slim", "tf-slim>=1.1", "==1.0", "tf slim==1.0"):
        with pytest.raises(ValueError, match=f"^field 'packages' must be a list of 'NAME==VERSION' strings, not '{bad}'$"):
            packages.parse([bad])
    with pytest.raises(ValueError, match="^field 'packages' must be a list"):
        packages.parse("tf-slim==1.1.0")


def test_a_missing_or_other_version_names_the_pip_install():
    numpy = importlib.metadata.version("numpy")
    assert packages.missing([f"numpy=={numpy}"]) is None
    line = packages.missing(["patcher-no-such-package==1.0.0", "numpy==0.0.1"])
    assert line == (f"the upstream needs patcher-no-such-package==1.0.0 (not installed), numpy==0.0.1 ({numpy} is "
                    "installed); install it with: pip install patcher-no-such-package==1.0.0 numpy==0.0.1")
    with pytest.raises(packages.MissingPackage) as caught:
        packages.require(["patcher-no-such-package==1.0.0"])
    assert caught.value.code == 21 and "\n" not in str(caught.value)
    packages.require([f"numpy=={numpy}"])


def test_the_restore_field():
    from patcher import freeze

    assert freeze.parse_restore({"scope": "generator", "trainable": True}) == {
        "scope": "generator", "trainable": True, "variables": [], "moving_average": None}
    assert freeze.parse_restore({"variables": ["a/w"], "moving_average": 0.9995})["moving_average"] == 0.9995
    shape = "field 'restore' must be {scope = \"...\", trainable = true|false, variables = [...], moving_average = 0.999...}"
    for bad in ("generator", {"scopes": "g"}, {"trainable": 1}, {"moving_average": 1.5}, {"variables": [""]}):
        with pytest.raises(ValueError) as caught:
            freeze.parse_restore(bad)
        assert str(caught.value) == shape
    with pytest.raises(ValueError, match="^field 'restore' names both 'scope' and 'variables': pick one$"):
        freeze.parse_restore({"scope": "g", "variables": ["g/w"]})


@pytest.mark.tf
@needs_slim
def test_random_biases_or_the_swap_keep_the_converter_from_fusing_the_residual_add(patched, tmp_path):
    """The cartoon shape's `conv + skip` behind slim's BiasAdd: with every variable random the converter
    keeps the add; with slim's zero biases it fuses the skip as a bias (the guard reports it) unless
    graphfix swapped the add's operands first."""
    import subprocess

    import tensorflow.compat.v1 as tf
    from tensorflow.python.framework import tensor_util

    from patcher import graphfix

    spec, _ = draft()
    prefix, frozen = tmp_path / "random.ckpt", tmp_path / "frozen.pb"
    child(patched, "checkpoint", "--prefix", str(prefix), spec=spec)
    child(patched, "freeze", "--checkpoint", str(prefix), "--out", str(frozen), spec=spec)
    graph_def = tf.GraphDef()
    graph_def.ParseFromString(frozen.read_bytes())

    def guard(graph_def, name: str) -> list[str]:
        pb = tmp_path / f"{name}.pb"
        pb.write_bytes(graph_def.SerializeToString())
        subprocess.run([sys.executable, "-m", "tensorflowjs.converters.converter", "--input_format=tf_frozen_model",
                        "--output_node_names=output", str(pb), str(tmp_path / name)], check=True, capture_output=True)
        return graphfix.unsound_fusions(tmp_path / name / "model.json")

    assert guard(graph_def, "random") == []
    for node in graph_def.node:
        if node.op == "Const" and node.name.endswith("/biases"):
            zeros = np.zeros_like(tensor_util.MakeNdarray(node.attr["value"].tensor))
            node.attr["value"].tensor.CopyFrom(tensor_util.make_tensor_proto(zeros))
    assert len(guard(graph_def, "zero")) == 1
    assert graphfix.swap_residual_adds(graph_def) == ["generator/add"]
    assert guard(graph_def, "swapped") == []

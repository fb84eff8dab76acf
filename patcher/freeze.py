"""Child process that freezes a model from its recipe's `graph` expression, for an upstream with no freeze
script; and the random weights every build with --random-weights gets.

Runs as patcher/probe.py does, with the patched checkout as working directory and one JSON object per
line on stdout (errors as {"error": "failed", "stage", "message", "where"}, so verify.run_child reads
it). `--spec` is JSON:

    {"graph": EXPRESSION, "input": NAME, "outputs": [NODE, ...],
     "graph_path": FOLDER, "graph_imports": [MODULE, ...],
     "restore": {"scope": "", "trainable": false, "variables": [], "moving_average": null}}

The expression is evaluated with `input` bound to a [1, None, None, 3] float32 placeholder named NAME and
the modules of `graph_imports` (imported from FOLDER of the checkout, put first on sys.path) as names; it
gives one tensor, or a tuple of them, one per output NODE, each named NODE with tf.identity.

Modes:
  checkpoint  --prefix P [--seed S]          random weights (random_values) for the variables `restore` names,
                                             saved under the names the freeze restores;
  freeze      --checkpoint P --out FROZEN.pb restore, then write the frozen GraphDef (variables made
                                             constants, only what the outputs need).
"""
from __future__ import annotations

import argparse
import importlib
import json
import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any

from patcher.probe import Stage, emit, failed

BATCH_NORMS = {"FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3"}
PASS_THROUGH = {"Identity", "ReadVariableOp"}


MODULE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")
RESTORE = {"scope": str, "trainable": bool, "variables": list, "moving_average": float}


def parse_restore(raw: object) -> dict[str, Any]:
    """A recipe's `restore` table with its defaults (patcher/kinds/__init__.py gives the schema);
    ValueError with one line when it is not one."""
    shape = ('field \'restore\' must be {scope = "...", trainable = true|false, variables = [...], '
             'moving_average = 0.999...}')
    if not isinstance(raw, dict) or not set(raw) <= set(RESTORE):
        raise ValueError(shape)
    for key, kind in RESTORE.items():
        if key in raw and (not isinstance(raw[key], kind) or (kind is float and not 0 < raw[key] < 1)):
            raise ValueError(shape)
    if not all(isinstance(v, str) and v for v in raw.get("variables", [])):
        raise ValueError(shape)
    if raw.get("scope") and raw.get("variables"):
        raise ValueError("field 'restore' names both 'scope' and 'variables': pick one")
    return {"scope": raw.get("scope", ""), "trainable": raw.get("trainable", False),
            "variables": list(raw.get("variables", [])), "moving_average": raw.get("moving_average")}


def parse_graph(raw: Mapping[str, Any]) -> dict[str, Any]:
    """A model table's `graph_path` and `graph_imports` with their defaults; ValueError with one line."""
    folder = raw.get("graph_path", "")
    parts = PurePosixPath(folder).parts if isinstance(folder, str) else ()
    if not isinstance(folder, str) or PurePosixPath(folder).is_absolute() or ".." in parts or "\\" in folder:
        raise ValueError("field 'graph_path' must stay inside the checkout (a relative folder, no '..')")
    imports = raw.get("graph_imports", [])
    if not isinstance(imports, list) or not all(isinstance(m, str) and MODULE.fullmatch(m) for m in imports):
        raise ValueError("field 'graph_imports' must be a list of module names")
    return {"graph_path": folder, "graph_imports": list(imports)}


def namespace(spec: Mapping[str, Any], root: str = ".") -> dict[str, Any]:
    """The modules of spec['graph_imports'], imported from root/spec['graph_path'] (first on sys.path)."""
    folder = os.path.abspath(os.path.join(root, spec.get("graph_path") or "."))
    if folder not in sys.path:
        sys.path.insert(0, folder)
    return {name: importlib.import_module(name) for name in spec.get("graph_imports", [])}


def build(tf: Any, spec: Mapping[str, Any], names: Mapping[str, Any]) -> tuple[Any, Any, list[Any]]:
    """(graph, input placeholder, output tensors named as spec['outputs']) of the graph expression."""
    tf1 = tf.compat.v1
    graph = tf1.Graph()
    with graph.as_default():
        image = tf1.placeholder(tf.float32, [1, None, None, 3], name=spec["input"])
        value = eval(spec["graph"], {**names}, {"input": image})  # the recipe's own code
        values = list(value) if isinstance(value, (tuple, list)) else [value]
        if len(values) != len(spec["outputs"]):
            raise ValueError(f"the graph expression gives {len(values)} tensors for {len(spec['outputs'])} outputs "
                             f"({', '.join(spec['outputs'])})")
        outputs = [tf1.identity(v, name=node) for v, node in zip(values, spec["outputs"], strict=True)]
    return graph, image, outputs


def restore_map(tf: Any, graph: Any, restore: Mapping[str, Any]) -> dict[str, Any]:
    """Checkpoint name -> variable for what `restore` names: the variables under `scope` (all when empty;
    only trainable ones with `trainable`) or those named in `variables`; each under its moving average's
    name when `moving_average` (a decay) is given. ValueError when it selects nothing or names a
    variable the graph lacks."""
    tf1 = tf.compat.v1
    with graph.as_default():
        pool = tf1.trainable_variables() if restore.get("trainable") else tf1.global_variables()
        by_name = {v.op.name: v for v in tf1.global_variables()}
        if restore.get("variables"):
            absent = [n for n in restore["variables"] if n not in by_name]
            if absent:
                raise ValueError(f"restore names {absent[0]}, which the graph has no variable of "
                                 f"({len(absent)} missing)")
            chosen = [by_name[n] for n in restore["variables"]]
        else:
            scope = restore.get("scope", "").rstrip("/")
            chosen = [v for v in pool if not scope or v.op.name == scope or v.op.name.startswith(scope + "/")]
        if not chosen:
            raise ValueError(f"restore selects no variable (scope {restore.get('scope', '')!r}, "
                             f"{len(by_name)} variables in the graph)")
        decay = restore.get("moving_average")
        if decay:
            average = tf1.train.ExponentialMovingAverage(decay)
            return {average.average_name(v): v for v in chosen}
        return {v.op.name: v for v in chosen}


def _through(tensor: Any) -> Any:
    op = tensor.op
    while op.type in PASS_THROUGH and op.inputs:
        op = op.inputs[0].op
    return op


def random_values(tf: Any, np: Any, graph: Any, seed: int) -> dict[str, Any]:
    """A value for every float variable of `graph`, by the variable's op name (the same for the same seed): batch-norm inputs by the
    role the batch norm gives them (gamma 0.8..1.2, beta and mean N(0, 0.1), variance 0.5..1.5); any other
    variable of rank 2 or more N(0, 1) / sqrt(fan-in) (fan-in: the product of all but the last dimension);
    any other, biases included, N(0, 0.1): a zero bias would let TensorFlow's constant folding drop the
    BiasAdd, and the converter then reads a residual Add behind it as a bias (patcher/graphfix.py)."""
    tf1 = tf.compat.v1
    rng = np.random.default_rng(seed)
    with graph.as_default():
        variables = {v.op.name: v for v in tf1.global_variables()}
    roles: dict[str, str] = {}
    for op in graph.get_operations():
        if op.type in BATCH_NORMS:
            for role, tensor in zip(("gamma", "beta", "mean", "variance"), op.inputs[1:5], strict=False):
                roles.setdefault(_through(tensor).name, role)
    values = {}
    for name, var in variables.items():
        if not var.dtype.base_dtype.is_floating:
            continue
        shape = var.shape.as_list()
        role = roles.get(name, "")
        if role == "gamma":
            value = rng.uniform(0.8, 1.2, shape)
        elif role == "variance":
            value = rng.uniform(0.5, 1.5, shape)
        elif role in ("beta", "mean") or len(shape) < 2:
            value = rng.normal(0.0, 0.1, shape)
        else:
            value = rng.standard_normal(shape) / np.sqrt(max(1, int(np.prod(shape[:-1]))))
        values[name] = value.astype(var.dtype.base_dtype.as_numpy_dtype)
    return values


def initialize(tf: Any, sess: Any, values: Mapping[str, Any]) -> None:
    """Run every initializer of the session's graph, with `values` (by variable op name) fed in place of
    those variables' initial values."""
    tf1 = tf.compat.v1
    with sess.graph.as_default():
        variables = {v.op.name: v for v in tf1.global_variables()}
    feed = {}
    for name, value in values.items():
        var = variables[name]
        if var.initializer.inputs[1].name != var.initial_value.name:  # (feeding it would change nothing)
            raise RuntimeError(f"{var.op.name}: its initializer does not read its initial value")
        feed[var.initial_value] = value
    with sess.graph.as_default():
        sess.run(tf1.global_variables_initializer(), feed)


def checkpoint(tf: Any, np: Any, spec: Mapping[str, Any], args: argparse.Namespace) -> None:
    tf1 = tf.compat.v1
    graph, _, _ = build(tf, spec, namespace(spec))
    restore = restore_map(tf, graph, spec.get("restore", {}))
    with graph.as_default(), tf1.Session(graph=graph) as sess:
        initialize(tf, sess, random_values(tf, np, graph, args.seed))
        tf1.train.Saver(restore).save(sess, args.prefix, write_meta_graph=False)
    emit(stage="checkpoint", variables=len(restore))


def freeze(tf: Any, np: Any, spec: Mapping[str, Any], args: argparse.Namespace) -> None:
    tf1 = tf.compat.v1
    graph, _, outputs = build(tf, spec, namespace(spec))
    restore = restore_map(tf, graph, spec.get("restore", {}))
    try:
        have = dict(tf.train.list_variables(args.checkpoint))
    except Exception as exc:  # an unreadable checkpoint is reported with its stage
        raise Stage("checkpoint", exc) from exc
    absent = sorted(n for n in restore if n not in have)
    wrong = sorted(f"{n} {list(have[n])} != {v.shape.as_list()}" for n, v in restore.items()
                   if n in have and list(have[n]) != v.shape.as_list())
    if absent or wrong:
        raise Stage("checkpoint", LookupError(
            f"checkpoint {args.checkpoint} does not fit the graph: {len(absent)} of {len(restore)} variables "
            f"missing, {len(wrong)} of another shape: {', '.join((absent + wrong)[:3])}"))
    with graph.as_default(), tf1.Session(graph=graph) as sess:
        sess.run(tf1.global_variables_initializer())
        tf1.train.Saver(restore).restore(sess, args.checkpoint)
        nodes = [t.op.name for t in outputs]
        frozen = tf1.graph_util.convert_variables_to_constants(sess, graph.as_graph_def(), nodes)
    Path(args.out).write_bytes(frozen.SerializeToString())
    emit(stage="freeze", restored=len(restore), nodes=len(frozen.node), outputs=nodes)


MODES = {"checkpoint": checkpoint, "freeze": freeze}


def spec_of(model: Any) -> dict[str, Any]:
    """The --spec of a recipe model (patcher.recipe.Model) that names what a checkpoint restores."""
    from patcher.kinds import output_of  # noqa: PLC0415 - the parent's side only

    return {"graph": model.graph, "input": model.input.name, "outputs": [output_of(model)[1].node],
            "graph_path": model.graph_path, "graph_imports": list(model.graph_imports),
            "restore": model.restore or {}}


def run(dest: Path, mode: str, model: Any, args: list[str], error: type[Exception]) -> list[dict[str, Any]]:
    """Run this module's MODE for a recipe model in the checkout `dest` (the model's environment); its
    records, or `error` with the child's stage, upstream line and message."""
    from patcher.child import run_child, upstream_env  # noqa: PLC0415 - the parent's side only

    return run_child("patcher.freeze", mode, ["--spec", json.dumps(spec_of(model)), *args], dest,
                     upstream_env(dest, model), error,  # type: ignore[arg-type]
                     lambda r: f"{r['stage']}: " + (f"{r['where']}: " if r.get("where") else "") + r["message"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=sorted(MODES))
    parser.add_argument("--spec", required=True)
    parser.add_argument("--prefix")
    parser.add_argument("--checkpoint")
    parser.add_argument("--out")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        import numpy as np  # noqa: PLC0415 - the child reports a missing TensorFlow as a record
        import tensorflow as tf  # noqa: PLC0415
    except ImportError as exc:
        emit(error="missing", message=str(exc))
        return 9
    stage = "build"
    try:
        tf.compat.v1.disable_v2_behavior()
        MODES[args.mode](tf, np, json.loads(args.spec), args)
    except Exception as exc:  # noqa: BLE001 - any failure of the upstream code is reported with its stage
        return failed(exc, stage)
    return 0


if __name__ == "__main__":
    sys.exit(main())

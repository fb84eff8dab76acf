"""Child process for the steps that run the patched upstream's own code under TensorFlow.

Runs with the patched checkout as working directory (the upstream loads its config relative to it) and
prints one JSON object per line on stdout. Modes:
  verify      build the graph with unknown height and width and run it at sizes;
  checkpoint  write a checkpoint of random weights with the names the freeze script restores;
  match       compare a checkpoint with the names and shapes the freeze script restores;
  recover     write a checkpoint from a published graph model's folded weights (patcher/weights.py);
  frozen      run a frozen graph on raw float32 inputs and save its outputs (no upstream code needed).
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import time
import traceback
from types import ModuleType
from typing import Any

from patcher.child import emit
from patcher.kinds import kind


def load_script(path: str) -> ModuleType:
    """The freeze script at `path`, imported as a module."""
    spec = importlib.util.spec_from_file_location("patched_freeze_script", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path} as a Python module")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build(tf: Any, script: ModuleType | None, spec: dict[str, Any], seed: int | None = None) -> tuple[Any, Any, Any, dict[str, Any]]:
    """The inference graph as the recipe says the freeze script builds it, with a [1, None, None, 3]
    input: the recipe's `graph` expression, evaluated in the script's namespace (no script: among the
    recipe's graph_imports, patcher/freeze.py) with `input` bound."""
    from patcher.freeze import namespace  # noqa: PLC0415 - patcher.freeze imports this module

    tf1 = tf.compat.v1
    names = dict(vars(script)) if script is not None else namespace(spec)
    graph = tf1.Graph()
    with graph.as_default():
        if seed is not None:
            tf1.set_random_seed(seed)
        image = tf1.placeholder(tf.float32, [1, None, None, 3], name=spec["input"])
        labels = eval(spec["graph"], names, {"input": image})  # the recipe's own code
        if labels.shape.rank == 3:
            labels = tf1.squeeze(labels, axis=0)
        ema = spec.get("moving_average")
        if ema:
            with tf1.variable_scope(ema["scope"]):
                restore = tf1.train.ExponentialMovingAverage(ema["decay"]).variables_to_restore()
        else:
            restore = {v.op.name: v for v in tf1.global_variables()}
    return graph, image, labels, restore


def verify(tf: Any, np: Any, script: Any, args: argparse.Namespace) -> None:
    """Build the graph with unknown height and width; run it at each of --sizes (random input)."""
    tf1 = tf.compat.v1
    sizes = [tuple(int(v) for v in s.split("x")) for s in args.sizes.split(",")]
    spec = json.loads(args.spec)
    summary = kind(spec.get("kind", "labels")).summary
    graph, image, labels, _ = build(tf, script, spec)
    with graph.as_default():
        emit(stage="build", tensorflow=tf.__version__, static_shape=labels.shape.as_list(),
             dtype=labels.dtype.base_dtype.name,
             parameters=int(sum(np.prod(v.shape.as_list()) for v in tf1.trainable_variables())))
        with tf1.Session(graph=graph) as sess:
            sess.run(tf1.global_variables_initializer())
            rng = np.random.default_rng(0)
            for height, width in sizes:
                x = rng.uniform(-1.0, 1.0, size=(1, height, width, 3)).astype(np.float32)
                try:
                    sess.run(labels, {image: x})
                    start = time.perf_counter()
                    out = sess.run(labels, {image: x})
                except Exception as exc:
                    raise Stage(f"{height}x{width}", exc) from exc
                ms = (time.perf_counter() - start) * 1000
                emit(stage="run", size=[height, width], ms=round(ms, 1), **summary(out))


def checkpoint(tf: Any, np: Any, script: Any, args: argparse.Namespace) -> None:
    """Random weights (the same for the same --seed), batch-norm statistics included, saved under the
    moving-average names."""
    tf1 = tf.compat.v1
    graph, _, _, restore = build(tf, script, json.loads(args.spec), seed=args.seed)
    rng = np.random.default_rng(args.seed)
    with graph.as_default(), tf1.Session(graph=graph) as sess:
        values = {}
        for var in tf1.global_variables():
            shape = var.shape.as_list()
            if var.op.name.endswith("moving_variance"):
                value = rng.uniform(0.5, 1.5, shape)
            elif var.op.name.endswith("moving_mean") or var.op.name.endswith("beta"):
                value = rng.normal(0.0, 0.1, shape)
            elif var.op.name.endswith("gamma"):
                value = rng.uniform(0.8, 1.2, shape)
            else:
                continue
            if var.initializer.inputs[1].name != var.initial_value.name:  # (feeding it would change nothing)
                raise RuntimeError(f"{var.op.name}: its initializer does not read its initial value")
            values[var.initial_value] = value.astype(np.float32)
        # one run: the initializers, with the batch-norm values fed in place of their initial values
        sess.run(tf1.global_variables_initializer(), values)
        tf1.train.Saver(restore).save(sess, args.prefix, write_meta_graph=True)
    emit(stage="checkpoint", variables=len(restore))


def match(tf: Any, np: Any, script: Any, args: argparse.Namespace) -> None:
    _, _, _, restore = build(tf, script, json.loads(args.spec))
    try:
        have = dict(tf.train.list_variables(args.prefix))
    except Exception as exc:
        raise Stage("checkpoint", exc) from exc
    missing = sorted(n for n in restore if n not in have)
    try:
        reader = tf.train.load_checkpoint(args.prefix)
        for name in have:
            reader.get_tensor(name)
    except Exception as exc:
        raise Stage("checkpoint", exc) from exc
    wrong = sorted(f"{n} {have[n]} != {restore[n].shape.as_list()}" for n in restore
                   if n in have and list(have[n]) != restore[n].shape.as_list())
    emit(stage="match", expected=len(restore), found=len(have), missing=missing, wrong_shape=wrong)


CONVOLUTIONS = {"Conv2D", "DepthwiseConv2dNative"}
BATCH_NORMS = {"FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3"}
PASS_THROUGH = {"Identity", "ReadVariableOp"}
VARIABLES = {"VariableV2", "VarHandleOp", "Variable"}


def _through(tensor: Any) -> Any:
    """The op that makes `tensor`, past identities and variable reads."""
    op = tensor.op
    while op.type in PASS_THROUGH and op.inputs:
        op = op.inputs[0].op
    return op


def folded_names(graph: Any, variables: dict[str, Any]) -> list[tuple[str, Any, str]]:
    """How TensorFlow's folding names the published constants of this graph: (published name, variable,
    how its value comes from the published one), in graph order; `variables` maps op names to variables.
    How: 'filter' (as it is), 'offset' (a batch norm's beta), 'scaled' (a lone batch norm's gamma, times
    sqrt(1 + eps) below); other variables: their own name. Entries without a published name make the batch
    norm an identity: 'gamma:EPS' (sqrt(1 + eps), or Scaled times it), 'mean' (0), 'variance' (1)."""
    names, covered = [], set()
    for op in graph.get_operations():
        if op.type not in BATCH_NORMS:
            continue
        gamma, beta, mean, variance = (variables.get(_through(t).name) for t in op.inputs[1:5])
        if None in (gamma, beta, mean, variance):
            continue
        eps = op.get_attr("epsilon")
        producer = _through(op.inputs[0])
        kernel = variables.get(_through(producer.inputs[1]).name) if producer.type in CONVOLUTIONS else None
        if kernel is not None:
            names += [(f"{producer.name}_weights", kernel, "filter"), (f"{producer.name}_bn_offset", beta, "offset")]
            covered.add(kernel.op.name)
        else:
            names += [(f"{op.name}/Scaled", gamma, "scaled"), (f"{op.name}/Offset", beta, "offset")]
        covered.update(v.op.name for v in (gamma, beta, mean, variance) if v is not None)
        names += [("", gamma, f"gamma:{eps}"), ("", mean, "mean"), ("", variance, "variance")]
    names += [(name, var, "filter") for name, var in variables.items() if name not in covered]
    return names


def recover(tf: Any, np: Any, script: Any, args: argparse.Namespace) -> None:
    """Checkpoint PREFIX from the published float weights in the .npz --weights (patcher/weights.py)."""
    tf1 = tf.compat.v1
    graph, _, _, restore = build(tf, script, json.loads(args.spec))
    published = dict(np.load(args.weights))
    with graph.as_default():
        variables = {v.op.name: v for v in tf1.global_variables()}
        values, used = {}, set()
        names = folded_names(graph, variables)
        for name, var, _ in names:
            shape = var.shape.as_list()
            if not name:
                continue
            if name not in published:
                raise Stage("match", LookupError(
                    f"the published model has no weight {name} (for the graph's {var.op.name} {shape}); "
                    "is it a model of another network?"))
            value = published[name]
            if list(value.shape) != shape:
                raise Stage("match", ValueError(f"published weight {name} has shape {list(value.shape)}; the graph's "
                                                f"{var.op.name} has {shape}"))
            if name in used:
                raise Stage("match", ValueError(f"published weight {name} would be used twice"))
            used.add(name)
            values[var] = value
        for _, var, how in names:
            shape = var.shape.as_list()
            if how == "mean":
                values[var] = np.zeros(shape, np.float32)
            elif how == "variance":
                values[var] = np.ones(shape, np.float32)
            elif how.startswith("gamma:"):  # an identity scale, or a lone batch norm's Scaled times it
                root = np.float32(np.sqrt(1.0 + float(how.split(":")[1])))
                values[var] = values[var] * root if var in values else np.full(shape, root, np.float32)
        unused = sorted(set(published) - used)
        constants = [name for name in unused if same_constant(tf, np, graph, name, published[name])]
        unused = [name for name in unused if name not in constants]
        if unused:
            raise Stage("match", ValueError(f"published weight {unused[0]} matches no variable of the graph "
                                            f"({len(unused)} unused)"))
        missing = [v.op.name for v in restore.values() if v not in values]
        if missing:
            raise Stage("match", LookupError(f"variable {missing[0]} gets no published weight ({len(missing)} missing)"))
        with tf1.Session(graph=graph) as sess:
            feed = {}
            for var, value in values.items():
                if var.initializer.inputs[1].name != var.initial_value.name:
                    raise RuntimeError(f"{var.op.name}: its initializer does not read its initial value")
                feed[var.initial_value] = value.astype(np.float32)
            sess.run(tf1.global_variables_initializer(), feed)
            tf1.train.Saver(restore).save(sess, args.prefix, write_meta_graph=False)
    emit(stage="recover", variables=len(restore), assigned=len(values), published=len(published), used=len(used),
         constants=len(constants))


def same_constant(tf: Any, np: Any, graph: Any, name: str, value: Any) -> bool:
    """Whether the published weight `name` is the graph's own constant of that name (a Const op the
    converter kept as a weight, such as a fixed filter): False when the graph has no Const op so named;
    a Stage('match') error when it has one whose shape or float32 value differs from `value`."""
    try:
        op = graph.get_operation_by_name(name)
    except (KeyError, ValueError):
        return False
    if op.type != "Const":
        return False
    own = tf.make_ndarray(op.get_attr("value"))
    if own.shape != value.shape or not np.array_equal(own.astype(np.float32), value.astype(np.float32)):
        if own.shape != value.shape:
            how = f"has shape {list(value.shape)}, the graph's own constant {list(own.shape)}"
        elif own.size == 1:
            how = f"is {float(value.flat[0]):.6g}, the graph's own constant {float(own.flat[0]):.6g}"
        else:
            gap = float(np.max(np.abs(own.astype(np.float64) - value.astype(np.float64))))
            how = f"differs from the graph's own constant by up to {gap:.3g}"
        raise Stage("match", ValueError(f"published weight {name} {how}; is it a model of another network?"))
    return True


def frozen(tf: Any, np: Any, script: Any, args: argparse.Namespace) -> None:
    """Each input of the job: outputs saved as PREFIX.i.k.npy; prints ms per run."""
    tf1 = tf.compat.v1
    job = json.loads(open(args.job).read())
    graph_def = tf1.GraphDef()
    with open(job["graph"], "rb") as handle:
        graph_def.ParseFromString(handle.read())
    graph = tf1.Graph()
    with graph.as_default():
        tf1.import_graph_def(graph_def, name="")
    fetches = [graph.get_tensor_by_name(f"{name}:0") for name in job["outputs"]]
    image = graph.get_tensor_by_name(f"{job['input']}:0")
    with tf1.Session(graph=graph) as sess:
        for i, item in enumerate(job["inputs"]):
            x = np.fromfile(item["file"], dtype=np.float32).reshape(item["shape"])
            times = []
            for _ in range(max(1, job.get("repeat", 1)) + 1):
                start = time.perf_counter()
                values = sess.run(fetches, {image: x})
                times.append((time.perf_counter() - start) * 1000)
            for k, value in enumerate(values):
                np.save(f"{job['out']}.{i}.{k}.npy", value)
            emit(stage="frozen", input=i, ms=times[1:], shapes=[list(v.shape) for v in values])


def upstream_line(exc: BaseException) -> str | None:
    """Where in the upstream's code (the working directory) `exc` came from, as `PATH:LINE (in FUNCTION)`:
    the innermost frame inside the checkout of the stack that created the failing TensorFlow op (an
    error raised when the graph runs), else of the exception's own traceback (one raised while building)."""
    root = os.path.realpath(os.getcwd()) + os.sep
    op = getattr(exc, "op", None)
    stacks = [getattr(op, "traceback", None) or [], traceback.extract_tb(exc.__traceback__)]
    for stack in stacks:
        inside = []
        for frame in stack:
            path = os.path.realpath(frame.filename)
            if path.startswith(root):
                inside.append(f"{path[len(root):]}:{frame.lineno} (in {frame.name})")
        if inside:
            return inside[-1]
    return None


class Stage(Exception):
    def __init__(self, stage: str, cause: Exception) -> None:
        super().__init__(stage)
        self.stage, self.cause = stage, cause


MODES = {"verify": verify, "checkpoint": checkpoint, "match": match, "recover": recover, "frozen": frozen}


def failed(exc: BaseException, stage: str) -> int:
    """Report a failure of the upstream code as one record (its stage, first line and upstream file:line);
    the child's exit code, 1."""
    if isinstance(exc, Stage):
        stage, exc = exc.stage, exc.cause
    emit(error="failed", stage=stage, message=f"{type(exc).__name__}: {reason(str(exc))}", where=upstream_line(exc))
    return 1


def reason(text: str) -> str:
    """The line of an error's text that says why: its first, except in TensorFlow's "Graph execution error:",
    whose reason is the line after "Node: 'NAME'" (a full disk's "...; No space left on device")."""
    lines = text.strip().splitlines() or [""]
    if lines[0] == "Graph execution error:":
        for line, after in zip(lines, lines[1:], strict=False):
            if line.startswith("Node: ") and after.strip():
                return after.strip()
    return lines[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("mode", choices=sorted(MODES))
    parser.add_argument("--script")
    parser.add_argument("--spec", help="JSON: the recipe's graph expression, input name and moving average")
    parser.add_argument("--job")
    parser.add_argument("--sizes", default="64x64")
    parser.add_argument("--prefix")
    parser.add_argument("--weights", help="recover: an .npz of the published float weights")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        import numpy as np  # noqa: PLC0415 - imported in the child, where a missing one is reported
        import tensorflow as tf  # noqa: PLC0415 - the same
    except ImportError as exc:
        emit(error="missing", message=str(exc))
        return 9
    stage = "import"
    try:
        script = load_script(args.script) if args.script else None
        if args.script and not args.spec:
            raise SystemExit("--spec is needed with --script")
        tf.compat.v1.disable_v2_behavior()
        stage = "build"
        MODES[args.mode](tf, np, script, args)
    except Exception as exc:  # noqa: BLE001 - any failure of the upstream code is reported with its stage
        return failed(exc, stage)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Apply a picture-output recipe's steps to a checkout and prove its graph runs at any size.

For a picture recipe (patches/white-box-cartoonization.toml): reads
its `[[step]]` tables and its model's `graph_path`, `graph_imports` and `graph`, applies the steps through
patcher's runner (site counts and idempotency checked as `apply` checks them) to two copies of the
checkout, one with every step and one without the steps named by --skip (the graph as the upstream builds
it), then builds both graphs on TensorFlow 2 (tf.compat.v1, graph mode) with the same weights (a
checkpoint's, or random ones for every variable, biases included) and runs them:

- at each --sizes HxW the patched graph must return [1, H, W, C], finite;
- at each --same HxW both graphs run and their outputs are compared (max |difference|; 0 is identical).

Prints one line per site and per size to stdout; exit 0 when every check holds, 1 otherwise.

    python scripts/cartoon_measure.py --recipe patches/white-box-cartoonization.toml --checkout /tmp/wbc
"""
from __future__ import annotations

import argparse
import importlib.util
import re
import shutil
import sys
import tempfile
import tomllib
from pathlib import Path
from types import ModuleType

import numpy as np
import tensorflow.compat.v1 as tf

from patcher.codemods import CODEMODS
from patcher.recipe import Step
from patcher.runner import run_steps


def size(text: str) -> tuple[int, int]:
    h, _, w = text.partition("x")
    return int(h), int(w)


def patch(checkout: Path, dest: Path, steps: list[Step]) -> list[str]:
    """Copy `checkout` (without .git) to `dest` and apply `steps` there: the sites, as file:line:col."""
    shutil.copytree(checkout, dest, ignore=shutil.ignore_patterns(".git"))
    sites = []
    for outcome in run_steps(lambda p: (dest / p).read_bytes(), steps):
        for path, data in outcome.files.items():
            (dest / path).write_bytes(data)
        sites += [f"{outcome.step.codemod}: {s}" for s in outcome.sites]
    return sites


def load(folder: Path, names: list[str], tag: str) -> dict[str, ModuleType]:
    """The modules `names` of `folder`, imported under names of their own (two copies can coexist)."""
    found = {}
    for name in names:
        spec = importlib.util.spec_from_file_location(f"{tag}_{name}", folder / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)
        found[name] = module
    return found


class Graph:
    """The model's graph built from the recipe's expression, in a graph and session of its own."""

    def __init__(self, modules: dict[str, ModuleType], expression: str) -> None:
        self.graph = tf.Graph()
        with self.graph.as_default():
            self.input = tf.placeholder(tf.float32, [1, None, None, 3], name="input")
            self.output = eval(expression, {**modules, "input": self.input})
            self.session = tf.Session(graph=self.graph)
            self.variables = {v.op.name: v for v in tf.global_variables()}

    def set(self, values: dict[str, np.ndarray]) -> None:
        with self.graph.as_default():
            for name, variable in self.variables.items():
                variable.load(values[name], self.session)

    def run(self, picture: np.ndarray) -> np.ndarray:
        return self.session.run(self.output, {self.input: picture})


def weights(graph: Graph, checkpoint: str | None, seed: int) -> dict[str, np.ndarray]:
    """Every variable's value: from `checkpoint`, else random (scaled by fan-in, biases too)."""
    if checkpoint:
        reader = tf.train.load_checkpoint(checkpoint)
        return {name: reader.get_tensor(name) for name in graph.variables}
    rng = np.random.default_rng(seed)
    values = {}
    for name, variable in graph.variables.items():
        shape = variable.shape.as_list()
        fan_in = int(np.prod(shape[:-1])) if len(shape) > 1 else 10
        values[name] = (rng.standard_normal(shape) / np.sqrt(fan_in)).astype(np.float32)
    return values


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", type=Path, required=True)
    parser.add_argument("--model", default=None, help="default: the recipe's first")
    parser.add_argument("--checkout", type=Path, required=True, help="the upstream at the pin, unpatched")
    parser.add_argument("--skip", default="resize_to_skip", help="steps left out of the reference graph")
    parser.add_argument("--sizes", default="1x1,5x7,450x301,720x480")
    parser.add_argument("--same", default="64x96,256x256,720x480", help="sizes where both graphs must agree")
    parser.add_argument("--checkpoint", default=None, help="a checkpoint prefix; default: random weights")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    recipe = tomllib.loads(args.recipe.read_text(encoding="utf-8"))
    model = recipe["models"][args.model or next(iter(recipe["models"]))]
    steps = [Step(s["codemod"], tuple(s["files"]), s["sites"], s.get("params", {})) for s in recipe["step"]]
    unknown = {s.codemod for s in steps} - set(CODEMODS)
    if unknown:
        print(f"cartoon_measure: unknown codemods {sorted(unknown)}", file=sys.stderr)
        return 2
    skipped = set(args.skip.split(",")) if args.skip else set()

    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        patched, reference = Path(tmp) / "patched", Path(tmp) / "reference"
        for line in patch(args.checkout, patched, steps):
            print(line)
        patch(args.checkout, reference, [s for s in steps if s.codemod not in skipped])
        built = {}
        for tag, root in (("patched", patched), ("reference", reference)):
            folder = root / model["graph_path"]
            sys.path.insert(0, str(folder))
            built[tag] = Graph(load(folder, model["graph_imports"], tag), model["graph"])
            sys.path.remove(str(folder))
        values = weights(built["patched"], args.checkpoint, args.seed)
        for graph in built.values():
            graph.set(values)
        print(f"weights: {'checkpoint ' + args.checkpoint if args.checkpoint else f'random, seed {args.seed}'}; "
              f"{len(values)} variables, {sum(v.size for v in values.values())} values")
        rng = np.random.default_rng(args.seed + 1)
        for h, w in map(size, args.sizes.split(",")):
            picture = rng.uniform(-1, 1, (1, h, w, 3)).astype(np.float32)
            out = built["patched"].run(picture)
            good = out.shape[:3] == (1, h, w) and bool(np.isfinite(out).all())
            ok &= good
            print(f"{h}x{w}: patched output {list(out.shape)}, range [{out.min():.4f}, {out.max():.4f}]"
                  f" {'ok' if good else 'WRONG'}")
            try:
                print(f"{h}x{w}: reference output {list(built['reference'].run(picture).shape)}")
            except tf.errors.OpError as exc:
                why = re.search(r"(Incompatible shapes|ConcatOp) ?: [^\n]*|\S[^\n]*$", exc.message)
                print(f"{h}x{w}: reference fails: {type(exc).__name__}: {why.group(0) if why else '?'}")
        for h, w in map(size, args.same.split(",")):
            picture = rng.uniform(-1, 1, (1, h, w, 3)).astype(np.float32)
            a, b = built["patched"].run(picture), built["reference"].run(picture)
            same = a.shape == b.shape and float(np.abs(a - b).max()) == 0.0
            ok &= same
            print(f"{h}x{w}: patched vs reference max |diff| {float(np.abs(a - b).max()):.3g}, "
                  f"bit-identical {bool(np.array_equal(a, b))} {'ok' if same else 'WRONG'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

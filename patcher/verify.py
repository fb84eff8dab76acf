"""`verify`: prove in a subprocess that the patched graph builds and runs with unknown height and width."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from patcher.apply import patched
from patcher.errors import MissingTensorFlow, NotApplied, VerifyError
from patcher.recipe import Model, Recipe

INSTALL = "pip install -e '.[tf]' (TensorFlow 2.19 with tf_keras)"


def upstream_env(dest: Path | None = None, model: Model | None = None) -> dict[str, str]:
    """The environment the upstream's code runs in: the recipe's variables, its checkout `dest` on the path."""
    env = dict(os.environ)
    env.update(model.env if model else {})
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    here = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [here, dest and str(Path(dest).resolve()),
                                                      env.get("PYTHONPATH")]))
    return env


def graph_args(model: Model) -> list[str]:
    """The probe's arguments that tell it how the recipe builds the model's graph."""
    spec = {"graph": model.graph, "input": model.input.name, "moving_average": model.moving_average}
    return ["--script", model.freeze_script, "--spec", json.dumps(spec)]


def run_probe(dest: Path, mode: str, *args: str, error=VerifyError, model: Model | None = None) -> list[dict]:
    """Run patcher.probe MODE in `dest` (with `model`'s environment); its JSON records, or `error` with the
    one it reported: its stage, the upstream file and line it came from (when it came from upstream code)
    and the exception's first line."""
    return run_child("patcher.probe", mode, list(args), dest, upstream_env(dest, model), error,
                     lambda r: f"{r['stage']}: " + (f"{r['where']}: " if r.get("where") else "") + r["message"])


def run_child(module: str, mode: str, args: list[str], cwd: Path, env: dict[str, str], error, describe,
              timeout: float | None = None) -> list[dict]:
    """Run `python -m MODULE MODE ARGS` that prints one JSON record per line; its records, or `error` with
    `describe(record)` of the first error it reported (or with the time it overran `timeout` seconds)."""
    try:
        proc = subprocess.run([sys.executable, "-m", module, mode, *args], cwd=cwd, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise error(f"python -m {module} {mode} did not finish in {timeout:g} s; stopped it") from None
    records = []
    for line in proc.stdout.splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    errors = [r for r in records if "error" in r]
    if errors and errors[0]["error"] == "missing":
        raise MissingTensorFlow(f"TensorFlow is not installed ({errors[0]['message']}); install it with {INSTALL}")
    if errors:
        raise error(describe(errors[0]))
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise error(f"python -m {module} {mode} exited with {proc.returncode}: {tail}")
    return records


def on_branch(dest: Path, model: str, recipe: Recipe) -> None:
    """Stop unless `dest` is a patched checkout with the branch of `recipe`'s model checked out."""
    repo, _, branch = patched(dest, model, recipe)
    if repo.head.is_detached or repo.active_branch.name != branch:
        raise NotApplied(f"{dest} is not on {branch}; run 'python -m patcher apply --model {model}' first")


def verify(recipe: Recipe, dest: Path, model: str, sizes: list[tuple[int, int]]) -> list[dict]:
    on_branch(dest, model, recipe)
    spec = recipe.model(model)
    classes = len(spec.classes)
    print(f"building the {model} graph in {dest} (a subprocess; TensorFlow takes a while to start)", file=sys.stderr)
    records = run_probe(Path(dest), "verify", *graph_args(spec), "--sizes", ",".join(f"{h}x{w}" for h, w in sizes),
                        model=spec)
    build = next(r for r in records if r.get("stage") == "build")
    runs = [r for r in records if r.get("stage") == "run"]
    print(f"TensorFlow {build['tensorflow']}; {build['parameters']:,} parameters; "
          f"output static shape {build['static_shape']}")
    print(f"{'size (HxW)':>12}  {'output shape':>12}  {'ms':>8}  classes")
    for r in runs:
        print(f"{'x'.join(map(str, r['size'])):>12}  {'x'.join(map(str, r['shape'])):>12}  {r['ms']:>8.1f}  "
              f"{r['low']}..{r['high']}")
    if build["static_shape"] != [None, None]:
        raise VerifyError(f"output static shape is {build['static_shape']}, expected [None, None]")
    for r in runs:
        if r["shape"] != r["size"]:
            raise VerifyError(f"{'x'.join(map(str, r['size']))}: output shape {r['shape']} is not the input's")
        if not 0 <= r["low"] <= r["high"] < classes:
            raise VerifyError(f"{'x'.join(map(str, r['size']))}: class ids {r['low']}..{r['high']} outside 0..{classes - 1}")
    if len(runs) != len(sizes):
        raise VerifyError(f"ran {len(runs)} of {len(sizes)} sizes")
    print(f"verified: {model} graph builds with unknown height and width and runs at {len(runs)} sizes")
    return runs

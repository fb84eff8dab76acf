"""`verify`: prove in a subprocess (patcher.probe, run by patcher.child) that the patched graph builds and
runs with unknown height and width."""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from patcher import packages
from patcher.apply import patched
from patcher.child import graph_args, run_probe
from patcher.errors import NotApplied, VerifyError
from patcher.kinds import output_of
from patcher.recipe import Recipe


def on_branch(recipe: Recipe, model: str, dest: Path) -> None:
    """Stop unless `dest` is a patched checkout with the branch of `recipe`'s model checked out."""
    repo, _, branch = patched(dest, model, recipe)
    if repo.head.is_detached or repo.active_branch.name != branch:
        raise NotApplied(f"{dest} is not on {branch}; run 'python -m patcher apply --model {model}' first")


def verify(recipe: Recipe, model: str, dest: Path, sizes: list[tuple[int, int]]) -> list[dict[str, Any]]:
    """Build `model`'s graph in the patched checkout `dest` and run it at each (height, width) of `sizes`;
    print what it found and return the probe's run records. NotApplied when `dest` is not on the model's
    branch; VerifyError when the output kind's checks fail (patcher/kinds; labels: the static shape is not
    [None, None], a run's output is not the input's size, or its class ids leave 0..classes-1)."""
    on_branch(recipe, model, dest)
    spec = recipe.model(model)
    packages.require(spec.packages)
    kind, output = output_of(spec)
    print(f"building the {model} graph in {dest} (a subprocess; TensorFlow takes a while to start)", file=sys.stderr)
    records = run_probe(Path(dest), "verify", *graph_args(spec), "--sizes", ",".join(f"{h}x{w}" for h, w in sizes),
                        spec=spec)
    build = next(r for r in records if r.get("stage") == "build")
    runs = [r for r in records if r.get("stage") == "run"]
    print(f"TensorFlow {build['tensorflow']}; {build['parameters']:,} parameters; "
          f"output static shape {build['static_shape']}")
    print(f"{'size (HxW)':>12}  {'output shape':>12}  {'ms':>8}  {kind.run_column}")
    for r in runs:
        print(f"{'x'.join(map(str, r['size'])):>12}  {'x'.join(map(str, r['shape'])):>12}  {r['ms']:>8.1f}  "
              f"{kind.describe_run(r)}")
    kind.verify(output, build["static_shape"], build.get("dtype", ""), runs)
    if len(runs) != len(sizes):
        raise VerifyError(f"ran {len(runs)} of {len(sizes)} sizes")
    print(f"verified: {model} graph builds with unknown height and width and runs at {len(runs)} sizes")
    return runs

"""`weights` (the command): recover a checkpoint from a published TensorFlow.js graph model of the same
network (patcher/weights.py fetches and reads it).

A graph model made from the upstream's optimised graph no longer holds the checkpoint's variables: the
freeze script's `optimize_for_inference` (TensorFlow's `optimize_for_inference_lib.fold_batch_norms`)
folds each batch norm that follows a convolution into it, as two constants named after the convolution
op, `<conv op>_weights` (the filter times gamma / sqrt(variance + epsilon)) and `<conv op>_bn_offset`
(beta - mean * that scale); for a depthwise convolution likewise. The tensorflowjs converter's own
batch-norm folding (grappler) turns a batch norm that follows no convolution into `<batch-norm op>/Scaled`
and `<batch-norm op>/Offset`. Every other variable (a convolution without a batch norm) is frozen into a
constant under its own name.

Recovery walks the recipe's own graph (the `graph` expression, built as `verify` builds it, in a child
process: patcher/probe.py `recover`) and inverts that naming: each convolution's filter gets the folded
weights and its batch norm becomes an identity plus the folded offset (moving mean 0, moving variance 1,
gamma sqrt(1 + epsilon), beta the offset); a lone batch norm gets gamma Scaled * sqrt(1 + epsilon) and
beta Offset. The checkpoint is written under the names the freeze script restores, moving averages
included. Every variable must be assigned and every published float weight used exactly once, with
equal shapes, except a published weight that names a constant of the graph (a Const op the converter kept
as a weight, such as a fixed filter): it is accepted when its shape and float32 value equal the graph's
own, and refused by name when they differ. Otherwise WeightsError (exit 20) names the first that does not
match and nothing is written.
"""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
from contextlib import suppress
from pathlib import Path
from typing import Any

import numpy as np

from patcher.child import Record, graph_args, run_child, upstream_env
from patcher.errors import OutputError, WeightsError
from patcher.recipe import Model, Recipe
from patcher.verify import on_branch
from patcher.weights import read_model, source


def recover(spec: Model, dest: Path, folder: Path, prefix: Path) -> Record:
    """Write the checkpoint PREFIX of `spec`'s graph (built in the patched checkout `dest`) recovered from
    the graph model in `folder` (see the module's docstring); the probe's record of what was assigned.
    Nothing is written when any name or shape does not match."""
    weights = read_model(folder)
    floats = {k: v for k, v in weights.items() if v.dtype == np.float32}
    if not floats:
        raise WeightsError(f"{folder}/model.json holds no float weights")
    prefix = Path(prefix).absolute()
    made = [p for p in (prefix.parent, *prefix.parent.parents) if not p.exists()]
    work = Path(tempfile.mkdtemp(prefix="patcher-weights-"))
    staging: Path | None = None
    moved: list[Path] = []
    try:
        try:
            np.savez(work / "published.npz", **floats)
            prefix.parent.mkdir(parents=True, exist_ok=True)
            # written beside PREFIX (the same filesystem) and renamed into place whole
            staging = Path(tempfile.mkdtemp(prefix=f".{prefix.name}.partial-", dir=prefix.parent))
        except OSError as exc:
            raise OutputError(f"cannot write the checkpoint {prefix}: {exc.strerror or exc}; nothing was written") \
                from None
        print(f"recovering a checkpoint of the {spec.name} graph from {len(floats)} published weights ...",
              file=sys.stderr)
        record = run_child("patcher.probe", "recover", [*graph_args(spec), "--weights", str(work / "published.npz"),
                                                        "--prefix", str(staging / prefix.name)],
                           dest, upstream_env(dest, spec), WeightsError, _describe)[-1]
        try:
            for path in sorted(staging.iterdir()):
                if path.name != "checkpoint":
                    os.rename(path, prefix.parent / path.name)
                    moved.append(prefix.parent / path.name)
        except OSError as exc:
            raise OutputError(f"cannot write the checkpoint {prefix}: {exc.strerror or exc}; nothing was written") \
                from None
        moved = []
        return record
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        for path in moved:  # a rename failed after others: none of the checkpoint stays
            path.unlink(missing_ok=True)
        for folder in made:  # folders made for PREFIX, when nothing is in them
            with suppress(OSError):
                folder.rmdir()


def _describe(record: Record) -> str:
    """A probe's error: a mismatch as it is, anything else with its stage."""
    if record.get("stage") == "match":
        return str(record["message"]).split(": ", 1)[-1]
    return f"{record['stage']}: {record['message']}"


def write(recipe: Recipe, model: str, dest: Path, given: str | Path, out: Path) -> dict[str, Any]:
    """`patcher weights --from DIR_OR_PACKAGE --out PREFIX`: the checkpoint PREFIX of `model` (its name in
    `recipe`) recovered from a published graph model; what was assigned, with "package" (the recipe's
    published entry, or None) and "from" (the folder). Refuses a PREFIX that has files already (nothing is
    overwritten); NotApplied unless `dest` is on the model's patched branch."""
    on_branch(recipe, model, dest)
    spec = recipe.model(model)
    out = Path(out).absolute()
    clash = sorted(p.name for p in out.parent.glob(f"{out.name}.*")) if out.parent.is_dir() else []
    if clash:
        raise WeightsError(f"{out} exists ({', '.join(clash[:3])}); choose another --out, nothing was written")
    folder, published = source(spec, given)
    return {**recover(spec, dest, folder, out), "package": published, "from": str(folder)}

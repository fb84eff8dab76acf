"""`build`: freeze the checkpoint with the patched upstream's own script, convert it for TensorFlow.js.

Everything is made in a hidden folder beside the output and swapped into place only when complete, so a
failure leaves the previous output as it was.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from patcher import graphfix, page
from patcher.apply import patched
from patcher.checkout import locked
from patcher.errors import BuildError, CheckpointError
from patcher.recipe import Recipe
from patcher.verify import on_branch, run_probe, upstream_env

GRAPH = "frozen_graph.pb"
OUTPUTS = ["final_output", "BiseNetV2/prob"]
CHECKPOINT_HELP = (
    "the trained {model} checkpoint is linked from the upstream README "
    "(https://github.com/MaybeShewill-CV/bisenetv2-tensorflow#readme); it is four files: "
    "PREFIX.data-00000-of-00001, PREFIX.index, PREFIX.meta and checkpoint; pass --checkpoint PREFIX "
    "(for example --checkpoint weights/celebamask_hq.ckpt), or --random-weights to try the pipeline"
)
CLASSES = {
    "celebamask": ["background", "skin", "l_brow", "r_brow", "l_eye", "r_eye", "eye_g", "l_ear", "r_ear", "ear_r",
                   "nose", "mouth", "u_lip", "l_lip", "neck", "neck_l", "cloth", "hair", "hat"],
    "cityscapes": ["road", "sidewalk", "building", "wall", "fence", "pole", "traffic light", "traffic sign",
                   "vegetation", "terrain", "sky", "person", "rider", "car", "truck", "bus", "train", "motorcycle",
                   "bicycle"],
}
PALETTE = {
    "celebamask": [[0, 0, 0], [128, 0, 0], [0, 128, 0], [128, 128, 0], [0, 0, 128], [128, 0, 128], [0, 128, 128],
                   [128, 128, 128], [64, 0, 0], [192, 0, 0], [64, 128, 0], [192, 128, 0], [64, 0, 128],
                   [192, 0, 128], [64, 128, 128], [192, 128, 128], [0, 64, 0], [128, 64, 0], [0, 192, 0]],
    "cityscapes": [[128, 64, 128], [244, 35, 232], [70, 70, 70], [102, 102, 156], [190, 153, 153], [153, 153, 153],
                   [250, 170, 30], [220, 220, 0], [107, 142, 35], [152, 251, 152], [70, 130, 180], [220, 20, 60],
                   [255, 0, 0], [0, 0, 142], [0, 0, 70], [0, 60, 100], [0, 80, 100], [0, 0, 230], [119, 11, 32]],
}


def checkpoint_digest(prefix: Path, model: str) -> str:
    """SHA-256 over the checkpoint's index and data files; stops with where to get it when they are absent."""
    index = Path(f"{prefix}.index")
    data = sorted(index.parent.glob(f"{index.name[:-len('.index')]}.data-*")) if index.parent.is_dir() else []
    missing = [p.name for p in [index] if not p.is_file()] + ([] if data else [f"{Path(prefix).name}.data-*"])
    if missing:
        raise CheckpointError(f"checkpoint {prefix} lacks {', '.join(missing)}; " + CHECKPOINT_HELP.format(model=model))
    digest = hashlib.sha256()
    for path in [index, *data]:
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def run(command: list[str], cwd: Path, what: str, env: dict[str, str]) -> None:
    print(f"{what} ...", file=sys.stderr)
    proc = subprocess.run(command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        lines = [line.strip() for line in proc.stderr.splitlines() if line.strip()]
        errors = [line for line in lines if re.match(r"^[\w.]*(Error|Exception)\b", line)]
        raise BuildError(f"{what} failed (exit {proc.returncode}): {(errors or lines or ['no output'])[-1]}")


def swap_into_place(staged: Path, out: Path) -> None:
    """Replace `out` with `staged`; the old content is moved aside first and removed last."""
    old = out.parent / f".{out.name}.old-{os.getpid()}"
    if out.exists():
        out.rename(old)
    staged.rename(out)
    shutil.rmtree(old, ignore_errors=True)


def recover(out: Path) -> None:
    """Undo what a killed build left: put a moved-aside output back, drop staging folders."""
    olds = sorted(out.parent.glob(f".{out.name}.old-*"))
    if olds and not out.exists():
        olds.pop().rename(out)
    for stale in [*olds, *out.parent.glob(f".{out.name}.partial-*")]:
        shutil.rmtree(stale, ignore_errors=True)


def metadata(recipe: Recipe, dest: Path, model: str, weights: str) -> dict:
    repo, pin, branch = patched(dest, model)
    return {
        "patcher": {
            "upstream": recipe.url,
            "commit": pin,
            "patched_commit": repo.commit(branch).hexsha,
            "codemods": [s.codemod for s in recipe.steps],
            "model": model,
            "weights": weights,
        },
        "input": {"name": "input_tensor", "shape": [1, None, None, 3], "color": "RGB",
                  "preprocessing": "x / 127.5 - 1", "default_size": [448, 448]},
        "outputs": {"final_output": "class id per pixel, [H, W], int32",
                    "BiseNetV2/prob": "class probabilities, [1, H, W, classes], float32"},
        "classes": CLASSES[model],
        "palette": PALETTE[model],
    }


QUICK_CHECK = {"backends": ("wasm",), "sizes": [(96, 96), (90, 70)]}


def build(recipe: Recipe, dest: Path, model: str, out: Path, checkpoint: Path | None = None,
          random_weights: bool = False, fix_fusions: bool = True, quick_check: bool = True,
          optimize: bool = True, quantize: str | None = None, seed: int = 0) -> dict:
    """Freeze, convert and (quickly) check the web model into `out`; its metadata.

    Holds patcher's locks on the checkout and on `out` for the whole run.
    """
    dest, out = Path(dest).absolute(), Path(out).absolute()
    on_branch(dest, model)
    if checkpoint is None and not random_weights:
        raise CheckpointError("no --checkpoint given; " + CHECKPOINT_HELP.format(model=model))
    with locked(dest), locked(out):
        return _build(recipe, dest, model, out, checkpoint, random_weights, fix_fusions, quick_check, optimize,
                      quantize, seed)


def _build(recipe, dest, model, out, checkpoint, random_weights, fix_fusions, quick_check, optimize,
           quantize, seed) -> dict:
    script = recipe.models[model]["freeze_script"]
    recover(out)
    staged = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    staged.chmod(0o755)
    work = Path(tempfile.mkdtemp(prefix="patcher-build-"))
    try:
        if random_weights:
            prefix = work / "random" / "random.ckpt"
            print("writing a checkpoint of random weights ...", file=sys.stderr)
            run_probe(dest, "checkpoint", "--script", script, "--prefix", str(prefix), "--seed", str(seed),
                      error=BuildError)
            weights = "random weights"
        else:
            prefix = Path(checkpoint).absolute()
            weights = f"sha256:{checkpoint_digest(prefix, model)}"
        print("matching the checkpoint with the graph ...", file=sys.stderr)
        found = run_probe(dest, "match", "--script", script, "--prefix", str(prefix), error=CheckpointError)[-1]
        if found["missing"] or found["wrong_shape"]:
            problems = found["missing"] + found["wrong_shape"]
            raise CheckpointError(
                f"checkpoint {prefix} does not fit the {model} graph: {len(found['missing'])} of "
                f"{found['expected']} variables missing, {len(found['wrong_shape'])} of another shape "
                f"(is it for another model?): {', '.join(problems[:5])}{' ...' if len(problems) > 5 else ''}")
        frozen, optimized = work / "frozen.pb", work / "optimized.pb"
        env = upstream_env(dest)
        run([sys.executable, script, "--weights_path", str(prefix), "--frozen_pb_file_path", str(frozen),
             "--optimized_pb_file_path", str(optimized)], dest, "freezing with the upstream's freeze script", env)
        if not optimized.is_file():
            raise BuildError(f"the freeze script wrote no optimised graph at {optimized}")
        shutil.copy2(optimized, staged / GRAPH)
        converted = work / "converted.pb"
        edits = prepare_graph(optimized, converted, fix_fusions, optimize)
        flags = [f"--quantize_{quantize}=*"] if quantize else []
        run([sys.executable, "-m", "tensorflowjs.converters.converter", "--input_format=tf_frozen_model",
             f"--output_node_names={','.join(OUTPUTS)}", *flags, str(converted), str(staged)], work,
            "converting with tensorflowjs_converter", env)
        page.install(staged)
        bad = graphfix.unsound_fusions(staged / "model.json")
        if bad and fix_fusions:
            raise BuildError(f"the converter fused non-bias operands into {len(bad)} ops: {', '.join(bad[:3])}")
        meta = metadata(recipe, dest, model, weights)
        meta["patcher"]["graph_edits"] = edits
        if optimize:
            meta["outputs"]["final_output"] = "class id per pixel, [1, H, W], int32"
        meta["patcher"]["quantization"] = quantize or "float32"
        if random_weights:
            meta["patcher"]["seed"] = seed
        model_json = staged / "model.json"
        content = json.loads(model_json.read_text())
        content["userDefinedMetadata"] = meta
        model_json.write_text(json.dumps(content))
        if quick_check:
            from patcher.check import QUANTIZED_FLOOR, check  # noqa: PLC0415 - check imports this module

            check(staged, QUICK_CHECK["backends"], QUICK_CHECK["sizes"], floor=QUANTIZED_FLOOR if quantize else None)
        swap_into_place(staged, out)
        return meta
    finally:
        shutil.rmtree(work, ignore_errors=True)
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(staged)


def prepare_graph(source: Path, target: Path, fix_fusions: bool, optimize: bool) -> dict[str, list[str]]:
    """The graph handed to the converter: the freeze script's, with the converter's misread Adds swapped
    and (`optimize`) the simplifications of graphfix.simplify; what was edited."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from tensorflow.core.framework import graph_pb2  # noqa: PLC0415 - TensorFlow only when building

    graph_def = graph_pb2.GraphDef()
    graph_def.ParseFromString(source.read_bytes())
    edits = {"swapped_adds": graphfix.swap_residual_adds(graph_def) if fix_fusions else [],
             "simplified": graphfix.simplify(graph_def) if optimize else []}
    target.write_bytes(graph_def.SerializeToString())
    return edits

"""`build`: freeze the checkpoint with the patched upstream's own script, convert it for TensorFlow.js.

Everything is made in hidden folders beside the output and swapped into place only when complete, so a
failure leaves the previous output as it was; which folders may be replaced, and how: patcher/outdir.py.
The web folder DIR gets what a server may serve; the frozen graph (for `check` only) goes to DIR.tf.
"""
from __future__ import annotations

import json
import shutil
import sys
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from patcher import freeze, graphfix, litert, npm, outdir, packages, page, recovery, weights
from patcher.apply import patched
from patcher.check import check
from patcher.checkout import locked
from patcher.child import graph_args, run_probe, run_tool, upstream_env
from patcher.errors import BuildError, CheckpointError
from patcher.hashing import file_digest
from patcher.kinds import output_of
from patcher.native import tensorflow
from patcher.pictures import pictures
from patcher.recipe import Model, Recipe
from patcher.verify import on_branch

GRAPH = outdir.GRAPH  # in outdir.graph_dir(DIR), beside the web folder: outdir.graph_path(DIR)


@dataclass(frozen=True)
class Options:
    """What `build` makes: weights (a checkpoint or random), the variant, and the checks it runs."""

    checkpoint: Path | None = None
    random_weights: bool = False
    seed: int = 0
    # 'published' (the recipe's npm package) or a folder of a published graph model: weights recovered
    # from it (patcher/weights.py); 'upstream': the recipe's upstream_checkpoint in the checkout
    published: str | None = None
    quantize: str | None = None
    optimize: bool = True
    with_probabilities: bool = False
    fix_fusions: bool = True
    quick_check: bool = True
    # files in an earlier build's folder that patcher did not write are moved to a backup, not refused
    force: bool = False
    # build --litert: TFLite models for LiteRT.js beside the tfjs model, or None
    litert: litert.Options | None = None
    # the npm package's name (None: the recipe's `package`, else RECIPE-MODEL)
    package_name: str | None = None


def checkpoint_digest(spec: Model, prefix: Path) -> str:
    """SHA-256 over the checkpoint's index and data files; stops with where to get it when they are absent."""
    index = Path(f"{prefix}.index")
    data = sorted(index.parent.glob(f"{index.name[:-len('.index')]}.data-*")) if index.parent.is_dir() else []
    missing = [p.name for p in [index] if not p.is_file()] + ([] if data else [f"{Path(prefix).name}.data-*"])
    if missing:
        raise CheckpointError(f"checkpoint {prefix} lacks {', '.join(missing)}; {where_from(spec)}")
    return file_digest(index, *data).hex()


UPSTREAM = "upstream"  # build --weights upstream: the checkpoint the recipe names inside the checkout


def upstream_checkpoint(spec: Model, dest: Path) -> Path:
    """The prefix of the upstream's own checkpoint in the checkout `dest` (the recipe's
    `upstream_checkpoint`); CheckpointError in one line when the recipe names none or the checkout lacks
    its index or data file (a copy made without the repository's large files)."""
    if not spec.upstream_checkpoint:
        raise CheckpointError(f"model {spec.name} names no checkpoint of the upstream's own (upstream_checkpoint in "
                              f"the recipe); {where_from(spec)}")
    prefix = dest / spec.upstream_checkpoint
    index = Path(f"{prefix}.index")
    data = sorted(prefix.parent.glob(f"{prefix.name}.data-*")) if prefix.parent.is_dir() else []
    lacking = [p for p, there in ((f"{spec.upstream_checkpoint}.index", index.is_file()),
                                  (f"{spec.upstream_checkpoint}.data-*", bool(data))) if not there]
    if lacking:
        raise CheckpointError(f"the checkout {dest} lacks the upstream's checkpoint ({' and '.join(lacking)}; a copy "
                              "without the repository's large files?); clone the upstream whole, or pass --checkpoint "
                              "PREFIX or --weights published")
    return prefix


def where_from(spec: Model) -> str:
    """Where the recipe says the model's checkpoint comes from, and the alternative."""
    return (spec.checkpoint_help + "; " if spec.checkpoint_help else "") + "or --random-weights to try the pipeline"


def outputs(spec: Model, options: Options) -> list[dict[str, Any]]:
    """The outputs the web model has, as `model.json`'s metadata describes them (the output kind's)."""
    kind, output = output_of(spec)
    return list(kind.metadata(output, spec.input, options.with_probabilities)["outputs"])


def metadata(recipe: Recipe, spec: Model, dest: Path, weights: str, options: Options) -> dict[str, Any]:
    """model.json's userDefinedMetadata: where the build comes from, its input, and the output kind's
    fields (labels: outputs, classes, palette, transparent; patcher.reference_outputs)."""
    repo, pin, branch = patched(dest, spec.name, recipe)
    inp = spec.input
    kind, output = output_of(spec)
    described = kind.metadata(output, inp, options.with_probabilities)
    meta: dict[str, Any] = {
        "patcher": {
            "upstream": recipe.url,
            "commit": pin,
            "patched_commit": repo.commit(branch).hexsha,
            "recipe": recipe.name,
            "codemods": [s.codemod for s in recipe.steps],
            "model": spec.name,
            "weights": weights,
            "quantization": options.quantize or "float32",
            # what check fetches from the frozen graph in TensorFlow
            "reference_outputs": described.pop("reference_outputs"),
        },
        "title": spec.title,
        "about": spec.about,
        "input": {"name": inp.name, "shape": [1, None, None, 3], "layout": inp.layout, "color": inp.color,
                  "scale": inp.scale, "offset": inp.offset, "preprocessing": f"x * {inp.scale!r} + {inp.offset!r}",
                  "default_size": list(inp.default_size)},
        **described,
        "sample": page.sample_name(spec.sample),
        **({"sample_credit": spec.sample_credit} if spec.sample_credit else {}),
    }
    if options.random_weights:
        meta["patcher"]["seed"] = options.seed
    return meta


# build's quick check: the web model against TensorFlow on wasm at two small sizes
QUICK_BACKENDS = ("wasm",)
QUICK_SIZES = [(96, 96), (90, 70)]


def build(recipe: Recipe, model: str, dest: Path, out: Path, options: Options) -> dict[str, Any]:
    """Freeze, convert and (quickly) check the web model into `out`; its metadata.

    `out` must be absent, empty or made by patcher (outdir.guard, checked first; `options.force` moves files
    that are not patcher's into a backup folder). Holds patcher's locks on the checkout, `out` and its graph
    folder for the whole run.
    """
    dest = Path(dest).absolute()
    out = outdir.guard(out, dest, options.force)
    spec = recipe.model(model)
    on_branch(recipe, model, dest)
    packages.require(spec.packages)
    if options.checkpoint is None and not options.random_weights and options.published is None:
        raise CheckpointError(f"no weights given (--weights published, --checkpoint or --random-weights); "
                              f"{where_from(spec)}")
    if options.published == UPSTREAM:
        options = replace(options, checkpoint=upstream_checkpoint(spec, dest), published=None)
    if options.published is not None:
        weights.source(spec, options.published)  # fetched (or refused) before any lock or TensorFlow work
    with outdir.output_errors(out), locked(dest), locked(out), locked(outdir.graph_dir(out)):
        return _build(recipe, spec, dest, out, options)


def _build(recipe: Recipe, spec: Model, dest: Path, out: Path, options: Options) -> dict[str, Any]:
    provenance: dict[str, Any] = {}
    outdir.recover(out)
    staged = outdir.stage(out)
    work = Path(tempfile.mkdtemp(prefix="patcher-build-"))
    try:
        if options.random_weights:
            prefix = work / "random" / "random.ckpt"
            print("writing a checkpoint of random weights ...", file=sys.stderr)
            seeded = ["--prefix", str(prefix), "--seed", str(options.seed)]
            if spec.restore is not None:  # every variable the recipe restores, biases included
                freeze.run(dest, "checkpoint", spec, seeded, BuildError)
            else:
                run_probe(dest, "checkpoint", *graph_args(spec), *seeded, error=BuildError, spec=spec)
            made = "random weights"
        elif options.published is not None:
            folder, entry = weights.source(spec, options.published)
            prefix = work / "published" / "model.ckpt"
            recovery.recover(spec, dest, folder, prefix)
            made = f"recovered from {weights.describe(entry) if entry else folder}"
            provenance = {"package": entry["package"], "version": entry["version"], "folder": entry["folder"],
                          "integrity": entry["integrity"], "license": entry["license"], "terms": entry["terms"]} \
                if entry else {"folder": str(Path(folder).absolute())}
        else:
            prefix = Path(str(options.checkpoint)).absolute()
            made = f"sha256:{checkpoint_digest(spec, prefix)}"
            if spec.upstream_checkpoint and prefix == dest / spec.upstream_checkpoint:
                provenance = {"checkpoint": spec.upstream_checkpoint}  # the upstream's own, from its git tree
            if spec.restore is None:  # (freezing from `restore` checks the fit itself)
                check_fits(spec, dest, prefix)  # (random weights are written from the graph itself: they fit)
        env = upstream_env(dest, spec)
        frozen = freeze_graph(spec, dest, prefix, work, env)
        shutil.copy2(frozen, outdir.graph_dir(staged) / GRAPH)
        converted = work / "converted.pb"
        edits = prepare_graph(frozen, converted, options.fix_fusions, options.optimize)
        names = [o["name"] for o in outputs(spec, options)]
        flags = [f"--quantize_{options.quantize}=*"] if options.quantize else []
        run_tool([sys.executable, "-m", "tensorflowjs.converters.converter", "--input_format=tf_frozen_model",
                  f"--output_node_names={','.join(names)}", *flags, str(converted), str(staged)], work,
                 "converting with tensorflowjs_converter", env, BuildError)
        outdir.fault("shards", staged)
        page.install(staged, spec.sample, spec.sample_crop, output_of(spec)[0].name)
        faces = weights.detector(spec.faces, staged, options.litert is not None) if spec.faces else None
        bad = graphfix.unsound_fusions(staged / "model.json")
        if bad and options.fix_fusions:
            raise BuildError(f"the converter fused non-bias operands into {len(bad)} ops: {', '.join(bad[:3])}")
        meta = metadata(recipe, spec, dest, made, options)
        meta["patcher"]["graph_edits"] = edits
        if faces is not None:
            meta["faces"] = faces  # the face detector segmenter.js runs first (face mode), or why there is none
        if "checkpoint" in provenance:
            meta["patcher"]["checkpoint"] = provenance["checkpoint"]
        if options.published is not None:
            meta["patcher"]["published"] = provenance
            if "terms" in provenance:
                # the page shows `about`: the weights' origin and the data's terms go wherever the model goes
                meta["terms"] = provenance["terms"]
                meta["about"] = (f"{meta['about']} Weights from {provenance['package']}@{provenance['version']} "
                                 f"({provenance['license']}), {provenance['terms']}.").strip()
        if options.litert is not None:
            # the recipe's pictures: int8 calibration (unless --calibration) and the accuracy checks
            seen = pictures(spec.pictures, with_variants=False, side=512) if spec.pictures else None
            lite = litert.for_faces(options.litert) if spec.faces else options.litert
            meta["litert"] = litert.build(converted, outdir.graph_dir(staged) / GRAPH, staged / litert.FOLDER, meta,
                                          lite, staged / page.sample_name(spec.sample), seen)
        model_json = staged / "model.json"
        content = json.loads(model_json.read_text())
        content["userDefinedMetadata"] = meta
        model_json.write_text(json.dumps(content))
        npm.write(staged, meta, options.package_name or spec.package or None, spec.license)
        if options.quick_check:
            check(staged, QUICK_BACKENDS, QUICK_SIZES, floor=output_of(spec)[0].quick(options.quantize or "float32"))
        outdir.commit(staged, out, dest, options.force)
        return meta
    finally:
        shutil.rmtree(work, ignore_errors=True)
        outdir.drop(staged)


def freeze_graph(spec: Model, dest: Path, prefix: Path, work: Path, env: dict[str, str]) -> Path:
    """The frozen graph of the checkpoint `prefix`: by the upstream's freeze script, or (the recipe names
    what to `restore`) by patcher.freeze from the recipe's graph expression."""
    if spec.restore is not None:
        frozen = work / "frozen.pb"
        print("freezing from the recipe's graph expression ...", file=sys.stderr)
        freeze.run(dest, "freeze", spec, ["--checkpoint", str(prefix), "--out", str(frozen)], BuildError)
        return frozen
    graphs = {"checkpoint": str(prefix), "frozen": str(work / "frozen.pb"), "optimized": str(work / "optimized.pb")}
    run_tool([sys.executable, spec.freeze_script, *(a.format(**graphs) for a in spec.freeze_args)], dest,
             "freezing with the upstream's freeze script", env, BuildError)
    frozen = Path(graphs[spec.convert])
    if not frozen.is_file():
        raise BuildError(f"the freeze script wrote no {spec.convert} graph at {frozen}")
    return frozen


def check_fits(spec: Model, dest: Path, prefix: Path) -> None:
    """Stop with CheckpointError when the checkpoint lacks a variable the graph restores, or has one of
    another shape."""
    print("matching the checkpoint with the graph ...", file=sys.stderr)
    found = run_probe(dest, "match", *graph_args(spec), "--prefix", str(prefix), error=CheckpointError,
                      spec=spec)[-1]
    if found["missing"] or found["wrong_shape"]:
        problems = found["missing"] + found["wrong_shape"]
        raise CheckpointError(
            f"checkpoint {prefix} does not fit the {spec.name} graph: {len(found['missing'])} of "
            f"{found['expected']} variables missing, {len(found['wrong_shape'])} of another shape "
            f"(is it for another model?): {', '.join(problems[:5])}{' ...' if len(problems) > 5 else ''}")


def prepare_graph(source: Path, target: Path, fix_fusions: bool, optimize: bool) -> dict[str, list[str]]:
    """The graph handed to the converter: the freeze script's, with the converter's misread Adds swapped
    and (`optimize`) the simplifications of graphfix.simplify; what was edited."""
    tensorflow()
    from tensorflow.core.framework import graph_pb2  # noqa: PLC0415 - TensorFlow only when building

    graph_def = graph_pb2.GraphDef()
    graph_def.ParseFromString(source.read_bytes())
    edits = {"swapped_adds": graphfix.swap_residual_adds(graph_def) if fix_fusions else [],
             "simplified": graphfix.simplify(graph_def) if optimize else []}
    target.write_bytes(graph_def.SerializeToString())
    return edits

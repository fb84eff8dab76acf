"""`check`: run the same images through the frozen TensorFlow graph and the web model on each Node backend."""
from __future__ import annotations

import json
import shutil
import sys
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from patcher import graphfix, nodejs, outdir, weights
from patcher.child import Record, run_node, run_probe
from patcher.errors import ParityError
from patcher.metrics import measure, picture_pixels, preprocess, resize, softmax
from patcher.pictures import pictures as recipe_pictures

if TYPE_CHECKING:
    from patcher.recipe import Recipe

Size = tuple[int, int]
Pictures = list[tuple[str, np.ndarray]]

GRAPH = outdir.GRAPH  # beside the web folder: outdir.graph_path(model_dir)
SIZES = [(288, 288), (448, 448), (512, 384), (450, 301)]
BACKENDS = ("cpu", "wasm")
# tfjs's cpu backend is plain JavaScript (20 to 30 times slower than wasm here): by default it runs one
# small size, every size with `check --all-sizes` or when sizes are given
SLOW = {"cpu": [(288, 288)]}
MIN_AGREEMENT = 0.999
MAX_PROB_DIFF = 1e-4
SAME_WEIGHTS_MAX_PROB_DIFF = 1e-5
# Quantized weights change the numbers by design: class maps must agree on 99 %, differences are reported.
QUANTIZED_MIN_AGREEMENT = 0.99
# build's quick check of a quantized variant only stops below this: under it the conversion is broken,
# above it a shortfall is how near-tied classes (random weights) meet rounded weights, and is reported.
QUANTIZED_FLOOR = 0.9


@dataclass
class Row:
    backend: str
    size: tuple[int, int]
    agreement: float
    prob_diff: float
    ms: float
    tf_ms: float

    min_agreement: float = MIN_AGREEMENT
    max_prob_diff: float | None = MAX_PROB_DIFF
    against: str = "TensorFlow"
    runtime: str = ""
    # share of pixels whose top two reference probabilities are within 2 * prob_diff: only they can flip
    could_flip: float = 0.0
    # share of pixels that differ although they could not flip (a real difference, not a tie)
    unexplained: float = 0.0
    # same weights as the reference: the class map must be identical but for ties (unexplained == 0)
    exact: bool = False

    @property
    def ok(self) -> bool:
        if self.max_prob_diff is not None and self.prob_diff > self.max_prob_diff:
            return False
        return self.unexplained == 0 if self.exact else self.agreement >= self.min_agreement


def metadata(model_dir: Path) -> dict[str, Any]:
    """model.json's userDefinedMetadata ({} when it has none); ParityError (16) for a folder without a
    model.json that is a JSON object."""
    path = Path(model_dir) / "model.json"
    try:
        found = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ParityError(f"{model_dir} is not a patcher build (no model.json in it)") from None
    except (OSError, ValueError) as exc:
        raise ParityError(f"{path} cannot be read as JSON ({type(exc).__name__}: {exc})") from None
    meta = found.get("userDefinedMetadata", {}) if isinstance(found, dict) else None
    if not isinstance(meta, dict):
        raise ParityError(f"{path} is not a TensorFlow.js model.json (no object with userDefinedMetadata)")
    return meta


def quantization(model_dir: Path) -> str:
    """How the build stored its weights: float32, float16 or uint8."""
    return metadata(model_dir).get("patcher", {}).get("quantization", "float32")


def bounds(model_dir: Path, reference: Path | None = None) -> tuple[float, float | None, bool]:
    """(least class-map agreement, largest probability difference or None, exact) for the model's weights.

    Against TensorFlow, float32 weights must agree on 99.9 %. Against another web model with the same
    weights (say, the --no-optimize build) the class maps must be identical (`exact`) except at pixels
    where the reference's top two probabilities are tied within the measured difference: there, float
    rounding decides (an argmax of tied softmax outputs takes the first class, of the logits the larger)."""
    if quantization(model_dir) != (quantization(reference) if reference else "float32"):
        return QUANTIZED_MIN_AGREEMENT, None, False
    if reference:
        return 0.0, SAME_WEIGHTS_MAX_PROB_DIFF, True
    return MIN_AGREEMENT, MAX_PROB_DIFF, False


def web_outputs(model_dir: Path) -> tuple[list[str], bool]:
    """What check asks the web model for: its class-id output and the tensor its class probabilities come
    from (the probabilities output if built, else the argmax's input); True when that tensor holds logits."""
    model = json.loads((Path(model_dir) / "model.json").read_text())
    meta = model.get("userDefinedMetadata", {})
    kinds = {o["kind"]: o["name"] for o in meta.get("outputs", [])}
    if "probabilities" in kinds:
        return [kinds["labels"], kinds["probabilities"]], False
    nodes = {n["name"]: (n["op"], n.get("input", [])) for n in model["modelTopology"]["node"]}
    source = graphfix.argmax_source(nodes, kinds.get("labels", ""))
    if source is None:
        raise ParityError(f"{model_dir}/model.json: no ArgMax feeds the class-id output {kinds.get('labels')!r}")
    return [kinds["labels"], source], nodes.get(source, ("",))[0] != "Softmax"


def node_runner(job: Record, work: Path) -> list[Record]:
    """Run patcher/js/run_model.mjs on a job (a model, a tfjs backend, inputs); its JSON records."""
    print(f"running the web model on tfjs {job['backend']} in Node ...", file=sys.stderr)
    return run_node(nodejs.script("run_model.mjs"), job, work / f"job-{job['backend']}.json", f"tfjs {job['backend']}",
                    ParityError)


def run_frozen(graph: Path, inputs: list[Record], work: Path, meta: dict[str, Any], repeat: int = 1) -> list[Record]:
    """Run the frozen graph on raw inputs (class ids and probabilities, named as in the model's
    metadata `meta`); outputs land in work/tf.I.K.npy, records give ms."""
    names = meta["patcher"]["reference_outputs"]
    job = {"graph": str(Path(graph).resolve()), "outputs": [names["labels"], names["probabilities"]],
           "input": meta["input"]["name"], "inputs": inputs, "out": str(work / "tf"), "repeat": repeat}
    (work / "tf.json").write_text(json.dumps(job))
    print("running the frozen graph in TensorFlow ...", file=sys.stderr)
    return run_probe(work, "frozen", "--job", str(work / "tf.json"), error=ParityError)


def built(model_dir: Path) -> Path:
    """`model_dir` made absolute, once its model.json is sound (`validate`) and its frozen graph is there."""
    model_dir = Path(model_dir).absolute()
    if not (model_dir / "model.json").is_file():
        raise ParityError(f"{model_dir} is not a patcher build (no model.json in it)")
    validate(model_dir)
    graph = outdir.graph_path(model_dir)
    if not graph.is_file():
        raise ParityError(f"{model_dir} is not a patcher build: its frozen graph {graph} is missing (build "
                          f"writes it into {graph.parent.name}/ beside the web folder)")
    web, tf = outdir.read_marker(model_dir), outdir.read_marker(graph.parent)
    if web and tf and web.get("build") != tf.get("build"):
        raise ParityError(f"{model_dir} and {graph.parent} come from different builds; build again")
    return model_dir


def validate(model_dir: Path) -> None:
    """Refuse a model.json that is not JSON, lacks the topology or the weights manifest, or names a weight
    shard outside `model_dir` (`..`, an absolute path, a symbolic link out of it): before anything reads
    a shard, so nothing outside the folder is read."""
    path = model_dir / "model.json"
    if not outdir.within(model_dir, path):
        raise ParityError(f"{path} is a symbolic link out of {model_dir}; refusing to read it")
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ParityError(f"{path} is not JSON ({exc})") from None
    except OSError as exc:
        raise ParityError(f"cannot read {path}: {exc.strerror}") from None
    if not isinstance(content, dict) or not isinstance(content.get("modelTopology"), dict):
        raise ParityError(f"{path} is not a TensorFlow.js graph model (no modelTopology)")
    manifest = content.get("weightsManifest")
    if not isinstance(manifest, list) or not all(
            isinstance(g, dict) and isinstance(g.get("paths"), list) and isinstance(g.get("weights"), list)
            for g in manifest):
        raise ParityError(f"{path} has no weightsManifest (a list of groups with paths and weights)")
    for group in manifest:
        for shard in group["paths"]:
            reason = outdir.unsafe(shard)
            if reason is None and not outdir.within(model_dir, model_dir / shard):
                reason = "is a symbolic link out of the folder"
            if reason:
                raise ParityError(f"{path} names the weight shard {shard!r}, which {reason}; refusing to read it")
    if not isinstance(content.get("userDefinedMetadata"), dict) or "patcher" not in content["userDefinedMetadata"]:
        raise ParityError(f"{path} was not made by patcher build (no userDefinedMetadata.patcher)")


def _read(prefix: Path, i: int, shape: tuple[tuple[int, ...], tuple[int, ...]], logits: bool) -> tuple[np.ndarray, np.ndarray]:
    """Class map and probabilities of input i written by run_model.mjs, in TensorFlow's shapes."""
    labels = np.fromfile(f"{prefix}.{i}.0.bin", dtype=np.int32)
    prob = np.fromfile(f"{prefix}.{i}.1.bin", dtype=np.float32).reshape(shape[1])
    return labels.reshape(shape[0]), softmax(prob) if logits else prob


def plan(backends: Iterable[str], sizes: Sequence[Size] | None = None) -> dict[str, list[Size]]:
    """The sizes each backend runs at: `sizes` for all, or by default SIZES (a slow backend: its SLOW ones)."""
    return {b: list(sizes) if sizes else SLOW.get(b, SIZES) for b in backends}


def compare(model_dir: Path, backends: Sequence[str] = BACKENDS, sizes: Sequence[Size] | dict[str, list[Size]] = SIZES,
            repeat: dict[str, int] | None = None, reference: Path | None = None) -> list[Row]:
    """Per backend and size: agreement with TensorFlow (or with the `reference` web model on the same
    backend) and median ms; `repeat` timed runs after a warm-up. `sizes`: a list for every backend, or a
    dict of lists by backend (plan)."""
    repeat = repeat or {}
    runs = sizes if isinstance(sizes, dict) else {b: list(sizes) for b in backends}
    every = list(dict.fromkeys(s for b in backends for s in runs[b]))
    model_dir = built(model_dir)
    reference = built(reference) if reference else None
    work = Path(tempfile.mkdtemp(prefix="patcher-check-"))
    meta = metadata(model_dir)
    try:
        inputs = []
        for i, (h, w) in enumerate(every):
            file = work / f"input{i}.bin"
            preprocess(picture_pixels(h, w), meta).tofile(file)
            inputs.append({"file": str(file), "shape": [1, h, w, 3]})
        tf_records = run_frozen(outdir.graph_path(model_dir), inputs, work, meta, repeat.get("tf", 1))
        expected = [(np.load(work / f"tf.{i}.0.npy"), np.load(work / f"tf.{i}.1.npy")) for i in range(len(every))]
        rows: list[Row] = []
        least, largest, exact = bounds(model_dir, reference)
        fetch, logits = web_outputs(model_dir)
        if reference:
            fetch_reference, logits_reference = web_outputs(reference)
        for backend in backends:
            mine = [i for i, size in enumerate(every) if size in runs[backend]]
            job = {"backend": backend, "inputs": [inputs[i] for i in mine], "repeat": repeat.get(backend, 1),
                   "warmup": backend in repeat}
            records = node_runner({**job, "outputs": fetch, "model": str(model_dir), "out": str(work / backend)}, work)
            if reference:
                node_runner({**job, "outputs": fetch_reference, "model": str(reference),
                             "out": str(work / f"reference-{backend}")}, work)
            for k, i in enumerate(mine):
                want = expected[i]
                shapes = (want[0].shape, want[1].shape)
                if reference:
                    want = _read(work / f"reference-{backend}", k, shapes, logits_reference)
                agreement, diff, could_flip, unexplained = measure(*_read(work / backend, k, shapes, logits), *want)
                rows.append(Row(backend, every[i], agreement, diff, float(np.median(records[k]["ms"])),
                                float(np.median(tf_records[i]["ms"])), least, largest,
                                reference.name if reference else "TensorFlow", records[k].get("runtime", backend),
                                could_flip, unexplained, exact))
        return rows
    finally:
        shutil.rmtree(work, ignore_errors=True)


# check --reference published (or a folder of another graph model of the same network): the recipe's
# pictures, sides that are multiples of 8 (the seed's graph gives an 8-aligned map: 456x304 for 450x301)
PICTURE_SIZES = [(288, 288), (448, 448), (448, 320), (1024, 1024)]


def foreign(path: Path) -> bool:
    """True for a graph model that patcher did not build (no userDefinedMetadata.patcher)."""
    try:
        meta = json.loads((Path(path) / "model.json").read_text(encoding="utf-8")).get("userDefinedMetadata") or {}
    except (OSError, ValueError, AttributeError):
        return False
    return "patcher" not in meta


def compare_pictures(model_dir: Path, reference: Path, pictures: Pictures, backend: str = "wasm",
                     sizes: Sequence[Size] = PICTURE_SIZES, against: str | None = None) -> list[Row]:
    """Class maps of the build and of `reference` (a graph model with the same input and class-id output, such
    as the published one) on `pictures` ((name, RGB uint8 [H, W, 3]); patcher/pictures.py) at each size, on one
    tfjs backend in Node; one row per size, with the agreement over all pictures."""
    model_dir = built(model_dir)
    meta = metadata(model_dir)
    labels = next(o["name"] for o in meta["outputs"] if o["kind"] == "labels")
    work = Path(tempfile.mkdtemp(prefix="patcher-check-"))
    try:
        inputs: list[Record] = []
        for h, w in sizes:
            for _, pixels in pictures:
                file = work / f"input{len(inputs)}.bin"
                preprocess(resize(pixels, h, w), meta).tofile(file)
                inputs.append({"file": str(file), "shape": [1, h, w, 3]})
        job = {"backend": backend, "inputs": inputs, "repeat": 1, "warmup": False, "outputs": [labels]}
        print(f"{len(pictures)} picture{'s' if len(pictures) != 1 else ''} at {len(sizes)} sizes",
              file=sys.stderr)
        mine = node_runner({**job, "model": str(model_dir), "out": str(work / "mine")}, work)
        theirs = node_runner({**job, "model": str(Path(reference).absolute()), "out": str(work / "theirs")}, work)
        rows = []
        for s, (h, w) in enumerate(sizes):
            same = total = 0
            for k in range(s * len(pictures), (s + 1) * len(pictures)):
                a = np.fromfile(f"{work / 'mine'}.{k}.0.bin", dtype=np.int32)
                b = np.fromfile(f"{work / 'theirs'}.{k}.0.bin", dtype=np.int32)
                if a.shape != b.shape:
                    raise ParityError(f"{reference} gives {theirs[k]['outputs'][0]['shape']} class ids for a {h}x{w} "
                                      f"input, the build {mine[k]['outputs'][0]['shape']}: not the same kind of model")
                same += int(np.sum(a == b))
                total += a.size
            rows.append(Row(backend, (h, w), same / total, 0.0, float(np.median([mine[k]["ms"][0] for k in range(
                s * len(pictures), (s + 1) * len(pictures))])), 0.0, MIN_AGREEMENT, None, against or Path(reference).name,
                mine[0].get("runtime", backend)))
        return rows
    finally:
        shutil.rmtree(work, ignore_errors=True)


def report(rows: list[Row]) -> None:
    """The rows as a table on stdout."""
    runtimes = sorted({r.runtime for r in rows if r.runtime})
    print(f"against {rows[0].against}" + (f"; tfjs in Node: {', '.join(runtimes)}" if runtimes else ""))
    print(f"{'backend':>8} {'size (HxW)':>11} {'agreement':>10} {'max |dp|':>9} {'ms':>9} {'TF ms':>8}  ok"
          f"  could flip")
    for r in rows:
        print(f"{r.backend:>8} {r.size[0]:>5}x{r.size[1]:<5} {100 * r.agreement:>9.3f}% {r.prob_diff:>9.1e} "
              f"{r.ms:>9.1f} {r.tf_ms:>8.1f}  {'yes' if r.ok else 'NO ':<3}  {100 * r.could_flip:>9.3f}%")
    print("could flip: pixels whose top two probabilities are within twice max |dp| of each other")


def check(model_dir: Path, backends: Sequence[str] = BACKENDS,
          sizes: Sequence[Size] | dict[str, list[Size]] = SIZES, reference: Path | None = None,
          floor: float | None = None, pictures: Pictures | None = None, against: str | None = None) -> list[Row]:
    """Compare and report; ParityError when a row is out of bounds (with `floor`: only below it). With a
    `reference` patcher did not build: on `pictures` (compare_pictures)."""
    if reference is not None and foreign(reference):
        if isinstance(sizes, dict):
            raise ValueError("a reference patcher did not build is compared at one list of sizes")
        rows = compare_pictures(model_dir, reference, pictures or [], backends[-1], sizes or PICTURE_SIZES, against)
    else:
        rows = compare(model_dir, backends, sizes, reference=reference)
    report(rows)
    failed = [r for r in rows if not r.ok]
    if failed and floor is not None and all(r.agreement >= floor for r in failed):
        worst = min(r.agreement for r in failed)
        print(f"warning: class maps agree on {100 * worst:.3f}% at worst, under {100 * failed[0].min_agreement:g}%; "
              f"'patcher check' judges the model", file=sys.stderr)
        return rows
    if failed:
        r = failed[0]
        limit = f" (<= {r.max_prob_diff:.0e})" if r.max_prob_diff is not None else ""
        if r.exact:
            raise ParityError(f"{len(failed)} of {len(rows)} checks out of bounds; first: tfjs {r.backend} at "
                              f"{r.size[0]}x{r.size[1]} against {r.against}: {100 * r.unexplained:.3f}% of the pixels "
                              f"differ without a tie (identical class maps expected), max |dp| {r.prob_diff:.1e}{limit}")
        raise ParityError(f"{len(failed)} of {len(rows)} checks out of bounds; first: tfjs {r.backend} at "
                          f"{r.size[0]}x{r.size[1]} against {r.against}: agreement {100 * r.agreement:.3f}% "
                          f"(>= {100 * r.min_agreement:g}%), max |dp| {r.prob_diff:.1e}{limit}")
    if rows[0].exact:
        runs = sum(r.agreement < 1 for r in rows)
        pixels = sum(round((1 - r.agreement) * r.size[0] * r.size[1]) for r in rows)
        print("identical class maps" + (f" but for {pixels} tied pixels in {runs} of {len(rows)} runs" if runs else ""))
    counts = {b: sum(r.backend == b for r in rows) for b in backends}
    print(f"checked: the web model matches {rows[0].against} on "
          + ", ".join(f"{b} at {n} size{'s' if n != 1 else ''}" for b, n in counts.items()))
    return rows


def run(recipe: Recipe, model: str, model_dir: Path, backends: Sequence[str] = BACKENDS,
        sizes: Sequence[Size] | None = None, all_sizes: bool = False, reference: Path | None = None) -> list[Row]:
    """`patcher check`: the build in `model_dir` against TensorFlow at `sizes` (default: plan's; every
    default size on every backend with `all_sizes`), or against `reference`. A reference patcher built
    (same network, say a --no-optimize build) is compared on the same inputs; 'published' (the recipe's
    package, fetched) or a graph model patcher did not build is compared on the recipe's pictures of the
    model the build was made of (else of `model`) at PICTURE_SIZES, on the last backend only."""
    if reference is None or (str(reference) != weights.PUBLISHED and not foreign(reference)):
        return check(model_dir, backends, plan(backends, sizes or (SIZES if all_sizes else None)), reference)
    spec = recipe.model(metadata(model_dir).get("patcher", {}).get("model", model))
    against = None
    if str(reference) == weights.PUBLISHED:
        reference, entry = weights.source(spec, weights.PUBLISHED)
        against = f"the published model ({weights.describe(entry)})" if entry else None
    entries = spec.pictures or [{"name": "sample", "source": spec.sample}]
    return check(model_dir, (backends[-1],), sizes or PICTURE_SIZES, reference,
                 pictures=recipe_pictures(entries, with_variants=False), against=against)


def pictures_of(recipe: Recipe, model_dir: Path) -> Pictures | None:
    """The recipe's pictures (512x512) of the model a build was made of; None when the recipe names none,
    or the build is of another recipe."""
    made = metadata(model_dir).get("patcher", {})
    spec = recipe.models.get(made.get("model")) if made.get("recipe") == recipe.name else None
    return recipe_pictures(spec.pictures, with_variants=False, side=512) if spec and spec.pictures else None

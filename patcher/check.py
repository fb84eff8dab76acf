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

from patcher import nodejs, outdir, weights
from patcher.child import Record, run_node, run_probe
from patcher.errors import ParityError
from patcher.kinds import Bound, Comparison, Fetches, of_metadata
from patcher.metrics import picture_pixels, preprocess, resize, softmax
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


@dataclass
class Row:
    """One comparison: a tfjs backend at a size against TensorFlow (or a reference model), with the output
    kind's metrics and bound (`comparison`, patcher/kinds) and the median ms of both."""

    backend: str
    size: tuple[int, int]
    comparison: Comparison
    ms: float
    tf_ms: float
    against: str = "TensorFlow"
    runtime: str = ""

    @property
    def ok(self) -> bool:
        return self.comparison.ok

    @property
    def score(self) -> float:
        """The metric the bound judges (labels: class-map agreement; image: a share or PSNR)."""
        return self.comparison.metrics[self.comparison.bound.metric]


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


def _model_json(model_dir: Path) -> dict[str, Any]:
    return dict(json.loads((Path(model_dir) / "model.json").read_text()))


def node_runner(job: Record, work: Path) -> list[Record]:
    """Run patcher/js/run_model.mjs on a job (a model, a tfjs backend, inputs); its JSON records."""
    print(f"running the web model on tfjs {job['backend']} in Node ...", file=sys.stderr)
    return run_node(nodejs.script("run_model.mjs"), job, work / f"job-{job['backend']}.json", f"tfjs {job['backend']}",
                    ParityError)


def run_frozen(graph: Path, inputs: list[Record], work: Path, meta: dict[str, Any], repeat: int = 1) -> list[Record]:
    """Run the frozen graph on raw inputs, fetching what the output kind of the model's metadata `meta`
    compares (labels: class ids and probabilities); outputs land in work/tf.I.K.npy, records give ms."""
    job = {"graph": str(Path(graph).resolve()), "outputs": list(of_metadata(meta).reference(meta).names),
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


def _read(prefix: Path, i: int, record: Record) -> list[np.ndarray]:
    """The outputs of input i written by run_model.mjs (flat, in the dtypes its record names)."""
    return [np.fromfile(f"{prefix}.{i}.{k}.bin", dtype=np.dtype(o["dtype"])) for k, o in enumerate(record["outputs"])]


def _as_reference(got: list[np.ndarray], want: list[np.ndarray], fetched: Fetches) -> list[np.ndarray]:
    """A reference web model's outputs in TensorFlow's shapes (`fetched.logits`: the second softmaxed)."""
    shaped = [g.reshape(w.shape) for g, w in zip(got, want, strict=True)]
    return [shaped[0], softmax(shaped[1]), *shaped[2:]] if fetched.logits else shaped


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
        kind = of_metadata(meta)
        tf_records = run_frozen(outdir.graph_path(model_dir), inputs, work, meta, repeat.get("tf", 1))
        count = len(kind.reference(meta).names)
        expected = [[np.load(work / f"tf.{i}.{j}.npy") for j in range(count)] for i in range(len(every))]
        rows: list[Row] = []
        bound = kind.bound(quantization(model_dir), quantization(reference) if reference else None)
        fetched = kind.fetches(_model_json(model_dir))
        if reference:
            fetched_reference = kind.fetches(_model_json(reference))
        for backend in backends:
            mine = [i for i, size in enumerate(every) if size in runs[backend]]
            job = {"backend": backend, "inputs": [inputs[i] for i in mine], "repeat": repeat.get(backend, 1),
                   "warmup": backend in repeat}
            records = node_runner({**job, "outputs": list(fetched.names), "model": str(model_dir),
                                   "out": str(work / backend)}, work)
            if reference:
                theirs = node_runner({**job, "outputs": list(fetched_reference.names), "model": str(reference),
                                      "out": str(work / f"reference-{backend}")}, work)
            for k, i in enumerate(mine):
                want = expected[i]
                if reference:
                    want = _as_reference(_read(work / f"reference-{backend}", k, theirs[k]), want, fetched_reference)
                found = kind.compare(_read(work / backend, k, records[k]), want, bound, meta, fetched)
                rows.append(Row(backend, every[i], found, float(np.median(records[k]["ms"])),
                                float(np.median(tf_records[i]["ms"])), reference.name if reference else "TensorFlow",
                                records[k].get("runtime", backend)))
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
    """The build's output and that of `reference` (a graph model of the same network patcher did not build,
    such as the published one: the same input; asked for the build's output name when it has a node so
    named, else for its default outputs) on
    `pictures` ((name, RGB uint8 [H, W, 3]); patcher/pictures.py) at each size, on one tfjs backend in Node;
    one row per size, judged over all pictures by the output kind (`agree`)."""
    model_dir = built(model_dir)
    meta = metadata(model_dir)
    kind = of_metadata(meta)
    output = kind.fetches(_model_json(model_dir)).names[0]
    work = Path(tempfile.mkdtemp(prefix="patcher-check-"))
    try:
        inputs: list[Record] = []
        for h, w in sizes:
            for _, pixels in pictures:
                file = work / f"input{len(inputs)}.bin"
                preprocess(resize(pixels, h, w), meta).tofile(file)
                inputs.append({"file": str(file), "shape": [1, h, w, 3]})
        job = {"backend": backend, "inputs": inputs, "repeat": 1, "warmup": False}
        print(f"{len(pictures)} picture{'s' if len(pictures) != 1 else ''} at {len(sizes)} sizes",
              file=sys.stderr)
        mine = node_runner({**job, "outputs": [output], "model": str(model_dir), "out": str(work / "mine")}, work)
        # the reference's node of the build's output name (the published face parser's), else its own outputs
        nodes = {n.get("name") for n in _model_json(reference).get("modelTopology", {}).get("node", [])}
        asked = {"outputs": [output]} if output in nodes else {}
        theirs = node_runner({**job, **asked, "model": str(Path(reference).absolute()), "out": str(work / "theirs")},
                             work)
        rows = []
        for s, (h, w) in enumerate(sizes):
            got, want = [], []
            for k in range(s * len(pictures), (s + 1) * len(pictures)):
                a, b = _read(work / "mine", k, mine[k])[0], _read(work / "theirs", k, theirs[k])[0]
                if a.size != b.size:
                    raise ParityError(f"{reference} gives {theirs[k]['outputs'][0]['shape']} for a {h}x{w} input, "
                                      f"the build {mine[k]['outputs'][0]['shape']}: not the same kind of model")
                got.append(a)
                want.append(b.astype(a.dtype))
            found = kind.agree(np.concatenate(got), np.concatenate(want), meta)
            rows.append(Row(backend, (h, w), found, float(np.median([mine[k]["ms"][0] for k in range(
                s * len(pictures), (s + 1) * len(pictures))])), 0.0, against or Path(reference).name,
                mine[0].get("runtime", backend)))
        return rows
    finally:
        shutil.rmtree(work, ignore_errors=True)


def report(rows: list[Row], legend: str = "") -> None:
    """The rows as a table on stdout: per row the output kind's first two cells, the times, whether it is
    within its bound, then the kind's further cells."""
    runtimes = sorted({r.runtime for r in rows if r.runtime})
    print(f"against {rows[0].against}" + (f"; tfjs in Node: {', '.join(runtimes)}" if runtimes else ""))
    titles = [t for t, _ in rows[0].comparison.cells]
    print(f"{'backend':>8} {'size (HxW)':>11} " + " ".join(f"{t:>10}" for t in titles[:2])
          + f" {'ms':>9} {'TF ms':>8}  ok " + " ".join(f"{t:>10}" for t in titles[2:]))
    for r in rows:
        values = [v for _, v in r.comparison.cells]
        print(f"{r.backend:>8} {r.size[0]:>5}x{r.size[1]:<5} " + " ".join(f"{v:>10}" for v in values[:2])
              + f" {r.ms:>9.1f} {r.tf_ms:>8.1f}  {'yes' if r.ok else 'NO ':<3}" + " ".join(f"{v:>10}" for v in values[2:]))
    if legend:
        print(legend)


def check(model_dir: Path, backends: Sequence[str] = BACKENDS,
          sizes: Sequence[Size] | dict[str, list[Size]] = SIZES, reference: Path | None = None,
          floor: Bound | None = None, pictures: Pictures | None = None, against: str | None = None) -> list[Row]:
    """Compare and report; ParityError when a row is out of bounds (with `floor`, the output kind's quick
    check: only below it). With a `reference` patcher did not build: on `pictures` (compare_pictures)."""
    if reference is not None and foreign(reference):
        if isinstance(sizes, dict):
            raise ValueError("a reference patcher did not build is compared at one list of sizes")
        rows = compare_pictures(model_dir, reference, pictures or [], backends[-1], sizes or PICTURE_SIZES, against)
    else:
        rows = compare(model_dir, backends, sizes, reference=reference)
    report(rows, of_metadata(metadata(model_dir)).legend)
    failed = [r for r in rows if not r.ok]
    if failed and floor is not None and all(r.comparison.metrics[floor.metric] >= floor.least for r in failed):
        print(f"warning: {len(failed)} of {len(rows)} checks under their bound (first: {failed[0].comparison.reason}), "
              f"above the quick check's floor ({floor.metric} >= {floor.least:g}); 'patcher check' judges the model",
              file=sys.stderr)
        return rows
    if failed:
        r = failed[0]
        raise ParityError(f"{len(failed)} of {len(rows)} checks out of bounds; first: tfjs {r.backend} at "
                          f"{r.size[0]}x{r.size[1]} against {r.against}: {r.comparison.reason}")
    if rows[0].comparison.bound.exact:
        runs = sum(r.score < 1 for r in rows)
        pixels = sum(round((1 - r.score) * r.size[0] * r.size[1]) for r in rows)
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

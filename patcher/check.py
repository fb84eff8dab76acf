"""`check`: run the same images through the frozen TensorFlow graph and the web model on each Node backend."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from patcher.build import GRAPH, OUTPUTS
from patcher.errors import ParityError
from patcher.verify import run_probe

SIZES = [(288, 288), (448, 448), (512, 384), (450, 301)]
BACKENDS = ("cpu", "wasm")
MIN_AGREEMENT = 0.999
MAX_PROB_DIFF = 1e-4
SAME_WEIGHTS_MAX_PROB_DIFF = 1e-5
# Quantized weights change the numbers by design: class maps must agree on 99 %, differences are reported.
QUANTIZED_MIN_AGREEMENT = 0.99
# build's quick check of a quantized variant only stops below this: under it the conversion is broken,
# above it a shortfall is how near-tied classes (random weights) meet rounded weights, and is reported.
QUANTIZED_FLOOR = 0.9
RUNNER = Path(__file__).resolve().parent / "js" / "run_model.mjs"
PROJECT = Path(__file__).resolve().parent.parent


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


def quantization(model_dir: Path) -> str:
    meta = json.loads((Path(model_dir) / "model.json").read_text()).get("userDefinedMetadata", {})
    return meta.get("patcher", {}).get("quantization", "float32")


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


def sample_image(height: int, width: int) -> np.ndarray:
    """A deterministic picture with smooth regions and edges, preprocessed as the model expects."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    cy, cx = height / 2, width / 2
    face = ((yy - cy) / (0.38 * height)) ** 2 + ((xx - cx) / (0.28 * width)) ** 2 < 1
    rgb = np.stack([
        120 + 80 * np.sin(xx / 23.0) * np.cos(yy / 31.0),
        100 + 60 * np.cos((xx + yy) / 41.0),
        90 + 70 * np.sin(yy / 17.0),
    ], axis=-1)
    rgb[face] = rgb[face] * 0.4 + np.array([200, 150, 120]) * 0.6
    rgb = np.clip(rgb, 0, 255).astype(np.uint8).astype(np.float32)
    return (rgb / 127.5 - 1.0)[None].astype(np.float32)


def node_runner(job: dict, work: Path) -> list[dict]:
    """Run patcher/js/run_model.mjs on a job; its JSON records."""
    if shutil.which("node") is None:
        raise ParityError("node is not on PATH; install Node.js 18 or later, then 'npm ci' in the project")
    if not (PROJECT / "node_modules" / "@tensorflow" / "tfjs").is_dir():
        raise ParityError(f"TensorFlow.js is not installed; run 'npm ci' in {PROJECT}")
    path = work / f"job-{job['backend']}.json"
    path.write_text(json.dumps(job))
    print(f"running the web model on tfjs {job['backend']} in Node ...", file=sys.stderr)
    proc = subprocess.run(["node", str(RUNNER), str(path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    records = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    errors = [r["error"] for r in records if "error" in r]
    if errors or proc.returncode != 0:
        tail = errors[0] if errors else (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise ParityError(f"tfjs {job['backend']}: {tail}")
    return records


def run_frozen(graph: Path, inputs: list[dict], work: Path, repeat: int = 1) -> list[dict]:
    """Run the frozen graph on raw inputs; outputs land in work/tf.I.K.npy, records give ms."""
    job = {"graph": str(Path(graph).resolve()), "outputs": OUTPUTS, "inputs": inputs, "out": str(work / "tf"),
           "repeat": repeat}
    (work / "tf.json").write_text(json.dumps(job))
    print("running the frozen graph in TensorFlow ...", file=sys.stderr)
    return run_probe(work, "frozen", "--job", str(work / "tf.json"), error=ParityError)


def measure(labels, prob, want_labels, want_prob) -> tuple[float, float, float, float]:
    """Class-map agreement, largest probability difference, share of pixels that could flip (their top
    two reference probabilities within twice that difference) and share that differ but could not."""
    diff = float(np.max(np.abs(prob - want_prob)))
    top = np.sort(want_prob, axis=-1)
    near = (top[..., -1] - top[..., -2] <= 2 * diff).reshape(labels.shape)
    differ = labels != want_labels
    return float(np.mean(~differ)), diff, float(np.mean(near)), float(np.mean(differ & ~near))


def _built(model_dir: Path) -> Path:
    model_dir = Path(model_dir).absolute()
    if not (model_dir / "model.json").is_file() or not (model_dir / GRAPH).is_file():
        raise ParityError(f"{model_dir} is not a patcher build (model.json and {GRAPH} expected)")
    return model_dir


def _read(prefix: Path, i: int, shape) -> tuple[np.ndarray, np.ndarray]:
    """Class map and probabilities of input i written by run_model.mjs, in TensorFlow's shapes."""
    labels = np.fromfile(f"{prefix}.{i}.0.bin", dtype=np.int32)
    prob = np.fromfile(f"{prefix}.{i}.1.bin", dtype=np.float32)
    return labels.reshape(shape[0]), prob.reshape(shape[1])


def compare(model_dir: Path, backends=BACKENDS, sizes=SIZES, repeat: dict[str, int] | None = None,
            reference: Path | None = None) -> list[Row]:
    """Per backend and size: agreement with TensorFlow (or with the `reference` web model on the same
    backend) and median ms; `repeat` timed runs after a warm-up."""
    repeat = repeat or {}
    model_dir = _built(model_dir)
    reference = _built(reference) if reference else None
    work = Path(tempfile.mkdtemp(prefix="patcher-check-"))
    try:
        inputs = []
        for i, (h, w) in enumerate(sizes):
            file = work / f"input{i}.bin"
            sample_image(h, w).tofile(file)
            inputs.append({"file": str(file), "shape": [1, h, w, 3]})
        tf_records = run_frozen(model_dir / GRAPH, inputs, work, repeat.get("tf", 1))
        expected = [(np.load(work / f"tf.{i}.0.npy"), np.load(work / f"tf.{i}.1.npy")) for i in range(len(sizes))]
        rows = []
        least, largest, exact = bounds(model_dir, reference)
        for backend in backends:
            job = {"backend": backend, "outputs": OUTPUTS, "inputs": inputs, "repeat": repeat.get(backend, 1),
                   "warmup": backend in repeat}
            records = node_runner({**job, "model": str(model_dir), "out": str(work / backend)}, work)
            if reference:
                node_runner({**job, "model": str(reference), "out": str(work / f"reference-{backend}")}, work)
            for i, (h, w) in enumerate(sizes):
                want = expected[i]
                shapes = (want[0].shape, want[1].shape)
                if reference:
                    want = _read(work / f"reference-{backend}", i, shapes)
                agreement, diff, could_flip, unexplained = measure(*_read(work / backend, i, shapes), *want)
                rows.append(Row(backend, (h, w), agreement, diff, float(np.median(records[i]["ms"])),
                                float(np.median(tf_records[i]["ms"])), least, largest,
                                reference.name if reference else "TensorFlow", records[i].get("runtime", backend),
                                could_flip, unexplained, exact))
        return rows
    finally:
        shutil.rmtree(work, ignore_errors=True)


def report(rows: list[Row]) -> None:
    runtimes = sorted({r.runtime for r in rows if r.runtime})
    print(f"against {rows[0].against}" + (f"; tfjs in Node: {', '.join(runtimes)}" if runtimes else ""))
    print(f"{'backend':>8} {'size (HxW)':>11} {'agreement':>10} {'max |dp|':>9} {'ms':>9} {'TF ms':>8}  ok"
          f"  could flip")
    for r in rows:
        print(f"{r.backend:>8} {r.size[0]:>5}x{r.size[1]:<5} {100 * r.agreement:>9.3f}% {r.prob_diff:>9.1e} "
              f"{r.ms:>9.1f} {r.tf_ms:>8.1f}  {'yes' if r.ok else 'NO ':<3}  {100 * r.could_flip:>9.3f}%")
    print("could flip: pixels whose top two probabilities are within twice max |dp| of each other")


def check(model_dir: Path, backends=BACKENDS, sizes=SIZES, reference: Path | None = None,
          floor: float | None = None) -> list[Row]:
    """Compare and report; ParityError when a row is out of bounds (with `floor`: only below it)."""
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
    print(f"checked: the web model matches {rows[0].against} on {', '.join(backends)} at {len(sizes)} sizes")
    return rows

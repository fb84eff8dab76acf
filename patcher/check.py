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
# Quantized weights change the numbers by design: class maps must agree on 99 %, differences are reported.
QUANTIZED_MIN_AGREEMENT = 0.99
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

    @property
    def ok(self) -> bool:
        return self.agreement >= self.min_agreement and (self.max_prob_diff is None
                                                         or self.prob_diff <= self.max_prob_diff)


def bounds(model_dir: Path) -> tuple[float, float | None]:
    """(least class-map agreement, largest probability difference or None) for the model's weights."""
    meta = json.loads((Path(model_dir) / "model.json").read_text()).get("userDefinedMetadata", {})
    if meta.get("patcher", {}).get("quantization", "float32") != "float32":
        return QUANTIZED_MIN_AGREEMENT, None
    return MIN_AGREEMENT, MAX_PROB_DIFF


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


def compare(model_dir: Path, backends=BACKENDS, sizes=SIZES, repeat: dict[str, int] | None = None) -> list[Row]:
    """Per backend and size: agreement with TensorFlow and median ms; `repeat` timed runs after a warm-up."""
    repeat = repeat or {}
    model_dir = Path(model_dir).absolute()
    graph = model_dir / GRAPH
    if not (model_dir / "model.json").is_file() or not graph.is_file():
        raise ParityError(f"{model_dir} is not a patcher build (model.json and {GRAPH} expected)")
    work = Path(tempfile.mkdtemp(prefix="patcher-check-"))
    try:
        inputs = []
        for i, (h, w) in enumerate(sizes):
            file = work / f"input{i}.bin"
            sample_image(h, w).tofile(file)
            inputs.append({"file": str(file), "shape": [1, h, w, 3]})
        tf_records = run_frozen(graph, inputs, work, repeat.get("tf", 1))
        rows = []
        least, largest = bounds(model_dir)
        for backend in backends:
            records = node_runner({"model": str(model_dir), "backend": backend, "outputs": OUTPUTS,
                                   "inputs": inputs, "out": str(work / backend), "repeat": repeat.get(backend, 1),
                                   "warmup": backend in repeat}, work)
            for i, (h, w) in enumerate(sizes):
                tf_labels = np.load(work / f"tf.{i}.0.npy")
                tf_prob = np.load(work / f"tf.{i}.1.npy")
                labels = np.fromfile(work / f"{backend}.{i}.0.bin", dtype=np.int32).reshape(tf_labels.shape)
                prob = np.fromfile(work / f"{backend}.{i}.1.bin", dtype=np.float32).reshape(tf_prob.shape)
                rows.append(Row(backend, (h, w), float(np.mean(labels == tf_labels)),
                                float(np.max(np.abs(prob - tf_prob))), float(np.median(records[i]["ms"])),
                                float(np.median(tf_records[i]["ms"])), least, largest))
        return rows
    finally:
        shutil.rmtree(work, ignore_errors=True)


def report(rows: list[Row]) -> None:
    print(f"{'backend':>8} {'size (HxW)':>11} {'agreement':>10} {'max |dp|':>9} {'ms':>9} {'TF ms':>8}  ok")
    for r in rows:
        print(f"{r.backend:>8} {r.size[0]:>5}x{r.size[1]:<5} {100 * r.agreement:>9.3f}% {r.prob_diff:>9.1e} "
              f"{r.ms:>9.1f} {r.tf_ms:>8.1f}  {'yes' if r.ok else 'NO'}")


def check(model_dir: Path, backends=BACKENDS, sizes=SIZES) -> list[Row]:
    rows = compare(model_dir, backends, sizes)
    report(rows)
    failed = [r for r in rows if not r.ok]
    if failed:
        r = failed[0]
        limit = f" (<= {r.max_prob_diff:.0e})" if r.max_prob_diff is not None else ""
        raise ParityError(f"{len(failed)} of {len(rows)} checks out of bounds; first: tfjs {r.backend} at "
                          f"{r.size[0]}x{r.size[1]}: agreement {100 * r.agreement:.3f}% "
                          f"(>= {100 * r.min_agreement:g}%), max |dp| {r.prob_diff:.1e}{limit}")
    print(f"checked: the web model matches TensorFlow on {', '.join(backends)} at {len(sizes)} sizes")
    return rows

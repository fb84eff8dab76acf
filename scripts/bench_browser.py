#!/usr/bin/env python3
"""Benchmark (not a test): TF native against every browser runtime (tfjs, LiteRT.js, onnxruntime-web) in ONE run.

For a web folder made by `build`: TensorFlow's frozen graph (DIR.tf, CPU, a child process), timed before and
after one headless Chromium (Debian's, Playwright's executable_path, COOP/COEP through patcher's server) in
which each runtime has a tab per thread count, all open at once and all on the same input (the harnesses'
fixed pattern):
- tfjs wasm on model.json with each of --tfjs-threads (the tfjs hooks of the LiteRT.js harness page);
- LiteRT.js's threaded wasm build (XNNPACK) on each DIR/litert/model-SIZE-PRECISION.tflite with each of
  --litert-threads: a build made with `build --litert` (without one, those rows are absent and the output
  says why; a size without LiteRT models likewise);
- onnxruntime-web's wasm execution provider with each of --ort-threads, on the graph the build converted
  (the frozen graph with build's edits) turned into ONNX by tf2onnx (opset 13, height and width left
  dynamic), on its own page (scripts/bench_ort/); its class ids are compared with TensorFlow's (class-map
  models only: for a picture model these rows are absent). Optional:
  tf2onnx comes with the `bench` extra (pip install -e '.[bench]'), onnxruntime-web with npm ci (a dev
  dependency in package.json); without either, or with --no-onnx, these rows are skipped (stderr says why).
At each size, each of --repeat rounds times every runtime once in turn (a warm-up run, then the timed run),
so a busy spell of the shared machine falls on all of them alike; each time is the median of the rounds.
x TF is the ratio to TensorFlow's time in the same run (median of --repeat runs after a warm-up, the faster
of its times before and after the browser); the thread counts printed are what each runtime reported it
runs with. Progress goes to stderr; the table and then one JSON line go to stdout.
Usage: python scripts/bench_browser.py --model-dir DIR [--sizes 288,448,1024] [--repeat 5]
       [--tfjs-threads 1,2] [--litert-threads 1,2] [--ort-threads 1,2] [--no-onnx]
"""
from __future__ import annotations

import argparse
import base64
import importlib.metadata
import importlib.util
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from patcher import litert, nodejs, outdir, page
from patcher.check import metadata, run_frozen

DEFAULT_SIZES = ((288, 288), (448, 448), (1024, 1024))
TF2ONNX = "tf2onnx"  # the Python module (the `bench` extra)
ORT_PACKAGE = "onnxruntime-web"  # the npm package (a dev dependency)
ORT_FILES = ["ort.wasm.min.mjs", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm"]
ORT_PAGE = Path(__file__).resolve().parent / "bench_ort"
OPSET = 13


def pattern(shape) -> np.ndarray:
    """The input every runtime gets: the harnesses' `pattern` (sin(i * 0.001) * 0.9, as float32)."""
    n = int(np.prod(shape))
    return (np.sin(np.arange(n, dtype=np.float64) * 0.001) * 0.9).astype(np.float32).reshape(shape)


def tf_ms(model_dir: Path, meta: dict, sizes, repeat: int, work: Path) -> tuple[dict, dict]:
    """TensorFlow's median ms on the frozen graph at each size, and its main output there (class ids for a
    class-map model)."""
    inputs = []
    for i, (h, w) in enumerate(sizes):
        pattern([1, h, w, 3]).tofile(work / f"x{i}.bin")
        inputs.append({"file": str(work / f"x{i}.bin"), "shape": [1, h, w, 3]})
    records = run_frozen(outdir.graph_path(model_dir), inputs, work, meta, repeat)
    return ({size: statistics.median(r["ms"]) for size, r in zip(sizes, records, strict=True)},
            {size: np.load(work / f"tf.{i}.0.npy") for i, size in enumerate(sizes)})


def tfjs_size(model_dir: Path) -> int:
    """Bytes of model.json and its weight files."""
    model = json.loads((model_dir / "model.json").read_text())
    files = [p for group in model.get("weightsManifest", []) for p in group["paths"]]
    return sum((model_dir / name).stat().st_size for name in ["model.json", *files])


def link(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def stage_site(model_dir: Path, meta: dict, root: Path) -> None:
    """The folder the browser is served: DIR's own files (the tfjs model and bundles), DIR/litert, or for a
    build without LiteRT models the LiteRT.js runtime and harness page alone (its tfjs hooks time tfjs)."""
    for path in model_dir.iterdir():
        if path.is_file() and not path.name.startswith("."):
            link(path, root / path.name)
    folder = model_dir / litert.FOLDER
    if meta.get("litert") and folder.is_dir():
        for path in folder.rglob("*"):
            if path.is_file():
                link(path, root / litert.FOLDER / path.relative_to(folder))
    else:
        (root / litert.FOLDER).mkdir()
        litert.install_runtime(root / litert.FOLDER)


def onnx_missing() -> str | None:
    """Why the onnxruntime-web rows cannot run here (None: they can)."""
    if importlib.util.find_spec(TF2ONNX) is None:
        return f"{TF2ONNX} is not installed (pip install -e '.[bench]')"
    if not (nodejs.modules() / ORT_PACKAGE / "dist" / ORT_FILES[0]).is_file():
        return f"{ORT_PACKAGE} is not installed (npm ci: it is a dev dependency in package.json)"
    return None


def stage_onnx(model_dir: Path, meta: dict, folder: Path, work: Path) -> int:
    """Convert the build's graph to folder/model.onnx (a child process: TensorFlow, tf2onnx) and copy
    onnxruntime-web's wasm files and the harness page beside it; the model's bytes."""
    folder.mkdir(parents=True)
    dist = nodejs.modules() / ORT_PACKAGE / "dist"
    for name in ORT_FILES:
        link(dist / name, folder / name)
    for path in ORT_PAGE.iterdir():
        shutil.copy2(path, folder / path.name)
    edits = meta.get("patcher", {}).get("graph_edits", {})
    labels = next(o["name"] for o in meta["outputs"] if o["kind"] == "labels")
    job = {"graph": str(outdir.graph_path(model_dir)), "edited": str(work / "edited.pb"),
           "out": str(folder / "model.onnx"), "input": meta["input"]["name"], "output": labels,
           "optimize": bool(edits.get("simplified")), "opset": OPSET}
    (work / "onnx.json").write_text(json.dumps(job))
    print(f"converting the build's graph to ONNX with {TF2ONNX} (opset {OPSET}) ...", file=sys.stderr)
    proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--to-onnx", str(work / "onnx.json")],
                          check=False, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    if proc.returncode != 0 or not (folder / "model.onnx").is_file():
        tail = "\n".join(proc.stdout.strip().splitlines()[-5:]) or "no output"
        raise SystemExit(f"{TF2ONNX} could not convert {job['graph']}:\n{tail}")
    return (folder / "model.onnx").stat().st_size


def to_onnx(job_file: Path) -> int:
    """The child process: the frozen graph, with build's edits (those that change no class id), to ONNX."""
    job = json.loads(job_file.read_text())
    from patcher.build import prepare_graph

    # the swapped Adds are a tfjs converter workaround (the same sums): left out
    prepare_graph(Path(job["graph"]), Path(job["edited"]), fix_fusions=False, optimize=job["optimize"])
    import tensorflow as tf
    import tf2onnx

    graph_def = tf.compat.v1.GraphDef()
    graph_def.ParseFromString(Path(job["edited"]).read_bytes())
    tf2onnx.convert.from_graph_def(graph_def, input_names=[f"{job['input']}:0"],
                                   output_names=[f"{job['output']}:0"], opset=job["opset"], output_path=job["out"])
    return 0


def browser(base: str, sizes, repeat: int, tfjs_threads, tfjs_bytes, litert_threads, models, litert_name, ort_threads,
            reference, onnx_bytes):
    """One Chromium with a tab per runtime and thread count, all open at once (each in a context of its own).
    At each size, each of `repeat` rounds times every runtime once in turn (each call: a warm-up run, then
    the timed run), so that a busy spell of the shared machine falls on all of them alike; a row per runtime,
    thread count, size (and precision), with the median of the rounds."""
    from playwright.sync_api import sync_playwright

    rows = []
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=page.CHROMIUM, args=page.CHROMIUM_FLAGS)
        version = chromium.version

        def tab(path: str, ready: str):
            t = chromium.new_context().new_page()
            t.goto(f"{base}/{path}")
            t.wait_for_function(ready, timeout=60_000)
            return t

        tabs = []  # (runtime kind, tab, what it reported at start)
        for threads in tfjs_threads:
            t = tab("litert/index.html", "window.harnessReady === true")
            ran = t.evaluate(f"harness.tfjsInit({threads})")
            tabs.append(("tfjs", t, {**ran, "name": f"tfjs {t.evaluate('tf.version_core')} {ran['backend']}"}))
        for threads in litert_threads if models else []:
            t = tab("litert/index.html", "window.harnessReady === true")
            tabs.append(("litert", t, {**t.evaluate("harness.init({threads: true})"), "asked": threads}))
        for threads in ort_threads:
            t = tab("ort/index.html", "window.ortBenchReady === true")
            info = t.evaluate("(n) => ortBench.init(n)", threads)
            tabs.append(("ort", t, {**info, "name": f"onnxruntime-web {info['version']} wasm"}))
        print("started: " + ", ".join(f"{kind} ({plural(info.get('threads') or info.get('asked'))})"
                                      for kind, _, info in tabs), file=sys.stderr)
        for size in sizes:
            shape = [1, *size, 3]
            jobs = []  # (row so far, tab, script, argument)
            for kind, t, info in tabs:
                if kind == "tfjs":
                    jobs.append(({"runtime": info["name"], "threads": info["threads"], "note": "",
                                  "bytes": tfjs_bytes}, t, "(shape) => harness.tfjsTime(shape, 1)", shape))
                elif kind == "litert":
                    pool = info.get("defaultThreads")
                    note = (f"(pool {pool})" if pool else "") + ("" if info["threaded"] else " unthreaded build")
                    for m in (m for m in models if tuple(m["size"]) == size):
                        loaded = t.evaluate("([key, file, n]) => harness.load(key, file, n)",
                                            [m["precision"], Path(m["file"]).name, info["asked"]])
                        jobs.append(({"runtime": f"{litert_name} {m['precision']}", "threads": loaded["threads"],
                                      "note": note.strip(), "bytes": m["bytes"], "accurate": m.get("accurate")}, t,
                                     "([key, shape]) => harness.time(key, shape, 1)", [m["precision"], shape]))
                else:
                    got = t.evaluate("(shape) => ortBench.time(shape, 0, true)", shape)
                    labels = np.frombuffer(base64.b64decode(got["labels"]), dtype=np.int32)
                    want = reference[size].reshape(-1)
                    agreement = float(np.mean(labels == want)) if labels.size == want.size else 0.0
                    jobs.append(({"runtime": info["name"], "threads": info["threads"],
                                  "note": "" if info["crossOriginIsolated"] else "not isolated", "bytes": onnx_bytes,
                                  "agreement": agreement}, t, "(shape) => ortBench.time(shape, 1, false)", shape))
            runs = [[] for _ in jobs]
            for i in range(repeat):
                print(f"{size[0]}x{size[1]}: round {i + 1} of {repeat}, {len(jobs)} runtimes ...", file=sys.stderr)
                for times, (_, t, script, arg) in zip(runs, jobs, strict=True):
                    got = t.evaluate(script, arg)
                    times.append((got["ms"] if isinstance(got, dict) else got)[0])
            rows += [{**row, "size": size, "ms": statistics.median(times), "runs": times}
                     for times, (row, *_) in zip(runs, jobs, strict=True)]
        for _, t, _ in tabs:
            t.context.close()
        chromium.close()
    return rows, version


def plural(threads: int) -> str:
    return f"{threads} thread{'' if threads == 1 else 's'}"


def parse_sizes(text: str) -> list[tuple[int, int]]:
    sizes = []
    for item in text.split(","):
        h, _, w = item.strip().partition("x")
        if not h.isdigit() or (w and not w.isdigit()) or int(h) < 1 or int(w or h) < 1:
            raise SystemExit(f"--sizes: {item!r} is not a size such as 288 or 512x384")
        sizes.append((int(h), int(w or h)))
    return sizes


def parse_threads(text: str, option: str) -> list[int]:
    try:
        counts = [int(n) for n in text.split(",")]
    except ValueError:
        counts = []
    if not counts or min(counts) < 1:
        raise SystemExit(f"{option}: {text!r} is not a list of thread counts such as 1,2")
    return counts


def report(rows, sizes, before, after, baseline, version, repeat, absent, tf_name) -> None:
    print(f"machine: {platform.machine()}, {len(os.sched_getaffinity(0))} cores; headless Chromium {version} "
          f"(COOP/COEP); every runtime on the same input, median of {repeat} rounds that time each runtime in turn "
          f"(a warm-up run, then the timed run); x TF: ratio to TensorFlow native (frozen graph, CPU) in this run, "
          f"median of {repeat} runs after a warm-up, the faster of its times before and after the browser")
    print(f"{'size':>10} {'runtime':>30} {'threads':>16} {'ms':>9} {'x TF':>6} {'MB':>6}  int8 accurate")
    cores = len(os.sched_getaffinity(0))
    for size in sizes:
        print(f"{size[0]:>4}x{size[1]:<5} {tf_name:>30} {f'default, {cores} cores':>16} {baseline[size]:>9.1f} "
              f"{1:>6.2f}         before {before[size]:.1f}, after {after[size]:.1f}")
        for r in (r for r in rows if r["size"] == size):
            mb = f"{r['bytes'] / 1e6:.1f}" if r["bytes"] else ""
            acc = "" if "int8" not in r["runtime"] else ("yes" if r.get("accurate") else "no")
            threads = f"{r['threads']}{' ' + r['note'] if r['note'] else ''}"
            print(f"{'':>10} {r['runtime']:>30} {threads:>16} {r['ms']:>9.1f} {r['ms'] / baseline[size]:>6.2f} "
                  f"{mb:>6}  {acc}".rstrip())
    ort = [r for r in rows if "agreement" in r]
    if ort:
        print("onnxruntime-web's class ids against TensorFlow's on the same input: " + ", ".join(
            f"{100 * r['agreement']:.3f}% at {r['size'][0]}x{r['size'][1]} with {plural(r['threads'])}" for r in ort))
    for what, why in absent.items():
        print(f"absent: {what} rows: {why}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, help="a folder made by 'build' (with --litert for LiteRT.js rows)")
    parser.add_argument("--sizes", help="sizes such as 288,448 or 512x384 (default: every LiteRT size built, "
                                        "else 288,448,1024)")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs after a warm-up run (default: 5)")
    parser.add_argument("--tfjs-threads", default="1,2")
    parser.add_argument("--litert-threads", default="1,2")
    parser.add_argument("--ort-threads", default="1,2")
    parser.add_argument("--no-onnx", action="store_true", help="skip the onnxruntime-web rows")
    parser.add_argument("--to-onnx", type=Path, help=argparse.SUPPRESS)  # the conversion's child process
    args = parser.parse_args(argv)
    if args.to_onnx:
        return to_onnx(args.to_onnx)
    if args.model_dir is None:
        parser.error("--model-dir is required")
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    model_dir = args.model_dir.absolute()
    if not (model_dir / "model.json").is_file():
        raise SystemExit(f"{model_dir} has no model.json; give a folder made by 'python -m patcher build'")
    meta = metadata(model_dir)
    tfjs_threads = parse_threads(args.tfjs_threads, "--tfjs-threads")
    litert_threads = parse_threads(args.litert_threads, "--litert-threads")
    ort_threads = parse_threads(args.ort_threads, "--ort-threads")
    entry = meta.get("litert") or {}
    built = [tuple(s) for s in entry.get("sizes", [])]
    sizes = parse_sizes(args.sizes) if args.sizes else (built or list(DEFAULT_SIZES))
    absent = {}
    if not entry:
        absent["LiteRT.js"] = "the build has no `litert` metadata (make it with 'python -m patcher build --litert')"
    for h, w in (s for s in sizes if entry and s not in built):
        absent[f"LiteRT.js {h}x{w}"] = f"no LiteRT models at that size (built: {', '.join(f'{a}x{b}' for a, b in built)})"
    labels_output = any(o["kind"] == "labels" for o in meta["outputs"])
    missing = ("--no-onnx" if args.no_onnx else onnx_missing() if labels_output
               else "its page compares class ids and this model's output is not a class map")
    if missing:
        absent["onnxruntime-web"] = f"skipped: {missing}"
        if not args.no_onnx:
            print(f"onnxruntime-web rows skipped: {missing}", file=sys.stderr)
    models = [m for m in entry.get("models", []) if tuple(m["size"]) in sizes]
    # the version the build copied ("@litertjs/core 2.5.3")
    litert_name = f"LiteRT.js {str(entry.get('runtime', litert.RUNTIME_VERSION)).split()[-1]}"
    work = Path(tempfile.mkdtemp(prefix="bench-browser-"))
    try:
        stage_site(model_dir, meta, work / "site")
        onnx_bytes = None if missing else stage_onnx(model_dir, meta, work / "site" / "ort", work)
        before, reference = tf_ms(model_dir, meta, sizes, args.repeat, work)
        httpd = page.server(work / "site")
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        try:
            rows, version = browser(f"http://127.0.0.1:{httpd.server_address[1]}", sizes, args.repeat, tfjs_threads,
                                    tfjs_size(model_dir), litert_threads, models, litert_name,
                                    [] if missing else ort_threads, reference, onnx_bytes)
        finally:
            httpd.shutdown()
        after, _ = tf_ms(model_dir, meta, sizes, args.repeat, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    # TensorFlow is timed before and after the browser; the ratios use the faster (a busy machine slows both)
    baseline = {size: min(before[size], after[size]) for size in sizes}
    tf_name = f"TensorFlow {importlib.metadata.version('tensorflow')} native"
    report(rows, sizes, before, after, baseline, version, args.repeat, absent, tf_name)

    def key(size):
        return f"{size[0]}x{size[1]}"

    print(json.dumps({"chromium": version, "repeat": args.repeat, "tensorflow": tf_name,
                      "cores": len(os.sched_getaffinity(0)),
                      "tf_ms": {key(s): v for s, v in baseline.items()},
                      "tf_ms_before": {key(s): v for s, v in before.items()},
                      "tf_ms_after": {key(s): v for s, v in after.items()},
                      "rows": [{**r, "size": key(r["size"])} for r in rows], "absent": absent}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

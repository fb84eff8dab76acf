#!/usr/bin/env python3
"""Benchmark (not a test): TF native against tfjs-wasm and LiteRT.js (float32, int8) in ONE Chromium run.

For a build made with `build --litert`: TensorFlow's frozen graph (DIR.tf, CPU, a child process) on the
sample face, before and after one headless Chromium (Debian's, Playwright's executable_path, COOP/COEP
through patcher's server) with a tab per runtime on DIR/litert/index.html (the LiteRT.js harness): tfjs 4.22 wasm
with --tfjs-threads threads on model.json, and LiteRT.js's threaded wasm build (XNNPACK) on each
DIR/litert/model-SIZE-PRECISION.tflite with each of --litert-threads. Each time is the median of
--repeat runs after a warm-up run; the ratio is to TensorFlow's time in the same run; the thread counts
printed are what each runtime reported it runs with.
Usage: python scripts/bench_runtimes.py --model-dir DIR [--repeat 5] [--sizes 288,448,1024]
       [--litert-threads 1,2] [--tfjs-threads 2]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from patcher import outdir, page  # noqa: E402
from patcher.check import metadata, run_frozen  # noqa: E402


def tf_ms(model_dir: Path, meta: dict, sizes, repeat: int) -> dict:
    """TensorFlow's median ms on the frozen graph, on the sample face at each size."""
    from PIL import Image

    work = Path(tempfile.mkdtemp(prefix="bench-runtimes-"))
    try:
        sample = Image.open(model_dir / meta.get("sample", "sample.png")).convert("RGB")
        inp = meta["input"]
        inputs = []
        for i, (h, w) in enumerate(sizes):
            pixels = np.asarray(sample.resize((w, h), Image.BILINEAR), dtype=np.float32)
            x = (pixels * np.float32(inp["scale"]) + np.float32(inp["offset"]))[None].astype(np.float32)
            x.tofile(work / f"x{i}.bin")
            inputs.append({"file": str(work / f"x{i}.bin"), "shape": list(x.shape)})
        records = run_frozen(outdir.graph_path(model_dir), inputs, work, meta, repeat)
        return {size: statistics.median(r["ms"]) for size, r in zip(sizes, records)}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def browser_ms(url: str, models: list[dict], sizes, repeat: int, litert_threads, tfjs_threads) -> list[dict]:
    """One Chromium: a tab for tfjs-wasm, a tab per LiteRT.js thread count; a row per runtime and size."""
    from playwright.sync_api import sync_playwright

    rows = []
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=page.CHROMIUM, args=page.CHROMIUM_FLAGS)
        version = chromium.version

        def tab():
            t = chromium.new_page()
            t.goto(url)
            t.wait_for_function("window.harnessReady === true", timeout=60_000)
            return t

        for threads in tfjs_threads:
            t = tab()
            ran = t.evaluate(f"harness.tfjsInit({threads})")
            for size in sizes:
                print(f"tfjs wasm ({threads} threads) {size[0]}x{size[1]} ...", file=sys.stderr)
                ms = t.evaluate("([shape, n]) => harness.tfjsTime(shape, n)", [[1, *size, 3], repeat])
                rows.append({"runtime": "tfjs 4.22 wasm", "size": size, "ms": statistics.median(ms),
                             "threads": f"{ran['threads']}", "bytes": None})
            t.close()
        for threads in litert_threads:
            t = tab()
            info = t.evaluate("harness.init({threads: true})")
            for size in sizes:
                for m in (m for m in models if tuple(m["size"]) == size):
                    name = Path(m["file"]).name
                    print(f"LiteRT.js {m['precision']} ({threads} threads) {name} ...", file=sys.stderr)
                    loaded = t.evaluate("([file, n]) => harness.load('m', file, n)", [name, threads])
                    ms = t.evaluate("([shape, n]) => harness.time('m', shape, n)", [[1, *size, 3], repeat])
                    pool = info.get("defaultThreads")
                    rows.append({"runtime": f"LiteRT.js 2.5.3 {m['precision']}", "size": size,
                                 "ms": statistics.median(ms), "bytes": m["bytes"],
                                 "threads": f"{loaded['threads']}" + (f" (pool {pool})" if pool else "")
                                            + ("" if info["threaded"] else ", unthreaded build"),
                                 "accurate": m.get("accurate")})
            t.close()
        chromium.close()
    return rows, version


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, required=True, help="a folder made by 'build --litert'")
    parser.add_argument("--sizes", help="square sizes to run, such as 288,448 (default: every LiteRT size built)")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs after a warm-up run (default: 5)")
    parser.add_argument("--litert-threads", default="1,2")
    parser.add_argument("--tfjs-threads", default="2")
    args = parser.parse_args(argv)
    model_dir = args.model_dir.absolute()
    meta = metadata(model_dir)
    entry = meta.get("litert")
    if not entry:
        raise SystemExit(f"{model_dir} has no LiteRT models; build it with --litert")
    built = [tuple(s) for s in entry["sizes"]]
    sizes = [(int(s), int(s)) for s in args.sizes.split(",")] if args.sizes else built
    missing = [s for s in sizes if s not in built]
    if missing:
        raise SystemExit(f"no LiteRT models at {missing}; built: {built}")
    before = tf_ms(model_dir, meta, sizes, args.repeat)
    httpd = page.server(model_dir)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        rows, version = browser_ms(f"http://127.0.0.1:{httpd.server_address[1]}/litert/index.html", entry["models"],
                                   sizes, args.repeat, [int(n) for n in args.litert_threads.split(",")],
                                   [int(n) for n in args.tfjs_threads.split(",")])
    finally:
        httpd.shutdown()
    after = tf_ms(model_dir, meta, sizes, args.repeat)
    # TensorFlow is timed before and after the browser; the ratios use the faster (a busy machine slows both)
    baseline = {size: min(before[size], after[size]) for size in sizes}
    print(f"machine: {platform.machine()}, {len(os.sched_getaffinity(0))} cores; headless Chromium {version} "
          f"(COOP/COEP); median of {args.repeat} runs after a warm-up; x TF: ratio to TensorFlow native "
          f"(frozen graph, CPU) in this run, the faster of its times before and after the browser")
    print(f"{'size':>10} {'runtime':>28} {'threads':>18} {'ms':>9} {'x TF':>6} {'MB':>6}  int8 accurate")
    for size in sizes:
        print(f"{size[0]:>4}x{size[1]:<5} {'TensorFlow 2.19 native':>28} {'(TF default)':>18} "
              f"{baseline[size]:>9.1f} {1:>6.2f}         before {before[size]:.1f}, after {after[size]:.1f}")
        for r in (r for r in rows if r["size"] == size):
            mb = f"{r['bytes'] / 1e6:.1f}" if r["bytes"] else ""
            acc = "" if "int8" not in r["runtime"] else ("yes" if r.get("accurate") else "no")
            print(f"{'':>10} {r['runtime']:>28} {r['threads']:>18} {r['ms']:>9.1f} {r['ms'] / baseline[size]:>6.2f} "
                  f"{mb:>6}  {acc}")
    print(json.dumps({"tf_ms": {f"{h}x{w}": v for (h, w), v in baseline.items()},
                      "tf_ms_before": {f"{h}x{w}": v for (h, w), v in before.items()},
                      "tf_ms_after": {f"{h}x{w}": v for (h, w), v in after.items()},
                      "rows": [{**r, "size": f"{r['size'][0]}x{r['size'][1]}"} for r in rows]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

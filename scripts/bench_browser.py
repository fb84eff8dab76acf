#!/usr/bin/env python3
"""Benchmark (not a test): frames per second of built models' pages in headless Chromium, wasm and webgl.

The page runs in Debian's chromium (Playwright, executable_path), worker path, on the bundled sample face
resized to each size; TensorFlow's time on the same inputs comes from the frozen graph in the same run.
Give --model-dir more than once to compare variants (say, --no-optimize, float32, float16, uint8) in one
run. A backend written `wasm:N` runs wasm with N threads (plain `wasm`: one per core).
Usage: python scripts/bench_browser.py --model-dir DIR [--model-dir DIR ...] [--sizes 288,448,1024]
       [--backends wasm,wasm:1,webgl] [--repeat 3]
"""
from __future__ import annotations

import argparse
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
from patcher.check import metadata, preprocess, run_frozen  # noqa: E402


def browser_ms(url: str, backends, sizes, repeat: int) -> dict:
    """Median-ready frame times per (backend, size), and what each page reported it ran on."""
    from playwright.sync_api import sync_playwright

    times, ran = {}, {}
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=page.CHROMIUM, args=page.CHROMIUM_FLAGS)
        for spec in backends:
            backend, _, threads = spec.partition(":")
            for size in sizes:
                print(f"chromium {spec} {size}x{size} {url} ...", file=sys.stderr)
                tab = chromium.new_page()
                tab.goto(f"{url}?debug&backend={backend}&mode=worker&size={size}x{size}&threads={threads or 0}")
                tab.wait_for_function("window.patcherState && (patcherState.runs >= 1 || patcherState.error)",
                                      timeout=900_000)
                error = tab.evaluate("patcherState.error")
                if error:
                    raise SystemExit(f"{spec}: {error}")
                state = tab.evaluate("({threads: patcherState.threads, simd: patcherState.simd})")
                ran[spec] = (f"{state['threads']} thread{'s' if state['threads'] != 1 else ''}"
                             f"{', SIMD' if state['simd'] else ''}") if backend == "wasm" else "SwiftShader"
                times[spec, size] = [tab.evaluate("patcherRun()") for _ in range(repeat)]
                tab.close()
        chromium.close()
    return times, ran


def tf_ms(model_dir: Path, sizes, repeat: int) -> list[float]:
    """TensorFlow's median ms on the frozen graph, on the same sample image at each size."""
    from PIL import Image

    work = Path(tempfile.mkdtemp(prefix="bench-browser-"))
    try:
        meta = metadata(model_dir)
        sample = Image.open(model_dir / meta["sample"]).convert("RGB")
        inputs = []
        for i, size in enumerate(sizes):
            x = preprocess(np.asarray(sample.resize((size, size), Image.BILINEAR)), meta)
            x.tofile(work / f"x{i}.bin")
            inputs.append({"file": str(work / f"x{i}.bin"), "shape": list(x.shape)})
        records = run_frozen(outdir.graph_path(model_dir), inputs, work, meta, repeat)
        return [statistics.median(r["ms"]) for r in records]
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, action="append", required=True)
    parser.add_argument("--sizes", default="288,448,1024")
    parser.add_argument("--backends", default="wasm,webgl")
    parser.add_argument("--repeat", type=int, default=3, help="timed frames after a warm-up frame")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    backends = args.backends.split(",")
    times, ran = {}, {}
    for folder in args.model_dir:
        httpd = page.server(folder)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        try:
            times[folder], ran[folder] = browser_ms(f"http://127.0.0.1:{httpd.server_address[1]}/", backends,
                                                    sizes, args.repeat)
        finally:
            httpd.shutdown()
    baseline = tf_ms(args.model_dir[0], sizes, args.repeat)

    print(f"machine: {platform.machine()}, {len(os.sched_getaffinity(0))} cores, headless Chromium "
          f"(Debian), no GPU (webgl on SwiftShader); median of {args.repeat} frames after a warm-up")
    print(f"{'size':>10} {'model':>20} {'runtime':>30} {'ms/frame':>10} {'FPS':>7} {'x TF':>7}")
    for i, size in enumerate(sizes):
        print(f"{size:>4}x{size:<5} {'':>20} {'tensorflow (CPU)':>30} {baseline[i]:>10.1f} "
              f"{1000 / baseline[i]:>7.2f} {1:>7.2f}")
        for folder in args.model_dir:
            for spec in backends:
                ms = statistics.median(times[folder][spec, size])
                runtime = f"chromium {spec.partition(':')[0]} ({ran[folder][spec]})"
                print(f"{'':>10} {folder.name[-20:]:>20} {runtime:>30} {ms:>10.1f} {1000 / ms:>7.2f} "
                      f"{ms / baseline[i]:>7.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

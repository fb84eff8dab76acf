#!/usr/bin/env python3
"""Benchmark (not a test): frames per second of a built model's page in headless Chromium, wasm and webgl.

The page runs in Debian's chromium (Playwright, executable_path), worker path, on the bundled sample face
resized to each size; TensorFlow's time on the same inputs comes from the frozen graph in the same run.
Usage: python scripts/bench_browser.py --model-dir webmodel-celebamask [--sizes 288,448,1024] [--repeat 3]
"""
from __future__ import annotations

import argparse
import platform
import shutil
import statistics
import sys
import tempfile
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from patcher import page  # noqa: E402
from patcher.build import GRAPH  # noqa: E402
from patcher.check import run_frozen  # noqa: E402



def browser_ms(url: str, backends, sizes, repeat: int) -> dict:
    from playwright.sync_api import sync_playwright

    times = {}
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=page.CHROMIUM, args=page.CHROMIUM_FLAGS)
        for backend in backends:
            for size in sizes:
                print(f"chromium {backend} {size}x{size} ...", file=sys.stderr)
                tab = chromium.new_page()
                tab.goto(f"{url}?backend={backend}&mode=worker&size={size}x{size}")
                tab.wait_for_function("window.patcherState && (patcherState.runs >= 1 || patcherState.error)",
                                      timeout=600_000)
                error = tab.evaluate("patcherState.error")
                if error:
                    raise SystemExit(f"{backend}: {error}")
                times[backend, size] = [tab.evaluate("patcherRun()") for _ in range(repeat)]
                tab.close()
        chromium.close()
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, required=True)
    parser.add_argument("--sizes", default="288,448,1024")
    parser.add_argument("--backends", default="wasm,webgl")
    parser.add_argument("--repeat", type=int, default=3, help="timed frames after a warm-up frame")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    backends = args.backends.split(",")
    httpd = page.server(args.model_dir)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    times = browser_ms(f"http://127.0.0.1:{httpd.server_address[1]}/", backends, sizes, args.repeat)
    httpd.shutdown()

    from PIL import Image

    work = Path(tempfile.mkdtemp(prefix="bench-browser-"))
    try:
        sample = Image.open(args.model_dir / "sample.png").convert("RGB")
        inputs = []
        for i, size in enumerate(sizes):
            x = (np.asarray(sample.resize((size, size), Image.BILINEAR), dtype=np.float32) / 127.5 - 1.0)[None]
            x.tofile(work / f"x{i}.bin")
            inputs.append({"file": str(work / f"x{i}.bin"), "shape": list(x.shape)})
        tf_ms = [statistics.median(r["ms"]) for r in run_frozen(args.model_dir / GRAPH, inputs, work, args.repeat)]
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print(f"machine: {platform.machine()}, {len(__import__('os').sched_getaffinity(0))} cores, headless Chromium "
          f"(Debian), no GPU (webgl on SwiftShader); median of {args.repeat} frames after a warm-up")
    print(f"{'size':>10} {'runtime':>18} {'ms/frame':>10} {'FPS':>7} {'x TF':>7}")
    for i, size in enumerate(sizes):
        print(f"{size:>4}x{size:<5} {'tensorflow (CPU)':>18} {tf_ms[i]:>10.1f} {1000 / tf_ms[i]:>7.2f} {1:>7.2f}")
        for backend in backends:
            ms = statistics.median(times[backend, size])
            print(f"{'':>10} {'chromium ' + backend:>18} {ms:>10.1f} {1000 / ms:>7.2f} {ms / tf_ms[i]:>7.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

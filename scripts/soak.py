#!/usr/bin/env python3
"""Long sessions (not a test): many frames through segmenter.js with masks and smoothing on, in headless Chromium.

For a web folder made by `build` (LiteRT.js rows need `build --litert`): one segmenter per runtime (tfjs,
and LiteRT.js where built) and place (the module worker, the main thread) segments --frames frames of a
moving picture (check's test picture, shifted a pixel a frame, at the build's first LiteRT.js size or
--size) with `masks: 'all'` and `smoothing: true`. Every --every frames it records tfjs's live tensors where
the model runs (seg.memory()) and the page's JavaScript heap (Chromium's performance.memory, after a
garbage collection: Chromium runs with --js-flags=--expose-gc and --enable-precise-memory-info).
After --warmup frames, tfjs's tensor count must stay constant and the page's heap must not grow by more
than --heap-bound MB (the least reading of the later half of the session against that of the earlier half:
single readings swing by tens of MB with garbage the runtimes have not yet let go of); the exit code is 1
otherwise. In worker mode the heap is the page's (Chromium gives a worker no performance.memory).
Progress goes to stderr; a table and one JSON line to stdout.
Usage: python scripts/soak.py --model-dir DIR [--frames 1000] [--every 50] [--warmup 50] [--heap-bound 16]
"""
from __future__ import annotations

import argparse
import base64
import json
import shutil
import sys
import tempfile
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from patcher import page
from patcher.check import metadata, picture_pixels

PROBE = """<!doctype html><html><head><meta charset="utf-8"><link rel="icon" href="data:,"></head><body>
<script type="module">
import {createSegmenter} from './segmenter.js';
window.soak = async ({options, pixels, w, h, frames, every}) => {
  const raw = Uint8ClampedArray.from(atob(pixels), (c) => c.charCodeAt(0));
  const seg = await createSegmenter({size: [h, w], ...options, smoothing: true});
  const seen = [];
  for (let i = 0; i < frames; i++) {
    const shift = (i % w) * 4;
    const moved = new Uint8ClampedArray(raw.length);
    for (let y = 0; y < h; y++) {
      const row = raw.subarray(y * w * 4, (y + 1) * w * 4);
      moved.set(row.subarray(shift), y * w * 4);
      moved.set(row.subarray(0, shift), y * w * 4 + row.length - shift);
    }
    const r = await seg.segment(new ImageData(moved, w, h), {masks: 'all'});
    if ((i + 1) % every === 0) {
      if (globalThis.gc) globalThis.gc();
      const {tensors} = await seg.memory();
      seen.push({frame: i + 1, tensors, heap: performance.memory ? performance.memory.usedJSHeapSize : null,
                 runtime: r.runtime});
    }
  }
  seg.dispose();
  return seen;
};
window.ready = true;
</script></body></html>"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, required=True)
    parser.add_argument("--frames", type=int, default=1000)
    parser.add_argument("--every", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=50, help="frames before the first reading that counts")
    parser.add_argument("--heap-bound", type=float, default=16.0, help="MB the page's heap may grow after warm-up")
    parser.add_argument("--size", help="HxW of the frames (default: the build's first LiteRT.js size, else 288x288)")
    args = parser.parse_args(argv)
    meta = metadata(args.model_dir)
    lite = meta.get("litert") or {}
    size = tuple(int(v) for v in args.size.split("x")) if args.size else tuple((lite.get("sizes") or [[288, 288]])[0])
    h, w = size
    pixels = np.concatenate([picture_pixels(h, w), np.full((h, w, 1), 255, np.uint8)], axis=-1)
    runs = [("tfjs", worker) for worker in (True, False)]
    if lite:
        runs += [("litert", worker) for worker in (True, False)]
    from playwright.sync_api import sync_playwright

    work = Path(tempfile.mkdtemp(prefix="patcher-soak-"))
    site = work / "site"
    shutil.copytree(args.model_dir, site)
    (site / "soak.html").write_text(PROBE)
    httpd = page.server(site, quiet=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    rows, ok = [], True
    try:
        with sync_playwright() as p:
            chromium = p.chromium.launch(executable_path=page.CHROMIUM, args=page.CHROMIUM_FLAGS + [
                "--js-flags=--expose-gc", "--enable-precise-memory-info"])
            for runtime, worker in runs:
                print(f"{runtime}, {'worker' if worker else 'main thread'}: {args.frames} frames at {h}x{w} ...",
                      file=sys.stderr)
                tab = chromium.new_page()
                tab.goto(f"http://127.0.0.1:{httpd.server_address[1]}/soak.html")
                tab.wait_for_function("window.ready === true", timeout=60_000)
                seen = tab.evaluate("(job) => soak(job)", {
                    "options": {"runtime": runtime, "worker": worker, "size": [h, w]},
                    "pixels": base64.b64encode(pixels.tobytes()).decode(), "w": w, "h": h,
                    "frames": args.frames, "every": args.every}, )
                tab.close()
                counted = [s for s in seen if s["frame"] > args.warmup] or seen[-1:]
                tensors = sorted({s["tensors"] for s in counted if s["tensors"] is not None})
                heaps = [s["heap"] for s in counted if s["heap"] is not None]
                # a leak raises the heap's floor: the least reading of the later half against the earlier half's
                # (single readings swing with when the wasm runtimes let go of their garbage)
                half = len(heaps) // 2
                growth = (min(heaps[half:]) - min(heaps[:half])) / 2 ** 20 if half >= 2 else None
                steady = len(tensors) <= 1 and (growth is None or growth <= args.heap_bound)
                ok &= steady
                rows.append({"runtime": runtime, "worker": worker, "frames": args.frames, "tensors": tensors,
                             "heap_growth_mb": None if growth is None else round(growth, 2), "steady": steady,
                             "readings": seen})
            chromium.close()
    finally:
        httpd.shutdown()
        shutil.rmtree(work, ignore_errors=True)
    print(f"{'runtime':>8} {'where':>12} {'frames':>7} {'tfjs tensors after warm-up':>27} {'page heap growth':>17}  steady")
    for r in rows:
        growth = "-" if r["heap_growth_mb"] is None else f"{r['heap_growth_mb']:.2f} MB"
        tensors = ", ".join(map(str, r["tensors"])) or "-"
        print(f"{r['runtime']:>8} {'worker' if r['worker'] else 'main thread':>12} {r['frames']:>7} {tensors:>27} "
              f"{growth:>17}  {'yes' if r['steady'] else 'NO'}")
    print(json.dumps({"size": [h, w], "heap_bound_mb": args.heap_bound, "warmup": args.warmup,
                      "rows": [{k: v for k, v in r.items() if k != "readings"} for r in rows]}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

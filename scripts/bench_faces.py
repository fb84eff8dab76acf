#!/usr/bin/env python3
"""Benchmark (not a test): face mode against the whole frame, on 640 x 480 frames in the Web Worker, in ONE run.

For a web folder made by `build` whose model.json names a face detector (the face parser): a copy of the folder
served by patcher's server (COOP/COEP, so wasm runs one thread per core) to Debian's headless Chromium, where a
page made here creates one segmenter (tfjs wasm, in the worker) and times, on a 640 x 480 frame (the build's
sample drawn 480 px high in the middle of a grey frame, as a webcam frame with a person in it), each of
--repeat rounds: face mode at its default crop size (FACES: one face, its square parsed at 320 x 320) and
the whole frame at 448 x 448 (`faces: false`), one after the other so that a busy spell of the machine falls
on both alike, after one untimed call of each. Each time is the median of the rounds: the call's time (as
segment() measures it), and face mode's parts (result.times: detect, crop, parse, paste) and the model's
time of the whole frame. Progress goes to stderr; the table and then one JSON line go to stdout. On a
loaded machine the milliseconds mean nothing; only their ratio in one run does.

Usage: python scripts/bench_faces.py --model-dir DIR [--repeat 9] [--threads 0]
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from patcher.page import CHROMIUM, CHROMIUM_FLAGS, server

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>bench faces</title><link rel="icon" href="data:,"></head><body>
<script type="module">
import { createSegmenter, FACES } from './segmenter.js';
try {
const seg = await createSegmenter({backend: 'wasm', worker: true, threads: %(threads)d});
const image = new Image();
image.src = seg.sample;
await image.decode();
const frame = new OffscreenCanvas(640, 480);
const ctx = frame.getContext('2d');
ctx.fillStyle = '#808080';
ctx.fillRect(0, 0, 640, 480);
const side = 480 * image.naturalWidth / image.naturalHeight;
ctx.drawImage(image, (640 - side) / 2, 0, side, 480);
const pixels = ctx.getImageData(0, 0, 640, 480);
const calls = {faces: () => seg.segment(pixels), whole: () => seg.segment(pixels, {faces: false, size: [448, 448]})};
window.round = async () => {
  const got = {};
  for (const [name, call] of Object.entries(calls)) {
    const r = await call();
    got[name] = {ms: r.ms, modelMs: r.modelMs, size: r.size, faces: r.faces ? r.faces.length : null,
                 times: r.times || null, runtime: r.runtime};
  }
  return got;
};
await window.round();   // untimed: starts each size's runtime
window.info = {...seg.info, cropSize: FACES.size};
window.ready = true;
} catch (err) {
  window.failed = `${err.message}${err.hint ? ` (${err.hint})` : ''}`;
}
</script></body></html>
"""


def median(rounds: list[dict], mode: str, key: str) -> float:
    return statistics.median(r[mode][key] for r in rounds)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, required=True)
    parser.add_argument("--repeat", type=int, default=9, help="timed rounds (default: %(default)s)")
    parser.add_argument("--threads", type=int, default=0, help="wasm threads, 0: one per core (default)")
    args = parser.parse_args(argv)
    model = json.loads((args.model_dir / "model.json").read_text()) if (args.model_dir / "model.json").is_file() else None
    if model is None:
        print(f"bench_faces.py: {args.model_dir} holds no model.json", file=sys.stderr)
        return 2
    if not model["userDefinedMetadata"].get("faces", {}).get("detector"):
        print(f"bench_faces.py: {args.model_dir}/model.json names no face detector (a build of a recipe with "
              "`faces`, where the npm registry answered)", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="bench-faces-") as tmp:
        site = Path(tmp) / "site"
        shutil.copytree(args.model_dir, site)
        (site / "bench-faces.html").write_text(PAGE % {"threads": args.threads})
        httpd = server(site, 0, quiet=True)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
                tab = browser.new_page()
                tab.goto(f"http://127.0.0.1:{httpd.server_address[1]}/bench-faces.html")
                tab.wait_for_function("window.ready === true || window.failed", timeout=600_000)
                failed = tab.evaluate("window.failed || null")
                if failed:
                    print(f"bench_faces.py: the page failed: {failed}", file=sys.stderr)
                    return 1
                info = tab.evaluate("window.info")
                rounds = []
                for i in range(args.repeat):
                    rounds.append(tab.evaluate("window.round()"))
                    print(f"round {i + 1}/{args.repeat}", file=sys.stderr)
                browser.close()
        finally:
            httpd.shutdown()
            httpd.server_close()
    faces = {k: median(rounds, "faces", k) for k in ("ms", "modelMs")}
    parts = {k: statistics.median(r["faces"]["times"][k] for r in rounds)
             for k in ("detectMs", "cropMs", "parseMs", "pasteMs")}
    whole = {k: median(rounds, "whole", k) for k in ("ms", "modelMs")}
    found = sorted({r["faces"]["faces"] for r in rounds})
    threads = f"{info['threads']} thread{'s' if info['threads'] != 1 else ''}"
    print(f"640 x 480 frames, tfjs {info['backend']} in the Web Worker, {threads}; median of {args.repeat} rounds")
    print("| mode | frame ms | FPS | detect | crop | parse (model) | paste |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    print(f"| face mode, squares at {info['cropSize']} x {info['cropSize']} ({'/'.join(map(str, found))} face(s)) | "
          f"{faces['ms']:.1f} | {1000 / faces['ms']:.2f} | {parts['detectMs']:.1f} | {parts['cropMs']:.1f} | "
          f"{parts['parseMs']:.1f} | {parts['pasteMs']:.1f} |")
    print(f"| whole frame at 448 x 448 | {whole['ms']:.1f} | {1000 / whole['ms']:.2f} | | | {whole['modelMs']:.1f} | |")
    print(f"face mode / whole frame: {faces['ms'] / whole['ms']:.2f} of the time")
    print(json.dumps({"repeat": args.repeat, "threads": info["threads"], "faces": {**faces, **parts, "found": found},
                      "whole": whole, "ratio": faces["ms"] / whole["ms"]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

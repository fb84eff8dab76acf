#!/usr/bin/env python3
"""Benchmark (not a test): face mode against the whole frame, on 640 x 480 frames in the Web Worker, in ONE run.

For a web folder made by `build` whose model.json names a face detector (the face parser): a copy of the folder
served by patcher's server (COOP/COEP, so wasm runs one thread per core, or --threads) to Debian's headless
Chromium, where a page made here creates one segmenter per runtime (each in its own module worker): tfjs on
wasm, and, where the build has LiteRT.js models (`build --litert`), LiteRT.js float32 and int8. On a 640 x 480
frame (the build's sample drawn 480 px high in the middle of a grey frame, as a webcam frame with a person
in it), each of --repeat rounds times, runtime after runtime, face mode at its default crop size (FACES: one
face, its square parsed at 320 x 320) and the whole frame at 448 x 448 (`faces: false`), one after the other
so that a busy spell of the machine falls on all alike, after one untimed call of each. Each time is the
median of the rounds: the call's time (as segment() measures it), face mode's parts (result.times: detect,
crop, parse, paste; "other" is the rest of the call: reading the frame, the worker's messages) and the
model's time of the whole frame; "limit" names face mode's largest part. The face detector runs where the
squares are parsed: on LiteRT.js where the build has the recipe's LiteRT.js detector (lib/litefaces.js),
else on tfjs wasm (lib/faces.js); the last lines say which ran. A LiteRT.js runtime where the build has no model at a size runs the
nearest size it has (the table's "size" says which). Progress goes to stderr; the table and then one JSON
line go to stdout. On a loaded machine the milliseconds mean nothing; only their ratios in one run do.

Usage: python scripts/bench_faces.py --model-dir DIR [--runtime all|tfjs|litert] [--precision all|float32|int8]
                                     [--repeat 9] [--threads 0]
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
const runtimes = %(runtimes)s;
try {
const segs = [];
for (const r of runtimes) {
  segs.push(await createSegmenter({backend: 'wasm', worker: true, threads: %(threads)d, measure: false, ...r.options}));
}
const image = new Image();
image.src = segs[0].sample;
await image.decode();
const frame = new OffscreenCanvas(640, 480);
const ctx = frame.getContext('2d');
ctx.fillStyle = '#808080';
ctx.fillRect(0, 0, 640, 480);
const side = 480 * image.naturalWidth / image.naturalHeight;
ctx.drawImage(image, (640 - side) / 2, 0, side, 480);
const pixels = ctx.getImageData(0, 0, 640, 480);
const calls = {faces: (seg) => seg.segment(pixels), whole: (seg) => seg.segment(pixels, {faces: false, size: [448, 448]})};
window.round = async () => {
  const got = {};
  runtimes.forEach((r, i) => { got[r.name] = {}; });
  for (const [i, r] of runtimes.entries()) {
    for (const [mode, call] of Object.entries(calls)) {
      const out = await call(segs[i]);
      const detector = out.faces ? segs[i].info.faces : null;
      got[r.name][mode] = {ms: out.ms, modelMs: out.modelMs, size: out.size, faces: out.faces ? out.faces.length : null,
                           times: out.times || null, runtime: out.runtime, precision: out.precision,
                           detector: detector && `${detector.detector} on ${detector.runtime} ${detector.backend}`};
    }
  }
  return got;
};
await window.round();   // untimed: starts each size's runtime
window.info = {infos: segs.map((s) => s.info), cropSize: FACES.size};
window.ready = true;
} catch (err) {
  window.failed = `${err.message}${err.hint ? ` (${err.hint})` : ''}`;
}
</script></body></html>
"""

PARTS = ("detectMs", "cropMs", "parseMs", "pasteMs")


def runtimes(model: dict, runtime: str, precision: str) -> list[dict]:
    """The runtimes to time, each {name, options}: tfjs, then each LiteRT.js precision the build has."""
    built = {m["precision"] for m in (model["userDefinedMetadata"].get("litert") or {}).get("models", [])}
    found = []
    if runtime in ("all", "tfjs"):
        found.append({"name": "tfjs wasm", "options": {"runtime": "tfjs"}})
    if runtime in ("all", "litert"):
        for p in ("float32", "int8"):
            if p in built and precision in ("all", p):
                found.append({"name": f"LiteRT.js {p}", "options": {"runtime": "litert", "precision": p}})
    return found


def medians(rounds: list[dict], name: str) -> dict:
    """One runtime's medians over the rounds: face mode's call and parts, the whole frame's call and model."""
    def med(mode: str, pick) -> float:
        return statistics.median(pick(r[name][mode]) for r in rounds)

    faces = {k: med("faces", lambda c, k=k: c[k]) for k in ("ms", "modelMs")}
    faces |= {k: med("faces", lambda c, k=k: c["times"][k]) for k in PARTS}
    faces["otherMs"] = med("faces", lambda c: c["ms"] - sum(c["times"][k] for k in PARTS))
    whole = {k: med("whole", lambda c, k=k: c[k]) for k in ("ms", "modelMs")}
    last = rounds[-1][name]
    return {"faces": {**faces, "found": sorted({r[name]["faces"]["faces"] for r in rounds}),
                      "detector": last["faces"]["detector"],
                      "size": last["faces"]["size"], "precision": last["faces"]["precision"]},
            "whole": {**whole, "size": last["whole"]["size"]}, "ratio": faces["ms"] / whole["ms"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, required=True)
    parser.add_argument("--runtime", choices=("all", "tfjs", "litert"), default="all",
                        help="runtimes timed: tfjs, LiteRT.js, or every one the build has (default: %(default)s)")
    parser.add_argument("--precision", choices=("all", "float32", "int8"), default="all",
                        help="LiteRT.js precisions timed (default: every one the build has)")
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
    timed = runtimes(model, args.runtime, args.precision)
    if not timed:
        print(f"bench_faces.py: {args.model_dir} has no LiteRT.js model{'' if args.precision == 'all' else ' of ' + args.precision}"
              " (build it with --litert)", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="bench-faces-") as tmp:
        site = Path(tmp) / "site"
        shutil.copytree(args.model_dir, site)
        (site / "bench-faces.html").write_text(PAGE % {"threads": args.threads, "runtimes": json.dumps(timed)})
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
    results = {r["name"]: medians(rounds, r["name"]) for r in timed}
    threads = sorted({i["threads"] for i in info["infos"]})
    crop = info["cropSize"]
    print(f"640 x 480 frames in the Web Worker, wasm, {'/'.join(map(str, threads))} thread(s); median of "
          f"{args.repeat} rounds; face mode's squares at {crop} x {crop}")
    print("| runtime | mode | size | frame ms | FPS | detect | crop | parse (model) | paste | other | limit |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for name, got in results.items():
        f, w = got["faces"], got["whole"]
        limit = max(("detect", "crop", "parse", "paste", "other"), key=lambda k: f[f"{k}Ms"])
        size = "x".join(map(str, f["size"]))
        print(f"| {name} | face mode ({'/'.join(map(str, f['found']))} face(s)) | {size} | {f['ms']:.1f} | "
              f"{1000 / f['ms']:.2f} | {f['detectMs']:.1f} | {f['cropMs']:.1f} | {f['parseMs']:.1f} | "
              f"{f['pasteMs']:.1f} | {f['otherMs']:.1f} | {limit} |")
        print(f"| {name} | whole frame | {'x'.join(map(str, w['size']))} | {w['ms']:.1f} | {1000 / w['ms']:.2f} | | | "
              f"{w['modelMs']:.1f} | | | |")
    for name, got in results.items():
        print(f"{name}: face mode / whole frame at 448 x 448: {got['ratio']:.2f} of the time; the faces found by "
              f"{got['faces']['detector']}")
    print(json.dumps({"repeat": args.repeat, "threads": threads, "cropSize": crop, "runtimes": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

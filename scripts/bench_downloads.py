#!/usr/bin/env python3
"""Measurement (not a test): the bytes the web module fetches before its first result and after, per runtime,
and what `runtime: 'auto'` reports of its measuring on the device (`info.measure`), in ONE run.

For a web folder made by `build --litert`: each case gets a fresh browser profile (a new Playwright context of
Debian's Chromium, so no HTTP cache and no kept measurement) and a page served by patcher's server (COOP/COEP;
it sends `Cache-Control: no-store`, so every fetch is a download). The page imports segmenter.js, makes a
segmenter with the case's options, segments the build's sample picture once (the first result), then makes
--calls more calls, one per animation frame, and for `auto` goes on until its measuring ends (at most
--most calls), then waits --idle seconds. The bytes are counted by the server (the response bodies it sent,
so the worker's fetches count too) at three points: before the first result, after the calls, after the
idle wait; and compared with `info.measure.bytes`, which the module reads from resource timing.
The cases: tfjs, LiteRT.js float32, LiteRT.js int8, auto, auto with measureDownloads, at each of --sizes.
Times (`cost`, `longest`) are one run's on whatever machine runs it; bytes do not depend on load.
Usage: python scripts/bench_downloads.py --model-dir DIR [--sizes 288,448] [--calls 12] [--most 80]
       [--idle 3] [--webgpu] [--cases 'tfjs,auto measureDownloads']
Progress goes to stderr; a table and then one JSON line go to stdout.
"""
from __future__ import annotations

import argparse
import base64
import functools
import http.server
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np

from patcher import page

CASES: list[tuple[str, dict[str, Any]]] = [("tfjs", {"runtime": "tfjs"}),
         ("litert float32", {"runtime": "litert", "precision": "float32"}),
         ("litert int8", {"runtime": "litert", "precision": "int8"}),
         ("auto", {"runtime": "auto"}),
         ("auto measureDownloads", {"runtime": "auto", "measureDownloads": True})]

PROBE = """<!doctype html><html><body><script type="module">
const pixels = (data, [h, w]) => new ImageData(
  new Uint8ClampedArray(Uint8Array.from(atob(data), (c) => c.charCodeAt(0)).buffer), w, h);
window.first = async (options, data, shape) => {
  try {
    const {createSegmenter} = await import('./segmenter.js');
    window.image = pixels(data, shape);
    const t = performance.now();
    window.seg = await createSegmenter(options);
    await window.seg.segment(window.image);
    return {ms: performance.now() - t, info: window.seg.info};
  } catch (err) {
    return {error: err.code, message: err.message};
  }
};
window.more = async (calls, most) => {
  try {
    const seg = window.seg;
    const busy = () => ['waiting', 'measuring'].includes(seg.info.measure && seg.info.measure.status);
    let n = 0;
    while (n < calls || (busy() && n < most)) {
      await seg.segment(window.image);
      n += 1;
      await new Promise((resolve) => requestAnimationFrame(resolve));
    }
    return {calls: n, info: seg.info};
  } catch (err) {
    return {error: err.code, message: err.message};
  }
};
window.ready = true;
</script></body></html>"""


class Counter:
    """The bytes of the response bodies the server sent, per path, in order."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.sent: list[tuple[str, int]] = []

    def add(self, path: str, size: int) -> None:
        with self.lock:
            self.sent.append((path, size))

    def mark(self) -> int:
        with self.lock:
            return len(self.sent)

    def since(self, start: int, end: int | None = None) -> list[tuple[str, int]]:
        with self.lock:
            return self.sent[start:end]


def serve(folder: Path, counter: Counter) -> http.server.ThreadingHTTPServer:
    """patcher's server (COOP/COEP, no-store) on a free port, counting each file's bytes as it sends them."""

    class Counting(page.Handler):
        def copyfile(self, source: Any, outputfile: Any) -> None:
            counter.add(self.path.split("?", 1)[0], os.fstat(source.fileno()).st_size)
            super().copyfile(source, outputfile)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
            pass

    return http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Counting, directory=str(folder)))


def stage(model_dir: Path, root: Path) -> None:
    """The build folder (hard links) with the probe page beside segmenter.js."""
    shutil.copytree(model_dir, root, copy_function=os.link)
    (root / "bench-downloads.html").write_text(PROBE)


def sample(model_dir: Path, size: tuple[int, int]) -> tuple[str, list[int]]:
    """The build's sample picture (its first picture file) as RGBA, base64, and its [h, w]."""
    from PIL import Image

    path = next(p for p in sorted(model_dir.iterdir()) if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    rgba = np.asarray(Image.open(path).convert("RGB").resize(size[::-1], Image.Resampling.BILINEAR).convert("RGBA"))
    return base64.b64encode(rgba.tobytes()).decode(), list(rgba.shape[:2])


def total(sent: list[tuple[str, int]]) -> int:
    return sum(n for _, n in sent)


def run_case(browser: Any, url: str, counter: Counter, options: dict, picture: tuple[str, list[int]],
             args: argparse.Namespace) -> dict:
    context = browser.new_context()
    tab = context.new_page()
    try:
        tab.goto(url)
        tab.wait_for_function("window.ready === true", timeout=60_000)
        start = counter.mark()
        first = tab.evaluate("([o, d, s]) => first(o, d, s)", [options, *picture])
        at_first = counter.mark()
        if "error" in first:
            return {"options": options, "error": first}
        later = tab.evaluate("([n, m]) => more(n, m)", [args.calls, args.most])
        at_calls = counter.mark()
        time.sleep(args.idle)
        idle_info = tab.evaluate("() => window.seg.info")
        at_idle = counter.mark()
        tab.evaluate("() => window.seg.dispose()")
    finally:
        context.close()
    after = counter.since(at_first, at_idle)
    return {"options": options, "first_ms": round(first["ms"]), "calls": later.get("calls"),
            "error": later.get("error") and later,
            "before": total(counter.since(start, at_first)),
            "after_calls": total(counter.since(at_first, at_calls)),
            "after_idle": total(counter.since(at_calls, at_idle)),
            "files_before": [p for p, _ in counter.since(start, at_first)],
            "files_after": [f"{p} {n}" for p, n in after],
            "first": {k: first["info"].get(k) for k in ("runtime", "precision", "backend", "threads", "reason")},
            "last": {k: idle_info.get(k) for k in ("runtime", "precision", "backend", "reason")},
            "measure": idle_info.get("measure")}


def mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-dir", type=Path, required=True, help="a folder made by `build --litert`")
    parser.add_argument("--sizes", default="288,448", help="square sizes, comma-separated")
    parser.add_argument("--calls", type=int, default=12, help="calls after the first (default: 12)")
    parser.add_argument("--most", type=int, default=80, help="most calls while auto measures (default: 80)")
    parser.add_argument("--idle", type=float, default=3.0, help="seconds to wait after the calls (default: 3)")
    parser.add_argument("--webgpu", action="store_true", help="let Chromium offer WebGPU (SwiftShader)")
    parser.add_argument("--cases", default=",".join(name for name, _ in CASES),
                        help="which cases, comma-separated (default: all)")
    args = parser.parse_args(argv)
    if not (args.model_dir / "segmenter.js").is_file():
        print(f"bench_downloads: {args.model_dir} has no segmenter.js: make it with 'python -m patcher build "
              "--litert --out DIR'", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    counter = Counter()
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-downloads-") as tmp:
        root = Path(tmp) / "site"
        stage(args.model_dir, root)
        httpd = serve(root, counter)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{httpd.server_address[1]}/bench-downloads.html"
        flags = [*page.CHROMIUM_FLAGS, *(["--enable-unsafe-webgpu"] if args.webgpu else [])]
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=page.CHROMIUM, args=flags)
                version = browser.version
                for side in (int(s) for s in args.sizes.split(",")):
                    picture = sample(args.model_dir, (side, side))
                    for name, options in (c for c in CASES if c[0] in args.cases.split(",")):
                        print(f"{name} at {side}x{side} ...", file=sys.stderr)
                        got = run_case(browser, url, counter, {**options, "size": [side, side]}, picture, args)
                        results.append({"case": name, "size": side, **got})
                browser.close()
        finally:
            httpd.shutdown()
    print(f"Chromium {version}, {os.cpu_count()} CPUs, {args.calls} calls after the first (auto: until measured,"
          f" at most {args.most}), then {args.idle:g} s idle; bytes counted by the server")
    print("| size | case | runs first | before the first result | after (calls, idle) | calls "
          "| measure: status, winner, steps, cost ms, longest ms, bytes |")
    for r in results:
        if r.get("options") and "before" not in r:
            print(f"| {r['size']} | {r['case']} | error {r['error']} |")
            continue
        m = r["measure"]
        told = (f"{m['status']}, {m['winner']}, {m['steps']}, {m['cost']:.0f}, {m['longest']:.0f}, {m['bytes']}"
                if m else "null")
        print(f"| {r['size']} | {r['case']} | {r['first']['runtime']} {r['first']['precision']} "
              f"| {mb(r['before'])} | {mb(r['after_calls'])}, {mb(r['after_idle'])} | {r['calls']} | {told} |")
    print(json.dumps({"chromium": version, "results": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""LiteRT.js and tfjs-wasm in headless Chromium: the parent's call (`in_chromium`, a child process so that a
hung browser is stopped) and the child's work (`python -m patcher.litert browser`, through Playwright and
the harness page in DIR/litert)."""
from __future__ import annotations

import base64
import importlib.util
import os
import statistics
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np

from patcher import page
from patcher.child import Error, emit
from patcher.litert.accuracy import Timing
from patcher.litert.options import BROWSER_REPEAT, BROWSER_TIMEOUT, FOLDER
from patcher.litert.job import run
from patcher.kinds import kind


def chromium_missing() -> str | None:
    """Why LiteRT.js cannot run in headless Chromium here; None when it can."""
    if importlib.util.find_spec("playwright") is None:
        return "playwright is not installed: pip install 'patcher[web]'"
    if not Path(page.CHROMIUM).exists():
        return f"Debian's chromium is not installed ({page.CHROMIUM}): apt-get install chromium"
    return None


def in_chromium(model_dir: Path, models: list[dict[str, Any]], saved: Path, error: Error,
                repeat: int = BROWSER_REPEAT, output: dict[str, Any] | None = None
                ) -> tuple[dict[str, dict[str, Any]], list[Timing]]:
    """LiteRT.js in headless Chromium (a child process: `python -m patcher.litert browser`), through the
    harness page in model_dir/litert, on `models` (file relative to model_dir, size, precision): by file,
    each model's main output on the first picture against TensorFlow's (saved in `saved` by the compare
    child), judged by the output kind (`output`: the kind's name as `kind`, the metadata's `input` and the
    main output's `dtype`; default a labels build's int32 class ids): accuracy, threads, threaded_build,
    fully_accelerated; per size, the median ms of `repeat` runs of each model and of tfjs-wasm on
    model.json, all with one thread per core."""
    threads = len(os.sched_getaffinity(0))
    print(f"running LiteRT.js and tfjs-wasm in headless Chromium ({threads} threads) ...", file=sys.stderr)
    job = {"model_dir": str(model_dir), "saved": str(saved), "repeat": repeat, "threads": threads,
           "models": [{"file": m["file"], "size": m["size"], "precision": m["precision"]} for m in models],
           "kind": "labels", "dtype": "int32", **(output or {})}
    records = run("browser", job, saved, error, BROWSER_TIMEOUT)
    browser = {r["file"]: {k: r[k] for k in ("accuracy", "threads", "threaded_build", "fully_accelerated")}
               for r in records if r.get("stage") == "browser"}
    timings = [Timing(**{k: r[k] for k in ("size", "browser", "threads", "tfjs_threads", "ms")})
               for r in records if r.get("stage") == "timing"]
    return browser, timings


def child_browser(job: dict[str, Any]) -> None:
    """LiteRT.js and tfjs-wasm in headless Chromium on the models of the job (see in_chromium)."""
    from playwright.sync_api import sync_playwright  # noqa: PLC0415 - only where a browser runs

    saved, threads, repeat = Path(job["saved"]), job["threads"], job["repeat"]
    httpd = page.server(Path(job["model_dir"]), quiet=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        with sync_playwright() as p:
            chromium = p.chromium.launch(executable_path=page.CHROMIUM, args=page.CHROMIUM_FLAGS)
            browser = f"Chromium {chromium.version.split('.')[0]}"
            tab = chromium.new_page()
            tab.goto(f"http://127.0.0.1:{httpd.server_address[1]}/{FOLDER}/index.html")
            tab.wait_for_function("window.harnessReady === true", timeout=60_000)
            ran = tab.evaluate("harness.init({threads: true})")
            tfjs = tab.evaluate("(n) => harness.tfjsInit(n)", threads)
            models = job["models"]
            judged = kind(job.get("kind", "labels"))
            for size in sorted({tuple(m["size"]) for m in models}, key=lambda s: s[0] * s[1]):
                h, w = size
                stem, shape = saved / f"{h}x{w}", [1, h, w, 3]
                x = base64.b64encode(Path(f"{stem}.input.bin").read_bytes()).decode()
                want = [np.load(f"{stem}.want.{i}.npy") for i in range(len(list(saved.glob(f"{h}x{w}.want.*.npy"))))]
                if not want:
                    raise FileNotFoundError(f"no saved output of TensorFlow at {h}x{w} in {saved}")
                ms = {"tfjs": statistics.median(tab.evaluate("([s, n]) => harness.tfjsTime(s, n)", [shape, repeat]))}
                for m in (m for m in models if tuple(m["size"]) == size):
                    loaded = tab.evaluate("([f, n]) => harness.load('m', f, n)", [Path(m["file"]).name, threads])
                    out = tab.evaluate("([x, s, d]) => harness.run('m', x, s, d)", [x, shape, job["dtype"]])
                    got = np.frombuffer(base64.b64decode(out["output"]), dtype=job["dtype"]).reshape(want[0].shape)
                    emit(stage="browser", file=m["file"], accuracy=judged.accuracy(want, [got], job),
                         threads=loaded["threads"], threaded_build=ran["threaded"],
                         fully_accelerated=loaded["fullyAccelerated"])
                    ms[m["precision"]] = statistics.median(
                        tab.evaluate("([s, n]) => harness.time('m', s, n)", [shape, repeat]))
                emit(stage="timing", size=[h, w], browser=browser, threads=threads, tfjs_threads=tfjs["threads"],
                     ms={k: round(v, 1) for k, v in ms.items()})
            chromium.close()
    finally:
        httpd.shutdown()

"""Screenshot a build's demo page in Debian's headless Chromium once it has run on its sample picture.

    python scripts/screenshot.py --model-dir webmodel-celebamask --out docs/page.png [--query 'backend=wasm']
    python scripts/screenshot.py --model-dir webmodel-cartoon --out docs/cartoon.png

The page is whichever the build holds as index.html: the segmenter's for a class-map model, stylizer.html
(the picture before and after) for a picture model; both set window.patcherState with `?debug`.

Serves the folder on 127.0.0.1 (with the headers wasm threads need), opens the page with `?debug`, waits for
the first result and writes a PNG of the whole page. Says on stderr what the page showed: the model's
weights (a build with random weights shows the pipeline, not a parse: refused unless --random-ok) and, in
face mode, the faces found.
"""
from __future__ import annotations

import argparse
import json
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from patcher.page import CHROMIUM, CHROMIUM_FLAGS, server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--query", default="backend=wasm&mode=worker", help="page options (default: %(default)s)")
    parser.add_argument("--width", type=int, default=1100)
    parser.add_argument("--random-ok", action="store_true", help="allow a build with random weights")
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    httpd = server(args.model_dir, 0, quiet=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
            tab = browser.new_page(viewport={"width": args.width, "height": 900})
            tab.goto(f"http://127.0.0.1:{httpd.server_address[1]}/?debug&{args.query}")
            tab.wait_for_function("window.patcherState && (patcherState.runs >= 1 || patcherState.error)",
                                  timeout=300_000)
            error = tab.evaluate("patcherState.error")
            if error:
                print(f"screenshot.py: the page reports an error: {error}", file=sys.stderr)
                return 1
            weights = json.loads((args.model_dir / "model.json").read_text()).get(
                "userDefinedMetadata", {}).get("patcher", {}).get("weights")
            if weights == "random weights" and not args.random_ok:
                print("screenshot.py: this build has random weights; build the trained model (python -m patcher "
                      "build --weights published) or pass --random-ok", file=sys.stderr)
                return 1
            found = tab.inner_text("#found") if tab.query_selector("#found") else ""
            print(f"screenshot.py: {weights}; {found or 'no face detector in model.json'}", file=sys.stderr)
            tab.wait_for_timeout(500)
            tab.screenshot(path=str(args.out), full_page=True)
            browser.close()
    finally:
        httpd.shutdown()
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

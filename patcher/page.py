"""The demo page: copied next to model.json by `build`, served by `serve` with the headers wasm threads need."""
from __future__ import annotations

import functools
import http.server
import importlib.resources
import shutil
import sys
from pathlib import Path

from patcher.errors import BuildError

HERE = Path(__file__).resolve().parent
PAGE = HERE / "web"
PROJECT = HERE.parent
# Debian's chromium, headless, as root, on a machine without GPU or outside network.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--use-angle=swiftshader", "--enable-unsafe-swiftshader"]
BUNDLES = {
    "@tensorflow/tfjs/dist": ["tf.min.js"],
    "@tensorflow/tfjs-backend-wasm/dist": ["tf-backend-wasm.min.js", "tfjs-backend-wasm.wasm",
                                           "tfjs-backend-wasm-simd.wasm", "tfjs-backend-wasm-threaded-simd.wasm"],
}


def sample_face() -> Path:
    """scikit-image's astronaut (Eileen Collins, NASA, public domain), shipped inside its wheel."""
    try:
        return Path(importlib.resources.files("skimage") / "data" / "astronaut.png")
    except ModuleNotFoundError:
        raise BuildError("scikit-image (for the sample face) is not installed: pip install -e '.[web]'") from None


def install(folder: Path) -> None:
    """Copy the page, the pinned TensorFlow.js bundles and the sample face into `folder`."""
    for path in PAGE.iterdir():
        shutil.copy2(path, folder / path.name)
    for package, names in BUNDLES.items():
        for name in names:
            source = PROJECT / "node_modules" / package / name
            if not source.is_file():
                raise BuildError(f"{source} is missing; run 'npm ci' in {PROJECT}")
            shutil.copy2(source, folder / name)
    shutil.copy2(sample_face(), folder / "sample.png")


class Handler(http.server.SimpleHTTPRequestHandler):
    """Static files with cross-origin isolation (COOP/COEP), so the wasm backend may use threads."""

    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, ".wasm": "application/wasm",
                      ".js": "text/javascript", ".json": "application/json"}

    isolate = True

    def end_headers(self) -> None:
        if self.isolate:
            self.send_header("Cross-Origin-Opener-Policy", "same-origin")
            self.send_header("Cross-Origin-Embedder-Policy", "require-corp")
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - the base class's name
        print(f"  {self.address_string()} {format % args}", file=sys.stderr)


def server(folder: Path, port: int = 0, isolate: bool = True) -> http.server.ThreadingHTTPServer:
    """An HTTP server for `folder` on 127.0.0.1 (port 0: any free port); `isolate=False` leaves out
    COOP/COEP, as a plain static host would."""
    handler = type("Handler", (Handler,), {"isolate": isolate})
    return http.server.ThreadingHTTPServer(("127.0.0.1", port), functools.partial(handler, directory=str(folder)))

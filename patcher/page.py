"""The demo page: copied next to model.json by `build`, served by `serve` with the headers wasm threads need."""
from __future__ import annotations

import functools
import http.server
import importlib.resources
import os
import shutil
import sys
import urllib.parse
from pathlib import Path
from typing import Any

from patcher import nodejs
from patcher.errors import BuildError

HERE = Path(__file__).resolve().parent
PAGE = HERE / "web"
# Debian's chromium, headless, as root, on a machine without GPU or outside network.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--use-angle=swiftshader", "--enable-unsafe-swiftshader"]
BUNDLES = {
    "@tensorflow/tfjs/dist": ["tf.min.js"],
    "@tensorflow/tfjs-backend-wasm/dist": ["tf-backend-wasm.min.js", "tfjs-backend-wasm.wasm",
                                           "tfjs-backend-wasm-simd.wasm", "tfjs-backend-wasm-threaded-simd.wasm"],
    "@tensorflow/tfjs-backend-webgpu/dist": ["tf-backend-webgpu.min.js"],
}


def sample_name(spec: str) -> str:
    """The sample image's file name next to model.json: `sample` with the source's suffix."""
    return "sample" + Path(spec).suffix


def sample_source(spec: str) -> Path:
    """The file a recipe's `sample` names: `package:PACKAGE/PATH`, inside that installed package, or the
    absolute path the recipe made of a file next to it."""
    if not spec.startswith("package:"):
        if not Path(spec).is_file():
            raise BuildError(f"the sample image {spec} is missing")
        return Path(spec)
    package, _, path = spec.removeprefix("package:").partition("/")
    try:
        base = Path(str(importlib.resources.files(package)))
    except ModuleNotFoundError:
        raise BuildError(f"the sample image's package {package!r} is not installed (pip install {package})") from None
    found = base / path
    if not found.resolve().is_relative_to(base.resolve()):
        raise BuildError(f"the sample image {path} leaves the installed package {package!r} (it resolves to "
                         f"{found.resolve()})")
    if not found.is_file():
        raise BuildError(f"the sample image {path} is not in the installed package {package!r}")
    return found


def install(folder: Path, sample: str, crop: tuple[int, ...] = (), kind: str = "labels") -> None:
    """Copy the page and module of the output kind `kind` (patcher/kinds: the files of patcher/web but those
    only another kind's builds get; the kind's page as index.html), the pinned TensorFlow.js bundles and the
    recipe's sample image (cropped to `crop`, [x, y, width, height], when given) into `folder`."""
    from patcher.kinds import kind as kind_of, names as kinds  # noqa: PLC0415 - kinds imports numpy

    own = kind_of(kind).page
    others = {name for other in kinds() if other != kind for name in kind_of(other).page} - set(own)
    shutil.copytree(PAGE, folder, dirs_exist_ok=True, ignore=lambda where, files: [
        f for f in files if Path(where) == PAGE and f in others])
    if own[0] != "index.html":
        shutil.copy2(PAGE / own[0], folder / "index.html")
    for package, names in BUNDLES.items():
        for name in names:
            source = nodejs.modules() / package / name
            if not source.is_file():
                raise BuildError(f"{source} is missing; run 'npm ci' again")
            shutil.copy2(source, folder / name)
    if not crop:
        shutil.copy2(sample_source(sample), folder / sample_name(sample))
        return
    from PIL import Image  # noqa: PLC0415 - Pillow comes with scikit-image

    with Image.open(sample_source(sample)) as image:
        x, y, w, h = crop
        if x + w > image.width or y + h > image.height:
            raise BuildError(f"the sample's crop {list(crop)} leaves the {image.width}x{image.height} picture")
        image.crop((x, y, x + w, y + h)).save(folder / sample_name(sample))


class Handler(http.server.SimpleHTTPRequestHandler):
    """Static files with cross-origin isolation (COOP/COEP), so the wasm backend may use threads.

    Only files inside the folder are served: a request whose path has a `..` or a dot-named part (encoded
    or not; also patcher's marker), or is not an absolute path, gets 404, as does a folder without
    index.html (no listings). A symbolic link out of the folder is followed only under a `node_modules`
    folder (where `npm install FOLDER` links a package); any other gets 404 and a log line naming it."""

    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, ".wasm": "application/wasm",
                      ".js": "text/javascript", ".json": "application/json"}

    isolate = True

    def end_headers(self) -> None:
        if self.isolate:
            self.send_header("Cross-Origin-Opener-Policy", "same-origin")
            self.send_header("Cross-Origin-Embedder-Policy", "require-corp")
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def send_head(self) -> Any:
        if not self.inside():
            self.send_error(404, "File not found")
            return None
        return super().send_head()

    def list_directory(self, path: str | os.PathLike[str]) -> None:
        self.send_error(404, "File not found")
        return None

    def inside(self) -> bool:
        """True when the request names a file in the served folder."""
        raw = self.path.split("?", 1)[0].split("#", 1)[0]
        try:
            path = urllib.parse.unquote(raw, errors="strict")
        except UnicodeDecodeError:
            return False
        if not raw.startswith("/") or "\\" in path or "\0" in path:
            return False
        if any(part.startswith(".") for part in path.split("/")):
            return False
        root = os.path.realpath(self.directory)
        real = os.path.realpath(self.translate_path(self.path))
        if real == root or real.startswith(root.rstrip(os.sep) + os.sep):
            return True
        parts = [p for p in path.split("/") if p]
        for i in range(1, len(parts) + 1):
            link = os.path.join(self.directory, *parts[:i])
            if os.path.islink(link):
                if "node_modules" in parts[:i - 1]:
                    return True
                self.log_message("refused %s: %s is a symbolic link to %s, outside the served folder %s (only "
                                 "links under node_modules are followed; serve a folder holding both)",
                                 raw, "/".join(parts[:i]), os.path.realpath(link), root)
                return False
        return False

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        print(f"  {self.address_string()} {format % args}", file=sys.stderr)


def server(folder: Path, port: int = 0, isolate: bool = True, quiet: bool = False) -> http.server.ThreadingHTTPServer:
    """An HTTP server for `folder` on 127.0.0.1 (port 0: any free port); `isolate=False` leaves out
    COOP/COEP, as a plain static host would; `quiet` logs no requests."""
    attrs = {"isolate": isolate, **({"log_message": lambda self, *args: None} if quiet else {})}
    handler = type("Handler", (Handler,), attrs)
    return http.server.ThreadingHTTPServer(("127.0.0.1", port), functools.partial(handler, directory=str(folder)))

"""Where the pinned TensorFlow.js packages live: the checkout's node_modules, or a cache folder that
`npm ci` fills on first use from the lock file shipped with patcher (an installed wheel)."""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

from patcher.child import last_line, run_registry
from patcher.errors import NodeError
from patcher.hashing import file_digest

HERE = Path(__file__).resolve().parent
JS = HERE / "js"
PROJECT = HERE.parent
PACKAGES = ("@tensorflow/tfjs", "@tensorflow/tfjs-backend-wasm")


def _installed(home: Path) -> bool:
    return all((home / "node_modules" / p / "package.json").is_file() for p in PACKAGES)


def cache() -> Path:
    """patcher's cache folder: $PATCHER_CACHE, else ~/.cache/patcher."""
    return Path(os.environ.get("PATCHER_CACHE") or Path.home() / ".cache" / "patcher")


def home() -> Path:
    """A folder whose node_modules holds the pinned packages (installed now with `npm ci` if needed)."""
    if (PROJECT / "package-lock.json").is_file() and _installed(PROJECT):
        return PROJECT
    lock = JS / "package-lock.json"
    if not lock.is_file():
        raise NodeError(f"TensorFlow.js is not installed; run 'npm ci' in {PROJECT}")
    target = cache() / f"node-{file_digest(lock).hex()[:12]}"
    if _installed(target):
        return target
    if shutil.which("npm") is None:
        raise NodeError("npm is not on PATH; install Node.js 18 or later (with npm)")
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=target.parent))
    try:
        for name in ("package.json", "package-lock.json"):
            shutil.copyfile(JS / name, staging / name)
        print(f"installing the pinned TensorFlow.js packages with npm ci into {target}", file=sys.stderr)
        proc = run_registry(["npm", "ci", "--omit=dev", "--no-audit", "--no-fund", "--loglevel=error"], staging,
                            f"npm ci in {staging}", NodeError)
        if proc.returncode != 0:
            raise NodeError(f"npm ci in {staging} failed: {last_line(proc.stderr)}")
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def modules() -> Path:
    """The node_modules folder holding the pinned packages."""
    return home() / "node_modules"


def script(name: str) -> Path:
    """patcher/js/NAME where Node resolves the packages from: as it is in a checkout, else a copy in the
    cache folder next to its node_modules."""
    where = home()
    source = JS / name
    if where == PROJECT:
        return source
    copy = where / name
    if not copy.is_file() or copy.read_bytes() != source.read_bytes():
        shutil.copyfile(source, copy)
    return copy

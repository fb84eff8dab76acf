"""File digests, read in blocks: a checkpoint's SHA-256 (build), a tarball's npm integrity (weights), a
picture wheel's pin (pictures), a build file's SHA-256 (the output folder's marker)."""
from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

BLOCK = 1 << 20


def file_digest(*paths: Path | str, algorithm: str = "sha256",
                opener: Callable[[str, int], int] | None = None) -> bytes:
    """The `algorithm` digest (a hashlib name) of the files' bytes, one after another in the order given;
    `opener` is open()'s (the cache passes one that refuses symbolic links)."""
    digest = hashlib.new(algorithm)
    for path in paths:
        with open(path, "rb", opener=opener) as handle:
            for block in iter(lambda: handle.read(BLOCK), b""):
                digest.update(block)
    return digest.digest()

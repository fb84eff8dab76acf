"""Digest: the SHA-256 of everything a run's result depends on, which a branch's commits record so that
`apply` knows without running a codemod that the branch is this recipe's result."""
from __future__ import annotations

import hashlib
import importlib.metadata
import json
from pathlib import Path

from patcher.codemods import SHIPPED_ORIGIN
from patcher.recipe import Recipe

PACKAGE = Path(__file__).resolve().parent.parent
# What a run's result depends on besides the recipe, the model and the pin: every codemod module (the
# registry and base.py included), this runner, and the checkout package (which writes the commits).
SOURCES = (PACKAGE / "codemods", PACKAGE / "runner", PACKAGE / "checkout")


def digest(recipe: Recipe, model: str, pin: str) -> str:
    """SHA-256 of everything a run's result depends on: the recipe file's bytes (not its name or folder)
    and the steps it gives for `model`, the model's name, the pin, the libcst version and the source of
    every shipped codemod, this runner and the checkout package, and the module file of each codemod the recipe
    brings from outside patcher. Equal digests mean `apply` would make the same commits."""
    sha = hashlib.sha256()

    def part(name: str, data: bytes) -> None:
        sha.update(f"{name}\0{len(data)}\0".encode())
        sha.update(data)

    part("format", b"patcher-digest 1")
    part("recipe", recipe.path.read_bytes() if recipe.path is not None else b"")
    steps = [[s.codemod, list(s.files), s.sites, s.params] for s in recipe.for_model(model)]
    part("steps", json.dumps(steps, sort_keys=True, default=str).encode())
    part("model", model.encode())
    part("pin", pin.encode())
    part("libcst", importlib.metadata.version("libcst").encode())
    for source in SOURCES:
        for file in sorted(source.glob("*.py")) if source.is_dir() else [source]:
            name = file.relative_to(PACKAGE).as_posix() if file.is_relative_to(PACKAGE) else str(file)
            part(name, file.read_bytes())
    # codemods from outside patcher: the module file of each (by name, not path: moving it changes nothing)
    external = {s.codemod: s.impl.file for s in recipe.steps
                if s.origin != SHIPPED_ORIGIN and s.impl is not None and s.impl.file is not None}
    for name, file in sorted(external.items()):
        part(f"codemod {name}", file.read_bytes())
    return sha.hexdigest()

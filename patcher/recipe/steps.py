"""A recipe's codemods: its `[codemods]` table (the modules it brings) and each `[[step]]` table checked
into a Step: a known codemod, files inside the checkout for every model, a site count, and parameters
the codemod takes (params.py)."""
from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any, NoReturn

from patcher import codemods as registry
from patcher.codemods import Codemod
from patcher.errors import LoadError
from patcher.recipe import params
from patcher.recipe.data import Model, Step
from patcher.recipe.fields import inside

MODULE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")

Fail = Callable[[str, str], NoReturn]


def catalog(raw: object, folder: Path, fail: Fail) -> dict[str, Codemod]:
    """The codemods this recipe can name: the shipped ones, its `[codemods] modules`, the installed ones."""
    where = "[codemods]"
    if not isinstance(raw, dict):
        fail(where, "must be a table")
    for key in sorted(set(raw) - {"modules"}):
        fail(where, f"unknown field {key!r}")
    modules = raw.get("modules", [])
    if not isinstance(modules, list) or not all(isinstance(m, str) for m in modules):
        fail(where, "field 'modules' must be a list of module names and .py files")
    for item in modules:
        if item.endswith(".py"):
            if PurePosixPath(item).is_absolute() or "\\" in item:
                fail(where, f"module file {item!r} must be a path relative to the recipe")
            if not (folder / item).is_file():
                fail(where, f"module file {item!r} is not a file next to the recipe ({folder / item})")
            found = (folder / item).resolve()
            if not found.is_relative_to(folder.resolve()):
                fail(where, f"module file {item!r} leaves the recipe's folder (it resolves to {found}); module "
                            "files are relative to the recipe and stay inside its folder")
        elif not MODULE_NAME.fullmatch(item):
            fail(where, f"{item!r} is neither an importable module name (such as mypkg.codemods.fix) nor a .py file")
    try:
        return registry.catalog(modules, folder)
    except LoadError as exc:
        fail(where, str(exc))


def step(number: int, raw: object, models: dict[str, Model], known: dict[str, Codemod], fail: Fail) -> Step:
    """The Step of the `number`th (1-based) `[[step]]` table."""
    where = f"step {number}"
    if not isinstance(raw, dict):
        fail(where, "must be a table")
    for key in sorted(set(raw) - {"codemod", "files", "sites", "params"}):
        fail(where, f"unknown field {key!r}")
    codemod = raw.get("codemod")
    if not isinstance(codemod, str) or codemod not in known:
        fail(where, f"unknown codemod {codemod!r} (known: {', '.join(sorted(known))})")
    where = f"step {number} ({codemod})"
    files, sites, given = raw.get("files"), raw.get("sites"), raw.get("params", {})
    if not isinstance(files, list) or not files or not all(isinstance(f, str) for f in files):
        fail(where, "field 'files' must be a non-empty list of paths")
    if not isinstance(sites, int) or isinstance(sites, bool) or sites < 1:
        fail(where, "field 'sites' must be a whole number of at least 1")
    if not isinstance(given, dict):
        fail(where, "field 'params' must be a table")
    for model in models.values():
        for f in files:
            try:
                filled = f.format(**model.values)
            except (KeyError, IndexError, ValueError):
                fail(where, f"file {f!r} names an unknown field (known: {', '.join('{' + k + '}' for k in model.values)})")
            if not inside(filled):
                fail(where, f"file {filled!r} leaves the checkout")
    try:
        impl = registry.resolve(known[codemod])
    except LoadError as exc:
        fail(where, str(exc))
    if impl.cls is None:
        fail(where, "the codemod's class could not be loaded")

    def failed(what: str) -> NoReturn:
        fail(where, what)

    params.check(impl.cls, given, failed)
    checked: dict[str, Any] = dict(given)
    return Step(codemod, tuple(files), sites, checked, impl)

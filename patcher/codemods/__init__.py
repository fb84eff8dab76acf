"""Codemods, one per module, each named by its module's last name (or file stem): those that ship (this
package), those a recipe names in its `[codemods]` table, and those installed packages provide through
the entry-point group `patcher.codemods`.

A codemod module defines exactly one subclass of SiteCodemod (base.py) with a one-line DESCRIPTION. A
name defined by two sources is an error (exit 13) naming both; so is a module that cannot be imported or
holds no codemod, or two.
"""
from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import importlib.util
import inspect
import pkgutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from patcher.codemods.base import SiteCodemod
from patcher.errors import LoadError
from patcher.sandbox import contained

GROUP = "patcher.codemods"
SHIPPED_ORIGIN = "patcher"


@dataclass(frozen=True)
class Codemod:
    """A codemod a recipe can name: its `name`, where it comes from (`origin`, shown by `list`), its class
    (None for an entry point not loaded yet: see resolve()) and the file of its module (for the digest)."""

    name: str
    origin: str
    cls: type | None = None
    file: Path | None = None
    entry: importlib.metadata.EntryPoint | None = None
    # why an installed entry point cannot be loaded: raised by resolve(), so only recipes naming it fail
    problem: str | None = None


def codemod_class(module: ModuleType, where: str) -> type:
    """The one SiteCodemod subclass `module` defines (LoadError otherwise), with a one-line DESCRIPTION."""
    found = [value for value in vars(module).values()
             if inspect.isclass(value) and issubclass(value, SiteCodemod) and value is not SiteCodemod
             and value.__module__ == module.__name__]
    if len(found) != 1:
        names = ", ".join(sorted(c.__name__ for c in found)) or "none"
        raise LoadError(f"{where}: a codemod module defines exactly one subclass of "
                        f"patcher.codemods.base.SiteCodemod (found: {names})")
    cls = found[0]
    description = getattr(cls, "DESCRIPTION", None)
    if not isinstance(description, str) or not description.strip() or "\n" in description.strip():
        raise LoadError(f"{where}: {cls.__name__}.DESCRIPTION must be a one-line string")
    return cls


def _file_of(module: ModuleType) -> Path | None:
    name = getattr(module, "__file__", None)
    return Path(name).resolve() if name else None


def _shipped() -> dict[str, Codemod]:
    found = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        if info.name == "base" or info.ispkg:
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        found[info.name] = Codemod(info.name, SHIPPED_ORIGIN, codemod_class(module, module.__name__),
                                   _file_of(module))
    return found


SHIPPED = _shipped()
# The codemods that ship, by name (what every recipe can name without loading anything).
CODEMODS: dict[str, type] = {name: codemod.cls for name, codemod in SHIPPED.items() if codemod.cls is not None}


def from_module(name: str) -> Codemod:
    """The codemod of the importable module `name` (dotted), named by its last name."""
    where = f"codemod module {name!r}"
    try:
        with contained():
            module = importlib.import_module(name)
    except BaseException as exc:  # noqa: BLE001 - any failure of the module's own code, exits too, is one load error
        raise LoadError(f"{where}: cannot import it: {_why(exc)}") from None
    return Codemod(name.rpartition(".")[2], f"module {name}", codemod_class(module, where), _file_of(module))


def from_file(path: Path, shown: str | None = None) -> Codemod:
    """The codemod of the Python file `path` (shown as `shown`: as the recipe names it), named by its stem.

    The module is registered in sys.modules under a name made of its path and content, so that its class
    can be handed to the processes that run codemods and a file edited between two loads is loaded again.
    """
    where = f"codemod file {shown or str(path)!r}"
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise LoadError(f"{where}: cannot read it: {exc.strerror}") from None
    key = hashlib.sha256(str(path.resolve()).encode() + b"\0" + data).hexdigest()[:16]
    module_name = f"patcher_codemod_{key}_{path.stem}"
    module = sys.modules.get(module_name)
    if module is None:
        spec = importlib.util.spec_from_file_location(module_name, path)
        if spec is None or spec.loader is None:
            raise LoadError(f"{where}: cannot import it: Python finds no loader for it")
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        try:
            with contained():
                spec.loader.exec_module(module)
        except BaseException as exc:  # noqa: BLE001 - any failure of the file's own code, exits too, is one load error
            del sys.modules[module_name]
            raise LoadError(f"{where}: cannot import it: {_why(exc)}") from None
    return Codemod(path.stem, f"recipe file {shown or path}", codemod_class(module, where), path.resolve())


def installed() -> dict[str, Codemod]:
    """The codemods installed packages declare in the entry-point group `patcher.codemods`, not loaded yet.

    Each entry point is `NAME = "package.module"`, NAME being the module's last name. Two packages
    declaring one name is a LoadError naming both.
    """
    found: dict[str, Codemod] = {}
    for entry in _entry_points():
        dist = getattr(entry, "dist", None)
        origin = f"entry point {entry.name} = {entry.value}" + (f" ({dist.name} {dist.version})" if dist else "")
        problem = None
        try:
            module, attr = entry.module, entry.attr
        except (AttributeError, ValueError, AssertionError):  # not `package.module` (Python says how variously)
            problem = f"{origin}: the value is not a module name such as {entry.name} = \"package.{entry.name}\""
        else:
            if attr or module.rpartition(".")[2] != entry.name:
                problem = (f"{origin}: a codemod entry point names a module whose last name is the entry "
                           f"point's name, such as {entry.name} = \"package.{entry.name}\"")
        if entry.name in found:
            raise LoadError(f"codemod {entry.name!r} is defined twice: by {found[entry.name].origin} and by {origin}")
        found[entry.name] = Codemod(entry.name, origin, entry=entry, problem=problem)
    return found


def _entry_points() -> list[importlib.metadata.EntryPoint]:
    """The group's entry points, one distribution of a name (the first on the path) each. A distribution whose
    entry points cannot be read is skipped with one line on stderr naming it."""
    found: list[importlib.metadata.EntryPoint] = []
    seen: set[str] = set()
    for dist in importlib.metadata.distributions():
        name = (dist.metadata["Name"] or "").lower().replace("_", "-")
        if name in seen:
            continue
        seen.add(name)
        try:
            found.extend(dist.entry_points.select(group=GROUP))
        except Exception as exc:  # noqa: BLE001 - a damaged installation is one line, not every command broken
            print(f"patcher: warning: skipping the codemod entry points of {name or dist}: cannot read them "
                  f"({type(exc).__name__}: {_first_line(exc)})", file=sys.stderr)
    return found


def resolve(codemod: Codemod) -> Codemod:
    """`codemod` with its class: an entry point's module is imported now."""
    if codemod.cls is not None or codemod.entry is None:
        return codemod
    if codemod.problem:
        raise LoadError(codemod.problem)
    loaded = from_module(codemod.entry.module)
    return Codemod(codemod.name, codemod.origin, loaded.cls, loaded.file)


def catalog(modules: Sequence[str] = (), folder: Path | None = None) -> dict[str, Codemod]:
    """Every codemod a recipe can name: the shipped ones, the recipe's `modules` (importable module names,
    or `.py` files relative to `folder`) and the installed entry points (loaded when resolve() is called).
    A name defined twice is a LoadError naming both sources."""
    found = dict(SHIPPED)

    def add(codemod: Codemod) -> None:
        if codemod.name in found:
            raise LoadError(f"codemod {codemod.name!r} is defined twice: by {found[codemod.name].origin} "
                            f"and by {codemod.origin}")
        found[codemod.name] = codemod

    for item in modules:
        if item.endswith(".py"):
            add(from_file(Path(folder or ".") / item, item))
        else:
            add(from_module(item))
    for codemod in installed().values():
        add(codemod)
    return found


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [""])[0]


def _why(exc: BaseException) -> str:
    """`Type: first line` of an exception, or its type alone when it says nothing."""
    first = _first_line(exc)
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__

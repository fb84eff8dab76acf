"""Extra Python packages a recipe's upstream needs beyond patcher's own (the recipe's `packages`).

Each is pinned, `NAME==VERSION` (PyPI's name, as `pip install` takes it). verify and build check them in
the parent process, before TensorFlow starts in a child: the child runs on the same interpreter
(sys.executable), so what this process's distribution metadata says is what the child will import.
"""
from __future__ import annotations

import importlib.metadata
import re
import shlex
from collections.abc import Sequence

from patcher.errors import MissingPackage

PIN = re.compile(r"([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)==([0-9][A-Za-z0-9.+!-]*)")


def parse(raw: object) -> tuple[str, ...]:
    """The recipe's `packages` field; ValueError with one line when it is not a list of `NAME==VERSION`."""
    if not isinstance(raw, list):
        raise ValueError("field 'packages' must be a list of 'NAME==VERSION' strings")
    for item in raw:
        if not isinstance(item, str) or not PIN.fullmatch(item):
            raise ValueError(f"field 'packages' must be a list of 'NAME==VERSION' strings, not {item!r}")
    return tuple(raw)


def _same(installed: str, wanted: str) -> bool:
    try:
        from packaging.version import InvalidVersion, Version  # noqa: PLC0415 - optional: exact text otherwise
    except ImportError:
        return installed == wanted
    try:
        return Version(installed) == Version(wanted)
    except InvalidVersion:
        return installed == wanted


def missing(packages: Sequence[str]) -> str | None:
    """One line naming the packages of `packages` (each `NAME==VERSION`) that are not installed at their
    version, and the `pip install` that fixes it; None when all are."""
    wrong = []
    for item in packages:
        found = PIN.fullmatch(item)
        if found is None:
            raise ValueError(f"{item!r} is not 'NAME==VERSION'")
        name, version = found.groups()
        try:
            installed = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            wrong.append((item, "not installed"))
            continue
        if not _same(installed, version):
            wrong.append((item, f"{installed} is installed"))
    if not wrong:
        return None
    needs = ", ".join(f"{item} ({why})" for item, why in wrong)
    return f"the upstream needs {needs}; install it with: pip install {' '.join(shlex.quote(i) for i, _ in wrong)}"


def require(packages: Sequence[str]) -> None:
    """MissingPackage (exit 21) with missing()'s line when a package is not installed at its version."""
    line = missing(packages)
    if line:
        raise MissingPackage(line)

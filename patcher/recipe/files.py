"""Finding, reading and checking a recipe file: the shipped recipes, a path or a shipped name, TOML, and
its top-level tables (`[upstream]`, `[defaults]`, `[models.NAME]`, `[codemods]`, `[[step]]`), each
checked by its own module (fields.py for a model, steps.py for codemods and steps)."""
from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any, NoReturn

from patcher.errors import RecipeError
from patcher.recipe import fields, steps
from patcher.recipe.data import Recipe

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib  # type: ignore[import-not-found]

# In a wheel the recipes are package data (patcher/recipes); in the source tree they are in patches/.
_PACKAGE = Path(__file__).resolve().parent.parent
SHIPPED = _PACKAGE / "recipes" if (_PACKAGE / "recipes").is_dir() else _PACKAGE.parent / "patches"
COMMIT = re.compile(r"[0-9a-fA-F]{40}")
# model names go into branch names (patcher/RECIPE/MODEL) and folder names
MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
TABLES = {"upstream", "defaults", "models", "step", "codemods"}


def shipped() -> list[Path]:
    """The recipes that ship with patcher."""
    return sorted(SHIPPED.glob("*.toml"))


def default() -> Path:
    """The recipe used without --recipe: the first that ships with patcher (today there is one)."""
    found = shipped()
    if not found:
        raise RecipeError(f"no recipe ships in {SHIPPED}; pass --recipe PATH")
    return found[0]


def find(name: str | Path) -> Path:
    """A recipe path: an existing file, or the name of a shipped recipe (with or without .toml)."""
    path = Path(name)
    if path.is_file():
        return path
    for candidate in (SHIPPED / path.name, SHIPPED / f"{path.name}.toml"):
        if candidate.is_file() and path.parent == Path("."):
            return candidate
    return path


def load(path: Path | str | None = None) -> Recipe:
    """The recipe at `path` (a file or a shipped recipe's name; None: the default), checked; RecipeError
    (13) naming the file, the table and the field of the first fault."""
    path = find(path) if path else default()
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise RecipeError(f"cannot read recipe {path}: {exc.strerror if isinstance(exc, OSError) else exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise RecipeError(f"{path}: not TOML: {exc}") from None
    return parse(data, Path(path))


def parse(data: dict[str, Any], path: Path) -> Recipe:
    """The Recipe of a recipe file's TOML `data` (`path` names it in errors and locates its files)."""
    def fail(where: str, what: str) -> NoReturn:
        raise RecipeError(f"{path}: {where}: {what}")

    unknown = set(data) - TABLES
    if unknown:
        fail("top level", f"unknown table {sorted(unknown)[0]!r}")
    upstream = data.get("upstream")
    if not isinstance(upstream, dict) or not all(isinstance(upstream.get(k), str) for k in ("url", "commit")):
        fail("[upstream]", "needs url and commit (strings)")
    if not COMMIT.fullmatch(upstream["commit"]):
        fail("[upstream]", f"commit must be the full SHA, 40 hex digits, not {upstream['commit']!r}")
    models_raw = data.get("models")
    if not isinstance(models_raw, dict) or not models_raw:
        fail("[models]", "no model")
    for name in models_raw:
        if not MODEL_NAME.fullmatch(name):
            fail(f"model {name!r}", "a model's name is letters, digits, '_' and '-' (it names a branch and a folder)")
    folder = Path(path).parent
    defaults = data.get("defaults", {})
    models = {name: fields.model(name, _merge(defaults, raw), folder, fail) for name, raw in models_raw.items()}
    known = steps.catalog(data.get("codemods", {}), folder, fail)
    steps_raw = data.get("step")
    if not isinstance(steps_raw, list) or not steps_raw:
        fail("[[step]]", "no step")
    made = tuple(steps.step(i + 1, raw, models, known, fail) for i, raw in enumerate(steps_raw))
    return Recipe(upstream["url"], upstream["commit"].lower(), models, made, Path(path))


def _merge(defaults: object, raw: object) -> dict[str, Any]:
    """A model's table over `[defaults]`: a table field merges with the default's, any other replaces it."""
    merged = dict(defaults) if isinstance(defaults, dict) else {}
    for key, value in (raw if isinstance(raw, dict) else {}).items():
        merged[key] = {**merged[key], **value} if isinstance(value, dict) and isinstance(merged.get(key), dict) else value
    return merged

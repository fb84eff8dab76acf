"""A model table's fields for output kinds, freezing without a freeze script and extra packages.

Their schema, defaults and messages are in patcher/kinds/__init__.py's docstring; the parsers are the
engine's own (kinds.parse_outputs, freeze.parse_restore and parse_graph, packages.parse), so a recipe
says nothing the stages would read differently. Each failure is one RecipeError line through `Place`.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from patcher import packages as extra
from patcher.kinds import Output, parse_outputs

if TYPE_CHECKING:
    from patcher.recipe.fields import Place

FREEZING = ("freeze_script", "freeze_args", "convert")
# fields a labels output reads from the model table
LABELS_FIELDS = ("classes", "palette")


def outputs(raw_outputs: dict[str, Any], raw: dict[str, Any], at: Place) -> tuple[Output, ...]:
    """The model's outputs (today's `{labels, probabilities}` form is one labels output)."""
    try:
        found = parse_outputs(raw_outputs, raw)
    except ValueError as exc:
        at.fail(str(exc))
    return found


def requirements(raw: dict[str, Any], at: Place) -> None:
    """The fields that are required only together with others: a labels output's classes and palette;
    the freeze script's three fields unless `restore` is given (then all three or none)."""
    declared = raw.get("outputs")
    entries = declared.values() if isinstance(declared, dict) else []
    legacy = isinstance(declared, dict) and all(isinstance(v, str) for v in entries)
    if legacy or any(isinstance(e, dict) and e.get("kind") == "labels" for e in entries):
        for key in LABELS_FIELDS:
            if key not in raw:
                at.fail(f"missing field {key!r}")
    given = [key for key in FREEZING if key in raw]
    if "restore" not in raw or given:
        for key in FREEZING:
            if key not in raw:
                at.fail(f"missing field {key!r}" if given or "restore" in raw else
                        f"missing field {key!r} (a model needs either 'freeze_script' (with 'freeze_args' and "
                        f"'convert') or 'restore')")


def restore(value: dict[str, Any], raw: dict[str, Any], at: Place) -> dict[str, Any]:
    from patcher.freeze import parse_restore  # noqa: PLC0415 - the freezing child's module, only for these fields

    try:
        return parse_restore(value)
    except ValueError as exc:
        at.fail(str(exc))


def graph_path(value: str, raw: dict[str, Any], at: Place) -> str:
    from patcher.freeze import parse_graph  # noqa: PLC0415 - as above

    try:
        return str(parse_graph({"graph_path": value})["graph_path"])
    except ValueError as exc:
        at.fail(str(exc))


def graph_imports(value: list[Any], raw: dict[str, Any], at: Place) -> tuple[str, ...]:
    from patcher.freeze import parse_graph  # noqa: PLC0415 - as above

    try:
        return tuple(parse_graph({"graph_imports": value})["graph_imports"])
    except ValueError as exc:
        at.fail(str(exc))


def packages(value: list[Any], raw: dict[str, Any], at: Place) -> tuple[str, ...]:
    try:
        return extra.parse(value)
    except ValueError as exc:
        at.fail(str(exc))

"""A codemod's parameters in a recipe, checked against its `__init__`: every required one given, none
it does not take, each value of the type its annotation names.

Annotations are evaluated (not matched as text) and checked structurally: str, int (not bool), float
(an int too), bool, a list, sequence or tuple of one of those, dict, a union of any of these, and Any.
A parameter without an annotation, or with one outside that set, is refused when the recipe loads:
a value could not be checked before the codemod runs.
"""
from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

SCALARS: dict[Any, Callable[[object], bool]] = {
    str: lambda v: isinstance(v, str),
    int: lambda v: isinstance(v, int) and not isinstance(v, bool),
    float: lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    bool: lambda v: isinstance(v, bool),
    Any: lambda v: True,
}
LISTS = {list, tuple, Sequence, typing.Sequence, typing.List, typing.Tuple}  # noqa: UP006 - the old spellings too
KNOWN = "str, int, float, bool, Any, dict, a list, sequence or tuple of them, or a union of these"


def checker(annotation: Any) -> Callable[[object], bool] | None:
    """A test of whether a TOML value fits `annotation`, or None when patcher cannot check it."""
    if annotation in SCALARS:
        return SCALARS[annotation]
    if annotation in (dict, typing.Dict):  # noqa: UP006 - the old spelling too
        return lambda v: isinstance(v, dict)
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        parts = [checker(a) for a in args if a is not type(None)]
        if not parts or None in parts:
            return None
        return lambda v: any(part(v) for part in parts if part is not None)
    if origin is dict:
        return lambda v: isinstance(v, dict)
    if annotation in LISTS or origin in LISTS:
        items = [a for a in args if a is not Ellipsis] or [Any]
        if origin is tuple and Ellipsis not in args and args:  # a fixed-length tuple: not a TOML list's shape
            return None
        item = checker(items[0]) if len(items) == 1 else None
        if item is None:
            return None
        return lambda v: isinstance(v, list) and all(item(x) for x in v)
    return None


def check(codemod: type[Any], params: dict[str, Any], fail: Callable[[str], NoReturn]) -> None:
    """Every parameter the codemod requires, none it does not know, each of the annotated type."""
    try:
        signature = inspect.signature(codemod.__init__, eval_str=True)
        written = inspect.signature(codemod.__init__).parameters  # as the source spells them, for messages
    except Exception as exc:  # noqa: BLE001 - any annotation the codemod's module cannot evaluate
        fail(f"the codemod's parameters cannot be read: {type(exc).__name__}: {exc}")
    accepted = {n: p for n, p in list(signature.parameters.items())[2:]
                if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    for name in params:
        if name not in accepted:
            fail(f"unknown parameter {name!r} (the codemod takes {', '.join(accepted) or 'none'})")
    for name, parameter in accepted.items():
        if parameter.default is parameter.empty and name not in params:
            fail(f"missing parameter {name!r}")
        text = written[name].annotation
        shown = text if isinstance(text, str) else inspect.formatannotation(text)
        fits = checker(parameter.annotation) if parameter.annotation is not parameter.empty else None
        if fits is None:
            fail(f"parameter {name!r} is annotated {'nothing' if parameter.annotation is parameter.empty else shown}"
                 f", which patcher cannot check ({KNOWN})")
        if name in params and not fits(params[name]):
            fail(f"parameter {name!r} must be {shown}, not {params[name]!r}")

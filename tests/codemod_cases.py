"""What the per-codemod tests in tests/codemods/ share: run a codemod on a snippet and check the result."""
from __future__ import annotations

import inspect
import textwrap

import pytest

from patcher.codemods import CODEMODS
from patcher.recipe import Step
from patcher.runner import transform, unsited


def run(codemod: str, source: str, /, **params) -> tuple[str, list]:
    """The codemod's output for `source` (dedented) as file m.py, and the sites it reports."""
    return transform(Step(codemod, ("m.py",), 1, params), "m.py", textwrap.dedent(source))


def assert_fix(codemod: str, params: dict, before: str, after: str, sites: list[tuple[int, int]]) -> None:
    """The codemod turns `before` into `after` (both dedented), reporting a site at each (line, column) of
    `sites` (1-based, in `before`), each at the node it changes: every changed line is at a site (the
    runner's own check)."""
    code, found = run(codemod, before, **params)
    assert code == textwrap.dedent(after)
    assert [(s.line, s.column) for s in found] == sites, [str(s) for s in found]
    assert all(s.path == "m.py" and s.reason for s in found)
    step = Step(codemod, ("m.py",), len(sites), params)
    assert unsited(step, "m.py", textwrap.dedent(before), code, found) is None


def assert_noop(codemod: str, params: dict, source: str) -> None:
    code, found = run(codemod, source, **params)
    assert code == textwrap.dedent(source)
    assert found == []


def assert_idempotent(codemod: str, params: dict, before: str) -> None:
    """Run on its own output, the codemod changes nothing and finds no site."""
    code, found = run(codemod, before, **params)
    assert found, "the case must be one the codemod fixes"
    again, more = run(codemod, code, **params)
    assert (again, more) == (code, [])


def required(codemod: str) -> list[str]:
    """The codemod's parameters: all keyword-only, none with a default."""
    parameters = list(inspect.signature(CODEMODS[codemod].__init__).parameters.values())[2:]
    assert all(p.kind is p.KEYWORD_ONLY and p.default is p.empty for p in parameters), parameters
    return [p.name for p in parameters]


def assert_missing_raises(codemod: str, params: dict, missing: str) -> None:
    """Without `missing`, building the codemod is a TypeError naming it."""
    given = {k: v for k, v in params.items() if k != missing}
    with pytest.raises(TypeError, match=f"'{missing}'"):
        run(codemod, "x = 1\n", **given)


def assert_unknown_raises(codemod: str, params: dict) -> None:
    """A parameter the codemod does not take is a TypeError naming it."""
    with pytest.raises(TypeError, match="'unknown'"):
        run(codemod, "x = 1\n", **params, unknown="x")

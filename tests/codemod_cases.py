"""The codemod tests' one base class, CodemodTest, in the manner of LibCST's: each file of tests/codemods/
lists one codemod's cases in tables and a subclass names them; the checks are written once, here."""
from __future__ import annotations

import inspect
import textwrap
from typing import Any, ClassVar

import pytest

from patcher.codemods import CODEMODS
from patcher.recipe import Step
from patcher.runner import transform, unsited


def run(codemod: str, source: str, /, **params: Any) -> tuple[str, list]:
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
    """The codemod leaves `source` (dedented) as it is and reports no site."""
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


def _with_params(cases: list[Any], params: dict) -> list[Any]:
    """The cases, each with its parameters first: its own where it starts with a dict, else `params`."""
    return [case if isinstance(case.values[0], dict) else pytest.param(params, *case.values, id=case.id, marks=case.marks)
            for case in cases]


class CodemodTest:
    """One codemod's tests from its tables. A subclass sets CODEMOD (its registry name), PARAMS (working values
    of all its parameters; none by default), NOOP (pytest.param(source): code it must leave alone, no site) and
    FIX (pytest.param(before, after, sites): what it must make of `before`, reporting a site at each (line,
    column)). A case that starts with a dict runs with those parameters instead of PARAMS."""

    CODEMOD: ClassVar[str]
    PARAMS: ClassVar[dict] = {}
    NOOP: ClassVar[list[Any]]
    FIX: ClassVar[list[Any]]

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        if "source" in metafunc.fixturenames:
            metafunc.parametrize(("params", "source"), _with_params(self.NOOP, self.PARAMS))
        elif "before" in metafunc.fixturenames:
            metafunc.parametrize(("params", "before", "after", "sites"), _with_params(self.FIX, self.PARAMS))

    def test_noop(self, params: dict, source: str) -> None:
        assert_noop(self.CODEMOD, params, source)

    def test_fix(self, params: dict, before: str, after: str, sites: list[tuple[int, int]]) -> None:
        assert_fix(self.CODEMOD, params, before, after, sites)

    def test_idempotent(self, params: dict, before: str, after: str, sites: list[tuple[int, int]]) -> None:
        assert_idempotent(self.CODEMOD, params, before)

    def test_parameters_are_required_keywords(self) -> None:
        assert required(self.CODEMOD) == list(self.PARAMS)

    def test_a_missing_or_unknown_parameter_is_a_type_error(self) -> None:
        for missing in self.PARAMS:
            assert_missing_raises(self.CODEMOD, self.PARAMS, missing)
        assert_unknown_raises(self.CODEMOD, self.PARAMS)

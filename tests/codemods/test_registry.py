"""Every codemod the recipe can name has its own test file here, a one-line docstring and a DESCRIPTION."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from patcher.codemods import CODEMODS

HERE = Path(__file__).resolve().parent


def test_every_test_file_is_a_codemod():
    files = {p.stem.removeprefix("test_") for p in HERE.glob("test_*.py")} - {"registry"}
    assert files == set(CODEMODS)


@pytest.mark.parametrize("name", sorted(CODEMODS))
def test_codemod_has_cases_docstring_and_description(name):
    spec = importlib.util.spec_from_file_location(f"cases_of_{name}", HERE / f"test_{name}.py")
    cases = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cases)
    assert cases.CODEMOD == name and cases.FIX and cases.NOOP
    codemod = CODEMODS[name]
    assert codemod.__module__ == f"patcher.codemods.{name}"
    doc = sys.modules[codemod.__module__].__doc__
    assert doc and "\n" not in doc.strip()
    assert codemod.DESCRIPTION and "\n" not in codemod.DESCRIPTION and len(codemod.DESCRIPTION) < 120

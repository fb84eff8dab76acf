"""docs/codemods.md as it is written: its codemod and test files, its recipe lines and its commands, on
the example upstream (patcher example); the codemod it writes is the one the example ships."""
from __future__ import annotations

import re

import pytest

from docs_blocks import blocks, run_shell
from kit import needs_tf
from patcher import examples

PAGE = "codemods.md"


def files() -> dict[str, str]:
    return {note.removeprefix("file: "): text for _, note, text in blocks(PAGE) if note.startswith("file: ")}


def test_the_guide_writes_the_codemod_the_example_ships():
    assert files()["contrib_initializer.py"] == examples.CODEMOD.read_text(encoding="utf-8")


def test_the_guides_recipe_lines_are_the_examples():
    block = next(text for _, note, text in blocks(PAGE) if note == "recipe lines")
    codemods, step = block.strip().split("\n\n")
    recipe = examples.RECIPE.read_text(encoding="utf-8")
    assert codemods + "\n" in recipe and step + "\n" in recipe
    assert recipe.index(step) < recipe.index('codemod = "tf_compat_v1"')


@pytest.fixture(scope="module")
def followed(tmp_path_factory):
    """A folder where the guide's files were written and its shell blocks run, in order."""
    root = tmp_path_factory.mktemp("guide")
    (root / "mine").mkdir()
    for name, text in files().items():
        (root / "mine" / name).write_text(text, encoding="utf-8")
    outputs = []
    for lang, _, text in blocks(PAGE):
        if lang == "sh":
            proc = run_shell(text, root)
            assert proc.returncode == 0, f"{text}\n{proc.stdout}\n{proc.stderr}"
            outputs.append(proc.stdout)
    return root, outputs


def test_the_guides_tests_pass(followed):
    _, (pytest_out, _) = followed
    # the summary line: exactly 7 passed ("17 passed" is not), nothing failed, skipped or in error
    assert re.search(r"^=* ?7 passed in [\d.]+s( \(.*\))? ?=*$", pytest_out, re.MULTILINE), pytest_out


def test_list_shows_what_the_guide_says(followed):
    _, (_, commands_out) = followed
    quoted = next(text for lang, _, text in blocks(PAGE) if lang == "" and text.startswith("contrib_initializer:"))
    assert quoted in commands_out


@pytest.mark.tf
@needs_tf
def test_without_the_codemod_verify_stops_where_the_guide_says_and_with_it_verifies(followed):
    root, _ = followed
    recipe = (root / "mine" / "tiny.toml").read_text()
    step = "\n".join(text for _, note, text in blocks(PAGE) if note == "recipe lines").split("[[step]]")[1]
    assert "[[step]]" + step in recipe
    (root / "mine" / "without.toml").write_text(recipe.replace("[[step]]" + step, ""))
    quoted = next(text for lang, _, text in blocks(PAGE) if lang == "" and text.startswith("patcher: error: build"))
    proc = run_shell("patcher apply --recipe mine/without.toml --dest mine/checkout\n"
                     "patcher verify --recipe mine/without.toml --dest mine/checkout --sizes 64x64", root)
    assert proc.returncode == 8 and proc.stderr.endswith(quoted), proc.stderr
    proc = run_shell("patcher apply --recipe mine/tiny.toml --dest mine/checkout\n"
                     "patcher verify --recipe mine/tiny.toml --dest mine/checkout --sizes 64x64", root)
    assert proc.returncode == 0 and "verified: tiny graph" in proc.stdout, proc.stderr

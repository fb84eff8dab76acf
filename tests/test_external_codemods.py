"""Codemods from outside patcher: a recipe's [codemods] modules (files next to it, importable modules) and
installed packages' entry points (group patcher.codemods). Same load-time checks as the shipped ones; a
name defined twice is exit 13 naming both sources; `list` says where each came from."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

import synthetic_tiny
from kit import RENAME, dist_info, one_error, recipe_with
from patcher.cli import main

@pytest.fixture(scope="module")
def tiny_upstream(tmp_path_factory):
    return synthetic_tiny.make_upstream(tmp_path_factory.mktemp("tiny") / "repo")


def apply_list(recipe: Path, upstream, dest: Path, capsys) -> tuple[int, str, str]:
    path, commits = upstream
    code = main(["apply", "--recipe", str(recipe), "--upstream", str(path), "--dest", str(dest)])
    if code == 0:
        capsys.readouterr()
        code = main(["list", "--recipe", str(recipe), "--dest", str(dest)])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_a_codemod_file_next_to_the_recipe_runs_and_list_names_its_origin(tmp_path, tiny_upstream, capsys):
    (tmp_path / "fixes").mkdir()
    (tmp_path / "fixes" / "rename_string.py").write_text(RENAME)
    recipe = recipe_with(tmp_path, ["fixes/rename_string.py"])
    code, out, err = apply_list(recipe, tiny_upstream, tmp_path / "checkout", capsys)
    assert code == 0, err
    assert "rename_string: Rename a string literal. (from recipe file fixes/rename_string.py)" in out
    assert "  netlib/tinynet.py:17:83: 'up' -> 'upsampled'" in out
    assert "open_placeholder: Open the input placeholder's height and width to None so any image size fits. " \
           "(from patcher)" in out
    assert "name='upsampled'" in (tmp_path / "checkout" / "netlib/tinynet.py").read_text()


def test_an_importable_module_is_named_by_its_last_name(tmp_path, tiny_upstream, capsys, monkeypatch):
    package = tmp_path / "site" / "myfixes"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "rename_string.py").write_text(RENAME)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    recipe = recipe_with(tmp_path / "r", ["myfixes.rename_string"])
    code, out, err = apply_list(recipe, tiny_upstream, tmp_path / "checkout", capsys)
    assert code == 0, err
    assert "rename_string: Rename a string literal. (from module myfixes.rename_string)" in out


def test_an_entry_point_provides_a_codemod_to_every_recipe(tmp_path, tiny_upstream, capsys, monkeypatch):
    site = tmp_path / "site"
    dist_info(site, "tf1-fixes", {"rename_string": "tf1_fixes.rename_string"}, {"tf1_fixes.rename_string": RENAME})
    monkeypatch.syspath_prepend(str(site))
    recipe = recipe_with(tmp_path / "r", [])
    code, out, err = apply_list(recipe, tiny_upstream, tmp_path / "checkout", capsys)
    assert code == 0, err
    assert ("rename_string: Rename a string literal. (from entry point rename_string = tf1_fixes.rename_string "
            "(tf1-fixes 0.1))") in out


def test_an_entry_point_is_imported_only_when_a_recipe_names_it(tmp_path, capsys, monkeypatch):
    site = tmp_path / "site"
    dist_info(site, "broken-fixes", {"broken": "broken_fixes.broken"}, {"broken_fixes.broken": "raise ImportError('no')\n"})
    monkeypatch.syspath_prepend(str(site))
    recipe = recipe_with(tmp_path / "r", [], name="contrib_initializer")
    recipe.write_text(recipe.read_text().replace('params = { old = "up", new = "upsampled" }',
                                                 'params = { scope = "" }'))
    assert main(["list", "--recipe", str(recipe), "--dest", str(tmp_path / "none")]) == 12, capsys.readouterr().err
    recipe.write_text(recipe.read_text().replace('codemod = "contrib_initializer"\nfiles = ["netlib/tinynet.py"]\n'
                                                 'sites = 1\nparams = { scope = "" }', 'codemod = "broken"\n'
                                                 'files = ["netlib/tinynet.py"]\nsites = 1'))
    assert main(["list", "--recipe", str(recipe), "--dest", str(tmp_path / "none")]) == 13
    err = capsys.readouterr().err
    assert re.search(r"step 7 \(broken\): codemod module 'broken_fixes.broken': cannot import it: ImportError: no$",
                     err.strip()), err


@pytest.mark.parametrize(("setup", "message"), [
    pytest.param("shipped", r"\[codemods\]: codemod 'disable_v2' is defined twice: by patcher and by recipe file "
                            r"disable_v2.py", id="shipped-and-file"),
    pytest.param("file-and-entry", r"\[codemods\]: codemod 'rename_string' is defined twice: by recipe file "
                                   r"rename_string.py and by entry point rename_string = tf1_fixes.rename_string "
                                   r"\(tf1-fixes 0.1\)", id="file-and-entry-point"),
    pytest.param("two-entries", r"\[codemods\]: codemod 'rename_string' is defined twice: by entry point "
                                r"rename_string = \w+.rename_string \(\S+ 0.1\) and by entry point rename_string = "
                                r"\w+.rename_string \(\S+ 0.1\)", id="two-packages"),
    pytest.param("two-files", r"\[codemods\]: codemod 'rename_string' is defined twice: by recipe file "
                              r"rename_string.py and by recipe file other/rename_string.py", id="two-files"),
])
def test_a_name_defined_twice_is_exit_13_naming_both(setup, message, tmp_path, capsys, monkeypatch):
    folder = tmp_path / "r"
    folder.mkdir()
    site = tmp_path / "site"
    modules = []
    if setup == "shipped":
        (folder / "disable_v2.py").write_text(RENAME)
        modules = ["disable_v2.py"]
    if setup in ("file-and-entry", "two-files"):
        (folder / "rename_string.py").write_text(RENAME)
        modules = ["rename_string.py"]
    if setup == "two-files":
        (folder / "other").mkdir()
        (folder / "other" / "rename_string.py").write_text(RENAME)
        modules.append("other/rename_string.py")
    if setup in ("file-and-entry", "two-entries"):
        dist_info(site, "tf1-fixes", {"rename_string": "tf1_fixes.rename_string"}, {"tf1_fixes.rename_string": RENAME})
    if setup == "two-entries":
        dist_info(site, "more-fixes", {"rename_string": "more_fixes.rename_string"}, {"more_fixes.rename_string": RENAME})
    monkeypatch.syspath_prepend(str(site))
    recipe = recipe_with(folder, modules)
    line = one_error(capsys, main(["list", "--recipe", str(recipe), "--dest", str(tmp_path / "none")]), 13)
    assert line.startswith(f"patcher: error: {recipe}: ") and re.search(message, line), line


@pytest.mark.parametrize(("code", "params", "message"), [
    pytest.param(RENAME, '{ old = "up" }', r"step 7 \(rename_string\): missing parameter 'new'", id="missing-param"),
    pytest.param(RENAME, '{ old = "up", new = "x", nwe = "y" }', r"step 7 \(rename_string\): unknown parameter 'nwe'",
                 id="unknown-param"),
    pytest.param(RENAME, '{ old = "up", new = 3 }', r"step 7 \(rename_string\): parameter 'new' must be str",
                 id="wrong-type"),
    pytest.param(RENAME.replace("new: str", "new: list[str]"), '{ old = "up", new = ["x", 3] }',
                 r"step 7 \(rename_string\): parameter 'new' must be list\[str\], not \['x', 3\]", id="wrong-item-type"),
    pytest.param(RENAME.replace("new: str", "new: int | None"), '{ old = "up", new = true }',
                 r"parameter 'new' must be int \| None, not True", id="a-bool-is-not-an-int"),
    pytest.param(RENAME.replace("new: str", "new"), '{ old = "up", new = "x" }',
                 r"step 7 \(rename_string\): parameter 'new' is annotated nothing, which patcher cannot check",
                 id="unannotated-param"),
    pytest.param(RENAME.replace("new: str", "new: set[str]"), '{ old = "up", new = ["x"] }',
                 r"step 7 \(rename_string\): parameter 'new' is annotated set\[str\], which patcher cannot check",
                 id="unknown-annotation"),
    pytest.param(RENAME.replace("new: str", "new: Missing"), '{ old = "up", new = "x" }',
                 r"step 7 \(rename_string\): the codemod's parameters cannot be read: NameError",
                 id="annotation-that-does-not-evaluate"),
    pytest.param(RENAME.replace("class RenameString(SiteCodemod)", "class RenameString(object)"),
                 '{ old = "up", new = "x" }', r"\[codemods\]: codemod file 'rename_string.py': a codemod module "
                 r"defines exactly one subclass of patcher.codemods.base.SiteCodemod \(found: none\)", id="no-codemod"),
    pytest.param(RENAME + "\n\nclass Another(RenameString):\n    pass\n", '{ old = "up", new = "x" }',
                 r"found: Another, RenameString\)", id="two-codemods"),
    pytest.param(RENAME.replace('DESCRIPTION = "Rename a string literal."', 'DESCRIPTION = ""'),
                 '{ old = "up", new = "x" }', r"RenameString.DESCRIPTION must be a one-line string", id="no-description"),
    pytest.param("import no_such_module_anywhere\n", '{ old = "up", new = "x" }',
                 r"\[codemods\]: codemod file 'rename_string.py': cannot import it: ModuleNotFoundError", id="import-fails"),
])
def test_an_external_codemod_gets_the_load_time_checks(code, params, message, tmp_path, capsys):
    folder = tmp_path / "r"
    folder.mkdir()
    (folder / "rename_string.py").write_text(code)
    recipe = recipe_with(folder, ["rename_string.py"])
    recipe.write_text(recipe.read_text().replace('params = { old = "up", new = "upsampled" }', f"params = {params}"))
    line = one_error(capsys, main(["list", "--recipe", str(recipe), "--dest", str(tmp_path / "none")]), 13)
    assert re.search(message, line), line


def test_an_external_codemods_site_count_is_checked(tmp_path, tiny_upstream, capsys):
    (tmp_path / "rename_string.py").write_text(RENAME)
    recipe = recipe_with(tmp_path, ["rename_string.py"], sites=2)
    code, _, err = apply_list(recipe, tiny_upstream, tmp_path / "checkout", capsys)
    assert code == 5 and "rename_string: netlib/tinynet.py: expected 2 site(s), found 1" in err


def test_an_entry_point_that_is_not_a_module_of_its_name_is_refused(tmp_path, capsys, monkeypatch):
    site = tmp_path / "site"
    dist_info(site, "odd-fixes", {"rename_string": "odd_fixes.other:RenameString"}, {"odd_fixes.other": RENAME})
    monkeypatch.syspath_prepend(str(site))
    recipe = recipe_with(tmp_path / "r", [])
    line = one_error(capsys, main(["list", "--recipe", str(recipe), "--dest", str(tmp_path / "none")]), 13)
    assert "names a module whose last name is the entry point's name" in line


def test_editing_an_external_codemod_runs_the_codemods_again(tmp_path, tiny_upstream, capsys):
    (tmp_path / "rename_string.py").write_text(RENAME)
    recipe = recipe_with(tmp_path, ["rename_string.py"])
    path, _ = tiny_upstream
    args = ["apply", "--recipe", str(recipe), "--upstream", str(path), "--dest", str(tmp_path / "checkout")]
    assert main(args) == 0
    capsys.readouterr()
    assert main(args) == 0
    assert "already applied" in capsys.readouterr().out
    (tmp_path / "rename_string.py").write_text(RENAME.replace('f"{self.old!r} -> {self.new!r}"',
                                                              'f"renamed {self.old!r} -> {self.new!r}"'))
    assert main(args) == 0
    captured = capsys.readouterr()
    assert "running 7 codemods" in captured.err and "renamed 'up' -> 'upsampled'" in captured.out

"""A recipe's codemod module cannot fake success: whatever it raises or exits with, on import or while it
runs (in this process or in the pool's), is one exit-13 line naming the module and the codemod; what it
prints does not reach stdout; its file stays inside the recipe's folder; a broken entry point fails only the
recipes that name it (patcher/sandbox.py, docs/reliability.md)."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import synthetic_tiny
from kit import RENAME, dist_info, one_error, recipe_with
from patcher.cli import main

PROJECT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def tiny_upstream(tmp_path_factory):
    return synthetic_tiny.make_upstream(tmp_path_factory.mktemp("tiny") / "repo")


def one_line(err: str, code: int) -> str:
    return one_error(err, code, 13)


def with_module(folder: Path, on_import: str = "", on_run: str = "") -> Path:
    """The example recipe with a step of `rename_string`, whose file runs `on_import` when imported and
    `on_run` when it meets its string."""
    code = RENAME.replace("from patcher.codemods.base import SiteCodemod\n",
                          f"from patcher.codemods.base import SiteCodemod\nimport os, signal, sys\n{on_import}\n")
    code = code.replace("        self.record(original,", f"        {on_run or 'pass'}\n        self.record(original,")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "rename_string.py").write_text(code)
    return recipe_with(folder, ["rename_string.py"])


IMPORT_FAULTS = {
    "exit-0": ("sys.exit(0)", "cannot import it: SystemExit: 0"),
    "exit-3": ("sys.exit(3)", "cannot import it: SystemExit: 3"),
    "exit-message": ("raise SystemExit('bye')", "cannot import it: SystemExit: bye"),
    "keyboard-interrupt": ("raise KeyboardInterrupt", "cannot import it: KeyboardInterrupt"),
    "value-error": ("raise ValueError('no good')", "cannot import it: ValueError: no good"),
    "os-exit": ("os._exit(0)", "cannot import it: SystemExit: os._exit(0)"),
    "posix-exit": ("import posix; posix._exit(0)", "cannot import it: SystemExit: os._exit(0)"),
    "generator-exit": ("raise GeneratorExit", "cannot import it: GeneratorExit"),
}


@pytest.mark.parametrize("command", ["list", "apply", "diff", "verify", "build", "check"])
@pytest.mark.parametrize("fault", IMPORT_FAULTS)
def test_a_module_that_exits_or_raises_on_import_is_one_line(fault, command, tmp_path, capsys):
    on_import, message = IMPORT_FAULTS[fault]
    recipe = with_module(tmp_path / "r", on_import=on_import)
    argv = {"list": [], "apply": ["--upstream", "/nowhere"], "diff": [], "verify": [],
            "build": ["--out", str(tmp_path / "out"), "--random-weights"], "check": None}[command]
    argv = ["--model-dir", str(tmp_path / "out")] if argv is None else ["--dest", str(tmp_path / "d"), *argv]
    capsys.readouterr()
    code = main([command, "--recipe", str(recipe), *argv])
    line = one_line(capsys.readouterr().err, code)
    assert "codemod file 'rename_string.py'" in line and line.endswith(message), line
    assert not (tmp_path / "d").exists() and not (tmp_path / "out").exists()


RUN_FAULTS = {
    "exit-0": ("sys.exit(0)", "called sys.exit(0); a codemod must not end the run"),
    "exit-3": ("sys.exit(3)", "called sys.exit(3); a codemod must not end the run"),
    "keyboard-interrupt": ("raise KeyboardInterrupt", "raised KeyboardInterrupt"),
    "value-error": ("raise ValueError('no good')", "raised ValueError: no good"),
    "os-exit": ("os._exit(0)", "called os._exit(0); a codemod must not end the run"),
    # posix._exit is os._exit under another name: before, in patcher's own process it ended the run with 0
    "posix-exit": ("import posix; posix._exit(0)", "called os._exit(0); a codemod must not end the run"),
    # a BaseException that is neither SystemExit nor KeyboardInterrupt: before, a traceback and exit 1
    "generator-exit": ("raise GeneratorExit", "raised GeneratorExit"),
}


@pytest.mark.parametrize("jobs", ["1", "2"])
@pytest.mark.parametrize("fault", RUN_FAULTS)
def test_a_codemod_that_exits_or_raises_while_it_runs_is_one_line(fault, jobs, tmp_path, tiny_upstream, capsys,
                                                                  monkeypatch):
    monkeypatch.setenv("PATCHER_JOBS", jobs)
    on_run, message = RUN_FAULTS[fault]
    recipe = with_module(tmp_path / "r", on_run=on_run)
    capsys.readouterr()
    code = main(["apply", "--recipe", str(recipe), "--upstream", str(tiny_upstream[0]), "--dest", str(tmp_path / "d")])
    line = one_line(capsys.readouterr().err, code)
    assert line.startswith("patcher: error: codemod rename_string (from recipe file rename_string.py) on "
                           "netlib/tinynet.py: "), line
    assert line.endswith(message), line
    dest = tmp_path / "d"
    if dest.exists():  # the clone stays at the pin, clean: nothing half-patched
        head = subprocess.run(["git", "-C", str(dest), "rev-parse", "HEAD"], capture_output=True, text=True).stdout
        status = subprocess.run(["git", "-C", str(dest), "status", "--porcelain"], capture_output=True, text=True)
        assert head.strip() == tiny_upstream[1][0] and status.stdout == ""


@pytest.mark.parametrize("how", ["sigkill", "libc-exit"])
def test_a_pool_process_killed_by_a_codemod_is_one_line(how, tmp_path, tiny_upstream):
    """A pool process that dies (BrokenProcessPool) names the codemods it was running; in a subprocess, as a
    user runs it."""
    on_import, on_run = {"sigkill": ("", "os.kill(os.getpid(), signal.SIGKILL)"),
                         "libc-exit": ("import ctypes; leave = ctypes.CDLL(None)._exit", "leave(0)")}[how]
    recipe = with_module(tmp_path / "r", on_import=on_import, on_run=on_run)
    env = {**os.environ, "PATCHER_JOBS": "2", "PYTHONPATH": str(PROJECT)}
    proc = subprocess.run([sys.executable, "-m", "patcher", "apply", "--recipe", str(recipe), "--upstream",
                           str(tiny_upstream[0]), "--dest", str(tmp_path / "d")], env=env, capture_output=True,
                          text=True, timeout=300)
    line = one_line(proc.stderr, proc.returncode)
    assert "a process running codemods ended without a result" in line
    assert "rename_string (from recipe file rename_string.py) on netlib/tinynet.py" in line, line


@pytest.mark.parametrize("handler", ["os._exit", "sys.exit"])
def test_an_exit_handler_a_module_registers_cannot_change_the_outcome(handler, tmp_path):
    """`atexit.register(os._exit, 0)` on import, then a fault: before, a traceback after patcher's line (the
    handler was the sandbox's os._exit, raising at interpreter exit). In a subprocess: atexit runs at exit."""
    recipe = with_module(tmp_path / "r", on_import=f"import atexit; atexit.register({handler}, 0)\nraise ValueError('x')")
    env = {**os.environ, "PYTHONPATH": str(PROJECT)}
    proc = subprocess.run([sys.executable, "-m", "patcher", "list", "--recipe", str(recipe), "--dest",
                           str(tmp_path / "d")], env=env, capture_output=True, text=True, timeout=300)
    line = one_line(proc.stderr, proc.returncode)
    assert line.endswith("cannot import it: ValueError: x"), line


def test_what_a_module_prints_does_not_reach_stdout(tmp_path, tiny_upstream, capsys, monkeypatch):
    monkeypatch.setenv("PATCHER_JOBS", "1")
    recipe = with_module(tmp_path / "r", on_import="print('IMPORTED')", on_run="print('RAN')")
    dest = tmp_path / "d"
    capsys.readouterr()
    assert main(["apply", "--recipe", str(recipe), "--upstream", str(tiny_upstream[0]), "--dest", str(dest)]) == 0
    out, err = capsys.readouterr()
    assert "RAN" not in out and "IMPORTED" not in out and "RAN" in err and "IMPORTED" in err
    env = {**os.environ, "PATCHER_JOBS": "2", "PYTHONPATH": str(PROJECT)}
    for command in ("diff", "list"):
        proc = subprocess.run([sys.executable, "-m", "patcher", command, "--recipe", str(recipe), "--dest", str(dest)],
                              env=env, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
        assert "IMPORTED" not in proc.stdout and "IMPORTED" in proc.stderr
        assert proc.stdout.startswith("diff --git" if command == "diff" else "recipe ")


@pytest.mark.parametrize("item", ["../outside/rename_string.py", "sub/../../outside/rename_string.py",
                                  "linked.py", "linkdir/rename_string.py"])
def test_a_module_file_must_stay_in_the_recipes_folder(item, tmp_path, capsys):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "rename_string.py").write_text(RENAME)
    folder = tmp_path / "r"
    (folder / "sub").mkdir(parents=True)
    (folder / "linked.py").symlink_to(outside / "rename_string.py")
    (folder / "linkdir").symlink_to(outside)
    recipe = recipe_with(folder, [item])
    capsys.readouterr()
    code = main(["list", "--recipe", str(recipe), "--dest", str(tmp_path / "d")])
    line = one_line(capsys.readouterr().err, code)
    assert f"module file {item!r} leaves the recipe's folder" in line, line


def test_a_link_inside_the_recipes_folder_is_accepted(tmp_path, capsys):
    folder = tmp_path / "r"
    (folder / "mods").mkdir(parents=True)
    (folder / "mods" / "rename_string.py").write_text(RENAME)
    (folder / "rename_string.py").symlink_to(folder / "mods" / "rename_string.py")
    recipe = recipe_with(folder, ["rename_string.py"])
    assert main(["list", "--recipe", str(recipe), "--dest", str(tmp_path / "d")]) == 12, capsys.readouterr().err


@pytest.mark.parametrize("value", ["!!! not a module", "", "tf1_fixes.other:Thing", "tf1_fixes.rename_string extra"])
def test_a_malformed_entry_point_fails_only_the_recipes_that_name_it(value, tmp_path, tiny_upstream, capsys,
                                                                      monkeypatch):
    site = tmp_path / "site"
    dist_info(site, "bad-fixes", {"rename_string": value}, {"tf1_fixes.rename_string": RENAME})
    monkeypatch.syspath_prepend(str(site))
    capsys.readouterr()
    # the shipped recipe and a recipe not naming it work
    assert main(["list", "--dest", str(tmp_path / "none")]) == 12, capsys.readouterr().err
    capsys.readouterr()
    assert main(["recipes"]) == 0
    example = recipe_with(tmp_path / "plain", [], name="contrib_initializer")
    example.write_text(example.read_text().replace('params = { old = "up", new = "upsampled" }', 'params = { scope = "" }'))
    assert main(["list", "--recipe", str(example), "--dest", str(tmp_path / "none")]) == 12, capsys.readouterr().err
    capsys.readouterr()
    # one naming it: one line naming the entry point and its distribution
    recipe = recipe_with(tmp_path / "r", [])
    code = main(["list", "--recipe", str(recipe), "--dest", str(tmp_path / "none")])
    line = one_line(capsys.readouterr().err, code)
    assert "entry point rename_string = " in line and "(bad-fixes 0.1)" in line, line


def test_an_unreadable_entry_points_file_is_one_warning_naming_the_distribution(tmp_path, capsys, monkeypatch):
    site = tmp_path / "site"
    dist_info(site, "garbled-fixes", {}, {})
    (site / "garbled_fixes-0.1.dist-info" / "entry_points.txt").write_text("[patcher.codemods]\nno equals sign here\n")
    monkeypatch.syspath_prepend(str(site))
    capsys.readouterr()
    assert main(["list", "--dest", str(tmp_path / "none")]) == 12
    err = capsys.readouterr().err
    assert re.search(r"^patcher: warning: skipping the codemod entry points of garbled-fixes: cannot read them",
                     err, re.M), err
    assert "Traceback" not in err

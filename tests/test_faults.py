"""Faults: unreachable sources, a HEAD that is not the pin, kills at any point, runs at the same time."""
from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import git
import pytest

from patcher.cli import main

PROJECT = Path(__file__).resolve().parent.parent


def apply_process(upstream, commit, dest, **env) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "patcher", "apply", "--upstream", str(upstream), "--commit", commit, "--dest",
         str(dest)], env={**os.environ, "PYTHONPATH": str(PROJECT), **env},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


@pytest.fixture(scope="module")
def reference(synthetic_upstream, tmp_path_factory):
    """The tip SHA a clean apply gives (commits are deterministic)."""
    path, (old, _) = synthetic_upstream
    dest = tmp_path_factory.mktemp("reference") / "checkout"
    assert main(["apply", "--upstream", str(path), "--commit", old, "--dest", str(dest)]) == 0
    return git.Repo(dest).head.commit.hexsha


def assert_patched(dest: Path, tip: str) -> None:
    repo = git.Repo(dest)
    assert repo.head.commit.hexsha == tip and repo.active_branch.name == "patcher/bisenetv2/celebamask"
    assert not repo.is_dirty(untracked_files=False)


def test_unreachable_url_is_a_clear_error(tmp_path, capsys):
    assert main(["apply", "--upstream", "http://127.0.0.1:9/none.git", "--dest", str(tmp_path / "d")]) == 3
    err = capsys.readouterr().err
    assert "cannot clone http://127.0.0.1:9/none.git" in err and not (tmp_path / "d").exists()


def test_head_that_is_not_the_pin_is_refused(synthetic_upstream, tmp_path, monkeypatch, capsys):
    path, (old, _) = synthetic_upstream
    real = git.cmd.Git._call_process

    def no_checkout(self, method, *args, **kwargs):
        if method == "checkout" and "--detach" in args:
            return ""
        return real(self, method, *args, **kwargs)

    monkeypatch.setattr(git.cmd.Git, "_call_process", no_checkout)
    assert main(["apply", "--upstream", str(path), "--commit", old, "--dest", str(tmp_path / "d")]) == 4
    assert "after checking out the pin" in capsys.readouterr().err


@pytest.mark.parametrize("stage", ["before-rename", "after-clone", "after-commits", "before-checkout"])
def test_killed_apply_is_finished_by_the_next_run(stage, synthetic_upstream, reference, tmp_path):
    path, (old, _) = synthetic_upstream
    dest = tmp_path / "checkout"
    proc = apply_process(path, old, dest, PATCHER_FAULT=stage)
    assert proc.wait(timeout=120) == -9, proc.stderr.read()
    assert main(["apply", "--upstream", str(path), "--commit", old, "--dest", str(dest)]) == 0
    assert_patched(dest, reference)
    assert not list(tmp_path.glob(".checkout.partial-*"))


def test_kill_in_the_middle_of_git_checkout(synthetic_upstream, reference, tmp_path):
    """What git leaves when killed while checking out: its index lock and some files already written."""
    path, (old, _) = synthetic_upstream
    dest = tmp_path / "checkout"
    assert apply_process(path, old, dest, PATCHER_FAULT="before-checkout").wait(timeout=120) == -9
    repo = git.Repo(dest)
    target = "bisenet_model/cnn_basenet.py"
    (dest / target).write_bytes((repo.commit(reference).tree / target).data_stream.read())
    (Path(repo.git_dir) / "index.lock").write_text("")
    assert main(["apply", "--upstream", str(path), "--commit", old, "--dest", str(dest)]) == 0
    assert_patched(dest, reference)


# `patcher apply` under an audit hook that counts git commands (subprocess.Popen events) and, before the
# STOP-th, touches MARKER and waits to be killed; it writes how many it saw to COUNT when it ends by itself.
PAUSED_APPLY = """\
import os, runpy, sys, time
stop, seen = int(os.environ["STOP"]), [0]
def pause(event, args):
    if event == "subprocess.Popen":
        seen[0] += 1
        if seen[0] == stop:
            open(os.environ["MARKER"], "w").close()
            time.sleep(600)
sys.addaudithook(pause)
sys.argv[0] = "patcher"
try:
    runpy.run_module("patcher", run_name="__main__", alter_sys=True)
finally:
    with open(os.environ["COUNT"], "w") as out:
        out.write(str(seen[0]))
"""


def paused_apply(upstream, commit, dest, stop: int, work: Path) -> subprocess.Popen:
    with open(work / "stderr", "w") as err:
        return subprocess.Popen(
            [sys.executable, "-c", PAUSED_APPLY, "apply", "--upstream", str(upstream), "--commit", commit, "--dest",
             str(dest)],
            env={**os.environ, "PYTHONPATH": str(PROJECT), "STOP": str(stop), "MARKER": str(work / "paused"),
                 "COUNT": str(work / "count")},
            stdout=subprocess.DEVNULL, stderr=err)


@pytest.fixture(scope="module")
def git_commands(synthetic_upstream, tmp_path_factory) -> int:
    """How many git commands a whole apply into a new folder runs."""
    path, (old, _) = synthetic_upstream
    work = tmp_path_factory.mktemp("count")
    assert paused_apply(path, old, work / "checkout", 0, work).wait(timeout=300) == 0, (work / "stderr").read_text()
    return int((work / "count").read_text())


@pytest.mark.parametrize("share", [0.1, 0.25, 0.5, 0.75, 0.95, 1.0])
def test_killed_at_a_random_moment(share, synthetic_upstream, reference, git_commands, tmp_path):
    """Killed before one of its git commands (spread over the whole run), apply is finished by the next run."""
    path, (old, _) = synthetic_upstream
    dest = tmp_path / "checkout"
    proc = paused_apply(path, old, dest, max(1, round(share * git_commands)), tmp_path)
    deadline = time.monotonic() + 300
    while not (tmp_path / "paused").exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.kill()
    assert proc.wait(timeout=60) == -signal.SIGKILL, (tmp_path / "stderr").read_text()
    assert (tmp_path / "paused").exists()
    assert main(["apply", "--upstream", str(path), "--commit", old, "--dest", str(dest)]) == 0
    assert_patched(dest, reference)


def test_two_runs_at_once_neither_corrupts_the_other(synthetic_upstream, reference, tmp_path):
    path, (old, _) = synthetic_upstream
    dest = tmp_path / "checkout"
    procs = [apply_process(path, old, dest) for _ in range(2)]
    codes = sorted(p.wait(timeout=180) for p in procs)
    assert codes in ([0, 0], [0, 11])
    assert_patched(dest, reference)


def test_build_on_a_locked_output_stops(synthetic_upstream, reference, tmp_path, capsys):
    path, (old, _) = synthetic_upstream
    dest = tmp_path / "checkout"
    assert main(["apply", "--upstream", str(path), "--commit", old, "--dest", str(dest)]) == 0
    with open(tmp_path / ".web.lock", "a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        assert main(["build", "--dest", str(dest), "--random-weights", "--out", str(tmp_path / "web")]) == 11
    assert "another patcher run" in capsys.readouterr().err and not (tmp_path / "web").exists()

"""Crash safety: what a killed run leaves in a checkout is recognised as patcher's and cleared by the
next run; fault injection for the tests that kill runs."""
from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import git

from patcher import outdir


def fault(stage: str) -> None:
    """Fault injection for the kill tests: SIGKILL this process at `stage` when PATCHER_FAULT names it,
    raise a full disk's OSError when it names `enospc-STAGE` (see outdir.fault)."""
    outdir.fault(stage)


BUSY = "patcher-busy"


@contextlib.contextmanager
def writing(repo: git.Repo) -> Iterator[None]:
    """Mark the checkout while a git command of patcher's writes git's index, so that recover() knows an
    index.lock left by a kill is patcher's own (and one without the mark belongs to another git)."""
    marker = Path(repo.git_dir) / BUSY
    marker.write_text(f"{os.getpid()}\n")
    try:
        yield
    finally:  # only a kill leaves the mark; a git that failed (say, on another git's lock) does not
        marker.unlink(missing_ok=True)


def recover(repo: git.Repo) -> None:
    """Clear what a killed run left in the checkout: patcher's temporary indexes, and git's index lock
    when a patcher run was killed while its git held it (the mark of writing() is there).

    Called under patcher's own lock on the folder, so no other patcher run is using it. An index.lock
    without the mark is another git's (running, or crashed): it stays, and git's refusal is the error.
    """
    gitdir = Path(repo.git_dir)
    for stale in gitdir.glob("patcher-index-*"):
        stale.unlink(missing_ok=True)
    marker = gitdir / BUSY
    if marker.exists():
        lock = gitdir / "index.lock"
        if lock.exists():
            print(f"removing {lock} left by an interrupted run", file=sys.stderr)
            lock.unlink()
        marker.unlink()

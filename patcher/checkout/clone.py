"""Clone and pin: the checkout cloned whole or not at all, the pinned commit found by its digits (never
by a ref), and HEAD moved to the pin or the patched branch."""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import git

from patcher.checkout.crash import fault, writing
from patcher.checkout.repo import open_repo, reason
from patcher.errors import PinError, UpstreamError

# where resolve_pin keeps the upstream's branches and tags it fetched to find a commit
FETCHED = "refs/patcher-upstream"


class Progress(git.RemoteProgress):
    """Clone progress on stderr, one line per stage and every tenth of the way."""

    def __init__(self) -> None:
        super().__init__()
        self.last: tuple[int, int] | None = None

    def update(self, op_code: int, cur_count: str | float, max_count: str | float | None = None,
               message: str = "") -> None:
        stage = op_code & self.OP_MASK
        tenth = int(10 * float(cur_count) / float(max_count)) if max_count else 0
        if (stage, tenth) != self.last:
            self.last = (stage, tenth)
            print(f"  {(self._cur_line or '').strip()}", file=sys.stderr)


def open_or_clone(source: str, dest: Path, commit: str | None = None) -> tuple[git.Repo, bool]:
    """The checkout at `dest`, cloned from `source` first if absent. True when it was cloned now.

    The clone goes to a hidden folder beside `dest` and is renamed into place only when complete: with
    `commit`, only once that commit is checked out in it (a run killed before then leaves no checkout
    without a work tree).
    """
    for stale in dest.parent.glob(f".{dest.name}.partial-[0-9]*"):
        if not stale.name.rpartition("-")[2].isdigit():
            continue
        shutil.rmtree(stale, ignore_errors=True)
    if dest.exists():
        try:
            return open_repo(dest), False
        except (git.InvalidGitRepositoryError, git.NoSuchPathError):
            raise UpstreamError(f"{dest} exists and is not a git checkout; move it away or pick another --dest") from None
    partial = dest.parent / f".{dest.name}.partial-{os.getpid()}"
    print(f"cloning {source} into {dest}", file=sys.stderr)
    progress = Progress()
    try:
        # GitPython takes a RemoteProgress (to_progress_instance), though its annotation names only callables
        repo = git.Repo.clone_from(source, partial, progress=progress, no_checkout=True)  # type: ignore[arg-type]
    except git.GitCommandError as exc:
        shutil.rmtree(partial, ignore_errors=True)
        # with a progress handler GitPython leaves stderr empty: git's lines are the handler's error lines
        said = progress.error_lines[0].strip() if progress.error_lines else reason(exc)
        raise UpstreamError(f"cannot clone {source}: git says: {said}") from None
    if commit is not None:
        try:
            checkout_pin(repo, resolve_pin(repo, commit, source))
        except BaseException:
            repo.close()
            shutil.rmtree(partial, ignore_errors=True)
            raise
    repo.close()
    fault("before-rename")
    partial.rename(dest)
    return git.Repo(dest), True


def resolve_pin(repo: git.Repo, commit: str, source: str) -> str:
    """The full id of the commit whose id starts with the hex digits `commit`, fetched from `source` when
    the checkout lacks it.

    Only object names count, never refs: git's own rev-parse takes a branch or tag named `710db86` before
    the commit 710db86..., so the digits are matched with `git rev-parse --disambiguate`, which lists the
    objects whose id starts with them and ignores refs. Two objects starting with them: refused (4), as
    is one that is not a commit.
    """
    fetched = None
    for attempt in range(2):
        found = repo.git.rev_parse(f"--disambiguate={commit}").split()
        if found or attempt:
            break
        print(f"fetching {source} for commit {commit}", file=sys.stderr)
        try:
            repo.git.fetch("--no-tags", "--", source, f"+refs/heads/*:{FETCHED}/heads/*",
                           f"+refs/tags/*:{FETCHED}/tags/*")
        except git.GitCommandError as exc:
            fetched = reason(exc)
    if len(found) > 1:
        raise PinError(f"commit {commit} is ambiguous in {source}: {len(found)} objects start with it "
                       f"({', '.join(f[:12] for f in found[:4])}); give more digits")
    if not found:
        why = f" (fetching it failed: git says: {fetched})" if fetched else ""
        raise PinError(f"commit {commit} is not in the upstream {source}{why}")
    full = found[0]
    kind = repo.git.cat_file("-t", full)
    if kind != "commit" or not full.startswith(commit):
        raise PinError(f"{commit} names a {kind} ({full}) in {source}, not a commit")
    return full


def checkout_pin(repo: git.Repo, pin: str) -> None:
    with writing(repo):
        repo.git.checkout("--detach", "-f", pin)
    if repo.head.commit.hexsha != pin:
        raise PinError(f"HEAD is {repo.head.commit.hexsha} after checking out the pin {pin}")


def switch(repo: git.Repo, branch: str, tip: str) -> None:
    with writing(repo):
        fault("before-checkout")
        repo.git.checkout("-f", "-B", branch, tip)
    if repo.head.commit.hexsha != tip:
        raise PinError(f"HEAD is {repo.head.commit.hexsha} after checking out {branch} at {tip}")

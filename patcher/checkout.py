"""The pinned upstream checkout: safe sources, cloning, the pin, and the branch of one commit per codemod."""
from __future__ import annotations

import contextlib
import fcntl
import io
import os
import re
import shutil
import signal
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import git
from gitdb.base import IStream

from patcher.errors import DriftError, LockedError, PinError, UnsafeInput, UpstreamError
from patcher.runner import Outcome

IDENTITY = {"name": "patcher", "email": "patcher@localhost"}
SCHEMES = ("https", "http", "ssh", "git", "file")
SCP_LIKE = re.compile(r"^[\w.-]+@[\w.-]+:[\w./~][\w./~-]*$")
SHA = re.compile(r"^[0-9a-fA-F]{7,40}$")


def branch_name(model: str) -> str:
    return f"patcher/{model}"


def check_source(source: str) -> str:
    """The upstream URL or path, refused before git runs if it could make git run a command."""
    if not source or source.startswith("-") or any(t.startswith("-") for t in source.split()):
        raise UnsafeInput(f"refusing upstream {source!r}: it looks like a git option")
    if "::" in source:
        raise UnsafeInput(f"refusing upstream {source!r}: remote-helper transports (such as ext::) can run commands")
    if "://" in source:
        scheme = source.split("://", 1)[0].lower()
        if scheme not in SCHEMES:
            raise UnsafeInput(f"refusing upstream {source!r}: scheme {scheme!r} is not one of {', '.join(SCHEMES)}")
        return source
    if SCP_LIKE.match(source):
        return source
    path = Path(source).expanduser()
    if not path.exists():
        raise UpstreamError(f"upstream {source!r} is neither a URL nor an existing path")
    return str(path.resolve())


def check_commit(commit: str) -> str:
    if commit.startswith("-"):
        raise UnsafeInput(f"refusing commit {commit!r}: it looks like a git option")
    if not SHA.match(commit):
        raise PinError(f"--commit takes a commit SHA (7 to 40 hex digits), not {commit!r}")
    return commit.lower()


@contextlib.contextmanager
def locked(dest: Path) -> Iterator[None]:
    """Hold an exclusive lock on `dest` (a file beside it) or stop at once if another run holds it."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    lock = dest.parent / f".{dest.name}.lock"
    with open(lock, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise LockedError(f"another patcher run is using {dest} (lock {lock}); try again when it ends") from None
        yield


class Progress(git.RemoteProgress):
    """Clone progress on stderr, one line per stage and every tenth of the way."""

    def __init__(self) -> None:
        super().__init__()
        self.last = None

    def update(self, op_code, cur_count, max_count=None, message=""):
        stage = op_code & self.OP_MASK
        tenth = int(10 * cur_count / max_count) if max_count else 0
        if (stage, tenth) != self.last:
            self.last = (stage, tenth)
            print(f"  {self._cur_line.strip()}", file=sys.stderr)


def open_or_clone(source: str, dest: Path) -> tuple[git.Repo, bool]:
    """The checkout at `dest`, cloned from `source` first if absent. True when it was cloned now.

    The clone goes to a hidden folder beside `dest` and is renamed into place only when complete.
    """
    for stale in dest.parent.glob(f".{dest.name}.partial-*"):
        shutil.rmtree(stale, ignore_errors=True)
    if dest.exists():
        try:
            return git.Repo(dest), False
        except (git.InvalidGitRepositoryError, git.NoSuchPathError):
            raise UpstreamError(f"{dest} exists and is not a git checkout; move it away or pick another --dest") from None
    partial = dest.parent / f".{dest.name}.partial-{os.getpid()}"
    print(f"cloning {source} into {dest}", file=sys.stderr)
    try:
        repo = git.Repo.clone_from(source, partial, progress=Progress(), no_checkout=True)
    except git.GitCommandError as exc:
        shutil.rmtree(partial, ignore_errors=True)
        reason = (exc.stderr or str(exc)).strip().splitlines()
        raise UpstreamError(f"cannot clone {source}: {reason[-1] if reason else exc}") from None
    repo.close()
    fault("before-rename")
    partial.rename(dest)
    return git.Repo(dest), True


def resolve_pin(repo: git.Repo, commit: str, source: str) -> str:
    """The full SHA of `commit`, fetched from `source` if the checkout lacks it."""
    for attempt in range(2):
        try:
            return repo.rev_parse(f"{commit}^{{commit}}").hexsha
        except (git.BadName, ValueError, git.GitCommandError):
            if attempt:
                break
            with contextlib.suppress(git.GitCommandError):
                repo.git.fetch(source, commit)
    raise PinError(f"commit {commit} is not in the upstream {source}")


def checkout_pin(repo: git.Repo, pin: str) -> None:
    repo.git.checkout("--detach", "-f", pin)
    if repo.head.commit.hexsha != pin:
        raise PinError(f"HEAD is {repo.head.commit.hexsha} after checking out the pin {pin}")


def read_at(repo: git.Repo, commit: str, path: str) -> bytes:
    try:
        return (repo.commit(commit).tree / path).data_stream.read()
    except KeyError:
        raise DriftError(f"{path}: missing at {commit[:12]}; the upstream changed or the recipe is wrong") from None


def build_commits(repo: git.Repo, pin: str, outcomes: Sequence[Outcome], recipe_name: str) -> str:
    """Commit each outcome on top of the pin without touching the work tree; the tip's SHA.

    Author, committer and dates are fixed (the pin's date), so the same recipe gives the same SHAs.
    """
    base = repo.commit(pin)
    date = f"{base.committed_date} +0000"
    env = {
        "GIT_INDEX_FILE": str(Path(repo.git_dir) / f"patcher-index-{os.getpid()}"),
        "GIT_AUTHOR_NAME": IDENTITY["name"], "GIT_AUTHOR_EMAIL": IDENTITY["email"], "GIT_AUTHOR_DATE": date,
        "GIT_COMMITTER_NAME": IDENTITY["name"], "GIT_COMMITTER_EMAIL": IDENTITY["email"], "GIT_COMMITTER_DATE": date,
    }
    try:
        repo.git.read_tree(pin, env=env)
        parent = pin
        for outcome in outcomes:
            for path, text in outcome.files.items():
                data = text.encode("utf-8")
                blob = repo.odb.store(IStream(git.Blob.type, len(data), io.BytesIO(data))).hexsha
                mode = f"{(base.tree / path).mode:o}"
                repo.git.update_index("--cacheinfo", f"{mode},{blob.decode()},{path}", env=env)
            tree = repo.git.write_tree(env=env)
            step = outcome.step
            message = "\n".join(
                [f"{step.codemod}: {step.description}", ""] + [str(s) for s in outcome.sites]
                + ["", f"Applied by patcher ({recipe_name})."]
            )
            parent = repo.git.commit_tree(tree, "-p", parent, "-m", message, env=env)
    finally:
        Path(env["GIT_INDEX_FILE"]).unlink(missing_ok=True)
    return parent


def local_edits(repo: git.Repo, allowed: Sequence[str]) -> list[str]:
    """Tracked files whose work-tree content differs from HEAD and from every commit in `allowed`."""
    changed = repo.git.status("--porcelain=v1", "-z", "--untracked-files=no").split("\0")
    edits = []
    for entry in filter(None, changed):
        path = entry[3:]
        file = Path(repo.working_tree_dir) / path
        data = file.read_bytes() if file.is_file() else None
        ours = False
        for commit in allowed:
            try:
                ours = ours or (repo.commit(commit).tree / path).data_stream.read() == data
            except KeyError:
                ours = ours or data is None
        if not ours:
            edits.append(path)
    return edits


def foreign_commits(repo: git.Repo, pin: str, branch: str) -> list[str]:
    """Commits on `branch` after the pin that patcher did not make."""
    if branch not in [h.name for h in repo.heads]:
        return []
    return [c.hexsha[:12] for c in repo.iter_commits(f"{pin}..refs/heads/{branch}")
            if c.author.email != IDENTITY["email"]]


def back_up(repo: git.Repo, branch: str, dirty: bool) -> list[str]:
    """Keep the user's work before a forced reset: a stash for edits, a branch for commits. Where it went."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    kept = []
    if branch in [h.name for h in repo.heads]:
        backup = f"patcher-backup/{stamp}"
        repo.git.branch(backup, branch)
        kept.append(f"branch {backup}")
    if dirty:
        repo.git.stash("push", "-m", f"patcher backup {stamp}")
        kept.append(f"stash 'patcher backup {stamp}' (git stash list)")
    return kept


def fault(stage: str) -> None:
    """Fault injection for the kill tests: SIGKILL this process at `stage` when PATCHER_FAULT names it."""
    if os.environ.get("PATCHER_FAULT") == stage:
        os.kill(os.getpid(), signal.SIGKILL)


def recover(repo: git.Repo) -> None:
    """Clear what a killed run left in the checkout: git's index lock and patcher's temporary indexes.

    Called under patcher's own lock on the folder, so no other patcher run is using it.
    """
    gitdir = Path(repo.git_dir)
    for stale in gitdir.glob("patcher-index-*"):
        stale.unlink(missing_ok=True)
    lock = gitdir / "index.lock"
    if lock.exists():
        print(f"removing {lock} left by an interrupted run", file=sys.stderr)
        lock.unlink()


def switch(repo: git.Repo, branch: str, tip: str) -> None:
    fault("before-checkout")
    repo.git.checkout("-f", "-B", branch, tip)
    if repo.head.commit.hexsha != tip:
        raise PinError(f"HEAD is {repo.head.commit.hexsha} after checking out {branch} at {tip}")

"""The pinned upstream checkout: safe sources, cloning, the pin, and the branch of one commit per codemod."""
from __future__ import annotations

import contextlib
import fcntl
import io
import os
import re
import shutil
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import git
from gitdb.base import IStream

from patcher import outdir
from patcher.codemods.base import Site
from patcher.errors import DriftError, GitError, LockedError, PinError, SourceError, UnsafeInput, UpstreamError
from patcher.recipe import RecipeError, Step
from patcher.runner import Outcome

IDENTITY = {"name": "patcher", "email": "patcher@localhost"}
SCHEMES = ("https", "http", "ssh", "git", "file")
SCP_LIKE = re.compile(r"^[\w.-]+@[\w.-]+:[\w./~][\w./~-]*$")
SHA = re.compile(r"^[0-9a-fA-F]{7,40}$")
# where resolve_pin keeps the upstream's branches and tags it fetched to find a commit
FETCHED = "refs/patcher-upstream"


def branch_name(recipe: str, model: str) -> str:
    """The branch of a recipe's model: patcher/RECIPE/MODEL, RECIPE being the recipe's name with any
    character but letters, digits, '_' and '-' made '_' (model names are checked when a recipe loads)."""
    return f"patcher/{re.sub(r'[^A-Za-z0-9_-]', '_', recipe)}/{model}"


def legacy_branch(model: str) -> str:
    """The branch of a model in the layout before branches were named by recipe: patcher/MODEL."""
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
    """Hold an exclusive lock on `dest` (a file beside it) or stop at once if another run holds it.

    The lock file is removed when the run ends. So that a run which opened it just before is not
    fooled, a lock counts only while the file at that name is the one locked (same inode).
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    lock = dest.parent / f".{dest.name}.lock"
    while True:
        handle = open(lock, "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise LockedError(f"another patcher run is using {dest} (lock {lock}); try again when it ends") from None
        try:
            current = os.stat(lock).st_ino
        except FileNotFoundError:
            current = None
        if current == os.fstat(handle.fileno()).st_ino:
            break
        handle.close()  # the run that held it removed it as we opened it: lock the new one
    try:
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            lock.unlink()
        handle.close()


def reason(exc: Exception) -> str:
    """The first line git gave for a failed command (GitPython keeps it in `stderr`), or the error itself."""
    text = getattr(exc, "stderr", "") or ""
    text = text.strip()
    if text.startswith("stderr: '"):
        text = text[len("stderr: '"):].removesuffix("'")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0] if lines else (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def git_error(exc: Exception, doing: str, where: Path | str | None = None) -> GitError:
    """One line for a git command that failed: what patcher was doing, git's own first line, what to do."""
    first = reason(exc)
    hint = ""
    if "dubious ownership" in first:
        place = where or first.rpartition(" at ")[2].strip("'")
        hint = (f"; the folder belongs to another user: if you trust it, run 'git config --global --add "
                f"safe.directory {place}' yourself (patcher does not change git's settings), or run as its owner")
    elif "index.lock" in first or "File exists" in first:
        hint = "; another git is running in that checkout (or one crashed): when none runs, remove the lock file"
    elif "ermission denied" in first or "insufficient permission" in first:
        hint = "; check the owner and permissions of the checkout and its .git folder"
    return GitError(f"{doing}: git says: {first}{hint}")


def open_repo(dest: Path) -> git.Repo:
    """The git checkout at `dest`, after one git command shows that git will work in it (ownership,
    permissions). Raises git.InvalidGitRepositoryError/NoSuchPathError as git.Repo does, GitError (19)
    when git refuses the folder."""
    repo = git.Repo(dest)
    try:
        repo.git.rev_parse("--git-dir")
    except git.GitCommandError as exc:
        repo.close()
        raise git_error(exc, f"git refuses {dest}", dest) from None
    return repo


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
        repo = git.Repo.clone_from(source, partial, progress=progress, no_checkout=True)
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


# The largest source file patcher edits; libcst needs minutes and gigabytes for tens of megabytes.
MAX_SOURCE = 4 << 20
FILE_MODES = (0o100644, 0o100755)


def read_at(repo: git.Repo, commit: str, path: str) -> bytes:
    """The bytes of the regular file `path` at `commit`, read from git's objects (never the work tree).

    Refused: a path that leaves the checkout (RecipeError, 13); a path that is a symbolic link, passes
    through one, or is a folder or a submodule, and a file over MAX_SOURCE (SourceError, 7): a link is
    not followed, even inside the repository, because the codemod's result would be committed at the
    link's own path. A path that is absent is drift (5)."""
    try:
        clean = outdir.safe_relative(path)
    except ValueError as exc:
        raise RecipeError(f"recipe file {exc}; a recipe may only name files inside the checkout") from None
    item = repo.commit(commit).tree
    walked = []
    for part in clean.split("/"):
        if item.type != "tree":
            raise SourceError(f"{path}: {'/'.join(walked)} is not a folder at {commit[:12]}")
        try:
            item = item[part]
        except KeyError:
            raise DriftError(f"{path}: missing at {commit[:12]}; the upstream changed or the recipe is wrong") from None
        walked.append(part)
        if item.mode == 0o120000:
            target = item.data_stream.read().decode("utf-8", "replace")
            raise SourceError(f"{path}: {'/'.join(walked)} is a symbolic link (to {target}) at {commit[:12]}; "
                              "patcher edits regular files only: name the file it points to in the recipe")
    if item.type != "blob" or item.mode not in FILE_MODES:
        what = {"tree": "a folder", "commit": "a submodule"}.get(item.type, f"not a regular file (mode {item.mode:o})")
        raise SourceError(f"{path}: is {what} at {commit[:12]}, not a file patcher can edit")
    if item.size > MAX_SOURCE:
        raise SourceError(f"{path}: {item.size / (1 << 20):.1f} MB at {commit[:12]}; patcher edits source files of "
                          f"up to {MAX_SOURCE >> 20} MB (is it generated code or data?)")
    return item.data_stream.read()


def build_commits(repo: git.Repo, pin: str, outcomes: Sequence[Outcome], recipe_name: str,
                  digest: str | None = None) -> str:
    """Commit each outcome on top of the pin without touching the work tree; the tip's SHA.

    Author, committer and dates are fixed (the pin's date), so the same recipe gives the same SHAs. Each
    message ends with the trailers `Patcher-Digest: DIGEST` (runner.digest) when `digest` is given, and
    `Patcher-Tree: TREE`, the id of the commit's own tree: what recorded() compares to know, without
    running a codemod, that the branch is this recipe's result, and ours() to know that a commit is
    patcher's as patcher wrote it (an amended commit keeps the message but not the tree).
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
            for path, data in outcome.files.items():
                blob = repo.odb.store(IStream(git.Blob.type, len(data), io.BytesIO(data))).hexsha
                mode = f"{(base.tree / path).mode:o}"
                repo.git.update_index("--cacheinfo", f"{mode},{blob.decode()},{path}", env=env)
            tree = repo.git.write_tree(env=env)
            step = outcome.step
            message = "\n".join(
                [f"{step.codemod}: {step.description}", ""] + [str(s) for s in outcome.sites]
                + ["", f"Applied by patcher ({recipe_name}).", ""]
                + ([f"{TRAILER}: {digest}"] if digest else []) + [f"{TREE}: {tree}"]
            )
            parent = repo.git.commit_tree(tree, "-p", parent, "-m", message, env=env)
    finally:
        Path(env["GIT_INDEX_FILE"]).unlink(missing_ok=True)
    return parent


TRAILER = "Patcher-Digest"
TREE = "Patcher-Tree"
RECORDED_SITE = re.compile(r"(\d+):(\d+): (.*)")
_FIELDS = ("sha", "parents", "tree", "an", "ae", "ad", "cn", "ce", "cd", "body")


def _log(repo: git.Repo, *args: str) -> list[dict[str, str]]:
    """`git log ARGS`, oldest first: each commit's id, parents, tree, people, raw dates and message."""
    fmt = "%x1f".join(["%H", "%P", "%T", "%an", "%ae", "%ad", "%cn", "%ce", "%cd", "%B"])
    log = repo.git.log("-z", "--date=raw", f"--format={fmt}", *args, "--")
    return [dict(zip(_FIELDS, entry.split("\x1f", len(_FIELDS) - 1))) for entry in log.split("\0") if entry][::-1]


def _ours(commit: dict[str, str]) -> bool:
    """True when a commit is what build_commits writes: by patcher (author and committer, one date),
    a message of patcher's form whose `Patcher-Tree` trailer is the commit's own tree. The author alone
    proves nothing: `git commit --amend` keeps it and the message, and changes the tree or the committer."""
    lines = commit.get("body", "").rstrip("\n").split("\n")
    return ([commit["an"], commit["ae"], commit["cn"], commit["ce"]] == [IDENTITY["name"], IDENTITY["email"]] * 2
            and commit["ad"] == commit["cd"] and len(lines) >= 4 and ": " in lines[0]
            and any(line.startswith("Applied by patcher (") for line in lines)
            and lines[-1] == f"{TREE}: {commit['tree']}")


def recorded(repo: git.Repo, pin: str, branch: str, steps: Sequence[Step], digest: str,
             recipe_name: str | None = None) -> tuple[str, list[Outcome]] | None:
    """(tip, outcomes) of `branch` as its commits record them, when the branch is exactly what
    build_commits makes of `steps` on `pin` with code of this `digest`: one commit per step, in order, on
    the pin, each patcher's as it wrote it (see _ours: its tree is the one its message records), headed by
    its codemod and description, listing the step's sites (as many per file as the recipe says), with
    `Patcher-Digest: DIGEST` (and naming `recipe_name` when given). None otherwise: then the codemods must run.

    One `git log`, and a blob read per edited file: no codemod runs.
    """
    if not steps:
        return None
    try:
        commits = _log(repo, f"-n{len(steps)}", "--first-parent", f"refs/heads/{branch}")
    except git.GitCommandError:
        return None
    if len(commits) != len(steps) or any(len(c) != len(_FIELDS) for c in commits):
        return None
    outcomes = []
    parent = pin
    for commit, step in zip(commits, steps):
        if commit["parents"] != parent or not _ours(commit):
            return None
        lines = commit["body"].rstrip("\n").split("\n")
        if (lines[0] != f"{step.codemod}: {step.description}" or lines[-2] != f"{TRAILER}: {digest}"
                or (recipe_name is not None and f"Applied by patcher ({recipe_name})." not in lines)):
            return None
        end = lines.index("", 2) if "" in lines[2:] else len(lines)
        sites = [_recorded_site(line, step.files) for line in lines[2:end]]
        if None in sites or any(sum(s.path == f for s in sites) != step.sites for f in step.files):
            return None
        tree = repo.commit(commit["sha"]).tree
        try:
            files = {path: (tree / path).data_stream.read() for path in step.files}
        except KeyError:
            return None
        outcomes.append(Outcome(step, sites, files))
        parent = commit["sha"]
    return parent, outcomes


def _recorded_site(line: str, files: Sequence[str]) -> Site | None:
    """The Site a commit message's `file:line:column: reason` line records, or None."""
    for path in files:
        found = RECORDED_SITE.fullmatch(line[len(path) + 1:]) if line.startswith(path + ":") else None
        if found:
            return Site(path, int(found[1]), int(found[2]), found[3])
    return None


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


def foreign_commits(repo: git.Repo, pin: str, branch: str, tip: str | None = None) -> list[str]:
    """Commits on `branch` after the pin that are not patcher's as it wrote them (see _ours). With `tip`
    (the branch patcher has just built), a commit made before commits carried `Patcher-Tree` (by patcher,
    in patcher's message form, no such trailer) is patcher's when its tree is one of the trees from the pin
    to `tip`: its content is exactly what patcher writes. An amended commit has another tree."""
    if branch not in [h.name for h in repo.heads]:
        return []
    trees = {c["tree"] for c in _log(repo, f"{pin}..{tip}")} if tip else set()

    def written(c):
        lines = c["body"].split("\n")
        return (c["tree"] in trees and [c["an"], c["ae"]] == [IDENTITY["name"], IDENTITY["email"]]
                and any(line.startswith("Applied by patcher (") for line in lines)
                and not any(line.startswith(f"{TREE}: ") for line in lines))

    return [c["sha"][:12] for c in _log(repo, f"{pin}..refs/heads/{branch}") if not _ours(c) and not written(c)]


def back_up(repo: git.Repo, branch: str, dirty: bool) -> list[str]:
    """Keep the user's work before a forced reset: a stash for edits, a branch for commits. Where it went."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    kept = []
    heads = [h.name for h in repo.heads]
    if branch in heads:
        backup, n = f"patcher-backup/{stamp}", 1
        while backup in heads:  # two backups in one second
            n += 1
            backup = f"patcher-backup/{stamp}-{n}"
        repo.git.branch(backup, branch)
        kept.append(f"branch {backup}")
    if dirty:
        with writing(repo):
            repo.git.stash("push", "-m", f"patcher backup {stamp}")
        kept.append(f"stash 'patcher backup {stamp}' (git stash list)")
    return kept


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


def switch(repo: git.Repo, branch: str, tip: str) -> None:
    with writing(repo):
        fault("before-checkout")
        repo.git.checkout("-f", "-B", branch, tip)
    if repo.head.commit.hexsha != tip:
        raise PinError(f"HEAD is {repo.head.commit.hexsha} after checking out {branch} at {tip}")

"""Opening a checkout, and a failed git command as one line: what patcher was doing, git's own first
line, what to do."""
from __future__ import annotations

from pathlib import Path

import git

from patcher.errors import GitError


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

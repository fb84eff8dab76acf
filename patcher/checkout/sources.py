"""The sources a recipe edits, read from git's objects at the pin: regular files inside the checkout,
of a size libcst can parse, never through a symbolic link."""
from __future__ import annotations

import git

from patcher import outdir
from patcher.errors import DriftError, RecipeError, SourceError

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

"""Protection of the user's work: edits and commits patcher did not make are found, and kept in a stash
or a backup branch before a forced reset."""
from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import git

from patcher.checkout.crash import writing
from patcher.checkout.history import IDENTITY, TREE, log, ours


def local_edits(repo: git.Repo, allowed: Sequence[str]) -> list[str]:
    """Tracked files whose work-tree content differs from HEAD and from every commit in `allowed`."""
    changed = repo.git.status("--porcelain=v1", "-z", "--untracked-files=no").split("\0")
    edits = []
    for entry in filter(None, changed):
        path = entry[3:]
        file = Path(repo.working_tree_dir or ".") / path
        data = file.read_bytes() if file.is_file() else None
        kept = False
        for commit in allowed:
            try:
                kept = kept or (repo.commit(commit).tree / path).data_stream.read() == data
            except KeyError:
                kept = kept or data is None
        if not kept:
            edits.append(path)
    return edits


def foreign_commits(repo: git.Repo, pin: str, branch: str, tip: str | None = None) -> list[str]:
    """Commits on `branch` after the pin that are not patcher's as it wrote them (see ours). With `tip`
    (the branch patcher has just built), a commit made before commits carried `Patcher-Tree` (by patcher,
    in patcher's message form, no such trailer) is patcher's when its tree is one of the trees from the pin
    to `tip`: its content is exactly what patcher writes. An amended commit has another tree."""
    if branch not in [h.name for h in repo.heads]:
        return []
    trees = {c["tree"] for c in log(repo, f"{pin}..{tip}")} if tip else set()

    def written(c: dict[str, str]) -> bool:
        lines = c["body"].split("\n")
        return (c["tree"] in trees and [c["an"], c["ae"]] == [IDENTITY["name"], IDENTITY["email"]]
                and any(line.startswith("Applied by patcher (") for line in lines)
                and not any(line.startswith(f"{TREE}: ") for line in lines))

    return [c["sha"][:12] for c in log(repo, f"{pin}..refs/heads/{branch}") if not ours(c) and not written(c)]


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

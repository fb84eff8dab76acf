"""The commit history patcher writes and reads: one commit per codemod on the pin, with fixed people
and dates and trailers that let a later run know, without running a codemod, that a branch is a
recipe's result."""
from __future__ import annotations

import io
import os
import re
from collections.abc import Sequence
from pathlib import Path

import git
from gitdb.base import IStream

from patcher.codemods.base import Site
from patcher.recipe import Step
from patcher.runner import Outcome

IDENTITY = {"name": "patcher", "email": "patcher@localhost"}


def branch_name(recipe: str, model: str) -> str:
    """The branch of a recipe's model: patcher/RECIPE/MODEL, RECIPE being the recipe's name with any
    character but letters, digits, '_' and '-' made '_' (model names are checked when a recipe loads)."""
    return f"patcher/{re.sub(r'[^A-Za-z0-9_-]', '_', recipe)}/{model}"


def legacy_branch(model: str) -> str:
    """The branch of a model in the layout before branches were named by recipe: patcher/MODEL."""
    return f"patcher/{model}"


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


def log(repo: git.Repo, *args: str) -> list[dict[str, str]]:
    """`git log ARGS`, oldest first: each commit's id, parents, tree, people, raw dates and message."""
    fmt = "%x1f".join(["%H", "%P", "%T", "%an", "%ae", "%ad", "%cn", "%ce", "%cd", "%B"])
    out = repo.git.log("-z", "--date=raw", f"--format={fmt}", *args, "--")
    return [dict(zip(_FIELDS, entry.split("\x1f", len(_FIELDS) - 1), strict=False)) for entry in out.split("\0") if entry][::-1]


def ours(commit: dict[str, str]) -> bool:
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
    the pin, each patcher's as it wrote it (see ours: its tree is the one its message records), headed by
    its codemod and description, listing the step's sites (as many per file as the recipe says), with
    `Patcher-Digest: DIGEST` (and naming `recipe_name` when given). None otherwise: then the codemods must run.

    One `git log`, and a blob read per edited file: no codemod runs.
    """
    if not steps:
        return None
    try:
        commits = log(repo, f"-n{len(steps)}", "--first-parent", f"refs/heads/{branch}")
    except git.GitCommandError:
        return None
    if len(commits) != len(steps) or any(len(c) != len(_FIELDS) for c in commits):
        return None
    outcomes = []
    parent = pin
    for commit, step in zip(commits, steps, strict=True):
        if commit["parents"] != parent or not ours(commit):
            return None
        lines = commit["body"].rstrip("\n").split("\n")
        if (lines[0] != f"{step.codemod}: {step.description}" or lines[-2] != f"{TRAILER}: {digest}"
                or (recipe_name is not None and f"Applied by patcher ({recipe_name})." not in lines)):
            return None
        end = lines.index("", 2) if "" in lines[2:] else len(lines)
        found = [_recorded_site(line, step.files) for line in lines[2:end]]
        sites = [s for s in found if s is not None]
        if len(sites) != len(found) or any(sum(s.path == f for s in sites) != step.sites for f in step.files):
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

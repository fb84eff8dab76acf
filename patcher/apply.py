"""`apply`, `diff` and `list`: bring a pinned checkout to the patched state and show what changed."""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import git

from patcher import checkout, outdir, runner
from patcher.errors import DirtyError, NotApplied, PinError
from patcher.recipe import Recipe
from patcher.runner import Outcome


@dataclass
class Applied:
    repo: git.Repo
    pin: str
    tip: str
    outcomes: list[Outcome]
    changed: bool
    branch: str = ""


def default_dest(recipe: Recipe, model: str) -> Path:
    return Path("vendor") / f"{recipe.name}-{model}"


def apply(recipe: Recipe, model: str, dest: Path, upstream: str | None = None, commit: str | None = None,
          force: bool = False, recipe_name: str | None = None) -> Applied:
    """Clone if needed, compute every step in memory from the pin, then move the branch in one go."""
    dest = outdir.guard_checkout(dest)  # never home, root, the current folder, a file (exit 17)
    source = checkout.check_source(upstream or recipe.url)
    wanted = checkout.check_commit(commit or recipe.commit)
    steps = recipe.for_model(model)
    dest = Path(dest).absolute()
    with checkout.locked(dest):
        try:
            repo, fresh = checkout.open_or_clone(source, dest, wanted)  # a new clone is at the pin
            checkout.recover(repo)
            pin = checkout.resolve_pin(repo, wanted, source)
        except PinError as exc:
            if commit:
                raise
            # the recipe's own pin missing: most likely a clone of another repository, so say whose pin it is
            raise PinError(f"recipe {recipe.name}: {exc} (its pin); is {source} a clone of {recipe.url}?") \
                from None
        if fresh:
            checkout.fault("after-clone")
        branch = checkout.branch_name(recipe.name, model)
        old = branch_of(repo, recipe, model)
        if old != branch:
            repo.git.branch("-m", old, branch)
            print(f"renamed the branch {old} to {branch} (branches are named by recipe and model now)",
                  file=sys.stderr)
        name = recipe_name or (recipe.path.name if recipe.path is not None else recipe.name)
        digest = runner.digest(recipe, model, pin)
        # Nothing to do costs nothing: a branch whose commits carry this digest is what the codemods
        # would make again, so its tip and recorded sites are taken as they are. The digest does not
        # depend on the recipe's file name: a copy of the recipe under another name finds the original's
        # branch in the same checkout.
        found, source = None, branch
        if not fresh:
            others = sorted(h.name for h in repo.heads if h.name.startswith("patcher/") and h.name != branch)
            for source in [branch, *others]:
                found = checkout.recorded(repo, pin, source, steps, digest)
                if found:
                    break
        if found:
            tip, outcomes = found
            print(f"pinned at {pin}; {source} is this recipe's result (digest {digest[:12]}), "
                  "no codemod to run", file=sys.stderr)
        else:
            print(f"pinned at {pin}; running {len(steps)} codemods", file=sys.stderr)
            outcomes = runner.run_steps(lambda path: checkout.read_at(repo, pin, path), steps,
                                        jobs=runner.default_jobs())
            tip = checkout.build_commits(repo, pin, outcomes, name, digest)
            checkout.fault("after-commits")
        on_branch = not repo.head.is_detached and repo.active_branch.name == branch
        edits = checkout.local_edits(repo, [pin, tip])
        if on_branch and repo.head.commit.hexsha == tip and not edits and not repo.is_dirty(untracked_files=False):
            return Applied(repo, pin, tip, outcomes, changed=False, branch=branch)
        foreign = checkout.foreign_commits(repo, pin, branch, tip)
        if (edits or foreign) and not force:
            what = [f"edited files: {', '.join(edits)}"] if edits else []
            what += [f"commits on {branch} not made by patcher: {', '.join(foreign)}"] if foreign else []
            raise DirtyError(f"{dest} has local changes ({'; '.join(what)}); use --force to back them up and reset")
        if edits or foreign:
            kept = checkout.back_up(repo, branch, dirty=bool(edits))
            print(f"kept your changes: {'; '.join(kept)}", file=sys.stderr)
        checkout.switch(repo, branch, tip)
        repo.git.config("patcher.pin", pin)
        repo.git.config("patcher.model", model)
        return Applied(repo, pin, tip, outcomes, changed=True, branch=branch)


def branch_of(repo: git.Repo, recipe: Recipe, model: str) -> str:
    """The branch of `recipe`'s `model` in `repo`: patcher/RECIPE/MODEL; or, when only it exists, the
    branch patcher/MODEL of the layout before, if its tip was made by a recipe of the same file name."""
    branch = checkout.branch_name(recipe.name, model)
    legacy = checkout.legacy_branch(model)
    heads = {h.name for h in repo.heads}
    if branch not in heads and legacy in heads and recipe.path is not None:
        if f"Applied by patcher ({recipe.path.name})." in repo.commit(legacy).message.splitlines():
            return legacy
    return branch


def patched(dest: Path, model: str, recipe: Recipe) -> tuple[git.Repo, str, str]:
    """(repo, pin, branch) of a checkout that `apply` has patched with `recipe` for `model`."""
    try:
        repo = checkout.open_repo(dest)  # git's refusal of the folder is its own error (19), not this one
        pin = repo.git.config("--get", "patcher.pin")
    except git.GitCommandError as exc:
        if exc.status != 1:  # 1: the setting is absent
            raise checkout.git_error(exc, f"cannot read {dest}'s settings", dest) from None
        raise NotApplied(f"{dest} is not a patched checkout; run 'python -m patcher apply' first") from None
    except (git.NoSuchPathError, git.InvalidGitRepositoryError):
        raise NotApplied(f"{dest} is not a patched checkout; run 'python -m patcher apply' first") from None
    branch = branch_of(repo, recipe, model)
    if branch not in [h.name for h in repo.heads]:
        raise NotApplied(f"{dest} has no branch {branch}; run 'python -m patcher apply --recipe {recipe.path} "
                         f"--model {model}' first")
    return repo, pin, branch


def diff(dest: Path, model: str, recipe: Recipe) -> str:
    """The whole change as a unified diff against the pin, ending in a newline."""
    repo, pin, branch = patched(dest, model, recipe)
    return repo.git.diff("--no-color", "--no-ext-diff", pin, branch) + "\n"


def outcomes(recipe: Recipe, dest: Path, model: str) -> list[Outcome]:
    """What each step does at the checkout's pin: as its branch's commits record it when they carry this
    recipe's digest (no codemod runs), else by running the codemods."""
    repo, pin, branch = patched(dest, model, recipe)
    steps = recipe.for_model(model)
    found = checkout.recorded(repo, pin, branch, steps, runner.digest(recipe, model, pin))
    if found:
        return found[1]
    return runner.run_steps(lambda path: checkout.read_at(repo, pin, path), steps, jobs=runner.default_jobs())

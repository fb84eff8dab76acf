"""One step on one file: run its codemod on a file state, count the sites, guard the layout, and check
that a second run on the output finds nothing (the idempotency check re-parses the output, which the
next step on that file then reuses)."""
from __future__ import annotations

from dataclasses import dataclass

from libcst.codemod import CodemodContext

from patcher import sandbox
from patcher.codemods import SHIPPED_ORIGIN
from patcher.codemods.base import Site
from patcher.errors import DriftError, PatcherError
from patcher.recipe import Step
from patcher.runner.layout import unsited
from patcher.runner.state import FileState


@dataclass
class Outcome:
    """What one step did: the sites it changed and the new bytes of each file it edited (in the file's
    own encoding, byte-order mark and line endings)."""

    step: Step
    sites: list[Site]
    files: dict[str, bytes]


def run(step: Step, state: FileState) -> tuple[str, list[Site]]:
    """One codemod on one file state: the new text and the sites it changed."""
    wrapper = state.wrapper  # a parse error is the upstream's (SourceError), not the codemod's
    with sandbox.guarded(f"codemod {step.codemod} (from {step.origin}) on {state.path}",
                         shipped=step.origin == SHIPPED_ORIGIN):
        codemod = step.cls(CodemodContext(filename=state.path), **step.params)
        code = codemod.transform_wrapped(wrapper).code
    return code, codemod.sites


def transform(step: Step, path: str, text: str) -> tuple[str, list[Site]]:
    """One codemod on one file's text: the new text and the sites it changed."""
    return run(step, FileState(path, text))


def drift(step: Step, path: str, found: int) -> DriftError:
    """The error (5) for a step that found `found` sites in `path` where the recipe expects step.sites."""
    return DriftError(f"{step.codemod}: {path}: expected {step.sites} site(s), found {found}; "
                      "the upstream changed or the recipe is wrong; nothing was written")


def not_idempotent(step: Step, path: str, more: list[Site]) -> PatcherError:
    """The error (1) for a step whose second run on its own output changed `more`."""
    return PatcherError(f"{step.codemod}: {path}: not idempotent; a second run changed {more}")


def step_file(step: Step, state: FileState) -> tuple[FileState, list[Site]]:
    """Run `step` on `state`, check the count and idempotency; the new state (its output, re-parsed by
    the check and ready for the next step on this file) and the sites."""
    code, sites = run(step, state)
    if len(sites) != step.sites:
        raise drift(step, state.path, len(sites))
    outside = unsited(step, state.path, state.text, code, sites)
    if outside:
        raise outside
    if code == state.text:
        # the output is the input: running the codemod on it again would give exactly this run again
        after, again, more = state, code, sites
    else:
        after = FileState(state.path, code)
        again, more = run(step, after)
    if more or again != code:
        raise not_idempotent(step, state.path, more)
    return after, sites

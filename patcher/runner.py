"""Run recipe steps in memory: count each codemod's sites, re-parse its output, check it is idempotent.

The idempotency check is the re-parse: the output is parsed again and the codemod must find nothing there.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import libcst as cst
from libcst.codemod import CodemodContext

from patcher.codemods import CODEMODS
from patcher.codemods.base import Site
from patcher.errors import DriftError, PatcherError, SourceError
from patcher.recipe import Step


@dataclass
class Outcome:
    """What one step did: the sites it changed and the new text of each file it edited."""

    step: Step
    sites: list[Site]
    files: dict[str, str]


def parse(text: str, path: str) -> cst.Module:
    try:
        return cst.parse_module(text)
    except cst.ParserSyntaxError as exc:
        raise SourceError(f"{path}:{exc.raw_line}:{exc.raw_column}: libcst cannot parse it: {exc.message}") from exc


def decode(data: bytes, path: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise SourceError(f"{path}:{line}: not UTF-8 (byte {data[exc.start]:#04x})") from exc


def transform(step: Step, path: str, text: str) -> tuple[str, list[Site]]:
    """One codemod on one file's text: the new text and the sites it changed."""
    codemod = CODEMODS[step.codemod](CodemodContext(filename=path), **step.params)
    code = codemod.transform_module(parse(text, path)).code
    return code, codemod.sites


def run_steps(read: Callable[[str], bytes], steps: Sequence[Step]) -> list[Outcome]:
    """Apply `steps` to files obtained through `read(path)`; raise DriftError on any unexpected count."""
    current: dict[str, str] = {}
    outcomes = []
    for step in steps:
        outcome = Outcome(step, [], {})
        for path in step.files:
            if path not in current:
                current[path] = decode(read(path), path)
            code, sites = transform(step, path, current[path])
            if len(sites) != step.sites:
                raise DriftError(
                    f"{step.codemod}: {path}: expected {step.sites} site(s), found {len(sites)}; "
                    "the upstream changed or the recipe is wrong; nothing was written"
                )
            again, more = transform(step, path, code)
            if more or again != code:
                raise PatcherError(f"{step.codemod}: {path}: not idempotent; a second run changed {more}")
            current[path] = code
            outcome.sites.extend(sites)
            outcome.files[path] = code
        outcomes.append(outcome)
    return outcomes

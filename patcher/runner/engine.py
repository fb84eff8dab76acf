"""The engine: apply a recipe's steps to the files they name, in memory, one process or several, and
give each step's outcome in the files' own bytes.

Each text a file goes through (a file state) is parsed once, and its metadata is resolved once, in a
`FileState` (state.py): the idempotency check of one step runs on the same state as the next step on
that file, so the two share the parse and whatever metadata either declared. With `jobs` > 1, runs and
checks are tasks for that many processes (pool.py).
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

from patcher.codemods.base import Site
from patcher.recipe import Step
from patcher.runner.codec import Form, decode, encode
from patcher.runner.pool import Pipeline
from patcher.runner.state import FileState
from patcher.runner.step import Outcome, step_file


def run_steps(read: Callable[[str], bytes], steps: Sequence[Step], jobs: int = 1) -> list[Outcome]:
    """Apply `steps` to files obtained through `read(path)`; raise DriftError on any unexpected count.

    With `jobs` > 1, codemod runs go to that many processes (see pool.Pipeline). Either way the error raised
    is the first one a run step by step, file by file, meets.
    """
    chains: dict[str, list[tuple[int, Step]]] = {}
    for index, step in enumerate(steps):
        for path in step.files:
            chains.setdefault(path, []).append((index, step))
    forms: dict[str, Form] = {}

    def text_of(path: str) -> str:
        text, forms[path] = decode(read(path), path)
        return text

    done: dict[str, dict[int, tuple[str, list[Site]]]]
    if jobs > 1:
        done = Pipeline(steps, chains, text_of).run(jobs)
    else:
        done = {path: {} for path in chains}
        states: dict[str, FileState] = {}
        for index, step in enumerate(steps):
            for path in step.files:
                if path not in states:
                    states[path] = FileState(path, text_of(path))
                states[path], sites = step_file(step, states[path])
                done[path][index] = (states[path].text, sites)
    outcomes = []
    for index, step in enumerate(steps):
        outcome = Outcome(step, [], {})
        for path in step.files:
            text, sites = done[path][index]
            outcome.sites.extend(sites)
            outcome.files[path] = encode(text, forms[path], path)
        outcomes.append(outcome)
    return outcomes

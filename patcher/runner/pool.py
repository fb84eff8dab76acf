"""Process pool: a recipe's codemod runs and idempotency checks as tasks for several processes, ordered so
that the longest chain of runs never waits for a check, and the error raised is the one a run in order
would meet."""
from __future__ import annotations

import heapq
import multiprocessing
import os
import signal
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool

from patcher.codemods.base import Site
from patcher.errors import PatcherError
from patcher.sandbox import broken
from patcher.recipe import Step
from patcher.runner.layout import unsited
from patcher.runner.state import FileState
from patcher.runner.step import drift, not_idempotent, run

Done = dict[str, dict[int, tuple[str, list[Site]]]]


class Pipeline:
    """Runs and idempotency checks as tasks for a pool of processes, at most one per process at a time.

    A step's run on a file needs the previous step's output on that file; its check needs its own
    output; nothing else waits. So the next run starts as soon as a run ends, while its check runs in
    the other process: the longest file's chain of runs, which bounds the whole, is never held up by a
    check. Runs go first (the file with most work left first), then checks in step order. A run's
    sites are counted as it ends; a chain stops at its first error, and the error raised is the one
    with the lowest (step, file) position, which is the one the sequential loop would meet.
    """

    def __init__(self, steps: Sequence[Step], chains: dict[str, list[tuple[int, Step]]],
                 read: Callable[[str], str]) -> None:
        self.steps, self.chains, self.read = steps, chains, read
        self.done: Done = {path: {} for path in chains}
        self.errors: list[tuple[int, int, BaseException]] = []
        self.ready: list[tuple[tuple[int, ...], int, str, str, int, str]] = []
        self.count = 0

    def position(self, path: str, index: int) -> tuple[int, int]:
        return index, self.steps[index].files.index(path)

    def fail(self, path: str, index: int, error: BaseException) -> None:
        self.errors.append((*self.position(path, index), error))

    def moot(self, path: str, index: int) -> bool:
        """True when an error at an earlier position is already known."""
        return any(e[:2] < self.position(path, index) for e in self.errors)

    def push(self, kind: str, path: str, pos: int, text: str) -> None:
        index, _ = self.chains[path][pos]
        if kind == "run":
            priority = (0, -len(text) * (len(self.chains[path]) - pos), index)
        else:
            priority = (1, *self.position(path, index))
        self.count += 1
        heapq.heappush(self.ready, (priority, self.count, kind, path, pos, text))

    def run(self, jobs: int) -> Done:
        for path, chain in self.chains.items():
            try:
                self.push("run", path, 0, self.read(path))
            except PatcherError as exc:
                self.fail(path, chain[0][0], exc)
        import ctypes  # noqa: F401, PLC0415 - here, so that a forked process imports nothing (see _worker_init)

        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(jobs, mp_context=context, initializer=_worker_init, initargs=(os.getpid(),)) as pool:
            running: dict[Future[tuple[str, list[Site]]], tuple[str, str, int, str]] = {}
            try:
                while self.ready or running:
                    while self.ready and len(running) < jobs:
                        _, _, kind, path, pos, text = heapq.heappop(self.ready)
                        index, step = self.chains[path][pos]
                        if not self.moot(path, index):
                            running[pool.submit(_task, step, path, text)] = (kind, path, pos, text)
                    if not running:
                        break
                    finished, _ = wait(running, return_when=FIRST_COMPLETED)
                    if any(isinstance(f.exception(), BrokenProcessPool) for f in finished):
                        raise BrokenProcessPool
                    for future in finished:
                        self.finish(*running.pop(future), future)
            except BrokenProcessPool:
                raise broken(f"{self.chains[p][pos][1].codemod} (from {self.chains[p][pos][1].origin}) on {p}"
                             for _, p, pos, _ in running.values()) from None
        if self.errors:
            raise min(self.errors, key=lambda e: e[:2])[2]
        return self.done

    def finish(self, kind: str, path: str, pos: int, text: str, future: Future[tuple[str, list[Site]]]) -> None:
        index, step = self.chains[path][pos]
        try:
            code, sites = future.result()
        except Exception as exc:  # noqa: BLE001 - any error of a codemod run stops its chain, as it would in order
            self.fail(path, index, exc)
            return
        if kind == "check":
            if sites or code != text:
                self.fail(path, index, not_idempotent(step, path, sites))
            return
        if len(sites) != step.sites:
            self.fail(path, index, drift(step, path, len(sites)))
            return
        outside = unsited(step, path, text, code, sites)
        if outside:
            self.fail(path, index, outside)
            return
        self.done[path][index] = (code, sites)
        if code == text:
            if sites:  # running it on its own output would find them again
                self.fail(path, index, not_idempotent(step, path, sites))
                return
        else:
            self.push("check", path, pos, code)
        if pos + 1 < len(self.chains[path]):
            self.push("run", path, pos + 1, code)


# In a pool process: the last file states it parsed, so that a check and the next step's run on the same
# text share the parse and metadata when they come to the same process.
_STATES: dict[tuple[str, str], FileState] = {}


def _task(step: Step, path: str, text: str) -> tuple[str, list[Site]]:
    key = (path, text)
    state = _STATES.pop(key, None) or FileState(path, text)
    try:
        return run(step, state)
    finally:
        _STATES[key] = state
        while len(_STATES) > 2:
            del _STATES[next(iter(_STATES))]


def _worker_init(parent: int) -> None:
    """A pool process dies with the run that forked it: it holds the checkout's lock file open, and a
    killed run's next attempt must not find it held."""
    try:
        import ctypes  # noqa: PLC0415 - imported by the parent already (see Pipeline.run)

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:
        os._exit(1)


def default_jobs() -> int:
    """Processes for run_steps: PATCHER_JOBS if set, else 2 where there are two cores or more (on the
    real upstream, 2 processes on 2 cores take about 60 % of one process's time), else 1."""
    value = os.environ.get("PATCHER_JOBS", "")
    if value.isdigit() and int(value) > 0:
        return int(value)
    return min(2, len(os.sched_getaffinity(0)))

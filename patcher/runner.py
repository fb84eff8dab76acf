"""Run recipe steps in memory: count each codemod's sites, re-parse its output, check it is idempotent.

The idempotency check is the re-parse: the output is parsed again and the codemod must find nothing there.

Each text a file goes through (a file state) is parsed once, and its metadata is resolved once, in a
`FileState`: the idempotency check of one step runs on the same state as the next step on that file,
so the two share the parse and whatever metadata either declared. With `jobs` > 1, runs and checks are
tasks for that many processes: a step's check and the next step's run, and other files' steps, run at
the same time (see _Pipeline).
"""
from __future__ import annotations

import ast
import difflib
import hashlib
import heapq
import importlib.metadata
import io
import json
import multiprocessing
import os
import re
import signal
import tokenize
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import libcst as cst
from libcst.codemod import CodemodContext
from libcst.metadata import MetadataWrapper

from patcher.codemods import CODEMODS  # noqa: F401 - what Step.cls looks shipped codemods up in
from patcher.codemods import SHIPPED_ORIGIN
from patcher.codemods.base import Site
from patcher.errors import DriftError, PatcherError, SourceError
from patcher.recipe import Recipe, Step

PACKAGE = Path(__file__).resolve().parent
# What a run's result depends on besides the recipe, the model and the pin: every codemod module (the
# registry and base.py included), this runner, and checkout.py (which writes the commits).
SOURCES = (PACKAGE / "codemods", PACKAGE / "runner.py", PACKAGE / "checkout.py")


@dataclass
class Outcome:
    """What one step did: the sites it changed and the new bytes of each file it edited (in the file's
    own encoding, byte-order mark and line endings)."""

    step: Step
    sites: list[Site]
    files: dict[str, bytes]


def parse(text: str, path: str) -> cst.Module:
    """The module; SourceError (7) naming the line and column (1-based) of a syntax error. LibCST puts
    its tokenizer's errors at 1:0, so Python's own parser is asked where the problem is."""
    try:
        return cst.parse_module(text)
    except cst.ParserSyntaxError as exc:
        line, column, message = exc.raw_line, exc.raw_column + 1, exc.message
        try:
            compile(text, path, "exec", ast.PyCF_ONLY_AST, dont_inherit=True)
        except SyntaxError as python:  # Python sees the problem too, and knows where it is
            line, column, message = python.lineno or line, python.offset or column, python.msg
        except (ValueError, RecursionError, MemoryError):
            pass
        first = (message.strip().splitlines() or ["syntax error"])[0]
        raise SourceError(f"{path}:{line}:{column}: libcst cannot parse it: {first}") from None


@dataclass(frozen=True)
class Form:
    """How a file's bytes became the text the codemods read: the codec (`utf-8-sig` when the file starts
    with a byte-order mark, the PEP 263 coding line's when it has one, else UTF-8), and whether its lone
    CR line endings were read as LF (libcst drops a final lone CR)."""

    encoding: str
    lone_cr: bool = False


def decode(data: bytes, path: str) -> tuple[str, Form]:
    """The text of a source file and its Form, as Python itself decodes it: a byte-order mark or a PEP 263
    coding line names the codec, else UTF-8. SourceError (7) naming the line and byte that do not decode,
    or the unknown codec."""
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as exc:
        if "invalid or missing encoding declaration" not in str(exc):  # an unknown codec, a mark and a cookie at odds
            raise SourceError(f"{path}: {exc.msg}") from None
        encoding = "utf-8"  # no coding line, and its first lines are not UTF-8: decoding says where
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = len(NEWLINE_BYTES.findall(data, 0, exc.start)) + 1
        name = "UTF-8" if encoding.startswith("utf-8") else encoding
        raise SourceError(f"{path}:{line}: not {name} (byte {data[exc.start]:#04x})") from None
    lone_cr = "\r" in text and "\n" not in text
    return (text.replace("\r", "\n") if lone_cr else text), Form(encoding, lone_cr)


def encode(text: str, form: Form, path: str) -> bytes:
    """The bytes of `text` as the file was written (see Form); SourceError when the codemod wrote a
    character the file's codec cannot hold."""
    if form.lone_cr:
        text = text.replace("\n", "\r")
    try:
        return text.encode(form.encoding)
    except UnicodeEncodeError as exc:
        raise SourceError(f"{path}: the codemods wrote {text[exc.start]!r}, which {form.encoding} cannot "
                          "hold; nothing was written") from None


NEWLINE_BYTES = re.compile(rb"\r\n|\r|\n")
LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")


def _ending(line: str) -> str:
    return line[len(line.rstrip("\r\n")):]


def _trailing(line: str) -> str:
    body = line.rstrip("\r\n")
    return body[len(body.rstrip()):]


def unsited(step: Step, path: str, before: str, after: str, sites: Sequence[Site]) -> PatcherError | None:
    """What a step changed outside its sites, as an error, or None.

    Each hunk of the line diff must hold a site the codemod reported (an inserted hunk: a site on a line
    next to it); and the layout is kept: line endings (LF, CRLF, lone CR, mixed), trailing whitespace and
    tabs are as they were line for line where a hunk keeps its line count, and otherwise as a whole
    (only endings and tabs the hunk or its neighbours had, the same trailing whitespace); the file ends
    with a newline if and only if it did.
    """
    old, new = LINE.findall(before), LINE.findall(after)
    lines = {s.line for s in sites if s.path == path}

    def fault(line: int, what: str) -> PatcherError:
        return PatcherError(f"{step.codemod}: {path}:{line}: changed {what} outside the sites it reported; "
                            "nothing was written (a fault of the codemod)")

    if old and new and bool(_ending(old[-1])) != bool(_ending(new[-1])):
        return fault(len(old), "the final newline")
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        first, last = (i1 + 1, i2) if i2 > i1 else (i1, i1 + 1)
        if not any(first <= line <= last for line in lines):
            return fault(first if i2 > i1 else i1 + 1, "a line")
        was, now = old[i1:i2], new[j1:j2]
        near = old[max(i1 - 1, 0):i1] + old[i2:i2 + 1]
        if len(was) == len(now):
            for k, (a, b) in enumerate(zip(was, now)):
                for what, get in (("the line ending", _ending), ("trailing whitespace", _trailing),
                                  ("tabs", lambda x: x.count("\t"))):
                    if get(a) != get(b):
                        return fault(i1 + k + 1, what)
            continue
        endings = {_ending(x) for x in was + near} - {""}
        if any(_ending(x) not in endings for x in now if _ending(x)):
            return fault(first, "the line ending")
        if sorted(filter(None, map(_trailing, was))) != sorted(filter(None, map(_trailing, now))):
            return fault(first, "trailing whitespace")
        tabs = any("\t" in x for x in was)
        if (tabs and not any("\t" in x for x in now)) or (
                any("\t" in x for x in now) and not tabs and not any("\t" in x for x in near)):
            return fault(first, "tabs")
    return None


class Wrapper(MetadataWrapper):
    """A MetadataWrapper without libcst's traversals that call nothing.

    libcst resolves each round of batchable providers with one traversal of the whole module calling
    their visit_*/leave_* methods, and makes one after every provider that is not batchable with no
    provider at all. ScopeProvider and ExpressionContextProvider, the batchable providers that scope
    analysis needs, do all their work in visit_Module (each with its own traversal), so the batched
    traversal calls them at the root and then walks every node for nothing. Here, when the providers of
    a round define no method but visit_Module, visit_Module is called on the root and nothing else:
    exactly what the traversal would call.
    """

    __slots__ = ()

    def visit_batched(self, visitors, before_visit=None, after_leave=None):
        visitors = list(visitors)
        if before_visit is None and after_leave is None:
            methods = [v.get_visitors() for v in visitors]
            if all(set(m) <= {"visit_Module"} for m in methods):
                with ExitStack() as stack:
                    for visitor in visitors:  # each provider's own dependencies, as the traversal has them
                        stack.enter_context(visitor.resolve(self))
                    for found in methods:
                        if "visit_Module" in found:
                            found["visit_Module"](self.module)
                return self.module
        return super().visit_batched(visitors, before_visit, after_leave)


class FileState:
    """One text of one file, parsed on first use and wrapped once: metadata resolved by one codemod
    stays in the wrapper for the next one run on this state."""

    def __init__(self, path: str, text: str) -> None:
        self.path = path
        self.text = text
        self._wrapper: Wrapper | None = None

    @property
    def wrapper(self) -> Wrapper:
        if self._wrapper is None:
            # straight from the parser, so no node appears twice: the deep copy libcst makes by default
            # to guarantee that is not needed
            self._wrapper = Wrapper(parse(self.text, self.path), unsafe_skip_copy=True)
        return self._wrapper


def run(step: Step, state: FileState) -> tuple[str, list[Site]]:
    """One codemod on one file state: the new text and the sites it changed."""
    codemod = step.cls(CodemodContext(filename=state.path), **step.params)
    code = codemod.transform_wrapped(state.wrapper).code
    return code, codemod.sites


def transform(step: Step, path: str, text: str) -> tuple[str, list[Site]]:
    """One codemod on one file's text: the new text and the sites it changed."""
    return run(step, FileState(path, text))


def drift(step: Step, path: str, found: int) -> DriftError:
    return DriftError(f"{step.codemod}: {path}: expected {step.sites} site(s), found {found}; "
                      "the upstream changed or the recipe is wrong; nothing was written")


def not_idempotent(step: Step, path: str, more: list[Site]) -> PatcherError:
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


def run_steps(read: Callable[[str], bytes], steps: Sequence[Step], jobs: int = 1) -> list[Outcome]:
    """Apply `steps` to files obtained through `read(path)`; raise DriftError on any unexpected count.

    With `jobs` > 1, codemod runs go to that many processes (see _Pipeline). Either way the error raised
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

    if jobs > 1:
        done = _Pipeline(steps, chains, text_of).run(jobs)
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


class _Pipeline:
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
        self.done: dict[str, dict[int, tuple[str, list[Site]]]] = {path: {} for path in chains}
        self.errors: list[tuple[int, int, BaseException]] = []
        self.ready: list = []
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

    def run(self, jobs: int) -> dict[str, dict[int, tuple[str, list[Site]]]]:
        for path, chain in self.chains.items():
            try:
                self.push("run", path, 0, self.read(path))
            except PatcherError as exc:
                self.fail(path, chain[0][0], exc)
        import ctypes  # noqa: F401 - here, so that a forked process imports nothing (see _worker_init)

        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(jobs, mp_context=context, initializer=_worker_init, initargs=(os.getpid(),)) as pool:
            running: dict = {}
            while self.ready or running:
                while self.ready and len(running) < jobs:
                    _, _, kind, path, pos, text = heapq.heappop(self.ready)
                    index, step = self.chains[path][pos]
                    if not self.moot(path, index):
                        running[pool.submit(_task, step, path, text)] = (kind, path, pos, text)
                if not running:
                    break
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    self.finish(*running.pop(future), future)
        if self.errors:
            raise min(self.errors, key=lambda e: e[:2])[2]
        return self.done

    def finish(self, kind: str, path: str, pos: int, text: str, future) -> None:
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
        import ctypes  # imported by the parent already

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


def digest(recipe: Recipe, model: str, pin: str) -> str:
    """SHA-256 of everything a run's result depends on: the recipe file's bytes (not its name or folder)
    and the steps it gives for `model`, the model's name, the pin, the libcst version and the source of
    every shipped codemod, this runner and checkout.py, and the module file of each codemod the recipe
    brings from outside patcher. Equal digests mean `apply` would make the same commits."""
    sha = hashlib.sha256()

    def part(name: str, data: bytes) -> None:
        sha.update(f"{name}\0{len(data)}\0".encode())
        sha.update(data)

    part("format", b"patcher-digest 1")
    part("recipe", recipe.path.read_bytes() if recipe.path is not None else b"")
    steps = [[s.codemod, list(s.files), s.sites, s.params] for s in recipe.for_model(model)]
    part("steps", json.dumps(steps, sort_keys=True, default=str).encode())
    part("model", model.encode())
    part("pin", pin.encode())
    part("libcst", importlib.metadata.version("libcst").encode())
    for source in SOURCES:
        for file in sorted(source.glob("*.py")) if source.is_dir() else [source]:
            name = file.relative_to(PACKAGE).as_posix() if file.is_relative_to(PACKAGE) else str(file)
            part(name, file.read_bytes())
    # codemods from outside patcher: the module file of each (by name, not path: moving it changes nothing)
    external = {s.codemod: s.impl.file for s in recipe.steps if s.origin != SHIPPED_ORIGIN and s.impl.file}
    for name, file in sorted(external.items()):
        part(f"codemod {name}", file.read_bytes())
    return sha.hexdigest()

"""Layout guard: a codemod may change only the lines of the sites it reports, and keeps each file's line
endings, trailing whitespace, tabs and final newline."""
from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Sequence

from patcher.codemods.base import Site
from patcher.errors import PatcherError
from patcher.recipe import Step

LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")


def _ending(line: str) -> str:
    return line[len(line.rstrip("\r\n")):]


def _trailing(line: str) -> str:
    body = line.rstrip("\r\n")
    return body[len(body.rstrip()):]


def _tabs(line: str) -> int:
    return line.count("\t")


KEPT: tuple[tuple[str, Callable[[str], object]], ...] = (
    ("the line ending", _ending), ("trailing whitespace", _trailing), ("tabs", _tabs))


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
            for k, (a, b) in enumerate(zip(was, now, strict=True)):
                for what, get in KEPT:
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

"""Parse cache: each text a file goes through is parsed once and its metadata resolved once, in a
FileState shared by every codemod run on that text. Parse failures are one error naming their place."""
from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterable
from contextlib import ExitStack
from typing import Any

import libcst as cst
from libcst.metadata import MetadataWrapper

from patcher.errors import SourceError

LINES = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")
TOKENIZER = "tokenizer error"


def parse(text: str, path: str) -> cst.Module:
    """The module; SourceError (7) naming the line and column (1-based) where parsing fails.

    LibCST puts its tokenizer's errors at 1:1 (it knows no place for them), so the place comes from
    Python's own parser when Python refuses the text too, else from `tokenizer_fault`."""
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
        else:  # only libcst refuses it: its parser's place is right, its tokenizer's is not
            if message.startswith(TOKENIZER):
                line, column = tokenizer_fault(text, message)
        first = (message.strip().splitlines() or ["syntax error"])[0]
        raise SourceError(f"{path}:{line}:{column}: libcst cannot parse it: {first}") from None


def tokenizer_fault(text: str, message: str) -> tuple[int, int]:
    """(line, column), 1-based, where libcst's tokenizer meets the error `message` in `text`.

    The tokenizer reads the text in order and stops at the first line it refuses, whatever follows, so
    the first N lines give the same error exactly when N reaches that line: a binary search over N
    finds it with about log2(lines) parses. The column is where the line's indentation ends (the
    tokenizer's errors that Python does not share are about indentation), 1 when it has none."""
    lines = LINES.findall(text)

    def fails(count: int) -> bool:
        try:
            cst.parse_module("".join(lines[:count]))
        except cst.ParserSyntaxError as exc:
            return exc.message == message
        return False

    low, high = 1, len(lines)
    if not lines or not fails(high):
        return 1, 1
    while low < high:
        middle = (low + high) // 2
        if fails(middle):
            high = middle
        else:
            low = middle + 1
    found = lines[low - 1]
    return low, len(found) - len(found.lstrip(" \t\f")) + 1 if found.strip() else 1


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

    def visit_batched(self, visitors: Iterable[Any], before_visit: Callable[..., Any] | None = None,
                      after_leave: Callable[..., Any] | None = None) -> cst.CSTNode:
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

"""Restore a commented-out call to a named function as code, where it stood, keeping the comments around it."""
from __future__ import annotations

import textwrap
from collections.abc import Sequence
from typing import TypeVar

import libcst as cst
import libcst.matchers as m
from libcst.codemod import CodemodContext

from patcher.codemods.base import SiteCodemod

Block = TypeVar("Block", cst.IndentedBlock, cst.Module)


def _uncomment(lines: Sequence[cst.EmptyLine], newline: str) -> str:
    """The code in comment lines: without '#', and without the space after it where every line has one;
    each line ends as its comment line did (`newline` is the file's default)."""
    bodies = [line.comment.value[1:] if line.comment else "" for line in lines]  # lines of comments only
    cut = 1 if all(b.startswith(" ") or not b for b in bodies) else 0
    code = textwrap.dedent("\n".join(b[cut:] for b in bodies)).split("\n")
    return "".join(text + (line.newline.value or newline) for text, line in zip(code, lines, strict=False))


class UncommentCall(SiteCodemod):
    DESCRIPTION = "Restore the commented-out call as code, keeping its indentation and the comments around it."
    METADATA_DEPENDENCIES = ()  # positions and scope() need none declared (see SiteCodemod)

    def __init__(self, context: CodemodContext, *, function: str) -> None:
        super().__init__(context)
        self.function = function

    def _find(self, lines: Sequence[cst.EmptyLine]) -> tuple[int, int, cst.SimpleStatementLine] | None:
        """The first run lines[start:end] of comments that reads as one call to the function."""
        for start, line in enumerate(lines):
            if line.comment is None or not line.comment.value[1:].lstrip().startswith(self.function + "("):
                continue
            end = start
            while end < len(lines) and lines[end].comment is not None:
                end += 1
                newline = self.wrapper().module.default_newline
                # libcst takes the default line ending from the first line it reads (not from its config) and
                # records the others: a first line `pass` ending as the file's default keeps every line's own
                try:
                    body = cst.parse_module(f"pass{newline}" + _uncomment(lines[start:end], newline)).body
                except cst.ParserSyntaxError:
                    continue
                stmt = body[1] if len(body) == 2 else None
                call = m.SimpleStatementLine(body=[m.Expr(value=m.Call(func=m.Name(self.function)))])
                if isinstance(stmt, cst.SimpleStatementLine) and m.matches(stmt, call):
                    return start, end, stmt
                break
        return None

    def _restore(self, original: Block, updated: Block) -> Block:
        """The block's statements and footer with each commented-out call made a statement.

        Comment lines are taken from `original`, which carries their positions; this transform never
        changes them, so they equal the updated ones.
        """
        new_body: list[cst.BaseStatement] = []

        def take(lines: Sequence[cst.EmptyLine]) -> Sequence[cst.EmptyLine]:
            found = self._find(lines)
            while found:
                start, end, stmt = found
                self.record(lines[start], f"commented-out call {self.function}(...) restored as code")
                new_body.append(stmt.with_changes(leading_lines=lines[:start]))
                lines = lines[end:]
                found = self._find(lines)
            return lines

        for old, new in zip(original.body, updated.body, strict=False):
            # every statement is one of the two (BaseStatement declares no leading_lines)
            leading = old.leading_lines if isinstance(old, (cst.SimpleStatementLine, cst.BaseCompoundStatement)) else ()
            new_body.append(new.with_changes(leading_lines=take(leading)))
        footer = take(original.footer)
        return updated.with_changes(body=new_body, footer=footer)

    def leave_IndentedBlock(self, original: cst.IndentedBlock, updated: cst.IndentedBlock) -> cst.IndentedBlock:
        return self._restore(original, updated)

    def leave_Module(self, original: cst.Module, updated: cst.Module) -> cst.Module:
        return self._restore(original, updated)

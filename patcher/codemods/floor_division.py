"""Make true division integer division in an assignment that builds a shape, so every dimension is an int."""
from __future__ import annotations

import libcst as cst
import libcst.matchers as m
from libcst.codemod import CodemodContext

from patcher.codemods.base import SiteCodemod


class FloorDivision(SiteCodemod):
    DESCRIPTION = "Use // where a shape list divides channel counts, so TensorFlow gets integer dimensions."
    METADATA_DEPENDENCIES = ()  # positions and scope() need none declared (see SiteCodemod)

    def __init__(self, context: CodemodContext, *, function: str, target: str) -> None:
        super().__init__(context)
        self.function = function
        self.target = target
        self.inside = 0

    def visit_Assign(self, node: cst.Assign) -> None:
        if m.matches(node, m.Assign(targets=[m.AssignTarget(target=m.Name(self.target))])) and (
            not self.function or self.in_scope(node, self.function)
        ):
            self.inside += 1

    def leave_Assign(self, original: cst.Assign, updated: cst.Assign) -> cst.Assign:
        if m.matches(original, m.Assign(targets=[m.AssignTarget(target=m.Name(self.target))])) and (
            not self.function or self.in_scope(original, self.function)
        ):
            self.inside -= 1
        return updated

    def leave_BinaryOperation(self, original: cst.BinaryOperation, updated: cst.BinaryOperation) -> cst.BinaryOperation:
        if not self.inside or not isinstance(updated.operator, cst.Divide):
            return updated
        op = updated.operator
        self.record(original.operator, f"'/' -> '//' in {self.target}")
        return updated.with_changes(operator=cst.FloorDivide(whitespace_before=op.whitespace_before,
                                                             whitespace_after=op.whitespace_after))

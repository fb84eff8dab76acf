"""Import a name from the module that still provides it on today's TensorFlow."""
from __future__ import annotations

import libcst as cst
from libcst.codemod import CodemodContext
from libcst.helpers import get_full_name_for_node, parse_template_expression

from patcher.codemods.base import SiteCodemod


class ReplaceImport(SiteCodemod):
    DESCRIPTION = "Import the name from the module that still provides it on TensorFlow 2."
    METADATA_DEPENDENCIES = ()  # positions and scope() need none declared (see SiteCodemod)

    def __init__(self, context: CodemodContext, *, module: str, name: str, new_module: str) -> None:
        super().__init__(context)
        self.old, self.imported, self.new = module, name, new_module

    def leave_ImportFrom(self, original: cst.ImportFrom, updated: cst.ImportFrom) -> cst.ImportFrom:
        if updated.module is None or get_full_name_for_node(updated.module) != self.old:
            return updated
        if isinstance(updated.names, cst.ImportStar):
            return updated
        if [get_full_name_for_node(a.name) for a in updated.names] != [self.imported]:
            return updated
        self.record(original, f"from {self.old} -> from {self.new}")
        return updated.with_changes(module=parse_template_expression(self.new))

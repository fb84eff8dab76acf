"""Import a module that is gone under its old alias from the module that replaces it."""
from __future__ import annotations

import libcst as cst
from libcst.codemod import CodemodContext
from libcst.helpers import get_full_name_for_node, parse_template_expression

from patcher.codemods.base import SiteCodemod


class ReplaceModule(SiteCodemod):
    """`import MODULE as c` and `from PARENT import LAST [as c]` (MODULE being PARENT.LAST, the only name
    of that statement) become `import NEW_MODULE as c` (c being LAST when no alias is given), so the code
    that uses `c` is unchanged. `import MODULE` without an alias binds the top package and is left alone,
    as are relative imports and `from` statements importing more than one name."""

    DESCRIPTION = "Import the replacement module under the name the old module was bound to."
    METADATA_DEPENDENCIES = ()  # positions and scope() need none declared (see SiteCodemod)

    def __init__(self, context: CodemodContext, *, module: str, new_module: str) -> None:
        super().__init__(context)
        self.old, self.new = module, new_module

    def leave_Import(self, original: cst.Import, updated: cst.Import) -> cst.Import:
        names = list(updated.names)
        for i, alias in enumerate(names):
            if alias.asname is None or get_full_name_for_node(alias.name) != self.old:
                continue
            bound = get_full_name_for_node(alias.asname.name)
            names[i] = alias.with_changes(name=self._new())
            self.record(original.names[i], f"import {self.old} as {bound} -> import {self.new} as {bound}")
        return updated.with_changes(names=names)

    def leave_ImportFrom(self, original: cst.ImportFrom, updated: cst.ImportFrom) -> cst.BaseSmallStatement:
        if updated.module is None or updated.relative or isinstance(updated.names, cst.ImportStar):
            return updated
        if len(updated.names) != 1:
            return updated
        alias = updated.names[0]
        name = get_full_name_for_node(alias.name)
        if f"{get_full_name_for_node(updated.module)}.{name}" != self.old:
            return updated
        bound = get_full_name_for_node(alias.asname.name) if alias.asname else name
        if bound is None:
            return updated
        self.record(original, f"from-import of {self.old} as {bound} -> import {self.new} as {bound}")
        return cst.Import(names=[cst.ImportAlias(name=self._new(), asname=cst.AsName(name=cst.Name(bound)))],
                          semicolon=updated.semicolon)

    def _new(self) -> cst.Attribute | cst.Name:
        new = parse_template_expression(self.new)
        return new if isinstance(new, cst.Attribute) else cst.ensure_type(new, cst.Name)

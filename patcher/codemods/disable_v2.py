"""Call disable_v2_behavior() after a script's imports, so its placeholders and sessions run in graph mode."""
from __future__ import annotations

import libcst as cst
import libcst.matchers as m

from patcher.codemods.base import TF_V1, SiteCodemod, tf_import

SWITCHES = ("disable_v2_behavior", "disable_eager_execution")


class DisableV2(SiteCodemod):
    DESCRIPTION = "Call tf.disable_v2_behavior() after the imports, so placeholders and sessions run in graph mode."
    METADATA_DEPENDENCIES = ()  # positions and scope() need none declared (see SiteCodemod)

    def leave_Module(self, original: cst.Module, updated: cst.Module) -> cst.Module:
        found = tf_import(original)
        if found is None or m.findall(original, m.Attribute(attr=m.OneOf(*map(m.Name, SWITCHES)))):
            return updated
        alias, dotted = found
        imports = [i for i, s in enumerate(original.body)
                   if m.matches(s, m.SimpleStatementLine(body=[m.Import() | m.ImportFrom()]))]
        call = f"{alias}.disable_v2_behavior()" if dotted == TF_V1 else f"{alias}.compat.v1.disable_v2_behavior()"
        self.record(original.body[imports[-1]], f"{call} after the last import")
        body = list(updated.body)
        body.insert(imports[-1] + 1, cst.parse_statement(call + "\n"))
        return updated.with_changes(body=body)

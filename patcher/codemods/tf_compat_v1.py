"""Import TensorFlow's TF1 API under the module's alias, so TF1 code runs on TensorFlow 2."""
from __future__ import annotations

import libcst as cst
import libcst.matchers as m

from patcher.codemods.base import SiteCodemod


class TfCompatV1(SiteCodemod):
    DESCRIPTION = "Import tensorflow.compat.v1 under the same alias, so the TF1 API resolves on TensorFlow 2."
    METADATA_DEPENDENCIES = ()  # positions and scope() need none declared (see SiteCodemod)

    def leave_Import(self, original: cst.Import, updated: cst.Import) -> cst.Import:
        names = list(updated.names)
        for i, alias in enumerate(names):
            if m.matches(alias, m.ImportAlias(name=m.Name("tensorflow"), asname=m.AsName())):
                v1 = cst.Attribute(value=cst.Attribute(value=cst.Name("tensorflow"), attr=cst.Name("compat")),
                                   attr=cst.Name("v1"))
                names[i] = alias.with_changes(name=v1)
                shown = cst.Module([]).code_for_node(alias.asname.name) if alias.asname else ""
                self.record(original, f"import tensorflow as {shown} -> tensorflow.compat.v1")
        return updated.with_changes(names=names)

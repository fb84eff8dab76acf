"""Take image-resize sizes from tf.shape(x) at run time instead of the static x.shape."""
from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import libcst as cst
import libcst.matchers as m
from libcst.codemod import CodemodContext
from libcst.metadata import ScopeProvider

from patcher.codemods.base import SiteCodemod, argument, tf_alias, tf_shape_of


class DynamicResize(SiteCodemod):
    DESCRIPTION = "Resize to tf.shape(x)[a:b] at run time instead of the static x.shape[a:b]."
    METADATA_DEPENDENCIES = (ScopeProvider,)  # tf_names()

    def __init__(self, context: CodemodContext, *, scope: str, functions: Sequence[str]) -> None:
        super().__init__(context)
        self.where = scope
        self.functions = set(functions)
        self.tf: str | None = None

    def visit_Module(self, node: cst.Module) -> None:
        self.tf = tf_alias(node)

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> cst.Call:
        if self.tf is None or not self.functions & self.tf_names(original.func):
            return updated
        if self.where and not self.in_scope(original, self.where):
            return updated
        size = argument(updated, 1, "size")
        static = m.Subscript(value=m.Attribute(attr=m.Name("shape")))
        if size is None or not m.matches(size.value, static):
            return updated
        tensor = cast(cst.Attribute, cast(cst.Subscript, size.value).value).value  # the matcher's shape
        dynamic = size.value.with_changes(value=tf_shape_of(self.tf, tensor))
        shown = cst.Module([]).code_for_node(size.value)
        self.record(argument(original, 1, "size") or original, f"resize size {shown} -> tf.shape at run time")
        return updated.with_changes(args=[a.with_changes(value=dynamic) if a is size else a for a in updated.args])

"""Open a named tf.placeholder's height and width to None so the graph accepts any image size."""
from __future__ import annotations

from collections.abc import Sequence

import libcst as cst
import libcst.matchers as m
from libcst.codemod import CodemodContext
from libcst.metadata import ScopeProvider

from patcher.codemods.base import SiteCodemod, argument


class OpenPlaceholder(SiteCodemod):
    DESCRIPTION = "Open the input placeholder's height and width to None so any image size fits."
    METADATA_DEPENDENCIES = (ScopeProvider,)  # tf_names()

    def __init__(self, context: CodemodContext, *, name: str, dims: Sequence[int]) -> None:
        super().__init__(context)
        self.name = name
        self.dims = tuple(dims)

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> cst.Call:
        if "tensorflow.placeholder" not in self.tf_names(original.func):
            return updated
        name = argument(updated, 2, "name")
        if name is None or not isinstance(name.value, cst.SimpleString) or name.value.evaluated_value != self.name:
            return updated
        shape = argument(updated, 1, "shape")
        if shape is None or not isinstance(shape.value, cst.List):
            return updated
        elements = list(shape.value.elements)
        if any(i >= len(elements) for i in self.dims):
            return updated
        values = [elements[i].value for i in self.dims]
        if not all(m.matches(v, m.Integer() | m.Name("None")) for v in values):
            return updated
        if all(m.matches(v, m.Name("None")) for v in values):
            return updated
        for i in self.dims:
            elements[i] = elements[i].with_changes(value=cst.Name("None"))
        self.record(argument(original, 1, "shape") or original, f"placeholder '{self.name}': dimensions {list(self.dims)} -> None")
        new_shape = shape.with_changes(value=shape.value.with_changes(elements=elements))
        return updated.with_changes(args=[new_shape if a is shape else a for a in updated.args])

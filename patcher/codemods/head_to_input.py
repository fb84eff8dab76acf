"""Make the segmentation head resize to the network input's run-time size, so the class map fits it pixel for pixel."""
from __future__ import annotations

from collections.abc import Sequence

import libcst as cst
import libcst.matchers as m
from libcst.codemod import CodemodContext
from libcst.metadata import ScopeProvider

from patcher.codemods.base import SiteCodemod, argument, tf_alias, tf_shape_of


class HeadToInput(SiteCodemod):
    DESCRIPTION = "Resize the head's logits to the input's run-time height and width (any size, not only multiples of 8)."
    METADATA_DEPENDENCIES = (ScopeProvider,)  # tf_names()

    def __init__(
        self,
        context: CodemodContext,
        *,
        caller: str,
        head: str,
        source: str,
        head_function: str,
        keyword: str,
        functions: Sequence[str],
    ) -> None:
        super().__init__(context)
        self.caller, self.head, self.source = caller, head, source
        self.head_function, self.keyword = head_function, keyword
        self.functions = set(functions)
        self.tf: str | None = None

    def visit_Module(self, node: cst.Module) -> None:
        self.tf = tf_alias(node)

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> cst.Call:
        if self.tf is None:
            return updated
        if m.matches(original.func, m.Attribute(value=m.Name("self"), attr=m.Name(self.head))):
            return self._pass_size(original, updated, self.tf)
        if self.functions & self.tf_names(original.func) and self.scope(original) == self.head_function:
            return self._take_size(original, updated)
        return updated

    def _pass_size(self, original: cst.Call, updated: cst.Call, tf: str) -> cst.Call:
        if self.scope(original) != self.caller or argument(updated, 99, self.keyword) is not None:
            return updated
        size = cst.Subscript(
            value=tf_shape_of(tf, cst.Name(self.source)),
            slice=[cst.SubscriptElement(cst.Slice(lower=cst.Integer("1"), upper=cst.Integer("3")))],
        )
        args = list(updated.args)
        last = args[-1]
        comma = args[-2].comma if len(args) > 1 else None
        between = comma.whitespace_after if isinstance(comma, cst.Comma) else cst.SimpleWhitespace(" ")
        args[-1] = last.with_changes(comma=cst.Comma(whitespace_after=between),
                                     whitespace_after_arg=cst.SimpleWhitespace(""))
        args.append(last.with_changes(keyword=cst.Name(self.keyword), value=size,
                                      equal=last.equal if last.keyword else cst.AssignEqual(
                                          cst.SimpleWhitespace(""), cst.SimpleWhitespace(""))))
        self.record(original.args[-1], f"head call passes {self.keyword}=tf.shape({self.source})[1:3]")
        return updated.with_changes(args=args)

    def _take_size(self, original: cst.Call, updated: cst.Call) -> cst.Call:
        size = argument(updated, 1, "size")
        taken = m.Call(func=m.Attribute(value=m.Name("kwargs"), attr=m.Name("get")))
        if size is None or m.matches(size.value, taken):
            return updated
        value = cst.Call(
            func=cst.Attribute(value=cst.Name("kwargs"), attr=cst.Name("get")),
            args=[cst.Arg(cst.SimpleString(f"'{self.keyword}'"),
                          comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))),
                  cst.Arg(size.value)],
        )
        self.record(argument(original, 1, "size") or original, f"head resizes to kwargs '{self.keyword}' when given")
        return updated.with_changes(args=[a.with_changes(value=value) if a is size else a for a in updated.args])

"""Compute an upsampled size as tf.shape(x)[a:b] * ratio at run time instead of a static list comprehension."""
from __future__ import annotations

from typing import cast

import libcst as cst
import libcst.matchers as m
from libcst.codemod import CodemodContext

from patcher.codemods.base import SiteCodemod, tf_alias, tf_shape_of

STATIC = m.Subscript(value=m.Call(func=m.Attribute(value=m.Call(func=m.Attribute(attr=m.Name("get_shape"))),
                                                   attr=m.Name("as_list"))))


def _assign(stmt: cst.BaseStatement) -> cst.Assign | None:
    pattern = m.SimpleStatementLine(body=[m.Assign(targets=[m.AssignTarget(target=m.Name())])])
    return cast(cst.Assign, cast(cst.SimpleStatementLine, stmt).body[0]) if m.matches(stmt, pattern) else None


def _scaled(value: cst.BaseExpression, source: str) -> cst.BaseExpression | None:
    """`ratio` when value is `[int(t * ratio) for t in source]`."""
    pattern = m.ListComp(
        elt=m.Call(func=m.Name("int"), args=[m.Arg(value=m.BinaryOperation(left=m.Name(), operator=m.Multiply()))]),
        for_in=m.CompFor(target=m.Name(), iter=m.Name(source), inner_for_in=None, ifs=[]),
    )
    if not m.matches(value, pattern):
        return None
    comp = cast(cst.ListComp, value)  # the shapes below are the pattern's
    product = cast(cst.BinaryOperation, cast(cst.Call, comp.elt).args[0].value)
    return product.right if cast(cst.Name, product.left).value == cast(cst.Name, comp.for_in.target).value else None


def _static_tensor(size: cst.BaseExpression) -> cst.BaseExpression:
    """`x` of a size matching STATIC, `x.get_shape().as_list()[...]`."""
    as_list = cast(cst.Call, cast(cst.Subscript, size).value)
    get_shape = cast(cst.Call, cast(cst.Attribute, as_list.func).value)
    return cast(cst.Attribute, get_shape.func).value


class DynamicHeadSize(SiteCodemod):
    DESCRIPTION = "Compute the head's output size as tf.multiply(tf.shape(x)[a:b], ratio) at run time."
    METADATA_DEPENDENCIES = ()  # positions and scope() need none declared (see SiteCodemod)

    def __init__(self, context: CodemodContext, *, function: str) -> None:
        super().__init__(context)
        self.function = function
        self.tf: str | None = None

    def visit_Module(self, node: cst.Module) -> None:
        self.tf = tf_alias(node)

    def leave_FunctionDef(self, original: cst.FunctionDef, updated: cst.FunctionDef) -> cst.FunctionDef:
        here = ".".join(filter(None, [self.scope(original), original.name.value]))
        if self.tf is None or here != self.function or not isinstance(updated.body, cst.IndentedBlock):
            return updated
        body = list(updated.body.body)
        old = original.body.body
        sizes = {}
        for i, stmt in enumerate(body):
            assign = _assign(stmt)
            if assign is None:
                continue
            name = cast(cst.Name, assign.targets[0].target).value
            if m.matches(assign.value, STATIC):
                sizes[name] = i
                continue
            for source, j in sizes.items():
                ratio = _scaled(assign.value, source)
                if ratio is None:
                    continue
                first = _assign(body[j])
                if first is None:  # sizes holds only assignments
                    continue
                tensor = _static_tensor(first.value)
                shape = first.value.with_changes(value=tf_shape_of(self.tf, tensor))
                body[j] = body[j].with_changes(body=[first.with_changes(value=shape)])
                multiply = cst.Call(
                    func=cst.Attribute(value=cst.Name(self.tf), attr=cst.Name("multiply")),
                    args=[cst.Arg(cst.Name(source), comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))),
                          cst.Arg(ratio)],
                )
                body[i] = stmt.with_changes(body=[assign.with_changes(value=multiply)])
                self.record(old[j], f"static size {source} -> tf.shape at run time")
                self.record(old[i], f"list comprehension over {source} -> tf.multiply({source}, ratio)")
                del sizes[source]
                break
        return updated.with_changes(body=updated.body.with_changes(body=body))

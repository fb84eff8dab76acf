"""Up-sample to the run-time size of the skip tensor the result is added to or concatenated with."""
from __future__ import annotations

from collections.abc import Callable, Sequence

import libcst as cst
import libcst.matchers as m
from libcst.codemod import CodemodContext
from libcst.metadata import ScopeProvider

from patcher.codemods.base import SiteCodemod, argument, tf_alias, tf_shape_of

ADD = "tensorflow.add"
CONCAT = "tensorflow.concat"
# a skip tensor the size can be read from without running anything twice: a name or an attribute chain
SIMPLE = m.Name() | m.Attribute(value=m.Name() | m.Attribute())

# the channel axis of an NHWC tensor, the one axis along which joined tensors share height and width
CHANNELS = m.Integer("3") | m.UnaryOperation(operator=m.Minus(), expression=m.Integer("1"))

class ResizeToSkip(SiteCodemod):
    """A resize whose result meets a skip tensor in `a + b`, `tf.add(a, b)` or `tf.concat([a, b], 3 or -1)`
    resizes to `tf.shape(skip)[1:3]` (NHWC: height and width) instead of a size of its own, such as twice
    the input's (which differs from the skip's by one when a stride-2 layer rounded an odd size up).

    The result meets the skip either in the same expression or through a name: `x = RESIZE(...)` and the
    next statement of that block that reads `x`, a simple statement, pairs it with the skip (any other
    first use leaves the resize alone, and so does a skip bound again between the resize and the add:
    its value at the resize would not be the one added). A size already read with `tf.shape(...)[...]` is left alone.
    """

    DESCRIPTION = "Resize an up-sampled tensor to the run-time size of the skip tensor it is added to."
    METADATA_DEPENDENCIES = (ScopeProvider,)  # tf_names()

    def __init__(self, context: CodemodContext, *, scope: str, functions: Sequence[str]) -> None:
        super().__init__(context)
        self.where = scope
        self.functions = set(functions)
        self.tf: str | None = None
        self.skips: dict[cst.Call, cst.BaseExpression] = {}  # resize call (as read) -> its skip tensor

    def visit_Module(self, node: cst.Module) -> None:
        self.tf = tf_alias(node)
        if self.tf is not None:
            self._block(node.body)

    def visit_IndentedBlock(self, node: cst.IndentedBlock) -> None:
        if self.tf is not None:
            self._block(node.body)

    def visit_BinaryOperation(self, node: cst.BinaryOperation) -> None:
        if self.tf is not None and isinstance(node.operator, cst.Add):
            self._remember([node.left, node.right])

    def visit_Call(self, node: cst.Call) -> None:
        if self.tf is not None and self.tf_names(node.func) & {ADD, CONCAT}:
            self._remember(self._operands(node))

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> cst.Call:
        skip = self.skips.get(original)
        size, at = argument(updated, 1, "size"), argument(original, 1, "size")
        if skip is None or self.tf is None or size is None or at is None:
            return updated
        if self.where and not self.in_scope(original, self.where):
            return updated
        shown = cst.Module([]).code_for_node(skip)
        new = cst.Subscript(value=tf_shape_of(self.tf, skip.deep_clone()),
                            slice=[cst.SubscriptElement(cst.Slice(lower=cst.Integer("1"), upper=cst.Integer("3")))])
        self.record(at,
                    f"resize size {cst.Module([]).code_for_node(size.value)} -> tf.shape({shown})[1:3], "
                    f"the run-time size of the tensor it is added to")
        return updated.with_changes(args=[a.with_changes(value=new) if a is size else a for a in updated.args])

    def _resize(self, node: cst.CSTNode) -> cst.Call | None:
        """`node` when it is a call of a listed resize whose size is not read from tf.shape already."""
        if not isinstance(node, cst.Call) or not self.functions & self.tf_names(node.func):
            return None
        size = argument(node, 1, "size")
        if size is None:
            return None
        value = size.value
        if isinstance(value, cst.Subscript) and isinstance(value.value, cst.Call) \
                and "tensorflow.shape" in self.tf_names(value.value.func):
            return None
        return node

    def _operands(self, call: cst.Call) -> list[cst.BaseExpression]:
        """The tensors `tf.add(a, b)` adds or `tf.concat([a, b, ...], axis)` joins."""
        if CONCAT in self.tf_names(call.func):
            values, axis = argument(call, 0, "values"), argument(call, 1, "axis")
            if values is None or not isinstance(values.value, (cst.List, cst.Tuple)):
                return []
            if axis is None or not m.matches(axis.value, CHANNELS):
                return []  # joined along height or width (or an axis not written out): sizes may differ
            return [e.value for e in values.value.elements if not isinstance(e, cst.StarredElement)]
        return [a.value for a in (argument(call, 0, "x"), argument(call, 1, "y")) if a is not None]

    def _remember(self, operands: list[cst.BaseExpression]) -> None:
        """A resize call met by a skip tensor in one expression."""
        pair = _pair(operands, lambda e: self._resize(e) is not None)
        call = self._resize(pair[0]) if pair is not None else None
        if pair is not None and call is not None:
            self.skips.setdefault(call, pair[1])

    def _block(self, body: Sequence[cst.BaseStatement]) -> None:
        """`x = RESIZE(...)` statements of one block whose next reader of `x` adds or concatenates it."""
        for i, stmt in enumerate(body):
            if not isinstance(stmt, cst.SimpleStatementLine) or not m.matches(
                    stmt, m.SimpleStatementLine(body=[m.Assign(targets=[m.AssignTarget(target=m.Name())])])):
                continue
            assign = cst.ensure_type(stmt.body[0], cst.Assign)
            call = self._resize(assign.value)
            if call is None:
                continue
            name = cst.ensure_type(assign.targets[0].target, cst.Name).value
            at = next((j for j in range(i + 1, len(body)) if m.findall(body[j], m.Name(name))), None)
            reader = body[at] if at is not None else None
            skip = self._skip_of(reader, name) if isinstance(reader, cst.SimpleStatementLine) else None
            if skip is not None and not any(_binds(s, skip) for s in body[i + 1:at]):
                self.skips.setdefault(call, skip)

    def _skip_of(self, stmt: cst.BaseStatement, name: str) -> cst.BaseExpression | None:
        """The one skip tensor `name` meets in `stmt` (by `+`, tf.add or tf.concat), if exactly one."""
        found = []
        for node in m.findall(stmt, m.BinaryOperation(operator=m.Add()) | m.Call()):
            operands: list[cst.BaseExpression] = []
            if isinstance(node, cst.BinaryOperation):
                operands = [node.left, node.right]
            elif isinstance(node, cst.Call) and self.tf_names(node.func) & {ADD, CONCAT}:
                operands = self._operands(node)
            pair = _pair(operands, lambda e: m.matches(e, m.Name(name)))
            if pair is not None:
                found.append(pair[1])
        return found[0] if len(found) == 1 else None


def _pair(operands: list[cst.BaseExpression], is_up: Callable[[cst.BaseExpression], bool]
          ) -> tuple[cst.BaseExpression, cst.BaseExpression] | None:
    """(up-sampled, skip) when there are two operands, one up-sampled and the other a simple tensor."""
    if len(operands) != 2:
        return None
    ups = [e for e in operands if is_up(e)]
    others = [e for e in operands if not is_up(e)]
    if len(ups) != 1 or not m.matches(others[0], SIMPLE):
        return None
    return ups[0], others[0]


TARGETS = m.AssignTarget() | m.AugAssign() | m.AnnAssign() | m.NamedExpr() | m.For() | m.AsName()


def _binds(stmt: cst.CSTNode, skip: cst.BaseExpression) -> bool:
    """True when `stmt` may bind the name `skip` starts with (its value at the add is not the one before)."""
    root = skip
    while isinstance(root, cst.Attribute):
        root = root.value
    name = m.Name(cst.ensure_type(root, cst.Name).value)
    for node in m.findall(stmt, TARGETS):
        target = node.name if isinstance(node, cst.AsName) else node.target  # type: ignore[attr-defined]
        if m.findall(target, name):
            return True
    return False

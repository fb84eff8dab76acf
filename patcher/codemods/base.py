"""What every codemod shares: site records, TensorFlow names seen through aliases, enclosing scopes."""
from __future__ import annotations

import functools
import re
from collections.abc import Collection
from dataclasses import dataclass, replace
from typing import ClassVar, TypeVar, cast

import libcst as cst
import libcst.matchers as m
from libcst.codemod import CodemodContext, VisitorBasedCodemodCommand
from libcst.helpers import get_full_name_for_node
from libcst.metadata import MetadataWrapper, ParentNodeProvider, PositionProvider, ProviderT, ScopeProvider

TF = "tensorflow"
TF_V1 = "tensorflow.compat.v1"
Node = TypeVar("Node", bound=cst.CSTNode)


@dataclass(frozen=True)
class Site:
    """One edit: where (1-based line and column in the file as the codemod read it) and why."""

    path: str
    line: int
    column: int
    reason: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}: {self.reason}"


class SiteCodemod(VisitorBasedCodemodCommand):
    """A codemod that records each edit as a Site; subclasses set DESCRIPTION and call record().

    Metadata is computed once per file state and shared by every codemod run on it (see
    patcher.runner), so each subclass declares in METADATA_DEPENDENCIES only what it reads itself:
    `ScopeProvider` when it calls tf_names(). The other helpers need nothing declared: record()
    resolves positions on the first site in a file state (a run that finds nothing, such as an
    idempotency check, computes none), and scope() reads the classes and functions the traversal is in.
    """

    METADATA_DEPENDENCIES: ClassVar[Collection[ProviderT]] = ()

    def __init__(self, context: CodemodContext) -> None:
        super().__init__(context)
        self.sites: list[Site] = []
        self._open: list[cst.ClassDef | cst.FunctionDef] = []
        self._at: cst.CSTNode | None = None
        # Without matcher decorators (@m.visit, @m.leave, @m.call_if_inside...), the matcher layer of
        # libcst's codemod classes only checks on every node and attribute that there is nothing to do,
        # which costs four times the traversal itself; then the plain transformer's dispatch is used.
        self._plain = not (self._matchers or self._extra_visit_funcs or self._extra_leave_funcs)
        self._attributes = self._plain and _attribute_hooks(type(self))

    def transform_wrapped(self, wrapper: MetadataWrapper) -> cst.Module:
        """What transform_module() does, on a module already wrapped: metadata the wrapper has resolved
        for an earlier codemod (or this one's idempotency check) is reused, not computed again."""
        if self.should_allow_multiple_passes():
            raise NotImplementedError(f"{type(self).__name__}: multiple passes are not supported")
        outer = self.context
        self.context = replace(outer, wrapper=wrapper)
        try:
            with self.resolve(wrapper):
                module = self.transform_module_impl(wrapper.module)
            if self.context.scratch:
                raise NotImplementedError(f"{type(self).__name__}: queued import edits "
                                          f"({', '.join(self.context.scratch)}) are not supported")
            return module
        finally:
            self.context = outer

    def on_visit(self, node: cst.CSTNode) -> bool:
        if isinstance(node, (cst.ClassDef, cst.FunctionDef)):
            self._open.append(node)
        self._at = node
        return cst.CSTTransformer.on_visit(self, node) if self._plain else super().on_visit(node)

    # libcst's two bases disagree on the result (only CSTTransformer allows a FlattenSentinel): CSTTransformer's
    def on_leave(  # type: ignore[override]
            self, original_node: Node, updated_node: Node) -> Node | cst.RemovalSentinel | cst.FlattenSentinel[Node]:
        self._at = original_node
        try:
            if self._plain:
                return cst.CSTTransformer.on_leave(self, original_node, updated_node)
            return super().on_leave(original_node, updated_node)
        finally:
            if self._open and self._open[-1] is original_node:
                self._open.pop()

    def on_visit_attribute(self, node: cst.CSTNode, attribute: str) -> None:
        if not self._plain:
            return super().on_visit_attribute(node, attribute)
        if self._attributes:  # else every visit_<Node>_<attribute> is libcst's no-op stub
            return cst.CSTTransformer.on_visit_attribute(self, node, attribute)
        return None

    def on_leave_attribute(self, original_node: cst.CSTNode, attribute: str) -> None:
        if not self._plain:
            return super().on_leave_attribute(original_node, attribute)
        if self._attributes:
            return cst.CSTTransformer.on_leave_attribute(self, original_node, attribute)
        return None

    def record(self, node: cst.CSTNode, reason: str) -> None:
        pos = self.wrapper().resolve(PositionProvider)[node].start
        self.sites.append(Site(self.context.filename or "<string>", pos.line, pos.column + 1, reason))

    def wrapper(self) -> MetadataWrapper:
        """The wrapper of the module being transformed (set by transform_wrapped or transform_module)."""
        if self.context.wrapper is None:
            raise RuntimeError(f"{type(self).__name__}: no module is being transformed")
        return self.context.wrapper

    def tf_names(self, node: cst.CSTNode) -> set[str]:
        """Qualified names of `node`, with `tensorflow.compat.v1.` folded into `tensorflow.`.

        The names QualifiedNameProvider gives, asked of the scope for this node only (the provider
        would ask it for every node of the module). Needs ScopeProvider in METADATA_DEPENDENCIES.
        """
        scope = self.get_metadata(ScopeProvider, node, None)
        names = set()
        for q in scope.get_qualified_names_for(node) if scope is not None else ():
            name = q.name
            if name == TF_V1 or name.startswith(TF_V1 + "."):
                name = TF + name[len(TF_V1):]
            names.add(name)
        return names

    def scope(self, node: cst.CSTNode) -> str:
        """Dotted names of the classes and functions around `node`, outermost first.

        For the node being visited or left (what codemods ask about) the traversal knows them; for any
        other node they come from its parents (ParentNodeProvider, resolved on first use).
        """
        if node is self._at:
            return ".".join(n.name.value for n in self._open if n is not node)
        parents = self.wrapper().resolve(ParentNodeProvider)
        parts = []
        parent = parents.get(node)
        while parent is not None:
            if isinstance(parent, (cst.ClassDef, cst.FunctionDef)):
                parts.append(parent.name.value)
            parent = parents.get(parent)
        return ".".join(reversed(parts))

    def in_scope(self, node: cst.CSTNode, scope: str) -> bool:
        """True when `node` sits in `scope` ("Class", "Class.method" or "func") or below it."""
        here = self.scope(node)
        return here == scope or here.startswith(scope + ".")


@functools.cache
def _attribute_hooks(cls: type) -> bool:
    """True when `cls` defines a visit_<Node>_<attribute> or leave_<Node>_<attribute> method of its own
    (libcst's base classes define every one as a no-op stub)."""
    return any(re.fullmatch(r"(visit|leave)_[A-Z][A-Za-z]*_[a-z_]+", name)
               and not getattr(getattr(cls, name), "_is_no_op", False) for name in dir(cls))


def tf_import(module: cst.Module) -> tuple[str, str] | None:
    """(alias, module) of the module-level TensorFlow import: ("tf", "tensorflow") for `import tensorflow as tf`."""
    for stmt in module.body:
        if not m.matches(stmt, m.SimpleStatementLine(body=[m.Import()])):
            continue
        for alias in cast(cst.Import, cast(cst.SimpleStatementLine, stmt).body[0]).names:
            dotted = get_full_name_for_node(alias.name)
            if dotted in (TF, TF_V1):
                return alias.evaluated_alias or dotted, dotted
    return None


def tf_alias(module: cst.Module) -> str | None:
    """The name the module binds TensorFlow to (`tf` for `import tensorflow as tf`), if any."""
    found = tf_import(module)
    return found[0] if found else None


def argument(call: cst.Call, index: int, keyword: str) -> cst.Arg | None:
    """The argument at positional `index` or named `keyword`."""
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == keyword:
            return arg
    positional = [a for a in call.args if a.keyword is None and not a.star]
    return positional[index] if index < len(positional) else None


def tf_shape_of(tf: str, value: cst.BaseExpression) -> cst.Call:
    """`tf.shape(value)`."""
    return cst.Call(func=cst.Attribute(value=cst.Name(tf), attr=cst.Name("shape")), args=[cst.Arg(value)])

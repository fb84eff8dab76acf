"""What every codemod shares: site records, TensorFlow names seen through aliases, enclosing scopes."""
from __future__ import annotations

from dataclasses import dataclass

import libcst as cst
import libcst.matchers as m
from libcst.codemod import CodemodContext, VisitorBasedCodemodCommand
from libcst.helpers import get_full_name_for_node
from libcst.metadata import ParentNodeProvider, PositionProvider, QualifiedNameProvider

TF = "tensorflow"
TF_V1 = "tensorflow.compat.v1"


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
    """A codemod that records each edit as a Site; subclasses set DESCRIPTION and call record()."""

    METADATA_DEPENDENCIES = (PositionProvider, QualifiedNameProvider, ParentNodeProvider)

    def __init__(self, context: CodemodContext) -> None:
        super().__init__(context)
        self.sites: list[Site] = []

    def record(self, node: cst.CSTNode, reason: str) -> None:
        pos = self.get_metadata(PositionProvider, node).start
        self.sites.append(Site(self.context.filename or "<string>", pos.line, pos.column + 1, reason))

    def tf_names(self, node: cst.CSTNode) -> set[str]:
        """Qualified names of `node`, with `tensorflow.compat.v1.` folded into `tensorflow.`."""
        names = set()
        for q in self.get_metadata(QualifiedNameProvider, node, set()):
            name = q.name
            if name == TF_V1 or name.startswith(TF_V1 + "."):
                name = TF + name[len(TF_V1):]
            names.add(name)
        return names

    def scope(self, node: cst.CSTNode) -> str:
        """Dotted names of the classes and functions around `node`, outermost first."""
        parts = []
        parent = self.get_metadata(ParentNodeProvider, node, None)
        while parent is not None:
            if isinstance(parent, (cst.ClassDef, cst.FunctionDef)):
                parts.append(parent.name.value)
            parent = self.get_metadata(ParentNodeProvider, parent, None)
        return ".".join(reversed(parts))

    def in_scope(self, node: cst.CSTNode, scope: str) -> bool:
        """True when `node` sits in `scope` ("Class", "Class.method" or "func") or below it."""
        here = self.scope(node)
        return here == scope or here.startswith(scope + ".")


def tf_import(module: cst.Module) -> tuple[str, str] | None:
    """(alias, module) of the module-level TensorFlow import: ("tf", "tensorflow") for `import tensorflow as tf`."""
    for stmt in module.body:
        if not m.matches(stmt, m.SimpleStatementLine(body=[m.Import()])):
            continue
        for alias in stmt.body[0].names:
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

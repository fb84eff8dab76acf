"""Replace tf.contrib.layers.xavier_initializer(), gone with tf.contrib in TensorFlow 2, by its equal."""
from __future__ import annotations

import libcst as cst
from libcst.codemod import CodemodContext
from libcst.metadata import ScopeProvider

from patcher.codemods.base import SiteCodemod, tf_alias

XAVIER = "tensorflow.contrib.layers.xavier_initializer"


class ContribInitializer(SiteCodemod):
    DESCRIPTION = "Replace tf.contrib.layers.xavier_initializer() by tf.glorot_uniform_initializer()."
    METADATA_DEPENDENCIES = (ScopeProvider,)  # tf_names() needs it

    def __init__(self, context: CodemodContext, *, scope: str) -> None:
        super().__init__(context)
        self.where = scope  # not self.scope: SiteCodemod.scope() is a method
        self.tf: str | None = None

    def visit_Module(self, node: cst.Module) -> None:
        self.tf = tf_alias(node)  # "tf" for `import tensorflow as tf`

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> cst.Call:
        if self.tf is None or XAVIER not in self.tf_names(original.func):
            return updated
        if self.where and not self.in_scope(original, self.where):
            return updated
        if any(arg.keyword is None or arg.keyword.value == "uniform" for arg in updated.args):
            return updated  # positional arguments or uniform=: not the plain case, left to a person
        self.record(original, f"xavier_initializer() -> {self.tf}.glorot_uniform_initializer()")
        new = cst.Attribute(value=cst.Name(self.tf), attr=cst.Name("glorot_uniform_initializer"))
        return updated.with_changes(func=new)

"""Open a file for bytes ('wb') where the code writes a serialized protobuf into it."""
from __future__ import annotations

import libcst as cst
import libcst.matchers as m
from libcst.metadata import ScopeProvider

from patcher.codemods.base import SiteCodemod, argument

OPENERS = ("tensorflow.gfile.GFile", "tensorflow.io.gfile.GFile", "tensorflow.gfile.Open", "builtins.open")


class BinaryWrite(SiteCodemod):
    DESCRIPTION = "Open with 'wb' where a serialized protobuf (bytes) is written, as TensorFlow 2's GFile requires."
    METADATA_DEPENDENCIES = (ScopeProvider,)  # tf_names()

    def leave_With(self, original: cst.With, updated: cst.With) -> cst.With:
        if len(updated.items) != 1:
            return updated
        asname, opener, was = updated.items[0].asname, updated.items[0].item, original.items[0].item
        if asname is None or not isinstance(asname.name, cst.Name):
            return updated
        if not isinstance(opener, cst.Call) or not isinstance(was, cst.Call) or not set(OPENERS) & self.tf_names(was.func):
            return updated
        mode = argument(opener, 1, "mode")
        if mode is None or not isinstance(mode.value, cst.SimpleString) or mode.value.evaluated_value != "w":
            return updated
        handle = asname.name.value
        writes_bytes = m.Call(
            func=m.Attribute(value=m.Name(handle), attr=m.Name("write")),
            args=[m.Arg(value=m.Call(func=m.Attribute(attr=m.Name("SerializeToString"))))],
        )
        if not m.findall(updated.body, writes_bytes):
            return updated
        quote = mode.value.quote
        new_mode = mode.with_changes(value=cst.SimpleString(f"{quote}wb{quote}"))
        new_opener = opener.with_changes(args=[new_mode if a is mode else a for a in opener.args])
        self.record(argument(was, 1, "mode") or original, "file written with serialized bytes opened 'w' -> 'wb'")
        return updated.with_changes(items=[updated.items[0].with_changes(item=new_opener)])

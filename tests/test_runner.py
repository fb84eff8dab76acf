"""The runner: steps in parallel processes give what the sequential loop gives, the same first error included;
metadata is shared per file state; SiteCodemod's helpers agree with libcst's providers."""
from __future__ import annotations

import libcst as cst
import pytest
from libcst.codemod import CodemodContext
from libcst.metadata import MetadataWrapper, ParentNodeProvider, QualifiedNameProvider, ScopeProvider

import synthetic
from patcher import recipe as recipes
from patcher import runner
from patcher.codemods import CODEMODS
from patcher.runner import state
from patcher.codemods.base import SiteCodemod
from patcher.errors import DriftError, PatcherError, SourceError
from patcher.recipe import Step

STEPS = recipes.load().for_model("celebamask")
FREEZE = "tools/celebamask_hq/freeze_celebamaskhq_bisenetv2_model.py"


def reader(changes: dict[str, tuple[str, str]] | None = None):
    files = synthetic.files()
    for path, (old, new) in (changes or {}).items():
        assert old in files[path]
        files[path] = files[path].replace(old, new)
    return lambda path: files[path].encode("utf-8")


def outcome(read, steps=STEPS, jobs=1):
    """(outcomes as plain data, None) or (None, (error type, message))."""
    try:
        found = runner.run_steps(read, steps, jobs=jobs)
    except PatcherError as exc:
        return None, (type(exc), str(exc))
    return [(o.step.codemod, [str(s) for s in o.sites], o.files) for o in found], None


def test_parallel_runs_give_the_sequential_outcomes():
    sequential, error = outcome(reader())
    assert error is None and len(sequential) == len(STEPS)
    assert outcome(reader(), jobs=2) == (sequential, None)
    assert outcome(reader(), jobs=3) == (sequential, None)


@pytest.mark.parametrize("changes, expected", [
    # drift in the first step's file, and a syntax error in a file only a later step reads
    ({FREEZE: ("shape=[1, 448, 448, 3]", "shape=SHAPE"),
      "bisenet_model/cnn_basenet.py": ("import tensorflow as tf\n", "import tensorflow as tf\ndef (:\n")},
     (DriftError, "open_placeholder: " + FREEZE + ": expected 1 site(s), found 0")),
    # only the later file is broken
    ({"bisenet_model/cnn_basenet.py": ("import tensorflow as tf\n", "import tensorflow as tf\ndef (:\n")},
     (SourceError, "bisenet_model/cnn_basenet.py:")),
    # drift in the last file of a step that edits three, and in a later step of the first file
    ({"bisenet_model/cnn_basenet.py": ("import tensorflow as tf\n", "import tensorflow.compat.v1 as tf\n"),
      FREEZE: ("'w')", "'wb')")},
     (DriftError, "tf_compat_v1: bisenet_model/cnn_basenet.py: expected 1 site(s), found 0")),
])
def test_parallel_runs_raise_the_first_error_in_step_order(changes, expected):
    _, sequential = outcome(reader(changes))
    assert sequential[0] is expected[0] and sequential[1].startswith(expected[1])
    assert outcome(reader(changes), jobs=2) == (None, sequential)


class Appender(SiteCodemod):
    """Not idempotent: puts a comment above the first line every time (its site)."""

    DESCRIPTION = "Add a comment."

    def leave_Module(self, original, updated):
        self.record(original.body[0], "appended")
        return updated.with_changes(header=[cst.EmptyLine(comment=cst.Comment("# again")), *updated.header])


class Stray(SiteCodemod):
    """Reports its site at the first statement and appends a comment at the end of the file."""

    DESCRIPTION = "Append a comment elsewhere."

    def leave_Module(self, original, updated):
        self.record(original.body[0], "appended")
        return updated.with_changes(footer=[*updated.footer, cst.EmptyLine(comment=cst.Comment("# stray"))])


def test_a_codemod_that_changes_a_line_outside_its_sites_is_stopped_in_either_mode(monkeypatch):
    monkeypatch.setitem(CODEMODS, "stray", Stray)
    steps = [*STEPS[:2], Step("stray", ("bisenet_model/bisenet_v2.py",), 1, {})]
    sequential = outcome(reader(), steps)
    lines = synthetic.files()["bisenet_model/bisenet_v2.py"].count("\n")
    assert sequential[1] == (PatcherError, f"stray: bisenet_model/bisenet_v2.py:{lines + 1}: changed a line outside "
                                           "the sites it reported; nothing was written (a fault of the codemod)")
    assert outcome(reader(), steps, jobs=2) == sequential


def test_a_codemod_that_is_not_idempotent_is_stopped_in_either_mode(monkeypatch):
    monkeypatch.setitem(CODEMODS, "appender", Appender)
    steps = [*STEPS[:2], Step("appender", ("bisenet_model/bisenet_v2.py",), 1, {})]
    sequential = outcome(reader(), steps)
    message = ("appender: bisenet_model/bisenet_v2.py: not idempotent; a second run changed "
               "[Site(path='bisenet_model/bisenet_v2.py', line=2, column=1, reason='appended')]")  # below the first run's comment
    assert sequential[1] == (PatcherError, message)
    assert outcome(reader(), steps, jobs=2) == sequential


def test_a_file_state_is_parsed_once_and_its_metadata_resolved_once(monkeypatch):
    parsed, resolved = [], []
    real_parse, real_resolve = state.parse, runner.Wrapper.resolve_many
    monkeypatch.setattr(state, "parse", lambda text, path: parsed.append(path) or real_parse(text, path))

    def resolve_many(self, providers):
        # the wrapper itself is kept (not its id): a collected wrapper's id can be reused by the next one
        resolved.extend((self, p) for p in providers if p not in self._metadata)
        return real_resolve(self, providers)

    monkeypatch.setattr(runner.Wrapper, "resolve_many", resolve_many)
    runner.run_steps(reader(), STEPS)
    # each file once, then once per step output that differs from its input
    assert len(parsed) == len({f for s in STEPS for f in s.files}) + sum(len(s.files) for s in STEPS)
    assert len(resolved) == len({(id(wrapper), p) for wrapper, p in resolved})


class Scopes(SiteCodemod):
    """Records, for every call, the scope and names the helpers give."""

    DESCRIPTION = "Record scopes."
    METADATA_DEPENDENCIES = (ScopeProvider,)

    def __init__(self, context):
        super().__init__(context)
        self.seen = []

    def leave_Call(self, original, updated):
        # the call is the node being left (the traversal's scope); its func is not (ParentNodeProvider)
        self.seen.append((self.scope(original), self.scope(original.func), self.tf_names(original.func)))
        return updated


def test_helpers_agree_with_libcst_providers():
    source = synthetic.files()["bisenet_model/bisenet_v2.py"]
    codemod = Scopes(CodemodContext(filename="m.py"))
    codemod.transform_wrapped(runner.FileState("m.py", source).wrapper)
    wrapper = MetadataWrapper(cst.parse_module(source), unsafe_skip_copy=True)
    parents = wrapper.resolve(ParentNodeProvider)
    names = wrapper.resolve(QualifiedNameProvider)
    expected = []

    class Calls(cst.CSTVisitor):
        def leave_Call(self, node):
            parts, parent = [], parents.get(node)
            while parent is not None:
                if isinstance(parent, (cst.ClassDef, cst.FunctionDef)):
                    parts.append(parent.name.value)
                parent = parents.get(parent)
            scope = ".".join(reversed(parts))
            found = names[node.func]
            expected.append((scope, scope, {q.name for q in (found if isinstance(found, set) else found())}))

    wrapper.module.visit(Calls())
    assert codemod.seen == expected
    assert ("_GuidedAggregation.__call__", "_GuidedAggregation.__call__",
            {"tensorflow.image.resize_bilinear"}) in expected

"""Output kinds: what a model's output is, and everything the stages do that depends on it.

One module per kind (`labels`: class maps; `image`: pictures), each an object with the interface `Kind`
below; `kind(name)` finds one. A stage asks the kind and never tests the kind's name, so adding a kind is a
module here and its name in `_registry`:

- verify: `summary` (in the child process, from one run's output array) and `verify` (the static shape and
  dtype, and every run's record; VerifyError, exit 8, with one line);
- build: `metadata` (model.json's `outputs` entries and the kind's own top-level fields) and `quick`
  (the bound below which build's quick check stops);
- check: `fetches` (what to ask the web model for), `reference` (what to ask the frozen graph for),
  `bound` (by the weights' precision) and `compare` (the metrics and whether they are within the bound);
  `agree` (the main output against a graph model patcher did not build, on pictures: check --reference);
- LiteRT: `litert_outputs` (the nodes to convert), `litert_reference` (what to ask the frozen graph for),
  `litert_metadata` (the kind's fields of model.json's `litert` entry), `litert_main` (which of a TFLite
  model's outputs is the kind's), `litert_accuracy` (one picture, from all of a model's outputs; `accuracy`
  on the main one), `pooled` and `accurate` (by precision, with the kind's floor for lossy precisions,
  `floor`; `litert_floor`: the int8 floor a build records), and the report's `litert_rule`,
  `litert_cells` (title, width, value of each column) and `litert_shortfall`;
- the page (patcher/page.py `install`, patcher/npm.py): `module`, the ES module of patcher/web the package
  exports (MODULE.js with MODULE.d.ts), and `page`, the files of patcher/web only this kind's builds get
  (the first, its page, copied as index.html); every other file of patcher/web is shared.

Recipe fields (a model table's; patcher/recipe/outputs.py calls `parse_outputs` and the parsers named)
-----------------------------------------------------------------------------------------------------

`outputs` (table, required). Each entry is KEY = { kind = "...", node = "...", ...the kind's fields }:

    kind      string, required: a kind's name ("labels", "image"; `names()`)
    node      string, required: the output's node name in the frozen graph (when patcher freezes from the
              `graph` expression itself, the name it gives the expression's result)
    labels:   probabilities  string, required: the node of the class probabilities (check reads it in
                             TensorFlow; build --with-probabilities converts it)
              (the model's `classes`, `palette` and `transparent` stay model fields; required for labels)
    image:    channels       int, default 3: C of the [1, H, W, C] output
              range          [low, high] floats, default [-1.0, 1.0]: the values the model is meant to give
                             before clipping (informational: verify prints a run's range beside it; the
                             mapping to pixels is the inverse of the input's scale and offset, clipped)

Today's form `outputs = { labels = "NODE", probabilities = "NODE" }` still loads: one `labels` output.
A model has exactly one output with a kind; errors (each one line, RecipeError, exit 13, prefixed with the
recipe file and the model as today):

    unknown output kind 'KIND' in 'outputs.KEY' (known: image, labels)
    field 'outputs.KEY.kind' is missing (one of: image, labels)
    field 'outputs.KEY.node' must be a node name (a non-empty string)
    unknown field 'outputs.KEY.FIELD' for a KIND output (it takes: ...)
    field 'outputs.KEY.channels' must be a whole number from 1 to 4
    field 'outputs.KEY.range' must be [low, high] with low < high
    field 'outputs.KEY.probabilities' must be a node name (a non-empty string)
    field 'classes' is needed by a labels output
    field 'outputs' must have exactly one output with a kind, not N

`restore` (table, optional; with it `freeze_script`, `freeze_args` and `convert` may be omitted, and
patcher freezes from `graph` itself: patcher/freeze.py, `restore_map`):

    scope          string, default "": restore the variables under this scope ("": all of them)
    trainable      bool, default false: only trainable variables (as `tf.trainable_variables()`)
    variables      list of strings, default []: these variables by name instead of a scope
    moving_average float, optional: restore each from its ExponentialMovingAverage shadow of this decay
                   (the checkpoint's names are then `<variable>/ExponentialMovingAverage`)
    errors (recipe, exit 13):
             field 'restore' must be {scope = "...", trainable = true|false, variables = [...], moving_average = 0.999...}
             field 'restore' names both 'scope' and 'variables': pick one
             a model needs either 'freeze_script' (with 'freeze_args' and 'convert') or 'restore'
    and when it runs (freeze.restore_map, in the child: VerifyError exit 8 in verify, BuildError exit 15
    in build): "restore selects no variable (scope 'S', N variables in the graph)", "restore names V,
    which the graph has no variable of (N missing)"; a checkpoint that lacks a restored name or has another
    shape: "checkpoint P does not fit the graph: N of M variables missing, K of another shape: NAMES"
    (CheckpointError, exit 14, when the parent maps the child's `checkpoint` stage to it).

`graph_path` (string, optional, default ""): a folder of the checkout put first on sys.path when the graph
expression runs (must stay inside the checkout: "field 'graph_path' must stay inside the checkout").
`graph_imports` (list of module names, optional, default []): the upstream modules the expression uses,
imported from there by name (without a freeze script there is no script namespace to evaluate it in):
"field 'graph_imports' must be a list of module names".

`packages` (list of strings, optional, default []): Python packages the patched upstream needs beyond
patcher's own, each pinned `NAME==VERSION` (patcher/packages.py `parse`); at load:

    field 'packages' must be a list of 'NAME==VERSION' strings, not 'ITEM'

and verify and build, before TensorFlow starts (packages.require: errors.MissingPackage, exit 21):

    the upstream needs tf-slim==1.1.0 (not installed); install it with: pip install tf-slim==1.1.0
    the upstream needs tf-slim==1.1.0 (1.0.0 is installed); install it with: pip install tf-slim==1.1.0
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np


class InputLike(Protocol):
    """What a kind reads of the model's input (patcher.recipe.Input)."""

    @property
    def name(self) -> str: ...

    @property
    def color(self) -> str: ...

    @property
    def scale(self) -> float: ...

    @property
    def offset(self) -> float: ...


@dataclass(frozen=True)
class Output:
    """One output as its recipe declares it: its key in `outputs`, kind, node and the kind's fields
    (`options`, as parsed by the kind: labels has probabilities, classes, palette, transparent; image has
    channels and range)."""

    key: str
    kind: str
    node: str
    options: Mapping[str, Any] = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class Bound:
    """What a comparison must reach: metrics[`metric`] >= `least` and, when given, metrics['diff'] <=
    `max_diff`; `exact` (labels against a build with the same weights): identical but for ties."""

    metric: str
    least: float
    max_diff: float | None = None
    exact: bool = False


@dataclass(frozen=True)
class Fetches:
    """The tensors to ask a model for; `logits`: the second holds logits (softmax them before comparing)."""

    names: tuple[str, ...]
    logits: bool = False


@dataclass
class Comparison:
    """One comparison of a web or TFLite model's outputs with the reference's: the kind's metrics (shares
    in 0..1, differences in the output's units, PSNR in dB), the bound, and whether they are within it."""

    metrics: dict[str, float]
    bound: Bound
    ok: bool
    # (column title, formatted value) for check's table, in order (the first two before the times, the rest after)
    cells: list[tuple[str, str]] = field(default_factory=list)
    # the reason in one line when not ok ("agreement 98.100% (>= 99.9%)")
    reason: str = ""


class Kind(Protocol):
    """The interface every output kind has (patcher/kinds/labels.py and image.py)."""

    name: str
    run_column: str  # verify's table: the title of the column `describe_run` fills
    legend: str  # check's note under its table ("" for none)
    module: str  # the web module's name: patcher/web/MODULE.js and MODULE.d.ts
    page: tuple[str, ...]  # the files of patcher/web only this kind's builds get; the first is the page

    def parse(self, key: str, entry: Mapping[str, Any], model: Mapping[str, Any]) -> Output: ...

    def summary(self, value: np.ndarray) -> dict[str, Any]: ...

    def describe_run(self, record: Mapping[str, Any]) -> str: ...

    def verify(self, output: Output, static_shape: Sequence[int | None], dtype: str,
               runs: Sequence[Mapping[str, Any]]) -> None: ...

    def metadata(self, output: Output, inp: InputLike, with_probabilities: bool = False) -> dict[str, Any]: ...

    def reference(self, meta: Mapping[str, Any]) -> Fetches: ...

    def fetches(self, model_json: Mapping[str, Any]) -> Fetches: ...

    def bound(self, precision: str, reference: str | None = None) -> Bound: ...

    def quick(self, precision: str) -> Bound | None: ...

    def compare(self, got: Sequence[np.ndarray], want: Sequence[np.ndarray], bound: Bound,
                meta: Mapping[str, Any], fetched: Fetches | None = None) -> Comparison: ...

    def agree(self, got: np.ndarray, want: np.ndarray, meta: Mapping[str, Any]) -> Comparison: ...

    def litert_outputs(self, nodes: Mapping[str, tuple[str, Sequence[str]]], node: str) -> list[str]: ...

    def litert_reference(self, meta: Mapping[str, Any]) -> Fetches: ...

    def litert_metadata(self, meta: Mapping[str, Any], converted: Sequence[str]) -> dict[str, Any]: ...

    def litert_main(self, outputs: Sequence[np.ndarray]) -> int: ...

    def litert_accuracy(self, want: Sequence[np.ndarray], outputs: Sequence[np.ndarray],
                        meta: Mapping[str, Any]) -> dict[str, Any]: ...

    def litert_floor(self, given: float | None) -> float: ...

    def litert_rule(self, int8_floor: float) -> str: ...

    def litert_cells(self, accuracy: Mapping[str, Any]) -> list[tuple[str, int, str]]: ...

    def litert_shortfall(self, accuracy: Mapping[str, Any]) -> str: ...

    def accuracy(self, want: Sequence[np.ndarray], got: Sequence[np.ndarray], meta: Mapping[str, Any]) -> dict[str, Any]: ...

    def pooled(self, parts: Sequence[Mapping[str, Any]]) -> dict[str, Any]: ...

    def floor(self, precision: str) -> float | None: ...

    def accurate(self, precision: str, accuracy: Mapping[str, Any], floor: float | None = None) -> bool: ...


def _registry() -> dict[str, Kind]:
    from patcher.kinds import image, labels  # noqa: PLC0415 - the kinds import this module's types

    return {k.name: k for k in (labels.KIND, image.KIND)}


def names() -> list[str]:
    return sorted(_registry())


def kind(name: str) -> Kind:
    """The kind called `name`; ValueError with one line naming the known kinds otherwise."""
    found = _registry().get(name)
    if found is None:
        raise ValueError(f"unknown output kind {name!r} (known: {', '.join(names())})")
    return found


def node_name(value: object, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"field {where!r} must be a node name (a non-empty string)")
    return value


def parse_outputs(raw: Mapping[str, Any], model: Mapping[str, Any]) -> tuple[Output, ...]:
    """A model table's `outputs` as Output entries (the module docstring's schema); ValueError with one line.

    `model` is the whole model table (a labels output reads its classes, palette and transparent)."""
    if set(raw) <= {"labels", "probabilities"} and all(isinstance(v, str) for v in raw.values()):
        node_name(raw.get("labels"), "outputs.labels")
        entry = {"kind": "labels", "node": raw["labels"], "probabilities": raw.get("probabilities")}
        return (kind("labels").parse("labels", entry, model),)
    found = []
    for key, entry in raw.items():
        if not isinstance(entry, Mapping):
            raise ValueError(f"field 'outputs.{key}' must be a table {{ kind = ..., node = ... }}")
        if "kind" not in entry:
            raise ValueError(f"field 'outputs.{key}.kind' is missing (one of: {', '.join(names())})")
        if not isinstance(entry["kind"], str) or entry["kind"] not in _registry():
            raise ValueError(f"unknown output kind {entry['kind']!r} in 'outputs.{key}' (known: {', '.join(names())})")
        node_name(entry.get("node"), f"outputs.{key}.node")
        found.append(kind(entry["kind"]).parse(key, entry, model))
    if len(found) != 1:
        raise ValueError(f"field 'outputs' must have exactly one output with a kind, not {len(found)}")
    return tuple(found)


def output_of(model: Any) -> tuple[Kind, Output]:
    """The kind and output of a loaded recipe model (patcher.recipe.Model): its `outputs` once the recipe
    carries them, else today's labels fields (labels, probabilities, classes, palette, transparent)."""
    declared = getattr(model, "outputs", None)
    if declared:
        return kind(declared[0].kind), declared[0]
    raw = {"classes": list(model.classes), "palette": [list(c) for c in model.palette],
           "transparent": list(model.transparent)}
    (found,) = parse_outputs({"labels": model.labels, "probabilities": model.probabilities}, raw)
    return kind(found.kind), found


def of_metadata(meta: Mapping[str, Any]) -> Kind:
    """The kind of a build from its model.json metadata (userDefinedMetadata): its first output's kind
    (builds from before kinds describe a labels output first)."""
    declared = meta.get("outputs") or [{"kind": "labels"}]
    return kind(declared[0].get("kind", "labels"))


def unknown_fields(key: str, entry: Mapping[str, Any], name: str, takes: Sequence[str]) -> None:
    """ValueError naming the first field of an output table its kind does not take."""
    for item in entry:
        if item not in ("kind", "node", *takes):
            raise ValueError(f"unknown field 'outputs.{key}.{item}' for a {name} output "
                             f"(it takes: kind, node{''.join(', ' + t for t in takes)})")


def pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.3f}%"

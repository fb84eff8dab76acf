"""The `labels` kind: a class map, one int class id per pixel ([H, W], or [1, H, W] before the squeeze).

What the stages do with it, as they did before kinds (verify.py, build.py, check.py and litert.py):
verify wants the static shape [None, None] (the probe squeezes a [1, H, W] map), int ids in 0..classes-1
and the input's size at every run; build describes it as an int32 [H, W] output with the class names,
palette and transparent ids; check compares class maps with TensorFlow's (99.9 % agreement for float32
weights, with probabilities within 1e-4; 99 % for quantized weights; identical but for ties against a
build with the same weights); LiteRT judges float32 by the same 99.9 % and int8 by agreement away from
class boundaries (99 % unless set).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from patcher.errors import ParityError, VerifyError
from patcher.kinds import Bound, Comparison, Fetches, InputLike, Output, node_name, pct, unknown_fields
from patcher.metrics import softmax

MIN_AGREEMENT = 0.999
MAX_PROB_DIFF = 1e-4
SAME_WEIGHTS_MAX_PROB_DIFF = 1e-5
# quantized weights change the numbers by design: class maps must agree on 99 %
QUANTIZED_MIN_AGREEMENT = 0.99
# build's quick check of a quantized variant stops only below this: under it the conversion is broken,
# above it a shortfall is how near-tied classes (random weights) meet rounded weights
QUANTIZED_FLOOR = 0.9
INT8_FLOOR = 0.99  # LiteRT int8 is accurate when agreement away from class boundaries reaches this
BOUNDARY_PX = 2
MARGIN = 0.05
DT_INTS = ("int32", "int64", "int16", "int8", "uint8")


def _argmax_source(nodes: Mapping[str, tuple[str, Sequence[str]]], output: str) -> str | None:
    from patcher.graphfix import argmax_source  # noqa: PLC0415 - graphfix imports TensorFlow helpers lazily only

    return argmax_source(dict(nodes), output)


def measure(labels: np.ndarray, prob: np.ndarray, want_labels: np.ndarray,
            want_prob: np.ndarray) -> tuple[float, float, float, float]:
    """Class-map agreement, largest probability difference, share of pixels that could flip (their top
    two reference probabilities within twice that difference) and share that differ but could not."""
    diff = float(np.max(np.abs(prob - want_prob)))
    top = np.sort(want_prob, axis=-1)
    near = (top[..., -1] - top[..., -2] <= 2 * diff).reshape(labels.shape)
    differ = labels != want_labels
    return float(np.mean(~differ)), diff, float(np.mean(near)), float(np.mean(differ & ~near))


def near_boundary(labels: np.ndarray, px: int = BOUNDARY_PX) -> np.ndarray:
    """True where a pixel of the class map [H, W] has a pixel of another class within `px` pixels
    (a (2 px + 1) square around it; the image border is not a boundary)."""
    h, w = labels.shape
    padded = np.pad(labels, px, mode="edge")
    near = np.zeros(labels.shape, dtype=bool)
    for dy in range(-px, px + 1):
        for dx in range(-px, px + 1):
            near |= padded[px + dy:px + dy + h, px + dx:px + dx + w] != labels
    return near


class Labels:
    name = "labels"
    run_column = "classes"
    legend = "could flip: pixels whose top two probabilities are within twice max |dp| of each other"
    # the web module (patcher/web/segmenter.js and .d.ts) and the files of patcher/web only this kind's
    # builds get (its page; the first is copied as index.html)
    module = "segmenter"
    page: tuple[str, ...] = ("index.html", "app.js", "panel.js")

    def parse(self, key: str, entry: Mapping[str, Any], model: Mapping[str, Any]) -> Output:
        """Probabilities node from the entry; classes, palette and transparent from the model table (the
        recipe checks their types and lengths)."""
        unknown_fields(key, entry, self.name, ["probabilities"])
        probabilities = node_name(entry.get("probabilities"), f"outputs.{key}.probabilities")
        classes = model.get("classes")
        if not classes:
            raise ValueError("field 'classes' is needed by a labels output")
        return Output(key, self.name, entry["node"], {
            "probabilities": probabilities, "classes": tuple(classes),
            "palette": tuple(tuple(c) for c in model.get("palette", ())),
            "transparent": tuple(model.get("transparent", ()))})

    def summary(self, value: np.ndarray) -> dict[str, Any]:
        shape = list(value.shape[1:]) if value.ndim == 3 and value.shape[0] == 1 else list(value.shape)
        return {"shape": shape, "dtype": value.dtype.name, "low": int(value.min()), "high": int(value.max())}

    def describe_run(self, record: Mapping[str, Any]) -> str:
        return f"{record['low']}..{record['high']}"

    def verify(self, output: Output, static_shape: Sequence[int | None], dtype: str,
               runs: Sequence[Mapping[str, Any]]) -> None:
        """VerifyError unless the static shape is [None, None] ([1, None, None] unsqueezed), the ids are
        ints in 0..classes-1 and each run's map has the input's size."""
        static = list(static_shape)
        if static not in ([None, None], [1, None, None]):
            raise VerifyError(f"output static shape is {static}, expected [None, None]")
        if dtype and dtype not in DT_INTS:
            raise VerifyError(f"output dtype is {dtype}, expected int class ids")
        classes = len(output.options["classes"])
        for r in runs:
            size = "x".join(map(str, r["size"]))
            if r["shape"] != list(r["size"]):
                raise VerifyError(f"{size}: output shape {r['shape']} is not the input's")
            if not 0 <= r["low"] <= r["high"] < classes:
                raise VerifyError(f"{size}: class ids {r['low']}..{r['high']} outside 0..{classes - 1}")

    def metadata(self, output: Output, inp: InputLike, with_probabilities: bool = False) -> dict[str, Any]:
        """model.json's `outputs`, `classes`, `palette`, `transparent` and patcher.reference_outputs."""
        opts = output.options
        found: list[dict[str, Any]] = [{"name": output.node, "kind": "labels", "shape": ["H", "W"], "dtype": "int32",
                  "description": "class id per pixel"}]
        if with_probabilities:
            found.append({"name": opts["probabilities"], "kind": "probabilities",
                          "shape": [1, "H", "W", len(opts["classes"])], "dtype": "float32",
                          "description": "class probabilities per pixel"})
        return {"outputs": found, "classes": list(opts["classes"]), "palette": [list(c) for c in opts["palette"]],
                "transparent": list(opts["transparent"]),
                "reference_outputs": {"labels": output.node, "probabilities": opts["probabilities"]}}

    def reference(self, meta: Mapping[str, Any]) -> Fetches:
        names = meta["patcher"]["reference_outputs"]
        return Fetches((names["labels"], names["probabilities"]))

    def fetches(self, model_json: Mapping[str, Any]) -> Fetches:
        """The web model's class-id output and the tensor its probabilities come from (the probabilities
        output if built, else the argmax's input: logits unless it is a Softmax); ParityError without one."""
        meta = model_json.get("userDefinedMetadata", {})
        kinds = {o["kind"]: o["name"] for o in meta.get("outputs", [])}
        if "probabilities" in kinds:
            return Fetches((kinds["labels"], kinds["probabilities"]))
        nodes = {n["name"]: (n["op"], n.get("input", [])) for n in model_json["modelTopology"]["node"]}
        source = _argmax_source(nodes, kinds.get("labels", ""))
        if source is None:
            raise ParityError(f"model.json: no ArgMax feeds the class-id output {kinds.get('labels')!r}")
        return Fetches((kinds["labels"], source), nodes.get(source, ("",))[0] != "Softmax")

    def bound(self, precision: str, reference: str | None = None) -> Bound:
        """Against TensorFlow, float32 weights: 99.9 % agreement, probabilities within 1e-4; other
        precision than the reference's: 99 %; against a web model with the same weights: identical but
        where the reference's top two probabilities are tied within the measured difference."""
        if precision != (reference or "float32"):
            return Bound("agreement", QUANTIZED_MIN_AGREEMENT)
        if reference:
            return Bound("agreement", 0.0, SAME_WEIGHTS_MAX_PROB_DIFF, exact=True)
        return Bound("agreement", MIN_AGREEMENT, MAX_PROB_DIFF)

    def quick(self, precision: str) -> Bound | None:
        return Bound("agreement", QUANTIZED_FLOOR) if precision != "float32" else None

    def compare(self, got: Sequence[np.ndarray], want: Sequence[np.ndarray], bound: Bound,
                meta: Mapping[str, Any], fetched: Fetches | None = None) -> Comparison:
        """got, want: class ids and probabilities (got's second: logits when `fetched.logits`), reshaped
        to want's shapes."""
        labels = np.asarray(got[0]).reshape(want[0].shape)
        prob = np.asarray(got[1]).reshape(want[1].shape)
        prob = softmax(prob) if fetched is not None and fetched.logits else prob
        agreement, diff, could_flip, unexplained = measure(labels, prob, want[0], want[1])
        metrics = {"agreement": agreement, "diff": diff, "could_flip": could_flip, "unexplained": unexplained}
        if bound.max_diff is not None and diff > bound.max_diff:
            ok = False
        else:
            ok = unexplained == 0 if bound.exact else agreement >= bound.least
        limit = f" (<= {bound.max_diff:.0e})" if bound.max_diff is not None else ""
        if bound.exact:
            reason = (f"{pct(unexplained)} of the pixels differ without a tie (identical class maps expected), "
                      f"max |dp| {diff:.1e}{limit}")
        else:
            reason = f"agreement {pct(agreement)} (>= {100 * bound.least:g}%), max |dp| {diff:.1e}{limit}"
        cells = [("agreement", pct(agreement)), ("max |dp|", f"{diff:.1e}"), ("could flip", pct(could_flip))]
        return Comparison(metrics, bound, ok, cells, "" if ok else reason)

    def agree(self, got: np.ndarray, want: np.ndarray, meta: Mapping[str, Any]) -> Comparison:
        """The build's class maps against another graph model's (flat, every picture at one size): 99.9 %
        of the pixels with the same class id."""
        bound = Bound("agreement", MIN_AGREEMENT)
        share = float(np.mean(np.asarray(got) == np.asarray(want))) if np.size(want) else 1.0
        ok = share >= bound.least
        return Comparison({"agreement": share}, bound, ok, [("agreement", pct(share))],
                          "" if ok else f"agreement {pct(share)} (>= {100 * bound.least:g}%)")

    def litert_outputs(self, nodes: Mapping[str, tuple[str, Sequence[str]]], node: str) -> list[str]:
        """The class ids and, second, the logits they are the argmax of."""
        logits = _argmax_source(nodes, node)
        if logits is None:
            raise ValueError(f"error: no ArgMax feeds the class-id output {node}")
        return [node, logits]

    def litert_reference(self, meta: Mapping[str, Any]) -> Fetches:
        """The class ids and the probabilities (their margins) of the frozen graph; ParityError when the
        metadata names no probabilities tensor."""
        names = meta["patcher"].get("reference_outputs") or {}
        labels = names.get("labels") or next(o["name"] for o in meta["outputs"] if o["kind"] == self.name)
        if not names.get("probabilities"):
            raise ParityError("model.json's metadata names no probabilities tensor (patcher.reference_outputs) to "
                              "measure margins with; build again")
        return Fetches((labels, names["probabilities"]))

    def litert_metadata(self, meta: Mapping[str, Any], converted: Sequence[str]) -> dict[str, Any]:
        """The class ids (`output`) and, second, the scores they are the argmax of (`logits`: soft masks are
        their softmax); float32 is judged by the tfjs bound."""
        return {"output": {"name": converted[0], "dtype": "int32", "shape": ["H", "W"]},
                "logits": {"name": converted[1], "dtype": "float32", "shape": [1, "H", "W", len(meta["classes"])]},
                "float32_min_agreement": MIN_AGREEMENT}

    def litert_main(self, outputs: Sequence[np.ndarray]) -> int:
        """The class ids: the integer output."""
        return next(i for i, o in enumerate(outputs) if np.asarray(o).dtype.kind in "iu")

    def litert_accuracy(self, want: Sequence[np.ndarray], outputs: Sequence[np.ndarray],
                        meta: Mapping[str, Any]) -> dict[str, Any]:
        """accuracy() of the class ids and, where the model has its logits output ([1, H, W, C]), how far
        their softmax is from TensorFlow's probabilities (`probabilities_max_diff`)."""
        found = self.accuracy(want, [outputs[self.litert_main(outputs)]], meta)
        scores = next((o for o in outputs if np.ndim(o) == 4), None)
        if scores is not None:
            got = softmax(np.asarray(scores))
            found["probabilities_max_diff"] = float(np.max(np.abs(got - np.asarray(want[1]).reshape(got.shape))))
        return found

    def litert_floor(self, given: float | None) -> float:
        """The int8 floor: agreement away from class boundaries, `given` (a share) or INT8_FLOOR."""
        return INT8_FLOOR if given is None else given

    def litert_rule(self, int8_floor: float) -> str:
        return (f"float32 must agree on >= {100 * MIN_AGREEMENT:g}% of pixels; "
                f"int8 counts as accurate at >= {100 * int8_floor:g}% away from class boundaries")

    def litert_cells(self, accuracy: Mapping[str, Any]) -> list[tuple[str, int, str]]:
        a = accuracy
        return [("all pixels", 11, pct(a["overall"])),
                ("> 2 px from edge", 22, f"{pct(a['away_from_boundary']):>10} of {a['away_pixels']:>8}"),
                ("margin >= 0.05", 22, f"{pct(a['confident']):>10} of {a['confident_pixels']:>8}")]

    def litert_shortfall(self, accuracy: Mapping[str, Any]) -> str:
        return f"agreement with TensorFlow {100 * accuracy['overall']:.3f}% (>= {100 * MIN_AGREEMENT:g}%)"

    def accuracy(self, want: Sequence[np.ndarray], got: Sequence[np.ndarray], meta: Mapping[str, Any]) -> dict[str, Any]:
        """How a class map got[0] agrees with TensorFlow's want[0] ([H, W], probabilities want[1]
        [..., H, W, C]): overall, more than BOUNDARY_PX from a reference class boundary, and where the
        reference's top-two probability margin is at least MARGIN; with the pixels each covers."""
        reference = np.asarray(want[0]).reshape(np.asarray(got[0]).shape[-2:])
        labels = np.asarray(got[0]).reshape(reference.shape)
        same = labels == reference
        away = ~near_boundary(reference)
        top = np.sort(np.asarray(want[1], dtype=np.float32).reshape(*reference.shape, -1), axis=-1)
        confident = top[..., -1] - top[..., -2] >= MARGIN

        def share(mask: np.ndarray) -> tuple[float | None, int]:
            n = int(mask.sum())
            return (float(same[mask].mean()) if n else None), n

        overall, pixels = share(np.ones(reference.shape, dtype=bool))
        away_share, away_pixels = share(away)
        confident_share, confident_pixels = share(confident)
        return {"overall": overall, "pixels": pixels, "away_from_boundary": away_share, "away_pixels": away_pixels,
                "confident": confident_share, "confident_pixels": confident_pixels}

    def pooled(self, parts: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        """accuracy() over several pictures: each share weighted by the pixels it covers (and the largest
        probabilities_max_diff, where litert_accuracy measured one)."""
        found: dict[str, Any] = {}
        for key, count in (("overall", "pixels"), ("away_from_boundary", "away_pixels"),
                           ("confident", "confident_pixels")):
            n = sum(p[count] for p in parts)
            found[key] = sum(p[key] * p[count] for p in parts if p[key] is not None) / n if n else None
            found[count] = n
        diffs = [p["probabilities_max_diff"] for p in parts if "probabilities_max_diff" in p]
        if diffs:
            found["probabilities_max_diff"] = max(diffs)
        return found

    def floor(self, precision: str) -> float | None:
        return None if precision == "float32" else INT8_FLOOR

    def accurate(self, precision: str, accuracy: Mapping[str, Any], floor: float | None = None) -> bool:
        """float32 by the tfjs bound on all pixels; another precision by agreement away from class
        boundaries (no such pixels: by all pixels) against `floor` (default INT8_FLOOR)."""
        if precision == "float32":
            return bool(accuracy["overall"] >= MIN_AGREEMENT)
        value = accuracy["away_from_boundary"] if accuracy["away_from_boundary"] is not None else accuracy["overall"]
        return bool(value >= (INT8_FLOOR if floor is None else floor))


KIND = Labels()

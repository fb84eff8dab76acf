"""Output kinds (patcher/kinds): the recipe's `outputs` field, and each kind's checks and metrics.

The labels kind carries what the stages did before kinds: check's bounds and measure, LiteRT's accuracy and
judgement.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from patcher.kinds.labels import measure, near_boundary
from patcher.litert import judge
from patcher.metrics import softmax
from patcher.errors import ParityError, VerifyError
from patcher.kinds import Fetches, Kind, Output, kind, names, parse_outputs
from patcher.kinds import output_of as kinds_output_of
from patcher.kinds import image as image_kind
from patcher.recipe import Input

MODEL = {"classes": ["a", "b", "c"], "palette": [[0, 0, 0], [1, 2, 3], [4, 5, 6]], "transparent": [0]}
INPUT = Input("input", "NHWC", "BGR", 1 / 127.5, -1.0, (480, 720))
META = {"input": {"name": "input", "scale": 1 / 127.5, "offset": -1.0, "color": "BGR"},
        "patcher": {"reference_outputs": {"image": "output", "labels": "final", "probabilities": "prob"}}}


def test_the_registry_knows_both_kinds_and_names_them_when_asked_for_another():
    assert names() == ["image", "labels"]
    for name in names():
        found: Kind = kind(name)
        assert found.name == name
    with pytest.raises(ValueError, match=r"^unknown output kind 'mask' \(known: image, labels\)$"):
        kind("mask")


def test_todays_outputs_field_is_a_labels_output():
    (out,) = parse_outputs({"labels": "final_output", "probabilities": "BiseNetV2/prob"}, MODEL)
    assert (out.key, out.kind, out.node) == ("labels", "labels", "final_output")
    assert out.options["probabilities"] == "BiseNetV2/prob" and out.options["classes"] == ("a", "b", "c")


def test_the_drafts_image_output_parses_with_its_defaults():
    (out,) = parse_outputs({"image": {"node": "output", "kind": "image", "channels": 3, "range": [-1.0, 1.0]}}, {})
    assert (out.kind, out.node, out.options["channels"], out.options["range"]) == ("image", "output", 3, (-1.0, 1.0))
    (out,) = parse_outputs({"picture": {"node": "y", "kind": "image"}}, {})
    assert out.options == {"channels": 3, "range": (-1.0, 1.0)}


@pytest.mark.parametrize("raw, message", [
    ({"image": {"node": "y", "kind": "mask"}}, "unknown output kind 'mask' in 'outputs.image' (known: image, labels)"),
    ({"image": {"node": "y"}}, "field 'outputs.image.kind' is missing (one of: image, labels)"),
    ({"image": {"kind": "image"}}, "field 'outputs.image.node' must be a node name (a non-empty string)"),
    ({"image": {"kind": "image", "node": "y", "classes": 3}},
     "unknown field 'outputs.image.classes' for a image output (it takes: kind, node, channels, range)"),
    ({"image": {"kind": "image", "node": "y", "channels": 0}}, "field 'outputs.image.channels' must be a whole number from 1 to 4"),
    ({"image": {"kind": "image", "node": "y", "range": [1, -1]}}, "field 'outputs.image.range' must be [low, high] with low < high"),
    ({"map": {"kind": "labels", "node": "y"}}, "field 'outputs.map.probabilities' must be a node name (a non-empty string)"),
    ({"a": {"kind": "image", "node": "y"}, "b": {"kind": "image", "node": "z"}},
     "field 'outputs' must have exactly one output with a kind, not 2"),
    ({"image": "y"}, "field 'outputs.image' must be a table { kind = ..., node = ... }"),
])
def test_bad_outputs_get_one_line(raw, message):
    with pytest.raises(ValueError) as caught:
        parse_outputs(raw, MODEL)
    assert str(caught.value) == message


def test_a_labels_output_needs_classes():
    with pytest.raises(ValueError, match="^field 'classes' is needed by a labels output$"):
        parse_outputs({"map": {"kind": "labels", "node": "y", "probabilities": "p"}}, {})


# --- labels: the same behaviour as before -----------------------------------------------------------

LABELS = parse_outputs({"labels": "final", "probabilities": "prob"}, MODEL)[0]


def run(size, shape, low, high, **extra):
    return {"size": list(size), "shape": list(shape), "low": low, "high": high, **extra}


def test_labels_verify_passes_a_class_map_at_the_inputs_size():
    kind("labels").verify(LABELS, [None, None], "int32", [run((5, 7), (5, 7), 0, 2)])
    kind("labels").verify(LABELS, [1, None, None], "int64", [])


@pytest.mark.parametrize("static, dtype, runs, message", [
    ([1, None, None, 3], "float32", [], "output static shape is [1, None, None, 3], expected [None, None]"),
    ([None, None], "float32", [], "output dtype is float32, expected int class ids"),
    ([None, None], "int32", [run((5, 7), (8, 8), 0, 1)], "5x7: output shape [8, 8] is not the input's"),
    ([None, None], "int32", [run((5, 7), (5, 7), 0, 3)], "5x7: class ids 0..3 outside 0..2"),
])
def test_labels_verify_stops_as_verify_did(static, dtype, runs, message):
    with pytest.raises(VerifyError) as caught:
        kind("labels").verify(LABELS, static, dtype, runs)
    assert str(caught.value) == message


def test_labels_summary_is_what_the_probe_reported():
    ids = np.array([[[0, 2], [1, 1]]], dtype=np.int64)
    assert kind("labels").summary(ids) == {"shape": [2, 2], "dtype": "int64", "low": 0, "high": 2}
    assert kind("labels").describe_run({"low": 0, "high": 2}) == "0..2"


def test_labels_metadata_is_builds():
    meta = kind("labels").metadata(LABELS, INPUT, with_probabilities=True)
    assert meta["outputs"] == [
        {"name": "final", "kind": "labels", "shape": ["H", "W"], "dtype": "int32", "description": "class id per pixel"},
        {"name": "prob", "kind": "probabilities", "shape": [1, "H", "W", 3], "dtype": "float32",
         "description": "class probabilities per pixel"}]
    assert meta["classes"] == ["a", "b", "c"] and meta["palette"] == [[0, 0, 0], [1, 2, 3], [4, 5, 6]]
    assert meta["transparent"] == [0] and meta["reference_outputs"] == {"labels": "final", "probabilities": "prob"}
    assert len(kind("labels").metadata(LABELS, INPUT)["outputs"]) == 1


def maps(seed: int, classes: int = 4, size=(24, 20)):
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 1, (1, *size, classes)).astype(np.float32)
    noisy = logits + rng.normal(0, 0.05, logits.shape).astype(np.float32)
    return (logits.argmax(-1)[0].astype(np.int32), softmax(logits)), (noisy.argmax(-1)[0].astype(np.int32), noisy)


@pytest.mark.parametrize("precision, reference", [("float32", None), ("uint8", None), ("float32", "float32")])
def test_labels_compare_is_checks_measure_and_bounds(precision, reference, tmp_path):
    want, got = maps(1)
    bound = kind("labels").bound(precision, reference)
    least, largest, exact = (0.99, None, False) if precision != "float32" else \
        ((0.0, 1e-5, True) if reference else (0.999, 1e-4, False))
    assert (bound.least, bound.max_diff, bound.exact) == (least, largest, exact)
    found = kind("labels").compare(got, want, bound, {}, Fetches(("final", "logits"), logits=True))
    agreement, diff, could_flip, unexplained = measure(got[0], softmax(got[1]), *want)
    assert found.metrics == {"agreement": agreement, "diff": diff, "could_flip": could_flip, "unexplained": unexplained}
    within = diff <= largest if largest is not None else True
    assert found.ok == (within and (unexplained == 0 if exact else agreement >= least))
    assert found.ok or found.reason.startswith(("agreement ", f"{100 * unexplained:.3f}%"))


def test_labels_litert_accuracy_and_judgement():
    want, got = maps(2, size=(40, 36))
    mine = kind("labels").accuracy(want, got, {})
    same = got[0] == want[0]
    away = ~near_boundary(want[0])
    assert mine["overall"] == pytest.approx(same.mean()) and mine["pixels"] == same.size
    assert mine["away_pixels"] == away.sum()
    assert mine["away_from_boundary"] == (pytest.approx(same[away].mean()) if away.any() else None)
    parts = [mine, kind("labels").accuracy(*maps(3), {})]
    pooled = kind("labels").pooled(parts)
    assert pooled["pixels"] == parts[0]["pixels"] + parts[1]["pixels"]
    assert pooled["overall"] == pytest.approx(
        (parts[0]["overall"] * parts[0]["pixels"] + parts[1]["overall"] * parts[1]["pixels"]) / pooled["pixels"])
    for precision in ("float32", "int8"):
        for floor in (0.5, 0.99):
            assert kind("labels").accurate(precision, mine, floor) == judge(precision, mine, None, floor)
            share = mine["overall"] if mine["away_from_boundary"] is None else mine["away_from_boundary"]
            expected = mine["overall"] >= 0.999 if precision == "float32" else share >= floor
            assert kind("labels").accurate(precision, mine, floor) == expected
    assert kind("labels").floor("int8") == 0.99 and kind("labels").floor("float32") is None


def test_labels_fetch_the_argmax_input_or_refuse_a_model_without_one():
    topology = {"node": [{"name": "input", "op": "Placeholder"}, {"name": "logits", "op": "Conv2D", "input": ["input"]},
                         {"name": "am", "op": "ArgMax", "input": ["logits", "dim"]},
                         {"name": "final", "op": "Squeeze", "input": ["am"]}]}
    model = {"modelTopology": topology, "userDefinedMetadata": {"outputs": [{"kind": "labels", "name": "final"}]}}
    assert kind("labels").fetches(model) == Fetches(("final", "logits"), logits=True)
    nodes = {n["name"]: (n["op"], n.get("input", [])) for n in topology["node"]}
    assert kind("labels").litert_outputs(nodes, "final") == ["final", "logits"]
    model["userDefinedMetadata"]["outputs"] = [{"kind": "labels", "name": "logits"}]
    with pytest.raises(ParityError, match="no ArgMax feeds the class-id output 'logits'"):
        kind("labels").fetches(model)
    with pytest.raises(ValueError, match="no ArgMax feeds the class-id output logits"):
        kind("labels").litert_outputs(nodes, "logits")


# --- image ------------------------------------------------------------------------------------------

IMAGE = parse_outputs({"image": {"node": "output", "kind": "image"}}, {})[0]


def test_pixels_invert_the_inputs_scale_and_offset_rounding_half_to_even_and_clipping():
    y = np.array([-1.5, -1.0, 0.0, 1.0 / 255, 1.0, 2.0])
    assert image_kind.to_pixels(y, 1 / 127.5, -1.0).tolist() == [0, 0, 128, 128, 255, 255]
    halves = np.array([0.25, 0.75, 1.25, 200.0])  # 0.5, 1.5, 2.5, 400 levels
    assert image_kind.to_pixels(halves, 0.5, 0.0).tolist() == [0, 2, 2, 255]
    pixels = np.arange(256, dtype=np.float64)
    assert image_kind.to_pixels(pixels * (1 / 127.5) - 1, 1 / 127.5, -1.0).tolist() == list(range(256))


def test_image_metrics_on_known_differences():
    step = 1 / 127.5
    want = np.full((1, 2, 5, 3), 0.2 * step)  # pixel 127.7 -> 128
    got = want.copy()
    got[0, 0, 0, 0] += 1.2 * step  # 128 + 1.2 -> 129: one level
    got[0, 1, 4, 2] -= 10 * step  # ten levels
    found = image_kind.metrics(got, want, step, -1.0)
    assert found["values"] == 30 and found["max_levels"] == 10
    assert found["equal"] == pytest.approx(28 / 30) and found["within_one"] == pytest.approx(29 / 30)
    assert found["max_dy"] == pytest.approx(10 * step, rel=1e-6)
    assert found["psnr"] == pytest.approx(10 * math.log10(255 ** 2 / (101 / 30)))
    assert image_kind.metrics(want, want, step, -1.0)["psnr"] == image_kind.IDENTICAL_PSNR
    with pytest.raises(ParityError, match=r"output shapes differ: \[1, 2, 4, 3\]"):
        image_kind.metrics(got[:, :, :4], want, step, -1.0)


def test_image_float32_must_agree_within_one_level_on_999_of_1000_values():
    rng = np.random.default_rng(0)
    want = rng.uniform(-1, 1, (1, 40, 50, 3)).astype(np.float32)
    bound = kind("image").bound("float32")
    assert (bound.metric, bound.least) == ("within_one", 0.999)
    close = kind("image").compare([want + rng.normal(0, 1e-5, want.shape).astype(np.float32)], [want], bound, META)
    assert close.ok and close.metrics["within_one"] == 1.0 and close.metrics["max_levels"] <= 1
    far = want.copy()
    far.reshape(-1)[:10] += 3 / 127.5  # 10 of 6000 values three levels off: 99.83 %
    found = kind("image").compare([far], [want], bound, META)
    assert not found.ok and found.reason.startswith("99.833% of pixel values within one level (>= 99.9%)")
    assert [c for c, _ in found.cells] == ["max |dy|", "equal", "within 1", "max levels", "PSNR dB"]


def test_image_lossy_precisions_are_judged_by_their_psnr_floor():
    rng = np.random.default_rng(1)
    want = rng.uniform(-1, 1, (1, 30, 30, 3)).astype(np.float32)
    for precision in ("float16", "uint8", "int8"):
        floor = kind("image").floor(precision)
        assert floor is not None and kind("image").bound(precision).least == floor
        assert kind("image").quick(precision) is not None
        noisy = want + rng.normal(0, 2 / 127.5, want.shape).astype(np.float32)  # about 2 levels: ~42 dB
        found = kind("image").compare([noisy], [want], kind("image").bound(precision), META)
        assert found.ok == (found.metrics["psnr"] >= floor)
        assert kind("image").accurate(precision, found.metrics) == found.ok
        assert not kind("image").accurate(precision, {**found.metrics, "psnr": floor - 0.1})
    assert kind("image").floor("float32") is None and kind("image").quick("float32") is None


def test_image_accuracy_pools_over_pictures_by_values():
    rng = np.random.default_rng(2)
    a, b = rng.uniform(-1, 1, (1, 10, 10, 3)), rng.uniform(-1, 1, (1, 20, 10, 3))
    parts = [kind("image").accuracy([a], [a + 0.01], META), kind("image").accuracy([b], [b], META)]
    pooled = kind("image").pooled(parts)
    together = image_kind.metrics(np.concatenate([(a + 0.01).reshape(-1), b.reshape(-1)]),
                                  np.concatenate([a.reshape(-1), b.reshape(-1)]), 1 / 127.5, -1.0)
    for key in ("equal", "within_one", "max_levels", "psnr", "values"):
        assert pooled[key] == pytest.approx(together[key])


def test_image_verify_wants_a_float_picture_at_the_inputs_size():
    ok = {"size": [5, 7], "shape": [1, 5, 7, 3], "finite": True, "low": -0.9, "high": 1.2}
    kind("image").verify(IMAGE, [1, None, None, 3], "float32", [ok])
    kind("image").verify(IMAGE, [None, None, None, 3], "float32", [ok])
    cases = [
        ([None, None], "float32", [], "output static shape is [None, None], expected [1, None, None, 3] (an image output)"),
        ([1, 64, 64, 3], "float32", [], "output static shape is [1, 64, 64, 3], expected [1, None, None, 3] (an image output)"),
        ([1, None, None, 3], "int32", [], "output dtype is int32, expected a float picture (an image output)"),
        ([1, None, None, 3], "float32", [{**ok, "shape": [1, 8, 8, 3]}], "5x7: output shape [1, 8, 8, 3] is not [1, 5, 7, 3]"),
        ([1, None, None, 3], "float32", [{**ok, "finite": False}],
         "5x7: the output has values that are not finite (NaN or infinity)"),
    ]
    for static, dtype, runs, message in cases:
        with pytest.raises(VerifyError) as caught:
            kind("image").verify(IMAGE, static, dtype, runs)
        assert str(caught.value) == message
    summary = kind("image").summary(np.array([[[[0.5, np.nan, -0.25]]]], np.float32))
    assert summary == {"shape": [1, 1, 1, 3], "dtype": "float32", "finite": False, "low": -0.25, "high": 0.5}
    assert kind("image").describe_run(summary) == "[-0.250, 0.500] not finite"


def test_image_metadata_says_how_to_make_pixels_and_what_check_fetches():
    meta = kind("image").metadata(IMAGE, INPUT)
    (entry,) = meta["outputs"]
    assert entry["kind"] == "image" and entry["shape"] == [1, "H", "W", 3] and entry["color"] == "BGR"
    assert entry["scale"] == INPUT.scale and entry["offset"] == -1.0 and entry["range"] == [-1.0, 1.0]
    assert meta["reference_outputs"] == {"image": "output"}
    assert kind("image").reference(META) == Fetches(("output",))
    assert kind("image").fetches({"userDefinedMetadata": meta}) == Fetches(("output",))
    assert kind("image").litert_outputs({}, "output") == ["output"]
    with pytest.raises(ParityError, match="names no image output"):
        kind("image").fetches({"userDefinedMetadata": {"outputs": []}})


def test_both_kinds_take_the_same_output_type():
    assert isinstance(IMAGE, Output) and isinstance(LABELS, Output)


def test_the_draft_recipes_new_fields_parse():
    import tomllib
    from pathlib import Path

    from patcher import freeze, packages

    raw = tomllib.loads((Path(__file__).resolve().parent.parent / "patches/white-box-cartoonization.toml").read_text())
    model = raw["models"]["cartoon"]
    (out,) = parse_outputs(model["outputs"], model)
    assert (out.kind, out.node, out.options["channels"]) == ("image", "output", 3)
    assert freeze.parse_restore(model["restore"]) == {"scope": "generator", "trainable": True, "variables": [],
                                                      "moving_average": None}
    assert freeze.parse_graph(model) == {"graph_path": "test_code", "graph_imports": ["network", "guided_filter"]}
    assert packages.parse(model["packages"]) == ("tf-slim==1.1.0",)
    assert freeze.parse_graph({}) == {"graph_path": "", "graph_imports": []}
    for bad, message in (({"graph_path": "../x"}, "field 'graph_path' must stay inside the checkout (a relative folder, no '..')"),
                         ({"graph_path": "/x"}, "field 'graph_path' must stay inside the checkout (a relative folder, no '..')"),
                         ({"graph_imports": ["a-b"]}, "field 'graph_imports' must be a list of module names")):
        with pytest.raises(ValueError) as caught:
            freeze.parse_graph(bad)
        assert str(caught.value) == message


def test_a_shipped_recipes_model_has_a_labels_output():
    from patcher import recipe

    model = recipe.load("bisenetv2").model("celebamask")
    found, out = kinds_output_of(model)
    assert found is kind("labels") and out.node == model.labels
    assert out.options["probabilities"] == model.probabilities and len(out.options["classes"]) == 19
    assert found.metadata(out, model.input)["palette"][1] == [128, 0, 0]


def test_agree_judges_a_build_against_another_graph_model_by_its_kind():
    """check --reference with a model patcher did not build: pictures within one level on 99.9 % of the
    values; class maps the same class on 99.9 % of the pixels."""
    scale = 1 / 127.5
    want = (np.arange(3000, dtype=np.float32) % 255) * np.float32(scale) - 1
    near = want + np.float32(scale) * np.where(np.arange(3000) % 2, 1, -1).astype(np.float32)  # one level off
    found = kind("image").agree(near, want, META)
    assert found.ok and found.metrics["within_one"] == 1.0 and found.metrics["equal"] < 0.01
    far = near.copy()
    far[:4] += 3 * np.float32(scale)  # 4 of 3000 values (0.13 %) two or more levels off
    found = kind("image").agree(far, want, META)
    assert not found.ok and "99.867% of pixel values within one level (>= 99.9%)" in found.reason
    ids = np.arange(2000, dtype=np.int32) % 19
    assert kind("labels").agree(ids, ids.copy(), META).ok
    other = ids.copy()
    other[1:3] = 0  # 2 of 2000 pixels: 99.9 %, just enough
    assert kind("labels").agree(other, ids, META).ok
    other[3] = 0  # 3 of 2000
    found = kind("labels").agree(other, ids, META)
    assert not found.ok and found.reason == "agreement 99.850% (>= 99.9%)"

"""`build` and `check` on the synthetic upstream: freeze, convert, parity on tfjs cpu and wasm in Node."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from kit import BUILDS, snapshot
from patcher import graphfix, outdir
from patcher.build import GRAPH
from patcher.check import check
from patcher.kinds import Bound
from patcher.errors import ParityError
from patcher.cli import main

pytestmark = BUILDS
SMALL = "64x64,50x70"


def test_build_writes_model_shards_and_provenance(built, synthetic_upstream):
    files = sorted(p.name for p in built.iterdir())
    assert "model.json" in files and any(f.endswith(".bin") for f in files)
    model = json.loads((built / "model.json").read_text())
    meta = model["userDefinedMetadata"]
    assert meta["patcher"]["weights"] == "random weights"
    assert meta["patcher"]["commit"] == synthetic_upstream[1][0]
    assert meta["patcher"]["model"] == "celebamask" and "open_placeholder" in meta["patcher"]["codemods"]
    assert meta["patcher"]["recipe"] == "bisenetv2"
    assert meta["input"]["scale"] == pytest.approx(1 / 127.5) and meta["input"]["offset"] == -1.0
    assert meta["input"]["color"] == "RGB" and meta["input"]["name"] == "input_tensor"
    assert len(meta["classes"]) == len(meta["palette"]) == 19 and meta["classes"][17] == "hair"
    assert meta["transparent"] == [0] and meta["title"] == "Face parts in the browser"
    assert meta["sample"] == "sample.png" and (built / "sample.png").is_file()
    # the recipe's face detector, fetched (cached) and copied into faces/, or why not (no registry)
    faces = meta["faces"]
    assert faces["package"] == "@vladmandic/human" and faces["anchors"] == {"strides": [16, 32], "perCell": [2, 6]}
    assert all((built / f).is_file() for f in faces["files"]) and (faces["detector"] in faces["files"]
                                                                   or faces["reason"])
    assert "litert" not in faces, "the LiteRT.js detector comes with build --litert only"
    # one output, as the seed's model had: class ids [H, W]
    assert list(model["signature"]["outputs"]) == ["final_output"]
    assert meta["outputs"] == [{"name": "final_output", "kind": "labels", "shape": ["H", "W"], "dtype": "int32",
                                "description": "class id per pixel"}]
    # beside it only its graph folder (for check; not served) and the locks
    assert [p.name for p in built.parent.iterdir()
            if p not in (built, outdir.graph_dir(built)) and not p.name.endswith(".lock")] == []
    assert outdir.graph_path(built).is_file() and not (built / GRAPH).exists()


def test_check_matches_tensorflow_on_cpu_and_wasm(built, capsys):
    capsys.readouterr()
    assert main(["check", "--model-dir", str(built), "--sizes", SMALL]) == 0
    out = capsys.readouterr().out
    rows = [line.split() for line in out.splitlines() if line.strip().startswith(("cpu", "wasm"))]
    assert [(r[0], r[1]) for r in rows] == [("cpu", "64x64"), ("cpu", "50x70"), ("wasm", "64x64"), ("wasm", "50x70")]
    for r in rows:
        assert float(r[2].rstrip("%")) >= 99.9 and float(r[3]) <= 1e-4 and r[-2] == "yes"


def test_converter_fusion_is_fixed_and_wasm_fails_without_the_fix(checkouts, built, tmp_path, capsys):
    assert json.loads((built / "model.json").read_text())["userDefinedMetadata"]["patcher"]["graph_edits"][
        "swapped_adds"], "the synthetic upstream has one Add the converter misreads"
    assert graphfix.unsound_fusions(built / "model.json") == []
    raw = tmp_path / "raw"
    assert main(["build", "--dest", str(checkouts / "celebamask"), "--random-weights", "--out", str(raw),
                 "--no-fusion-fix"]) == 16
    assert "only supports rank-1 bias" in capsys.readouterr().err and not raw.exists()
    assert main(["build", "--dest", str(checkouts / "celebamask"), "--random-weights", "--out", str(raw),
                 "--no-fusion-fix", "--no-check"]) == 0
    assert graphfix.unsound_fusions(raw / "model.json")
    capsys.readouterr()
    assert main(["check", "--model-dir", str(raw), "--sizes", "64x64", "--backends", "wasm"]) == 16
    assert "only supports rank-1 bias" in capsys.readouterr().err


def test_no_checkpoint_says_where_it_comes_from(checkouts, tmp_path, capsys):
    assert main(["build", "--dest", str(checkouts / "celebamask"), "--out", str(tmp_path / "o")]) == 14
    err = capsys.readouterr().err
    for part in ("README", ".data-00000-of-00001", ".index", ".meta", "checkpoint", "--random-weights"):
        assert part in err
    assert not (tmp_path / "o").exists()


def checkpoint_of(checkouts, model, tmp_path) -> Path:
    """A random checkpoint of `model`, written by the probe as build writes it."""
    from patcher.recipe import load
    from patcher.child import graph_args, run_probe

    prefix = tmp_path / model / "w.ckpt"
    spec = load().model(model)
    run_probe(checkouts / model, "checkpoint", *graph_args(spec), "--prefix", str(prefix), spec=spec)
    return prefix


def test_bad_checkpoints_leave_the_previous_output_untouched(checkouts, built, tmp_path, capsys):
    out = tmp_path / "out"
    shutil.copytree(built, out)
    before = snapshot(out)
    dest = str(checkouts / "celebamask")

    other = checkpoint_of(checkouts, "cityscapes", tmp_path)
    assert main(["build", "--dest", dest, "--checkpoint", str(other), "--out", str(out)]) == 14
    assert "does not fit the celebamask graph" in capsys.readouterr().err

    assert main(["build", "--dest", dest, "--checkpoint", str(tmp_path / "absent.ckpt"), "--out", str(out)]) == 14
    assert "absent.ckpt.index" in capsys.readouterr().err

    good = checkpoint_of(checkouts, "celebamask", tmp_path)
    data = next(good.parent.glob("w.ckpt.data-*"))
    data.write_bytes(data.read_bytes()[:1000])
    assert main(["build", "--dest", dest, "--checkpoint", str(good), "--out", str(out)]) == 14

    (good.parent / "w.ckpt.index").write_bytes(b"not a checkpoint")
    assert main(["build", "--dest", dest, "--checkpoint", str(good), "--out", str(out)]) == 14
    assert snapshot(out) == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out") and not p.name.endswith(".lock")] == []


def test_a_real_checkpoint_is_accepted_and_hashed(checkouts, tmp_path, capsys):
    prefix = checkpoint_of(checkouts, "cityscapes", tmp_path)
    out = tmp_path / "city"
    assert main(["build", "--dest", str(checkouts / "cityscapes"), "--model", "cityscapes",
                 "--checkpoint", str(prefix), "--out", str(out)]) == 0
    meta = json.loads((out / "model.json").read_text())["userDefinedMetadata"]
    assert meta["patcher"]["weights"].startswith("sha256:") and len(meta["patcher"]["weights"]) == 71
    assert meta["patcher"]["model"] == "cityscapes" and meta["classes"][0] == "road"


def test_check_refuses_missing_or_truncated_shards(built, tmp_path, capsys):
    broken = tmp_path / "broken"
    shutil.copytree(built, broken)
    shutil.copytree(outdir.graph_dir(built), outdir.graph_dir(broken))
    shard = next(broken.glob("*.bin"))
    shard.write_bytes(shard.read_bytes()[:-4])
    assert main(["check", "--model-dir", str(broken), "--sizes", "64x64", "--backends", "cpu"]) == 16
    assert "model.json describes" in capsys.readouterr().err
    shard.unlink()
    assert main(["check", "--model-dir", str(broken), "--sizes", "64x64", "--backends", "cpu"]) == 16
    assert "is missing" in capsys.readouterr().err


def test_converter_failure_leaves_the_previous_output_untouched(checkouts, built, tmp_path, monkeypatch, capsys):
    from patcher import build

    out = tmp_path / "out"
    shutil.copytree(built, out)
    before = snapshot(out)
    monkeypatch.setattr(build, "outputs", lambda model, options: [{"name": "no_such_node"}])
    assert main(["build", "--dest", str(checkouts / "celebamask"), "--random-weights", "--out", str(out)]) == 15
    err = capsys.readouterr().err
    assert "converting with tensorflowjs_converter failed" in err
    assert snapshot(out) == before


def nodes_of(folder: Path) -> dict:
    return {n["name"]: n for n in json.loads((folder / "model.json").read_text())["modelTopology"]["node"]}


@pytest.fixture(scope="module")
def plain(checkouts, tmp_path_factory):
    """The same model built with --no-optimize."""
    out = tmp_path_factory.mktemp("plain") / "model"
    assert main(["build", "--dest", str(checkouts / "celebamask"), "--random-weights", "--out", str(out),
                 "--no-optimize", "--no-check"]) == 0
    return out


def test_simplified_graph_has_no_softmax_before_argmax_int32_ids_and_no_batch_norm(built, plain):
    edits = json.loads((built / "model.json").read_text())["userDefinedMetadata"]["patcher"]["graph_edits"]
    assert any("argmax of the logits" in e for e in edits["simplified"])
    assert any("int32 class ids" in e for e in edits["simplified"])
    assert any(e.startswith("BiseNetV2/context_bn/") and "folded into BiseNetV2/context_conv/" in e for e in edits["simplified"])
    nodes = nodes_of(built)
    squeeze = nodes["final_output"]
    assert squeeze["op"] == "Squeeze" and squeeze["attr"]["T"]["type"] == "DT_INT32"
    argmax = nodes[squeeze["input"][0].split(":")[0]]
    assert argmax["op"] == "ArgMax" and argmax["attr"]["output_type"]["type"] == "DT_INT32"
    assert nodes[argmax["input"][0].split(":")[0]]["op"] != "Softmax"
    assert "BiseNetV2/prob" not in nodes, "without --with-probabilities the softmax is not converted"
    assert not [n for n in nodes if n.startswith("BiseNetV2/context_bn/")], "the context batch norm is folded"

    nodes = nodes_of(plain)
    assert nodes["final_output"]["op"] == "Squeeze"
    argmax = nodes[nodes["final_output"]["input"][0]]
    assert nodes[argmax["input"][0].split(":")[0]]["op"] == "Softmax"
    assert [n for n in nodes if n.startswith("BiseNetV2/context_bn/")], "converted as a Mul and an Add"


def test_simplify_keeps_class_map_and_probabilities_in_tensorflow(built):
    import numpy as np
    import tensorflow as tf

    graph = tf.compat.v1.GraphDef()
    graph.ParseFromString(outdir.graph_path(built).read_bytes())
    simple = tf.compat.v1.GraphDef()
    simple.CopyFrom(graph)
    graphfix.simplify(simple)
    assert not [n.name for n in simple.node if n.op.startswith("FusedBatchNorm")]
    assert [n.name for n in graph.node if n.op.startswith("FusedBatchNorm")]

    def run(graph_def, x):
        with tf.Graph().as_default() as g, tf.compat.v1.Session(graph=g) as session:
            tf.compat.v1.import_graph_def(graph_def, name="")
            return session.run(["final_output:0", "BiseNetV2/prob:0"], {"input_tensor:0": x})

    x = np.random.default_rng(1).uniform(-1, 1, (1, 72, 56, 3)).astype(np.float32)
    (labels, prob), (ids, prob2) = run(graph, x), run(simple, x)
    assert labels.shape == ids.shape == (72, 56) and ids.dtype == np.int32
    assert np.array_equal(ids, labels)
    assert np.abs(prob - prob2).max() < 1e-5
    assert graphfix.simplify(simple) == [], "simplify is idempotent"


def test_check_against_the_unoptimised_build_needs_identical_class_maps(built, plain, capsys):
    assert main(["check", "--model-dir", str(built), "--reference", str(plain), "--sizes", SMALL]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith(f"against {plain.name}; tfjs in Node: cpu, wasm (SIMD, 1 thread)")
    rows = [line.split() for line in out.splitlines() if line.strip().startswith(("cpu", "wasm"))]
    assert len(rows) == 4 and all(r[-2] == "yes" and float(r[3]) <= 1e-5 for r in rows)
    assert "identical class maps" in out and f"checked: the web model matches {plain.name}" in out


def test_check_against_a_different_model_fails_with_the_parity_code(built, checkouts, tmp_path, capsys):
    other = tmp_path / "other"
    assert main(["build", "--dest", str(checkouts / "celebamask"), "--random-weights", "--seed", "7",
                 "--out", str(other), "--no-check"]) == 0
    capsys.readouterr()
    assert main(["check", "--model-dir", str(built), "--reference", str(other), "--sizes", SMALL,
                 "--backends", "wasm"]) == 16
    err = capsys.readouterr().err
    assert "against other: " in err and "differ without a tie (identical class maps expected)" in err
    # build's quick check of a quantized variant stops only below its floor, and warns above it
    with pytest.raises(ParityError):
        check(built, ("wasm",), [(64, 64)], reference=other, floor=Bound("agreement", 0.999))
    rows = check(built, ("wasm",), [(64, 64)], reference=other, floor=Bound("agreement", 0.0))
    assert not rows[0].ok and "above the quick check's floor (agreement >= 0)" in capsys.readouterr().err


@pytest.mark.parametrize("kind", ["float16", "uint8"])
def test_quantized_variants_are_smaller_and_checked_against_float32(kind, built, checkouts, tmp_path, capsys):
    out = tmp_path / kind
    assert main(["build", "--dest", str(checkouts / "celebamask"), "--random-weights", "--out", str(out),
                 "--quantize", kind]) == 0
    size = sum(p.stat().st_size for p in out.glob("*.bin"))
    full = sum(p.stat().st_size for p in built.glob("*.bin"))
    assert size < full * (0.6 if kind == "float16" else 0.35)
    assert json.loads((out / "model.json").read_text())["userDefinedMetadata"]["patcher"]["quantization"] == kind
    capsys.readouterr()
    code = main(["check", "--model-dir", str(out), "--sizes", SMALL])
    rows = [line.split() for line in capsys.readouterr().out.splitlines() if line.strip().startswith(("cpu", "wasm"))]
    assert len(rows) == 4
    agreements = [float(r[2].rstrip("%")) for r in rows]
    # quantized bounds: 99 % agreement, the probability difference only reported
    assert [r[-2] == "yes" for r in rows] == [a >= 99.0 for a in agreements]
    assert code == (0 if min(agreements) >= 99.0 else 16)
    # a pixel can change class only where its top two probabilities are within 2 * max |dp|
    assert all(100 - a <= float(r[-1].rstrip("%")) + 1e-3 for a, r in zip(agreements, rows, strict=True))
    # the tiny synthetic net with random weights has near ties; the real model: see the README's table
    assert min(agreements) >= (99.0 if kind == "float16" else 95.0)

    code = main(["check", "--model-dir", str(out), "--reference", str(built), "--sizes", SMALL, "--backends", "wasm"])
    out_lines = capsys.readouterr().out.splitlines()
    assert out_lines[0].startswith(f"against {built.name}")
    rows = [line.split() for line in out_lines if line.strip().startswith("wasm")]
    agreements = [float(r[2].rstrip("%")) for r in rows]
    assert len(rows) == 2
    # quantizing changes the weights, so the probabilities differ from the float32 build's, by at most 1
    assert all(0 < float(r[3]) <= 1 for r in rows), rows
    # and, as against TensorFlow, a pixel changes class only where it could flip (percentages to 3 decimals)
    assert all(100 - a <= float(r[-1].rstrip("%")) + 2e-3 for a, r in zip(agreements, rows, strict=True)), rows
    assert code == (0 if min(agreements) >= 99.0 else 16)

"""The benchmark scripts run end to end on the synthetic model and print one row per variant and runtime."""
from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from pathlib import Path

import pytest

from kit import needs_chromium, needs_node, needs_tfjs
from patcher import outdir

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"

pytestmark = [pytest.mark.tf, needs_tfjs, needs_node]


def load(name: str):
    spec = importlib.util.spec_from_file_location(name, SCRIPTS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def rows(out: str, runtime: str) -> list[list[str]]:
    return [line.split() for line in out.splitlines() if runtime in line]


def test_bench_webmodel_compares_variants_in_one_run(built, tmp_path, capsys):
    copy = tmp_path / "copy"
    shutil.copytree(built, copy)
    shutil.copytree(outdir.graph_dir(built), outdir.graph_dir(copy))
    assert load("bench_webmodel").main(["--model-dir", str(built), "--model-dir", str(copy), "--sizes", "64,48",
                                        "--backends", "wasm", "--repeat", "1"]) == 0
    out = capsys.readouterr().out
    assert "tfjs in Node: wasm (SIMD, 1 thread)" in out
    wasm = rows(out, "tfjs wasm")
    assert len(wasm) == 4 and {r[0] for r in wasm} == {built.name, copy.name}
    assert all(float(r[-3]) > 0 and float(r[-2]) > 0 and r[-1] == "100.000%" for r in wasm)


@needs_chromium
def test_bench_browser_without_litert_times_tf_and_tfjs_and_says_what_is_absent(built, capsys, monkeypatch):
    bench = load("bench_browser")
    monkeypatch.setattr(bench, "TF2ONNX", "no_such_tf2onnx_module")  # as where the bench extra is not installed
    assert bench.main(["--model-dir", str(built), "--sizes", "64", "--repeat", "1"]) == 0
    captured = capsys.readouterr()
    out = captured.out
    result = json.loads(out.strip().splitlines()[-1])
    assert list(result["tf_ms"]) == ["64x64"] and result["tf_ms"]["64x64"] > 0
    # tfjs with each default thread count, as tfjs reports it runs; no LiteRT.js or onnxruntime-web rows
    assert [(r["runtime"].split()[0], r["threads"], r["size"]) for r in result["rows"]] == [("tfjs", 1, "64x64"),
                                                                                           ("tfjs", 2, "64x64")]
    assert all(r["ms"] > 0 and r["bytes"] > 0 for r in result["rows"])
    text = out.strip().rsplit("\n", 1)[0]  # the table, without the JSON line
    table = rows(text, "tfjs 4.22.0 wasm")
    assert [r[3] for r in table] == ["1", "2"] and all(float(r[4]) > 0 and float(r[5]) > 0 for r in table)
    assert len(rows(text, "TensorFlow 2.19.0 native")) == 1
    assert "absent: LiteRT.js rows: the build has no `litert` metadata" in out and "build --litert" in out
    skipped = [line for line in captured.err.splitlines() if "onnxruntime-web rows skipped" in line]
    assert len(skipped) == 1 and "no_such_tf2onnx_module is not installed (pip install -e '.[bench]')" in skipped[0]
    assert set(result["absent"]) == {"LiteRT.js", "onnxruntime-web"}


@needs_chromium
def test_bench_faces_times_face_mode_and_the_whole_frame_in_one_run(built, capsys):
    meta = json.loads((built / "model.json").read_text())["userDefinedMetadata"]
    if not (meta.get("faces") or {}).get("detector"):
        pytest.skip("the build could not fetch the face detector (no npm registry): no face mode to time")
    assert load("bench_faces").main(["--model-dir", str(built), "--repeat", "1"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("640 x 480 frames in the Web Worker, wasm") and "squares at 320 x 320" in out[0]
    face = next(line for line in out if line.startswith("| tfjs wasm | face mode (1 face(s)) | 320x320 |"))
    whole = next(line for line in out if line.startswith("| tfjs wasm | whole frame | 448x448 |"))
    assert len(face.split("|")) == len(whole.split("|")) == 13
    got = json.loads(out[-1])
    assert list(got["runtimes"]) == ["tfjs wasm"], "a build without LiteRT.js: tfjs only"
    tfjs = got["runtimes"]["tfjs wasm"]
    assert tfjs["faces"]["found"] == [1] and got["repeat"] == 1
    assert tfjs["faces"]["ms"] >= tfjs["faces"]["parseMs"] > 0 and tfjs["faces"]["detectMs"] > 0
    assert tfjs["whole"]["ms"] >= tfjs["whole"]["modelMs"] > 0
    assert tfjs["ratio"] == pytest.approx(tfjs["faces"]["ms"] / tfjs["whole"]["ms"])


def test_bench_faces_refuses_a_build_without_a_detector(built, tmp_path, capsys):
    copy = tmp_path / "plain"
    copy.mkdir()
    content = json.loads((built / "model.json").read_text())
    content["userDefinedMetadata"].pop("faces", None)
    (copy / "model.json").write_text(json.dumps(content))
    assert load("bench_faces").main(["--model-dir", str(copy), "--repeat", "1"]) == 2
    assert "names no face detector" in capsys.readouterr().err
    assert load("bench_faces").main(["--model-dir", str(built), "--runtime", "litert"]) == 2
    assert "has no LiteRT.js model (build it with --litert)" in capsys.readouterr().err


def test_face_quality_prints_face_mode_against_the_whole_frame(built, capfd):
    """On the synthetic model (random weights: the table's shape, not its numbers) with the real detector and
    one of openpeople's people."""
    meta = json.loads((built / "model.json").read_text())["userDefinedMetadata"]
    if not (meta.get("faces") or {}).get("detector"):
        pytest.skip("the build could not fetch the face detector (no npm registry)")
    code = load("face_quality").main(["--model-dir", str(built), "--people", "1", "--sizes", "64,96", "--whole", "96"])
    captured = capfd.readouterr()   # the table comes from the Node child
    if code == 1 and "openpeople" in captured.err:
        pytest.skip(f"openpeople's pictures cannot be fetched: {captured.err.strip()}")
    assert code == 0, captured.err
    table = [line.split("|")[1:-1] for line in captured.out.splitlines() if line.startswith("|")]
    assert "eyes, nose, mouth on their class (of 4)" in table[0][3]
    kinds = [cells[0].strip() for cells in table[2:] if cells[0].strip()]
    assert kinds == ["astronaut (1)", "amateur_selfie (1)", "studio_posture (1)", "amateur_posture (1)", "all (4)"]
    assert [cells[2].strip() for cells in table[2:5]] == ["whole frame 96", "face mode 64", "face mode 96"]
    found = [cells[1].strip() for cells in table[2:] if cells[1].strip()]
    assert found[-1] == "4/4"
    for cells in table[2:]:
        assert 0 <= float(cells[3]) <= 4 and 0 <= float(cells[8].strip(" %")) <= 100
    assert table[-1][2].strip() == "face mode 96" and table[-1][8].strip() == "100.0 %"  # itself
    assert "astronaut: agreement inside the face box with the parse of its hand-checked head crop at 96 x 96: " \
        "whole frame 96 " in captured.out

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

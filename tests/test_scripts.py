"""The benchmark scripts run end to end on the synthetic model and print one row per variant and runtime."""
from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path

import pytest

from patcher import outdir
from patcher.page import CHROMIUM

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"

pytestmark = [
    pytest.mark.tf,
    pytest.mark.skipif(importlib.util.find_spec("tensorflowjs") is None, reason="tensorflowjs is not installed"),
    pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed"),
]


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


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"Debian's chromium is not installed ({CHROMIUM})")
@pytest.mark.skipif(importlib.util.find_spec("playwright") is None, reason="playwright is not installed")
def test_bench_browser_runs_each_variant_and_thread_count(built, capsys):
    assert load("bench_browser").main(["--model-dir", str(built), "--sizes", "64", "--backends", "wasm,wasm:1",
                                       "--repeat", "1"]) == 0
    out = capsys.readouterr().out
    wasm = [line for line in out.splitlines() if "chromium wasm" in line]
    assert len(wasm) == 2 and ("threads, SIMD)" in wasm[0] or "(1 thread, SIMD)" in wasm[0])
    assert "(1 thread, SIMD)" in wasm[1]
    assert all(float(line.split()[-3]) > 0 for line in wasm)
    assert len(rows(out, "tensorflow (CPU)")) == 1

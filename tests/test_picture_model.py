"""A picture model end to end through the engine: the synthetic cartoon upstream (tests/synthetic_cartoon.py,
no freeze script, an `image` output) patched by the shipped recipe white-box-cartoonization, verified, built with random weights
(frozen by patcher from the recipe's graph expression) and checked in tfjs wasm against TensorFlow with the
image kind's metrics."""
from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest

import synthetic_cartoon
from kit import needs_tf, needs_tfjs, needs_tfjs_node
from patcher.cli import main
from patcher.recipe import find

needs_slim = pytest.mark.skipif(importlib.util.find_spec("tf_slim") is None,
                                reason="tf_slim is not installed (pip install tf-slim==1.1.0): the patched upstream imports it")


@pytest.fixture(scope="module")
def recipe() -> Path:
    return find("white-box-cartoonization")


@pytest.fixture(scope="module")
def checkout(recipe, tmp_path_factory) -> Path:
    upstream, commits = synthetic_cartoon.make_upstream(tmp_path_factory.mktemp("cartoon") / "repo")
    dest = tmp_path_factory.mktemp("checkout") / "cartoon"
    assert main(["apply", "--recipe", str(recipe), "--upstream", str(upstream), "--commit", commits[0],
                 "--dest", str(dest)]) == 0
    return dest


@pytest.mark.tf
@needs_tf
@needs_slim
def test_verify_checks_the_picture_s_shape_and_range(recipe, checkout, capsys):
    assert main(["verify", "--recipe", str(recipe), "--dest", str(checkout), "--sizes", "5x7,33x20"]) == 0
    out = capsys.readouterr().out
    assert "output static shape [1, None, None, 3]" in out and "range" in out
    assert re.search(r"^\s+33x20\s+1x33x20x3\s+[\d.]+\s+\[-?\d\.\d{3}, -?\d\.\d{3}\]$", out, re.M), out


@pytest.mark.tf
@needs_tfjs
@needs_tfjs_node
@needs_slim
def test_build_random_weights_then_check_with_the_image_metrics(recipe, checkout, tmp_path, capsys):
    out = tmp_path / "web"
    assert main(["build", "--recipe", str(recipe), "--dest", str(checkout), "--random-weights", "--out", str(out)]) == 0
    meta = json.loads((out / "model.json").read_text())["userDefinedMetadata"]
    (output,) = meta["outputs"]
    assert output["kind"] == "image" and output["shape"] == [1, "H", "W", 3] and output["name"] == "output"
    assert meta["patcher"]["reference_outputs"] == {"image": "output"} and "classes" not in meta
    assert json.loads((out / "package.json").read_text())["license"] == "CC-BY-NC-SA-4.0"
    capsys.readouterr()
    assert main(["check", "--model-dir", str(out), "--sizes", "64x64,50x70", "--backends", "wasm"]) == 0
    printed = capsys.readouterr().out
    rows = [line.split() for line in printed.splitlines() if line.strip().startswith("wasm")]
    assert [r[1] for r in rows] == ["64x64", "50x70"] and all("yes" in r for r in rows), printed
    assert "within one" in printed

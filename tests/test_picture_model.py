"""A picture model end to end through the engine: the synthetic cartoon upstream (tests/synthetic_cartoon.py,
no freeze script, an `image` output) patched by the shipped recipe white-box-cartoonization, verified, built with random weights
(frozen by patcher from the recipe's graph expression) and checked in tfjs wasm against TensorFlow with the
image kind's metrics."""
from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import numpy as np
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


def published_style(recipe: Path, checkout: Path, folder: Path, constants: dict[str, float]) -> dict[str, np.ndarray]:
    """A published-style graph model of the synthetic generator in `folder`: its random variables under
    their own names, each uint8-quantized (min and scale per tensor, as the tfjs converter writes them),
    plus scalar `constants`; the dequantized values, by name."""
    import tensorflow as tf

    from patcher import freeze
    from patcher.errors import BuildError
    from patcher.recipe import load

    prefix = folder.parent / "random" / "model.ckpt"
    prefix.parent.mkdir(parents=True)
    freeze.run(checkout, "checkpoint", load(recipe).model("cartoon"), ["--prefix", str(prefix), "--seed", "5"],
               BuildError)
    reader = tf.train.load_checkpoint(str(prefix))
    entries, data, values = [], b"", {}
    for name in sorted(reader.get_variable_to_shape_map()):
        value = reader.get_tensor(name).astype(np.float32)
        low, scale = float(value.min()), float(value.max() - value.min()) / 255 or 1.0
        q = np.round((value - low) / scale).astype(np.uint8)
        entries.append({"name": name, "shape": list(value.shape), "dtype": "float32",
                        "quantization": {"dtype": "uint8", "min": low, "scale": scale}})
        data += q.tobytes()
        values[name] = q.astype(np.float32) * np.float32(scale) + np.float32(low)
    for name, number in constants.items():  # quantized as the converter does a constant: q 0, min the value
        entries.append({"name": name, "shape": [], "dtype": "float32",
                        "quantization": {"dtype": "uint8", "min": number, "scale": 1.0}})
        data += b"\0"
    folder.mkdir(parents=True)
    (folder / "model.json").write_text(json.dumps({"format": "graph-model", "modelTopology": {},
                                                   "weightsManifest": [{"paths": ["w.bin"], "weights": entries}]}))
    (folder / "w.bin").write_bytes(data)
    return values


@pytest.mark.tf
@needs_tf
@needs_slim
def test_published_quantized_weights_and_the_graph_s_own_constants(recipe, checkout, tmp_path, capsys):
    """The guided filter's eps (add/y, 0.005 in the recipe's graph expression) published as a weight is
    accepted because it equals the graph's own constant; another value of it, or a weight naming nothing
    in the graph, is refused by name with one line (exit 20) and no checkpoint."""
    import tensorflow as tf

    good = published_style(recipe, checkout, tmp_path / "good" / "model", {"add/y": float(np.float32(0.005))})
    prefix = tmp_path / "ckpt" / "model.ckpt"
    capsys.readouterr()
    assert main(["weights", "--recipe", str(recipe), "--dest", str(checkout), "--from", str(tmp_path / "good" / "model"),
                 "--out", str(prefix)]) == 0
    printed = capsys.readouterr().out
    assert f"{len(good)} of {len(good) + 1} published float weights used, 1 equal to the graph's own constants" \
        in printed, printed
    reader = tf.train.load_checkpoint(str(prefix))
    for name, value in good.items():
        np.testing.assert_array_equal(reader.get_tensor(name), value)
    for constants, message in (({"add/y": 0.01}, "published weight add/y is 0.01, the graph's own constant 0.005"),
                               ({"add/y": float(np.float32(0.005)), "nowhere/y": 1.0},
                                "published weight nowhere/y matches no variable of the graph")):
        folder = tmp_path / str(len(message)) / "model"
        published_style(recipe, checkout, folder, constants)
        out = tmp_path / str(len(message)) / "out" / "model.ckpt"
        capsys.readouterr()
        code = main(["weights", "--recipe", str(recipe), "--dest", str(checkout), "--from", str(folder),
                     "--out", str(out)])
        err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("patcher: error: ")]
        assert code == 20 and len(err) == 1 and message in err[0], err
        assert not out.parent.exists()


@pytest.mark.tf
@needs_tf
@needs_tfjs
@needs_slim
def test_build_from_the_upstream_s_own_checkpoint(recipe, checkout, tmp_path, capsys):
    """`--weights upstream` builds from the checkpoint the recipe names inside the checkout (the synthetic
    upstream gains one in a commit of its own); a checkout without it is refused in one line (exit 14)."""
    import hashlib

    from patcher import freeze
    from patcher.errors import BuildError
    from patcher.recipe import load

    named = load(recipe).model("cartoon").upstream_checkpoint
    out = tmp_path / "refused"
    capsys.readouterr()
    assert main(["build", "--recipe", str(recipe), "--dest", str(checkout), "--weights", "upstream",
                 "--out", str(out)]) == 14
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("patcher: error: ")]
    assert len(err) == 1 and f"lacks the upstream's checkpoint ({named}.index and {named}.data-*" in err[0], err
    assert not out.exists()

    upstream, _ = synthetic_cartoon.make_upstream(tmp_path / "upstream")
    prefix = upstream / named
    prefix.parent.mkdir(parents=True, exist_ok=True)
    freeze.run(checkout, "checkpoint", load(recipe).model("cartoon"), ["--prefix", str(prefix), "--seed", "9"],
               BuildError)
    synthetic_cartoon.git(upstream, "add", "-A")
    synthetic_cartoon.git(upstream, "commit", "-q", "-m", "third: trained weights")
    pin = synthetic_cartoon.git(upstream, "rev-parse", "HEAD").strip()
    dest = tmp_path / "checkout"
    assert main(["apply", "--recipe", str(recipe), "--upstream", str(upstream), "--commit", pin, "--dest", str(dest)]) == 0
    web = tmp_path / "web"
    assert main(["build", "--recipe", str(recipe), "--dest", str(dest), "--weights", "upstream", "--no-check",
                 "--out", str(web)]) == 0
    meta = json.loads((web / "model.json").read_text())["userDefinedMetadata"]["patcher"]
    files = [Path(f"{dest / named}.index"), *sorted((dest / named).parent.glob(f"{Path(named).name}.data-*"))]
    digest = hashlib.sha256(b"".join(f.read_bytes() for f in files)).hexdigest()
    assert meta["checkpoint"] == named and meta["weights"] == f"sha256:{digest}"

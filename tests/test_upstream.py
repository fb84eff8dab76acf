"""The recipe on the real upstream (PATCHER_UPSTREAM): both models, at the pinned and the newest commit.

Assertions read the patched files' parsed structure; no upstream text is copied here.
"""
from __future__ import annotations

import ast
import json
import importlib.util

import git
import pytest

from kit import needs_tfjs, real_upstream
from patcher import recipe as recipes
from patcher.cli import main

pytestmark = pytest.mark.upstream
RECIPE = recipes.load()
NEWEST = "5407554"


@pytest.fixture(scope="module")
def mirror(tmp_path_factory):
    location = real_upstream()
    path = tmp_path_factory.mktemp("real") / "mirror.git"
    git.Repo.clone_from(location, path, mirror=True)
    return path


def calls(tree, attr):
    return [n for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
            and n.func.attr == attr]


def is_dynamic_size(node) -> bool:
    """`tf.shape(x)[1:3]`."""
    return (isinstance(node, ast.Subscript) and isinstance(node.value, ast.Call)
            and isinstance(node.value.func, ast.Attribute) and node.value.func.attr == "shape"
            and isinstance(node.slice, ast.Slice) and ast.literal_eval(node.slice.lower) == 1
            and ast.literal_eval(node.slice.upper) == 3)


def find(tree, *names):
    node = tree
    for name in names:
        node = next(n for n in ast.walk(node) if isinstance(n, (ast.ClassDef, ast.FunctionDef)) and n.name == name)
    return node


@pytest.mark.parametrize("model", sorted(RECIPE.models))
@pytest.mark.parametrize("commit", [RECIPE.commit, NEWEST])
def test_recipe_applies_and_the_seed_edits_landed(mirror, commit, model, tmp_path, capsys):
    dest = tmp_path / "checkout"
    assert main(["apply", "--upstream", str(mirror), "--commit", commit, "--dest", str(dest), "--model", model]) == 0

    freeze = ast.parse((dest / RECIPE.model(model).freeze_script).read_text())
    placeholders = [c for c in calls(freeze, "placeholder")
                    if any(k.arg == "name" and ast.literal_eval(k.value) == "input_tensor" for k in c.keywords)]
    assert [ast.literal_eval(next(k.value for k in c.keywords if k.arg == "shape")) for c in placeholders] \
        == [[1, None, None, 3]]
    main_block = next(n for n in freeze.body if isinstance(n, ast.If))
    called = [s.value.func.id for s in main_block.body
              if isinstance(s, ast.Expr) and isinstance(s.value, ast.Call) and isinstance(s.value.func, ast.Name)]
    assert "optimize_inference_model" in called

    model_code = ast.parse((dest / "bisenet_model/bisenet_v2.py").read_text())
    resizes = calls(find(model_code, "_GuidedAggregation"), "resize_bilinear")
    assert len(resizes) == 2 and all(is_dynamic_size(c.args[1]) for c in resizes)
    head = find(model_code, "_SegmentationHead", "__call__")
    assert not [n for n in ast.walk(head) if isinstance(n, ast.ListComp)]
    assert calls(head, "multiply") and any(is_dynamic_size(n) for n in ast.walk(head))

    if importlib.util.find_spec("tensorflow") is not None:
        capsys.readouterr()
        assert main(["verify", "--dest", str(dest), "--model", model]) == 0
        assert "output static shape [None, None]" in capsys.readouterr().out


@needs_tfjs
def test_real_face_model_builds_and_matches_tensorflow(mirror, tmp_path, capsys):
    dest, out = tmp_path / "checkout", tmp_path / "web"
    assert main(["apply", "--upstream", str(mirror), "--dest", str(dest)]) == 0
    assert main(["build", "--dest", str(dest), "--random-weights", "--out", str(out)]) == 0
    meta = json.loads((out / "model.json").read_text())["userDefinedMetadata"]
    assert meta["patcher"]["commit"] == RECIPE.commit and meta["classes"][17] == "hair"
    capsys.readouterr()
    assert main(["check", "--model-dir", str(out), "--sizes", "128x128,100x90"]) == 0
    assert "checked: the web model matches TensorFlow on cpu at 2 sizes, wasm at 2 sizes" in capsys.readouterr().out


@needs_tfjs
def test_trained_face_model_matches_the_published_one(mirror, tmp_path, capsys):
    """The checkpoint recovered from the seed's published package, built by patcher, parses the recipe's
    pictures exactly as the published model does, at the four sizes of check --reference published."""
    dest, out = tmp_path / "checkout", tmp_path / "web"
    assert main(["apply", "--upstream", str(mirror), "--dest", str(dest)]) == 0
    assert main(["build", "--dest", str(dest), "--weights", "published", "--out", str(out)]) == 0
    meta = json.loads((out / "model.json").read_text())["userDefinedMetadata"]
    assert meta["patcher"]["published"]["package"] == RECIPE.model("celebamask").published["package"]
    assert "non-commercial" in meta["terms"]
    capsys.readouterr()
    assert main(["check", "--model-dir", str(out), "--reference", "published"]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines() if line.strip().startswith("wasm")]
    assert [r[1] for r in rows] == ["288x288", "448x448", "448x320", "1024x1024"]
    assert all(float(r[2].rstrip("%")) >= 99.9 for r in rows)

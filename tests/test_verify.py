"""`verify` on the synthetic upstream: the patched graph runs on TensorFlow 2; each compatibility step is needed."""
from __future__ import annotations

import re

import pytest

from kit import needs_tf
from patcher import recipe as recipes
from patcher.cli import main

pytestmark = [pytest.mark.tf, needs_tf]


def without(tmp_path, codemod: str):
    """A copy of the recipe without the step that runs `codemod`."""
    text = recipes.default().read_text()
    head, *steps = text.split("[[step]]")
    kept = [s for s in steps if f'codemod = "{codemod}"' not in s]
    assert len(kept) == len(steps) - 1
    path = tmp_path / "recipe.toml"
    path.write_text("[[step]]".join([head, *kept]))
    return path


@pytest.fixture(scope="module")
def patched(synthetic_upstream, tmp_path_factory):
    path, (old, _) = synthetic_upstream
    dest = tmp_path_factory.mktemp("verify") / "checkout"
    assert main(["apply", "--upstream", str(path), "--commit", old, "--dest", str(dest)]) == 0
    return dest


def test_verify_runs_every_size_with_the_input_shape(patched, capsys):
    assert main(["verify", "--dest", str(patched)]) == 0
    out = capsys.readouterr().out
    assert "output static shape [None, None]" in out
    rows = re.findall(r"^\s+(\d+x\d+)\s+(\d+x\d+)\s+([\d.]+)\s+(\d+)\.\.(\d+)$", out, re.M)
    assert [r[0] for r in rows] == ["288x288", "448x448", "512x384", "450x301"]
    for size, shape, ms, low, high in rows:
        assert shape == size and float(ms) > 0 and 0 <= int(low) <= int(high) <= 18


def test_verify_the_cityscapes_graph(synthetic_upstream, tmp_path, capsys):
    path, (old, _) = synthetic_upstream
    dest = tmp_path / "city"
    assert main(["apply", "--upstream", str(path), "--commit", old, "--dest", str(dest), "--model", "cityscapes"]) == 0
    assert main(["verify", "--dest", str(dest), "--model", "cityscapes", "--sizes", "64x96,50x70"]) == 0
    assert "verified: cityscapes" in capsys.readouterr().out


@pytest.mark.parametrize(("codemod", "message"), [
    ("tf_compat_v1", "has no attribute"),
    ("floor_division", "integer"),
    ("dynamic_resize", "Cannot convert a partially known TensorShape"),
    ("dynamic_head_size", "unsupported operand type(s) for *: 'NoneType' and 'int'"),
    ("head_to_input", "450x301: output shape [456, 304] is not the input's"),
])
def test_each_compatibility_step_is_needed(codemod, message, synthetic_upstream, tmp_path, capsys):
    path, (old, _) = synthetic_upstream
    dest = tmp_path / "checkout"
    recipe = without(tmp_path, codemod)
    assert main(["apply", "--upstream", str(path), "--commit", old, "--dest", str(dest), "--recipe", str(recipe)]) == 0
    capsys.readouterr()
    assert main(["verify", "--dest", str(dest), "--recipe", str(recipe)]) == 8
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("patcher: error:")]
    assert len(err) == 1 and message in err[0]


def test_legacy_keras_setting_from_the_recipe_is_needed(patched, tmp_path, capsys):
    text = recipes.default().read_text()
    assert 'env = { TF_USE_LEGACY_KERAS = "1" }' in text
    path = tmp_path / "bisenetv2.toml"  # the recipe, edited: its name is the branch's (patcher/RECIPE/MODEL)
    path.write_text(text.replace('env = { TF_USE_LEGACY_KERAS = "1" }', 'env = { TF_USE_LEGACY_KERAS = "0" }'))
    assert main(["verify", "--recipe", str(path), "--dest", str(patched), "--sizes", "64x64"]) == 8
    assert "Keras" in capsys.readouterr().err


def test_missing_tensorflow_says_how_to_install(patched, tmp_path, monkeypatch, capsys):
    fake = tmp_path / "fake" / "tensorflow"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('No module named tensorflow (simulated)')\n")
    monkeypatch.setenv("PYTHONPATH", str(fake.parent))
    assert main(["verify", "--dest", str(patched)]) == 9
    assert "pip install" in capsys.readouterr().err


def test_verify_needs_a_patched_checkout(tmp_path, capsys):
    assert main(["verify", "--dest", str(tmp_path / "nothing")]) == 12


def test_bad_sizes_are_a_usage_error(patched, capsys):
    with pytest.raises(SystemExit) as raised:
        main(["verify", "--dest", str(patched), "--sizes", "448"])
    assert raised.value.code == 2


def test_a_child_that_overruns_its_time_is_stopped_with_one_error(tmp_path):
    import os

    from patcher.errors import ParityError
    from patcher.child import run_child

    # the child would print its usage and exit; 1 ms is less than Python's start-up, so it is stopped first
    with pytest.raises(ParityError, match=r"python -m patcher.litert browser did not finish in 0.001 s; stopped it"):
        run_child("patcher.litert", "browser", ["--help"], tmp_path, dict(os.environ), ParityError, str, timeout=0.001)

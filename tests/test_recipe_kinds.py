"""A recipe's fields for output kinds, freezing without a freeze script and extra packages: a picture model's
recipe (the shipped white-box-cartoonization) loads, and each bad value is one line with the field's path."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from patcher import errors, packages
from patcher import recipe as recipes
from patcher.cli import main

RECIPE = recipes.find("white-box-cartoonization")


def edited(tmp_path: Path, old: str = "", new: str = "") -> Path:
    text = RECIPE.read_text()
    assert old in text, old
    path = tmp_path / "recipe.toml"
    path.write_text(text.replace(old, new, 1) if old else text)
    return path


def test_a_picture_model_without_a_freeze_script_loads():
    found = recipes.load("white-box-cartoonization").model("cartoon")
    (out,) = found.outputs
    assert (out.kind, out.node, out.options["channels"], out.options["range"]) == ("image", "output", 3, (-1.0, 1.0))
    assert found.restore == {"scope": "generator", "trainable": True, "variables": [], "moving_average": None}
    assert (found.graph_path, found.graph_imports) == ("test_code", ("network", "guided_filter"))
    assert found.packages == ("tf-slim==1.1.0",) and found.input.color == "BGR"
    assert (found.freeze_script, found.freeze_args, found.convert) == ("", (), "")
    assert (found.labels, found.classes, found.palette) == ("", (), ())


def test_the_shipped_recipe_s_outputs_are_one_labels_output():
    face = recipes.load().model("celebamask")
    (out,) = face.outputs
    assert (out.kind, out.node, out.options["probabilities"]) == ("labels", face.labels, face.probabilities)
    assert face.restore is None and face.packages == () and face.freeze_script


BAD = [
    pytest.param('kind = "image"', 'kind = "mask"', r"unknown output kind 'mask' in 'outputs.image' \(known: image, labels\)",
                 id="unknown-kind"),
    pytest.param('kind = "image", ', '', r"field 'outputs.image.kind' is missing", id="kind-missing"),
    pytest.param('channels = 3', 'channels = 5', r"field 'outputs.image.channels' must be a whole number from 1 to 4",
                 id="channels"),
    pytest.param('range = [-1.0, 1.0]', 'range = [1.0, -1.0]', r"field 'outputs.image.range' must be \[low, high\]",
                 id="range"),
    pytest.param('channels = 3', 'channels = 3, classes = 2', r"unknown field 'outputs.image.classes' for a image output",
                 id="unknown-output-field"),
    pytest.param('restore = { scope = "generator", trainable = true }',
                 'restore = { scope = "generator", variables = ["a"] }',
                 r"field 'restore' names both 'scope' and 'variables': pick one", id="restore-both"),
    pytest.param('restore = { scope = "generator", trainable = true }', 'restore = { scope = 3 }',
                 r"field 'restore' must be \{scope", id="restore-type"),
    pytest.param('restore = { scope = "generator", trainable = true }', '',
                 r"missing field 'freeze_script' \(a model needs either 'freeze_script' \(with", id="neither-script-nor-restore"),
    pytest.param('packages = ["tf-slim==1.1.0"]', 'packages = ["tf-slim"]',
                 r"field 'packages' must be a list of 'NAME==VERSION' strings, not 'tf-slim'", id="package-unpinned"),
    pytest.param('graph_path = "test_code"', 'graph_path = "../elsewhere"', r"field 'graph_path' must stay inside",
                 id="graph-path-leaves"),
    pytest.param('graph_imports = ["network", "guided_filter"]', 'graph_imports = ["net-work"]',
                 r"field 'graph_imports' must be a list of module names", id="graph-imports"),
]


def refused(path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    """The one line `list` refuses the recipe at `path` with (exit 13), after the file and model."""
    assert main(["list", "--recipe", str(path), "--dest", str(path.parent / "none")]) == 13
    (line,) = capsys.readouterr().err.strip().splitlines()
    prefix = f"patcher: error: {path}: model 'cartoon': "
    assert line.startswith(prefix), line
    return line[len(prefix):]


@pytest.mark.parametrize(("old", "new", "message"), BAD)
def test_a_bad_field_is_one_line_naming_the_model_and_field(old, new, message, tmp_path, capsys):
    line = refused(edited(tmp_path, old, new), capsys)
    assert re.match(message, line), line


def test_a_labels_output_needs_classes_and_palette(tmp_path, capsys):
    path = edited(tmp_path, 'outputs = { image = { node = "output", kind = "image", channels = 3, range = [-1.0, 1.0] } }',
                  'outputs = { labels = "x", probabilities = "y" }')
    assert refused(path, capsys) == "missing field 'classes'"


def test_a_missing_package_is_exit_21_naming_the_pip_install():
    with pytest.raises(errors.MissingPackage) as caught:
        packages.require(["patcher-no-such-package==1.0"])
    assert caught.value.code == 21
    assert str(caught.value).endswith("install it with: pip install patcher-no-such-package==1.0")

"""The recipe carries the whole model: it is checked when it loads, and a second recipe for another
upstream (the example, patcher/examples: tests/synthetic_tiny.py) runs through the engine without edits."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from kit import needs_chromium, needs_tf, needs_tfjs, needs_tfjs_node
import synthetic_tiny
from patcher import recipe as recipes
from patcher.cli import main

ENGINE = Path(__file__).resolve().parent.parent / "patcher"


def edited(tmp_path: Path, old: str, new: str, source: Path | None = None) -> Path:
    text = (source or recipes.default()).read_text()
    assert old in text, old
    path = tmp_path / "recipe.toml"
    path.write_text(text.replace(old, new, 1))
    return path


BAD = [
    pytest.param('codemod = "uncomment_call"', 'codemod = "uncoment_call"',
                 r"step 2: unknown codemod 'uncoment_call'", id="unknown-codemod"),
    pytest.param('params = { function = "optimize_inference_model" }', 'params = { fucntion = "optimize_inference_model" }',
                 r"step 2 \(uncomment_call\): unknown parameter 'fucntion'", id="misspelled-parameter"),
    pytest.param('params = { function = "optimize_inference_model" }', 'params = { }',
                 r"step 2 \(uncomment_call\): missing parameter 'function'", id="missing-parameter"),
    pytest.param('params = { name = "input_tensor", dims = [1, 2] }', 'params = { name = "input_tensor", dims = "1,2" }',
                 r"step 1 \(open_placeholder\): parameter 'dims' must be", id="wrong-parameter-type"),
    pytest.param('sites = 2\nparams = { scope', 'sites = "two"\nparams = { scope',
                 r"step 3 \(dynamic_resize\): field 'sites' must be a whole number", id="sites-not-a-number"),
    pytest.param('transparent = [0]  # background', 'transparent = [19]',
                 r"model 'celebamask': field 'transparent' must list class ids in 0..18", id="transparent-out-of-range"),
    pytest.param('"bicycle"]', '"bicycle", "tram"]',
                 r"model 'cityscapes': field 'palette' has 19 colours for 20 classes", id="classes-palette-mismatch"),
    pytest.param('title = "Street scenes in the browser"\n', '',
                 r"model 'cityscapes': missing field 'title'", id="missing-model-field"),
    pytest.param('convert = "optimized"', 'convert = "optimised"',
                 r"model '\w+': field 'convert' must be 'frozen' or 'optimized'", id="convert-unknown"),
    pytest.param('"{optimized}"]', '"{optimised}"]',
                 r"model '\w+': field 'freeze_args' must use", id="freeze-args-unknown-placeholder"),
    pytest.param('files = ["bisenet_model/cnn_basenet.py"]', 'files = ["../cnn_basenet.py"]',
                 r"step 8 \(floor_division\): file '../cnn_basenet.py' leaves the checkout", id="file-leaves-checkout"),
    pytest.param('files = ["bisenet_model/cnn_basenet.py"]', 'files = ["/etc/passwd"]',
                 r"step 8 \(floor_division\): file '/etc/passwd' leaves the checkout", id="absolute-file"),
    pytest.param('[upstream]', '[upstreams]', r"top level: unknown table 'upstreams'", id="unknown-table"),
    pytest.param('sample = "package:skimage/data/astronaut.png"', 'sample = "astronaut.png"',
                 r"model 'celebamask': field 'sample' 'astronaut.png' is not a file in the recipe's folder",
                 id="sample-missing-next-to-the-recipe"),
    pytest.param('sample = "package:skimage/data/astronaut.png"', 'sample = "../astronaut.png"',
                 r"model 'celebamask': field 'sample' must be 'package:PACKAGE/PATH' or an image file inside "
                 r"the recipe's folder", id="sample-leaves-the-folder"),
    pytest.param('sample = "package:skimage/data/astronaut.png"', 'sample = "/etc/passwd"',
                 r"model 'celebamask': field 'sample' must be", id="sample-absolute"),
    pytest.param('sample = "package:skimage/data/astronaut.png"', 'sample = "recipe.toml"',
                 r"model 'celebamask': field 'sample' must be an image", id="sample-not-an-image"),
    pytest.param('sample = "package:skimage/data/astronaut.png"', 'sample = "package:skimage"',
                 r"model 'celebamask': field 'sample' must be 'package:PACKAGE/PATH'", id="sample-package-without-path"),
    pytest.param('commit = "710db8646ceb505999b9283c0837c0b5cf67876d"', 'commit = "710db86"',
                 r"\[upstream\]: commit must be the full SHA, 40 hex digits, not '710db86'", id="short-commit"),
    pytest.param('[models.cityscapes]', '[models."city scapes"]',
                 r"model 'city scapes': a model's name is letters, digits", id="model-name-not-a-branch-name"),
    pytest.param('[upstream]', '[codemods]\nmodule = ["x.py"]\n\n[upstream]',
                 r"\[codemods\]: unknown field 'module'", id="codemods-unknown-field"),
    pytest.param('[upstream]', '[codemods]\nmodules = ["fix.py"]\n\n[upstream]',
                 r"\[codemods\]: module file 'fix.py' is not a file next to the recipe", id="codemod-file-missing"),
    pytest.param('[upstream]', '[codemods]\nmodules = ["my-fixes/fix"]\n\n[upstream]',
                 r"\[codemods\]: 'my-fixes/fix' is neither an importable module name", id="codemod-not-a-module-name"),
    pytest.param('[upstream]', '[codemods]\nmodules = ["patcher_no_such_module_here"]\n\n[upstream]',
                 r"\[codemods\]: codemod module 'patcher_no_such_module_here': cannot import it: ModuleNotFoundError",
                 id="codemod-module-not-importable"),
    pytest.param('[upstream]', '[codemods]\nmodules = ["patcher.codemods.binary_write"]\n\n[upstream]',
                 r"\[codemods\]: codemod 'binary_write' is defined twice: by patcher and by module "
                 r"patcher.codemods.binary_write", id="codemod-defined-twice"),
    pytest.param('input = { name = "input_tensor", layout = "NHWC", color = "RGB", scale',
                 'input = { name = "input_tensor", layout = "NHWC", colour = "RGB", scale',
                 r"model '\w+': missing field 'input.color'", id="input-field-misspelled"),
    pytest.param('[upstream]', '[upstream', r"not TOML", id="not-toml"),
    pytest.param('package = "@patcher/bisenetv2-celebamask"', 'package = "Face Parts"',
                 r"model 'celebamask': field 'package': 'Face Parts' is not an npm package name", id="package-not-npm"),
    pytest.param('model_license = "Apache-2.0"\n', '', r"model 'celebamask': field 'faces.model_license' is missing",
                 id="faces-field-missing"),
    pytest.param('model_license = "Apache-2.0"', 'model_license = "Apache-2.0"\nlicence = "MIT"',
                 r"model 'celebamask': field 'faces.licence' is unknown", id="faces-field-unknown"),
    pytest.param('version = "3.3.6"', 'version = "^3.3.6"', r"model 'celebamask': field 'faces.version' must be an exact",
                 id="faces-version-range"),
    pytest.param('files = ["blazeface.json", "blazeface.bin"]', 'files = ["blazeface.bin"]',
                 r"model 'celebamask': field 'faces.files' must list file names in the folder, one of them the graph's",
                 id="faces-files-without-graph"),
    pytest.param('files = ["blazeface.json", "blazeface.bin"]', 'files = ["../blazeface.json"]',
                 r"model 'celebamask': field 'faces.files' must list file names", id="faces-file-leaves-folder"),
    pytest.param('integrity = "sha512-Nr5m', 'integrity = "sha1-Nr5m', r"model 'celebamask': field 'faces.integrity'",
                 id="faces-integrity-not-sha512"),
    pytest.param('per_cell = [2, 6]', 'per_cell = [2]', r"model 'celebamask': field 'faces.anchors' must give as many",
                 id="faces-anchors-unequal"),
    pytest.param('per_cell = [2, 6]', 'perCell = [2, 6]', r"model 'celebamask': field 'faces.anchors' must be",
                 id="faces-anchors-misspelled"),
    pytest.param('files = ["face_detection_full_range.tflite"]', 'files = ["face_detection_full_range.bin"]',
                 r"model 'celebamask': field 'faces.litert.files' must list file names in the folder, one of them "
                 r"the model's .tflite", id="faces-litert-files-without-model"),
    pytest.param('[models.celebamask.faces]', '[models.celebamask.face]', r"model 'celebamask': unknown field 'face'",
                 id="faces-table-misspelled"),
    pytest.param('package = "@patcher/bisenetv2-celebamask"',
                 'package = "@patcher/bisenetv2-celebamask"\nupstream_checkpoint = "../weights/model.ckpt"',
                 r"model 'celebamask': field 'upstream_checkpoint' must be a checkpoint prefix inside the checkout",
                 id="upstream-checkpoint-outside"),
]


@pytest.mark.parametrize(("old", "new", "message"), BAD)
def test_a_bad_recipe_is_one_error_line_naming_file_place_and_field(old, new, message, tmp_path, capsys):
    path = edited(tmp_path, old, new)
    assert main(["list", "--recipe", str(path), "--dest", str(tmp_path / "none")]) == 13
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"patcher: error: {path}: ") and captured.out == ""
    assert re.search(message, lines[0]), lines[0]
    assert "Traceback" not in captured.err


def test_a_missing_recipe_is_exit_13(tmp_path, capsys):
    assert main(["list", "--recipe", str(tmp_path / "nope.toml")]) == 13
    assert "cannot read recipe" in capsys.readouterr().err


def test_the_shipped_recipe_loads_and_describes_each_model():
    recipe = recipes.load()
    face, city = recipe.model("celebamask"), recipe.model("cityscapes")
    assert len(face.classes) == len(face.palette) == 19 and face.transparent == (0,)
    assert city.classes[0] == "road" and city.transparent == (), "Cityscapes' road is drawn"
    assert face.input.scale == pytest.approx(1 / 127.5) and face.input.offset == -1.0
    assert city.input.default_size == (512, 1024) and face.input.default_size == (448, 448)
    assert face.moving_average == {"scope": "moving_avg", "decay": 0.9995}
    assert face.env == {"TF_USE_LEGACY_KERAS": "1"}
    assert face.faces["files"] == ["blazeface.json", "blazeface.bin"] and city.faces == {}, "street scenes: no faces"
    assert face.faces["anchors"] == {"strides": [16, 32], "per_cell": [2, 6]}


def test_recipes_lists_the_shipped_ones(capsys):
    assert main(["recipes"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^bisenetv2: https://github.com/MaybeShewill-CV/bisenetv2-tensorflow.git at 710db8646ceb; "
                     r"models: celebamask, cityscapes", out, re.M)


def test_no_engine_file_names_a_model():
    """Facts about one upstream live in its recipe. Face mode is the engine's own (any recipe may name a face
    detector), so the word "face" is allowed; the upstreams' and the detector's names are not."""
    hits = []
    for path in ENGINE.rglob("*"):
        if path.suffix in (".py", ".js", ".mjs", ".html", ".css") and "codemods" not in path.parts:
            for number, line in enumerate(path.read_text().splitlines(), 1):
                if re.search(r"bisenet|celebamask|cityscapes|cartoon|white.box|blazeface", line, re.I):
                    hits.append(f"{path.relative_to(ENGINE)}:{number}: {line.strip()}")
    assert hits == []


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    path, commits = synthetic_tiny.make_upstream(tmp_path_factory.mktemp("tiny") / "repo")
    dest = tmp_path_factory.mktemp("tiny-checkout") / "tiny"
    assert main(["apply", "--recipe", str(synthetic_tiny.RECIPE), "--upstream", str(path), "--commit", commits[0],
                 "--dest", str(dest)]) == 0
    return dest


def test_the_second_recipe_applies_and_lists_its_own_sites(tiny, capsys):
    assert main(["list", "--recipe", str(synthetic_tiny.RECIPE), "--dest", str(tiny)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == (f"recipe {synthetic_tiny.RECIPE} (model tiny); "
                                   "each line number is the one its codemod saw, before later codemods moved lines")
    assert "export.py:15:41: placeholder 'image': dimensions [1, 2] -> None" in out  # at the shape list
    assert "netlib/tinynet.py:17:55: resize size images.shape[1:3] -> tf.shape at run time" in out


@pytest.fixture(scope="module")
def tiny_built(tiny, tmp_path_factory):
    out = tmp_path_factory.mktemp("tiny-web") / "model"
    assert main(["build", "--recipe", str(synthetic_tiny.RECIPE), "--dest", str(tiny), "--random-weights",
                 "--out", str(out)]) == 0
    return out


@pytest.mark.tf
@needs_tf
def test_the_second_recipe_verifies(tiny, capsys):
    assert main(["verify", "--recipe", str(synthetic_tiny.RECIPE), "--dest", str(tiny), "--sizes", "64x64,50x70"]) == 0
    out = capsys.readouterr().out
    assert "output static shape [None, None]" in out and "verified: tiny graph" in out
    assert re.search(r"^\s+50x70\s+50x70\s+[\d.]+\s+\d\.\.[0-4]$", out, re.M)


@pytest.mark.tf
@needs_tfjs
@needs_tfjs_node
def test_the_second_recipe_builds_and_checks(tiny_built, capsys):
    meta = json.loads((tiny_built / "model.json").read_text())["userDefinedMetadata"]
    assert meta["classes"] == ["sky", "ground", "wall", "door", "plant"] and meta["transparent"] == [3]
    assert meta["input"]["name"] == "image" and meta["input"]["scale"] == pytest.approx(1 / 255)
    assert meta["outputs"][0]["name"] == "segmentation" and meta["title"] == "Tiny scenes in the browser"
    assert meta["patcher"]["recipe"] == "tiny" and meta["patcher"]["weights"] == "random weights"
    capsys.readouterr()
    assert main(["check", "--model-dir", str(tiny_built), "--sizes", "64x64,50x70"]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines() if line.strip().startswith(("cpu", "wasm"))]
    assert len(rows) == 4 and all(float(r[2].rstrip("%")) >= 99.9 and r[-2] == "yes" for r in rows)



@pytest.mark.tf
@needs_chromium
@needs_tfjs
def test_the_page_shows_the_second_recipes_title_classes_and_colours(tiny_built):
    import threading

    from playwright.sync_api import sync_playwright

    from patcher import page

    httpd = page.server(tiny_built)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        with sync_playwright() as p:
            chromium = p.chromium.launch(executable_path=page.CHROMIUM, args=page.CHROMIUM_FLAGS)
            tab = chromium.new_page()
            tab.goto(f"http://127.0.0.1:{httpd.server_address[1]}/?debug&backend=wasm&size=64x64")
            tab.wait_for_function("window.patcherState && (patcherState.runs >= 1 || patcherState.error)",
                                  timeout=180_000)
            assert tab.evaluate("patcherState.error") is None
            assert tab.inner_text("#title") == "Tiny scenes in the browser"
            items = tab.locator("#legend li")
            assert [" ".join(t.split()) for t in items.all_inner_texts()] == \
                ["0 sky", "1 ground", "2 wall", "3 door (transparent)", "4 plant"]
            swatches = tab.eval_on_selector_all("#legend li .swatch", "els => els.map(e => e.style.background)")
            assert swatches[1] == "rgb(128, 64, 0)" and swatches[4] == "rgb(0, 160, 0)"
            assert max(tab.evaluate("Array.from(patcherState.lastLabels)")) <= 4
            chromium.close()
    finally:
        httpd.shutdown()
        httpd.server_close()

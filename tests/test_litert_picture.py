"""`build --litert` for a picture model (an `image` output) on the synthetic cartoon upstream
(tests/synthetic_cartoon.py through the shipped recipe, random weights): the LiteRT models' metadata is a
picture's (one float32 [1, H, W, C] output, no logits), they are judged by the image kind (float32: uint8
pixel values within one level of TensorFlow's; float16 and int8: PSNR floors), and stylizer.js runs them in
headless Chromium, in the worker and on the main thread, with `auto` never taking an int8 model the build
marked inaccurate."""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import test_page
from test_page import opened, serving
from test_picture_model import checkout, needs_slim, recipe  # noqa: F401
from test_stylizer import PROBE, page_ran, tf_picture, within_one

from kit import PROJECT, needs_chromium, needs_tf, needs_tfjs
from patcher import litert
from patcher.cli import main
from patcher.kinds import kind
from patcher.kinds.image import FLOORS, MIN_WITHIN_ONE
from patcher.metrics import picture_pixels

HEIGHT, WIDTH = 32, 48   # one small LiteRT size, not square (a swapped height and width shows)
HAS_RUNTIME = all((PROJECT / "node_modules" / package / name).is_file() for package, name, _ in litert.RUNTIME_FILES)
pytestmark = [pytest.mark.tf, needs_tf, needs_tfjs, needs_slim,
              pytest.mark.skipif(not HAS_RUNTIME, reason="LiteRT.js is not in node_modules: run 'npm ci' in the project")]
playwright, browser = test_page.playwright, test_page.browser  # one Chromium per module


@pytest.fixture(scope="module")
def built(recipe: Path, checkout: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:  # noqa: F811
    out = tmp_path_factory.mktemp("litert-picture") / "web"
    assert main(["build", "--recipe", str(recipe), "--dest", str(checkout), "--random-weights", "--out", str(out),
                 "--no-check", "--litert", "--litert-sizes", f"{HEIGHT}x{WIDTH}",
                 "--litert-precisions", "float32,float16,int8"]) == 0
    return out


def litert_entry(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "model.json").read_text())["userDefinedMetadata"]["litert"]


def test_the_litert_entry_is_a_picture_s(built: Path) -> None:
    entry = litert_entry(built)
    assert entry["output"] == {"name": "output", "dtype": "float32", "shape": [1, "H", "W", 3]}
    assert "logits" not in entry and "float32_min_agreement" not in entry
    assert entry["int8_floor"] == FLOORS["int8"] and entry["float32_min_within_one"] == MIN_WITHIN_ONE
    assert entry["sizes"] == [[HEIGHT, WIDTH]] and entry["precisions"] == ["float32", "float16", "int8"]
    # the recipe's three pictures calibrate int8 (with their mirror images) and measure every model
    assert entry["calibration"]["source"] == "recipe" and entry["calibration"]["images"] == 6
    models = {m["precision"]: m for m in entry["models"]}
    assert sorted(models) == ["float16", "float32", "int8"]
    for precision, m in models.items():
        assert m["file"] == f"litert/{litert.file_name((HEIGHT, WIDTH), precision)}"
        assert (built / m["file"]).stat().st_size == m["bytes"]
        assert (m["outputs"], m["input_dtype"], m["output_dtype"]) == (1, "float32", "float32")
        a = m["accuracy"]
        assert a["pictures"] == 3 and a["values"] == 3 * HEIGHT * WIDTH * 3
        assert set(a) >= {"max_dy", "equal", "within_one", "max_levels", "psnr"}
    assert models["float32"]["accurate"] and models["float32"]["accuracy"]["within_one"] >= MIN_WITHIN_ONE
    assert models["float32"]["accuracy"]["max_levels"] <= 1
    assert models["int8"]["bytes"] < models["float16"]["bytes"] < models["float32"]["bytes"]
    # the verdicts are the image kind's: float32 by pixel values within one level, the rest by PSNR floors
    image = kind("image")
    for precision, m in models.items():
        browser_accuracy = m.get("browser", {}).get("accuracy")
        want = image.accurate(precision, m["accuracy"]) and (
            browser_accuracy is None or image.accurate(precision, browser_accuracy))
        assert m["accurate"] == want, (precision, m)
    assert models["float16"]["accuracy"]["psnr"] >= FLOORS["float16"]
    if not litert.chromium_missing():
        assert all(m["browser"]["accuracy"]["within_one"] >= MIN_WITHIN_ONE
                   for p, m in models.items() if p != "int8")
        [timing] = entry["timings"]
        assert sorted(timing["ms"]) == ["float16", "float32", "int8", "tfjs"]


def test_check_litert_judges_the_models_by_the_image_kind(built: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["check", "--model-dir", str(built), "--litert"]) == 0
    out = capsys.readouterr().out
    assert "PSNR dB" in out and "within 1" in out and f"int8 at >= {FLOORS['int8']:g} dB" in out
    row = next(line.split() for line in out.splitlines() if line.strip().startswith("model-32x48-float32"))
    assert row[2] == "Python" and row[3] == "100.000%"
    assert "checked: 3 LiteRT models" in out


def test_an_int8_floor_as_a_share_is_refused_for_a_picture_build(built: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--model-dir", str(built), "--litert", "--int8-floor", "0.99"]) == 16
    assert "PSNR floor" in capsys.readouterr().err


STYLIZE = """async ([rgb, width, height, options]) => {
  const sty = await stylizer.createStylizer(options);
  try {
    const r = await sty.stylize(picture(rgb, width, height));
    const out = [];
    for (let i = 0; i < r.image.data.length; i += 4) out.push(r.image.data[i], r.image.data[i + 1], r.image.data[i + 2]);
    return {rgb: out, width: r.width, height: r.height, size: r.size, runtime: r.runtime, precision: r.precision,
            reason: r.reason, worker: sty.info.worker, model: sty.info.model};
  } catch (err) {
    return {error: err.code, message: err.message};
  } finally { sty.dispose(); }
}"""


@pytest.fixture(scope="module")
def site(built: Path, tmp_path_factory: pytest.TempPathFactory):
    """The build served with the probe page, and two copies of model.json whose int8 model is the fastest
    measured: marked accurate (model-int8-accurate.json) and not (model-int8-inaccurate.json)."""
    folder = tmp_path_factory.mktemp("litert-site") / "site"
    shutil.copytree(built, folder)
    (folder / "probe.html").write_text(PROBE)
    content = json.loads((built / "model.json").read_text())
    lite = content["userDefinedMetadata"]["litert"]
    lite["timings"] = [{"size": [HEIGHT, WIDTH], "browser": "Chromium", "threads": 2, "tfjs_threads": 2,
                        "ms": {"tfjs": 30.0, "float32": 5.0, "float16": 4.0, "int8": 1.0}}]
    for accurate in (True, False):
        for m in lite["models"]:
            if m["precision"] == "int8":
                m["accurate"] = accurate
        name = f"model-int8-{'accurate' if accurate else 'inaccurate'}.json"
        (folder / name).write_text(json.dumps(content))
    with serving(folder) as url:
        yield url


@needs_chromium
@pytest.mark.parametrize("worker", [True, False], ids=["worker", "main-thread"])
def test_stylize_on_litert_float32_equals_tensorflow(built: Path, site: str, browser: Any, worker: bool) -> None:
    rgb = picture_pixels(HEIGHT, WIDTH)
    want = tf_picture(built, rgb)
    options = {"runtime": "litert", "precision": "float32", "worker": worker, "size": [HEIGHT, WIDTH]}
    with opened(browser, site + "probe.html") as tab:
        got = tab.evaluate(STYLIZE, [rgb.reshape(-1).tolist(), WIDTH, HEIGHT, options])
    assert "error" not in got, got
    assert (got["runtime"], got["precision"], got["worker"]) == ("litert", "float32", worker)
    assert got["model"] == f"litert/{litert.file_name((HEIGHT, WIDTH), 'float32')}"
    assert (got["width"], got["height"], got["size"]) == (WIDTH, HEIGHT, [HEIGHT, WIDTH])
    pixels = np.array(got["rgb"], dtype=np.int16).reshape(HEIGHT, WIDTH, 3)
    share = within_one(pixels, want)
    assert share >= MIN_WITHIN_ONE, f"{100 * share:.3f}% within one level of TensorFlow's"
    # fed RGB (no channel swap), TensorFlow's picture differs: the comparison above can fail
    assert within_one(pixels, tf_picture(built, rgb, "RGB")) < 0.99


@needs_chromium
def test_auto_never_takes_an_int8_model_marked_inaccurate(site: str, browser: Any) -> None:
    rgb = picture_pixels(HEIGHT, WIDTH)
    found = {}
    with opened(browser, site + "probe.html") as tab:
        for name in ("accurate", "inaccurate"):
            options = {"model": f"model-int8-{name}.json", "runtime": "auto", "measure": False, "worker": False,
                       "size": [HEIGHT, WIDTH]}
            found[name] = tab.evaluate(STYLIZE, [rgb.reshape(-1).tolist(), WIDTH, HEIGHT, options])
    for got in found.values():
        assert "error" not in got, got
    # int8 measured fastest: taken where the build found it accurate, left out (float16 next) where not
    assert (found["accurate"]["runtime"], found["accurate"]["precision"]) == ("litert", "int8")
    assert (found["inaccurate"]["runtime"], found["inaccurate"]["precision"]) == ("litert", "float16")
    assert "int8 left out: PSNR" in found["inaccurate"]["reason"], found["inaccurate"]["reason"]


@needs_chromium
def test_the_page_offers_litert_and_gives_the_run_s_size_as_width_x_height(site: str, browser: Any) -> None:
    with page_ran(browser, site + "index.html?debug&runtime=litert&precision=float32") as (tab, state):
        assert state["error"] is None and (state["runtime"], state["precision"]) == ("litert", "float32"), state
        # the sample (600 x 400) at the processing size has no LiteRT.js model: the nearest built one ran
        assert state["size"] == [HEIGHT, WIDTH]
        assert tab.inner_text("#timing").startswith(f"600 x 400, run at {WIDTH} x {HEIGHT}: ")
        assert "nearest built size" in tab.inner_text("#status")
        disabled = tab.evaluate("""['runtime', 'precision'].map((id) =>
            [...document.getElementById(id).options].filter((o) => o.disabled).map((o) => o.value))""")
        assert disabled == [[], []]   # LiteRT.js, float16 and int8 are offered: the build has them

"""stylizer.js, the module of picture models, in headless Chromium on a build of the synthetic cartoon
upstream (tests/synthetic_cartoon.py, the shipped recipe white-box-cartoonization, random weights): its
pictures come back at the source's size and equal TensorFlow's (the frozen graph fed BGR, as the recipe
says) within one uint8 level on at least 99.9 % of values, in the worker and on the main thread alike; fed
RGB instead, TensorFlow's picture differs (so a missing channel swap shows); errors carry a code and a hint;
the page (stylizer.html, the build's index.html) shows the sample before and after, credited."""
from __future__ import annotations

import copy
import json
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import test_page
from test_page import metadata, opened, serving
from test_picture_model import checkout, needs_slim, recipe  # noqa: F401

from kit import needs_chromium, needs_tfjs
from patcher.check import run_frozen
from patcher.cli import main
from patcher.metrics import picture_pixels, preprocess
from patcher.outdir import graph_path

pytestmark = [pytest.mark.tf, needs_chromium, needs_tfjs, needs_slim]
playwright, browser = test_page.playwright, test_page.browser  # one Chromium per module

HEIGHT, WIDTH = 61, 86   # neither a multiple of 4: the codemods let any size run
PROBE = """<!doctype html><meta charset="utf-8"><body><script type="module">
import * as stylizer from './stylizer.js';
import * as segmenter from './segmenter.js';
window.stylizer = stylizer;
window.segmenter = segmenter;
// an ImageData of RGB values (alpha opaque)
window.picture = (rgb, width, height) => {
  const data = new Uint8ClampedArray(width * height * 4);
  for (let i = 0, j = 0; i < rgb.length; i += 3, j += 4) {
    data[j] = rgb[i]; data[j + 1] = rgb[i + 1]; data[j + 2] = rgb[i + 2]; data[j + 3] = 255;
  }
  return new ImageData(data, width, height);
};
// the error of a call, as plain fields
window.failure = async (call) => {
  try { await call(); } catch (err) {
    return {name: err.name, code: err.code, hint: err.hint, message: err.message, typed: err instanceof stylizer.SegmenterError};
  }
  return null;
};
window.ready = true;
</script>"""


@pytest.fixture(scope="module")
def built(recipe, checkout, tmp_path_factory) -> Path:  # noqa: F811 - the fixtures imported above
    out = tmp_path_factory.mktemp("stylizer") / "web"
    assert main(["build", "--recipe", str(recipe), "--dest", str(checkout), "--random-weights", "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def site(built, tmp_path_factory):
    folder = tmp_path_factory.mktemp("site") / "site"
    shutil.copytree(built, folder)
    (folder / "probe.html").write_text(PROBE)
    with serving(folder) as url:
        yield url


def tf_picture(built: Path, rgb: np.ndarray, color: str = "BGR") -> np.ndarray:
    """The frozen graph's picture of RGB pixels [H, W, 3], fed in `color` order (the recipe's BGR, or RGB),
    mapped to uint8 pixels as the metadata says and put in RGB order (as stylizer.js returns them)."""
    meta = copy.deepcopy(metadata(built))
    meta["input"]["color"] = color
    (output,) = meta["outputs"]
    x = preprocess(rgb, meta)
    work = Path(tempfile.mkdtemp(prefix="patcher-stylizer-"))
    try:
        x.tofile(work / "x.bin")
        run_frozen(graph_path(built), [{"file": str(work / "x.bin"), "shape": list(x.shape)}], work, meta)
        y = np.load(work / "tf.0.0.npy").reshape(*rgb.shape[:2], 3)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    pixels = np.clip(np.round((y.astype(np.float64) - output["offset"]) / output["scale"]), 0, 255)
    return (pixels[..., ::-1] if output["color"] == "BGR" else pixels).astype(np.int16)


def stylized(tab, rgb: np.ndarray, worker: bool, size: list[int] | None = None) -> dict:
    """stylize() of the RGB pixels in the page `tab` (a new stylizer, disposed after); its result with the
    image's RGB values as an array [H, W, 3]."""
    height, width = rgb.shape[:2]
    found = tab.evaluate("""async ([rgb, width, height, worker, size]) => {
        const sty = await stylizer.createStylizer({worker, backend: 'wasm', runtime: 'tfjs'});
        try {
          const r = await sty.stylize(picture(rgb, width, height), size ? {size} : {});
          const out = [];
          for (let i = 0; i < r.image.data.length; i += 4) out.push(r.image.data[i], r.image.data[i + 1], r.image.data[i + 2]);
          return {rgb: out, alpha: Math.min(...r.image.data.filter((_, i) => i % 4 === 3)), width: r.width,
                  height: r.height, imageWidth: r.image.width, imageHeight: r.image.height, size: r.size,
                  runtime: r.runtime, precision: r.precision, reason: r.reason, ms: r.ms, modelMs: r.modelMs,
                  worker: sty.info.worker};
        } finally { sty.dispose(); }
      }""", [rgb.reshape(-1).tolist(), width, height, worker, size])
    found["rgb"] = np.array(found["rgb"], dtype=np.int16).reshape(found["height"], found["width"], 3)
    return found


@contextmanager
def page_ran(browser, url: str) -> Iterator[tuple[Any, dict]]:
    """The picture page at `url` (with ?debug) in a new tab, once it has stylized a picture or failed: the
    tab and its patcherState; the tab closed afterwards."""
    tab = browser.new_page()
    try:
        tab.goto(url)
        tab.wait_for_function("window.patcherState && (patcherState.runs > 0 || patcherState.error)",
                              timeout=test_page.WAIT)
        yield tab, tab.evaluate("patcherState")
    finally:
        tab.close()


def within_one(got: np.ndarray, want: np.ndarray) -> float:
    return float(np.mean(np.abs(got - want) <= 1))


def test_stylize_equals_tensorflow_fed_bgr_in_the_worker_and_on_the_page(built, site, browser):
    rgb = picture_pixels(HEIGHT, WIDTH)
    want = tf_picture(built, rgb)
    with opened(browser, site + "probe.html") as tab:
        results = {worker: stylized(tab, rgb, worker, [HEIGHT, WIDTH]) for worker in (True, False)}
    for worker, got in results.items():
        assert got["worker"] is worker
        assert (got["width"], got["height"], got["imageWidth"], got["imageHeight"]) == (WIDTH, HEIGHT, WIDTH, HEIGHT)
        assert got["size"] == [HEIGHT, WIDTH] and got["runtime"] == "tfjs" and got["precision"] == "float32"
        assert got["alpha"] == 255 and got["reason"] and got["ms"] >= got["modelMs"] > 0
        share = within_one(got["rgb"], want)
        assert share >= 0.999, f"worker {worker}: {100 * share:.3f}% within one level of TensorFlow's"
        assert int(np.max(np.abs(got["rgb"] - want))) <= 2
    assert within_one(results[True]["rgb"], results[False]["rgb"]) >= 0.999
    # the same graph fed RGB gives another picture: a module that forgot to swap the channels fails above
    fed_rgb = tf_picture(built, rgb, "RGB")
    assert within_one(results[True]["rgb"], fed_rgb) < 0.99
    assert within_one(results[True]["rgb"], fed_rgb[..., ::-1]) < 0.99   # neither swap made


def test_the_picture_comes_back_at_the_source_s_size_whatever_size_it_ran_at(site, browser):
    rgb = picture_pixels(50, 70)
    with opened(browser, site + "probe.html") as tab:
        small = stylized(tab, rgb, True, [24, 36])
        full = stylized(tab, rgb, True, [50, 70])
    assert small["size"] == [24, 36] and full["size"] == [50, 70]
    assert (small["width"], small["height"], small["imageWidth"], small["imageHeight"]) == (70, 50, 70, 50)
    assert small["rgb"].shape == full["rgb"].shape == (50, 70, 3)
    # run smaller and resized back, the picture is the same picture, softer
    assert float(np.mean(np.abs(small["rgb"] - full["rgb"]))) < 20


def test_errors_carry_a_code_and_a_hint(built, site, browser):
    with opened(browser, site + "probe.html") as tab:
        found = tab.evaluate("""async () => {
            const sty = await stylizer.createStylizer({worker: true, runtime: 'tfjs'});
            const errors = {
              'not-found': await failure(() => stylizer.createStylizer({model: 'nowhere/model.json'})),
              'options': await failure(() => stylizer.createStylizer({faces: true})),
              'size': await failure(() => sty.stylize(picture([1, 2, 3], 1, 1), {size: [0, 4]})),
              'source': await failure(() => sty.stylize('not a picture')),
              'segmenter': await failure(() => segmenter.createSegmenter({worker: false})),
            };
            sty.dispose();
            errors.disposed = await failure(() => sty.stylize(picture([1, 2, 3], 1, 1)));
            return errors;
          }""")
    codes = {"not-found": "not-found", "options": "options", "size": "options", "source": "source",
             "segmenter": "model", "disposed": "disposed"}
    for case, code in codes.items():
        err = found[case]
        assert err and err["name"] == "SegmenterError" and err["typed"], (case, err)
        assert err["code"] == code and err["hint"] and err["message"], (case, err)
    assert "createStylizer" in found["segmenter"]["hint"], found["segmenter"]
    assert "faces does not apply" in found["options"]["message"]


def test_the_page_shows_the_sample_before_and_after_and_credits_it(built, site, browser):
    meta = metadata(built)
    assert "CC0" in meta["sample_credit"]
    package = json.loads((built / "package.json").read_text())
    assert (package["main"], package["types"]) == ("./stylizer.js", "./stylizer.d.ts")
    assert not (built / "app.js").exists() and (built / "stylizer-app.js").exists()
    with page_ran(browser, site + "index.html?debug") as (tab, state):
        assert state["error"] is None and state["runs"] >= 1, state
        sizes = tab.evaluate("""['before', 'after'].map((id) => {
            const c = document.getElementById(id); return [c.width, c.height]; })""")
        assert sizes == [[600, 400], [600, 400]]   # the sample, scikit-image's coffee cup (600 x 400)
        assert "CC0" in tab.inner_text("#credit") and not tab.is_hidden("#weights")
        assert "CC BY-NC-SA 4.0" in tab.inner_text("#about")

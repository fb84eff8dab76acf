"""`build --litert` and `check --litert` (opt-in): TFLite models for LiteRT.js, their agreement with
TensorFlow (Python interpreter), and LiteRT.js itself in headless Chromium on the synthetic upstream."""
from __future__ import annotations

import base64
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from kit import BUILDS, PROJECT, needs_chromium, needs_tf
from patcher import litert, outdir, page
from patcher.check import preprocess, run_frozen
from patcher.check import picture_pixels
from patcher.cli import main
from patcher.errors import BuildError
from patcher.kinds.labels import KIND, near_boundary
from test_page import rewrite_metadata

SIZE = (96, 96)
# the largest difference between the int8 model's softmax of its logits and TensorFlow's probabilities
INT8_PROBABILITY_BOUND = 0.05
# A floor under int8 agreement with TensorFlow away from class boundaries, whatever the build's verdict
# (which only marks a model below its --int8-floor "not accurate"): a quantizer that breaks the model
# (wrong scales, a constant map) falls far below it; the synthetic model's int8 is above it.
INT8_SANE = 0.9
HAS_RUNTIME = all((PROJECT / "node_modules" / package / name).is_file() for package, name, _ in litert.RUNTIME_FILES)
needs_build = [
    *BUILDS, needs_tf,
    pytest.mark.skipif(not HAS_RUNTIME, reason="LiteRT.js is not in node_modules: run 'npm ci' in the project"),
]
needs_browser = [needs_chromium]


# --- accuracy measures (numpy only) ------------------------------------------------------------------

def test_near_boundary_marks_pixels_within_two_of_another_class():
    labels = np.zeros((10, 12), dtype=np.int32)
    labels[:, 6:] = 1
    near = near_boundary(labels)
    assert near[:, 4:8].all() and not near[:, :4].any() and not near[:, 8:].any()
    assert not near_boundary(np.full((5, 5), 3)).any()  # the image border is no boundary


def test_agreement_counts_pixels_overall_away_from_boundaries_and_confident():
    reference = np.zeros((10, 12), dtype=np.int64)
    reference[:, 6:] = 1
    prob = np.zeros((1, 10, 12, 3), dtype=np.float32)
    prob[..., 0], prob[..., 1] = 0.5, 0.48  # margin 0.02 everywhere ...
    prob[0, :5, :, 0] = 0.9  # ... but 0.42 in the top half
    labels = reference.astype(np.int32).copy()
    labels[0, 5] = 1  # at the boundary, in the confident half
    labels[9, 0] = 1  # away from the boundary, in the unsure half
    a = KIND.accuracy([reference, prob], [labels], {})
    assert a["pixels"] == 120 and a["overall"] == pytest.approx(118 / 120)
    assert a["away_pixels"] == 80 and a["away_from_boundary"] == pytest.approx(79 / 80)
    assert a["confident_pixels"] == 60 and a["confident"] == pytest.approx(59 / 60)


def test_float32_is_judged_by_the_tfjs_bound_int8_by_pixels_away_from_boundaries():
    def entry(precision, overall, away):
        return precision, {"overall": overall, "away_from_boundary": away}, None

    assert litert.judge(*entry("float32", 0.9995, 0.5), 0.99)
    assert not litert.judge(*entry("float32", 0.998, 1.0), 0.99)
    assert litert.judge(*entry("int8", 0.95, 0.991), 0.99) and not litert.judge(*entry("int8", 0.999, 0.98), 0.99)
    assert litert.judge(*entry("int8", 0.95, 0.98), 0.97)
    assert litert.judge(*entry("int8", 0.995, None), 0.99)  # no pixel away from a boundary: all pixels


def test_a_model_is_accurate_only_if_it_is_in_chromium_too():
    def entry(precision, python, browser):
        return precision, {"overall": python, "away_from_boundary": python}, {"overall": browser, "away_from_boundary": browser}

    assert litert.judge(*entry("float32", 0.9995, 0.9992), 0.99)
    assert not litert.judge(*entry("float32", 0.9995, 0.998), 0.99)  # LiteRT.js in Chromium misses the bound
    assert not litert.judge(*entry("float32", 0.998, 1.0), 0.99)
    assert litert.judge(*entry("int8", 0.995, 0.991), 0.99)
    assert not litert.judge(*entry("int8", 0.995, 0.985), 0.99)
    assert not litert.judge(*entry("int8", 0.985, 0.995), 0.99)


def _brightness_crop(image: np.ndarray, h: int, w: int) -> bool:
    """True when `image` is a crop of 50 to 90 % of an h x w coordinate picture (red = row + 30, green =
    column + 30, blue 128) with one brightness change a * x + b, a from 0.7 to 1.25, as calibration makes."""
    red, green = image[..., 0].astype(float), image[..., 1].astype(float)
    ch, cw = red.shape
    if not (int(h * 0.5) <= ch <= int(h * 0.9) and int(w * 0.5) <= cw <= int(w * 0.9)):
        return False
    if np.ptp(red, axis=1).max() > 0 or np.ptp(green, axis=0).max() > 0:  # rows of one red, columns of one green
        return False
    a_rows = np.polyfit(np.arange(ch), red[:, 0], 1)[0]
    a_cols = np.polyfit(np.arange(cw), green[0], 1)[0]
    return abs(a_rows - a_cols) < 0.02 and 0.68 <= a_rows <= 1.27


def test_default_calibration_is_the_sample_its_variants_and_generated_pictures(tmp_path):
    sample = tmp_path / "sample.png"
    from PIL import Image

    h, w = 120, 100
    rows, cols = np.mgrid[0:h, 0:w]
    picture = np.stack([rows + 30, cols + 30, np.full((h, w), 128)], axis=-1).astype(np.uint8)
    Image.fromarray(picture).save(sample)
    images, about = litert.calibration_images(None, sample)
    again, _ = litert.calibration_images(None, sample)
    assert len(images) == about["images"] == litert.CALIBRATION_IMAGES and about["source"] == "default"
    assert "sample.png" in about["description"] and all(i.dtype == np.uint8 and i.shape[2] == 3 for i in images)
    assert all(np.array_equal(a, b) for a, b in zip(images, again, strict=True))  # the same every build
    # the pixels: the sample, its mirror image, crops of it with a brightness change, generated pictures
    crops = litert.CALIBRATION_IMAGES // 2 - 2
    assert np.array_equal(images[0], picture) and np.array_equal(images[1], picture[:, ::-1])
    assert all(_brightness_crop(image, h, w) for image in images[2:2 + crops])
    generated = images[2 + crops:]
    assert len(generated) == litert.CALIBRATION_IMAGES - 2 - crops
    assert all(160 <= g.shape[0] < 512 and 160 <= g.shape[1] < 512 and not _brightness_crop(g, h, w) for g in generated)


def test_calibration_takes_the_recipes_pictures_and_their_mirror_images():
    pictures = [("a", picture_pixels(40, 30)), ("b", picture_pixels(30, 40))]
    images, about = litert.calibration_images(None, None, pictures=pictures)
    assert about["source"] == "recipe" and about["images"] == len(images) == 4 and "(a, b)" in about["description"]
    assert np.array_equal(images[0], pictures[0][1]) and np.array_equal(images[2], pictures[0][1][:, ::-1])


def test_calibration_takes_the_users_images_and_refuses_a_folder_without_any(tmp_path):
    from PIL import Image

    (tmp_path / "mine").mkdir()
    Image.fromarray(picture_pixels(64, 80)).save(tmp_path / "mine" / "a.png")
    Image.fromarray(picture_pixels(50, 50)).convert("L").save(tmp_path / "mine" / "b.jpg")
    (tmp_path / "mine" / "notes.txt").write_text("not an image")
    images, about = litert.calibration_images(tmp_path / "mine", None)
    assert about["source"] == "user" and about["images"] == 2 and images[1].shape == (50, 50, 3)
    (tmp_path / "empty").mkdir()
    with pytest.raises(BuildError, match="holds no images"):
        litert.calibration_images(tmp_path / "empty", None)
    with pytest.raises(BuildError, match="not a folder"):
        litert.calibration_images(tmp_path / "missing", None)


@pytest.mark.parametrize("value", ["1.5", "-0.1", "most"])
def test_int8_floor_must_be_a_share(value, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["build", "--out", "x", "--random-weights", "--litert", "--int8-floor", value])
    assert stop.value.code == 2 and "a share between 0 and 1" in capsys.readouterr().err


# --- build --litert on the synthetic upstream ------------------------------------------------------

@pytest.fixture(scope="module")
def litert_built(checkouts, tmp_path_factory):
    """The synthetic face model with LiteRT.js models at one small size (the tfjs quick check skipped)."""
    out = tmp_path_factory.mktemp("litert") / "model"
    assert main(["build", "--dest", str(checkouts / "celebamask"), "--random-weights", "--out", str(out),
                 "--no-check", "--litert", "--litert-sizes", f"{SIZE[0]}x{SIZE[1]}"]) == 0
    # whole frames, compared with TensorFlow's: model.json names no face detector (face mode: test_faces_module)
    rewrite_metadata(out, faces=None)
    return out


class TestBuilt:
    pytestmark = needs_build

    def test_build_writes_a_model_per_precision_the_runtime_and_the_metadata(self, litert_built):
        meta = json.loads((litert_built / "model.json").read_text())["userDefinedMetadata"]
        entry = meta["litert"]
        assert entry["runtime"] == "@litertjs/core 2.5.3" and entry["sizes"] == [list(SIZE)]
        assert entry["logits"]["dtype"] == "float32" and entry["logits"]["shape"] == [1, "H", "W", len(meta["classes"])]
        # the recipe names pictures of faces: they and their mirror images calibrate int8
        assert entry["calibration"]["source"] == "recipe" and entry["calibration"]["images"] == 22
        assert entry["accuracy_on"].startswith("the recipe's 11 pictures at each size")
        assert "astronaut" in entry["calibration"]["description"]
        files = {m["precision"]: m for m in entry["models"]}
        assert sorted(files) == ["float32", "int8"]
        for precision, m in files.items():
            path = litert_built / m["file"]
            assert m["file"] == f"litert/model-96x96-{precision}.tflite" and path.stat().st_size == m["bytes"]
            assert m["input_dtype"] == "float32" and m["output_dtype"] == "int32" and m["outputs"] == 2
            # the second output, the logits: their softmax against TensorFlow's probabilities
            print(f"{precision}: probabilities within {m['accuracy']['probabilities_max_diff']:.2e} of TensorFlow's")
            assert m["accuracy"]["probabilities_max_diff"] < (1e-4 if precision == "float32" else INT8_PROBABILITY_BOUND)
            a = m["accuracy"]
            # measured on the recipe's 11 pictures (the astronaut's head, openpeople's ten), pooled
            assert a["pictures"] == 11 and a["pixels"] == 11 * 96 * 96
            assert 0 < a["away_pixels"] <= a["pixels"] and a["confident_pixels"] <= a["pixels"]
        assert files["float32"]["accurate"] and files["float32"]["accuracy"]["overall"] >= 0.999
        assert files["int8"]["bytes"] < files["float32"]["bytes"]  # int8 weights (the file has fixed overhead)
        assert files["int8"]["accuracy"]["away_from_boundary"] >= INT8_SANE
        if litert.chromium_missing():
            assert entry["timings"] == [] and not any("browser" in m for m in files.values())
        else:
            assert files["int8"]["accurate"] == (files["int8"]["accuracy"]["away_from_boundary"] >= 0.99 and
                                                 files["int8"]["browser"]["accuracy"]["away_from_boundary"] >= 0.99)
            # LiteRT.js ran each model in Chromium with a thread per core, and the build timed it and tfjs-wasm
            cores = len(os.sched_getaffinity(0))
            assert files["float32"]["browser"]["accuracy"]["overall"] >= 0.999
            assert files["int8"]["browser"]["accuracy"]["away_from_boundary"] >= INT8_SANE
            assert all(m["browser"]["threads"] == cores for m in files.values())
            [timing] = entry["timings"]
            assert timing["size"] == list(SIZE) and timing["threads"] == cores and timing["tfjs_threads"] == cores
            assert timing["browser"].startswith("Chromium")
            assert sorted(timing["ms"]) == ["float32", "int8", "tfjs"] and all(v > 0 for v in timing["ms"].values())
        for _, _, name in litert.RUNTIME_FILES:
            assert (litert_built / "litert" / name).is_file()
        assert (litert_built / "litert" / "index.html").is_file() and (litert_built / "litert" / "harness.js").is_file()
        # the default build's files are all there too, and the marker lists the new ones
        marker = outdir.read_marker(litert_built)
        assert "model.json" in marker["files"] and files["int8"]["file"] in marker["files"]

    @pytest.mark.skipif(litert.chromium_missing() is not None, reason="the table's Chromium rows need Chromium")
    def test_check_litert_prints_the_table_and_passes(self, litert_built, capsys):
        capsys.readouterr()
        assert main(["check", "--model-dir", str(litert_built), "--litert"]) == 0
        out = capsys.readouterr().out
        lines = out.splitlines()
        at = [i for i, line in enumerate(lines) if line.strip().startswith("model-96x96")]
        assert [lines[i].split()[0] for i in at] == ["model-96x96-float32.tflite", "model-96x96-int8.tflite"]
        # each model: a row for the Python interpreter, then one for LiteRT.js in Chromium with the verdict
        python, chromium = lines[at[0]].split(), lines[at[0] + 1].split()
        assert python[2] == "Python" and chromium[0] == "Chromium" and chromium[1] == "100.000%" and chromium[-1] == "yes"
        times = next(line for line in lines if line.strip().startswith("96x96:"))
        assert "tfjs wasm" in times and "LiteRT.js float32" in times and "LiteRT.js int8" in times
        assert "checked: 2 LiteRT models" in out

    def test_check_litert_fails_with_16_when_float32_is_out_of_bounds(self, litert_built, monkeypatch, capsys):
        monkeypatch.setattr("patcher.kinds.labels.MIN_AGREEMENT", 1.01)  # the labels kind judges float32
        assert main(["check", "--model-dir", str(litert_built), "--litert"]) == 16
        assert "float32 LiteRT model(s) out of bounds" in capsys.readouterr().err

    def test_check_litert_on_a_build_without_it_says_how_to_make_one(self, built, capsys):
        assert main(["check", "--model-dir", str(built), "--litert"]) == 16
        assert "build --litert" in capsys.readouterr().err


# --- LiteRT.js in headless Chromium -----------------------------------------------------------------

@pytest.fixture(scope="module")
def chromium():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        # (--enable-unsafe-webgpu: Chromium offers a WebGPU adapter, SwiftShader on the CPU, for the WebGPU paths)
        browser = p.chromium.launch(executable_path=page.CHROMIUM, args=[*page.CHROMIUM_FLAGS, "--enable-unsafe-webgpu"])
        yield browser
        browser.close()


def tf_labels(model_dir: Path, size) -> tuple[np.ndarray, dict, np.ndarray]:
    """TensorFlow's class ids on check's test picture of `size` (flat), the build's metadata, and TensorFlow's
    probabilities [pixels, classes]."""
    meta = json.loads((model_dir / "model.json").read_text())["userDefinedMetadata"]
    x = preprocess(picture_pixels(*size), meta)
    work = Path(tempfile.mkdtemp(prefix="test-segmenter-"))
    try:
        x.tofile(work / "x.bin")
        run_frozen(outdir.graph_path(model_dir), [{"file": str(work / "x.bin"), "shape": list(x.shape)}],
                   work, meta)
        return np.load(work / "tf.0.0.npy").reshape(-1), meta, np.load(work / "tf.0.1.npy").reshape(size[0] * size[1], -1)
    finally:
        shutil.rmtree(work, ignore_errors=True)


@pytest.fixture(scope="module")
def reference(litert_built):
    """TensorFlow's class ids on the test picture at SIZE (flat), the build's metadata, its probabilities."""
    return tf_labels(litert_built, SIZE)



class TestChromiumFailure:
    pytestmark = needs_build + needs_browser

    @pytest.fixture
    def failing_chromium(self, monkeypatch, tmp_path):
        """in_chromium as its callers call it, but with nothing saved for the browser child to compare
        with: the child fails after Chromium started. The error class is the caller's."""
        real = litert.in_chromium
        (tmp_path / "nothing").mkdir()
        monkeypatch.setattr(litert.commands, "in_chromium", lambda model_dir, entries, saved, error, *a, **k: real(
            model_dir, entries, tmp_path / "nothing", error, *a, **k))

    def test_a_failing_chromium_run_in_check_is_16(self, litert_built, failing_chromium, capsys):
        capsys.readouterr()
        assert main(["check", "--model-dir", str(litert_built), "--litert"]) == 16
        errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("patcher: error:")]
        assert len(errors) == 1 and errors[0].startswith("patcher: error: LiteRT browser: FileNotFoundError"), errors

    def test_a_failing_chromium_run_in_build_is_a_build_error(self, litert_built, failing_chromium, tmp_path):
        meta = json.loads((litert_built / "model.json").read_text())["userDefinedMetadata"]
        models = [{"size": m["size"], "precision": m["precision"], "path": str(litert_built / m["file"])}
                  for m in meta["litert"]["models"]]
        (tmp_path / "work").mkdir()
        with pytest.raises(BuildError, match=r"^LiteRT browser: FileNotFoundError"):
            litert.compare_models(outdir.graph_path(litert_built), litert_built / litert.FOLDER, meta, models, 0.99,
                                  tmp_path / "work", building=True)

class TestBrowser:
    pytestmark = needs_build + needs_browser

    def test_litert_js_matches_tensorflow_in_chromium_with_threads(self, litert_built, chromium, reference):
        want, meta = reference[:2]
        x = preprocess(picture_pixels(*SIZE), meta)
        httpd = page.server(litert_built)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        tab = chromium.new_page()
        try:
            tab.goto(f"http://127.0.0.1:{httpd.server_address[1]}/litert/index.html")
            tab.wait_for_function("window.harnessReady === true", timeout=60_000)
            info = tab.evaluate("harness.init({threads: true})")
            assert info["crossOriginIsolated"] and info["threaded"], info
            loaded = tab.evaluate("harness.load('f32', 'model-96x96-float32.tflite', 2)")
            assert loaded["threads"] == 2 and loaded["inputs"][0]["shape"] == [1, *SIZE, 3]
            got = tab.evaluate("([x, shape]) => harness.run('f32', x, shape)",
                               [base64.b64encode(x.tobytes()).decode(), list(x.shape)])
            labels = np.frombuffer(base64.b64decode(got["labels"]), dtype=np.int32).reshape(want.shape)
            assert got["dtype"] == "Int32Array"
            assert np.mean(labels == want) >= 0.999
            # and the int8 model runs too (its agreement is what the build measured in Python)
            tab.evaluate("harness.load('i8', 'model-96x96-int8.tflite', 1)")
            got8 = tab.evaluate("([x, shape]) => harness.run('i8', x, shape)",
                                [base64.b64encode(x.tobytes()).decode(), list(x.shape)])
            labels8 = np.frombuffer(base64.b64decode(got8["labels"]), dtype=np.int32)
            assert labels8.size == want.size and np.mean(labels8 == want) >= INT8_SANE
        finally:
            tab.close()
            httpd.shutdown()


SEGMENT_PROBE = """<!doctype html><html><body><script type="module">
import {createSegmenter} from './segmenter.js';
window.segment = async (options, pixels, [h, w], call = {}) => {
  try {
    const seg = await createSegmenter(options);
    const raw = Uint8Array.from(atob(pixels), (c) => c.charCodeAt(0));
    const image = new ImageData(new Uint8ClampedArray(raw.buffer), w, h);
    const result = await seg.segment(image, call);
    const info = seg.info;
    seg.dispose();
    const masks = result.masks ? seg.classes.map((c) => Array.from(result.masks[c])) : null;
    return {info, runtime: result.runtime, precision: result.precision, reason: result.reason, size: result.size,
            labels: Array.from(result.labels), masks};
  } catch (err) {
    return {error: err.code, message: err.message};
  }
};
window.ready = true;
</script></body></html>"""


@pytest.fixture(scope="module")
def site(litert_built):
    """The LiteRT build served with a page that runs segmenter.js on given pixels."""
    (litert_built / "probe.html").write_text(SEGMENT_PROBE)
    httpd = page.server(litert_built, quiet=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/probe.html"
    httpd.shutdown()


class TestSegmenter:
    """segmenter.js runs the build's LiteRT.js models (in the module worker and on the main thread) and
    `runtime: 'auto'` takes what the build measured fastest."""

    pytestmark = needs_build + needs_browser

    def segment(self, chromium, site, options, call=None, source=SIZE):
        """segmenter.js on check's test picture of `source` size, at SIZE unless the options say; `call`: the
        options of the segment() call."""
        rgba = np.concatenate([picture_pixels(*source), np.full((*source, 1), 255, np.uint8)], axis=-1)
        tab = chromium.new_page()
        try:
            tab.goto(site)
            tab.wait_for_function("window.ready === true", timeout=60_000)
            return tab.evaluate("([o, p, s, c]) => segment(o, p, s, c)",
                                [{"size": list(SIZE), **options}, base64.b64encode(rgba.tobytes()).decode(), list(source),
                                 call or {}])
        finally:
            tab.close()

    @pytest.mark.parametrize("worker", [True, False], ids=["worker", "main-thread"])
    def test_litert_float32_matches_tensorflow(self, chromium, site, reference, worker):
        got = self.segment(chromium, site, {"runtime": "litert", "precision": "float32", "worker": worker})
        assert "error" not in got, got
        info = got["info"]
        assert (info["runtime"], info["precision"], info["worker"], info["size"]) == ("litert", "float32", worker, list(SIZE))
        assert info["model"] == f"litert/model-{SIZE[0]}x{SIZE[1]}-float32.tflite" and "fallback" not in info
        assert info["threads"] == len(os.sched_getaffinity(0)) and info["version"] == litert.RUNTIME_VERSION
        assert got["runtime"] == "litert" and got["reason"] == "runtime litert, precision float32 were asked for"
        assert np.mean(np.array(got["labels"]) == reference[0]) >= 0.999

    @pytest.mark.parametrize("worker", [True, False], ids=["worker", "main-thread"])
    def test_litert_start_up_lines_reach_the_console_as_debug_and_info_not_errors(self, chromium: Any, site: str,
                                                                                 worker: bool) -> None:
        # what Chromium's console shows (CDP Runtime.consoleAPICalled, through Playwright): the page's own
        # messages and its workers', each with the thread it came from
        logged: list[tuple[str, str, bool]] = []
        tab = chromium.new_page()
        tab.on("console", lambda msg: logged.append((msg.type, msg.text, msg.worker is not None)))
        try:
            tab.goto(site)
            tab.wait_for_function("window.ready === true", timeout=60_000)
            rgba = np.concatenate([picture_pixels(*SIZE), np.full((*SIZE, 1), 255, np.uint8)], axis=-1)
            got = tab.evaluate("([o, p, s]) => segment(o, p, s)",
                               [{"size": list(SIZE), "runtime": "litert", "precision": "float32", "worker": worker},
                                base64.b64encode(rgba.tobytes()).decode(), list(SIZE)])
        finally:
            tab.close()
        assert "error" not in got, got
        assert (got["info"]["runtime"], got["info"]["worker"]) == ("litert", worker)
        # (LiteRT.js tags each line with its source file: "INFO: [environment.cc:NN] Creating LiteRT environment")
        start_up = {"debug": r"INFO: .*Creating LiteRT environment", "info": r"WARNING: .*NPU accelerator could not be loaded"}
        print(f"{'worker' if worker else 'main thread'}:", *logged, sep="\n  ")
        for kind, line in start_up.items():
            # LiteRT.js printed the line on the thread it runs on, at the lower level ...
            assert any(k == kind and re.match(line, text) and w == worker for k, text, w in logged), (line, logged)
            # ... and no message at error level carries it
            assert not any(k == "error" and re.search(line, text) for k, text, _ in logged), (line, logged)

    @pytest.mark.parametrize(("precision", "worker"), [("float32", True), ("int8", False)])
    def test_masks_from_the_second_output_are_tensorflows_probabilities(self, chromium, site, reference, precision,
                                                                        worker):
        got = self.segment(chromium, site, {"runtime": "litert", "precision": precision, "worker": worker},
                           {"masks": "all", "smoothing": True})
        assert "error" not in got, got
        masks = np.array(got["masks"], dtype=np.float32).T  # [pixels, classes]
        diff = float(np.max(np.abs(masks - reference[2])))
        print(f"LiteRT.js {precision}: masks within {diff:.2e} of TensorFlow's probabilities")
        assert diff < (1e-4 if precision == "float32" else INT8_PROBABILITY_BOUND)
        assert np.allclose(masks.sum(-1), 1, atol=1e-5) and np.array_equal(np.array(got["labels"]), masks.argmax(-1))

    def test_a_short_soak_keeps_tensors_and_the_heap_steady_on_both_runtimes(self, litert_built):
        proc = subprocess.run([sys.executable, str(PROJECT / "scripts" / "soak.py"), "--model-dir", str(litert_built),
                               "--frames", "60", "--every", "5", "--warmup", "10"],
                              capture_output=True, text=True, timeout=900)
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        assert [(r["runtime"], r["worker"]) for r in result["rows"]] == [
            ("tfjs", True), ("tfjs", False), ("litert", True), ("litert", False)]
        tfjs = [r for r in result["rows"] if r["runtime"] == "tfjs"]
        assert all(len(r["tensors"]) == 1 for r in tfjs)  # one count after warm-up, in the worker and here
        assert all(r["steady"] and r["heap_growth_mb"] is not None for r in result["rows"])

    def test_auto_takes_what_the_build_measured_fastest(self, chromium, site, reference):
        meta = reference[1]
        [timing] = meta["litert"]["timings"]
        accurate = {m["precision"]: m["accurate"] for m in meta["litert"]["models"]}
        candidates = {k: v for k, v in timing["ms"].items() if k != "int8" or accurate["int8"]}
        fastest = min(candidates, key=candidates.get)
        got = self.segment(chromium, site, {})
        assert "error" not in got, got
        if fastest == "tfjs":
            assert (got["runtime"], got["info"]["runtime"]) == ("tfjs", "tfjs")
        else:
            assert (got["runtime"], got["precision"]) == ("litert", fastest)
        assert got["reason"].startswith(f"fastest the build measured at {SIZE[0]}x{SIZE[1]} (Chromium")
        assert np.mean(np.array(got["labels"]) == reference[0]) >= (0.9 if fastest == "int8" else 0.999)

    def test_a_size_without_a_model_runs_on_tfjs_and_says_so(self, chromium, site, litert_built):
        got = self.segment(chromium, site, {"size": [64, 80]}, source=(64, 80))  # no resizing: TF's pixels
        assert "error" not in got, got
        assert got["runtime"] == "tfjs" and got["size"] == [64, 80]
        assert got["reason"] == f"no LiteRT.js model at 64x80 (built: {SIZE[0]}x{SIZE[1]}); tfjs runs any size"
        want, *_ = tf_labels(litert_built, (64, 80))
        assert len(got["labels"]) == want.size and np.mean(np.array(got["labels"]) == want) >= 0.999

    def test_the_page_shows_the_choice_and_lets_a_person_switch(self, chromium, site, reference):
        meta = reference[1]
        tab = chromium.new_page()
        try:
            tab.goto(site.replace("probe.html", f"index.html?debug&size={SIZE[0]}x{SIZE[1]}"))
            tab.wait_for_function("window.patcherState && (patcherState.runs >= 1 || patcherState.error)",
                                  timeout=120_000)
            state = tab.evaluate("patcherState")
            assert state["error"] is None and state["litert"] is True
            assert tab.inner_text("#choice").startswith(f"Why: fastest the build measured at {SIZE[0]}x{SIZE[1]}")
            assert state["reason"] in tab.inner_text("#choice")

            def switch(runtime, precision, want):
                runs = tab.evaluate("patcherState.runs")
                tab.select_option("#runtime", runtime)
                tab.select_option("#precision", precision)
                tab.wait_for_function(f"patcherState.runs > {runs} && patcherState.runtime === '{want[0]}' && "
                                      f"patcherState.precision === '{want[1]}' || patcherState.error", timeout=120_000)
                assert tab.evaluate("patcherState.error") is None
                return tab.inner_text("#status"), tab.inner_text("#timing")

            status, timing = switch("tfjs", "auto", ("tfjs", "float32"))
            assert status.startswith("TensorFlow.js wasm in the Web Worker") and "on TensorFlow.js" in timing
            status, timing = switch("litert", "int8", ("litert", "int8"))
            assert status.startswith("LiteRT.js int8 in the Web Worker") and "on LiteRT.js int8" in timing
            accurate = next(m["accurate"] for m in meta["litert"]["models"] if m["precision"] == "int8")
            assert ("under the build's floor" in tab.inner_text("#choice")) == (not accurate)
        finally:
            tab.close()

    @pytest.mark.parametrize(("runtime", "code"), [("auto", None), ("litert", "litert")])
    def test_a_tflite_that_does_not_load_leaves_tfjs_under_auto_and_fails_under_litert(
            self, chromium, site, litert_built, runtime, code):
        content = json.loads((litert_built / "model.json").read_text())
        lite = content["userDefinedMetadata"]["litert"]
        for m in lite["models"]:
            m["file"] = m["file"].replace("model-", "absent-")
        for t in lite["timings"]:
            t["ms"] = {"tfjs": 100.0, "float32": 1.0, "int8": 1.0}  # LiteRT.js would win
        (litert_built / "absent.json").write_text(json.dumps(content))
        got = self.segment(chromium, site, {"model": "absent.json", "runtime": runtime})
        if code:
            assert got["error"] == code and "absent-96x96" in got["message"], got
        else:
            assert "error" not in got, got
            assert got["runtime"] == "tfjs" and got["info"]["runtime"] == "tfjs"
            assert got["reason"].startswith("LiteRT.js could not start here (LiteRT.js cannot load") and \
                "absent-96x96" in got["reason"]

    def test_int8_on_tfjs_is_refused(self, chromium, site):
        got = self.segment(chromium, site, {"runtime": "tfjs", "precision": "int8"})
        assert got["error"] == "options" and "use runtime 'litert'" in got["message"]


MEASURE_PROBE = """<!doctype html><html><body><script type="module">
import {createSegmenter} from './segmenter.js';
// Segments the picture a frame at a time, as a video loop does, until `auto` has measured (at most `most`
// calls), then makes a second segmenter.
window.measure = async (options, pixels, [h, w], most) => {
  try {
    const raw = Uint8Array.from(atob(pixels), (c) => c.charCodeAt(0));
    const image = new ImageData(new Uint8ClampedArray(raw.buffer), w, h);
    const seg = await createSegmenter(options);
    const first = seg.info;
    let result;
    let calls = 0;
    do {
      result = await seg.segment(image);
      calls += 1;
      await new Promise((resolve) => requestAnimationFrame(resolve));
    } while (['waiting', 'measuring'].includes(seg.info.measure && seg.info.measure.status) && calls < most);
    const info = seg.info;
    seg.dispose();
    const again = await createSegmenter(options);
    const reused = again.info;
    const next = await again.segment(image);
    again.dispose();
    return {first, info, calls, labels: Array.from(result.labels), reused, reusedLabels: Array.from(next.labels)};
  } catch (err) {
    return {error: err.code, message: err.message};
  }
};
window.ready = true;
</script></body></html>"""


def runtime_id(info: dict) -> str:
    """lib/choose.js's runtimeId of what seg.info says runs: 'tfjs', 'float32', 'int8', 'float32-webgpu' ..."""
    base = "tfjs" if info["runtime"] == "tfjs" else info["precision"]
    return base if info["backend"] == "wasm" else f"{base}-{info['backend']}"


class TestMeasure:
    """`auto` measures the real runtimes on this device (headless Chromium, which offers a WebGPU adapter with
    --enable-unsafe-webgpu: SwiftShader on the CPU, so its speed says nothing; its class map must be right)."""

    pytestmark = needs_build + needs_browser

    @pytest.mark.parametrize("options", [{"runtime": "tfjs", "backend": "webgpu", "worker": True},
                                         {"runtime": "litert", "precision": "float32", "backend": "webgpu", "worker": False}],
                             ids=["tfjs-webgpu-worker", "litert-webgpu-main-thread"])
    def test_the_webgpu_runtimes_give_tensorflows_class_map(self, chromium, site, reference, options):
        got = TestSegmenter().segment(chromium, site, options)
        assert "error" not in got, got
        assert (got["info"]["runtime"], got["info"]["backend"], got["info"]["worker"]) == (
            options["runtime"], "webgpu", options["worker"])
        agreement = float(np.mean(np.array(got["labels"]) == reference[0]))
        print(f"{options['runtime']} on WebGPU (SwiftShader): {agreement:.4%} of pixels as TensorFlow's")
        assert agreement >= 0.999

    @pytest.mark.parametrize("worker", [True, False], ids=["worker", "main-thread"])
    def test_auto_measures_each_runtime_here_takes_the_fastest_and_keeps_it(self, chromium, litert_built, site,
                                                                           reference, worker):
        meta = reference[1]
        (litert_built / "measure.html").write_text(MEASURE_PROBE)
        rgba = np.concatenate([picture_pixels(*SIZE), np.full((*SIZE, 1), 255, np.uint8)], axis=-1)
        tab = chromium.new_page()
        try:
            tab.goto(site.replace("probe.html", "measure.html"))
            tab.wait_for_function("window.ready === true", timeout=60_000)
            got = tab.evaluate("([o, p, s, n]) => measure(o, p, s, n)",
                               [{"size": list(SIZE), "worker": worker, "measureDownloads": True},
                                base64.b64encode(rgba.tobytes()).decode(),
                                list(SIZE), 1000])
        finally:
            tab.close()
        assert "error" not in got, got
        first, info, reused = got["first"], got["info"], got["reused"]
        # the first calls run the build's choice at once
        assert first["reason"].startswith(f"fastest the build measured at {SIZE[0]}x{SIZE[1]}")
        assert first["measure"]["status"] == "waiting"
        # then every candidate was timed here, the adapter's WebGPU runtimes included
        done = info["measure"]
        accurate = next(m["accurate"] for m in meta["litert"]["models"] if m["precision"] == "int8")
        assert done["status"] == "measured", (got["calls"], done)
        assert done["candidates"] == ["tfjs", "float32", *(["int8"] if accurate else []), "tfjs-webgpu", "float32-webgpu"]
        assert done["failed"] == {} and sorted(done["ms"]) == sorted(done["candidates"])
        assert all(ms > 0 for ms in done["ms"].values())
        assert done["bytes"] > 0, "measuring fetched the other library's files, and says how much"
        fastest = min(done["ms"], key=done["ms"].get)
        assert done["winner"] == fastest and runtime_id(info) == fastest
        assert info["reason"].startswith(f"fastest measured on this device at {SIZE[0]}x{SIZE[1]}: ")
        print(f"{'worker' if worker else 'main thread'}: measured in {done['steps']} steps over {got['calls']} calls, "
              f"{done['cost']:.0f} ms holding calls back, the longest step {done['longest']:.0f} ms, "
              f"{done['aside']:.0f} ms starting the other library beside them; "
              + ", ".join(f"{k} {v:.1f} ms" for k, v in sorted(done["ms"].items(), key=lambda kv: kv[1])))
        want = 0.9 if fastest == "int8" else 0.999
        assert np.mean(np.array(got["labels"]) == reference[0]) >= want
        # a later segmenter in this browser starts with the kept winner and measures nothing
        assert reused["measure"]["status"] == "stored" and reused["measure"]["winner"] == fastest
        assert reused["measure"]["ms"] == done["ms"] and runtime_id(reused) == fastest
        assert "kept from" in reused["reason"]
        assert np.mean(np.array(got["reusedLabels"]) == reference[0]) >= want


HAS_ORT = (importlib.util.find_spec("tf2onnx") is not None
           and (PROJECT / "node_modules" / "onnxruntime-web" / "dist" / "ort.wasm.min.mjs").is_file())


def bench(*args) -> tuple[str, dict]:
    """scripts/bench_browser.py in a process of its own (Playwright's sync API cannot start while another
    test's browser is open): its stdout and the JSON line that ends it."""
    proc = subprocess.run([sys.executable, str(PROJECT / "scripts" / "bench_browser.py"), *args],
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout, json.loads(proc.stdout.strip().splitlines()[-1])


class TestBench:
    pytestmark = needs_build + needs_browser

    def test_bench_browser_times_tf_tfjs_and_litert_in_one_run(self, litert_built):
        out, result = bench("--model-dir", str(litert_built), "--repeat", "1", "--no-onnx")
        assert list(result["tf_ms"]) == ["96x96"]  # by default, every size with LiteRT models
        runs = sorted((r["runtime"], r["threads"]) for r in result["rows"])
        assert runs == [("LiteRT.js 2.5.3 float32", 1), ("LiteRT.js 2.5.3 float32", 2), ("LiteRT.js 2.5.3 int8", 1),
                        ("LiteRT.js 2.5.3 int8", 2), ("tfjs 4.22.0 wasm", 1), ("tfjs 4.22.0 wasm", 2)]
        assert all(r["ms"] > 0 and r["size"] == "96x96" and "unthreaded" not in r["note"] for r in result["rows"])
        int8 = [r for r in result["rows"] if r["runtime"].endswith("int8")]
        assert all(isinstance(r["accurate"], bool) and r["bytes"] > 0 for r in int8)
        assert result["absent"] == {"onnxruntime-web": "skipped: --no-onnx"}
        assert "TensorFlow 2.19.0 native" in out and "x TF" in out and "int8 accurate" in out

    @pytest.mark.skipif(not HAS_ORT, reason="tf2onnx (pip install -e '.[bench]') and onnxruntime-web (npm ci) are "
                                            "needed for the onnxruntime-web rows")
    def test_bench_browser_times_onnxruntime_web_with_the_threads_it_reports(self, litert_built):
        out, result = bench("--model-dir", str(litert_built), "--repeat", "1", "--tfjs-threads", "1",
                            "--litert-threads", "1")
        pinned = json.loads((PROJECT / "package.json").read_text())["devDependencies"]["onnxruntime-web"]
        ort = [r for r in result["rows"] if r["runtime"].startswith("onnxruntime-web")]
        assert [(r["runtime"], r["size"], r["threads"]) for r in ort] == [
            (f"onnxruntime-web {pinned} wasm", "96x96", 1), (f"onnxruntime-web {pinned} wasm", "96x96", 2)]
        assert all(r["ms"] > 0 and r["bytes"] > 0 and r["note"] == "" for r in ort)
        # the ONNX graph gives TensorFlow's class ids (a random network's near-ties aside)
        assert all(r["agreement"] >= 0.99 for r in ort)
        assert "onnxruntime-web" not in result["absent"] and "class ids against TensorFlow's" in out
        assert {r["runtime"] for r in result["rows"]} >= {"tfjs 4.22.0 wasm", "LiteRT.js 2.5.3 float32"}

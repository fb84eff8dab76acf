"""`build --litert` and `check --litert` (issue 14): TFLite models for LiteRT.js, their agreement with
TensorFlow (Python interpreter), and LiteRT.js itself in headless Chromium on the synthetic upstream."""
from __future__ import annotations

import base64
import importlib.util
import json
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import numpy as np
import pytest

from patcher import litert, outdir, page
from patcher.check import preprocess, run_frozen
from patcher.check import picture_pixels
from patcher.cli import main
from patcher.errors import BuildError

SIZE = (96, 96)
HAS_TF = importlib.util.find_spec("tensorflow") is not None and importlib.util.find_spec("tensorflowjs") is not None
HAS_RUNTIME = all((Path("node_modules") / package / name).is_file() for package, name, _ in litert.RUNTIME_FILES)
needs_build = [
    pytest.mark.tf,
    pytest.mark.skipif(not HAS_TF, reason="TensorFlow and tensorflowjs are needed: pip install -e '.[tf,web]'"),
    pytest.mark.skipif(shutil.which("node") is None or not HAS_RUNTIME,
                       reason="the pinned npm packages (TensorFlow.js, LiteRT.js) are needed: run 'npm ci'"),
]
needs_browser = [
    pytest.mark.skipif(not Path(page.CHROMIUM).exists(), reason=f"Debian's chromium is not installed ({page.CHROMIUM})"),
    pytest.mark.skipif(importlib.util.find_spec("playwright") is None, reason="playwright is not installed"),
]


# --- accuracy measures (numpy only) ------------------------------------------------------------------

def test_near_boundary_marks_pixels_within_two_of_another_class():
    labels = np.zeros((10, 12), dtype=np.int32)
    labels[:, 6:] = 1
    near = litert.near_boundary(labels)
    assert near[:, 4:8].all() and not near[:, :4].any() and not near[:, 8:].any()
    assert not litert.near_boundary(np.full((5, 5), 3)).any()  # the image border is no boundary


def test_agreement_counts_pixels_overall_away_from_boundaries_and_confident():
    reference = np.zeros((10, 12), dtype=np.int64)
    reference[:, 6:] = 1
    prob = np.zeros((1, 10, 12, 3), dtype=np.float32)
    prob[..., 0], prob[..., 1] = 0.5, 0.48  # margin 0.02 everywhere ...
    prob[0, :5, :, 0] = 0.9  # ... but 0.42 in the top half
    labels = reference.astype(np.int32).copy()
    labels[0, 5] = 1  # at the boundary, in the confident half
    labels[9, 0] = 1  # away from the boundary, in the unsure half
    a = litert.agreement(reference, prob, labels)
    assert a["pixels"] == 120 and a["overall"] == pytest.approx(118 / 120)
    assert a["away_pixels"] == 80 and a["away_from_boundary"] == pytest.approx(79 / 80)
    assert a["confident_pixels"] == 60 and a["confident"] == pytest.approx(59 / 60)


def test_float32_is_judged_by_the_tfjs_bound_int8_by_pixels_away_from_boundaries():
    def entry(precision, overall, away):
        return {"precision": precision, "accuracy": {"overall": overall, "away_from_boundary": away}}

    assert litert.judge(entry("float32", 0.9995, 0.5), 0.99)
    assert not litert.judge(entry("float32", 0.998, 1.0), 0.99)
    assert litert.judge(entry("int8", 0.95, 0.991), 0.99) and not litert.judge(entry("int8", 0.999, 0.98), 0.99)
    assert litert.judge(entry("int8", 0.95, 0.98), 0.97)
    assert litert.judge(entry("int8", 0.995, None), 0.99)  # no pixel away from a boundary: all pixels


def test_default_calibration_is_the_sample_its_variants_and_generated_pictures(tmp_path):
    sample = tmp_path / "sample.png"
    from PIL import Image

    Image.fromarray(picture_pixels(120, 100)).save(sample)
    images, about = litert.calibration_images(None, sample)
    again, _ = litert.calibration_images(None, sample)
    assert len(images) == about["images"] == litert.CALIBRATION_IMAGES and about["source"] == "default"
    assert "sample.png" in about["description"] and all(i.dtype == np.uint8 and i.shape[2] == 3 for i in images)
    assert all(np.array_equal(a, b) for a, b in zip(images, again))  # the same every build


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
    return out


class TestBuilt:
    pytestmark = needs_build

    def test_build_writes_a_model_per_precision_the_runtime_and_the_metadata(self, litert_built):
        meta = json.loads((litert_built / "model.json").read_text())["userDefinedMetadata"]
        entry = meta["litert"]
        assert entry["runtime"] == "@litertjs/core 2.5.3" and entry["sizes"] == [list(SIZE)]
        assert entry["calibration"]["source"] == "default" and entry["calibration"]["images"] == 20
        files = {m["precision"]: m for m in entry["models"]}
        assert sorted(files) == ["float32", "int8"]
        for precision, m in files.items():
            path = litert_built / m["file"]
            assert m["file"] == f"litert/model-96x96-{precision}.tflite" and path.stat().st_size == m["bytes"]
            assert m["input_dtype"] == "float32" and m["output_dtype"] == "int32"
            a = m["accuracy"]
            assert a["pixels"] == 96 * 96 and 0 < a["away_pixels"] <= a["pixels"] and a["confident_pixels"] <= a["pixels"]
        assert files["float32"]["accurate"] and files["float32"]["accuracy"]["overall"] >= 0.999
        assert files["int8"]["bytes"] < files["float32"]["bytes"]  # int8 weights (the file has fixed overhead)
        assert files["int8"]["accurate"] == (files["int8"]["accuracy"]["away_from_boundary"] >= 0.99)
        for _, _, name in litert.RUNTIME_FILES:
            assert (litert_built / "litert" / name).is_file()
        assert (litert_built / "litert" / "index.html").is_file() and (litert_built / "litert" / "harness.js").is_file()
        # the default build's files are all there too, and the marker lists the new ones
        marker = outdir.read_marker(litert_built)
        assert "model.json" in marker["files"] and files["int8"]["file"] in marker["files"]

    def test_check_litert_prints_the_table_and_passes(self, litert_built, capsys):
        capsys.readouterr()
        assert main(["check", "--model-dir", str(litert_built), "--litert"]) == 0
        out = capsys.readouterr().out
        rows = [line.split() for line in out.splitlines() if line.strip().startswith("model-96x96")]
        assert [r[0] for r in rows] == ["model-96x96-float32.tflite", "model-96x96-int8.tflite"]
        assert rows[0][-1] == "yes" and "checked: 2 LiteRT models" in out

    def test_check_litert_fails_with_16_when_float32_is_out_of_bounds(self, litert_built, monkeypatch, capsys):
        monkeypatch.setattr(litert, "FLOAT_MIN_AGREEMENT", 1.01)
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
        browser = p.chromium.launch(executable_path=page.CHROMIUM, args=page.CHROMIUM_FLAGS)
        yield browser
        browser.close()


class TestBrowser:
    pytestmark = needs_build + needs_browser

    def test_litert_js_matches_tensorflow_in_chromium_with_threads(self, litert_built, chromium):
        meta = json.loads((litert_built / "model.json").read_text())["userDefinedMetadata"]
        x = preprocess(picture_pixels(*SIZE), meta)
        work = Path(tempfile.mkdtemp(prefix="test-litert-"))
        try:
            x.tofile(work / "x.bin")
            run_frozen(outdir.graph_path(litert_built), [{"file": str(work / "x.bin"), "shape": list(x.shape)}],
                       work, meta)
            want = np.load(work / "tf.0.0.npy")
        finally:
            shutil.rmtree(work, ignore_errors=True)
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
            assert labels8.size == want.size and labels8.min() >= 0 and labels8.max() < len(meta["classes"])
        finally:
            tab.close()
            httpd.shutdown()


class TestBench:
    pytestmark = needs_build + needs_browser

    def test_bench_runtimes_times_tf_tfjs_and_litert_in_one_run(self, litert_built):
        # a process of its own: Playwright's sync API cannot start while another test's browser is open
        script = Path(__file__).resolve().parent.parent / "scripts" / "bench_runtimes.py"
        proc = subprocess.run([sys.executable, str(script), "--model-dir", str(litert_built), "--repeat", "1"],
                              capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr[-2000:]
        out = proc.stdout
        result = json.loads(out.strip().splitlines()[-1])
        assert list(result["tf_ms"]) == ["96x96"]
        runs = {(r["runtime"], r["threads"].split()[0]) for r in result["rows"]}
        assert runs == {("tfjs 4.22 wasm", "2"), ("LiteRT.js 2.5.3 float32", "1"), ("LiteRT.js 2.5.3 float32", "2"),
                        ("LiteRT.js 2.5.3 int8", "1"), ("LiteRT.js 2.5.3 int8", "2")}
        assert all(r["ms"] > 0 and "unthreaded" not in r["threads"] for r in result["rows"])
        assert "TensorFlow 2.19 native" in out and "x TF" in out

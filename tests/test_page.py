"""The demo page in a real headless Chromium (Debian's, driven by Playwright): worker path, wasm and webgl.

The page's test hooks (window.patcherState, window.patcherRun) exist only with ?debug in the URL."""
from __future__ import annotations

import functools
import http.server
import json
import re
import shutil
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from kit import needs_chromium, needs_tfjs
from patcher import page
from patcher.check import picture_pixels, preprocess, run_frozen
from patcher.outdir import graph_path
from patcher.page import CHROMIUM, CHROMIUM_FLAGS

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
FAKE_CAMERA = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]
WAIT = 180_000

pytestmark = [pytest.mark.tf, needs_chromium, needs_tfjs]


@pytest.fixture(scope="module")
def playwright():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright):
    chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
    yield chromium
    chromium.close()


def half(plane: np.ndarray) -> np.ndarray:
    """A plane at half the width and height (4:2:0 chroma), each value the mean of its 2 x 2 block."""
    height, width = plane.shape
    return plane.reshape(height // 2, 2, width // 2, 2).mean(axis=(1, 3))


def fake_video(path: Path, width: int = 320, height: int = 240) -> Path:
    """A Y4M clip for Chromium's fake camera whose six frames all differ (the test picture, inverted,
    shifted, flipped), so a class map drawn over the wrong frame shows."""
    base = sample_pixels(height, width).astype(np.float32)
    return write_y4m(path, [base, 255 - base, np.roll(base, width // 4, axis=1), 255 - np.flipud(base),
                            np.fliplr(base), np.roll(255 - base, height // 3, axis=0)])


def write_y4m(path: Path, frames: list[np.ndarray]) -> Path:
    """RGB frames (float [H, W, 3], 0..255, all of one size) as a 30 fps Y4M clip (4:2:0) at `path`."""
    height, width = frames[0].shape[:2]
    with open(path, "wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F30:1 Ip A1:1 C420jpeg\n".encode())
        for rgb in frames:
            r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
            y = 0.299 * r + 0.587 * g + 0.114 * b
            u = 128 - 0.168736 * r - 0.331264 * g + 0.5 * b
            v = 128 + 0.5 * r - 0.418688 * g - 0.081312 * b
            out.write(b"FRAME\n")
            out.writelines(np.clip(np.round(plane), 0, 255).astype(np.uint8).tobytes() for plane in (y, half(u), half(v)))
    return path


@pytest.fixture(scope="module")
def camera_browser(playwright, tmp_path_factory):
    """A Chromium whose webcam is Chromium's fake camera playing `fake_video`, granted without asking."""
    clip = fake_video(tmp_path_factory.mktemp("camera") / "clip.y4m")
    chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS + FAKE_CAMERA + [
        f"--use-file-for-fake-video-capture={clip}"])
    yield chromium
    chromium.close()


@contextmanager
def serving(folder: Path, isolate: bool = True):
    """`patcher serve`'s server on `folder`; yields its URL."""
    httpd = page.server(folder, isolate=isolate)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(scope="module")
def site(built, tmp_path_factory):
    with serving(copy_build(built, tmp_path_factory.mktemp("page") / "site")) as url:
        yield url


def metadata(folder: Path) -> dict:
    return json.loads((folder / "model.json").read_text())["userDefinedMetadata"]


def rewrite_metadata(folder: Path, **changes) -> dict:
    """Change model.json's userDefinedMetadata in a copy of a build (None deletes a key)."""
    content = json.loads((folder / "model.json").read_text())
    meta = content["userDefinedMetadata"]
    for key, value in changes.items():
        if value is None:
            meta.pop(key, None)
        else:
            meta[key] = value
    (folder / "model.json").write_text(json.dumps(content))
    return meta


def copy_build(built: Path, target: Path, faces: bool = False) -> Path:
    """A copy of the build to serve. Without `faces`, its model.json names no face detector, so segment()
    parses the whole frame, as the tests comparing with TensorFlow's whole-frame map need (face mode:
    tests/test_faces_module.py)."""
    shutil.copytree(built, target)
    if not faces:
        rewrite_metadata(target, faces=None)
        shutil.rmtree(target / "faces", ignore_errors=True)
    return target


def at_source_size(folder: Path) -> Path:
    """`folder`'s model.json without its preferred size (input.default_size), so that segment() without
    `size` runs at the source's own size, where TensorFlow's map is compared pixel for pixel."""
    meta = metadata(folder)
    rewrite_metadata(folder, input={k: v for k, v in meta["input"].items() if k != "default_size"})
    return folder


def wait_ready(tab) -> dict:
    tab.wait_for_function("window.patcherState && (patcherState.status === 'ready' || patcherState.error)",
                          timeout=WAIT)
    return state_of(tab)


def wait_for_run(tab, runs: int = 1) -> dict:
    tab.wait_for_function(f"window.patcherState && (patcherState.runs >= {runs} || patcherState.error)",
                          timeout=WAIT)
    return state_of(tab)


def state_of(tab) -> dict:
    return tab.evaluate("({...patcherState, meta: null, lastLabels: null, iso: crossOriginIsolated})")


def last_labels(tab) -> np.ndarray:
    height, width = tab.evaluate("patcherState.lastLabelsSize")
    return np.array(tab.evaluate("Array.from(patcherState.lastLabels)"), dtype=np.int64).reshape(height, width)


def sample_pixels(height: int, width: int) -> np.ndarray:
    """check's test picture: RGB uint8 [H, W, 3]."""
    return picture_pixels(height, width)


@contextmanager
def opened(browser, url: str):
    """A new tab at `url`, once its script has set window.ready; closed afterwards."""
    tab = browser.new_page()
    tab.goto(url)
    tab.wait_for_function("window.ready === true", timeout=WAIT)
    try:
        yield tab
    finally:
        tab.close()


def tf_outputs(built: Path, pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """TensorFlow's class map [H, W] and, where the frozen graph has them, its probabilities [H, W, C] (else
    None), for RGB pixels [H, W, 3] preprocessed as model.json's metadata says."""
    meta = metadata(built)
    x = preprocess(pixels, meta)
    work = Path(tempfile.mkdtemp(prefix="patcher-page-"))
    try:
        x.tofile(work / "x.bin")
        run_frozen(graph_path(built), [{"file": str(work / "x.bin"), "shape": list(x.shape)}], work, meta)
        probabilities = work / "tf.0.1.npy"
        return (np.load(work / "tf.0.0.npy").reshape(pixels.shape[:2]),
                np.load(probabilities).reshape(*pixels.shape[:2], -1) if probabilities.exists() else None)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def tf_labels(built: Path, pixels: np.ndarray) -> np.ndarray:
    """TensorFlow's class map [H, W] for RGB pixels."""
    return tf_outputs(built, pixels)[0]


def overlay_alpha(tab) -> np.ndarray:
    """The alpha channel of the page's overlay canvas."""
    height, width, alpha = tab.evaluate("""(() => {
        const c = document.getElementById('overlay');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        const a = []; for (let i = 3; i < d.length; i += 4) a.push(d[i]);
        return [c.height, c.width, a]; })()""")
    return np.array(alpha).reshape(height, width)


@pytest.mark.parametrize("backend", ["wasm", "webgl"])
def test_worker_page_matches_tensorflow(backend, browser, site, built, tmp_path):
    from PIL import Image

    height, width = 96, 80
    pixels = sample_pixels(height, width)
    png = tmp_path / "picture.png"
    Image.fromarray(pixels).save(png)
    meta = metadata(built)
    tab = browser.new_page()
    tab.goto(f"{site}?debug&backend={backend}&mode=worker&size={height}x{width}&sample=0")
    assert wait_ready(tab)["error"] is None
    tab.set_input_files("#file", str(png))
    state = wait_for_run(tab)
    assert state["error"] is None
    assert (state["mode"], state["backend"], state["iso"]) == ("worker", backend, True)
    assert state["lastSize"] == [height, width] and state["lastLabelsSize"] == [height, width]
    labels = last_labels(tab)
    expected = tf_labels(built, pixels)
    agreement = np.mean(labels == expected)
    print(f"page, {backend} in the worker: {agreement:.4%} of {labels.size} pixels agree with TensorFlow")
    assert agreement >= 0.999
    # Drawn with the metadata's transparent classes clear, every other class opaque.
    alpha = overlay_alpha(tab)
    assert alpha.shape == labels.shape
    assert np.array_equal(alpha == 0, np.isin(labels, meta.get("transparent", [])))
    assert np.all(alpha[~np.isin(labels, meta.get("transparent", []))] == 255)
    assert tab.is_visible("#banner") and "RANDOM weights" in tab.inner_text("#banner")
    assert tab.locator("#legend li").count() == len(meta["classes"])
    assert tab.inner_text("h1") == meta["title"] == tab.title()
    ARTIFACTS.mkdir(exist_ok=True)
    tab.goto(f"{site}?debug&backend={backend}&mode=worker")
    wait_for_run(tab)
    tab.screenshot(path=str(ARTIFACTS / f"page-{backend}.png"), full_page=True)
    tab.close()


def test_main_thread_can_be_chosen(browser, site):
    tab = browser.new_page()
    tab.goto(f"{site}?debug&backend=wasm&mode=main&size=64x64")
    state = wait_for_run(tab)
    assert state["error"] is None and state["mode"] == "main" and state["lastSize"] == [64, 64]
    assert state["fallback"] is None
    assert "main thread" in tab.inner_text("#status")
    tab.close()


@pytest.mark.parametrize("threads", [0, 1])
def test_wasm_runs_simd_and_one_thread_per_core_when_isolated(threads, browser, site):
    tab = browser.new_page()
    tab.goto(f"{site}?debug&backend=wasm&mode=worker&size=64x64&threads={threads}")
    state = wait_for_run(tab)
    cores = tab.evaluate("navigator.hardwareConcurrency")
    assert state["error"] is None and state["isolated"] is True and state["simd"] is True
    assert state["threads"] == state["threadsRequested"] == (threads or cores)
    status = tab.inner_text("#status")
    wanted = threads or cores
    assert f"wasm in the Web Worker, {wanted} of {wanted} thread" in status and "SIMD" in status
    tab.close()


def test_without_isolation_wasm_says_so_and_runs_one_thread(browser, built):
    with serving(built, isolate=False) as url:
        tab = browser.new_page()
        warned = []
        tab.on("console", lambda m: warned.append(m.text) if m.type == "warning" else None)
        tab.goto(f"{url}?debug&backend=wasm&mode=worker&size=64x64")
        state = wait_for_run(tab)
        reasons = tab.evaluate("""(async () => {
            const m = await import('./segmenter.js');
            const seg = await m.createSegmenter({worker: true, runtime: 'tfjs'});
            const again = await m.createSegmenter({worker: false, runtime: 'tfjs'});
            const out = [seg.info.threadsReason, again.info.threadsReason];
            seg.dispose(); again.dispose();
            return out; })()""")
        said = [w for w in warned if "not cross-origin isolated" in w]
        assert len(said) == 1 and "Cross-Origin-Embedder-Policy: require-corp" in said[0], warned
        assert reasons[0] == reasons[1] and reasons[0].startswith("wasm runs 1 thread, not "), reasons
        cores = tab.evaluate("navigator.hardwareConcurrency")
        assert state["error"] is None and state["iso"] is False and state["isolated"] is False
        assert state["threads"] == 1 and state["threadsRequested"] == cores and state["simd"] is True
        assert f"1 of {cores} thread" in tab.inner_text("#status")
        assert "SIMD (not cross-origin isolated)" in tab.inner_text("#status")
        tab.close()


def test_opened_from_a_file_the_page_says_why_and_how_to_serve_it(browser, built):
    tab = browser.new_page()
    errors = []
    tab.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    tab.goto((built / "index.html").as_uri())
    tab.wait_for_function("!document.getElementById('error').hidden", timeout=WAIT)
    shown = tab.inner_text("#error")
    tab.close()
    assert shown.startswith("This page is opened from a file (file://)") and "python -m patcher serve" in shown
    assert shown in errors, errors


def test_no_camera_is_not_a_model_failure(browser, site):
    tab = browser.new_page()
    tab.add_init_script("navigator.mediaDevices.getUserMedia = () => Promise.reject("
                        "new DOMException('Requested device not found', 'NotFoundError'));")
    tab.goto(f"{site}?debug&backend=wasm&size=64x64")
    wait_for_run(tab)
    tab.click("#webcam")
    tab.wait_for_function("!document.getElementById('error').hidden", timeout=WAIT)
    shown = tab.inner_text("#error")
    tab.close()
    assert shown.startswith("The webcam could not be used (the model is fine): no camera found (NotFoundError"), shown
    assert "connect a camera, or pick an image file" in shown


def test_a_broken_model_shows_an_error_not_a_blank_page(browser, built, tmp_path):
    broken = copy_build(built, tmp_path / "broken")
    next(broken.glob("*.bin")).unlink()
    with serving(broken) as url:
        tab = browser.new_page()
        tab.goto(f"{url}?debug&backend=wasm")
        state = wait_for_run(tab)
        assert "weight shard" in state["error"] and "missing" in state["error"]
        assert tab.is_visible("#error") and "could not be used" in tab.inner_text("#error")
        assert "(serve every .bin file of the build next to model.json)" in tab.inner_text("#error"), "the hint"
        tab.close()


def test_test_hooks_exist_only_with_debug(browser, site):
    tab = browser.new_page()
    tab.goto(f"{site}?backend=wasm&size=64x64")
    tab.wait_for_function("document.getElementById('timing').textContent !== ''", timeout=WAIT)
    assert tab.evaluate("typeof window.patcherState + ' ' + typeof window.patcherRun") == "undefined undefined"
    tab.close()


def test_the_page_takes_its_words_and_transparency_from_the_metadata(browser, built, tmp_path):
    """Title, about line, legend and transparent classes come from model.json; the page names no subject."""
    for name in ("index.html", "app.js", "segmenter.js"):
        # (face mode is the module's, named by its option: `faces`, facemode.js)
        words = re.sub(r"_?faces?\b|facemode|face ?(mode|options|settings|detector)", "",
                       (built / name).read_text(), flags=re.IGNORECASE)
        assert "face" not in words.lower(), name
    folder = copy_build(built, tmp_path / "relabelled")
    with serving(folder) as url:
        tab = browser.new_page()
        tab.goto(f"{url}?debug&backend=wasm&size=64x64")
        assert wait_for_run(tab)["error"] is None
        ids, counts = np.unique(last_labels(tab), return_counts=True)
        assert len(ids) >= 2, "the sample should show more than one class"
        clear = sorted({int(ids[np.argmax(counts)]), 0})   # the commonest class, and class 0 if present
        meta = rewrite_metadata(folder, title="Test title 7", about="An about line from model.json.",
                                transparent=clear)
        tab.reload()
        state = wait_for_run(tab)
        assert state["error"] is None
        assert tab.title() == tab.inner_text("h1") == "Test title 7"
        assert tab.inner_text("#about") == "An about line from model.json."
        legend = tab.locator("#legend li").all_inner_texts()
        assert len(legend) == len(meta["classes"]) and legend[1] == f"1 {meta['classes'][1]}"
        assert [i for i, text in enumerate(legend) if text.endswith("(transparent)")] == clear
        labels, alpha = last_labels(tab), overlay_alpha(tab)
        assert np.isin(labels, clear).any() and (~np.isin(labels, clear)).any()  # both kinds on show
        assert np.array_equal(alpha == 0, np.isin(labels, clear))
        tab.close()


def test_a_custom_size_is_checked(browser, site):
    tab = browser.new_page()
    tab.goto(f"{site}?debug&backend=wasm&size=20x5000")
    state = wait_for_run(tab)
    assert state["error"] is None
    assert tab.is_visible("#size-error") and "whole numbers from 32 to 2048" in tab.inner_text("#size-error")
    assert state["sizeError"] and state["lastSize"] == [448, 448]  # the last valid size stays in use
    runs = state["runs"]
    tab.fill("#custom-height", "64.5")
    assert tab.is_visible("#size-error")
    tab.fill("#custom-height", "64")
    tab.fill("#custom-width", "48")
    tab.wait_for_function(f"patcherState.runs > {runs} && patcherState.lastSize[0] === 64 && "
                          "patcherState.lastSize[1] === 48", timeout=WAIT)
    assert not tab.is_visible("#size-error") and tab.evaluate("patcherState.sizeError") is None
    tab.close()


def test_switching_while_the_webcam_runs_keeps_the_page_going(camera_browser, site):
    """Backend and mode switched under a running webcam, some while a frame is in flight, some back to
    back: the loop goes on, frames keep coming, no error; each frame is drawn with its own class map."""
    tab = camera_browser.new_page()
    errors = []
    tab.on("pageerror", lambda err: errors.append(str(err)))
    tab.goto(f"{site}?debug&backend=wasm&mode=worker&size=64x64&sample=0")
    assert wait_ready(tab)["error"] is None
    tab.click("#webcam")
    wait_for_run(tab, 3)

    def switch(backend: str, mode: str, settle: bool = True) -> None:
        runs = tab.evaluate("patcherState.runs")
        tab.select_option("#backend", backend)
        tab.select_option("#mode", mode)
        if settle:
            tab.wait_for_function(f"patcherState.error || (patcherState.runs >= {runs + 3} && "
                                  f"patcherState.backend === '{backend}' && patcherState.mode === '{mode}')",
                                  timeout=WAIT)
            assert tab.evaluate("patcherState.error") is None

    switch("cpu", "worker")
    switch("wasm", "worker")
    switch("wasm", "main")
    switch("cpu", "main", settle=False)          # back to back, while frames are in flight
    switch("webgl", "worker", settle=False)
    switch("wasm", "worker")
    tab.select_option("#resolution", "288")      # a size change mid-stream
    runs = tab.evaluate("patcherState.runs")
    tab.wait_for_function(f"patcherState.runs >= {runs + 3} && patcherState.lastSize[0] === 288", timeout=WAIT)
    state = state_of(tab)
    assert state["error"] is None and state["status"] == "ready" and not tab.is_visible("#error")
    assert (state["backend"], state["mode"]) == ("wasm", "worker")
    assert "Stop webcam" in tab.inner_text("#webcam")
    assert state["smoothing"] is True  # the webcam's frames are smoothed by default; off, so that ...
    tab.uncheck("#effect-smooth")
    runs = tab.evaluate("patcherState.runs")
    tab.wait_for_function(f"patcherState.runs >= {runs + 2} && patcherState.smoothing === false", timeout=WAIT)
    # ... the frame on show and the class map drawn over it belong together: take both in one synchronous
    # step (the page draws them in one), segment that picture again, compare. The clip's frames all differ.
    tab.evaluate("""async () => {
        const {createSegmenter} = await import('./segmenter.js');
        window.checker = await createSegmenter({backend: 'wasm', worker: true}); }""")
    agreements = []
    for _ in range(6):
        tab.wait_for_timeout(150)
        agreements.append(tab.evaluate("""async () => {
            const image = document.getElementById('image');
            const picture = image.getContext('2d').getImageData(0, 0, image.width, image.height);
            const shown = patcherState.lastLabels.slice();
            const again = await checker.segment(picture, {size: patcherState.lastSize});
            if (again.labels.length !== shown.length) return -1;
            let same = 0;
            for (let i = 0; i < shown.length; i++) same += again.labels[i] === shown[i];
            return same / shown.length; }"""))
    assert min(agreements) >= 0.999, agreements
    tab.click("#webcam")
    assert tab.inner_text("#webcam") == "Webcam"
    assert errors == []
    tab.close()


def test_served_with_cross_origin_isolation_headers(site):
    import urllib.request

    with urllib.request.urlopen(site + "tfjs-backend-wasm.wasm") as response:
        assert response.headers["Cross-Origin-Opener-Policy"] == "same-origin"
        assert response.headers["Cross-Origin-Embedder-Policy"] == "require-corp"
        assert response.headers["Content-Type"] == "application/wasm"
        response.read()
    with urllib.request.urlopen(site + "segmenter.js") as response:
        assert response.headers["Content-Type"].startswith("text/javascript")
    with urllib.request.urlopen(site + "model.json") as response:
        assert json.load(response)["userDefinedMetadata"]["patcher"]["weights"] == "random weights"


def test_the_effects_panel_draws_each_effect_on_the_picture(browser, site):
    """Each effect of the panel on the sample: the effect replaces the class overlay and changes the picture;
    the page's URL can preset it (?effect=...)."""
    tab = browser.new_page()
    try:
        tab.goto(f"{site}?debug&size=96x96&effect=hair")
        state = wait_for_run(tab)
        assert state["error"] is None and state["effect"] == "hair"
        offered = tab.evaluate("[...document.querySelectorAll('#effect option')].filter((o) => !o.disabled).map((o) => o.value)")
        assert offered == ["overlay", "hair", "lips", "blur", "replace"]  # the face model has every class they need
        plain = tab.evaluate("""() => { const c = document.createElement('canvas'); const i = document.getElementById('image');
            c.width = i.width; c.height = i.height; const x = c.getContext('2d');
            return new Promise((done) => { const img = new Image(); img.onload = () => { x.drawImage(img, 0, 0, c.width, c.height);
              done(Array.from(x.getImageData(0, 0, c.width, c.height).data)); }; img.src = patcherState.meta ? 'sample.png' : ''; }); }""")
        for effect in ("hair", "lips", "blur", "replace", "overlay"):
            runs = tab.evaluate("patcherState.runs")
            tab.select_option("#effect", effect)
            tab.wait_for_function(f"patcherState.runs > {runs} && patcherState.effect === '{effect}' || patcherState.error",
                                  timeout=WAIT)
            assert tab.evaluate("patcherState.error") is None
            drawn = np.array(tab.evaluate("""() => { const i = document.getElementById('image');
                return Array.from(i.getContext('2d').getImageData(0, 0, i.width, i.height).data); }"""))
            overlay = overlay_alpha(tab)
            changed = np.mean(np.any(np.abs(drawn.reshape(-1, 4)[:, :3] - np.array(plain).reshape(-1, 4)[:, :3]) > 2, axis=-1))
            if effect == "overlay":
                assert changed == 0 and overlay.max() == 255  # the picture as it is, the class map over it
            else:
                assert changed > 0.01 and overlay.max() == 0, (effect, changed)  # the effect, no overlay
        ARTIFACTS.mkdir(exist_ok=True)
        tab.select_option("#effect", "blur")
        tab.wait_for_function("patcherState.effect === 'blur'", timeout=WAIT)
        tab.screenshot(path=str(ARTIFACTS / "page-effects.png"), full_page=True)
    finally:
        tab.close()


CACHE_PAGE = """<!doctype html><html><head><link rel="icon" href="data:,"></head><body><script type="module">
import {createSegmenter} from './segmenter.js';
const canvas = document.createElement('canvas');
canvas.width = 40; canvas.height = 32;
canvas.getContext('2d').fillRect(8, 8, 16, 16);
try {
  for (const worker of [true, false]) {   // the worker and the page each load the module, model.json and shards
    const seg = await createSegmenter({worker, runtime: 'tfjs', size: [32, 32]});
    await seg.segment(canvas);
    seg.dispose();
  }
  window.done = 'ok';
} catch (err) {
  window.done = `${err.code}: ${err.message}`;
}
</script></body></html>"""


def counting_server(folder: Path, cacheable: bool) -> tuple[http.server.ThreadingHTTPServer, dict[str, int]]:
    """`patcher serve`'s server on `folder`, counting the files it sent (status 200) by path; `cacheable`:
    without its `Cache-Control: no-store`, as a plain static host (the browser may cache)."""
    counts: dict[str, int] = {}

    class Counted(page.Handler):
        def log_message(self, *args: object) -> None:
            pass

        def send_response(self, code: int, message: str | None = None) -> None:
            if code == 200:
                counts[self.path] = counts.get(self.path, 0) + 1
            super().send_response(code, message)

        def send_header(self, keyword: str, value: str) -> None:
            if not (cacheable and keyword == "Cache-Control"):
                super().send_header(keyword, value)

    return http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Counted, directory=str(folder))), counts


def test_a_server_that_lets_the_browser_cache_sends_each_file_once(browser: Any, built: Path, tmp_path: Path) -> None:
    """The page's and its worker's fetches of the module, model.json and the shards share Chromium's HTTP
    cache (the module busts no cache): `patcher serve`, which sends no-store, sends them twice; a server
    without it, once each."""
    folder = copy_build(built, tmp_path / "site")
    (folder / "cache.html").write_text(CACHE_PAGE)
    sent: dict[bool, dict[str, int]] = {}
    for cacheable in (False, True):
        httpd, sent[cacheable] = counting_server(folder, cacheable)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        try:
            context = browser.new_context()   # a fresh profile: an empty HTTP cache
            tab = context.new_page()
            tab.goto(f"http://127.0.0.1:{httpd.server_address[1]}/cache.html")
            tab.wait_for_function("window.done", timeout=WAIT)
            assert tab.evaluate("window.done") == "ok"
            context.close()
        finally:
            httpd.shutdown()
            httpd.server_close()
    shards = [f"/{p.name}" for p in folder.glob("*.bin")]
    for path in ["/lib/engine.js", "/model.json", *shards]:
        assert sent[False][path] >= 2, (path, sent[False])   # no-store: the page's and the worker's, downloaded
    assert sent[True] and all(n == 1 for n in sent[True].values()), sent[True]
    assert set(sent[True]) == set(sent[False])


def canvas_alpha(tab, name: str) -> np.ndarray:
    """The alpha channel of the page's canvas #name."""
    height, width, alpha = tab.evaluate(f"""(() => {{
        const c = document.getElementById('{name}');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        const a = []; for (let i = 3; i < d.length; i += 4) a.push(d[i]);
        return [c.height, c.width, a]; }})()""")
    return np.array(alpha).reshape(height, width)


def test_the_page_parses_each_face_frames_it_and_says_how_many(browser, built, tmp_path):
    """Where model.json names a face detector the page runs face mode: on its sample (the astronaut's whole
    512 x 512 picture) one face, where her head is, framed on the page (its box, and the square parsed) and
    counted in words; the map outside the square is background. "The whole frame" parses without faces."""
    if not metadata(built).get("faces", {}).get("detector"):
        pytest.skip("the build could not fetch the face detector (no npm registry): no face mode to test")
    folder = copy_build(built, tmp_path / "faces", faces=True)
    with serving(folder) as url:
        tab = browser.new_page()
        try:
            tab.goto(f"{url}?debug&backend=wasm&mode=worker&size=64x64")
            state = wait_for_run(tab)
            assert state["error"] is None and state["lastLabelsSize"] == [512, 512]
            assert len(state["faces"]) == 1, state["faces"]
            x, y, w, h = state["faces"][0]["box"]
            assert 120 <= x + w / 2 <= 360 and 0 <= y + h / 2 <= 240, "her head: the top middle of the picture"
            assert tab.inner_text("#found").startswith("Face mode: 1 face found")
            assert tab.input_value("#parse") == "faces" and not tab.is_disabled("#parse")
            cx, cy, side, _ = (round(v) for v in state["faces"][0]["crop"])
            labels = last_labels(tab)
            outside = np.ones_like(labels, bool)
            outside[max(0, cy):cy + side, max(0, cx):cx + side] = False
            assert outside.any() and np.all(labels[outside] == 0), "background outside the square parsed"
            boxes = canvas_alpha(tab, "boxes") > 0
            rows, cols = np.nonzero(boxes)
            assert boxes.shape == (512, 512) and 0 < boxes.mean() < 0.2
            assert cols.min() <= x + 3 and cols.max() >= x + w - 3 and rows.max() >= y + h - 3, "the box framed"

            runs = state["runs"]
            tab.select_option("#parse", "frame")
            state = wait_for_run(tab, runs + 1)
            assert state["error"] is None and state["faces"] is None
            assert tab.inner_text("#found") == "The whole frame parsed (face mode off)."
            assert not (canvas_alpha(tab, "boxes") > 0).any()
        finally:
            tab.close()
    # a model.json without a detector: the choice is disabled, whole frames parsed, nothing said of faces
    tab = browser.new_page()
    try:
        with serving(copy_build(built, tmp_path / "plain")) as url:
            tab.goto(f"{url}?debug&backend=wasm&mode=worker&size=64x64")
            state = wait_for_run(tab)
            assert state["error"] is None and state["faces"] is None and state["detector"] is False
            assert tab.is_disabled("#parse") and tab.inner_text("#found") == ""
    finally:
        tab.close()


def face_video(path: Path, width: int = 320, height: int = 240) -> Path:
    """A Y4M clip for Chromium's fake camera: the astronaut's whole picture, 240 px high, in the middle of a
    grey 320 x 240 frame (her face about 48 px wide), with a little noise frame to frame, as a webcam sees."""
    from PIL import Image
    from skimage import data

    side = height
    person = np.asarray(Image.fromarray(data.astronaut()).resize((side, side), Image.Resampling.BOX), np.float32)
    base = np.full((height, width, 3), 128, np.float32)
    base[:, (width - side) // 2:(width + side) // 2] = person
    rng = np.random.default_rng(0)
    return write_y4m(path, [np.clip(base + rng.normal(0, 3, base.shape), 0, 255) for _ in range(6)])


def test_the_webcam_runs_in_face_mode_with_its_square_steadied(playwright, built, tmp_path):
    """The webcam (Chromium's fake camera playing a person on a grey frame) in face mode, smoothing on: the
    face found on every frame, framed and counted, background outside its square, and the square held still
    on a still scene with camera noise (the tracker)."""
    if not metadata(built).get("faces", {}).get("detector"):
        pytest.skip("the build could not fetch the face detector (no npm registry): no face mode to test")
    clip = face_video(tmp_path / "person.y4m")
    chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS + FAKE_CAMERA + [
        f"--use-file-for-fake-video-capture={clip}"])
    try:
        with serving(copy_build(built, tmp_path / "faces", faces=True)) as url:
            tab = chromium.new_page()
            errors = []
            tab.on("pageerror", lambda err: errors.append(str(err)))
            tab.goto(f"{url}?debug&backend=wasm&mode=worker&sample=0")
            assert wait_ready(tab)["error"] is None
            tab.click("#webcam")
            crops = []
            for runs in range(2, 6):
                state = wait_for_run(tab, runs)
                assert state["error"] is None and state["smoothing"] is True
                assert len(state["faces"]) == 1, state["faces"]
                crops.append(state["faces"][0]["crop"])
            assert tab.inner_text("#found").startswith("Face mode: 1 face found")
            x, y, w, h = state["faces"][0]["box"]
            assert 80 + 40 <= x + w / 2 <= 80 + 200 and y + h / 2 <= 120, "her head: the top middle of the frame"
            labels = last_labels(tab)
            cx, cy, side, _ = (round(v) for v in state["faces"][0]["crop"])
            outside = np.ones_like(labels, bool)
            outside[max(0, cy):cy + side, max(0, cx):cx + side] = False
            assert labels.shape == (240, 320) and outside.any() and np.all(labels[outside] == 0)
            spread = np.ptp(np.array(crops, float), axis=0)
            assert np.all(spread <= 2), f"the steadied square moved {spread} px on a still scene"
            tab.click("#webcam")
            tab.close()
            assert errors == []
    finally:
        chromium.close()

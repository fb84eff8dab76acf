"""The demo page in a real headless Chromium (Debian's, driven by Playwright): worker path, wasm and webgl."""
from __future__ import annotations

import importlib.util
import json
import shutil
import tempfile
import threading
from pathlib import Path

import numpy as np
import pytest

from patcher import page
from patcher.build import GRAPH
from patcher.check import run_frozen, sample_image
from patcher.page import CHROMIUM, CHROMIUM_FLAGS

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"

pytestmark = [
    pytest.mark.tf,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"Debian's chromium is not installed ({CHROMIUM})"),
    pytest.mark.skipif(importlib.util.find_spec("playwright") is None, reason="playwright is not installed"),
    pytest.mark.skipif(importlib.util.find_spec("tensorflowjs") is None, reason="tensorflowjs is not installed"),
]


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def site(built):
    httpd = page.server(built)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


def wait_for_run(tab, runs: int = 1) -> dict:
    tab.wait_for_function(f"window.patcherState && (patcherState.runs >= {runs} || patcherState.error)",
                          timeout=180_000)
    return tab.evaluate("({...patcherState, meta: null, iso: crossOriginIsolated})")


def tf_labels(graph: Path, pixels: np.ndarray) -> np.ndarray:
    work = Path(tempfile.mkdtemp(prefix="patcher-page-"))
    try:
        x = (pixels.astype(np.float32) / 127.5 - 1.0)[None]
        x.tofile(work / "x.bin")
        run_frozen(graph, [{"file": str(work / "x.bin"), "shape": list(x.shape)}], work)
        return np.load(work / "tf.0.0.npy")
    finally:
        shutil.rmtree(work, ignore_errors=True)


@pytest.mark.parametrize("backend", ["wasm", "webgl"])
def test_worker_page_matches_tensorflow(backend, browser, site, built, tmp_path):
    from PIL import Image

    height, width = 96, 80
    pixels = np.round((sample_image(height, width)[0] + 1.0) * 127.5).astype(np.uint8)
    png = tmp_path / "face.png"
    Image.fromarray(pixels).save(png)
    tab = browser.new_page()
    tab.goto(f"{site}?backend={backend}&mode=worker&size={height}x{width}&sample=0")
    tab.wait_for_function("window.patcherState && (patcherState.status === 'ready' || patcherState.error)",
                          timeout=180_000)
    tab.set_input_files("#file", str(png))
    state = wait_for_run(tab)
    assert state["error"] is None
    assert (state["mode"], state["backend"], state["iso"]) == ("worker", backend, True)
    assert state["lastSize"] == [height, width]
    labels = np.array(state["lastLabels"]).reshape(height, width)
    expected = tf_labels(built / GRAPH, pixels)
    assert np.mean(labels == expected) >= 0.999
    assert tab.is_visible("#banner") and "RANDOM weights" in tab.inner_text("#banner")
    assert tab.locator("#legend li").count() == 19
    ARTIFACTS.mkdir(exist_ok=True)
    tab.goto(f"{site}?backend={backend}&mode=worker")
    wait_for_run(tab)
    tab.screenshot(path=str(ARTIFACTS / f"page-{backend}.png"))
    tab.close()


def test_main_thread_fallback_can_be_chosen(browser, site):
    tab = browser.new_page()
    tab.goto(f"{site}?backend=wasm&mode=main&size=64x64")
    state = wait_for_run(tab)
    assert state["error"] is None and state["mode"] == "main" and state["lastSize"] == [64, 64]
    assert "main thread" in tab.inner_text("#status")
    tab.close()


@pytest.mark.parametrize("threads", [0, 1])
def test_wasm_runs_simd_and_one_thread_per_core_when_isolated(threads, browser, site):
    tab = browser.new_page()
    tab.goto(f"{site}?backend=wasm&mode=worker&size=64x64&threads={threads}")
    state = wait_for_run(tab)
    cores = tab.evaluate("navigator.hardwareConcurrency")
    assert state["error"] is None and state["isolated"] is True and state["simd"] is True
    assert state["threads"] == (threads or cores)
    status = tab.inner_text("#status")
    assert f", {threads or cores} thread" in status and "SIMD" in status
    tab.close()


def test_without_isolation_wasm_says_so_and_runs_one_thread(browser, built):
    httpd = page.server(built, isolate=False)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        tab = browser.new_page()
        tab.goto(f"http://127.0.0.1:{httpd.server_address[1]}/?backend=wasm&mode=worker&size=64x64")
        state = wait_for_run(tab)
        assert state["error"] is None and state["iso"] is False and state["isolated"] is False
        assert state["threads"] == 1 and state["simd"] is True
        assert "1 thread, SIMD (not cross-origin isolated)" in tab.inner_text("#status")
        tab.close()
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_a_broken_model_shows_an_error_not_a_blank_page(browser, built, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(built, broken)
    next(broken.glob("*.bin")).unlink()
    httpd = page.server(broken)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        tab = browser.new_page()
        tab.goto(f"http://127.0.0.1:{httpd.server_address[1]}/?backend=wasm")
        state = wait_for_run(tab)
        assert "weight shard" in state["error"] and "missing" in state["error"]
        assert tab.is_visible("#error") and "could not be used" in tab.inner_text("#error")
        tab.close()
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_served_with_cross_origin_isolation_headers(site):
    import urllib.request

    with urllib.request.urlopen(site + "tfjs-backend-wasm.wasm") as response:
        assert response.headers["Cross-Origin-Opener-Policy"] == "same-origin"
        assert response.headers["Cross-Origin-Embedder-Policy"] == "require-corp"
        assert response.headers["Content-Type"] == "application/wasm"
    with urllib.request.urlopen(site + "model.json") as response:
        assert json.load(response)["userDefinedMetadata"]["patcher"]["weights"] == "random weights"

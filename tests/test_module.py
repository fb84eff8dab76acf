"""segmenter.js, the page's ES module, used by a page that is not the demo (headless Chromium).

The page of docs/page.md runs as it stands there (only the backend and the worker flag change per test) on
the build's sample picture, and what it draws must be the picture with TensorFlow's class map over it."""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import test_page
from test_page import (  # noqa: F401
    at_source_size,
    copy_build,
    metadata,
    pytestmark,
    rewrite_metadata,
    sample_pixels,
    serving,
    tf_labels,
)

from patcher.kinds import kind
from patcher.page import PAGE

playwright, browser = test_page.playwright, test_page.browser  # the same fixtures, one Chromium per module

DOCS = Path(__file__).resolve().parent.parent / "docs" / "page.md"
HEIGHT, WIDTH = 72, 88
WAIT = 180_000
SNIPPET_OPTIONS = "backend: 'wasm', worker: true"
PREFERRED = (48, 56)

# the probe pages' window.attempt (the module imported as `segmenter`)
ATTEMPT = """// Runs `body(segmenter)`; a promise that would hang fails after 90 s instead.
window.attempt = async (body) => {
  const hung = new Promise((_, reject) => setTimeout(() => reject(new Error('HUNG: no answer in 90 s')), 90000));
  try {
    return {ok: true, value: await Promise.race([body(segmenter), hung])};
  } catch (err) {
    return {ok: false, name: err.name, code: err.code, message: err.message, hint: err.hint};
  }
};
"""

PROBE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>probe</title><link rel="icon" href="data:,"></head><body>
<script type="module">
import * as segmenter from './segmenter.js';
window.segmenter = segmenter;
window.picture = async (kind) => {
  const data = new Uint8ClampedArray(await (await fetch('pixels.rgba')).arrayBuffer());
  const image = new ImageData(data, %(width)d, %(height)d);
  if (kind === 'imagedata') return image;
  const canvas = document.createElement('canvas');
  canvas.width = image.width; canvas.height = image.height;
  canvas.getContext('2d').putImageData(image, 0, 0);
  return canvas;
};
%(attempt)swindow.ready = true;
</script>
</body></html>
"""


def snippet() -> str:
    """The page of docs/page.md: its one ```html block that is a complete page (<!doctype html>) using
    segmenter.js."""
    blocks = re.findall(r"```html\n(.*?)```", DOCS.read_text(), re.DOTALL)
    found = [b for b in blocks if b.startswith("<!doctype html>") and "createSegmenter(" in b]
    assert len(found) == 1, "docs/page.md should have one complete ```html page that calls createSegmenter"
    return found[0]


@pytest.fixture(scope="module")
def folder(built, tmp_path_factory):
    return make_folder(built, tmp_path_factory.mktemp("consumer") / "site")


def make_folder(built: Path, target: Path) -> Path:
    """A copy of the build with the consumer's files, the test picture, and broken variants in subfolders."""
    root = copy_build(built, target)
    (root / "preferred").mkdir()       # model.json with a preferred size (input.default_size) of 48 x 56
    shutil.copy2(root / "model.json", root / "preferred" / "model.json")
    rewrite_metadata(root / "preferred", input={**metadata(root)["input"], "default_size": list(PREFERRED)})
    at_source_size(root)
    pixels = sample_pixels(HEIGHT, WIDTH)
    rgba = np.concatenate([pixels, np.full((HEIGHT, WIDTH, 1), 255, np.uint8)], axis=-1)
    (root / "pixels.rgba").write_bytes(rgba.tobytes())
    (root / "probe.html").write_text(PROBE % {"width": WIDTH, "height": HEIGHT, "attempt": ATTEMPT})
    shards = sorted(p.name for p in root.glob("*.bin"))
    for name in ("missing", "short", "noscale", "nolabels", "preferred"):
        (root / name).mkdir(exist_ok=True)
        if name != "preferred":
            shutil.copy2(root / "model.json", root / name / "model.json")
        for shard in shards:
            shutil.copy2(root / shard, root / name / shard)
    (root / "missing" / shards[0]).unlink()
    data = (root / "short" / shards[-1]).read_bytes()
    (root / "short" / shards[-1]).write_bytes(data[:-8])
    (root / "nowasm").mkdir()          # the bundles without the .wasm files
    for bundle in ("tf.min.js", "tf-backend-wasm.min.js"):
        shutil.copy2(root / bundle, root / "nowasm" / bundle)
    (root / "nobundles").mkdir()
    rewrite_metadata(root / "noscale", input={**metadata(root)["input"], "scale": None})
    rewrite_metadata(root / "nolabels", outputs=[])
    return root


@pytest.fixture(scope="module")
def site(folder):
    with serving(folder) as url:
        yield url


@pytest.fixture(scope="module")
def expected(built):
    return tf_labels(built, sample_pixels(HEIGHT, WIDTH))


@pytest.fixture
def probe(browser, site):
    with test_page.opened(browser, site + "probe.html") as tab:
        yield tab


def refused(got: dict, code: str, words: list[str]) -> None:
    """`got` (from attempt) is a rejection, not a hang: a SegmenterError of `code` whose message holds every
    word."""
    assert got["ok"] is False, got
    assert "HUNG" not in got["message"]
    assert (got["name"], got["code"]) == ("SegmenterError", code), got
    for word in words:
        assert word in got["message"], got["message"]


def attempt(tab, body: str) -> dict:
    """Run the JS arrow function `body` (given the module) in the probe page; {ok, value} or the error."""
    return tab.evaluate(f"attempt({body})")


@pytest.mark.parametrize(("backend", "worker"), [("wasm", True), ("wasm", False), ("webgl", True), ("webgl", False)])
def test_the_documented_page_draws_the_picture_with_tensorflows_map_over_it(backend, worker, browser, site, folder,
                                                                            built):
    code = snippet()
    assert SNIPPET_OPTIONS in code and "seg.segment(image)" in code and "seg.dispose()" in code
    code = code.replace(SNIPPET_OPTIONS, f"backend: '{backend}', worker: {'true' if worker else 'false'}")
    name = f"page-{backend}-{worker}.html"
    (folder / name).write_text(code)
    tab = browser.new_page()
    errors, logged = [], []
    tab.on("pageerror", lambda err: errors.append(str(err)))
    tab.on("console", lambda msg: logged.append(msg.text) if msg.type == "log" else None)
    tab.goto(site + name)
    # drawn once the canvas has left its default 300x150 for the picture's size
    tab.wait_for_function("() => { const c = document.getElementById('view'); return c.width !== 300 || c.height !== 150; }",
                          timeout=WAIT)
    drawn = tab.evaluate("""() => { const c = document.getElementById('view');
        return {w: c.width, h: c.height, data: Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data)}; }""")
    for _ in range(100):
        if logged:
            break
        tab.wait_for_timeout(100)
    tab.close()
    assert errors == []
    meta = metadata(folder)
    from PIL import Image

    with Image.open(folder / meta["sample"]) as image:
        picture = np.asarray(image.convert("RGB"))
    height, width = picture.shape[:2]
    assert (drawn["w"], drawn["h"]) == (width, height)
    labels = tf_labels(built, picture)
    palette = np.array(meta["palette"], dtype=float)[labels]
    clear = np.isin(labels, meta["transparent"])[..., None]
    want = np.where(clear, picture, picture * (1 - 128 / 255) + palette * 128 / 255)
    got = np.array(drawn["data"]).reshape(height, width, 4)
    assert np.all(got[..., 3] == 255)
    agreement = np.mean(np.all(np.abs(got[..., :3] - want) <= 1, axis=-1))
    print(f"the page, {backend}, worker={worker}: {agreement:.4%} of {labels.size} pixels as TensorFlow's map says")
    assert agreement >= 0.999
    assert len(logged) == 1 and logged[0].startswith(f"{backend}: ") and logged[0].split()[-1] in meta["classes"]


@pytest.mark.parametrize(("backend", "worker", "kind"), [
    ("wasm", True, "imagedata"), ("wasm", False, "canvas"), ("webgl", True, "canvas"), ("webgl", False, "imagedata"),
])
def test_the_module_matches_tensorflow_and_says_what_runs(backend, worker, kind, probe, expected, folder):
    got = attempt(probe, f"""async (m) => {{
        const seg = await m.createSegmenter({{backend: '{backend}', worker: {'true' if worker else 'false'}}});
        const r = await seg.segment(await picture('{kind}'));
        const overlay = seg.colorize(r.labels, r.width, r.height, {{alpha: 0.5}});
        seg.dispose();
        return {{labels: Array.from(r.labels), width: r.width, height: r.height, ms: r.ms, info: seg.info,
                 classes: seg.classes, palette: seg.palette, transparent: seg.transparent,
                 overlay: Array.from(overlay.data)}}; }}""")
    assert got["ok"], got
    result = got["value"]
    meta = metadata(folder)
    info = result["info"]
    assert (info["runtime"], info["backend"], info["worker"]) == ("tfjs", backend, worker)
    assert "fallback" not in info and info["isolated"] is True
    if backend == "wasm":
        assert info["simd"] is True and info["threads"] == info["threadsRequested"] == info["cores"]
    else:
        assert info["threads"] is None and info["simd"] is None
    assert (result["width"], result["height"]) == (WIDTH, HEIGHT) and result["ms"] > 0
    labels = np.array(result["labels"]).reshape(HEIGHT, WIDTH)
    agreement = np.mean(labels == expected)
    assert agreement >= 0.999, f"{agreement:.4%} of pixels agree with TensorFlow"
    assert result["classes"] == meta["classes"] and result["palette"] == meta["palette"]
    assert result["transparent"] == meta["transparent"]
    overlay = np.array(result["overlay"]).reshape(HEIGHT, WIDTH, 4)
    clear = np.isin(labels, meta["transparent"])
    assert np.all(overlay[clear] == 0)
    assert np.all(overlay[~clear][:, 3] == 128)  # alpha 0.5
    assert np.array_equal(overlay[~clear][:, :3], np.array(meta["palette"])[labels[~clear]])


def test_the_readme_shows_the_page_the_test_runs():
    readme = (DOCS.parent.parent / "README.md").read_text()
    assert f"```html\n{snippet()}```" in readme


def test_size_runs_the_model_smaller_and_maps_the_labels_back(probe):
    got = attempt(probe, """async (m) => {
        const seg = await m.createSegmenter({backend: 'wasm', worker: true, size: [36, 44]});
        const image = await picture('canvas');
        const small = await seg.segment(image);
        const big = await seg.segment(image, {size: [72, 88]});
        seg.dispose();
        return {small: Array.from(small.labels), size: small.size, width: small.width, height: small.height,
                big: Array.from(big.labels), bigSize: big.size}; }""")
    assert got["ok"], got
    value = got["value"]
    assert value["size"] == [36, 44] and (value["width"], value["height"]) == (WIDTH, HEIGHT)
    assert value["bigSize"] == [HEIGHT, WIDTH]
    small = np.array(value["small"]).reshape(HEIGHT, WIDTH)
    # Nearest neighbour from 36 x 44 to 72 x 88: every 2 x 2 block is one label.
    blocks = small.reshape(36, 2, 44, 2)
    assert np.all(blocks == blocks[:, :1, :, :1])
    assert len(value["big"]) == HEIGHT * WIDTH


@pytest.mark.parametrize("worker", [True, False])
def test_without_size_the_model_runs_at_its_preferred_size(probe, worker):
    got = attempt(probe, f"""async (m) => {{
        const seg = await m.createSegmenter({{model: 'preferred/model.json', worker: {'true' if worker else 'false'}}});
        const created = seg.info.size;
        const image = await picture('canvas');
        const plain = await seg.segment(image);
        const asked = await seg.segment(image, {{size: [{PREFERRED[0]}, {PREFERRED[1]}]}});
        seg.dispose();
        return {{created, size: plain.size, width: plain.width, height: plain.height,
                 same: plain.labels.every((v, i) => v === asked.labels[i])}}; }}""")
    assert got["ok"], got
    value = got["value"]
    assert value["created"] == value["size"] == list(PREFERRED), value
    assert (value["width"], value["height"]) == (WIDTH, HEIGHT) and value["same"], value


def test_the_main_thread_takes_over_where_a_worker_cannot_read_pixels(probe, expected):
    got = attempt(probe, """async (m) => {
        delete window.OffscreenCanvas;
        const seg = await m.createSegmenter({backend: 'wasm', worker: true});
        const result = await seg.segment(await picture('imagedata'));
        seg.dispose();
        return {info: seg.info, labels: Array.from(result.labels)}; }""")
    assert got["ok"], got
    info = got["value"]["info"]
    assert info["worker"] is False and "OffscreenCanvas" in info["fallback"]
    assert np.mean(np.array(got["value"]["labels"]).reshape(HEIGHT, WIDTH) == expected) >= 0.999


@pytest.mark.parametrize("worker", [True, False])
@pytest.mark.parametrize(("model", "backend", "code", "words"), [
    ("missing/model.json", "wasm", "shard-missing", ["weight shard", "missing", "404"]),
    ("short/model.json", "wasm", "shard-size", ["weight shard", "holds", "bytes", "expected from model.json"]),
    ("nowhere/model.json", "wasm", "not-found", ["model.json not found", "404"]),
    ("noscale/model.json", "wasm", "model", ["input.scale", "rebuild"]),
    ("nolabels/model.json", "wasm", "model", ["labels"]),
    ("model.json", "nosuch", "backend-unknown", ['"nosuch" is unknown', "wasm", "webgl", "cpu"]),
])
def test_failures_are_rejected_promises_that_say_what_is_wrong(worker, model, backend, code, words, probe):
    got = attempt(probe, f"""(m) => m.createSegmenter({{model: '{model}', backend: '{backend}',
                                                         worker: {'true' if worker else 'false'}}})
                                     .then((seg) => seg.info)""")
    refused(got, code, words)


@pytest.mark.parametrize("worker", [True, False])
@pytest.mark.parametrize(("assets", "code", "words"), [
    ("nowasm/", "backend", ["backend wasm could not start"]),
    ("nobundles/", "tfjs", ["cannot load", "nobundles/tf.min.js"]),
])
def test_missing_tfjs_files_are_rejected_not_hung(worker, assets, code, words, probe):
    got = attempt(probe, f"""(m) => m.createSegmenter({{backend: 'wasm', assets: '{assets}',
                                                         worker: {'true' if worker else 'false'}}})
                                     .then((seg) => seg.info)""")
    refused(got, code, words)


@pytest.mark.parametrize("worker", [True, False])
def test_dispose_rejects_the_calls_waiting_and_every_later_one(worker, probe):
    got = attempt(probe, f"""async (m) => {{
        const seg = await m.createSegmenter({{backend: 'wasm', worker: {'true' if worker else 'false'}}});
        const image = await picture('canvas');
        const waiting = [seg.segment(image), seg.segment(image, {{size: [64, 64]}})];
        seg.dispose();
        const settled = await Promise.allSettled([...waiting, seg.segment(image)]);
        return settled.map((s) => s.status === 'rejected' ? s.reason.code + ': ' + s.reason.message : 'fulfilled');
        }}""")
    assert got["ok"], got
    assert got["value"] == ["disposed: this segmenter was disposed"] * 3


def test_a_failing_worker_rejects_the_calls_waiting_and_every_later_one(probe):
    """The worker's error event (what a crash inside it gives) ends it and rejects what waits on it."""
    got = attempt(probe, """async (m) => {
        const Real = Worker;
        const made = [];
        window.Worker = class extends Real { constructor(...args) { super(...args); made.push(this); } };
        const seg = await m.createSegmenter({backend: 'wasm', worker: true});
        window.Worker = Real;
        const image = await picture('canvas');
        const waiting = seg.segment(image);
        made[0].dispatchEvent(new ErrorEvent('error', {message: 'Uncaught RangeError: boom'}));
        const settled = await Promise.allSettled([waiting, seg.segment(image)]);
        return [made.length, ...settled.map((s) => s.status === 'rejected' ? s.reason.code + ': ' + s.reason.message
                                                                            : 'fulfilled')]; }""")
    assert got["ok"], got
    assert got["value"] == [1] + ["worker: the Web Worker failed: Uncaught RangeError: boom"] * 2


def test_bad_options_and_sources_are_rejected(probe):
    got = attempt(probe, """async (m) => {
        const out = [];
        for (const options of [{threads: -1}, {size: [0, 5]}, {backend: ''}]) {
          out.push(await m.createSegmenter(options).then(() => 'created', (e) => e.code + ': ' + e.message));
        }
        const seg = await m.createSegmenter({backend: 'cpu', worker: false});
        out.push(await seg.segment(new Image()).then(() => 'segmented', (e) => e.code + ': ' + e.message));
        out.push(await seg.segment(null).then(() => 'segmented', (e) => e.code + ': ' + e.message));
        const canvas = document.createElement('canvas');
        canvas.width = 8; canvas.height = 8;
        out.push(await seg.segment(canvas, {size: [4.5, 4]}).then(() => 'segmented', (e) => e.code + ': ' + e.message));
        seg.dispose();
        return out; }""")
    assert got["ok"], got
    threads, size, backend, image, nothing, fraction = got["value"]
    assert threads.startswith("options: options.threads must be 0")
    assert size.startswith("options: options.size must be [height, width]")
    assert backend.startswith("options: options.backend")
    assert image == "source: the image has not loaded (or cannot be decoded)"
    assert nothing.startswith("source: segment() needs an image")
    assert fraction.startswith("options: size must be [height, width]")


def test_the_module_ships_with_the_build(built):
    page_files = {p.relative_to(PAGE).as_posix() for p in PAGE.rglob("*") if p.is_file()}
    assert {"segmenter.js", "app.js", "index.html", "style.css", "lib/worker.js", "lib/engine.js"} <= page_files
    picture_only = set(kind("image").page)   # the picture page and module: builds of image models only
    assert picture_only <= page_files
    for name in page_files:
        assert (built / name).is_file() != (name in picture_only), name
        assert len((PAGE / name).read_text().splitlines()) <= 400, f"{name} is over 400 lines"
    assert '<script type="module" src="app.js">' in (built / "index.html").read_text()
    assert "from './segmenter.js'" in (built / "app.js").read_text()
    assert json.loads((built / "model.json").read_text())["userDefinedMetadata"]["outputs"][0]["kind"] == "labels"

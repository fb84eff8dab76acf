"""The errors segmenter.js rejects with: every code of lib/errors.js is met here in headless
Chromium, in the Web Worker and on the main thread, with its code and hint; a failure that comes from the
caller's input (bad options, a source it cannot read, a picture from another origin without CORS, a
missing or broken model) is the same error in both modes; docs/page.md's table lists every code with the
hint it carries."""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import test_module
import test_page
from test_page import pytestmark, rewrite_metadata, serving  # noqa: F401

from kit import node, url

from patcher.page import BUNDLES, PAGE

playwright, browser = test_page.playwright, test_page.browser  # one Chromium per module
DOCS = Path(__file__).resolve().parent.parent / "docs" / "page.md"
WAIT = 180_000

# code -> a JS body (given the module `m`, the worker flag `worker`, a picture `pic` and the URL `other`
# of the same folder on another origin) whose promise rejects with that code.
TRIGGERS = {
    "options": "m.createSegmenter({threads: -1, worker})",
    "not-found": "m.createSegmenter({model: 'nowhere/model.json', worker})",
    "model": "m.createSegmenter({model: 'noscale/model.json', worker})",
    "shard-missing": "m.createSegmenter({model: 'missing/model.json', worker})",
    "shard-size": "m.createSegmenter({model: 'short/model.json', worker})",
    "tfjs": "m.createSegmenter({assets: 'nobundles/', worker})",
    "backend-unknown": "m.createSegmenter({backend: 'nosuch', worker})",
    "backend": "m.createSegmenter({assets: 'nowasm/', worker})",
    "litert": "m.createSegmenter({model: 'nolitert/model.json', runtime: 'litert', size: [72, 88], worker})",
    "source": "m.createSegmenter({worker}).then(async (seg) => { try { return await seg.segment(new Image()); }"
              " finally { seg.dispose(); } })",
    "disposed": "m.createSegmenter({worker}).then((seg) => { seg.dispose(); return seg.segment(pic); })",
    # the main thread: a runtime failing inside (its pixel reader broken); in the worker: the worker crashing
    "run": "m.createSegmenter({worker, backend: 'cpu'}).then((seg) => { tf.browser.fromPixels = () => {"
           " throw new Error('boom'); }; return seg.segment(pic).finally(() => seg.dispose()); })",
    "worker": "(async () => { const Real = Worker; const made = []; window.Worker = class extends Real {"
              " constructor(...a) { super(...a); made.push(this); } }; const seg = await m.createSegmenter({worker});"
              " window.Worker = Real; const waiting = seg.segment(pic);"
              " made[0].dispatchEvent(new ErrorEvent('error', {message: 'boom'})); return waiting; })()",
}
MAIN_ONLY = {"run"}       # a crash inside the worker is code worker
WORKER_ONLY = {"worker"}
# What only the caller can fix: the same message, code and hint in both modes.
CALLERS = {"options", "not-found", "model", "shard-missing", "shard-size", "tfjs", "backend-unknown", "source",
           "disposed"}


def codes() -> dict:
    """lib/errors.js's CODES, read by Node from the module itself."""
    return node(f"import {{CODES}} from {url(PAGE / 'lib' / 'errors.js')}; console.log(JSON.stringify(CODES));")


def documented() -> dict:
    """docs/page.md's table of error codes: code -> hint."""
    rows = re.findall(r"^\| `([a-z-]+)` \| [^|]+ \| (.+?) \|$", DOCS.read_text().split("### Errors", 1)[1],
                      re.MULTILINE)
    return {code: hint.replace("\\|", "|") for code, hint in rows}


def test_every_code_is_documented_with_its_hint_and_has_a_trigger_here():
    known = codes()
    assert documented() == known
    assert set(TRIGGERS) == set(known)


def test_hints_name_only_files_that_ship_with_the_module() -> None:
    """A hint names files the user has (in the build folder, next to segmenter.js), never a document of
    patcher's that the package lacks: each code's hint, the CORS hint, the size limit's and the detector's."""
    hints = node(f"import {{CODES, CORS_HINT}} from {url(PAGE / 'lib' / 'errors.js')};"
                 f"import {{checkPixels}} from {url(PAGE / 'lib' / 'options.js')};"
                 "let limit; try { checkPixels(4096, 4096, 'size'); } catch (e) { limit = e.hint; }"
                 "console.log(JSON.stringify([...Object.values(CODES), CORS_HINT, limit]));")
    hints += re.findall(r'const hint = "([^"]+)"', (PAGE / "lib" / "faces.js").read_text())
    assert len(hints) == len(codes()) + 3 and all(hints), hints
    shipped = {p.name for p in PAGE.rglob("*") if p.is_file()} | {n for ns in BUNDLES.values() for n in ns}
    shipped |= {"model.json", "litert/", "faces/"}   # the build writes these next to the module
    named = [(hint, name) for hint in hints
             for name in re.findall(r"[\w.-]*\.(?:js|ts|json|md|html|bin|wasm)\b|[\w-]+/(?=\s|$)", hint)]
    assert any(name == "segmenter.d.ts" for _, name in named), named   # the one that names the API's reference
    for hint, name in named:
        assert name in shipped or name in (".bin", ".wasm"), f"{name!r} in {hint!r} is not in the package"


@pytest.fixture(scope="module")
def folder(built, tmp_path_factory):
    root = test_module.make_folder(built, tmp_path_factory.mktemp("errors") / "site")
    (root / "nolitert").mkdir()
    for path in root.glob("*.bin"):
        (root / "nolitert" / path.name).write_bytes(path.read_bytes())
    (root / "nolitert" / "model.json").write_text((root / "model.json").read_text())
    rewrite_metadata(root / "nolitert", litert={
        "folder": "litert", "runtime": "LiteRT.js 2.5.3", "timings": [],
        "models": [{"size": [72, 88], "precision": "float32", "file": "litert/model-72x88-float32.tflite",
                    "accurate": True}]})
    return root


@pytest.fixture(scope="module")
def sites(folder):
    """The folder on a plain host (no cross-origin isolation, so a picture from another origin loads
    without CORS, as on most sites) and on a second origin."""
    with serving(folder, isolate=False) as url, serving(folder, isolate=False) as other:
        yield url, other


@pytest.fixture
def probe(browser, sites):
    with test_page.opened(browser, sites[0] + "probe.html") as tab:
        yield tab


def failure(tab, body: str, worker: bool, other: str) -> dict:
    got = tab.evaluate(f"""attempt(async (m) => {{
        const worker = {'true' if worker else 'false'}, other = {json.dumps(other)};
        const pic = await picture('canvas');
        return {body}; }})""")
    assert got["ok"] is False and "HUNG" not in got["message"], got
    return {key: got[key] for key in ("name", "code", "message", "hint")}


@pytest.fixture(scope="module")
def met(browser, sites):
    """Every trigger's error in both modes: (code, worker) -> {name, code, message, hint}."""
    found = {}
    for code, body in TRIGGERS.items():
        for worker in (True, False):
            if (worker and code in MAIN_ONLY) or (not worker and code in WORKER_ONLY):
                continue
            with test_page.opened(browser, sites[0] + "probe.html") as tab:
                found[code, worker] = failure(tab, body, worker, sites[1])
    return found


@pytest.mark.parametrize("code", sorted(TRIGGERS))
def test_each_code_comes_with_its_hint(code, met):
    hints = codes()
    for worker in (True, False):
        if (code, worker) not in met:
            continue
        got = met[code, worker]
        assert (got["name"], got["code"]) == ("SegmenterError", code), (worker, got)
        assert got["hint"] == hints[code], (worker, got)
        if code in CALLERS:
            assert got == met[code, not worker], "the caller's mistake reads the same in the worker and on the page"


@pytest.mark.parametrize("worker", [True, False])
def test_a_picture_from_another_origin_is_a_source_error_with_a_cors_hint_and_the_next_call_works(worker, probe,
                                                                                                 sites):
    got = probe.evaluate(f"""attempt(async (m) => {{
        const image = new Image();
        image.src = {json.dumps(sites[1] + 'sample.png')};
        await image.decode();
        const tainted = document.createElement('canvas');
        tainted.width = 40; tainted.height = 30;
        tainted.getContext('2d').drawImage(image, 0, 0, 40, 30);
        const seg = await m.createSegmenter({{worker: {'true' if worker else 'false'}, size: [32, 32]}});
        const out = [];
        for (const source of [image, tainted]) {{
          out.push(await seg.segment(source).then(() => 'segmented', (e) => [e.code, e.message, e.hint]));
        }}
        const next = await seg.segment(await picture('canvas'));
        seg.dispose();
        return {{out, next: next.labels.length, worker: seg.info.worker}}; }})""")
    assert got["ok"], got
    value = got["value"]
    assert value["worker"] is worker and value["next"] == test_module.HEIGHT * test_module.WIDTH
    for code, message, hint in value["out"]:
        assert code == "source"
        assert message == "cannot read the source's pixels: it holds a picture from another origin without CORS"
        assert "crossOrigin" in hint and "Access-Control-Allow-Origin" in hint


@pytest.mark.parametrize("worker", [True, False])
def test_a_video_before_play_says_it_has_no_frame_yet(worker: bool, probe: Any) -> None:
    """A video element with nothing loaded, and one given a stream but not played (a video
    before play()): the documented message where there is no frame to read."""
    got = probe.evaluate(f"""attempt(async (m) => {{
        const seg = await m.createSegmenter({{worker: {'true' if worker else 'false'}, size: [32, 32]}});
        const stream = document.createElement('video');
        stream.muted = true;
        stream.srcObject = (await picture('canvas')).captureStream();
        await new Promise((resolve) => {{ stream.onloadedmetadata = resolve; setTimeout(resolve, 3000); }});
        const out = [];
        for (const video of [document.createElement('video'), stream]) {{
          out.push(await seg.segment(video).then(() => 'segmented', (e) => [e.code, e.message]));
        }}
        seg.dispose();
        return {{out, worker: seg.info.worker, state: stream.readyState}}; }})""")
    assert got["ok"], got
    assert got["value"]["worker"] is worker
    empty, stream = got["value"]["out"]
    assert empty[0] == "source" and empty[1].startswith("the video has no frame yet"), got
    # a paused stream: whether Chromium has a frame to draw yet varies (on the main thread it had one here);
    # either it is segmented or the message is the documented one, never "cannot read the source's pixels"
    assert stream == "segmented" or (stream[0] == "source" and stream[1].startswith("the video has no frame yet")), got


def test_a_picture_blocked_by_coep_says_why_and_a_short_shard_is_named(browser, folder):
    """Under `patcher serve` (COEP require-corp) a picture from another origin without CORP or CORS does not
    load: the source error says so. A short shard is named with its expected and actual bytes."""
    with serving(folder) as url, serving(folder) as other:
        tab = browser.new_page()
        tab.goto(url + "probe.html")
        tab.wait_for_function("window.ready === true", timeout=WAIT)
        got = tab.evaluate(f"""attempt(async (m) => {{
            const image = new Image();
            const failed = new Promise((resolve) => {{ image.onerror = resolve; image.onload = resolve; }});
            image.src = {json.dumps(other + 'sample.png')};
            await failed;
            const seg = await m.createSegmenter({{size: [32, 32]}});
            const out = await seg.segment(image).then(() => 'segmented', (e) => [e.code, e.message, e.hint]);
            seg.dispose();
            const short = await m.createSegmenter({{model: 'short/model.json'}}).then(() => 'loaded', (e) => [e.code, e.message]);
            return {{out, short}}; }})""")
        tab.close()
    assert got["ok"], got
    code, message, hint = got["value"]["out"]
    assert code == "source" and "another origin" in message and "Cross-Origin-Embedder-Policy" in message, message
    assert "crossOrigin" in hint
    code, message = got["value"]["short"]
    shard = sorted(p.name for p in (folder / "short").glob("*.bin"))[-1]
    size = (folder / "short" / shard).stat().st_size
    assert code == "shard-size" and f"weight shard {shard} holds {size} bytes; {size + 8} expected" in message, message


def test_wrong_assets_fail_on_the_main_thread_after_tf_loaded_as_in_the_worker(probe):
    got = probe.evaluate("""attempt(async (m) => {
        const first = await m.createSegmenter({worker: false, size: [32, 32]});
        first.dispose();
        const out = [];
        for (const worker of [false, true]) {
          out.push(await m.createSegmenter({worker, assets: 'nobundles/'}).then(() => 'loaded', (e) => [e.code, e.message]));
        }
        return out; })""")
    assert got["ok"], got
    main, worker = got["value"]
    assert main == worker and main[0] == "tfjs" and main[1].endswith("nobundles/tf.min.js"), got["value"]

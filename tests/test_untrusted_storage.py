"""The module never trusts the browser's storage and never hangs (headless Chromium, real IndexedDB).

What `auto` keeps in IndexedDB can be written by anyone (another version of the module, an extension, a
user in devtools): hostile measurements are ignored. A delete of the database elsewhere must not wait on the
module's connection, and a connection of someone else that blocks the database must not hold a segmenter
back. Also refused at once, never run: a size asked for above MAX_PIXELS (a larger source with no size runs
scaled down to it); a weight without a shape is code `model`.
The same cases without a browser, with fake storage: tests/js/measure.test.mjs and web_parts.test.mjs."""
from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import test_module
import test_page
from test_page import WAIT, copy_build, metadata, pytestmark, rewrite_metadata, serving  # noqa: F401

playwright, browser = test_page.playwright, test_page.browser  # the same fixtures, one Chromium per module

HEIGHT, WIDTH = 72, 88
# test_module's probe page (the module as `segmenter`, attempt(body)) with what these tests add
HELPERS = """<script type="module">
import {hashText} from './lib/model.js';
const DB = 'patcher-segmenter';
window.canvas = (width, height) => {
  const canvas = document.createElement('canvas');
  canvas.width = width; canvas.height = height;
  const ctx = canvas.getContext('2d');
  ctx.fillStyle = '#8a6'; ctx.fillRect(0, 0, width, height); ctx.fillStyle = '#246'; ctx.fillRect(0, 0, width / 2, height);
  return canvas;
};
// A connection of the page's own to the module's database (deaf to versionchange).
window.openDb = () => new Promise((resolve, reject) => {
  const request = indexedDB.open(DB, 1);
  request.onupgradeneeded = () => request.result.createObjectStore('auto');
  request.onsuccess = () => resolve(request.result);
  request.onerror = () => reject(request.error);
});
// `value` written where the module keeps its measurement at `size` (threads: 2).
window.keep = async (size, value) => {
  const hash = hashText(await (await fetch('model.json')).text());
  const db = await openDb();
  await new Promise((resolve, reject) => {
    const tx = db.transaction('auto', 'readwrite');
    tx.objectStore('auto').put(value, `${hash}/${size[0]}x${size[1]}/2t/${navigator.userAgent}`);
    tx.oncomplete = resolve;
    tx.onerror = () => reject(tx.error);
  });
  db.close();
};
window.failure = async (body) => {
  try { await body(); return null; } catch (err) { return {name: err.name, code: err.code, message: err.message, hint: err.hint}; }
};
window.helpers = true;
</script>
</body>"""
PROBE = test_module.PROBE.replace("</body>", HELPERS) % {"width": WIDTH, "height": HEIGHT, "attempt": test_module.ATTEMPT}


@pytest.fixture(scope="module")
def folder(built: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The build, its metadata listing a LiteRT.js model at HEIGHT x WIDTH (none is served: measuring finds
    it does not start), so `auto` has two runtimes to measure there and reads and writes IndexedDB."""
    root = copy_build(built, tmp_path_factory.mktemp("storage") / "site")
    rewrite_metadata(root, litert={"folder": "litert", "runtime": "LiteRT.js 0", "models": [
        {"size": [HEIGHT, WIDTH], "precision": "float32", "file": "litert/none.tflite", "accurate": True}]})
    (root / "probe.html").write_text(PROBE)
    (root / "noshape").mkdir()
    content = json.loads((root / "model.json").read_text())
    del content["weightsManifest"][0]["weights"][0]["shape"]
    (root / "noshape" / "model.json").write_text(json.dumps(content))
    return root


@pytest.fixture(scope="module")
def site(folder: Path) -> Iterator[str]:
    with serving(folder) as url:
        yield url


@pytest.fixture
def probe(browser: Any, site: str) -> Iterator[Any]:
    tab = browser.new_page()   # a context of its own: an empty IndexedDB
    tab.goto(site + "probe.html")
    tab.wait_for_function("window.ready === true && window.helpers === true", timeout=WAIT)
    yield tab
    tab.close()


def attempt(tab: Any, body: str) -> Any:
    got = tab.evaluate(f"attempt({body})")
    assert got["ok"], got
    return got["value"]


# What IndexedDB may hold at the size; structured cloning keeps NaN and Infinity as they are.
HOSTILE = {
    "a time that is a string": "({winner: 'float32', ms: {tfjs: 'fast', float32: 3}})",
    "a time that is null": "({winner: 'float32', ms: {tfjs: null, float32: 3}})",
    "a time of -1e308": "({winner: 'float32', ms: {tfjs: 40, float32: -1e308}})",
    "a time of 1e308": "({winner: 'float32', ms: {tfjs: 1e308, float32: 3}})",
    "a time of NaN": "({winner: 'float32', ms: {tfjs: NaN, float32: 3}})",
    "a time of -Infinity": "({winner: 'float32', ms: {tfjs: 40, float32: -Infinity}})",
    "a winner that is no runtime": "({winner: 'onnx', ms: {onnx: 1}})",
    "times that are a list": "({winner: 'tfjs', ms: [1, 2]})",
    "a string": "'tfjs'",
}


def test_hostile_measurements_in_indexeddb_are_ignored_and_measured_again(probe: Any) -> None:
    cases = ", ".join(f"[{json.dumps(name)}, {value}]" for name, value in HOSTILE.items())
    got = attempt(probe, f"""async (s) => {{
      const out = {{}};
      for (const [name, value] of [{cases}, ['sane', {{winner: 'tfjs', ms: {{tfjs: 5, float32: 9}},
                                                        at: '2026-12-01T10:00:00.000Z'}}]]) {{
        await keep([{HEIGHT}, {WIDTH}], value);
        const seg = await s.createSegmenter({{size: [{HEIGHT}, {WIDTH}], threads: 2}});
        const status = seg.info.measure.status;
        const result = await seg.segment(canvas({WIDTH}, {HEIGHT}));
        out[name] = {{status, reason: result.reason, runtime: result.runtime, n: result.labels.length}};
        seg.dispose();
      }}
      return out;
    }}""")
    assert got["sane"]["status"] == "stored", got["sane"]     # the key is the module's: the cases are read
    assert got["sane"]["reason"].startswith("fastest measured on this device at 72x88, kept from 2026-12-01: tfjs wasm")
    for name in HOSTILE:
        case = got[name]
        assert case["status"] == "waiting", (name, case)
        assert case["runtime"] == "tfjs" and case["n"] == HEIGHT * WIDTH, (name, case)
        assert case["reason"].startswith("the build measured no speeds at 72x88"), (name, case)


def test_a_delete_of_the_database_elsewhere_is_not_blocked_and_later_segmenters_start(probe: Any) -> None:
    got = attempt(probe, f"""async (s) => {{
      const seg = await s.createSegmenter({{size: [{HEIGHT}, {WIDTH}], threads: 2}});  // its connection is open
      await seg.segment(canvas({WIDTH}, {HEIGHT}));
      const deleted = await new Promise((resolve) => {{
        const request = indexedDB.deleteDatabase('patcher-segmenter');
        let blocked = false;
        request.onblocked = () => {{ blocked = true; }};
        request.onsuccess = () => resolve({{done: true, blocked}});
        request.onerror = () => resolve({{done: false, error: String(request.error)}});
        setTimeout(() => resolve({{done: false, blocked, pending: true}}), 20000);
      }});
      const other = await s.createSegmenter({{size: [64, 64], threads: 2}});
      const second = await other.segment(canvas({WIDTH}, {HEIGHT}));
      const first = await seg.segment(canvas({WIDTH}, {HEIGHT}), {{size: [48, 48]}});   // a new size: a new read
      seg.dispose();
      other.dispose();
      return {{deleted, second: second.labels.length, first: first.labels.length}};
    }}""")
    assert got["deleted"] == {"done": True, "blocked": False}, got
    assert got["second"] == got["first"] == HEIGHT * WIDTH


def test_a_connection_that_blocks_the_database_holds_no_segmenter_back(probe: Any) -> None:
    got = attempt(probe, f"""async (s) => {{
      const db = await openDb();                                     // never closes on versionchange
      const request = indexedDB.deleteDatabase('patcher-segmenter'); // blocked by it: every open waits behind
      const blocked = await new Promise((resolve) => {{
        request.onblocked = () => resolve(true);
        setTimeout(() => resolve(false), 20000);
      }});
      const seg = await s.createSegmenter({{size: [{HEIGHT}, {WIDTH}], threads: 2}});
      const status = seg.info.measure.status;
      const one = await seg.segment(canvas({WIDTH}, {HEIGHT}));
      const two = await seg.segment(canvas({WIDTH}, {HEIGHT}), {{size: [40, 40]}});
      seg.dispose();
      db.close();
      const deleted = await new Promise((resolve) => {{
        request.onsuccess = () => resolve(true);
        setTimeout(() => resolve(false), 20000);
      }});
      return {{blocked, status, one: one.labels.length, two: two.labels.length, deleted}};
    }}""")
    assert got == {"blocked": True, "status": "waiting", "one": HEIGHT * WIDTH, "two": HEIGHT * WIDTH,
                   "deleted": True}


def test_a_size_above_max_pixels_is_refused_and_a_huge_source_runs_scaled_down(probe: Any) -> None:
    got = attempt(probe, f"""async (s) => {{
      const created = await failure(() => s.createSegmenter({{size: [8000, 8000]}}));
      const seg = await s.createSegmenter({{threads: 2}});
      const call = await failure(() => seg.segment(canvas({WIDTH}, {HEIGHT}), {{size: [4096, 4096]}}));
      let own;
      try {{
        const result = await seg.segment(new OffscreenCanvas(8000, 8000));
        own = {{ok: true, size: result.size, n: result.labels.length}};
      }} catch (err) {{
        own = {{ok: false, code: err.code, message: err.message, hint: err.hint}};
      }}
      const after = await seg.segment(canvas({WIDTH}, {HEIGHT}));
      seg.dispose();
      return {{max: s.MAX_PIXELS, created, call, own, after: after.labels.length}};
    }}""")
    assert got["max"] == 2048 * 2048
    for err, words in ((got["created"], "options.size [8000, 8000] is 64000000 pixels"),
                       (got["call"], "size [4096, 4096] is 16777216 pixels")):
        assert err["name"] == "SegmenterError" and err["code"] == "options", err
        assert err["message"].startswith(f"{words}, above the 4194304"), err
        assert "at most 4194304 pixels (2048 x 2048; MAX_PIXELS)" in err["hint"], err
    own = got["own"]   # no size asked for: run at the model's preferred size (or scaled down), never refused
    assert own["ok"] and own["size"][0] * own["size"][1] <= 2048 * 2048 and own["n"] == 8000 * 8000, own
    assert got["after"] == HEIGHT * WIDTH


@pytest.mark.parametrize("worker", [True, False])
def test_a_weight_without_a_shape_is_code_model(worker: bool, probe: Any) -> None:
    err = attempt(probe, f"""(s) => failure(() => s.createSegmenter({{model: 'noshape/model.json', runtime: 'tfjs',
                                                                        worker: {str(worker).lower()}}}))""")
    assert err["name"] == "SegmenterError" and err["code"] == "model", err
    assert "has no shape (a list of whole numbers >= 0): undefined" in err["message"], err
    assert err["hint"] == "build the model with a current patcher (python -m patcher build)"

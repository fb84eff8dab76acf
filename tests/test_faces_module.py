"""Face mode of segmenter.js in headless Chromium, on the build of the synthetic upstream (random weights) with
the recipe's real face detector (fetched by the build; these tests skip when the build could not fetch it):
faces found on the astronaut's whole picture and each one's square parsed and pasted back exactly as the
whole-frame parse of that square would be; `faces: false` is the whole-frame parse; no face; maxFaces; a
detector file missing; face mode asked of a model without a detector; the documented page as printed."""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import test_page
from test_module import ATTEMPT, WAIT, attempt, refused, snippet
from test_page import copy_build, metadata, pytestmark, rewrite_metadata, serving  # noqa: F401

playwright, browser = test_page.playwright, test_page.browser  # the same fixtures, one Chromium per module

# the astronaut's head in her 512 x 512 picture (the recipe's hand-checked crop: x, y, width, height)
HEAD = (120, 0, 240, 240)

PROBE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>faces</title><link rel="icon" href="data:,"></head><body>
<script type="module">
import * as segmenter from './segmenter.js';
import * as crop from './lib/crop.js';
window.segmenter = segmenter;
window.crop = crop;
const sizes = %(sizes)s;
window.picture = async (name) => {
  const data = new Uint8ClampedArray(await (await fetch(name + '.rgba')).arrayBuffer());
  return new ImageData(data, sizes[name][0], sizes[name][1]);
};
%(attempt)swindow.ready = true;
</script>
</body></html>
"""


def pictures() -> dict[str, np.ndarray]:
    """RGB pictures: the astronaut; two astronauts side by side, the right one half as large; no face."""
    from PIL import Image
    from skimage import data

    astronaut = data.astronaut()
    small = np.asarray(Image.fromarray(astronaut).resize((256, 256), Image.Resampling.BOX))
    two = np.full((512, 768, 3), 255, np.uint8)
    two[:, :512] = astronaut
    two[:256, 512:] = small
    rng = np.random.default_rng(0)
    noface = np.clip(128 + rng.normal(0, 20, (240, 320, 3)), 0, 255).astype(np.uint8)
    return {"astronaut": astronaut, "two": two, "noface": noface}


@pytest.fixture(scope="module")
def folder(built, tmp_path_factory) -> Path:
    if not metadata(built).get("faces", {}).get("detector"):
        pytest.skip("the build could not fetch the face detector (no npm registry): no face mode to test")
    root = copy_build(built, tmp_path_factory.mktemp("faces") / "site", faces=True)
    sizes = {}
    for name, rgb in pictures().items():
        rgba = np.concatenate([rgb, np.full((*rgb.shape[:2], 1), 255, np.uint8)], axis=-1)
        (root / f"{name}.rgba").write_bytes(rgba.tobytes())
        sizes[name] = [rgb.shape[1], rgb.shape[0]]
    (root / "probe.html").write_text(PROBE % {"sizes": json.dumps(sizes), "attempt": ATTEMPT})
    # model.json without its detector's files beside it; and one that names no detector
    (root / "nodetector").mkdir()
    (root / "plain").mkdir()
    for sub in ("nodetector", "plain"):
        shutil.copy2(root / "model.json", root / sub / "model.json")
        for shard in root.glob("*.bin"):
            shutil.copy2(shard, root / sub / shard.name)
    rewrite_metadata(root / "plain", faces=None)
    return root


@pytest.fixture(scope="module")
def site(folder):
    with serving(folder) as url:
        yield url


@pytest.fixture
def probe(browser, site):
    with test_page.opened(browser, site + "probe.html") as tab:
        yield tab


# Face mode on `name`, and the same squares parsed as whole frames and pasted back by lib/crop.js.
FACE_MODE = """async (m) => {
    const seg = await m.createSegmenter({backend: 'wasm', worker: %(worker)s});
    const image = await picture('%(name)s');
    const r = await seg.segment(image, %(options)s);
    const info = seg.info;
    const parts = [];
    for (const face of r.faces) {
      const pixels = crop.cropPixels(image, face.crop, %(size)d);
      const square = new ImageData(pixels.data, pixels.width, pixels.height);
      const whole = await seg.segment(square, {faces: false, size: [%(size)d, %(size)d]});
      parts.push({crop: face.crop, size: %(size)d, labels: whole.labels});
    }
    const pasted = crop.paste(image.width, image.height, parts, {background: 0});
    seg.dispose();
    return {faces: r.faces, labels: Array.from(r.labels), pasted: Array.from(pasted.labels), info,
            times: r.times, width: r.width, height: r.height, size: r.size,
            masks: r.masks ? Object.fromEntries(Object.entries(r.masks).map(([k, v]) => [k, Array.from(v)])) : null};
}"""


def face_mode(probe, name: str, worker: bool = True, options: str = "{}", size: int = 320) -> dict:
    got = attempt(probe, FACE_MODE % {"worker": "true" if worker else "false", "name": name, "options": options,
                                      "size": size})
    assert got["ok"], got
    return got["value"]


@pytest.mark.parametrize("worker", [True, False])
def test_face_mode_finds_the_astronaut_and_pastes_her_squares_parse(probe, worker):
    got = face_mode(probe, "astronaut", worker)
    assert len(got["faces"]) == 1, got["faces"]
    face = got["faces"][0]
    x, y, w, h = face["box"]
    hx, hy, hw, hh = HEAD
    assert hx <= x + w / 2 <= hx + hw and hy <= y + h / 2 <= hy + hh, face["box"]
    assert face["score"] >= 0.5 and face["crop"][2] == face["crop"][3] == round(2.25 * w)
    assert got["size"] == [320, 320] and (got["width"], got["height"]) == (512, 512)
    assert got["labels"] == got["pasted"], "face mode = the square's whole-frame parse, pasted back"
    labels = np.array(got["labels"]).reshape(512, 512)
    cx, cy, side = face["crop"][0], face["crop"][1], face["crop"][2]
    outside = np.ones_like(labels, bool)
    outside[max(0, cy):cy + side, max(0, cx):cx + side] = False
    assert np.all(labels[outside] == 0), "background outside the square"
    info = got["info"]
    assert info["faces"]["detector"] == "@vladmandic/human@3.3.6" and info["faces"]["runtime"] == "tfjs"
    assert info["faces"]["model"].endswith("/faces/blazeface.json") and info["worker"] is worker
    assert set(got["times"]) == {"detectMs", "cropMs", "parseMs", "pasteMs"}


def test_faces_false_is_the_whole_frame_parse_exactly(probe):
    """faces: false (at createSegmenter or per call) gives what a model.json without a detector gives."""
    got = attempt(probe, """async (m) => {
        const image = await picture('astronaut');
        const off = await m.createSegmenter({backend: 'wasm', faces: false});
        const a = await off.segment(image, {size: [64, 64], masks: ['hair']});
        const on = await m.createSegmenter({backend: 'wasm'});
        const b = await on.segment(image, {size: [64, 64], masks: ['hair'], faces: false});
        const info = on.info;
        const plain = await m.createSegmenter({model: 'plain/model.json', backend: 'wasm'});
        const c = await plain.segment(image, {size: [64, 64], masks: ['hair']});
        off.dispose(); on.dispose(); plain.dispose();
        const flat = (r) => [Array.from(r.labels), Array.from(r.masks.hair)];
        return {a: flat(a), b: flat(b), c: flat(c), faces: [a.faces, b.faces, c.faces], info}; }""")
    assert got["ok"], got
    value = got["value"]
    assert value["a"] == value["b"] == value["c"] and len(value["a"][0]) == 512 * 512
    assert value["faces"] == [None, None, None] and "faces" not in value["info"]
    assert len(set(value["a"][0])) > 1, "a parse, not a constant map"


def test_no_face_is_no_faces_and_all_background(probe):
    got = face_mode(probe, "noface", options="{masks: ['background', 'hair']}")
    assert got["faces"] == [] and set(got["labels"]) == {0}
    assert set(got["masks"]["background"]) == {1} and set(got["masks"]["hair"]) == {0}


def test_max_faces_keeps_the_largest(probe):
    both = face_mode(probe, "two")
    assert len(both["faces"]) == 2 and both["labels"] == both["pasted"]
    one = face_mode(probe, "two", options="{faces: {maxFaces: 1}}")
    assert len(one["faces"]) == 1
    largest = max(both["faces"], key=lambda f: f["box"][2] * f["box"][3])
    assert one["faces"][0]["box"] == pytest.approx(largest["box"]) and one["faces"][0]["box"][0] < 512


def test_a_missing_detector_file_is_an_error_with_a_hint_and_whole_frames_still_work(probe):
    got = attempt(probe, """async (m) => {
        const seg = await m.createSegmenter({model: 'nodetector/model.json', backend: 'wasm'});
        const image = await picture('astronaut');
        let error = null;
        try { await seg.segment(image); } catch (err) { error = {code: err.code, message: err.message, hint: err.hint}; }
        const whole = await seg.segment(image, {faces: false, size: [64, 64]});
        seg.dispose();
        return {error, whole: whole.labels.length}; }""")
    assert got["ok"], got
    error = got["value"]["error"]
    assert error["code"] == "not-found" and "blazeface.json" in error["message"] and "faces" in error["hint"]
    assert got["value"]["whole"] == 512 * 512


def test_face_mode_asked_of_a_model_without_a_detector_is_refused(probe):
    got = attempt(probe, "async (m) => m.createSegmenter({model: 'plain/model.json', faces: true})")
    refused(got, "options", ["face detector"])
    got = attempt(probe, "async (m) => m.createSegmenter({faces: {margin: 'wide'}})")
    refused(got, "options", ["faces.margin"])


def test_the_documented_page_as_printed_parses_in_face_mode(browser, site, folder):
    code = snippet()
    assert "faces" in code
    (folder / "documented.html").write_text(code)
    shutil.copy2(folder / metadata(folder)["sample"], folder / "sample-kept.png")
    tab = browser.new_page()
    errors, logged = [], []
    tab.on("pageerror", lambda err: errors.append(str(err)))
    tab.on("console", lambda msg: logged.append(msg.text) if msg.type == "log" else None)
    tab.goto(site + "documented.html")
    tab.wait_for_function("() => { const c = document.getElementById('view'); return c.width !== 300 || c.height !== 150; }",
                          timeout=WAIT)
    for _ in range(100):
        if logged:
            break
        tab.wait_for_timeout(100)
    drawn = tab.evaluate("""() => { const c = document.getElementById('view');
        return {w: c.width, h: c.height, data: Array.from(c.getContext('2d').getImageData(0, 0, c.width, c.height).data)}; }""")
    tab.close()
    assert errors == [] and len(logged) == 1, (errors, logged)
    found = re.search(r", (\d+) face\(s\);", logged[0])
    assert found and int(found[1]) >= 1, logged
    # the snippet frames each face in yellow: yellow pixels in rows and columns of the picture
    pixels = np.array(drawn["data"]).reshape(drawn["h"], drawn["w"], 4)
    yellow = np.all(pixels[..., :3] == (255, 255, 0), axis=-1)
    rows, cols = np.nonzero(yellow)
    assert yellow.sum() > 100 and np.ptp(rows) > 20 and np.ptp(cols) > 20, yellow.sum()


def test_fill_frame_keeps_the_whole_frames_parse_outside_the_squares_and_video_holds_the_square(probe):
    got = attempt(probe, """async (m) => {
        const image = await picture('astronaut');
        const seg = await m.createSegmenter({backend: 'wasm'});
        const framed = await seg.segment(image, {size: [64, 64], faces: {fill: 'frame'}});
        const whole = await seg.segment(image, {size: [64, 64], faces: false});
        seg.dispose();
        const video = await m.createSegmenter({backend: 'wasm', smoothing: true});
        const first = await video.segment(image, {masks: ['background']});
        const second = await video.segment(image, {masks: ['background']});
        video.dispose();
        return {framed: Array.from(framed.labels), whole: Array.from(whole.labels), crop: framed.faces[0].crop,
                crops: [first.faces.map((f) => f.crop), second.faces.map((f) => f.crop)],
                masks: [first.masks.background.length, second.masks.background.length]}; }""")
    assert got["ok"], got
    value = got["value"]
    framed = np.array(value["framed"]).reshape(512, 512)
    whole = np.array(value["whole"]).reshape(512, 512)
    x, y, side, _ = value["crop"]
    outside = np.ones_like(framed, bool)
    outside[max(0, y):y + side, max(0, x):x + side] = False
    assert outside.any() and np.array_equal(framed[outside], whole[outside])
    first, second = value["crops"]
    assert len(first) == 1 and first == second, "the same picture twice: the steadied square holds still"
    assert value["masks"] == [512 * 512, 512 * 512]

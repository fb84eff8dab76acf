"""Soft masks, video smoothing, effects and long sessions through segmenter.js in headless Chromium,
on the face model of the synthetic upstream with random weights (the tests hold for a trained model too:
nothing assumes what the classes look like). LiteRT.js's masks: tests/test_litert.py."""
from __future__ import annotations

import base64

import numpy as np
import pytest
import test_page
from test_page import at_source_size, copy_build, metadata, opened, pytestmark, serving, tf_outputs  # noqa: F401

from kit import bilinear, oklab

from patcher.check import picture_pixels

playwright, browser = test_page.playwright, test_page.browser
H, W = 72, 88
WAIT = 180_000
# 1e-4: the bound `patcher check` holds tfjs's probabilities to
PROBABILITY_BOUND = 1e-4

PROBE = """<!doctype html><html><head><meta charset="utf-8"><link rel="icon" href="data:,"></head><body>
<script type="module">
import * as m from './segmenter.js';
window.m = m;
window.b64 = (bytes) => { let s = ''; const u = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < u.length; i += 8192) s += String.fromCharCode(...u.subarray(i, i + 8192)); return btoa(s); };
window.image = (data, w, h) => new ImageData(Uint8ClampedArray.from(atob(data), (c) => c.charCodeAt(0)), w, h);
window.canvasOf = (img) => { const c = document.createElement('canvas'); c.width = img.width; c.height = img.height;
  c.getContext('2d').putImageData(img, 0, 0); return c; };
window.ready = true;
</script></body></html>"""


def rgba(pixels: np.ndarray) -> str:
    full = np.concatenate([pixels, np.full((*pixels.shape[:2], 1), 255, np.uint8)], axis=-1)
    return base64.b64encode(full.astype(np.uint8).tobytes()).decode()


def floats(text: str, shape) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), dtype=np.float32).reshape(shape)


@pytest.fixture(scope="module")
def site(built, tmp_path_factory):
    root = at_source_size(copy_build(built, tmp_path_factory.mktemp("masks") / "site"))
    (root / "probe.html").write_text(PROBE)
    with serving(root) as url:
        yield url


@pytest.fixture
def tab(browser, site):
    with opened(browser, site + "probe.html") as page:
        yield page


@pytest.mark.parametrize("worker", [True, False])
def test_masks_are_tensorflows_probabilities_and_their_argmax_is_the_labels(worker, tab, built):
    pixels = picture_pixels(H, W)
    want_labels, want = tf_outputs(built, pixels)
    classes = metadata(built)["classes"]
    got = tab.evaluate("""async ([data, w, h, worker]) => {
        const seg = await m.createSegmenter({worker});
        const img = image(data, w, h);
        const plain = await seg.segment(img);
        const r = await seg.segment(img, {masks: 'all'});
        const two = await seg.segment(img, {masks: [seg.classes[1], seg.classes[0]]});
        seg.dispose();
        return {plain: Array.from(plain.labels), hasMasks: 'masks' in plain, labels: Array.from(r.labels),
                masks: Object.fromEntries(Object.entries(r.masks).map(([k, v]) => [k, b64(v)])),
                two: Object.keys(two.masks), twoSame: b64(two.masks[seg.classes[1]]) === b64(r.masks[seg.classes[1]])};
    }""", [rgba(pixels), W, H, worker])
    assert not got["hasMasks"] and sorted(got["masks"]) == sorted(classes)
    masks = np.stack([floats(got["masks"][c], (H, W)) for c in classes], axis=-1)
    diff = float(np.max(np.abs(masks - want)))
    print(f"tfjs wasm, worker={worker}: masks within {diff:.2e} of TensorFlow's probabilities")
    assert diff < PROBABILITY_BOUND
    assert np.allclose(masks.sum(-1), 1, atol=1e-5)
    labels = np.array(got["labels"]).reshape(H, W)
    assert np.array_equal(labels, masks.argmax(-1))
    assert np.mean(labels == want_labels) >= 0.999
    assert np.array_equal(np.array(got["plain"]).reshape(H, W), labels)  # a map the same as without masks
    assert got["two"] == [classes[1], classes[0]] and got["twoSame"]


def test_masks_at_another_model_size_are_tensorflows_resized_and_bad_names_are_refused(tab, built):
    """At model size [36, 44] the masks of a 72 x 88 picture are TensorFlow's probabilities at 36 x 44
    resized bilinearly to 72 x 88. The picture is made of 2 x 2 blocks, so that the browser's downscaling to
    the model size (drawImage) gives exactly the 36 x 44 picture TensorFlow is given."""
    small = picture_pixels(H // 2, W // 2)
    pixels = small.repeat(2, axis=0).repeat(2, axis=1)
    _, at_size = tf_outputs(built, small)
    want = bilinear(at_size.astype(np.float64), H, W)
    got = tab.evaluate("""async ([data, w, h]) => {
        const seg = await m.createSegmenter({size: [36, 44]});
        const r = await seg.segment(canvasOf(image(data, w, h)), {masks: 'all'});
        const bad = await seg.segment(canvasOf(image(data, w, h)), {masks: ['no-such']}).then(() => 'ok',
                                                                                        (e) => e.code + ': ' + e.message);
        seg.dispose();
        return {labels: Array.from(r.labels), size: r.size, masks: seg.classes.map((c) => b64(r.masks[c])), bad};
    }""", [rgba(pixels), W, H])
    masks = np.stack([floats(t, (H, W)) for t in got["masks"]], axis=-1)
    assert got["size"] == [36, 44] and np.allclose(masks.sum(-1), 1, atol=1e-5)
    diff = float(np.max(np.abs(masks - want)))
    assert diff < PROBABILITY_BOUND, f"masks {diff:.2e} from TensorFlow's probabilities resized"
    assert np.array_equal(np.array(got["labels"]).reshape(H, W), masks.argmax(-1))
    assert got["bad"].startswith('options: masks: this model has no class "no-such"')


# --- video: a still face with camera-like noise, then a cut -------------------------------------------

STILL, AFTER = 10, 4  # frames of the still picture, then of the other one
NOISE = 6.0  # camera-like noise: Gaussian, sigma in 8-bit levels, per channel and frame


def clip(seed: int = 0) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    first = picture_pixels(H, W).astype(np.float32)
    second = np.roll(255 - first[::-1], W // 3, axis=1)
    frames = [np.clip(p + rng.normal(0, NOISE, p.shape), 0, 255).astype(np.uint8)
              for p in [first] * STILL + [second] * AFTER]
    return frames, first.astype(np.uint8), second.astype(np.uint8)


RUN_CLIP = """async ([frames, clean, w, h, smoothing, worker]) => {
    const seg = await m.createSegmenter({worker, smoothing});
    const maps = [];
    for (const f of frames) maps.push(Array.from((await seg.segment(image(f, w, h))).labels));
    const still = Array.from((await seg.segment(image(clean, w, h), {smoothing: false})).labels);
    seg.dispose();
    return {maps, clean: still};
}"""


def flicker(maps: list[np.ndarray]) -> float:
    """The share of pixels that change class between consecutive frames of the still picture."""
    return float(np.mean([np.mean(maps[t] != maps[t - 1]) for t in range(1, STILL)]))


def test_smoothing_halves_the_flicker_of_a_still_face_and_follows_a_cut_within_two_frames(tab):
    frames, _, second = clip()
    args = [[rgba(f) for f in frames], rgba(second), W, H]
    raw = tab.evaluate(RUN_CLIP, [*args, False, True])
    smooth = tab.evaluate(RUN_CLIP, [*args, True, True])
    raw_maps = [np.array(m) for m in raw["maps"]]
    smooth_maps = [np.array(m) for m in smooth["maps"]]
    new = np.array(raw["clean"])  # the class map of the new picture, without noise
    follow = [(float(np.mean(raw_maps[STILL + k] == new)), float(np.mean(smooth_maps[STILL + k] == new)))
              for k in range(AFTER)]
    print(f"still {STILL} frames (noise sigma {NOISE}): flicker {flicker(raw_maps):.2%} raw, "
          f"{flicker(smooth_maps):.2%} smoothed; after the cut, agreement with the new picture's map per frame "
          f"(raw / smoothed): " + ", ".join(f"{r:.1%} / {s:.1%}" for r, s in follow))
    assert flicker(raw_maps) > 0.01  # the noise does make the raw map flicker
    assert flicker(smooth_maps) <= flicker(raw_maps) / 2
    # within two frames of the cut the smoothed map is as close to the new picture's as the raw one
    assert follow[1][1] >= follow[1][0] - 0.01


# --- effects ---------------------------------------------------------------------------------------------

def test_effects_on_a_real_result(tab, built):
    classes = metadata(built)["classes"]
    hair = "hair" if "hair" in classes else classes[1]
    pixels = picture_pixels(H, W)
    got = tab.evaluate("""async ([data, w, h, hair]) => {
        const seg = await m.createSegmenter();
        const source = canvasOf(image(data, w, h));
        const r = await seg.segment(source, {masks: 'all'});
        const all = m.recolor(source, r, {classes: seg.classes, color: '#2060e0'});
        const dyed = m.recolor(source, r, {classes: [hair], color: '#2060e0', strength: 1});
        const keep = seg.classes.filter((c, i) => !seg.transparent.includes(i));
        const green = m.replaceBackground(source, r, {keep, color: [0, 255, 0]});
        const blurred = m.replaceBackground(source, r, {keep, blur: 6});
        const layer = m.overlay(source, seg.colorize(r.labels, w, h, {alpha: 0.5}));
        // the same result made certain: the most frequent class's mask 1 where it is the label, else 0
        const counts = seg.classes.map((c, i) => r.labels.filter((l) => l === i).length);
        const top = counts.indexOf(Math.max(...counts));
        const certain = {...r, masks: {[seg.classes[top]]: Float32Array.from(r.labels, (l) => (l === top ? 1 : 0))}};
        const sure = m.recolor(source, certain, {classes: [seg.classes[top]], color: '#2060e0', strength: 1});
        seg.dispose();
        return {labels: Array.from(r.labels), masks: seg.classes.map((c) => b64(r.masks[c])), keep, top,
                all: b64(all.data), dyed: b64(dyed.data), green: b64(green.data), blurred: b64(blurred.data),
                layer: b64(layer.data), sure: b64(sure.data),
                kinds: [all, dyed, green, layer].map((x) => x.constructor.name)};
    }""", [rgba(pixels), W, H, hair])
    assert got["kinds"] == ["ImageData"] * 4
    image = lambda key: np.frombuffer(base64.b64decode(got[key]), np.uint8).reshape(H, W, 4)  # noqa: E731
    masks = {c: floats(t, (H, W)) for c, t in zip(classes, got["masks"], strict=True)}
    src = oklab(pixels.astype(float))
    target = oklab(np.array([0x20, 0x60, 0xe0], float))
    hue = lambda lab: np.degrees(np.arctan2(lab[..., 2], lab[..., 1]))  # noqa: E731
    # every class recoloured: every pixel takes the new hue (where it has colour enough to have one), keeps lightness
    out = oklab(image("all")[..., :3].astype(float))
    coloured = np.hypot(out[..., 1], out[..., 2]) > 0.03
    assert coloured.mean() > 0.5
    assert np.max(np.abs(((hue(out) - hue(target) + 180) % 360 - 180)[coloured])) < 4
    assert np.max(np.abs(out[..., 0] - src[..., 0])) < 0.02
    # hair only: each pixel moved toward the new colour by its hair probability (soft, graded edges) ...
    dyed = oklab(image("dyed")[..., :3].astype(float))
    w = masks[hair]
    expect = src[..., 1:] + (target[1:] - src[..., 1:]) * w[..., None]
    assert np.percentile(np.linalg.norm(dyed[..., 1:] - expect, axis=-1), 99) < 0.01
    assert np.any((w > 0.01) & (w < 0.99)) and len(np.unique(w)) > 100  # graded, not 0/1
    # ... so a pixel surely of the class takes the new hue, a pixel surely not stays as it was: shown on the
    # result made certain (a model of random weights is sure of nothing; a trained one is, inside a face part)
    certain = np.array(got["labels"]).reshape(H, W) == got["top"]
    assert 0.05 < certain.mean() < 0.95, certain.mean()
    sure = oklab(image("sure")[..., :3].astype(float))
    chroma = np.hypot(sure[..., 1], sure[..., 2]) > 0.03
    assert (certain & chroma).sum() > certain.sum() / 2
    assert np.max(np.abs(((hue(sure) - hue(target) + 180) % 360 - 180)[certain & chroma])) < 4
    assert np.array_equal(image("sure")[~certain], np.dstack([pixels, np.full((H, W), 255)])[~certain])
    # background replaced by green in proportion to the background's probability
    alpha = np.clip(sum(masks[c] for c in got["keep"]), 0, 1)[..., None]
    green = image("green")[..., :3].astype(float)
    assert np.max(np.abs(green - (pixels * alpha + np.array([0, 255, 0]) * (1 - alpha)))) <= 1
    assert image("blurred")[..., 3].min() == 255
    layer = image("layer")[..., :3].astype(float)
    assert np.any(np.abs(layer - pixels) > 10) and np.all(image("layer")[..., 3] == 255)


# --- long sessions -----------------------------------------------------------------------------------

LEAK = """async ([data, w, h, worker, frames]) => {
    const seg = await m.createSegmenter({worker, smoothing: true});
    const img = image(data, w, h);
    const seen = [];
    for (let i = 0; i < frames; i++) {
      await seg.segment(img, {masks: ['hair' in seg.classes ? 'hair' : seg.classes[1]]});
      if (i % 10 === 9) seen.push(await seg.memory());
    }
    seg.dispose();
    return seen;
}"""


@pytest.mark.parametrize("worker", [True, False])
def test_a_session_with_masks_and_smoothing_keeps_tfjs_tensors_constant(worker, tab):
    seen = tab.evaluate(LEAK, [rgba(picture_pixels(H, W)), W, H, worker, 60])
    tensors = [s["tensors"] for s in seen]
    assert tensors[0] is not None and len(set(tensors)) == 1, tensors

"""The pure parts of the web module's masks, smoothing and effects, run in Node on the modules
themselves (patcher/web/lib/masks.js, smoothing.js, effects.js): numbers in, numbers out, checked with numpy."""
from __future__ import annotations

import numpy as np
import pytest

from kit import PROJECT, bilinear, needs_node, oklab, url
from kit import node as run_node

WEB = PROJECT / "patcher" / "web" / "lib"

pytestmark = needs_node


def node(body: str, data: object = None) -> dict:
    """Run `body` (an async function body given `m` = {masks, smoothing, effects} and `data`) in Node:
    {ok: its return value} (typed arrays as lists) or {error: the thrown code, name, message}."""
    script = f"""
const m = {{masks: await import({url(WEB / 'masks.js')}), smoothing: await import({url(WEB / 'smoothing.js')}),
           effects: await import({url(WEB / 'effects.js')})}};
const chunks = [];
for await (const c of process.stdin) chunks.push(c);
const data = JSON.parse(Buffer.concat(chunks).toString());
const plain = (k, v) => (ArrayBuffer.isView(v) ? Array.from(v) : v);
const run = async () => {{ {body} }};
try {{ console.log(JSON.stringify({{ok: await run()}}, plain)); }}
catch (err) {{ console.log(JSON.stringify({{error: err.code || 'thrown', name: err.name, message: err.message}})); }}
"""
    return run_node(script, data=data)


def softmax(x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


# --- masks -----------------------------------------------------------------------------------------

def test_softmax_sums_to_one_and_its_argmax_is_the_labels():
    rng = np.random.default_rng(1)
    logits = (rng.normal(0, 4, (5, 7, 6))).astype(np.float32)
    got = node("""const p = m.masks.softmax(Float32Array.from(data.logits), 6);
                  const names = ['a', 'b', 'c', 'd', 'e', 'f'];
                  return {p, same: m.masks.toMasks(p, 5, 7, 6, 5, 7, m.masks.classIndices(['c', 'a'], names), names)};""",
               {"logits": logits.ravel().tolist()})["ok"]
    want = softmax(logits.astype(np.float64))
    p = np.array(got["p"]).reshape(5, 7, 6)
    assert np.max(np.abs(p - want)) < 1e-6 and np.allclose(p.sum(-1), 1, atol=1e-6)
    assert np.array_equal(np.array(got["same"]["labels"]).reshape(5, 7), logits.argmax(-1))
    assert sorted(got["same"]["masks"]) == ["a", "c"]
    assert np.allclose(np.array(got["same"]["masks"]["c"]).reshape(5, 7), want[..., 2], atol=1e-6)


def test_masks_at_another_size_are_bilinear_sum_to_one_and_give_the_labels():
    rng = np.random.default_rng(2)
    probs = softmax(rng.normal(0, 3, (4, 6, 5))).astype(np.float32)
    got = node("""const names = ['a', 'b', 'c', 'd', 'e'];
                  return m.masks.toMasks(Float32Array.from(data.p), 4, 6, 5, 9, 13, m.masks.classIndices('all', names), names);""",
               {"p": probs.ravel().tolist()})["ok"]
    masks = np.stack([np.array(got["masks"][n]).reshape(9, 13) for n in "abcde"], axis=-1)
    want = bilinear(probs.astype(np.float64), 9, 13)
    assert np.max(np.abs(masks - want)) < 1e-5
    assert np.allclose(masks.sum(-1), 1, atol=1e-5) and masks.min() >= 0 and masks.max() <= 1
    assert np.array_equal(np.array(got["labels"]).reshape(9, 13), masks.argmax(-1))


@pytest.mark.parametrize(("wanted", "words"), [(["hair", "nose"], 'no class "nose"'), ("hair", "'all' or a list"),
                                               ([], "'all' or a list")])
def test_asking_for_a_class_the_model_lacks_is_an_options_error(wanted, words):
    got = node("return m.masks.classIndices(data.wanted, ['background', 'hair', 'skin']);", {"wanted": wanted})
    assert got["error"] == "options" and got["name"] == "SegmenterError" and words in got["message"], got


# --- smoothing -------------------------------------------------------------------------------------

def clip_frames(rng, frames=12, cut=8, h=24, w=24, classes=4):
    """Probabilities and pixels of a still picture with noise, then a cut to another: near-tied classes
    (as a random network gives), camera-like pixel noise (sigma 4) that moves the probabilities a little."""
    first, second = rng.normal(0, 0.3, (h, w, classes)), rng.normal(0, 0.3, (h, w, classes))
    picture = [rng.integers(40, 200, (h, w, 3)), rng.integers(40, 200, (h, w, 3))]
    out = []
    for t in range(frames):
        k = int(t >= cut)
        noise = rng.normal(0, 4, (h, w, 3))
        logits = (second if k else first) + 0.04 * noise.mean(-1, keepdims=True) * rng.normal(1, 1, (h, w, classes))
        rgba = np.concatenate([np.clip(picture[k] + noise, 0, 255), np.full((h, w, 1), 255)], axis=-1)
        out.append({"probs": softmax(logits).ravel().tolist(), "rgba": rgba.astype(np.uint8).ravel().tolist(),
                    "clean": (second if k else first).argmax(-1).ravel().tolist()})
    return out


def test_smoothing_halves_the_flicker_of_a_still_picture_and_follows_a_cut_at_once():
    rng = np.random.default_rng(3)
    frames = clip_frames(rng)
    got = node("""const s = new m.smoothing.Smoother(m.smoothing.smoothingOptions(true));
                  return data.map((f) => m.masks.argmax(
                    s.step(Float32Array.from(f.probs), Uint8ClampedArray.from(f.rgba), 24, 24, 4), 4));""",
               frames)["ok"]
    raw = [np.argmax(np.array(f["probs"]).reshape(-1, 4), -1) for f in frames]
    smooth = [np.array(g) for g in got]
    flips = lambda maps: np.mean([np.mean(maps[t] != maps[t - 1]) for t in range(1, 8)])  # noqa: E731
    assert flips(raw) > 0.05  # the noise does make the raw map flicker
    assert flips(smooth) <= flips(raw) / 2, (flips(smooth), flips(raw))
    # within two frames of the cut, as close to the new picture's (noise-free) map as the raw map is
    clean = np.array(frames[9]["clean"])
    assert np.mean(smooth[9] == clean) >= np.mean(raw[9] == clean) - 0.01


def test_without_pixels_a_confident_change_of_class_still_takes_over():
    got = node("""const s = new m.smoothing.Smoother(m.smoothing.smoothingOptions({history: 0.9}));
                  s.step(Float32Array.of(0.9, 0.1, 0.5, 0.5), null, 1, 2, 2);
                  return s.step(Float32Array.of(0.1, 0.9, 0.45, 0.55), null, 1, 2, 2);""")["ok"]
    assert got[1] == pytest.approx(0.9, abs=1e-6)  # a change of 0.8: the new frame at once
    assert got[3] == pytest.approx(0.9 * 0.5 + 0.1 * 0.55, abs=1e-6)  # a change of 0.05: history kept


@pytest.mark.parametrize(("given", "words"), [({"history": 1}, "below 1"), ({"speed": 2}, 'no setting "speed"'),
                                              ("yes", "must be true, false"), ({"pixelLow": 50}, "High must exceed")])
def test_bad_smoothing_settings_are_options_errors(given, words):
    got = node("return m.smoothing.smoothingOptions(data);", given)
    assert got["error"] == "options" and words in got["message"], got


# --- effects -----------------------------------------------------------------------------------------

def stripes(h=16, w=40):
    """A brown, textured picture and a result whose 'hair' mask is 1 on the left, 0 on the right and
    graded over the middle 8 columns, 'skin' the rest."""
    rng = np.random.default_rng(4)
    base = np.array([110, 70, 40]) * rng.uniform(0.6, 1.4, (h, w, 1))
    rgba = np.concatenate([np.clip(base, 0, 255), np.full((h, w, 1), 255)], -1).astype(np.uint8)
    hair = np.clip((28 - np.arange(w)) / 8, 0, 1)[None].repeat(h, 0)
    return rgba, {"width": w, "height": h, "masks": {"hair": hair.ravel().tolist(), "skin": (1 - hair).ravel().tolist()}}


RESULT = """const r = {...data.result, masks: Object.fromEntries(Object.entries(data.result.masks)
                                               .map(([k, v]) => [k, Float32Array.from(v)]))};
const src = {data: Uint8ClampedArray.from(data.rgba), width: r.width, height: r.height};"""


def test_recolor_gives_hair_the_new_hue_keeps_lightness_and_leaves_the_rest_alone():
    rgba, result = stripes()
    got = node(RESULT + "return m.effects.recolor(src, r, {classes: ['hair'], color: '#c02040'});",
               {"rgba": rgba.ravel().tolist(), "result": result})["ok"]
    out = np.array(got["data"]).reshape(rgba.shape)
    before, after = oklab(rgba[..., :3].astype(float)), oklab(out[..., :3].astype(float))
    target = oklab(np.array([0xc0, 0x20, 0x40], float))
    hue = lambda lab: np.degrees(np.arctan2(lab[..., 2], lab[..., 1]))  # noqa: E731
    hair = slice(0, 20)
    assert np.max(np.abs(hue(after[:, hair]) - hue(target))) < 3  # the new hue
    assert np.max(np.abs(after[:, hair, 0] - before[:, hair, 0])) < 0.01  # lightness (and its texture) kept
    assert np.array_equal(out[:, 28:], rgba[:, 28:])  # no hair: untouched
    # graded edge: the shift of the colour grows steadily with the mask across the middle columns
    shift = np.linalg.norm(after[..., 1:] - before[..., 1:], axis=-1).mean(0)
    assert np.all(np.diff(shift[20:29]) < 0) and 0 < shift[24] < shift[20]


def test_replace_background_with_a_colour_a_blur_and_the_alpha_mask_feathered():
    rgba, result = stripes()
    got = node(RESULT + """return {color: m.effects.replaceBackground(src, r, {keep: ['hair'], color: [0, 255, 0]}),
                                  blur: m.effects.replaceBackground(src, r, {keep: ['hair'], blur: 4}),
                                  alpha: m.effects.alphaMask(r, ['hair']), feathered: m.effects.alphaMask(r, 'hair', {feather: 3})}""",
               {"rgba": rgba.ravel().tolist(), "result": result})["ok"]
    color = np.array(got["color"]["data"]).reshape(rgba.shape)
    assert np.array_equal(color[:, :20], rgba[:, :20]) and np.all(color[:, 28:, :3] == [0, 255, 0])
    blur = np.array(got["blur"]["data"]).reshape(rgba.shape).astype(float)
    assert np.array_equal(blur[:, :20], rgba[:, :20])
    assert blur[:, 30:, 0].std() < rgba[:, 30:, 0].std() / 2  # the background's texture blurred away
    alpha = np.array(got["alpha"]["data"]).reshape(rgba.shape)[..., 3]
    feathered = np.array(got["feathered"]["data"]).reshape(rgba.shape)[..., 3]
    assert alpha[0, 0] == 255 and alpha[0, -1] == 0 and alpha[0, 24] == 128
    assert feathered[0, 0] == 255 and 0 < feathered[0, 18] < 255 and np.all(np.diff(feathered[0].astype(int)) <= 0)


def test_overlay_lays_the_layer_over_the_picture_and_bad_options_say_what_is_wrong():
    got = node("""const src = {data: Uint8ClampedArray.of(100, 100, 100, 255, 100, 100, 100, 255), width: 2, height: 1};
                  const layer = {data: Uint8ClampedArray.of(255, 0, 0, 0, 255, 0, 0, 128), width: 2, height: 1};
                  const r = {width: 2, height: 1, masks: {hair: Float32Array.of(1, 0)}};
                  const tryIt = (f) => { try { f(); return 'ok'; } catch (e) { return e.code + ': ' + e.message; } };
                  return {over: m.effects.overlay(src, layer).data,
                          errors: [tryIt(() => m.effects.recolor(src, r, {classes: ['lips'], color: '#ff0000'})),
                                   tryIt(() => m.effects.recolor(src, r, {classes: ['hair'], color: 'red'})),
                                   tryIt(() => m.effects.replaceBackground(src, r, {blur: 3, color: [0, 0, 0]}))]};""")["ok"]
    assert got["over"] == [100, 100, 100, 255, 178, 50, 50, 255]
    lips, red, two = got["errors"]
    assert lips.startswith('options: the result has no mask of "lips"') and "masks: ['lips']" in lips
    assert red.startswith("options: color must be")
    assert two == "options: replaceBackground needs one of blur (a radius in pixels), image or color"


def test_oklab_round_trips_every_grey_and_a_spread_of_colours():
    got = node("""const out = [];
                  for (let r = 0; r < 256; r += 15) for (let g = 0; g < 256; g += 17) for (let b = 0; b < 256; b += 51) {
                    const back = m.effects.fromOklab(...m.effects.toOklab(r, g, b));
                    if (back[0] !== r || back[1] !== g || back[2] !== b) out.push([r, g, b, ...back]);
                  }
                  for (let v = 0; v < 256; v++) { const [L, a, b] = m.effects.toOklab(v, v, v);
                    if (Math.abs(a) > 1e-4 || Math.abs(b) > 1e-4) out.push([v, a, b]); }
                  return out;""")["ok"]
    assert got == []


def test_the_scores_of_a_model_json_are_the_argmax_input_or_its_probabilities_output():
    topology = {"node": [{"name": "x", "op": "Placeholder"}, {"name": "logits", "op": "Conv2D", "input": ["x"]},
                         {"name": "soft", "op": "Softmax", "input": ["logits"]},
                         {"name": "ids", "op": "ArgMax", "input": ["logits:0", "axis"]},
                         {"name": "final_output", "op": "Squeeze", "input": ["ids"]}]}
    got = node("""const spec = {output: 'final_output'};
                  return [m.masks.scoresNode({modelTopology: data, userDefinedMetadata: {outputs: []}}, spec),
                          m.masks.scoresNode({modelTopology: data, userDefinedMetadata: {outputs: [
                            {kind: 'probabilities', name: 'soft'}]}}, spec),
                          m.masks.scoresNode({modelTopology: data}, {output: 'x'})];""", topology)["ok"]
    assert got == [{"name": "logits", "logits": True}, {"name": "soft", "logits": False}, None]

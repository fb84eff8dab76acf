// What a newcomer meets with the documented calls, in Node: the size the model runs at without `size`,
// the effects with the masks the docs show, and messages that name what the caller passed.
// tests/test_web_parts.py runs this file.
import assert from 'node:assert/strict';
import {test} from 'node:test';

import {SegmenterError} from '../../patcher/web/lib/errors.js';
import {alphaMask, replaceBackground} from '../../patcher/web/lib/effects.js';
import {SHARD_BYTES, fetchWeights, shardSizes} from '../../patcher/web/lib/model.js';
import {MAX_PIXELS, defaultSize} from '../../patcher/web/lib/options.js';
import {unreadable} from '../../patcher/web/lib/pixels.js';

const message = (fn) => {
  try { fn(); } catch (err) { assert.ok(err instanceof SegmenterError, err); return `${err.code}: ${err.message}`; }
  return 'no error';
};

test("without size: the model's preferred size (input.default_size), whatever the source's", () => {
  const meta = {input: {default_size: [448, 448]}};
  assert.deepEqual(defaultSize(meta, 240, 240), [448, 448]);
  assert.deepEqual(defaultSize(meta, 4000, 6000), [448, 448]);
  assert.deepEqual(defaultSize({input: {default_size: [512, 1024]}}, 72, 88), [512, 1024]);
});

test('without a preferred size: the source\'s own, scaled down (aspect kept) to at most MAX_PIXELS', () => {
  assert.deepEqual(defaultSize({input: {}}, 72, 88), [72, 88]);
  assert.deepEqual(defaultSize(null, 2048, 2048), [2048, 2048]);
  const [h, w] = defaultSize({input: {default_size: 'x'}}, 4000, 6000);   // 24 megapixels
  assert.ok(h * w <= MAX_PIXELS && h * w > 0.99 * MAX_PIXELS, `${h} x ${w}`);
  assert.ok(Math.abs(w / h - 1.5) < 0.01, `${h} x ${w}`);
  assert.equal(defaultSize({input: {}}, 0, 0), null);
});

// A 2 x 2 result: pixel 0 background, 1 skin, 2 hair, 3 lips, with masks of the docs' example.
const source = {data: new Uint8ClampedArray(16).fill(200), width: 2, height: 2};
const probs = {background: [1, 0, 0, 0], skin: [0, 1, 0, 0], hair: [0, 0, 1, 0], u_lip: [0, 0, 0, 0.5], l_lip: [0, 0, 0, 0.5]};
const result = (names) => ({width: 2, height: 2,
  masks: Object.fromEntries(names.map((n) => [n, Float32Array.from(probs[n])]))});
const green = (image) => [0, 1, 2, 3].map((p) => image.data[4 * p + 1] === 255 && image.data[4 * p] === 0);

test("replaceBackground keeps the person with the docs' masks (hair, lips, background), not only those classes", () => {
  const docs = result(['hair', 'u_lip', 'l_lip', 'background']);
  assert.deepEqual(green(replaceBackground(source, docs, {color: '#00ff00'})), [true, false, false, false]);
});

test("replaceBackground with masks: ['background'] alone replaces the background only", () => {
  assert.deepEqual(green(replaceBackground(source, result(['background']), {color: [0, 255, 0]})), [true, false, false, false]);
});

test('replaceBackground without the background\'s mask says what to pass; keep still chooses', () => {
  const hair = result(['hair']);
  assert.match(message(() => replaceBackground(source, hair, {color: '#00ff00'})),
    /^options: replaceBackground needs the background's probability: segment with seg\.segment\(source, \{masks: \['background'\]\}\), or pass keep: .* \(the result has masks of hair\)$/);
  assert.deepEqual(green(replaceBackground(source, hair, {keep: ['hair'], color: '#00ff00'})), [true, true, false, true]);
});

test('messages name what the caller passed', () => {
  assert.equal(message(() => replaceBackground(source, result(['background']), {keep: [], color: '#00ff00'})),
    'options: keep must be a class name or a list of them, not []');
  assert.equal(message(() => alphaMask(result(['hair']), [])), 'options: classes must be a class name or a list of them, not []');
});

test('shard-size names the short shard, with the bytes expected and held', async () => {
  assert.deepEqual(shardSizes(SHARD_BYTES + 100, 2), [SHARD_BYTES, 100]);
  assert.deepEqual(shardSizes(100, 1), [100]);
  assert.equal(shardSizes(100, 3), null);
  const json = {weightsManifest: [{paths: ['a.bin', 'b.bin'], weights: [{name: 'w', shape: [SHARD_BYTES / 4 + 25], dtype: 'float32'}]}]};
  const held = {'a.bin': SHARD_BYTES, 'b.bin': 90};
  const real = globalThis.fetch;
  globalThis.fetch = async (url) => ({ok: true, status: 200, arrayBuffer: async () => new ArrayBuffer(held[url.split('/').pop()])});
  try {
    await assert.rejects(fetchWeights('https://example.test/m/model.json', json),
      (err) => err.code === 'shard-size' && err.message === 'weight shard b.bin holds 90 bytes; 100 expected from model.json (a truncated or stale file?)');
  } finally {
    globalThis.fetch = real;
  }
});

test('a video whose pixels cannot be read yet gives the documented message', () => {
  globalThis.HTMLVideoElement = class {};
  try {
    const err = unreadable(new globalThis.HTMLVideoElement(), new Error('The source image could not be allocated.'));
    assert.equal(`${err.code}: ${err.message}`, 'source: the video has no frame yet (The source image could not be allocated.)');
    assert.match(unreadable({}, new Error('x')).message, /^cannot read the source's pixels \(x\)$/);
  } finally {
    delete globalThis.HTMLVideoElement;
  }
});

test("LiteRT.js's start-up lines are not console errors; anything else still is", async () => {
  const {quiet} = await import('../../patcher/web/lib/litert.js');
  const seen = [];
  const saved = {debug: console.debug, info: console.info, error: console.error};
  for (const kind of Object.keys(saved)) console[kind] = (line) => seen.push([kind, line]);
  try {
    quiet('INFO: Creating LiteRT environment');
    quiet('WARNING: NPU accelerator could not be loaded');
    quiet('Aborted(out of memory)');
  } finally {
    Object.assign(console, saved);
  }
  assert.deepEqual(seen, [['debug', 'INFO: Creating LiteRT environment'],
                          ['info', 'WARNING: NPU accelerator could not be loaded'], ['error', 'Aborted(out of memory)']]);
});

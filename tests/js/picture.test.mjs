// The picture kind's parts (stylizer.js, lib/picture.js) in Node: a picture output mapped back to pixels
// (the inverse of the input's scale and offset, rounding, clipping, colour order), resizing to the source's
// size, model.json's image output read, the engine's call for an image model with a fake runtime, a model
// of the other kind refused, and the worker protocol handing over the pixels. tests/test_web_parts.py runs it.
import assert from 'node:assert/strict';
import {test} from 'node:test';

import {Engine} from '../../patcher/web/lib/engine.js';
import {SegmenterError} from '../../patcher/web/lib/errors.js';
import {readMetadata} from '../../patcher/web/lib/model.js';
import {options} from '../../patcher/web/lib/options.js';
import {resizePixels, toPixels} from '../../patcher/web/lib/picture.js';
import {buffers, serve} from '../../patcher/web/lib/protocol.js';
import {createStylizer} from '../../patcher/web/stylizer.js';

globalThis.ImageData ??= class ImageData {
  constructor(data, width, height) { Object.assign(this, {data, width, height}); }
};

const PAGE = {base: 'https://example.test/app/page.html', here: 'https://example.test/pkg/'};
const SCALE = 1 / 127.5;
const OFFSET = -1;
// the value the model gives for pixel level p (the inverse of x * SCALE + OFFSET)
const y = (p) => p * SCALE + OFFSET;
const IMAGE_META = {input: {name: 'input', scale: SCALE, offset: OFFSET, color: 'BGR'},
                    outputs: [{name: 'output', kind: 'image', shape: [1, 'H', 'W', 3], color: 'BGR', scale: SCALE,
                               offset: OFFSET}], sample: 'sample.png', sample_credit: 'a CC0 picture'};
const LABELS_META = {input: {scale: SCALE, offset: OFFSET}, outputs: [{name: 'out', kind: 'labels'}], classes: ['a'],
                     palette: [[0, 0, 0]]};

const rejection = async (promise) => {
  try { await promise; } catch (err) { return err; }
  return null;
};

test('toPixels: (y - offset) / scale rounded half to even and clipped, BGR turned to RGB, alpha opaque', () => {
  // scale 2, offset -1: y = 2 p - 1 is exact, so p = 2.5 and 3.5 are exact halves
  const map = {channels: 3, scale: 2, offset: -1};
  const v = (p) => 2 * p - 1;
  // one pixel: B = 10, G = 2.5 (rounds to 2), R = 300 (clipped); the next: B = -4 (clipped), G = 3.5 (to 4), R = 255
  const values = [v(10), v(2.5), v(300), v(-4), v(3.5), v(255)];
  assert.deepEqual([...toPixels(values, 1, 2, {...map, bgr: true})], [255, 2, 10, 255, 255, 4, 0, 255]);
  assert.deepEqual([...toPixels(values, 1, 2, {...map, bgr: false})], [10, 2, 255, 255, 0, 4, 255, 255]);
  assert.deepEqual([...toPixels([v(7)], 1, 1, {...map, channels: 1, bgr: false})], [7, 7, 7, 255]);
  assert.deepEqual([...toPixels([v(1), v(2), v(3), v(128)], 1, 1, {...map, channels: 4, bgr: true})], [3, 2, 1, 128]);
  // the recipe's mapping (x / 127.5 - 1) gives back the levels it was fed
  const levels = Array.from({length: 256 * 3}, (_, i) => i % 256);
  assert.deepEqual([...toPixels(levels.map(y), 1, 256, {channels: 3, scale: SCALE, offset: OFFSET, bgr: false})]
    .filter((_, i) => i % 4 !== 3), levels);
  const err = (() => { try { toPixels([1, 2], 1, 1, {channels: 3, scale: 1, offset: 0, bgr: false}); } catch (e) { return e; } })();
  assert.ok(err instanceof SegmenterError && err.code === 'run' && err.hint, err);
  assert.match(err.message, /2 values for 1 x 1 pixels of 3 channels/);
});

test('resizePixels: the same array at the same size; bilinear with aligned pixel centres otherwise', () => {
  const rgba = new Uint8ClampedArray([0, 0, 0, 255, 100, 200, 40, 255]);
  assert.equal(resizePixels(rgba, 1, 2, 1, 2), rgba);
  // 1 x 2 -> 1 x 4: centres at 0.25 -> clamp 0, 0.75 -> x 0.25, 1.25 -> x 0.75, 1.75 -> clamp 1
  assert.deepEqual([...resizePixels(rgba, 1, 2, 1, 4)],
                   [0, 0, 0, 255, 25, 50, 10, 255, 75, 150, 30, 255, 100, 200, 40, 255]);
  const down = resizePixels(new Uint8ClampedArray(4 * 4 * 4).fill(9), 4, 4, 3, 2);
  assert.equal(down.length, 3 * 2 * 4);
  assert.ok(down.every((v) => v === 9));
});

test("model: an image output's node, channels, mapping and colour order; bad ones are code model", () => {
  const spec = readMetadata(IMAGE_META, 'https://example.test/m/model.json');
  assert.equal(spec.kind, 'image');
  assert.equal(spec.output, 'output');
  assert.equal(spec.bgr, true);   // the input is fed BGR: tfjs.js and litert.js swap the channels before the model
  assert.deepEqual(spec.picture, {channels: 3, scale: SCALE, offset: OFFSET, bgr: true});
  assert.deepEqual([spec.sample, spec.sampleCredit], ['https://example.test/m/sample.png', 'a CC0 picture']);
  assert.equal(readMetadata(LABELS_META, 'https://example.test/m.json').kind, 'labels');
  const bad = [
    [{...IMAGE_META, outputs: [{kind: 'image', shape: [1, 'H', 'W', 2], name: 'o'}]}, 'of 2 channels'],
    [{...IMAGE_META, outputs: [{kind: 'image', name: ''}]}, 'without a node name'],
    [{...IMAGE_META, outputs: [{kind: 'image', name: 'o', scale: 0}]}, 'non-zero scale'],
  ];
  for (const [meta, words] of bad) {
    const err = (() => { try { readMetadata(meta, 'm.json'); } catch (e) { return e; } })();
    assert.ok(err instanceof SegmenterError && err.code === 'model' && err.message.includes(words), String(err));
  }
});

// An Engine for an image model whose runtime returns, for each pixel, its RGBA read as B, G, R (the model
// sees what it is fed: a fake that echoes its input's levels in the model's units).
function imageEngine(meta = IMAGE_META, kind = 'image') {
  const loaded = {json: {}, spec: readMetadata(meta, 'https://example.test/pkg/model.json'), meta, hash: 'h'};
  const runtime = {
    info: {runtime: 'tfjs', backend: 'wasm', threads: 1},
    async infer(pixels, h, w) {
      const out = new Float32Array(h * w * 3);
      for (let i = 0, j = 0; j < out.length; i += 4, j += 3) {
        out[j] = y(pixels.data[i + 2]); out[j + 1] = y(pixels.data[i + 1]); out[j + 2] = y(pixels.data[i]);
      }
      return out;
    },
    free() {},
  };
  const make = {tfjs: async () => runtime, litert: async () => { throw new Error('no LiteRT.js here'); }};
  return Engine.create({...options({size: [2, 2], runtime: 'tfjs'}, PAGE), kind}, {make, fetch: async () => loaded});
}

test("engine: an image model's call gives RGBA pixels at the source's size, in RGB order", async () => {
  const engine = await imageEngine();
  const source = new ImageData(new Uint8ClampedArray([10, 20, 30, 255, 40, 50, 60, 255, 70, 80, 90, 255, 1, 2, 3, 255]), 2, 2);
  const same = await engine.run(source, 2, 2, 2, 2, {});
  assert.deepEqual([...same.pixels], [...source.data]);
  assert.deepEqual(same.size, [2, 2]);
  assert.equal(same.labels, undefined);
  const bigger = await engine.run(source, 2, 2, 4, 6, {});   // the source shown at 4 x 6: the picture resized back
  assert.equal(bigger.pixels.length, 4 * 6 * 4);
  assert.deepEqual([...bigger.pixels.slice(0, 4)], [10, 20, 30, 255]);
  engine.dispose();
});

test('engine: a model of the other kind is code model, its hint naming the module that loads it', async () => {
  const err = await rejection(imageEngine(IMAGE_META, 'labels'));
  assert.ok(err instanceof SegmenterError && err.code === 'model', String(err));
  assert.match(err.message, /gives pictures, not class maps/);
  assert.match(err.hint, /stylizer\.js's createStylizer/);
  const other = await rejection(imageEngine(LABELS_META, 'image'));
  assert.ok(other instanceof SegmenterError && other.code === 'model', String(other));
  assert.match(other.hint, /segmenter\.js's createSegmenter/);
});

test("createStylizer: an option of the segmenter's that does not apply, or a bad one, is code options", async () => {
  for (const [given, words] of [[{faces: true}, 'options.faces does not apply'], [{smoothing: true}, 'options.smoothing'],
                                [{threads: -1}, 'options.threads must be 0'], [{size: [0, 3]}, 'options.size must be']]) {
    globalThis.location ??= {href: PAGE.base};
    const err = await rejection(createStylizer(given));
    assert.ok(err instanceof SegmenterError && err.code === 'options' && err.hint, String(err));
    assert.ok(err.message.startsWith(words), err.message);
  }
});

test("protocol: the worker hands an image model's pixels over (transferred), as it does class ids", async () => {
  assert.deepEqual(buffers({pixels: new Uint8ClampedArray(8)}).map((b) => b.byteLength), [8]);
  const labels = new Uint8Array(4);
  assert.deepEqual(buffers({labels, masks: {a: new Float32Array(2)}}).map((b) => b.byteLength), [4, 8]);
  const posted = [];
  const scope = {postMessage: (message, transfer) => posted.push({message, transfer})};
  serve(scope, () => imageEngine());
  await scope.onmessage({data: {id: 1, type: 'init', options: {}}});
  assert.equal(posted[0].message.ok, true, JSON.stringify(posted[0].message));
  assert.equal(posted[0].message.spec.kind, 'image');
  const pixels = new Uint8ClampedArray([1, 2, 3, 255, 4, 5, 6, 255, 7, 8, 9, 255, 10, 11, 12, 255]);
  await scope.onmessage({data: {id: 2, type: 'segment', pixels, h: 2, w: 2, sh: 2, sw: 2, wants: {}}});
  const {message, transfer} = posted[1];
  assert.equal(message.ok, true, JSON.stringify(message));
  assert.deepEqual([...message.pixels], [...pixels]);
  assert.deepEqual(transfer, [message.pixels.buffer]);
});

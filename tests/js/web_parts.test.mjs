// The web module's pure parts run directly in Node (node --test): option checks, the worker protocol,
// reading sizes and mapping/painting class maps, model.json's metadata, the nearest built size.
// tests/test_web_parts.py runs this file.
import assert from 'node:assert/strict';
import {test} from 'node:test';

import {nearestSize} from '../../patcher/web/lib/choose.js';
import {CODES, SegmenterError, unwire, wire} from '../../patcher/web/lib/errors.js';
import {fetchWeights, readMetadata} from '../../patcher/web/lib/model.js';
import {MAX_PIXELS, checkPixels, checkSize, options} from '../../patcher/web/lib/options.js';
import {paint, resizeLabels, sourceSize} from '../../patcher/web/lib/pixels.js';
import {Calls, serve} from '../../patcher/web/lib/protocol.js';

const PAGE = {base: 'https://example.test/app/page.html', here: 'https://example.test/pkg/'};
const code = (fn) => {
  try { fn(); } catch (err) { assert.ok(err instanceof SegmenterError, err); return `${err.code}: ${err.message}`; }
  return 'no error';
};

test("options: defaults (model.json and the bundles next to segmenter.js), and URLs made absolute against the page", () => {
  const o = options({}, PAGE);
  assert.equal(o.model, 'https://example.test/pkg/model.json');
  assert.equal(o.assets, 'https://example.test/pkg/');
  assert.deepEqual([o.backend, o.worker, o.threads, o.size, o.runtime, o.precision], ['wasm', true, 0, null, 'auto', 'auto']);
  const p = options({model: '../m/model.json', assets: 'vendor', worker: 0, size: [32, 48], threads: 3}, PAGE);
  assert.equal(p.model, 'https://example.test/m/model.json');
  assert.equal(p.assets, 'https://example.test/app/vendor/');
  assert.deepEqual([p.worker, p.size, p.threads], [false, [32, 48], 3]);
});

test('options: each bad option is code options, naming it', () => {
  const cases = [
    [{model: 5}, 'options.model must be a URL'],
    [{backend: ''}, 'options.backend must be a backend name'],
    [{threads: -1}, 'options.threads must be 0'],
    [{threads: 1.5}, 'options.threads must be 0'],
    [{size: [0, 4]}, 'options.size must be [height, width]'],
    [{size: [4]}, 'options.size must be [height, width]'],
    [{runtime: 'onnx'}, 'options.runtime must be auto, tfjs, litert'],
    [{precision: 'fp16'}, 'options.precision must be auto, float32, float16, int8'],
  ];
  for (const [given, words] of cases) {
    const got = code(() => options(given, PAGE));
    assert.ok(got.startsWith(`options: ${words}`), `${JSON.stringify(given)}: ${got}`);
  }
  assert.equal(checkSize(null, 'size'), null);
  assert.deepEqual(checkSize([3, 4], 'size'), [3, 4]);
  assert.match(code(() => checkSize([3, 4.5], 'size')), /^options: size must be \[height, width\] in whole pixels, not \[3,4.5\]/);
});

test('protocol: answers settle their own call; a failure rejects the waiting calls and every later one', async () => {
  const calls = new Calls();
  const a = calls.add();
  const b = calls.add();
  assert.notEqual(a.id, b.id);
  calls.answer({id: b.id, ok: true, value: 2});
  calls.answer({id: 999, ok: true});                     // unknown: ignored
  assert.deepEqual(await b.promise, {id: b.id, ok: true, value: 2});
  const c = calls.add();
  calls.answer({id: c.id, ok: false, error: {message: 'no such shard', code: 'shard-missing'}});
  await assert.rejects(c.promise, (err) => err instanceof SegmenterError && err.code === 'shard-missing');
  const d = calls.add();
  calls.reject(d.id, new SegmenterError('cannot send', 'source'));
  await assert.rejects(d.promise, {code: 'source'});
  calls.fail(new SegmenterError('the Web Worker failed: boom', 'worker'));
  await assert.rejects(a.promise, {code: 'worker', message: 'the Web Worker failed: boom'});
  calls.fail(new SegmenterError('this segmenter was disposed', 'disposed'));   // the first failure stays
  await assert.rejects(calls.add().promise, {code: 'worker'});
});

test('errors: each code has its hint; errors cross the wire with code and hint; other errors become run', () => {
  assert.equal(new SegmenterError('x', 'tfjs').hint, CODES.tfjs);
  assert.equal(new SegmenterError('x', 'source', 'load it with CORS').hint, 'load it with CORS');
  assert.equal(new SegmenterError('x', 'no-such-code').hint, CODES.run);
  assert.deepEqual(wire(new SegmenterError('x', 'model')), {message: 'x', code: 'model', hint: CODES.model});
  assert.deepEqual(wire(new TypeError('y')), {message: 'the model failed: y', code: 'run', hint: CODES.run});
  assert.deepEqual(wire('z'), {message: 'the model failed: z', code: 'run', hint: CODES.run});
  const back = unwire({message: 'x', code: 'source', hint: 'h'});
  assert.ok(back instanceof SegmenterError);
  assert.deepEqual([back.code, back.message, back.hint], ['source', 'x', 'h']);
});

test("protocol: the worker's side answers init, segment and failures", async () => {
  const posted = [];
  const scope = {postMessage: (message, transfer) => posted.push({message, transfer})};
  const ran = [];
  const engine = {
    info: {runtime: 'fake'}, spec: {classes: ['a']}, meta: {m: 1},
    async run(source, h, w, sh, sw) {
      ran.push([source, h, w, sh, sw]);
      if (h === 13) throw new SegmenterError('the model gave 3 class ids for 13 x 1 pixels', 'run');
      if (h === 14) throw new RangeError('out of memory');
      return {labels: new Uint8Array(sh * sw).fill(1), modelMs: 5, size: [h, w], info: this.info};
    },
  };
  serve(scope, async (opts) => { assert.equal(opts.model, 'm.json'); return engine; },
        (pixels, width, height) => ({pixels, width, height}));
  const send = async (data) => { await scope.onmessage({data}); return posted.at(-1); };
  let reply = await send({id: 1, type: 'segment', h: 2, w: 2, sh: 2, sw: 2, pixels: new Uint8ClampedArray(16)});
  assert.deepEqual(reply.message, {id: 1, ok: false, error: {message: 'the model is not loaded', code: 'run', hint: CODES.run}});
  reply = await send({id: 2, type: 'init', options: {model: 'm.json'}});
  assert.deepEqual(reply.message, {id: 2, ok: true, info: engine.info, spec: engine.spec, meta: engine.meta});
  reply = await send({id: 3, type: 'segment', h: 2, w: 3, sh: 4, sw: 6, pixels: new Uint8ClampedArray(96)});
  assert.equal(reply.message.ok, true);
  assert.equal(reply.message.labels.length, 24);
  assert.deepEqual(reply.transfer, [reply.message.labels.buffer]);
  assert.deepEqual(ran.at(-1).slice(1), [2, 3, 4, 6]);
  assert.deepEqual([ran.at(-1)[0].width, ran.at(-1)[0].height], [6, 4]);
  let closed = 0;
  const bitmap = {width: 1, height: 13, close: () => { closed += 1; }};
  reply = await send({id: 4, type: 'segment', h: 13, w: 1, sh: 13, sw: 1, bitmap});
  assert.deepEqual(reply.message.error.code, 'run');
  assert.equal(ran.at(-1)[0], bitmap);
  assert.equal(closed, 1, 'the bitmap is closed even when the run fails');
  reply = await send({id: 5, type: 'segment', h: 14, w: 1, sh: 14, sw: 1, bitmap});
  assert.deepEqual(reply.message.error, {message: 'the model failed: out of memory', code: 'run', hint: CODES.run});
  reply = await send({id: 6, type: 'nonsense'});
  assert.deepEqual(reply.message.error, {message: 'unknown request nonsense', code: 'run', hint: CODES.run});
});

test('pixels: sourceSize reads width and height and refuses what has none', () => {
  assert.deepEqual(sourceSize({width: 6, height: 4}), [6, 4]);
  assert.match(code(() => sourceSize(null)), /^source: segment\(\) needs an image/);
  assert.match(code(() => sourceSize('pic.png')), /^source: segment\(\) needs an image/);
  assert.match(code(() => sourceSize({width: 2.5, height: 4})), /^source: segment\(\) needs an image/);
  assert.match(code(() => sourceSize({width: 0, height: 4})), /^source: the source is empty \(0 x 4 pixels\)/);
});

test('pixels: resizeLabels maps by nearest neighbour at pixel centres, in the same array type', () => {
  const labels = Uint8Array.from([1, 2, 3, 4]);                 // 2 x 2
  assert.equal(resizeLabels(labels, 2, 2, 2, 2), labels);
  assert.deepEqual(Array.from(resizeLabels(labels, 2, 2, 4, 4)),
    [1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4]);
  assert.deepEqual(Array.from(resizeLabels(labels, 2, 2, 1, 3)), [3, 4, 4]);
  const wide = Uint16Array.from([300, 301, 302, 303, 304, 305]);   // 2 x 3 to 1 x 1: the centre pixel
  const one = resizeLabels(wide, 2, 3, 1, 1);
  assert.ok(one instanceof Uint16Array);
  assert.deepEqual(Array.from(one), [304]);
});

test("pixels: paint gives each class its colour at the opacity asked, transparent classes clear", () => {
  const rgba = paint(Uint8Array.from([0, 1, 2, 7]), [[10, 20, 30], [40, 50, 60], [70, 80, 90]], [0], 0.5);
  assert.ok(rgba instanceof Uint8ClampedArray);
  assert.deepEqual(Array.from(rgba), [0, 0, 0, 0, 40, 50, 60, 128, 70, 80, 90, 128, 255, 255, 255, 128]);
  assert.deepEqual(Array.from(paint(Uint8Array.from([1]), [[1, 2, 3], [4, 5, 6]], [], 3)), [4, 5, 6, 255]);
});

test("model: readMetadata takes preprocessing, output and classes, and says what a bad one lacks", () => {
  const meta = {input: {name: 'x', scale: 1 / 127.5, offset: -1, color: 'bgr'}, classes: ['bg', 'skin'],
                palette: [[0, 0, 0], [128, 0, 0, 255]], transparent: [0, 'x'], outputs: [{kind: 'labels', name: 'out'}],
                title: 'T', sample: 'sample.png'};
  const spec = readMetadata(meta, 'https://example.test/m/model.json');
  assert.deepEqual(spec, {kind: 'labels', input: 'x', scale: 1 / 127.5, offset: -1, bgr: true, output: 'out', argmax: false,
                          classes: ['bg', 'skin'], palette: [[0, 0, 0], [128, 0, 0]], transparent: [0], title: 'T',
                          about: null, sample: 'https://example.test/m/sample.png', sampleCredit: null, picture: null});
  assert.equal(readMetadata({...meta, outputs: [{kind: 'probabilities', name: 'p'}]}, 'https://example.test/model.json').argmax, true);
  const bad = [
    [null, 'is missing'], [{...meta, input: {offset: 0}}, 'input.scale'], [{...meta, input: {...meta.input, color: 'YUV'}}, 'RGB or BGR'],
    [{...meta, outputs: []}, 'names no output of kind "labels"'], [{...meta, classes: []}, 'has no classes'],
    [{...meta, palette: [[0, 0, 0]]}, 'no palette of 2'],
  ];
  for (const [given, words] of bad) {
    const got = code(() => readMetadata(given, 'm.json'));
    assert.ok(got.startsWith('model: m.json: its userDefinedMetadata') && got.includes(words), got);
  }
});

test('choose: nearestSize goes by area and aspect ratio', () => {
  const sizes = [[288, 288], [448, 448], [1024, 1024]];
  assert.deepEqual(nearestSize(sizes, null), [288, 288]);
  assert.deepEqual(nearestSize(sizes, [300, 280]), [288, 288]);
  assert.deepEqual(nearestSize(sizes, [1000, 900]), [1024, 1024]);
  assert.deepEqual(nearestSize([[448, 448], [256, 512]], [240, 500]), [256, 512]);
});

test('options: a size above MAX_PIXELS is code options, the limit in its hint; the limit itself runs', () => {
  assert.equal(MAX_PIXELS, 2048 * 2048);
  assert.deepEqual(checkSize([2048, 2048], 'size'), [2048, 2048]);
  assert.deepEqual(checkSize([1, MAX_PIXELS], 'size'), [1, MAX_PIXELS]);
  for (const [size, where] of [[[2049, 2048], 'size'], [[8000, 8000], 'size'], [[1, MAX_PIXELS + 1], 'size']]) {
    let err = null;
    try { checkSize(size, where); } catch (e) { err = e; }
    assert.ok(err instanceof SegmenterError && err.code === 'options', `${size}: ${err}`);
    assert.ok(err.message.startsWith(`size [${size[0]}, ${size[1]}] is ${size[0] * size[1]} pixels, above the 4194304`), err.message);
    assert.match(err.hint, /at most 4194304 pixels \(2048 x 2048; MAX_PIXELS\)/);
  }
  assert.match(code(() => options({size: [8000, 8000]}, PAGE)), /^options: options\.size \[8000, 8000\] is 64000000 pixels/);
  assert.match(code(() => checkPixels(8000, 8000, "the source's own size (no size given)")),
               /^options: the source's own size \(no size given\) \[8000, 8000\] is 64000000 pixels/);
  assert.equal(code(() => checkPixels(2048, 2048, 'size')), 'no error');
});

test("model: a manifest entry without a shape, name or paths is code model, before any shard is fetched", async () => {
  const fetched = [];
  const before = globalThis.fetch;
  globalThis.fetch = async (url) => {
    fetched.push(String(url));
    return {ok: true, status: 200, arrayBuffer: async () => new ArrayBuffer(12)};
  };
  const weight = {name: 'w', shape: [3], dtype: 'float32'};
  const manifest = (group) => ({weightsManifest: [group]});
  const cases = [
    [{paths: ['a.bin'], weights: [{name: 'w', dtype: 'float32'}]}, /weight w has no shape .*: undefined$/],
    [{paths: ['a.bin'], weights: [{...weight, shape: '3'}]}, /weight w has no shape .*: "3"$/],
    [{paths: ['a.bin'], weights: [{...weight, shape: [-3]}]}, /weight w has no shape .*: \[-3\]$/],
    [{paths: ['a.bin'], weights: [{...weight, shape: [1.5, 2]}]}, /weight w has no shape/],
    [{paths: ['a.bin'], weights: [{...weight, shape: [null]}]}, /weight w has no shape/],
    [{paths: ['a.bin'], weights: [{...weight, shape: [2 ** 60]}]}, /weight w has no shape/],
    [{paths: ['a.bin'], weights: [{shape: [3], dtype: 'float32'}]}, /weightsManifest\[0\] has a weight without a name/],
    [{paths: ['a.bin'], weights: [null]}, /weightsManifest\[0\] has a weight without a name/],
    [{paths: null, weights: [weight]}, /weightsManifest\[0\] has no list of shard paths/],
    [{paths: [], weights: [weight]}, /weightsManifest\[0\] has no list of shard paths/],
    [{paths: [7], weights: [weight]}, /weightsManifest\[0\] has no list of shard paths/],
    [{paths: ['a.bin'], weights: {w: weight}}, /weightsManifest\[0\] has no list of weights/],
    ['group1-shard1of1.bin', /weightsManifest\[0\] is not a group of weights/],
    [{paths: ['a.bin'], weights: [{...weight, dtype: 'complex64'}]}, /weight w has an unknown dtype complex64/],
  ];
  try {
    for (const [group, words] of cases) {
      let err = null;
      try { await fetchWeights('https://example.test/m/model.json', manifest(group)); } catch (e) { err = e; }
      assert.ok(err instanceof SegmenterError, `${JSON.stringify(group)}: ${err}`);
      assert.equal(err.code, 'model', `${JSON.stringify(group)}: ${err.message}`);
      assert.match(err.message, words);
      assert.ok(err.message.startsWith('https://example.test/m/model.json: '), err.message);
    }
    assert.deepEqual(fetched, []);
    // a sound entry is fetched and checked against its size as before
    const {specs, data} = await fetchWeights('https://example.test/m/model.json', manifest({paths: ['a.bin'], weights: [weight]}));
    assert.deepEqual([fetched, specs, data.byteLength], [['https://example.test/m/a.bin'], [weight], 12]);
  } finally {
    globalThis.fetch = before;
  }
});

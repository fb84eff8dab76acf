// `auto` measuring on the device (lib/measure.js) with fake engines of known speed, a fake clock that the
// engines advance, fake storage and a hand-driven "between calls" queue: node --test. tests/test_web_parts.py
// runs this file.
import assert from 'node:assert/strict';
import {test} from 'node:test';

import {candidates, label, runtimeId} from '../../patcher/web/lib/choose.js';
import {Engine} from '../../patcher/web/lib/engine.js';
import {RUNS, WARMUP} from '../../patcher/web/lib/measure.js';
import {hashText} from '../../patcher/web/lib/model.js';
import {options} from '../../patcher/web/lib/options.js';
import {serve} from '../../patcher/web/lib/protocol.js';
import {MAX_RUN_MS, readMeasurement, safeStore, storeKey} from '../../patcher/web/lib/store.js';

globalThis.ImageData ??= class ImageData {
  constructor(data, width, height) { Object.assign(this, {data, width, height}); }
};

const SIZE = [4, 6];
const PAGE = {base: 'https://example.test/app/page.html', here: 'https://example.test/pkg/'};
// The build measured tfjs fastest; int8 is under the build's floor (no candidate however fast it is).
const META = {
  patcher: {quantization: 'float32'},
  litert: {models: [{size: SIZE, precision: 'float32', file: 'litert/f32.tflite', accurate: true},
                    {size: SIZE, precision: 'int8', file: 'litert/i8.tflite', accurate: false}],
           timings: [{size: SIZE, ms: {tfjs: 1, float32: 5, int8: 0.5}, browser: 'Chromium 156', threads: 2}]},
};
const LOADED = {json: {}, spec: {classes: ['bg', 'face'], palette: [[0, 0, 0], [9, 9, 9]], transparent: []}, meta: META,
                hash: 'abc123'};

// A device whose runtimes take known times: tfjs wasm 10 ms, LiteRT.js float32 3 ms, int8 1 ms, LiteRT.js
// float32 on WebGPU 2 ms (LiteRT.js starts in 50 ms), tfjs on WebGPU fails to start. Labels say who ran: tfjs 0, LiteRT.js 1.
function device({gpu = false, store = new Map()} = {}) {
  const d = {now: 0, later: [], started: [], store, log: []};
  const fake = (ms, id, info) => ({
    info, compiled: [],
    async compile(choice) { this.compiled.push(`${choice.backend} ${choice.file}`); },
    async infer(pixels, h, w, choice) {
      const cost = typeof ms === 'function' ? ms(choice) : ms;
      d.log.push('in');
      await new Promise((resolve) => setImmediate(resolve));   // a run takes a while
      d.now += cost;
      d.log.push('out');
      return new Int32Array(h * w).fill(id);
    },
    free() {},
  });
  d.make = {
    async tfjs(opts) {
      d.started.push(`tfjs ${opts.backend}`);
      if (opts.backend === 'webgpu') throw new Error('tf-backend-webgpu.min.js did not load');
      return fake(10, 0, {runtime: 'tfjs', backend: opts.backend, threads: 2});
    },
    async litert() {
      d.started.push('litert');
      d.now += 50;                                      // LiteRT.js takes 50 ms to start
      return fake((c) => (c.backend === 'webgpu' ? 2 : c.precision === 'int8' ? 1 : 3), 1,
                  {runtime: 'litert', backend: 'wasm', threads: 2});
    },
  };
  d.env = {store: {get: async (k) => d.store.get(k), set: async (k, v) => { d.store.set(k, v); }},
           fetched: () => 1000 * d.started.length,        // each start fetches 1000 bytes
           clock: () => d.now, later: (fn) => d.later.push(fn), gpu: async () => gpu, browser: 'FakeBrowser/1.0'};
  // every step planned between calls, run to the end (each plans the next)
  d.drain = async () => {
    let steps = 0;
    while (d.later.length) { await d.later.shift()(); steps += 1; }
    return steps;
  };
  d.create = (given = {}) => Engine.create(options({size: SIZE, threads: 2, measureDownloads: true, ...given}, PAGE),
                                           {env: d.env, make: d.make, fetch: async () => LOADED});
  return d;
}

const image = () => new ImageData(new Uint8ClampedArray(SIZE[0] * SIZE[1] * 4), SIZE[1], SIZE[0]);
const run = (engine) => engine.run(image(), ...SIZE, ...SIZE);

test('candidates: tfjs and LiteRT.js float32 on wasm, int8 where accurate, the WebGPU ones with an adapter', () => {
  const o = {runtime: 'auto', precision: 'auto', backend: 'wasm'};
  assert.deepEqual(candidates(META, o, SIZE).map((c) => c.id), ['tfjs', 'float32']);
  const accurate = {...META, litert: {...META.litert, models: META.litert.models.map((m) => ({...m, accurate: true}))}};
  assert.deepEqual(candidates(accurate, o, SIZE, true).map((c) => c.id),
                   ['tfjs', 'float32', 'int8', 'tfjs-webgpu', 'float32-webgpu']);
  assert.deepEqual(candidates(META, o, [8, 8], true).map((c) => c.id), ['tfjs', 'tfjs-webgpu']);  // no LiteRT.js model
  assert.deepEqual(candidates(META, {...o, precision: 'int8'}, SIZE, true).map((c) => c.id), ['int8']);
  assert.deepEqual(candidates(META, {...o, runtime: 'tfjs'}, SIZE), []);
  assert.deepEqual(candidates(META, {...o, backend: 'webgl'}, SIZE), []);
  assert.deepEqual(candidates(META, o, null), []);
  const gpu = candidates(META, o, SIZE, true).find((c) => c.id === 'float32-webgpu');
  assert.deepEqual([gpu.runtime, gpu.precision, gpu.backend, gpu.file], ['litert', 'float32', 'webgpu', 'litert/f32.tflite']);
  assert.equal(runtimeId({runtime: 'tfjs', precision: 'float16', backend: 'webgpu'}), 'tfjs-webgpu');
  assert.deepEqual(['tfjs', 'int8', 'float32-webgpu', 'tfjs-webgpu'].map(label),
                   ['tfjs wasm', 'LiteRT.js int8', 'LiteRT.js float32 webgpu', 'tfjs webgpu']);
});

test('measuring: the build chose tfjs; on this device LiteRT.js float32 is faster, wins, and is kept', async () => {
  const d = device();
  const engine = await d.create();
  assert.equal(engine.info.runtime, 'tfjs');           // the build's choice at once
  assert.match(engine.info.reason, /^fastest the build measured at 4x6/);
  assert.equal(engine.info.measure.status, 'waiting');
  const first = await run(engine);
  assert.equal(first.labels[0], 0);                    // tfjs ran it
  assert.equal(first.info.measure.status, 'measuring');
  assert.deepEqual(first.info.measure.candidates, ['tfjs', 'float32']);
  const steps = await d.drain();
  // tfjs (in use, warm): RUNS timed runs; LiteRT.js float32: a start, WARMUP runs, RUNS timed runs
  assert.equal(steps, RUNS + 1 + WARMUP + RUNS);
  const done = engine.measurer.summary(SIZE);
  assert.deepEqual([done.status, done.winner, done.ms, done.failed], ['measured', 'float32', {tfjs: 10, float32: 3}, {}]);
  assert.equal(done.cost, RUNS * 10 + RUNS * 3);      // what held calls back: the timed runs (fake clock)
  assert.equal(done.longest, 10);
  assert.equal(done.aside, 50 + WARMUP * 3);           // LiteRT.js started and ran untimed beside tfjs's calls
  assert.equal(done.bytes, 1000, 'what the steps fetched: LiteRT.js started');
  const later = await run(engine);
  assert.equal(later.labels[0], 1);                    // LiteRT.js runs the later calls
  assert.deepEqual([later.info.runtime, later.info.precision, later.info.backend], ['litert', 'float32', 'wasm']);
  assert.equal(later.info.reason, 'fastest measured on this device at 4x6: LiteRT.js float32 3.0 ms, tfjs wasm 10 ms');
  assert.equal(later.info.measure.winner, 'float32');
  const key = storeKey('abc123', SIZE, 2, 'FakeBrowser/1.0');
  assert.equal(key, 'abc123/4x6/2t/FakeBrowser/1.0');
  assert.equal(d.store.get(key).winner, 'float32');
  assert.deepEqual(d.store.get(key).ms, {tfjs: 10, float32: 3});
  assert.equal(await d.drain(), 0, 'nothing more to measure');

  // a later segmenter on this device starts with the kept winner and measures nothing
  const again = device({store: d.store});
  const next = await again.create();
  assert.deepEqual([next.info.runtime, next.info.precision, next.info.measure.status], ['litert', 'float32', 'stored']);
  assert.match(next.info.reason, /^fastest measured on this device at 4x6, kept from \d{4}-\d\d-\d\d: LiteRT\.js float32 3\.0 ms/);
  assert.deepEqual(again.started, ['litert']);        // tfjs is not even loaded
  assert.equal((await run(next)).labels[0], 1);
  assert.equal(await again.drain(), 0);
  // another thread count (or size, browser, model) is another key: measured afresh
  const other = device({store: d.store});
  assert.equal((await other.create({threads: 1})).info.measure.status, 'waiting');
});

test('measuring: measure false keeps the build choice; a runtime that does not start is left out', async () => {
  const off = device();
  const engine = await off.create({measure: false});
  assert.equal((await run(engine)).info.measure, null);
  assert.equal(off.later.length, 0);
  assert.equal(engine.info.runtime, 'tfjs');
  const fixed = device();
  assert.equal((await run(await fixed.create({runtime: 'tfjs'}))).info.measure, null);

  const gpu = device({gpu: true});
  const seg = await gpu.create();
  await run(seg);
  await gpu.drain();
  const done = seg.measurer.summary(SIZE);
  assert.deepEqual(done.candidates, ['tfjs', 'float32', 'tfjs-webgpu', 'float32-webgpu']);
  assert.deepEqual(Object.keys(done.failed), ['tfjs-webgpu']);
  assert.match(done.failed['tfjs-webgpu'], /tf-backend-webgpu\.min\.js did not load/);
  assert.deepEqual([done.winner, done.ms], ['float32-webgpu', {tfjs: 10, float32: 3, 'float32-webgpu': 2}]);
  const after = await run(seg);
  assert.deepEqual([after.info.runtime, after.info.backend], ['litert', 'webgpu']);
});

test('measuring: by default nothing the page has not fetched (measureDownloads false), so nothing more starts', async () => {
  const d = device();
  const engine = await d.create({measureDownloads: false});
  const first = await run(engine);
  assert.equal(first.info.measure, null);
  assert.equal(await d.drain(), 0);
  assert.deepEqual(d.started, ['tfjs wasm'], 'LiteRT.js is not fetched');
  assert.equal((await run(engine)).info.runtime, 'tfjs');
  assert.equal(options({}, PAGE).measureDownloads, false);
  assert.throws(() => options({measureDownloads: 'yes'}, PAGE), /options\.measureDownloads must be true or false, not yes/);
});

test('measuring: no step while a call runs, and a call waits for the step under way', async () => {
  const d = device();
  const engine = await d.create();
  await run(engine);
  engine.active += 1;                                   // a call is running
  await d.drain();
  assert.equal(engine.measurer.summary(SIZE).steps, 0);
  engine.active -= 1;
  engine.measurer.plan();
  d.log.length = 0;
  const step = d.later.shift()();                       // a step starts ...
  assert.ok(engine.measurer.idle(), 'a step is under way');
  const call = run(engine);                             // ... and a call comes meanwhile
  await step;
  await call;
  assert.deepEqual(d.log, ['in', 'out', 'in', 'out'], 'the runs did not overlap');
  assert.equal(engine.measurer.idle(), null);
  assert.equal(engine.measurer.summary(SIZE).steps, 1);
});

test('measuring: starting the library not in use holds no call back; its timed runs, and tfjs in use, do', async () => {
  const d = device();
  const engine = await d.create();
  await run(engine);
  const held = [];
  for (let i = 0; i < RUNS + 1 + WARMUP + RUNS; i++) {
    const step = d.later.shift()();
    held.push(Boolean(engine.measurer.idle()));
    await step;
  }
  // tfjs (in use) timed; LiteRT.js started and run untimed beside the calls; LiteRT.js timed
  assert.deepEqual(held, [...Array(RUNS).fill(true), false, ...Array(WARMUP).fill(false), ...Array(RUNS).fill(true)]);
  assert.equal(engine.measurer.summary(SIZE).aside, 50 + WARMUP * 3);
});

test('measuring: a call that comes during the last step runs the winner', async () => {
  const d = device();
  const engine = await d.create();
  await run(engine);
  for (let i = 1; i < RUNS + 1 + WARMUP + RUNS; i++) await d.later.shift()();
  const last = d.later.shift()();
  const call = run(engine);
  await last;
  const got = await call;
  assert.deepEqual([got.labels[0], got.info.runtime, got.info.measure.status], [1, 'litert', 'measured']);
  assert.match(got.info.reason, /^fastest measured on this device/);
});

test('storage: a store that throws remembers nothing and fails nothing; the model hash is stable', async () => {
  const broken = safeStore({get: async () => { throw new Error('blocked'); }, set: () => { throw new Error('full'); }});
  assert.equal(await broken.get('k'), null);
  assert.equal(await broken.set('k', {winner: 'tfjs'}), false);
  // cyrb53's published reference values (seed 0; https://github.com/bryc/code/tree/master/jshash), in hex,
  // and one model.json-like text: a changed hash would silently forget every stored measurement
  assert.equal(hashText('a'), (7929297801672961).toString(16).padStart(14, '0'));
  assert.equal(hashText('revenge'), (4051478007546757).toString(16).padStart(14, '0'));
  assert.equal(hashText('revenue'), (8309097637345594).toString(16).padStart(14, '0'));
  assert.equal(hashText('{"a": 1}'), '1c4c4af3092f77');
  assert.match(hashText(''), /^[0-9a-f]{14}$/);
});

test("protocol: the worker's Engine measures between the page's calls; info.measure comes with each answer", async () => {
  const d = device();
  const posted = [];
  const scope = {postMessage: (message) => posted.push(message)};
  serve(scope, (opts) => Engine.create(opts, {env: d.env, make: d.make, fetch: async () => LOADED}),
        (pixels, width, height) => new ImageData(pixels, width, height));
  const send = async (data) => { await scope.onmessage({data}); return posted.at(-1); };
  const init = await send({id: 1, type: 'init', options: options({size: SIZE, threads: 2, measureDownloads: true}, PAGE)});
  assert.equal(init.info.measure.status, 'waiting');
  const segment = (id) => send({id, type: 'segment', h: SIZE[0], w: SIZE[1], sh: SIZE[0], sw: SIZE[1],
                                pixels: new Uint8ClampedArray(SIZE[0] * SIZE[1] * 4)});
  assert.equal((await segment(2)).info.measure.status, 'measuring');
  await d.drain();
  const last = await segment(3);
  assert.deepEqual([last.ok, last.info.runtime, last.info.measure.status, last.labels[0]], [true, 'litert', 'measured', 1]);
});

// What the storage may hold for a size, as another version of the module, an extension or a user left it:
// none of it is believed (the build's choice runs, and the size is measured again).
const HOSTILE = {
  'a time that is a string': {winner: 'float32', ms: {tfjs: 'fast', float32: 3}},
  'a time that is null': {winner: 'float32', ms: {tfjs: null, float32: 3}},
  'a time of -1e308': {winner: 'tfjs', ms: {tfjs: -1e308, float32: 3}},
  'a time of 1e308': {winner: 'float32', ms: {tfjs: 1e308, float32: 3}},
  'a winner timed at 1e308': {winner: 'tfjs', ms: {tfjs: 1e308}},
  'a time above MAX_RUN_MS': {winner: 'float32', ms: {tfjs: MAX_RUN_MS + 1, float32: 3}},
  'a time of NaN': {winner: 'float32', ms: {tfjs: NaN, float32: 3}},
  'a time of Infinity': {winner: 'float32', ms: {tfjs: Infinity, float32: 3}},
  'a time of 0': {winner: 'tfjs', ms: {tfjs: 0, float32: 3}},
  'a winner that is no runtime': {winner: 'onnx', ms: {onnx: 1}},
  'a time of a runtime not measured here': {winner: 'float32', ms: {float32: 3, 'tfjs-webgpu': 9}},
  'a winner that is not the fastest': {winner: 'tfjs', ms: {tfjs: 10, float32: 3}},
  'a winner without a time': {winner: 'float32', ms: {tfjs: 10}},
  'a winner from the prototype': {winner: 'toString', ms: {tfjs: 10}},
  'times that are a list': {winner: 'tfjs', ms: [10]},
  'no times': {winner: 'tfjs', ms: {}},
  'a string': 'float32',
  'a number': 42,
};

test('storage: a kept measurement is believed only with sane times of runtimes measured here', async () => {
  const ids = ['tfjs', 'float32'];
  for (const [name, value] of Object.entries(HOSTILE)) assert.equal(readMeasurement(value, ids), null, name);
  assert.deepEqual(readMeasurement({winner: 'float32', ms: {tfjs: 10, float32: 3}, at: '2026-12-01T10:00:00.000Z'}, ids),
                   {winner: 'float32', ms: {tfjs: 10, float32: 3}, at: '2026-12-01T10:00:00.000Z'});
  assert.deepEqual(readMeasurement({winner: 'tfjs', ms: {tfjs: MAX_RUN_MS}, at: 12345}, ids), {winner: 'tfjs', ms: {tfjs: MAX_RUN_MS}, at: null});
  assert.equal(readMeasurement({winner: 'float32', ms: {tfjs: 10, float32: 3}, at: 'yesterday'}, ids).at, null);
});

test('storage: a segmenter reading what the storage holds runs the build choice, measures again and keeps the truth', async () => {
  const key = storeKey('abc123', SIZE, 2, 'FakeBrowser/1.0');
  for (const [name, value] of Object.entries(HOSTILE)) {
    const d = device({store: new Map([[key, value]])});
    const engine = await d.create();
    assert.deepEqual([engine.info.runtime, engine.info.measure.status], ['tfjs', 'waiting'], name);
    assert.match(engine.info.reason, /^fastest the build measured at 4x6/, name);
    const first = await run(engine);
    assert.equal(first.labels[0], 0, name);
    await d.drain();
    assert.deepEqual(d.store.get(key).ms, {tfjs: 10, float32: 3}, name);   // measured again, the store mended
    assert.equal((await run(engine)).info.reason, 'fastest measured on this device at 4x6: LiteRT.js float32 3.0 ms, tfjs wasm 10 ms', name);
  }
  // a kept date that is not one is left out of the reason, not a failure
  const d = device({store: new Map([[key, {winner: 'float32', ms: {tfjs: 10, float32: 3}, at: 12345}]])});
  const engine = await d.create();
  assert.equal(engine.info.measure.status, 'stored');
  assert.equal(engine.info.reason, 'fastest measured on this device at 4x6, kept from earlier: LiteRT.js float32 3.0 ms, tfjs wasm 10 ms');
});

test('storage: a store that never answers holds no segmenter and no call back', {timeout: 20000}, async () => {
  const never = () => new Promise(() => {});
  const slow = safeStore({get: never, set: never}, 20);
  assert.equal(await slow.get('k'), null);
  assert.equal(await slow.set('k', {winner: 'tfjs'}), false);
  const d = device();
  d.env.store = {get: never, set: never};
  d.env.storeTimeout = 20;
  const engine = await d.create();
  assert.deepEqual([engine.info.runtime, engine.info.measure.status], ['tfjs', 'waiting']);
  assert.equal((await run(engine)).labels[0], 0);
  await d.drain();
  assert.deepEqual([engine.measurer.summary(SIZE).status, engine.measurer.summary(SIZE).winner], ['measured', 'float32']);
  assert.equal((await run(engine)).labels[0], 1);
  // a store that answers after the time is up is not waited for either
  const late = device();
  late.env.store = {get: () => new Promise((resolve) => setTimeout(() => resolve({winner: 'float32', ms: {float32: 3}}), 500)),
                    set: async () => {}};
  late.env.storeTimeout = 20;
  assert.equal((await late.create()).info.measure.status, 'waiting');
});

// segmenter.js: semantic segmentation in the browser with a model built by patcher: its TensorFlow.js
// graph model (model.json) and, when built with --litert, its LiteRT.js models (litert/, one per size).
//
//   import { createSegmenter } from './segmenter.js';
//   const seg = await createSegmenter({ model: 'model.json', runtime: 'auto', size: [448, 448] });
//   const { labels, width, height, ms } = await seg.segment(source);   // labels: Uint8Array of class ids
//   const overlay = seg.colorize(labels, width, height, { alpha: 0.5 }); // ImageData
//   seg.classes; seg.palette; seg.info;                                 // from model.json; how it runs
//   seg.dispose();
//
// createSegmenter(options) -> Promise<Segmenter>. Options (all optional):
//   model    URL of model.json, relative to the page (default: the model.json next to this file).
//   runtime  'auto' (default): per size, first the fastest runtime the build measured in Chromium (tfjs
//            wasm, LiteRT.js float32, LiteRT.js int8 where the build recorded int8 as accurate; see
//            chooseRuntime; tfjs where the build has no LiteRT.js model at that size or measured none), then,
//            measured between calls on this device, the fastest here (lib/measure.js; the WebGPU runtimes
//            too where the browser offers an adapter), kept in the browser's storage for later loads.
//            'tfjs': model.json only. 'litert': LiteRT.js (a size without a model runs at the nearest
//            size built, and says so).
//   measure  true (default): runtime 'auto' measures on this device (above); false keeps the build's choice.
//   measureDownloads false (default): measuring compares only the runtimes this page has started (it fetches
//            nothing more); true lets it fetch the others' bundles and models.
//   precision 'auto' (default), 'float32' or 'int8' (LiteRT.js only).
//   backend  'wasm' (default), 'webgl', 'cpu' or 'webgpu': the TensorFlow.js backend (auto compares
//            runtimes under 'wasm' only); 'webgpu' runs LiteRT.js on its WebGPU accelerator too.
//   worker   true (default): run the model in a module Web Worker; where a worker cannot run it (no
//            module workers or OffscreenCanvas, or the backend does not start in a worker) the model runs
//            on the main thread and seg.info.fallback says why. false: the main thread.
//   threads  wasm threads: 0 (default) = one per logical core (navigator.hardwareConcurrency), N = N.
//            Threads need a cross-origin isolated page (COOP/COEP headers, as `patcher serve` sends);
//            elsewhere wasm runs one. tfjs-backend-wasm caps its pool at hardwareConcurrency / 2; this
//            module lifts that cap while the backend starts (see initBackend).
//   size     [height, width] to run the model at (default: the model's preferred size, model.json's
//            input.default_size; for a model.json without one, the source's own size scaled down to at most
//            MAX_PIXELS, lib/options.js); the class map is mapped back to the source's size by nearest
//            neighbour. seg.segment(source, {size}) overrides.
//   assets   folder holding tf.min.js, tf-backend-wasm.min.js and the .wasm files (default: this file's).
//   smoothing false (default), true or settings (lib/smoothing.js, SMOOTHING): video mode, each call's class
//            probabilities blended with the earlier calls' where the picture and the model agree.
//
// seg.segment(source, {size, masks, smoothing}?) -> Promise<{labels, masks?, width, height, ms, modelMs, size,
//   runtime, precision, reason}>: `source` is an HTMLImageElement, HTMLVideoElement, HTMLCanvasElement, ImageBitmap, ImageData,
//   OffscreenCanvas or VideoFrame; `labels` holds width * height class ids, row by row, at the source's size (Uint8Array;
//   Uint16Array for models of more than 256 classes); `ms` is the whole call, `modelMs` the model alone;
//   `size` is the [height, width] the model ran at; `runtime`, `precision` and `reason` say what ran it and why.
//   `masks`: 'all' or a list of class names: `result.masks` maps each to a Float32Array of width * height
//   probabilities (the softmax of the logits, bilinear to the source's size); `labels` are then their argmax.
//   `smoothing` overrides createSegmenter's for this call (false also forgets the past).
// recolor, replaceBackground, alphaMask, overlay (lib/effects.js): effects on a result with masks.
// seg.colorize(labels, width, height, {alpha = 1, transparent, palette}?) -> ImageData: the palette's
//   colour per pixel, opacity `alpha`, fully transparent for the classes in `transparent` (default: the
//   model's own list).
// seg.classes, seg.palette, seg.transparent, seg.title, seg.about, seg.sample (URL or null), seg.meta
//   (model.json's userDefinedMetadata): all from model.json. seg.info: what runs the last size asked for
//   (at creation: options.size, else the model's preferred size): {runtime: 'tfjs' | 'litert', precision,
//   size, model (the .tflite file, or null), reason, version, backend, worker, threadsRequested, threads,
//   simd, isolated, cores, fallback?, threadsReason?, measure} (threads and simd are null off wasm;
//   threadsReason: why wasm runs one thread, the page not being cross-origin isolated, also said once in
//   the console); measure: what auto measured on this device at that size ({status, candidates, ms, failed, winner, cost, longest, steps, bytes}) or
//   null (segmenter.d.ts's MeasureInfo).
// seg.memory() -> Promise<{tensors, heap}>: tfjs's live tensors and the JS heap where the model runs.
// seg.dispose(): ends the worker (or frees the model); calls still waiting are rejected.
//
// Every failure is a rejected promise with a SegmenterError: a `message` saying what went wrong, a `code`
// and a `hint` saying what to do (lib/errors.js's CODES; the table in docs/page.md): 'options',
// 'not-found', 'model', 'shard-missing', 'shard-size', 'tfjs', 'backend-unknown', 'backend', 'worker',
// 'litert', 'source', 'disposed', 'run'. A failure from the caller's input is the same in the worker and
// on the main thread.
//
// Preprocessing (x * scale + offset on 0..255 pixels, RGB or BGR), the class names, palette, transparent
// classes and the name of the labels output come from model.json's userDefinedMetadata.
//
// The module is split into files of one job each under lib/ (served as they are, no bundler): options.js
// (the options checked), choose.js (which runtime runs a size), model.js (model.json and its shards),
// pixels.js (reading and painting pixels), tfjs.js and litert.js (the two engines), engine.js (one
// segmenter's model), measure.js and store.js (auto's measuring on the device, and where it is kept),
// protocol.js and worker.js (the module worker), runners.js (worker or main thread).
// The worker is a module worker (lib/worker.js) importing the same files as the main thread.

import {SegmenterError} from './lib/errors.js';
import {checkSize, defaultSize, options} from './lib/options.js';
import {paint, sourceSize} from './lib/pixels.js';
import {classIndices} from './lib/masks.js';
import {mainRunner, noWorker, workerRunner} from './lib/runners.js';
import {smoothingOptions} from './lib/smoothing.js';

export {SegmenterError} from './lib/errors.js';
export {chooseRuntime} from './lib/choose.js';
export {alphaMask, overlay, recolor, replaceBackground} from './lib/effects.js';
export {SMOOTHING} from './lib/smoothing.js';

const HERE = new URL('./', import.meta.url).href;
// Errors after which the main thread is worth trying when the worker failed.
const FALLBACK = new Set(['worker', 'backend', 'tfjs', 'litert']);

// Said once per page in the console: wasm runs one thread because the page is not cross-origin isolated.
let toldThreads = false;

// `info` with threadsReason where wasm got one thread of more asked because the page is not isolated.
function threadsSaid(info) {
  if (info.isolated !== false || info.threads !== 1 || !(info.threadsRequested > 1)) return info;
  const threadsReason = `wasm runs 1 thread, not ${info.threadsRequested}: this page is not cross-origin isolated ` +
    '(serve it with the headers Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: ' +
    'require-corp, as `patcher serve` does)';
  if (!toldThreads) {
    toldThreads = true;
    console.warn(`segmenter.js: ${threadsReason}`);
  }
  return {...info, threadsReason};
}

class Segmenter {
  constructor(runner, {info, spec, meta}, opts) {
    this._runner = runner;
    this._size = opts.size;
    this._smoothing = opts.smoothing;
    this._disposed = false;
    this.info = threadsSaid(info);
    this.meta = meta;
    this.classes = spec.classes;
    this.palette = spec.palette;
    this.transparent = spec.transparent;
    this.title = spec.title;
    this.about = spec.about;
    this.sample = spec.sample;
    this.model = opts.model;
  }

  async segment(source, {size, masks, smoothing} = {}) {
    const start = performance.now();
    if (this._disposed) throw new SegmenterError('this segmenter was disposed', 'disposed');
    const [sw, sh] = sourceSize(source);
    const [h, w] = checkSize(size, 'size') || this._size || defaultSize(this.meta, sh, sw);
    const wants = {masks: masks == null ? null : classIndices(masks, this.classes),
                   smoothing: smoothing === undefined ? this._smoothing : smoothingOptions(smoothing)};
    const done = await this._runner.run(source, h, w, sh, sw, wants);
    this.info = threadsSaid({...done.info, ...(this.info.fallback ? {fallback: this.info.fallback} : {})});
    return {labels: done.labels, ...(wants.masks ? {masks: done.masks} : {}), width: sw, height: sh,
            ms: performance.now() - start, modelMs: done.modelMs, size: done.size, runtime: done.info.runtime,
            precision: done.info.precision, reason: done.info.reason};
  }

  colorize(labels, width, height, {alpha = 1, transparent = this.transparent, palette = this.palette} = {}) {
    if (!labels || labels.length !== width * height) {
      throw new SegmenterError(`colorize: ${labels ? labels.length : 0} labels for ${width} x ${height} pixels`, 'options');
    }
    return new ImageData(paint(labels, palette, transparent, alpha), width, height);
  }

  // Where the model runs (the worker, or this thread): {tensors: tfjs's live tensors (null if tfjs has not
  // run there), heap: the JavaScript heap in bytes (Chromium only, else null)}. For long sessions.
  async memory() {
    if (this._disposed) throw new SegmenterError('this segmenter was disposed', 'disposed');
    return this._runner.memory();
  }

  dispose() {
    if (this._disposed) return;
    this._disposed = true;
    this._runner.dispose();
  }
}

export async function createSegmenter(given = {}) {
  const base = typeof document !== 'undefined' ? document.baseURI : globalThis.location.href;
  const opts = {...options(given, {base, here: HERE}), smoothing: smoothingOptions(given.smoothing)};
  let fallback = null;
  if (opts.worker) {
    fallback = noWorker();
    if (!fallback) {
      let runner = null;
      try {
        runner = workerRunner(opts);
        return new Segmenter(runner, await runner.init(), opts);
      } catch (err) {
        if (runner) runner.dispose();
        if (!FALLBACK.has(err.code)) throw err;
        fallback = `the Web Worker could not run ${err.code === 'litert' ? 'LiteRT.js' : opts.backend}: ${err.message}`;
      }
    }
  }
  const runner = mainRunner(opts);
  try {
    const seg = new Segmenter(runner, await runner.init(), opts);
    if (fallback) seg.info = {...seg.info, fallback};
    return seg;
  } catch (err) {
    runner.dispose();
    throw err;
  }
}

// @ts-check
// stylizer.js: picture-to-picture models in the browser (a recipe output of kind `image`), built by patcher:
// its TensorFlow.js graph model (model.json) and, when built with --litert, its LiteRT.js models.
//
//   import { createStylizer } from './stylizer.js';
//   const sty = await createStylizer({ model: 'model.json' });
//   const { image, width, height } = await sty.stylize(picture);   // image: ImageData at the picture's size
//   sty.dispose();
//
// It is segmenter.js's engine with the picture kind's post-processing: the same runtimes (lib/tfjs.js,
// lib/litert.js), model loading (lib/model.js), `auto` and its measuring (lib/choose.js, lib/measure.js),
// worker (lib/create.js, lib/runners.js, lib/protocol.js, lib/worker.js) and errors (lib/errors.js:
// SegmenterError, with `code` and `hint`). The model's input is fed in the colour order its recipe says
// (BGR: channels swapped before the model); lib/picture.js maps its output back to pixels by the inverse of
// the input's scale and offset, clipped, in RGB order, at the source's size. Types: stylizer.d.ts.

import {Loaded, start} from './lib/create.js';
import {SegmenterError} from './lib/errors.js';
import {checkSize, defaultSize, options} from './lib/options.js';
import {sourceSize} from './lib/pixels.js';

export {SegmenterError} from './lib/errors.js';
export {MAX_PIXELS} from './lib/options.js';

/** @typedef {import('./stylizer.js').StylizerOptions} StylizerOptions */
/** @typedef {import('./stylizer.js').StylizeOptions} StylizeOptions */
/** @typedef {import('./stylizer.js').StylizeResult} StylizeResult */
/** @typedef {import('./stylizer.js').Stylizer} StylizerApi */
/** @typedef {import('./stylizer.js').Source} Source */
/** @typedef {import('./stylizer.js').RuntimeInfo} RuntimeInfo */
/** @typedef {import('./stylizer.js').ModelMetadata} ModelMetadata */

const HERE = new URL('./', import.meta.url).href;
// createSegmenter's options that apply to a picture model
const APPLY = ['model', 'runtime', 'precision', 'backend', 'measure', 'worker', 'threads', 'size', 'assets'];

/**
 * One picture model, loaded where it runs (see createStylizer).
 * @implements {StylizerApi}
 */
class Stylizer extends Loaded {
  /**
   * @param {any} runner runners.js's workerRunner or mainRunner, started
   * @param {{info: RuntimeInfo, spec: any, meta: ModelMetadata}} loaded what the runner's init() gave
   * @param {any} opts createStylizer's options, checked (options.js)
   */
  constructor(runner, loaded, opts) {
    super(runner, loaded, opts, 'stylizer');
    /** @type {string | null} */
    this.sampleCredit = loaded.spec.sampleCredit;
  }

  /**
   * The model's picture of `source`, at the source's size, in RGB order.
   * @param {Source} source a loaded image, a video with a frame, a canvas, an ImageBitmap, ImageData or a VideoFrame
   * @param {StylizeOptions} [options] size: [height, width] to run the model at
   * @returns {Promise<StylizeResult>}
   * @throws {SegmenterError} as a rejection: 'options' (a bad size), 'source', 'disposed', 'run', or any code
   *   of a runtime starting
   */
  async stylize(source, {size} = {}) {
    const begin = performance.now();
    this._alive();
    const [sw, sh] = sourceSize(source);
    const [h, w] = checkSize(size, 'size') || this._size || defaultSize(this.meta, sh, sw);
    const done = await this._runner.run(source, h, w, sh, sw, {});
    this.info = this._ran(done.info);
    return {image: new ImageData(done.pixels, sw, sh), width: sw, height: sh, ms: performance.now() - begin,
            modelMs: done.modelMs, size: done.size, runtime: done.info.runtime, precision: done.info.precision,
            reason: done.info.reason};
  }
}

/**
 * Loads a picture model built by patcher: in a module Web Worker unless `worker: false` (or where a worker
 * cannot run it: then on the page, and `sty.info.fallback` says why).
 * @param {StylizerOptions} [given] all optional; createSegmenter's meaning and defaults (docs/page.md)
 * @returns {Promise<StylizerApi>}
 * @throws {SegmenterError} as a rejection; `code` says what went wrong ('options', 'not-found', 'model', ...);
 *   a model.json whose output is a class map is 'model' (load it with segmenter.js)
 */
export async function createStylizer(given = {}) {
  if (!given || typeof given !== 'object') throw new SegmenterError('createStylizer takes an options object', 'options');
  const other = Object.keys(given).find((k) => !APPLY.includes(k));
  if (other) {
    throw new SegmenterError(`options.${other} does not apply to a picture model (createStylizer takes ` +
      `${APPLY.join(', ')})`, 'options');
  }
  const base = typeof document !== 'undefined' ? document.baseURI : globalThis.location.href;
  const opts = {...options(given, {base, here: HERE}), kind: /** @type {'image'} */ ('image')};
  const {made, fallback} = await start(opts, (runner, loaded) => new Stylizer(runner, loaded, opts));
  if (fallback) made.info = {...made.info, fallback};
  return made;
}

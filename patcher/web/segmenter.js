// @ts-check
// segmenter.js: semantic segmentation in the browser with a model built by patcher: its TensorFlow.js
// graph model (model.json) and, when built with --litert, its LiteRT.js models (litert/, one per size).
//
//   import { createSegmenter } from './segmenter.js';
//   const seg = await createSegmenter({ model: 'model.json' });
//   const { labels, width, height } = await seg.segment(image);
//   seg.dispose();
//
// The API's types are declared in segmenter.d.ts; the functions below carry JSDoc naming them, and
// tests/test_api_types.py type-checks this module against that file (tsc --checkJs), so the two cannot
// drift apart. docs/page.md explains options, results, effects and error codes.
//
// The parts, one job each under lib/ (served as they are, no bundler): options.js (the options checked),
// choose.js (which runtime runs a size), model.js (model.json and its shards), pixels.js (reading and
// painting pixels), tfjs.js and litert.js (the two engines), engine.js (one segmenter's model), measure.js
// and store.js (auto's measuring on the device, and where it is kept), protocol.js and worker.js (the
// module worker, importing the same files as the main thread), runners.js (worker or main thread), create.js
// (where the model starts; shared with stylizer.js), labels.js (the class-map kind's call),
// facemode.js, faces.js, litefaces.js, crop.js and track.js (face mode: faces found, cropped, parsed and
// pasted back).

import {SegmenterError} from './lib/errors.js';
import {faceOptions} from './lib/facemode.js';
import {checkSize, defaultSize, options} from './lib/options.js';
import {paint, sourceSize} from './lib/pixels.js';
import {classIndices} from './lib/masks.js';
import {Loaded, start} from './lib/create.js';
import {smoothingOptions} from './lib/smoothing.js';

export {SegmenterError} from './lib/errors.js';
export {chooseRuntime} from './lib/choose.js';
export {alphaMask, overlay, recolor, replaceBackground} from './lib/effects.js';
export {SMOOTHING} from './lib/smoothing.js';
export {MAX_PIXELS} from './lib/options.js';
export {FACES} from './lib/facemode.js';

/** @typedef {import('./segmenter.js').SegmenterOptions} SegmenterOptions */
/** @typedef {import('./segmenter.js').SegmentOptions} SegmentOptions */
/** @typedef {import('./segmenter.js').SegmentResult} SegmentResult */
/** @typedef {import('./segmenter.js').ColorizeOptions} ColorizeOptions */
/** @typedef {import('./segmenter.js').RuntimeInfo} RuntimeInfo */
/** @typedef {import('./segmenter.js').ModelMetadata} ModelMetadata */
/** @typedef {import('./segmenter.js').Source} Source */
/** @typedef {import('./segmenter.js').Color} Color */
/** @typedef {import('./segmenter.js').Size} Size */
/** @typedef {import('./segmenter.js').FaceSettings} FaceSettings */
/** @typedef {import('./segmenter.js').Segmenter} SegmenterApi */

const HERE = new URL('./', import.meta.url).href;

/**
 * One model, loaded where it runs (see createSegmenter).
 * @implements {SegmenterApi}
 */
class Segmenter extends Loaded {
  /**
   * @param {any} runner runners.js's workerRunner or mainRunner, started
   * @param {{info: RuntimeInfo, spec: any, meta: ModelMetadata}} loaded what the runner's init() gave
   * @param {any} opts createSegmenter's options, checked (options.js) and with smoothing's settings
   */
  constructor(runner, loaded, opts) {
    super(runner, loaded, opts, 'segmenter');
    this._smoothing = opts.smoothing;
    /** @type {FaceSettings | false} face mode's settings for calls that do not say (checked now) */
    this._faces = faceOptions(opts.faces, loaded.meta);
    this.classes = loaded.spec.classes;
    this.palette = loaded.spec.palette;
    this.transparent = loaded.spec.transparent;
  }

  /**
   * The class ids of `source` (and, when asked, class probabilities) at the source's size.
   * @param {Source} source a loaded image, a video with a frame, a canvas, an ImageBitmap, ImageData or a VideoFrame
   * @param {SegmentOptions} [options] size, masks, smoothing and faces for this call
   * @returns {Promise<SegmentResult>}
   * @throws {SegmenterError} as a rejection: 'options' (a bad size, class name or faces option), 'source',
   *   'disposed', 'run', 'not-found' (face mode: the detector's files), or any code of a runtime starting
   */
  async segment(source, {size, masks, smoothing, faces} = {}) {
    const start = performance.now();
    this._alive();
    const [sw, sh] = sourceSize(source);
    // no size asked for: the model's preferred size, else the source's own scaled down to MAX_PIXELS (never
    // refused: only a size asked for is checked against MAX_PIXELS, by checkSize here or in options())
    const [h, w] = checkSize(size, 'size') || this._size || defaultSize(this.meta, sh, sw);
    const wants = {masks: masks == null ? null : classIndices(masks, this.classes),
                   smoothing: smoothing === undefined ? this._smoothing : smoothingOptions(smoothing),
                   faces: faces === undefined ? this._faces : faceOptions(faces, this.meta, 'faces')};
    const done = await this._runner.run(source, h, w, sh, sw, wants);
    this.info = this._ran(done.info);
    return {labels: done.labels, ...(wants.masks ? {masks: done.masks} : {}), width: sw, height: sh,
            ms: performance.now() - start, modelMs: done.modelMs, size: done.size, runtime: done.info.runtime,
            precision: done.info.precision, reason: done.info.reason,
            ...(done.faces ? {faces: done.faces, times: done.times} : {})};
  }

  /**
   * Each pixel of `labels` in its class's colour at opacity `alpha`.
   * @param {ArrayLike<number>} labels width * height class ids, row by row
   * @param {number} width
   * @param {number} height
   * @param {ColorizeOptions} [options] alpha (0..1, default 1), transparent (class ids drawn clear), palette
   * @returns {ImageData}
   * @throws {SegmenterError} 'options' when labels does not hold width * height ids
   */
  colorize(labels, width, height, {alpha = 1, transparent = this.transparent, palette = this.palette} = {}) {
    if (!labels || labels.length !== width * height) {
      throw new SegmenterError(`colorize: ${labels ? labels.length : 0} labels for ${width} x ${height} pixels`, 'options');
    }
    return new ImageData(paint(labels, palette, transparent, alpha), width, height);
  }
}

/**
 * Loads a model built by patcher: in a module Web Worker unless `worker: false` (or where a worker cannot
 * run it: then on the page, and `seg.info.fallback` says why).
 * @param {SegmenterOptions} [given] all optional; docs/page.md has each one's default and meaning
 * @returns {Promise<SegmenterApi>}
 * @throws {SegmenterError} as a rejection; `code` says what went wrong ('options', 'not-found', 'model', ...)
 */
export async function createSegmenter(given = {}) {
  const base = typeof document !== 'undefined' ? document.baseURI : globalThis.location.href;
  const opts = {...options(given, {base, here: HERE}), smoothing: smoothingOptions(given.smoothing), kind: 'labels'};
  const {made, fallback} = await start(/** @type {any} */ (opts), (runner, loaded) => new Segmenter(runner, loaded, opts));
  if (fallback) made.info = {...made.info, fallback};
  return made;
}

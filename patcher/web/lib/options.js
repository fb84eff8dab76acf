// @ts-check
// options.js: createSegmenter's options checked and completed. Pure: no browser needed.
import {SegmenterError} from './errors.js';

/** @typedef {import('../segmenter.js').SegmenterOptions} SegmenterOptions */
/** @typedef {import('../segmenter.js').Size} Size */
/** @typedef {import('../segmenter.js').RuntimeOption} RuntimeOption */
/** @typedef {import('../segmenter.js').PrecisionOption} PrecisionOption */
/**
 * createSegmenter's options, checked and complete (`model` and `assets` absolute URLs; `smoothing` as given).
 * @typedef {{model: string, assets: string, runtime: RuntimeOption, precision: PrecisionOption, backend: string,
 *   measure: boolean, measureDownloads: boolean, worker: boolean, threads: number, size: Size | null, smoothing?: any,
 *   faces?: any, kind?: 'labels' | 'image'}} Options
 */

/** The runtime option's values. */
export const RUNTIMES = ['auto', 'tfjs', 'litert'];
/** The precision option's values. */
export const PRECISIONS = ['auto', 'float32', 'float16', 'int8'];
/**
 * The most pixels (height * width) the model is run at: 2048 x 2048. A run's memory grows with its pixels
 * (the input, every activation): an 8000 x 8000 source run at its own size took 4.1 GB and did not return.
 * A size asked for above it is refused with code 'options'; with no size asked for, a larger source (and a
 * model.json without input.default_size) is scaled down to it, aspect kept (defaultSize).
 */
export const MAX_PIXELS = 2048 * 2048;

/**
 * Checks that the model may run at h x w.
 * @param {number} h
 * @param {number} w
 * @param {string} what what asked for that size, for the message
 * @returns {void}
 * @throws {SegmenterError} 'options' above MAX_PIXELS, the limit in its hint
 */
export function checkPixels(h, w, what) {
  if (h * w > MAX_PIXELS) {
    throw new SegmenterError(`${what} [${h}, ${w}] is ${h * w} pixels, above the ${MAX_PIXELS} the model runs at`,
      'options', `ask for a size of at most ${MAX_PIXELS} pixels (2048 x 2048; MAX_PIXELS), such as [1024, 1024]: ` +
      'the class map comes back at the source\'s size whatever size the model runs at (with no size given, a ' +
      'larger source is scaled down to MAX_PIXELS)');
  }
}

/**
 * Checks the runtime and precision options.
 * @param {any} runtime one of RUNTIMES
 * @param {any} precision one of PRECISIONS
 * @returns {void}
 * @throws {SegmenterError} 'options' for any other value
 */
export function checkChoice(runtime, precision) {
  if (!RUNTIMES.includes(runtime)) {
    throw new SegmenterError(`options.runtime must be ${RUNTIMES.join(', ')}, not ${runtime}`, 'options');
  }
  if (!PRECISIONS.includes(precision)) {
    throw new SegmenterError(`options.precision must be ${PRECISIONS.join(', ')}, not ${precision}`, 'options');
  }
}

/**
 * A size option checked.
 * @param {any} size [height, width] in whole pixels, or null / undefined
 * @param {string} what the option's name, for the message
 * @returns {Size | null} `size` as given, or null
 * @throws {SegmenterError} 'options' naming `what` for anything else, or a size above MAX_PIXELS
 */
export function checkSize(size, what) {
  if (size == null) return null;
  if (!Array.isArray(size) || size.length !== 2 || !size.every((n) => Number.isInteger(n) && n > 0)) {
    throw new SegmenterError(`${what} must be [height, width] in whole pixels, not ${JSON.stringify(size)}`, 'options');
  }
  checkPixels(size[0], size[1], what);
  return /** @type {Size} */ (size);
}

/**
 * The [height, width] to run at when none is asked for: the model's preferred size (model.json's
 * input.default_size, the recipe's), else the source's own scaled down, aspect kept, to at most MAX_PIXELS.
 * @param {any} meta model.json's userDefinedMetadata (ModelMetadata), or null
 * @param {number} sh the source's height in pixels
 * @param {number} sw the source's width in pixels
 * @returns {Size | null} null for a source without a size and a model without a preferred one
 */
export function defaultSize(meta, sh, sw) {
  const preferred = meta && meta.input && meta.input.default_size;
  if (Array.isArray(preferred) && preferred.length === 2 && preferred.every((n) => Number.isInteger(n) && n > 0)) {
    return [preferred[0], preferred[1]];
  }
  if (!sh || !sw || sh * sw <= MAX_PIXELS) return sh && sw ? [sh, sw] : null;
  const k = Math.sqrt(MAX_PIXELS / (sh * sw));
  return [Math.max(1, Math.floor(sh * k)), Math.max(1, Math.floor(sw * k))];
}

/**
 * createSegmenter's options with the defaults filled in, `model` and `assets` as absolute URLs against
 * `base` (the page's URL), both defaulting to `here` (segmenter.js's folder: its model.json, its bundles),
 * so a package loads its own files wherever it is served.
 * @param {SegmenterOptions} given
 * @param {{base: string, here: string}} where
 * @returns {Options}
 * @throws {SegmenterError} 'options' for a bad option
 */
export function options(given, {base, here}) {
  /** @type {any} */
  const o = {model: `${here}model.json`, backend: 'wasm', worker: true, threads: 0, size: null, assets: here,
             runtime: 'auto', precision: 'auto', measure: true, measureDownloads: false, ...given};
  if (typeof o.model !== 'string' && !(o.model instanceof URL)) throw new SegmenterError('options.model must be a URL', 'options');
  if (typeof o.backend !== 'string' || !o.backend) throw new SegmenterError('options.backend must be a backend name such as wasm, webgl or cpu', 'options');
  if (!Number.isInteger(o.threads) || o.threads < 0) throw new SegmenterError(`options.threads must be 0 (one per core) or a whole number of threads, not ${o.threads}`, 'options');
  if (typeof o.measure !== 'boolean') throw new SegmenterError(`options.measure must be true or false, not ${o.measure}`, 'options');
  if (typeof o.measureDownloads !== 'boolean') {
    throw new SegmenterError(`options.measureDownloads must be true or false, not ${o.measureDownloads}`, 'options');
  }
  checkSize(o.size, 'options.size');
  checkChoice(o.runtime, o.precision);
  return {...o, model: new URL(o.model, base).href, assets: new URL(o.assets, base).href.replace(/\/?$/, '/'),
          worker: Boolean(o.worker)};
}

// options.js: createSegmenter's options checked and completed. Pure: no browser needed.
import {SegmenterError} from './errors.js';

export const RUNTIMES = ['auto', 'tfjs', 'litert'];
export const PRECISIONS = ['auto', 'float32', 'int8'];
// The most pixels (height * width) the model runs at when no size is asked for: a larger source, with a
// model.json that names no preferred size, is scaled down to it (2048 x 2048, the page's largest size).
export const MAX_PIXELS = 2048 * 2048;

// SegmenterError 'options' unless `runtime` and `precision` are among RUNTIMES and PRECISIONS.
export function checkChoice(runtime, precision) {
  if (!RUNTIMES.includes(runtime)) {
    throw new SegmenterError(`options.runtime must be ${RUNTIMES.join(', ')}, not ${runtime}`, 'options');
  }
  if (!PRECISIONS.includes(precision)) {
    throw new SegmenterError(`options.precision must be ${PRECISIONS.join(', ')}, not ${precision}`, 'options');
  }
}

// `size` ([height, width], whole pixels) as given, or null; SegmenterError 'options' naming `what` otherwise.
export function checkSize(size, what) {
  if (size == null) return null;
  if (!Array.isArray(size) || size.length !== 2 || !size.every((n) => Number.isInteger(n) && n > 0)) {
    throw new SegmenterError(`${what} must be [height, width] in whole pixels, not ${JSON.stringify(size)}`, 'options');
  }
  return size;
}

// The [height, width] to run at when none is asked for: the model's preferred size (model.json's
// input.default_size, the recipe's), else the source's own (sw x sh) scaled down, aspect kept, to at most
// MAX_PIXELS.
export function defaultSize(meta, sh, sw) {
  const preferred = meta && meta.input && meta.input.default_size;
  if (Array.isArray(preferred) && preferred.length === 2 && preferred.every((n) => Number.isInteger(n) && n > 0)) {
    return [preferred[0], preferred[1]];
  }
  if (!sh || !sw || sh * sw <= MAX_PIXELS) return sh && sw ? [sh, sw] : null;
  const k = Math.sqrt(MAX_PIXELS / (sh * sw));
  return [Math.max(1, Math.floor(sh * k)), Math.max(1, Math.floor(sw * k))];
}

// createSegmenter's options with the defaults filled in, `model` and `assets` as absolute URLs against
// `base` (the page's URL), both defaulting to `here` (segmenter.js's folder: its model.json, its bundles),
// so a package loads its own files wherever it is served; SegmenterError 'options'.
export function options(given, {base, here}) {
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

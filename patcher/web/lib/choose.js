// @ts-check
// choose.js: which runtime runs a size, from the build's measurements (model.json's
// userDefinedMetadata.litert). Pure: no browser needed.
import {SegmenterError} from './errors.js';
import {checkChoice} from './options.js';

/** @typedef {import('../segmenter.js').Size} Size */
/** @typedef {import('../segmenter.js').ModelMetadata} ModelMetadata */
/** @typedef {import('../segmenter.js').RuntimeChoice} RuntimeChoice */
/** @typedef {import('../segmenter.js').RuntimeOption} RuntimeOption */
/** @typedef {import('../segmenter.js').PrecisionOption} PrecisionOption */
/** @typedef {import('../segmenter.js').Backend} Backend */
/** @typedef {import('../segmenter.js').RuntimeId} RuntimeId */
/** @typedef {{runtime?: RuntimeOption, precision?: PrecisionOption, backend?: Backend}} ChoiceOptions */
/** @typedef {RuntimeChoice & {id: RuntimeId}} Candidate a runtime `auto` times, with its id */

/**
 * True when both sizes are given and equal.
 * @param {Size | null | undefined} a
 * @param {Size | null | undefined} b
 * @returns {boolean}
 */
export const same = (a, b) => Boolean(a && b) && a[0] === b[0] && a[1] === b[1];
/**
 * @param {Size | null | undefined} s
 * @returns {string} "HxW", or "the source's size"
 */
export const sizeText = (s) => (s ? `${s[0]}x${s[1]}` : "the source's size");
/**
 * @param {number} ms
 * @returns {string} "12 ms", "3.4 ms"
 */
export const msText = (ms) => `${ms.toFixed(ms < 10 ? 1 : 0)} ms`;
// The precisions only LiteRT.js models have (lossy: `auto` takes one only where the build recorded it as
// accurate, its `accurate` flag).
const LOSSY = ['float16', 'int8'];
// LiteRT.js runs on its WebGPU accelerator when backend 'webgpu' is asked for, else on wasm.
const liteBackend = (backend) => (backend === 'webgpu' ? 'webgpu' : 'wasm');

/**
 * A runtime's id, as the build's timings and seg.info.measure name it: 'tfjs' (tfjs on wasm), 'float32' and
 * 'int8' (LiteRT.js on wasm), with '-webgpu' for the WebGPU runtimes ('tfjs-webgpu', 'float32-webgpu');
 * for tfjs on another backend, 'tfjs-BACKEND'.
 * @param {{runtime: string, precision: string, backend?: string}} choice
 * @returns {RuntimeId}
 */
export function runtimeId({runtime, precision, backend = 'wasm'}) {
  const base = runtime === 'tfjs' ? 'tfjs' : precision;
  return backend === 'wasm' ? base : `${base}-${backend}`;
}

/**
 * What people read for an id: 'tfjs wasm', 'LiteRT.js float32', 'LiteRT.js float32 webgpu', 'tfjs webgpu'.
 * @param {RuntimeId} id
 * @returns {string}
 */
export function label(id) {
  const [base, backend] = id.split('-');
  return base === 'tfjs' ? `tfjs ${backend || 'wasm'}` : `LiteRT.js ${base}${backend ? ` ${backend}` : ''}`;
}
const pct = (v) => `${(100 * v).toFixed(2)}%`;

/**
 * What the build measured of a LiteRT.js model against TensorFlow, in words (for a reason; whether a model
 * may run is its `accurate` flag, the output kind's verdict, never these numbers): a picture's PSNR, a
 * class map's agreement away from class boundaries.
 * @param {Record<string, any>} a the model's `accuracy` record
 * @returns {string}
 */
function measuredText(a) {
  if (typeof a.psnr === 'number') return `PSNR ${a.psnr.toFixed(1)} dB against TensorFlow`;
  const share = a.away_from_boundary != null ? a.away_from_boundary : a.overall;
  return typeof share === 'number' ? `${pct(share)} agreement with TensorFlow away from class boundaries` : 'no measured accuracy';
}

/**
 * The built size nearest `size` (by area and aspect ratio); the first one without a size.
 * @param {Size[]} sizes the built sizes (at least one)
 * @param {Size | null} size
 * @returns {Size}
 */
export function nearestSize(sizes, size) {
  if (!size) return sizes[0];
  const area = size[0] * size[1];
  const gap = (s) => Math.abs(Math.log((s[0] * s[1]) / area)) + Math.abs(Math.log((s[0] / s[1]) / (size[0] / size[1])));
  return sizes.reduce((best, s) => (gap(s) < gap(best) ? s : best));
}

/**
 * What runs the model at a size. `auto` takes the fastest of what the build measured in Chromium at that
 * size (tfjs-wasm, LiteRT.js float32, LiteRT.js float16 and int8 where the build recorded them as accurate:
 * their `accurate` flag, by the output kind's floor); with no
 * measurement, tfjs. A size without a LiteRT.js model runs on tfjs (runtime 'auto') or on the nearest size
 * that has one (runtime 'litert').
 * @param {ModelMetadata | null | undefined} meta model.json's userDefinedMetadata (its `litert` part)
 * @param {ChoiceOptions} [options] runtime, precision and backend as createSegmenter takes them
 * @param {Size | null} [size] [height, width], or null for the source's own
 * @returns {RuntimeChoice}
 * @throws {SegmenterError} 'options' for a choice the build cannot serve
 */
export function chooseRuntime(meta, {runtime = 'auto', precision = 'auto', backend = 'wasm'} = {}, size = null) {
  const bad = (message) => new SegmenterError(message, 'options');
  checkChoice(runtime, precision);
  const lite = meta && typeof meta.litert === 'object' && meta.litert ? meta.litert : null;
  const models = lite && Array.isArray(lite.models) ? lite.models.filter((m) => m && Array.isArray(m.size)) : [];
  const tfjsPrecision = /** @type {string} */ ((meta && meta.patcher && meta.patcher.quantization) || 'float32');
  /** @type {(reason: string) => RuntimeChoice} */
  const tfjs = (reason) => ({runtime: 'tfjs', precision: tfjsPrecision, backend, size, file: null, reason});
  const liteOnly = LOSSY.includes(precision);
  if (runtime === 'tfjs') {
    if (liteOnly) throw bad(`precision '${precision}' is a LiteRT.js model: use runtime 'litert' or 'auto'`);
    return tfjs('runtime tfjs was asked for');
  }
  if (!models.length) {
    if (runtime === 'litert' || liteOnly) {
      throw bad("this build has no LiteRT.js models (build it with 'python -m patcher build --litert')");
    }
    return tfjs('this build has no LiteRT.js models');
  }
  if (runtime === 'auto' && backend !== 'wasm' && !liteOnly) {
    return tfjs(`backend ${backend} was asked for (the build measured LiteRT.js against tfjs on wasm)`);
  }
  const sizes = [];
  for (const m of models) if (!sizes.some((s) => same(s, m.size))) sizes.push(m.size);
  let at = sizes.find((s) => same(s, size)) || null;
  let moved = '';
  if (!at) {
    const built = sizes.map(sizeText).join(', ');
    if (runtime === 'auto' && !liteOnly) {
      return tfjs(`no LiteRT.js model at ${sizeText(size)} (built: ${built}); tfjs runs any size`);
    }
    at = nearestSize(sizes, size);
    moved = `no LiteRT.js model at ${sizeText(size)}, so the nearest built size, ${sizeText(at)}; `;
  }
  const here = models.filter((m) => same(m.size, at));
  const timing = (Array.isArray(lite.timings) ? lite.timings : []).find((t) => t && same(t.size, at) && t.ms);
  const ms = (key) => (timing && typeof timing.ms[key] === 'number' ? timing.ms[key] : null);
  const lite8 = here.find((m) => m.precision === 'int8');
  const lite16 = here.find((m) => m.precision === 'float16');
  const lite32 = here.find((m) => m.precision === 'float32');
  /** @type {(m: any, reason: string) => RuntimeChoice} */
  const litert = (m, reason) => ({runtime: 'litert', precision: m.precision, backend: liteBackend(backend), size: at,
                                  file: m.file, reason: moved + reason});
  const accuracy = (m) => measuredText(m.accuracy || {});
  if (precision !== 'auto') {
    const m = here.find((x) => x.precision === precision);
    if (!m) throw bad(`this build has no ${precision} LiteRT.js model at ${sizeText(at)}`);
    if (liteOnly) {
      return litert(m, `precision ${precision} was asked for (${accuracy(m)}${m.accurate ? '' : ', under the build\'s floor'})`);
    }
    if (runtime === 'litert' || !same(at, size)) return litert(m, 'runtime litert, precision float32 were asked for');
  }
  // the candidates, with what the build measured
  const candidates = [];
  if (lite32) candidates.push({key: 'float32', pick: lite32, ms: ms('float32')});
  if (lite16 && lite16.accurate && precision === 'auto') candidates.push({key: 'float16', pick: lite16, ms: ms('float16')});
  if (lite8 && lite8.accurate && precision === 'auto') candidates.push({key: 'int8', pick: lite8, ms: ms('int8')});
  if (runtime === 'auto' && same(at, size)) candidates.push({key: 'tfjs', pick: null, ms: ms('tfjs')});
  const left = [lite16, lite8].filter((m) => m && !m.accurate && precision === 'auto')
    .map((m) => `; ${m.precision} left out: ${accuracy(m)}, under the build's floor`).join('');
  const measured = candidates.filter((c) => c.ms != null);
  if (!measured.length) {
    if (runtime === 'auto') return tfjs(`the build measured no speeds at ${sizeText(at)}${left}`);
    const pick = candidates.find((c) => c.key === 'int8') || candidates[0];
    if (!pick) throw bad(`this build has no LiteRT.js model at ${sizeText(at)}`);
    return litert(pick.pick, `runtime litert was asked for; the build measured no speeds, so int8 where accurate${left}`);
  }
  measured.sort((a, b) => a.ms - b.ms);
  const threads = timing.threads ? `, ${timing.threads} thread${timing.threads === 1 ? '' : 's'}` : '';
  const why = `fastest the build measured at ${sizeText(at)} (${timing.browser || 'Chromium'}${threads}): ` +
    measured.map((c) => `${label(c.key)} ${msText(c.ms)}`).join(', ') + left;
  const best = measured[0];
  return best.key === 'tfjs' ? tfjs(why) : litert(best.pick, why);
}

/**
 * What `auto` times on this device at a size: tfjs-wasm, LiteRT.js float32, float16 and int8 (float16 and
 * int8 where the build found them accurate, or where that precision was asked for) on wasm, and, when
 * `gpu`, tfjs's webgpu backend and LiteRT.js float32 on its WebGPU accelerator. Empty unless runtime and
 * backend are 'auto' and 'wasm' (the defaults) and `size` is given; LiteRT.js only where the build has a model at `size`.
 * @param {ModelMetadata | null | undefined} meta model.json's userDefinedMetadata
 * @param {ChoiceOptions} [options]
 * @param {Size | null} [size] [height, width]
 * @param {boolean} [gpu] the browser offers a WebGPU adapter
 * @returns {Candidate[]}
 */
export function candidates(meta, {runtime = 'auto', precision = 'auto', backend = 'wasm'} = {}, size = null, gpu = false) {
  if (runtime !== 'auto' || backend !== 'wasm' || !size) return [];
  const lite = meta && typeof meta.litert === 'object' && meta.litert ? meta.litert : {};
  const models = (Array.isArray(lite.models) ? lite.models : []).filter((m) => m && Array.isArray(m.size) && same(m.size, size));
  const tfjsPrecision = (meta && meta.patcher && meta.patcher.quantization) || 'float32';
  const found = [];
  const add = (runtime_, precision_, backend_, file) => found.push({
    id: runtimeId({runtime: runtime_, precision: precision_, backend: backend_}), runtime: runtime_,
    precision: precision_, backend: backend_, size, file, reason: ''});
  const f32 = models.find((m) => m.precision === 'float32');
  const liteOnly = LOSSY.includes(precision);
  if (!liteOnly) add('tfjs', tfjsPrecision, 'wasm', null);
  if (f32 && !liteOnly) add('litert', 'float32', 'wasm', f32.file);
  for (const lossy of LOSSY) {
    const m = models.find((x) => x.precision === lossy);
    if (m && (precision === lossy || (precision === 'auto' && m.accurate))) add('litert', lossy, 'wasm', m.file);
  }
  if (gpu && !liteOnly) {
    add('tfjs', tfjsPrecision, 'webgpu', null);
    if (f32) add('litert', 'float32', 'webgpu', f32.file);
  }
  return found;
}

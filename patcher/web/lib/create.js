// @ts-check
// create.js: what createSegmenter and createStylizer share: the model started in a module Web Worker (or
// on the page where a worker cannot run it, saying why), and the note on wasm threads a page that is not
// cross-origin isolated gets.
import {SegmenterError} from './errors.js';
import {mainRunner, noWorker, workerRunner} from './runners.js';

/** @typedef {import('../segmenter.js').RuntimeInfo} RuntimeInfo */
/** @typedef {import('../segmenter.js').ModelMetadata} ModelMetadata */
/** @typedef {import('./runners.js').Runner} Runner */

// Errors after which the main thread is worth trying when the worker failed.
const FALLBACK = new Set(['worker', 'backend', 'tfjs', 'litert']);

// Said once per page in the console: wasm runs one thread because the page is not cross-origin isolated.
let toldThreads = false;

/**
 * `info` with threadsReason where wasm got one thread of more asked because the page is not cross-origin
 * isolated (said once per page in the console too).
 * @param {RuntimeInfo} info what the runner says runs the size
 * @param {string} [who] the module saying it, for the console
 * @returns {RuntimeInfo} `info`, or a copy with threadsReason
 */
export function threadsSaid(info, who = 'segmenter.js') {
  if (info.isolated !== false || info.threads !== 1 || !((info.threadsRequested || 0) > 1)) return info;
  const threadsReason = `wasm runs 1 thread, not ${info.threadsRequested}: this page is not cross-origin isolated ` +
    '(serve it with the headers Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: ' +
    'require-corp, as `patcher serve` does)';
  if (!toldThreads) {
    toldThreads = true;
    console.warn(`${who}: ${threadsReason}`);
  }
  return {...info, threadsReason};
}

/**
 * The model loaded where it runs: in a module Web Worker unless `opts.worker` is false, or on the page where
 * a worker cannot run it (`fallback` says why); `make` builds the module's object from the started runner.
 * @template T
 * @param {import('./options.js').Options} opts checked options (with `kind`: the output kind the module handles)
 * @param {(runner: Runner, loaded: {info: RuntimeInfo, spec: any, meta: any}) => T} make
 * @returns {Promise<{made: T, fallback: string | null}>}
 * @throws {SegmenterError} as a rejection, any code of loading the model or starting its runtime
 */
export async function start(opts, make) {
  let fallback = null;
  if (opts.worker) {
    fallback = noWorker();
    if (!fallback) {
      /** @type {Runner | null} */
      let runner = null;
      try {
        runner = workerRunner(opts);
        return {made: make(runner, await runner.init()), fallback: null};
      } catch (err) {
        if (runner) runner.dispose();
        if (!FALLBACK.has(err.code)) throw err;
        fallback = `the Web Worker could not run ${err.code === 'litert' ? 'LiteRT.js' : opts.backend}: ${err.message}`;
      }
    }
  }
  const runner = mainRunner(opts);
  try {
    return {made: make(runner, await runner.init()), fallback};
  } catch (err) {
    runner.dispose();
    throw err;
  }
}

/**
 * What a segmenter and a stylizer share: the model's runner, its facts, `memory()` and `dispose()`.
 */
export class Loaded {
  /**
   * @param {any} runner runners.js's workerRunner or mainRunner, started
   * @param {{info: RuntimeInfo, spec: any, meta: ModelMetadata}} loaded what the runner's init() gave
   * @param {any} opts the module's options, checked (options.js)
   * @param {string} who the module, for messages ('segmenter', 'stylizer')
   */
  constructor(runner, {info, spec, meta}, opts, who) {
    this._runner = runner;
    this._size = opts.size;
    this._disposed = false;
    this._who = who;
    /** @type {RuntimeInfo} */
    this.info = threadsSaid(info, `${who}.js`);
    /** @type {ModelMetadata} */
    this.meta = meta;
    /** @type {string | null} */
    this.title = spec.title;
    /** @type {string | null} */
    this.about = spec.about;
    /** @type {string | null} */
    this.sample = spec.sample;
    /** @type {string} */
    this.model = opts.model;
  }

  /**
   * Rejects a call after dispose().
   * @returns {void}
   * @throws {SegmenterError} 'disposed'
   */
  _alive() {
    if (this._disposed) throw new SegmenterError(`this ${this._who} was disposed`, 'disposed');
  }

  /**
   * `info` after a call that ran with `info` (the fallback reason kept, the threads note added).
   * @param {RuntimeInfo} info
   * @returns {RuntimeInfo}
   */
  _ran(info) {
    return threadsSaid({...info, ...(this.info.fallback ? {fallback: this.info.fallback} : {})}, `${this._who}.js`);
  }

  /**
   * What the model's thread holds, for long sessions.
   * @returns {Promise<{tensors: number | null, heap: number | null}>} tfjs's live tensors where the model
   *   runs (null before tfjs has run there) and the JavaScript heap in bytes (Chromium only, else null)
   * @throws {SegmenterError} 'disposed' as a rejection
   */
  async memory() {
    this._alive();
    return this._runner.memory();
  }

  /**
   * Ends the worker (or frees the model); calls still waiting, and every later one, are rejected.
   * @returns {void}
   */
  dispose() {
    if (this._disposed) return;
    this._disposed = true;
    this._runner.dispose();
  }
}

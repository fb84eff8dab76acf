// measure.js: `auto` measures on the device it runs on. The first calls at a size run the build's choice
// (chooseRuntime); after the first call, between calls, each candidate at that size (choose.js's
// candidates: tfjs-wasm, LiteRT.js float32 and int8, and the WebGPU runtimes where the browser offers an
// adapter; unless options.measureDownloads, only those this page has started already, so nothing more is
// fetched) is started, run WARMUP times untimed and RUNS times timed on that call's pixels, one run per
// step, a step only while no call is running (a call that comes meanwhile waits for that one step; only the
// start and untimed run of the library not in use, tfjs or LiteRT.js, let calls run beside them). When all
// are timed, the fastest runs the later calls, and the result is kept in the browser's storage (store.js)
// under the model's hash, the size, the thread count and the browser, so a later segmenter starts with it.
// Pure apart from what `env` gives: Node tests drive it with fake engines, clock and storage.
import {candidates, label, msText, runtimeId, sizeText} from './choose.js';
import {cores} from './env.js';
import {deviceStore, readMeasurement, safeStore, storeKey} from './store.js';

/** @typedef {import('../segmenter.js').Size} Size */
/** @typedef {import('../segmenter.js').MeasureInfo} MeasureInfo */
/** @typedef {import('./choose.js').Candidate} Candidate */
/**
 * What the measuring needs from the browser: where to keep results, a clock in ms, a way to run a function
 * between calls, whether a WebGPU adapter is offered, the user agent, how long a storage call may take
 * (ms; default store.js's STORE_TIMEOUT), and the bytes this thread has fetched so far (optional; for
 * info.measure.bytes).
 * @typedef {{store: import('./store.js').Store, clock: () => number, later: (fn: () => unknown) => unknown,
 *   gpu: () => Promise<boolean>, browser: string, storeTimeout?: number, fetched?: () => number}} MeasureEnv
 */

/** Untimed runs of a candidate first (the first runs set up buffers, kernels, shaders). */
export const WARMUP = 1;
/** Timed runs per candidate; its time is the fastest of them. */
export const RUNS = 2;

/**
 * What this browser gives the measuring.
 * @returns {MeasureEnv}
 */
export function deviceEnv() {
  let adapter = null;
  const idle = typeof requestIdleCallback === 'function' ? (fn) => requestIdleCallback(fn, {timeout: 200})
    : (fn) => setTimeout(fn, 0);
  return {
    store: deviceStore(),
    clock: () => performance.now(),
    later: idle,
    gpu: () => {
      if (!adapter) {
        adapter = (async () => Boolean(typeof navigator !== 'undefined' && navigator.gpu &&
                                       await navigator.gpu.requestAdapter()))().catch(() => false);
      }
      return adapter;
    },
    browser: typeof navigator !== 'undefined' ? navigator.userAgent : 'unknown',
    fetched: fetchedBytes,
  };
}

/**
 * The bytes this thread has fetched so far (network or HTTP cache): the resource timing entries' sizes.
 * @returns {number}
 */
function fetchedBytes() {
  if (typeof performance === 'undefined' || !performance.getEntriesByType) return 0;
  if (!fetchedBytes.grown && performance.setResourceTimingBufferSize) {
    performance.setResourceTimingBufferSize(100000);
    fetchedBytes.grown = true;
  }
  return performance.getEntriesByType('resource').reduce((n, e) => n + (e.transferSize || e.encodedBodySize || 0), 0);
}

/** `auto`'s measuring for one Engine, size by size. */
export class Measurer {
  /**
   * @param {any} engine the Engine measured for (its meta, opts, spec, active, disposed, prepare(choice))
   * @param {MeasureEnv} env deviceEnv(), or fakes in tests
   * @param {string} hash the model's (model.js's hashText of model.json)
   */
  constructor(engine, env, hash) {
    Object.assign(this, {engine, env, hash, store: safeStore(env.store, env.storeTimeout), made: new Map(), states: new Map(),
                         busy: null, planned: false});
  }

  /**
   * @param {Size} size
   * @returns {string} where the measurement at `size` is kept (store.js's storeKey)
   */
  key(size) {
    const threads = this.engine.opts.threads || cores();
    return storeKey(this.hash, size, threads, this.env.browser);
  }

  /**
   * The state of `size`, made on first use, from storage if kept.
   * @param {Size} size
   * @returns {Promise<any>} {size, status ('none' | 'waiting' | 'measuring' | 'measured' | 'stored'), list
   *   (the candidates), ms, failed, winner, cost, longest, steps, queue}
   */
  async state(size) {
    const key = this.key(size);
    if (!this.made.has(key)) {
      this.made.set(key, (async () => {
        const list = candidates(this.engine.meta, this.engine.opts, size, await this.env.gpu());
        const s = {size, key, status: list.length > 1 ? 'waiting' : 'none', list, ms: {}, failed: {}, winner: null,
                   cost: 0, longest: 0, aside: 0, steps: 0, bytes: 0, queue: null, pixels: null, at: null, using: null};
        const kept = s.status === 'none' ? null : readMeasurement(await this.store.get(key), list.map((c) => c.id));
        if (kept) {
          Object.assign(s, {status: 'stored', winner: kept.winner, ms: kept.ms, at: kept.at || null});
        }
        this.states.set(key, s);
        return s;
      })());
    }
    return this.made.get(key);
  }

  /**
   * The measured (or stored) fastest choice at `size`, with its reason.
   * @param {Size} size
   * @returns {Promise<Candidate | null>} null while there is none
   */
  async pick(size) {
    const s = await this.state(size);
    const c = s.winner && s.list.find((x) => x.id === s.winner);
    if (!c) return null;
    const times = Object.entries(s.ms).sort((a, b) => a[1] - b[1]).map(([id, ms]) => `${label(id)} ${msText(ms)}`);
    const kept = s.status === 'stored' ? `, kept from ${s.at ? s.at.slice(0, 10) : 'earlier'}` : '';
    return {...c, reason: `fastest measured on this device at ${sizeText(size)}${kept}: ${times.join(', ')}`};
  }

  /**
   * The picked choice at `size` did not start: measure again without it.
   * @param {Size} size
   * @param {Error} err why it did not start
   * @returns {Promise<void>}
   */
  async drop(size, err) {
    const s = await this.state(size);
    s.failed[s.winner] = err.message;
    s.list = s.list.filter((c) => c.id !== s.winner);
    Object.assign(s, {winner: null, ms: {}, queue: null, status: s.list.length > 1 ? 'waiting' : 'none'});
  }

  /**
   * For seg.info.measure (bytes: what the steps fetched, the other runtimes' bundles and models).
   * @param {Size | null} size
   * @returns {MeasureInfo | null} null where nothing is measured at `size`
   */
  summary(size) {
    const s = size && this.states.get(this.key(size));
    if (!s || s.status === 'none') return null;
    return {status: s.status, size: s.size, candidates: s.list.map((c) => c.id), ms: {...s.ms}, failed: {...s.failed},
            winner: s.winner, cost: s.cost, longest: s.longest, aside: s.aside, steps: s.steps, bytes: s.bytes};
  }

  /**
   * A call at `size` ran `current` on `pixels`: measuring starts, or goes on, after it.
   * @param {Size} size
   * @param {ImageData} pixels the call's, at `size` (the candidates run on them)
   * @param {{runtime: string, precision: string, backend?: string}} current the choice that ran the call
   * @returns {void}
   */
  after(size, pixels, current) {
    const s = this.states.get(this.key(size));
    if (!s || (s.status !== 'waiting' && s.status !== 'measuring')) return;
    s.pixels = pixels;
    if (s.status === 'waiting' && !this.engine.opts.measureDownloads) {
      // only what this page has fetched already: the runtimes started here
      s.list = s.list.filter((c) => this.engine.prepared.has(c.id));
      if (s.list.length < 2) { s.status = 'none'; return; }
    }
    if (s.status === 'waiting') {
      const now = runtimeId(current);
      // the choice in use first (it is warm), then the others
      s.queue = s.list.map((c) => ({...c, prepared: null, warm: c.id === now ? WARMUP : 0, times: []}))
        .sort((a, b) => (b.id === now) - (a.id === now));
      s.status = 'measuring';
      s.using = current.runtime;
    }
    this.plan();
  }

  /**
   * @returns {Promise<void> | null} a promise while a step runs (a call waits for it before it runs its
   *   model), else null
   */
  idle() {
    return this.busy;
  }

  /**
   * A step planned between calls, while some size is being measured.
   * @returns {void}
   */
  plan() {
    if (this.planned || ![...this.states.values()].some((s) => s.status === 'measuring')) return;
    this.planned = true;
    this.env.later(() => {
      this.planned = false;
      return this.step();
    });
  }

  /**
   * One step of the measuring: start one candidate, or run it once. Nothing while a call runs (its end
   * plans the next step).
   * @returns {Promise<void>}
   */
  async step() {
    const engine = this.engine;
    if (engine.disposed || engine.active || this.busy) return;
    const s = [...this.states.values()].find((x) => x.status === 'measuring' && x.queue && x.queue.length);
    if (!s) return;
    // Starting the other library (tfjs while LiteRT.js runs the calls, or the reverse) and its untimed run
    // (where WebGPU compiles its shaders) let calls go on meanwhile; timed runs, and all steps of the library
    // in use, hold the calls back until they end.
    const next = s.queue[0];
    const aside = next.runtime !== s.using && (!next.prepared || next.warm < WARMUP);
    let done = () => {};
    if (!aside) this.busy = new Promise((resolve) => { done = resolve; });
    engine.active += 1;
    const start = this.env.clock();
    const fetched = this.env.fetched ? this.env.fetched() : 0;
    try {
      await this.advance(s);
    } finally {
      const spent = this.env.clock() - start;
      if (this.env.fetched) s.bytes += this.env.fetched() - fetched;
      if (aside) {
        s.aside += spent;
      } else {
        s.cost += spent;
        s.longest = Math.max(s.longest, spent);
      }
      s.steps += 1;
      engine.active -= 1;
      this.busy = null;
      done();
      if (engine.disposed && !engine.active) engine.free();
    }
    if (s.queue.length) this.plan(); else await this.finish(s);
  }

  /**
   * The first candidate in `s`'s queue started or run once; timed, failed or done, it leaves the queue.
   * @param {any} s a state()
   * @returns {Promise<void>}
   */
  async advance(s) {
    const c = s.queue[0];
    const [h, w] = s.size;
    try {
      if (!c.prepared) {
        c.prepared = await this.engine.prepare(c);
        if (c.warm < WARMUP) return;   // a fresh start is a step of its own
      }
      const start = this.env.clock();
      await c.prepared.infer(s.pixels, h, w, c, this.engine.spec);
      const ms = this.env.clock() - start;
      if (c.warm < WARMUP) { c.warm += 1; return; }
      c.times.push(ms);
      if (c.times.length < RUNS) return;
      s.ms[c.id] = Math.min(...c.times);
    } catch (err) {
      s.failed[c.id] = err && err.message ? err.message : String(err);
    }
    s.queue.shift();
  }

  /**
   * All timed: the fastest wins (the build's choice stays if none could be timed), and is kept.
   * @param {any} s a state()
   * @returns {Promise<void>}
   */
  async finish(s) {
    const timed = Object.entries(s.ms).sort((a, b) => a[1] - b[1]);
    s.status = 'measured';
    s.pixels = null;
    if (!timed.length) return;
    s.winner = timed[0][0];
    s.at = new Date().toISOString();
    await this.store.set(s.key, {winner: s.winner, ms: s.ms, at: s.at});
  }
}

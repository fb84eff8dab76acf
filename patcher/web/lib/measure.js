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
import {deviceStore, safeStore, storeKey} from './store.js';

export const WARMUP = 1;   // untimed runs of a candidate first (the first runs set up buffers, kernels, shaders)
export const RUNS = 2;     // timed runs per candidate; its time is the fastest of them

// What the browser gives the measuring: {store, clock() -> ms, later(fn) (run fn between calls), gpu() ->
// Promise<bool> (a WebGPU adapter is offered), browser (the user agent), fetched() -> the bytes this thread
// has fetched so far (optional)}.
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

// The bytes this thread has fetched so far (network or HTTP cache): the resource timing entries' sizes.
function fetchedBytes() {
  if (typeof performance === 'undefined' || !performance.getEntriesByType) return 0;
  if (!fetchedBytes.grown && performance.setResourceTimingBufferSize) {
    performance.setResourceTimingBufferSize(100000);
    fetchedBytes.grown = true;
  }
  return performance.getEntriesByType('resource').reduce((n, e) => n + (e.transferSize || e.encodedBodySize || 0), 0);
}

export class Measurer {
  // `engine`: the Engine measured for (its meta, opts, spec, active, disposed, choose(size), prepare(choice));
  // `hash`: the model's (model.js's hashText of model.json).
  constructor(engine, env, hash) {
    Object.assign(this, {engine, env, hash, store: safeStore(env.store), made: new Map(), states: new Map(),
                         busy: null, planned: false});
  }

  key(size) {
    const threads = this.engine.opts.threads || cores();
    return storeKey(this.hash, size, threads, this.env.browser);
  }

  // The state of `size`: {size, status ('none' | 'waiting' | 'measuring' | 'measured' | 'stored'), list (the
  // candidates), ms, failed, winner, cost, longest, steps, queue}; made on first use, from storage if kept.
  async state(size) {
    const key = this.key(size);
    if (!this.made.has(key)) {
      this.made.set(key, (async () => {
        const list = candidates(this.engine.meta, this.engine.opts, size, await this.env.gpu());
        const s = {size, key, status: list.length > 1 ? 'waiting' : 'none', list, ms: {}, failed: {}, winner: null,
                   cost: 0, longest: 0, aside: 0, steps: 0, bytes: 0, queue: null, pixels: null, at: null, using: null};
        const kept = s.status === 'none' ? null : await this.store.get(key);
        if (kept && list.some((c) => c.id === kept.winner) && kept.ms && typeof kept.ms === 'object') {
          Object.assign(s, {status: 'stored', winner: kept.winner, ms: kept.ms, at: kept.at || null});
        }
        this.states.set(key, s);
        return s;
      })());
    }
    return this.made.get(key);
  }

  // The measured (or stored) fastest choice at `size`, with its reason; null while there is none.
  async pick(size) {
    const s = await this.state(size);
    const c = s.winner && s.list.find((x) => x.id === s.winner);
    if (!c) return null;
    const times = Object.entries(s.ms).sort((a, b) => a[1] - b[1]).map(([id, ms]) => `${label(id)} ${msText(ms)}`);
    const kept = s.status === 'stored' ? `, kept from ${s.at ? s.at.slice(0, 10) : 'earlier'}` : '';
    return {...c, reason: `fastest measured on this device at ${sizeText(size)}${kept}: ${times.join(', ')}`};
  }

  // The picked choice at `size` did not start (`err`): measure again without it.
  async drop(size, err) {
    const s = await this.state(size);
    s.failed[s.winner] = err.message;
    s.list = s.list.filter((c) => c.id !== s.winner);
    Object.assign(s, {winner: null, ms: {}, queue: null, status: s.list.length > 1 ? 'waiting' : 'none'});
  }

  // For seg.info.measure: null where nothing is measured at `size`, else {status, size, candidates, ms,
  // failed, winner, cost (ms of the steps that held calls back), longest (the longest of them, ms), aside (ms
  // of starting the other library while calls went on), steps, bytes (fetched by the steps: the other
// runtimes' bundles and models)}.
  summary(size) {
    const s = size && this.states.get(this.key(size));
    if (!s || s.status === 'none') return null;
    return {status: s.status, size: s.size, candidates: s.list.map((c) => c.id), ms: {...s.ms}, failed: {...s.failed},
            winner: s.winner, cost: s.cost, longest: s.longest, aside: s.aside, steps: s.steps, bytes: s.bytes};
  }

  // A call at `size` ran `current` (its choice) on `pixels`: measuring starts, or goes on, after it.
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

  // A promise while a step runs (a call waits for it before it runs its model), else null.
  idle() {
    return this.busy;
  }

  // A step planned between calls, while some size is being measured.
  plan() {
    if (this.planned || ![...this.states.values()].some((s) => s.status === 'measuring')) return;
    this.planned = true;
    this.env.later(() => {
      this.planned = false;
      return this.step();
    });
  }

  // One step of the measuring: start one candidate, or run it once. Nothing while a call runs (its end
  // plans the next step).
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

  // All timed: the fastest wins (the build's choice stays if none could be timed), and is kept.
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

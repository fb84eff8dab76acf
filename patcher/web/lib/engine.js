// engine.js: one segmenter's model where it runs (the worker or the main thread): which runtime runs each
// size (chooseRuntime, with tfjs taking over under 'auto' where LiteRT.js does not start), the engines
// started on demand, and a call from pixels to class ids at the size asked for.
import {chooseRuntime} from './choose.js';
import {SegmenterError} from './errors.js';
import {LiteEngine} from './litert.js';
import {fetchModel} from './model.js';
import {pixelsOf, resizeLabels} from './pixels.js';
import {TfjsEngine} from './tfjs.js';

// Chooses the runtime for each size and runs it; one per segmenter, where the model lives.
export class Engine {
  static async create(opts) {
    const loaded = await fetchModel(opts.model);
    const engine = new Engine(opts, loaded);
    engine.info = (await engine.start(opts.size)).info;
    return engine;
  }

  constructor(opts, loaded) {
    Object.assign(this, {opts, loaded, spec: loaded.spec, meta: loaded.meta, engines: {}, litertFailed: null,
                         holder: {}, active: 0, disposed: false, info: null});
  }

  choose(size) {
    const choice = chooseRuntime(this.meta, this.opts, size);
    if (choice.runtime === 'litert' && this.litertFailed && this.fallsBack()) {
      return {runtime: 'tfjs', precision: (this.meta.patcher && this.meta.patcher.quantization) || 'float32', size,
              file: null, reason: `LiteRT.js could not start here (${this.litertFailed}), so tfjs`};
    }
    return choice;
  }

  // Under runtime 'auto' (and not int8, which only LiteRT.js runs), a LiteRT.js that fails leaves tfjs.
  fallsBack() {
    return this.opts.runtime === 'auto' && this.opts.precision !== 'int8';
  }

  async engineFor(choice) {
    const kind = choice.runtime;
    if (!this.engines[kind]) {
      this.engines[kind] = kind === 'tfjs' ? TfjsEngine.create(this.opts, this.loaded) : LiteEngine.create(this.opts, this.meta);
      this.engines[kind].catch(() => { delete this.engines[kind]; });
    }
    return this.engines[kind];
  }

  // The runtime for `size`, started (a LiteRT.js model compiled): its info with the choice. In auto, a
  // LiteRT.js that does not start or a model of it that does not load leaves tfjs (and says so).
  async start(size) {
    let choice = this.choose(size);
    let engine;
    try {
      engine = await this.engineFor(choice);
      if (choice.runtime === 'litert') await engine.compile(choice.file);
    } catch (err) {
      if (choice.runtime !== 'litert' || !this.fallsBack()) throw err;
      this.litertFailed = err.message;
      choice = this.choose(size);
      engine = await this.engineFor(choice);
    }
    return {engine, info: describe(engine, choice), choice};
  }

  // `source`: ImageData, ImageBitmap, canvas, image or video; asked to run at h x w, labels at sh x sw.
  async run(source, h, w, sh, sw) {
    if (this.disposed) throw new SegmenterError('this segmenter was disposed', 'disposed');
    this.active += 1;
    try {
      const {engine, info, choice} = await this.start([h, w]);
      const [ch, cw] = choice.size || [h, w];
      let pixels;
      try {
        pixels = await pixelsOf(source, cw, ch, this.holder);
      } catch (err) {
        throw new SegmenterError(`cannot read the source's pixels (${err.message}); a cross-origin image ` +
          'needs CORS (crossOrigin = "anonymous")', 'source');
      }
      if (this.disposed) throw new SegmenterError('this segmenter was disposed', 'disposed');
      const start = performance.now();
      const ids = await engine.infer(pixels, ch, cw, choice.file, this.spec);
      if (ids.length !== ch * cw) {
        throw new SegmenterError(`the model gave ${ids.length} class ids for ${ch} x ${cw} pixels`, 'run');
      }
      const labels = (this.spec.classes.length > 256 ? Uint16Array : Uint8Array).from(ids);
      const modelMs = performance.now() - start;
      this.info = info;
      return {labels: resizeLabels(labels, ch, cw, sh, sw), modelMs, size: [ch, cw], info};
    } finally {
      this.active -= 1;
      if (this.disposed && !this.active) this.free();
    }
  }

  dispose() {
    this.disposed = true;
    if (!this.active) this.free();
  }

  free() {
    for (const made of Object.values(this.engines)) made.then((e) => e.free(), () => {});
    this.engines = {};
  }
}

function describe(engine, choice) {
  return {...engine.info, runtime: choice.runtime, precision: choice.precision, size: choice.size,
          model: choice.file, reason: choice.reason};
}

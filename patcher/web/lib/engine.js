// engine.js: one segmenter's (or stylizer's) model where it runs (the worker or the main thread): which runtime runs each
// size (chooseRuntime, with tfjs taking over under 'auto' where LiteRT.js does not start, and what `auto`
// measured on this device once measure.js has), the engines started on demand, and a call from pixels to
// what its output kind makes of it (KINDS): class ids at the size asked for, of the whole frame or (face
// mode, facemode.js) of a square around each face, pasted back (crop.js); or a picture's pixels.
import {chooseRuntime, runtimeId} from './choose.js';
import {SegmenterError, asSegmenterError, crossOrigin, isCrossOrigin} from './errors.js';
import {LiteEngine} from './litert.js';
import {faceOptions} from './facemode.js';
import {fetchModel} from './model.js';
import {runLabels, wholeFrame} from './labels.js';
import {defaultSize} from './options.js';
import {Measurer, deviceEnv} from './measure.js';
import {runPicture} from './picture.js';
import {pixelsOf, unreadable} from './pixels.js';
import {TfjsEngine} from './tfjs.js';

/** @typedef {import('../segmenter.js').Size} Size */
/** @typedef {import('../segmenter.js').RuntimeInfo} RuntimeInfo */
/** @typedef {import('../segmenter.js').RuntimeChoice} RuntimeChoice */
/**
 * A runtime's engine (TfjsEngine or LiteEngine): class ids or class probabilities of RGBA pixels.
 * @typedef {{info: object, infer: (pixels: ImageData, h: number, w: number, choice: RuntimeChoice, spec: any) =>
 *   Promise<ArrayLike<number>>, scores: (pixels: ImageData, h: number, w: number, choice: RuntimeChoice,
 *   spec: any) => Promise<Float32Array>, compile?: (choice: RuntimeChoice) => Promise<unknown>,
 *   free: () => void}} RuntimeEngine
 */
/**
 * What a call asks for besides class ids.
 * @typedef {{masks?: number[] | null, smoothing?: import('../segmenter.js').SmoothingSettings | null,
 *   faces?: import('../segmenter.js').FaceSettings | false | null}} Wants
 */
/**
 * What a call gives back to the runner: class ids (and masks, faces) of a labels model, or the RGBA pixels
 * (source's size) of an image model.
 * @typedef {{labels?: Uint8Array | Uint16Array, masks?: Record<string, Float32Array>,
 *   pixels?: Uint8ClampedArray<ArrayBuffer>, modelMs: number, size: Size,
 *   info: RuntimeInfo, faces?: import('../segmenter.js').Face[], times?: import('../segmenter.js').FaceTimes}} RunResult
 */

// Each output kind's call, from the source to what the runner gives back (model.js's Spec.kind): class
// maps (labels.js: the whole frame or face mode) and pictures (picture.js).
const KINDS = {labels: runLabels, image: (engine, source, h, w, sh, sw) => runPicture(engine, source, h, w, sh, sw)};

// The runtimes' engines: make.tfjs(opts, loaded) with opts.backend the tfjs backend, make.litert(opts, meta).
const MAKE = {tfjs: (opts, loaded) => TfjsEngine.create(opts, loaded), litert: (opts, meta) => LiteEngine.create(opts, meta)};

// Chooses the runtime for each size and runs it; one per segmenter, where the model lives. `env`: what
// measure.js needs from the device (deviceEnv()) and `make`, the engines' makers (MAKE): tests pass fakes.
export class Engine {
  /**
   * Fetches model.json and starts the runtime for `opts.size`.
   * @param {import('./options.js').Options} opts createSegmenter's options, checked
   * @param {{env?: import('./measure.js').MeasureEnv | null, make?: typeof MAKE, fetch?: typeof fetchModel}}
   *   [fakes] the device, the engines' makers and model.json's fetch (tests pass fakes)
   * @returns {Promise<Engine>}
   * @throws {SegmenterError} any code of loading the model or starting its runtime
   */
  static async create(opts, {env = null, make = MAKE, fetch = fetchModel} = {}) {
    try {
      const loaded = await fetch(opts.model);
      const wanted = opts.kind || 'labels';
      if ((loaded.spec.kind || 'labels') !== wanted) throw wrongKind(opts.model, loaded.spec.kind, wanted);
      const engine = new Engine(opts, loaded, make);
      if (opts.runtime === 'auto' && opts.measure !== false) {
        engine.measurer = new Measurer(engine, env || deviceEnv(), loaded.hash);
      }
      // face mode (the default where model.json names a detector) parses squares at its size: that one starts
      const faces = wanted === 'labels' ? faceOptions(opts.faces, loaded.meta) : false;
      engine.info = (await engine.start(faces ? [faces.size, faces.size] : opts.size || defaultSize(loaded.meta))).info;
      return engine;
    } catch (err) {
      throw asSegmenterError(err);
    }
  }

  /**
   * @param {import('./options.js').Options} opts
   * @param {{json: any, spec: import('./model.js').Spec, meta: any, hash: string}} loaded model.js's fetchModel
   * @param {typeof MAKE} [make]
   */
  constructor(opts, loaded, make = MAKE) {
    Object.assign(this, {opts, loaded, make, spec: loaded.spec, meta: loaded.meta, engines: {}, litertFailed: null,
                         prepared: new Set(),   // the runtime ids started here (their files fetched)
                         holder: {}, active: 0, disposed: false, info: null, smoother: null, measurer: null,
                         faceMode: null, faceSmoothers: new Map()});   // facemode.js's, in face mode
  }

  /**
   * What runs `size`: chooseRuntime's choice, or tfjs where LiteRT.js failed here and `auto` may fall back.
   * @param {Size | null} size
   * @returns {RuntimeChoice}
   * @throws {SegmenterError} 'options'
   */
  choose(size) {
    const choice = chooseRuntime(this.meta, this.opts, size);
    if (choice.runtime === 'litert' && this.litertFailed && this.fallsBack()) {
      return {runtime: 'tfjs', precision: (this.meta.patcher && this.meta.patcher.quantization) || 'float32',
              backend: this.opts.backend, size, file: null,
              reason: `LiteRT.js could not start here (${this.litertFailed}), so tfjs`};
    }
    return choice;
  }

  /**
   * Under runtime 'auto' (and not float16 or int8, which only LiteRT.js runs), a LiteRT.js that fails
   * leaves tfjs.
   * @returns {boolean}
   */
  fallsBack() {
    return this.opts.runtime === 'auto' && !['float16', 'int8'].includes(this.opts.precision);
  }

  /**
   * The engine of `choice`: one LiteRT.js (each model compiled for its accelerator), one tfjs per backend.
   * @param {RuntimeChoice} choice
   * @returns {Promise<RuntimeEngine>}
   */
  async engineFor(choice) {
    const kind = choice.runtime === 'tfjs' ? `tfjs-${choice.backend || this.opts.backend}` : choice.runtime;
    if (!this.engines[kind]) {
      this.engines[kind] = choice.runtime === 'tfjs'
        ? this.make.tfjs({...this.opts, backend: choice.backend || this.opts.backend}, this.loaded)
        : this.make.litert(this.opts, this.meta);
      this.engines[kind].catch(() => { delete this.engines[kind]; });
    }
    return this.engines[kind];
  }

  /**
   * The engine of `choice`, started (a LiteRT.js model compiled).
   * @param {RuntimeChoice} choice
   * @returns {Promise<RuntimeEngine>}
   */
  async prepare(choice) {
    const engine = await this.engineFor(choice);
    if (choice.runtime === 'litert') await engine.compile(choice);
    this.prepared.add(runtimeId(choice));
    return engine;
  }

  /**
   * The runtime for `size`, started. In auto, what was measured fastest on this device (measure.js) once it
   * was; a LiteRT.js that does not start or a model of it that does not load leaves tfjs (and says so).
   * @param {Size | null} size
   * @returns {Promise<{engine: RuntimeEngine, info: RuntimeInfo, choice: RuntimeChoice}>}
   */
  async start(size) {
    const measured = this.measurer && size ? await this.measurer.pick(size) : null;
    let choice = measured || this.choose(size);
    let engine;
    try {
      engine = await this.prepare(choice);
    } catch (err) {
      if (measured) {
        await this.measurer.drop(size, err);
        return this.start(size);
      }
      if (choice.runtime !== 'litert' || !this.fallsBack()) throw err;
      this.litertFailed = err.message;
      choice = this.choose(size);
      engine = await this.engineFor(choice);
    }
    const measure = this.measurer ? this.measurer.summary(size) : null;
    return {engine, info: {...describe(engine, choice), measure}, choice};
  }

  /**
   * One call: the model run on `source` at h x w, labels (and masks) at sh x sw. With masks or smoothing,
   * labels are the argmax of the (smoothed, resized) probabilities.
   * @param {any} source ImageData, ImageBitmap, canvas, image or video
   * @param {number} h the height to run the model at
   * @param {number} w
   * @param {number} sh the source's height
   * @param {number} sw
   * @param {Wants} [wants] masks: class ids whose probabilities to return (result.masks, by class name), or
   *   null; smoothing: smoothing.js's settings, or null (and the past is forgotten); faces: face mode's
   *   settings (facemode.js's faceOptions), or null / false for the whole frame
   * @returns {Promise<RunResult>}
   * @throws {SegmenterError} 'disposed', 'source', 'run', 'not-found' (face mode: the detector's files), or any
   *   code of starting a runtime
   */
  async run(source, h, w, sh, sw, {masks = null, smoothing = null, faces = null} = {}) {
    if (this.disposed) throw new SegmenterError('this segmenter was disposed', 'disposed');
    this.active += 1;
    try {
      // a step of measuring under way ends first (and may have picked a faster runtime)
      if (this.measurer && this.measurer.idle()) await this.measurer.idle();
      return await KINDS[this.spec.kind || 'labels'](this, source, h, w, sh, sw, {masks, smoothing, faces});
    } catch (err) {
      throw asSegmenterError(err);
    } finally {
      this.active -= 1;
      if (this.disposed && !this.active) this.free();
      else if (this.measurer) this.measurer.plan();
    }
  }

  /**
   * The source's pixels at w x h (a tainted canvas dropped).
   * @param {any} source
   * @param {number} w
   * @param {number} h
   * @returns {Promise<ImageData>}
   * @throws {SegmenterError} 'source', 'disposed'
   */
  async read(source, w, h) {
    let pixels;
    try {
      pixels = await pixelsOf(source, w, h, this.holder);
    } catch (err) {
      this.holder = {};   // a picture from another origin taints the canvas it was drawn on for good
      throw isCrossOrigin(err) ? crossOrigin() : unreadable(source, err, ` at ${h} x ${w}`);
    }
    if (this.disposed) throw new SegmenterError('this segmenter was disposed', 'disposed');
    return pixels;
  }

  /**
   * The whole frame parsed at h x w (labels.js's wholeFrame; face mode's 'frame' fill calls it).
   * @param {any} source
   * @param {number} h
   * @param {number} w
   * @param {number} sh
   * @param {number} sw
   * @param {Wants} wants
   * @returns {Promise<RunResult>}
   */
  async whole(source, h, w, sh, sw, wants) {
    return wholeFrame(this, source, h, w, sh, sw, wants);
  }

  /**
   * A call at `size` ran `choice` on `pixels`: measuring goes on after it.
   * @param {Size} size
   * @param {ImageData} pixels
   * @param {RuntimeChoice} choice
   * @param {RuntimeInfo} info
   * @returns {RuntimeInfo} `info` with what was measured
   */
  measured(size, pixels, choice, info) {
    if (!this.measurer) return info;
    this.measurer.after(size, pixels, choice);
    return {...info, measure: this.measurer.summary(size)};
  }

  /**
   * What this thread holds.
   * @returns {{tensors: number | null, heap: number | null}} tfjs's live tensors (null before tfjs started
   *   here) and the JavaScript heap in bytes (Chromium's performance.memory; null elsewhere)
   */
  memory() {
    const tf = Object.keys(this.engines).some((k) => k.startsWith('tfjs')) && globalThis.tf;
    const heap = globalThis.performance && performance.memory ? performance.memory.usedJSHeapSize : null;
    return {tensors: tf ? tf.memory().numTensors : null, heap};
  }

  /**
   * No more calls; the engines are freed once the calls under way end.
   * @returns {void}
   */
  dispose() {
    this.disposed = true;
    if (!this.active) this.free();
  }

  /** @returns {void} */
  free() {
    for (const made of Object.values(this.engines)) made.then((e) => e.free(), () => {});
    this.engines = {};
    if (this.faceMode) { this.faceMode.free(); this.faceMode = null; }
  }
}

/**
 * @param {RuntimeEngine} engine
 * @param {RuntimeChoice} choice
 * @returns {RuntimeInfo} the engine's info with the choice's runtime, precision, size, file and reason
 */
function describe(engine, choice) {
  return {...engine.info, runtime: choice.runtime, precision: choice.precision, backend: choice.backend || engine.info.backend,
          size: choice.size, model: choice.file, reason: choice.reason};
}

// The module that loads each kind of model, for the message of a model loaded by the other one.
const MODULES = {labels: "segmenter.js's createSegmenter", image: "stylizer.js's createStylizer"};

/**
 * The error of a model whose output is of another kind than the module loading it handles.
 * @param {string} url model.json's
 * @param {string} kind the model's output kind
 * @param {string} wanted the kind the module handles
 * @returns {SegmenterError} 'model'
 */
function wrongKind(url, kind, wanted) {
  const what = {labels: 'class maps', image: 'pictures'};
  return new SegmenterError(`${url}: this model gives ${what[kind] || kind}, not ${what[wanted] || wanted}`, 'model',
    `load it with ${MODULES[kind] || 'the module its build folder holds'}`);
}

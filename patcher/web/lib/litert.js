// litert.js: the LiteRT.js engine: the runtime loaded once per thread from the build's litert/ folder, each
// size's .tflite model compiled on first use, and run on RGBA pixels.
//
// LiteRT.js's loader runs emscripten's glue with importScripts, which a module worker lacks; there,
// classicImports supplies one that needs eval. Where the page's Content-Security-Policy forbids eval, the
// load fails with code 'litert' and the caller moves to the main thread or to tfjs.
import {IN_WORKER} from './env.js';
import {SegmenterError} from './errors.js';
import {softmax} from './masks.js';

// wasm-utils (LiteRT.js's loader) runs emscripten's glue with importScripts, which a module worker lacks:
// there, a synchronous fetch and a global eval stand in (the glue declares `var ModuleFactory`).
function classicImports() {
  if (!IN_WORKER || globalThis.patcherImportScripts) return;
  globalThis.patcherImportScripts = true;
  globalThis.importScripts = (...urls) => {
    for (const url of urls) {
      const xhr = new XMLHttpRequest();
      xhr.open('GET', String(url), false);
      xhr.send();
      if (xhr.status !== 200) throw new Error(`cannot load ${url} (HTTP ${xhr.status})`);
      (0, eval)(`${xhr.responseText}\n//# sourceURL=${url}`);
    }
  };
}

/**
 * LiteRT.js's runtime writes its start-up lines ("INFO: Creating LiteRT environment", "WARNING: NPU
 * accelerator could not be loaded") to stderr, which emscripten sends to console.error: they go to
 * console.debug and console.info instead; anything else stays an error.
 * @param {any} text one line emscripten printed to stderr
 * @returns {void}
 */
export function quiet(text) {
  const line = String(text);
  if (/^INFO:/.test(line)) console.debug(line);
  else if (/^WARNING:/.test(line)) console.info(line);
  else console.error(line);
}

let liteRt = null;  // {api, threaded, relaxedSimd}: LiteRT.js loads once per thread

async function loadLiteRtOnce(folder, threaded) {
  if (!liteRt) {
    liteRt = (async () => {
      let api;
      try {
        api = await import(`${folder}litert.js`);
      } catch (err) {
        throw new SegmenterError(`cannot load ${folder}litert.js: ${err.message}`, 'litert');
      }
      const relaxedSimd = Boolean(await api.supportsFeature('relaxedSimd'));
      const useThreads = threaded && relaxedSimd;
      classicImports();
      const wasm = `${folder}wasm/`;
      // emscripten finds its .wasm (and, with threads, its own script for the pool) through Module, which
      // wasm-utils hands to it: needed where the page's or worker's location is not the wasm folder
      globalThis.Module = {locateFile: (name) => wasm + name, printErr: quiet,
                           mainScriptUrlOrBlob: `${wasm}litert_wasm_${useThreads ? 'threaded_' : ''}internal.js`};
      try {
        await api.loadLiteRt(wasm, {threads: useThreads});
      } catch (err) {
        throw new SegmenterError(`LiteRT.js could not start ${IN_WORKER ? 'in a Web Worker' : 'here'}: ${err.message}`, 'litert');
      }
      return {api, threaded: useThreads, relaxedSimd};
    })();
    liteRt.catch(() => { liteRt = null; });
  }
  return liteRt;
}

/** LiteRT.js running the build's .tflite models, one per size and accelerator. */
export class LiteEngine {
  /**
   * Loads LiteRT.js (once per thread) from the build's litert/ folder.
   * @param {{model: string, threads: number}} opts model.json's URL; wasm threads (0: one per core)
   * @param {any} meta model.json's userDefinedMetadata (its `litert` part)
   * @returns {Promise<LiteEngine>}
   * @throws {SegmenterError} 'litert'
   */
  static async create({model, threads}, meta) {
    const folder = new URL(`${meta.litert.folder || 'litert'}/`, model).href;
    const cores = navigator.hardwareConcurrency || 1;
    // LiteRT.js sizes its thread pool by the cores: more threads than that would wait on workers to start
    const wanted = Math.min(threads > 0 ? threads : cores, cores);
    const isolated = Boolean(globalThis.crossOriginIsolated);
    const {api, threaded, relaxedSimd} = await loadLiteRtOnce(folder, isolated && wanted > 1);
    const runtime = String(meta.litert.runtime || '');
    const info = {runtime: 'litert', version: runtime.split(' ').pop() || null, backend: 'wasm', worker: IN_WORKER,
                  threadsRequested: wanted, threads: threaded ? wanted : 1, simd: relaxedSimd, isolated, cores};
    return new LiteEngine(api, info, model, threaded ? wanted : 1);
  }

  /**
   * @param {any} api LiteRT.js's module
   * @param {object} info the runtime's facts (RuntimeInfo's version, threads, simd, ...)
   * @param {string} model model.json's URL (the .tflite files are relative to it)
   * @param {number} threads
   */
  constructor(api, info, model, threads) {
    Object.assign(this, {api, info, model, threads, compiled: new Map()});
  }

  /**
   * The compiled model of `choice`, fetched and compiled on first use.
   * @param {{file: string, backend?: string}} choice backend 'wasm', or 'webgpu' for LiteRT.js's WebGPU
   *   accelerator (float32)
   * @returns {Promise<any>} LiteRT.js's CompiledModel
   * @throws {SegmenterError} 'litert'
   */
  async compile({file, backend = 'wasm'}) {
    const key = `${backend} ${file}`;
    if (!this.compiled.has(key)) {
      const url = new URL(file, this.model).href;
      const gpu = backend === 'webgpu';
      const made = (gpu && !this.api.getWebGpuDevice() ? Promise.reject(new Error('no WebGPU device here'))
        : this.api.loadAndCompile(url, gpu ? {accelerator: 'webgpu', gpuOptions: {precision: 'fp32'}}
          : {accelerator: 'wasm', cpuOptions: {numThreads: this.threads}}))
        .catch((err) => {
          this.compiled.delete(key);
          throw new SegmenterError(`LiteRT.js cannot load ${url}${gpu ? ' on WebGPU' : ''}: ${err.message}`, 'litert');
        });
      this.compiled.set(key, made);
    }
    return this.compiled.get(key);
  }

  /**
   * The output of RGBA `pixels` with the model of `choice`: class ids (a labels model) or the picture's
   * values (an image model).
   * @param {ImageData} pixels h x w
   * @param {number} h
   * @param {number} w
   * @param {{file: string, backend?: string}} choice
   * @param {import('./model.js').Spec} spec
   * @returns {Promise<Int32Array | Float32Array>} h * w class ids, or h * w * channels values (NHWC)
   */
  async infer(pixels, h, w, choice, spec) {
    return this.run(pixels, h, w, choice, spec, spec.kind === 'image' ? 'float32' : 'int32');
  }

  /**
   * Class probabilities: the softmax of the model's float32 output, its logits.
   * @param {ImageData} pixels h x w
   * @param {number} h
   * @param {number} w
   * @param {{file: string, backend?: string}} choice
   * @param {import('./model.js').Spec} spec
   * @returns {Promise<Float32Array>} h * w * classes (NHWC)
   */
  async scores(pixels, h, w, choice, spec) {
    return softmax(await this.run(pixels, h, w, choice, spec, 'float32'), spec.classes.length);
  }

  /**
   * The output of dtype `kind` on RGBA `pixels`.
   * @param {ImageData} pixels h x w
   * @param {number} h
   * @param {number} w
   * @param {{file: string, backend?: string}} choice
   * @param {import('./model.js').Spec} spec
   * @param {'int32' | 'float32'} kind int32: the class ids; float32: the logits (or an image model's picture)
   * @returns {Promise<any>} a copy of the output's data
   * @throws {SegmenterError} 'model' for a model without that output or of another input size
   */
  async run(pixels, h, w, choice, spec, kind) {
    const model = await this.compile(choice);
    const file = choice.file;
    const at = model.getOutputDetails().findIndex((d) => d.dtype === kind);
    if (at < 0) {
      throw new SegmenterError(`${file} has no ${kind} output${kind === 'float32' ? ' (logits, for masks and ' +
        'smoothing): build it again with a current patcher' : ''}`, 'model');
    }
    const shape = Array.from(model.getInputDetails()[0].shape);
    if (shape.length !== 4 || shape[1] !== h || shape[2] !== w) {
      throw new SegmenterError(`${file} takes [${shape}], not [1, ${h}, ${w}, 3]`, 'model');
    }
    const {scale, offset, bgr} = spec;
    const rgba = pixels.data;
    const x = new Float32Array(h * w * 3);
    const [r, b] = bgr ? [2, 0] : [0, 2];
    for (let i = 0, j = 0; i < rgba.length; i += 4, j += 3) {
      x[j + r] = rgba[i] * scale + offset;
      x[j + 1] = rgba[i + 1] * scale + offset;
      x[j + b] = rgba[i + 2] * scale + offset;
    }
    const input = new this.api.Tensor(x, [1, h, w, 3]);
    let outputs = [];
    try {
      outputs = await model.run(input);
      return (await outputs[at].data()).slice();   // (data(): from the GPU too)
    } finally {
      input.delete();
      for (const t of outputs) t.delete();
    }
  }

  /**
   * Every output of the .tflite `file` (compiled on wasm) on the input `x`: a model other than the build's
   * own (face mode's detector).
   * @param {string} file relative to model.json
   * @param {Float32Array} x the input's values (NHWC)
   * @param {number[]} shape the input's shape
   * @returns {Promise<{shape: number[], data: Float32Array}[]>} in the model's output order
   */
  async outputs(file, x, shape) {
    const model = await this.compile({file});
    const details = model.getOutputDetails();
    const input = new this.api.Tensor(x, shape);
    let outputs = [];
    try {
      outputs = await model.run(input);
      return await Promise.all(outputs.map(async (t, i) => ({shape: Array.from(details[i].shape),
                                                             data: (await t.data()).slice()})));
    } finally {
      input.delete();
      for (const t of outputs) t.delete();
    }
  }

  /** @returns {void} */
  free() {
    for (const made of this.compiled.values()) made.then((m) => m.delete(), () => {});
    this.compiled.clear();
  }
}

// tfjs.js: the TensorFlow.js engine: its bundles loaded, its backend started (wasm threads as asked), and
// model.json run on RGBA pixels.
//
// In a module worker, which has no usable importScripts, the tfjs bundles (UMD scripts) load with dynamic
// import(): UMD falls back to globalThis when it finds no module system, and the bundles are strict-mode
// code, so they define globalThis.tf just as a classic script would. This works in Chromium (tested on 156)
// without eval, so a Content-Security-Policy of script-src 'self' is enough. On the main thread the bundles
// are added as classic <script> tags when globalThis.tf is absent.
import {IN_WORKER} from './env.js';
import {SegmenterError} from './errors.js';
import {scoresNode, softmax} from './masks.js';
import {fetchWeights} from './model.js';

const loading = new Map();

// The same error in the worker and on the page (where a failed <script> says nothing more).
function loadScript(url) {
  if (!loading.has(url)) {
    const failed = () => new SegmenterError(`cannot load ${url}`, 'tfjs');
    const done = IN_WORKER
      ? import(url).catch(() => { throw failed(); })
      : new Promise((resolve, reject) => {
        const script = document.createElement('script');
        script.src = url;
        script.onload = resolve;
        script.onerror = () => reject(failed());
        document.head.append(script);
      });
    done.catch(() => loading.delete(url));
    loading.set(url, done);
  }
  return loading.get(url);
}

// Where tf is on this thread already (an earlier segmenter's, or the page's own), `url` is only checked to
// be there (HEAD), so that a wrong `assets` fails here as it does in a fresh worker: SegmenterError 'tfjs'.
function checkScript(url) {
  if (!loading.has(url)) {
    const done = fetch(url, {method: 'HEAD'}).then((reply) => { if (!reply.ok) throw new Error(`HTTP ${reply.status}`); })
      .catch(() => { throw new SegmenterError(`cannot load ${url}`, 'tfjs'); });
    done.catch(() => loading.delete(url));
    loading.set(url, done);
  }
  return loading.get(url);
}

// tf.min.js and tf-backend-wasm.min.js; tf-backend-webgpu.min.js too for `backend` 'webgpu'.
async function loadTfjs(assets, backend) {
  if (globalThis.tf) {
    await checkScript(assets + 'tf.min.js');
    await checkScript(assets + 'tf-backend-wasm.min.js');
  }
  if (!globalThis.tf) await loadScript(assets + 'tf.min.js');
  if (!globalThis.tf || !globalThis.tf.loadGraphModel) {
    throw new SegmenterError(`${assets}tf.min.js did not define tf (is it the TensorFlow.js union bundle?)`, 'tfjs');
  }
  if (!globalThis.tf.wasm) await loadScript(assets + 'tf-backend-wasm.min.js');
  if (backend === 'webgpu' && !globalThis.tf.findBackendFactory('webgpu')) {
    await loadScript(assets + 'tf-backend-webgpu.min.js');
  }
  return globalThis.tf;
}

function backendNames(tf) {
  const registry = tf.engine().registryFactory || {};
  return Object.keys(registry).sort((a, b) => registry[b].priority - registry[a].priority);
}

// console.warn's messages while `into` is listening (concurrent starts each get them all).
const collectors = new Set();
let originalWarn = null;
function collectWarnings(into) {
  if (!collectors.size) {
    originalWarn = console.warn;
    console.warn = (...args) => {
      for (const c of collectors) c.push(args.map(String).join(' '));
      originalWarn.apply(console, args);
    };
  }
  collectors.add(into);
  return () => {
    collectors.delete(into);
    if (!collectors.size) console.warn = originalWarn;
  };
}

// `threads`: the wasm threads wanted (0: one per logical core).
async function initBackend(tf, backend, threads, assets) {
  if (!tf.findBackendFactory(backend)) {
    throw new SegmenterError(`backend "${backend}" is unknown; this TensorFlow.js has ${backendNames(tf).join(', ')}`,
      'backend-unknown');
  }
  const cores = navigator.hardwareConcurrency || 1;
  const wanted = threads > 0 ? threads : cores;
  let told = false;
  if (backend === 'wasm' && !tf.findBackend('wasm')) {
    try { tf.wasm.setWasmPaths(assets); } catch (err) { /* already set by the page: keep it */ }
    tf.wasm.setThreadsCount(wanted);
    // tfjs-backend-wasm caps its threads at hardwareConcurrency / 2 (it assumes two logical CPUs per
    // core); while it starts, it is told twice the wanted count so the cap lets `wanted` through.
    try {
      Object.defineProperty(navigator, 'hardwareConcurrency', {value: 2 * wanted, configurable: true});
      told = true;
    } catch (err) { /* read-only here: the backend keeps its own cap */ }
  }
  // tfjs reports why a backend did not start with console.warn only; keep that reason for the error.
  const warnings = [];
  const stop = collectWarnings(warnings);
  let ok = false;
  let reason = '';
  try {
    ok = await tf.setBackend(backend);
  } catch (err) {
    reason = err.message;
  } finally {
    stop();
    if (told) delete navigator.hardwareConcurrency;
  }
  if (!ok) {
    // The last warning that says why, on one line, without emscripten's advice to rebuild.
    const why = (reason || warnings.filter((w) => /Error|fail/i.test(w)).pop() || '').split('\n')[0]
      .replace(/\s*Build with -sASSERTIONS for more info\.?/, '').trim();
    const hint = {wasm: ` (are the tfjs-backend-wasm*.wasm files in ${assets}?)`,
                  webgl: ' (is WebGL available here?)', webgpu: ' (does this browser offer WebGPU?)'}[backend] || '';
    throw new SegmenterError(`backend ${backend} could not start ${IN_WORKER ? 'in a Web Worker' : 'here'}` +
      `${why ? `: ${why}` : ''}${hint}`, 'backend');
  }
  await tf.ready();
  const wasm = tf.getBackend() === 'wasm';
  return {
    runtime: 'tfjs', version: tf.version.tfjs, backend: tf.getBackend(), worker: IN_WORKER,
    threadsRequested: wasm ? wanted : null, threads: wasm ? tf.wasm.getThreadsCount() : null,
    simd: wasm ? Boolean(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')) : null,
    isolated: Boolean(globalThis.crossOriginIsolated), cores,
  };
}

/**
 * TensorFlow.js with `backend` started, for a model of its own (the face detector) beside whatever runs
 * model.json: the bundles loaded and the backend started as TfjsEngine.create does, once per thread.
 * @param {{backend: string, threads: number, assets: string}} opts
 * @returns {Promise<any>} the tf namespace
 * @throws {SegmenterError} 'tfjs', 'backend-unknown' or 'backend'
 */
export async function tfjsReady({backend, threads, assets}) {
  const tf = await loadTfjs(assets, backend);
  if (!tf.findBackend(backend)) await initBackend(tf, backend, threads, assets);
  else if (tf.getBackend() !== backend) await tf.setBackend(backend);
  return tf;
}

/** TensorFlow.js running model.json on one backend. */
export class TfjsEngine {
  /**
   * Loads the bundles, fetches the weights, starts the backend and loads the graph.
   * @param {{model: string, backend: string, threads: number, assets: string}} opts
   * @param {{json: any, spec: import('./model.js').Spec}} loaded model.js's fetchModel
   * @returns {Promise<TfjsEngine>}
   * @throws {SegmenterError} 'tfjs', 'backend-unknown', 'backend', 'model', 'shard-missing' or 'shard-size'
   */
  static async create({model, backend, threads, assets}, {json, spec}) {
    const tf = await loadTfjs(assets, backend);
    const {specs, data} = await fetchWeights(model, json);
    const info = await initBackend(tf, backend, threads, assets);
    let graph;
    try {
      graph = await tf.loadGraphModel(tf.io.fromMemory({
        modelTopology: json.modelTopology, weightSpecs: specs, weightData: data, format: json.format,
        generatedBy: json.generatedBy, convertedBy: json.convertedBy, signature: json.signature,
        userDefinedMetadata: json.userDefinedMetadata,
      }));
    } catch (err) {
      throw new SegmenterError(`${model}: TensorFlow.js cannot load this graph: ${err.message}`, 'model');
    }
    const names = new Set(graph.outputNodes || []);
    if (names.size && !names.has(spec.output)) {
      graph.dispose();
      throw new SegmenterError(`${model}: the metadata names the output ${spec.output}, which the graph lacks ` +
        `(it has ${[...names].join(', ')})`, 'model');
    }
    return new TfjsEngine(tf, graph, info, spec, scoresNode(json, spec));
  }

  /**
   * @param {any} tf the TensorFlow.js namespace
   * @param {any} graph the loaded GraphModel
   * @param {object} info the backend's facts (RuntimeInfo's version, backend, threads, simd, ...)
   * @param {import('./model.js').Spec} spec
   * @param {{name: string, logits: boolean} | null} scores the node the class ids are the argmax of (null: none)
   */
  constructor(tf, graph, info, spec, scores) {
    Object.assign(this, {tf, graph, info, spec, scoresAt: scores});
  }

  /**
   * The output of RGBA `pixels`: class ids (a labels model: the argmax where the output is scores), or the
   * picture's values (an image model's output node as it is).
   * @param {ImageData} pixels
   * @returns {Promise<ArrayLike<number>>} h * w class ids, or h * w * channels values (NHWC)
   */
  async infer(pixels) {
    const tf = this.tf;
    if (tf.getBackend() !== this.info.backend) await tf.setBackend(this.info.backend);
    const {output, argmax} = this.spec;
    const result = this.tf.tidy(() => {
      const y = this.execute(pixels, output);
      return argmax ? tf.argMax(y, -1) : y;
    });
    try {
      return await result.data();
    } finally {
      result.dispose();
    }
  }

  /**
   * The graph's `node` on RGBA `pixels` (call inside tf.tidy).
   * @param {ImageData} pixels
   * @param {string} node
   * @returns {any} a tf.Tensor
   */
  execute(pixels, node) {
    const tf = this.tf;
    const {input, scale, offset, bgr} = this.spec;
    let x = tf.browser.fromPixels(pixels, 3).toFloat();
    if (bgr) x = tf.reverse(x, -1);
    x = tf.add(tf.mul(x, scale), offset).expandDims(0);
    return this.graph.execute(input ? {[input]: x} : x, node);
  }

  /**
   * Class probabilities of RGBA `pixels`: the softmax of the logits node of model.json (the ArgMax's input;
   * no second download), or its probabilities output where built.
   * @param {ImageData} pixels
   * @returns {Promise<Float32Array>} h * w * classes (NHWC)
   * @throws {SegmenterError} 'model' when model.json has no node to take scores from
   */
  async scores(pixels) {
    if (!this.scoresAt) throw new SegmenterError('this model.json has no ArgMax to take class scores from', 'model');
    const tf = this.tf;
    if (tf.getBackend() !== this.info.backend) await tf.setBackend(this.info.backend);
    const result = tf.tidy(() => this.execute(pixels, this.scoresAt.name));
    try {
      const data = await result.data();
      const classes = result.shape[result.shape.length - 1];
      return this.scoresAt.logits ? softmax(data, classes) : Float32Array.from(data);
    } finally {
      result.dispose();
    }
  }

  /** @returns {void} */
  free() {
    if (this.graph) { this.graph.dispose(); this.graph = null; }
  }
}

// segmenter.js: semantic segmentation in the browser with a model built by patcher: its TensorFlow.js
// graph model (model.json) and, when built with --litert, its LiteRT.js models (litert/, one per size).
//
//   import { createSegmenter } from './segmenter.js';
//   const seg = await createSegmenter({ model: 'model.json', runtime: 'auto', size: [448, 448] });
//   const { labels, width, height, ms } = await seg.segment(source);   // labels: Uint8Array of class ids
//   const overlay = seg.colorize(labels, width, height, { alpha: 0.5 }); // ImageData
//   seg.classes; seg.palette; seg.info;                                 // from model.json; how it runs
//   seg.dispose();
//
// createSegmenter(options) -> Promise<Segmenter>. Options (all optional):
//   model    URL of model.json, relative to the page (default 'model.json').
//   runtime  'auto' (default): per size, the fastest runtime the build measured in Chromium (tfjs wasm,
//            LiteRT.js float32, LiteRT.js int8 where the build recorded int8 as accurate; see
//            chooseRuntime); tfjs where the build has no LiteRT.js model at that size or measured none.
//            'tfjs': model.json only. 'litert': LiteRT.js (a size without a model runs at the nearest
//            size built, and says so).
//   precision 'auto' (default), 'float32' or 'int8' (LiteRT.js only).
//   backend  'wasm' (default), 'webgl' or 'cpu': the TensorFlow.js backend (auto compares LiteRT.js with
//            tfjs on wasm only).
//   worker   true (default): run the model in a module Web Worker; where a worker cannot run it (no
//            module workers or OffscreenCanvas, or the backend does not start in a worker) the model runs
//            on the main thread and seg.info.fallback says why. false: the main thread.
//   threads  wasm threads: 0 (default) = one per logical core (navigator.hardwareConcurrency), N = N.
//            Threads need a cross-origin isolated page (COOP/COEP headers, as `patcher serve` sends);
//            elsewhere wasm runs one. tfjs-backend-wasm caps its pool at hardwareConcurrency / 2; this
//            module lifts that cap while the backend starts (see initBackend).
//   size     [height, width] to run the model at (default: the source's own size); the class map is
//            mapped back to the source's size by nearest neighbour. seg.segment(source, {size}) overrides.
//            LiteRT.js models have fixed sizes: without `size`, auto runs tfjs unless the source has one.
//   assets   folder holding tf.min.js, tf-backend-wasm.min.js and the .wasm files (default: this file's).
//
// seg.segment(source, {size}?) -> Promise<{labels, width, height, ms, modelMs, size, runtime, precision,
//   reason}>: `source` is an HTMLImageElement, HTMLVideoElement, HTMLCanvasElement, ImageBitmap, ImageData,
//   OffscreenCanvas or VideoFrame; `labels` holds width * height class ids, row by row, at the source's size (Uint8Array;
//   Uint16Array for models of more than 256 classes); `ms` is the whole call, `modelMs` the model alone;
//   `size` is the [height, width] the model ran at; `runtime`, `precision` and `reason` say what ran it and why.
// seg.colorize(labels, width, height, {alpha = 1, transparent, palette}?) -> ImageData: the palette's
//   colour per pixel, opacity `alpha`, fully transparent for the classes in `transparent` (default: the
//   model's own list).
// seg.classes, seg.palette, seg.transparent, seg.title, seg.about, seg.sample (URL or null), seg.meta
//   (model.json's userDefinedMetadata): all from model.json. seg.info: what runs the last size asked for
//   (at creation: options.size, else the source's own): {runtime: 'tfjs' | 'litert', precision,
//   size, model (the .tflite file, or null), reason, version, backend, worker, threadsRequested, threads,
//   simd, isolated, cores, fallback?} (threads and simd are null off wasm).
// seg.dispose(): ends the worker (or frees the model); calls still waiting are rejected.
//
// Every failure is a rejected promise with a SegmenterError: a message a person can act on and a `code`:
//   'options', 'not-found' (model.json), 'model' (not a usable patcher model.json), 'shard-missing',
//   'shard-size', 'tfjs' (a bundle did not load), 'backend-unknown', 'backend' (it did not start here),
//   'worker' (the Web Worker died), 'litert' (LiteRT.js or a .tflite model did not load), 'source' (nothing to read
//   from it), 'disposed', 'run'.
//
// Preprocessing (x * scale + offset on 0..255 pixels, RGB or BGR), the class names, palette, transparent
// classes and the name of the labels output come from model.json's userDefinedMetadata.
//
// The worker is a module worker running this same file (so one engine serves both sides). A module worker
// has no usable importScripts, so it loads the tfjs bundles, which are UMD scripts, with dynamic import():
// UMD falls back to globalThis when it finds no module system, and the bundles are strict-mode code, so
// they define globalThis.tf just as a classic script would. This works in Chromium (tested on 156) without
// eval, so a Content-Security-Policy of script-src 'self' is enough (fetch + eval would need
// 'unsafe-eval'). On the main thread the bundles are added as classic <script> tags when
// globalThis.tf is absent. LiteRT.js in the worker does need eval (see classicImports): where it is
// forbidden, runtime 'litert' moves to the main thread and 'auto' to tfjs.

const WORKER_NAME = 'patcher-segmenter';
const HERE = new URL('./', import.meta.url).href;
const IN_WORKER = typeof WorkerGlobalScope !== 'undefined' && globalThis instanceof WorkerGlobalScope;
const BYTES = {float32: 4, int32: 4, bool: 1, uint8: 1, uint16: 2, float16: 2, int8: 1, int16: 2};
// Errors after which the main thread is worth trying when the worker failed.
const FALLBACK = new Set(['worker', 'backend', 'tfjs', 'litert']);

export class SegmenterError extends Error {
  constructor(message, code) {
    super(message);
    this.name = 'SegmenterError';
    this.code = code;
  }
}

const wire = (err) => ({message: String(err && err.message ? err.message : err),
                        code: (err && err.code) || 'run'});
const unwire = (e) => new SegmenterError(e.message, e.code);

// ---------------------------------------------------------------------------------------------------
// Loading TensorFlow.js

const loading = new Map();

function loadScript(url) {
  if (!loading.has(url)) {
    const done = IN_WORKER
      ? import(url).catch((err) => { throw new SegmenterError(`cannot load ${url}: ${err.message}`, 'tfjs'); })
      : new Promise((resolve, reject) => {
        const script = document.createElement('script');
        script.src = url;
        script.onload = resolve;
        script.onerror = () => reject(new SegmenterError(`cannot load ${url} (missing next to segmenter.js? pass the folder as 'assets')`, 'tfjs'));
        document.head.append(script);
      });
    done.catch(() => loading.delete(url));
    loading.set(url, done);
  }
  return loading.get(url);
}

async function loadTfjs(assets) {
  if (!globalThis.tf) await loadScript(assets + 'tf.min.js');
  if (!globalThis.tf || !globalThis.tf.loadGraphModel) {
    throw new SegmenterError(`${assets}tf.min.js did not define tf (is it the TensorFlow.js union bundle?)`, 'tfjs');
  }
  if (!globalThis.tf.wasm) await loadScript(assets + 'tf-backend-wasm.min.js');
  return globalThis.tf;
}

// ---------------------------------------------------------------------------------------------------
// model.json: fetch, check every shard's size against the manifest, read the metadata

function readMetadata(meta, url) {
  const bad = (what) => new SegmenterError(
    `${url}: its userDefinedMetadata ${what}; rebuild the model with a current patcher`, 'model');
  if (!meta || typeof meta !== 'object') throw bad('is missing');
  const input = meta.input || {};
  if (typeof input.scale !== 'number' || typeof input.offset !== 'number') {
    throw bad('gives no input.scale and input.offset (preprocessing x * scale + offset)');
  }
  const color = String(input.color || 'RGB').toUpperCase();
  if (color !== 'RGB' && color !== 'BGR') throw bad(`has input.color ${input.color}; RGB or BGR expected`);
  if (!Array.isArray(meta.outputs)) throw bad('has no list of outputs');
  const labels = meta.outputs.find((o) => o && o.kind === 'labels');
  const probabilities = meta.outputs.find((o) => o && o.kind === 'probabilities');
  if (!labels && !probabilities) throw bad('names no output of kind "labels" (or "probabilities")');
  const classes = meta.classes;
  const palette = meta.palette;
  if (!Array.isArray(classes) || !classes.length) throw bad('has no classes');
  if (!Array.isArray(palette) || palette.length !== classes.length ||
      !palette.every((c) => Array.isArray(c) && c.length >= 3)) {
    throw bad(`has no palette of ${classes.length} [r, g, b] colours`);
  }
  const transparent = Array.isArray(meta.transparent) ? meta.transparent.filter(Number.isInteger) : [];
  return {
    input: input.name || null, scale: input.scale, offset: input.offset, bgr: color === 'BGR',
    output: (labels || probabilities).name, argmax: !labels,
    classes: classes.map(String), palette: palette.map((c) => [c[0] | 0, c[1] | 0, c[2] | 0]), transparent,
    title: typeof meta.title === 'string' ? meta.title : null,
    about: typeof meta.about === 'string' ? meta.about : null,
    sample: typeof meta.sample === 'string' && meta.sample ? new URL(meta.sample, url).href : null,
  };
}

// model.json alone (the weights are fetched only when tfjs runs): {json, spec, meta}.
async function fetchModel(url) {
  let response;
  try {
    response = await fetch(url);
  } catch (err) {
    throw new SegmenterError(`cannot fetch ${url}: ${err.message}`, 'not-found');
  }
  if (!response.ok) {
    throw new SegmenterError(response.status === 404 ? `model.json not found at ${url} (HTTP 404)`
      : `cannot fetch ${url} (HTTP ${response.status})`, 'not-found');
  }
  let json;
  try {
    json = await response.json();
  } catch (err) {
    throw new SegmenterError(`${url} is not a model.json (not JSON: ${err.message})`, 'model');
  }
  if (!json || !json.modelTopology || !Array.isArray(json.weightsManifest)) {
    throw new SegmenterError(`${url} is not a TensorFlow.js graph model (no modelTopology or weightsManifest)`, 'model');
  }
  return {json, spec: readMetadata(json.userDefinedMetadata, url), meta: json.userDefinedMetadata};
}

// The weights model.json lists, each shard's size checked against the manifest: {specs, data}.
async function fetchWeights(url, json) {
  const specs = [];
  const groups = await Promise.all(json.weightsManifest.map(async (group) => {
    let expected = 0;
    for (const w of group.weights) {
      const dtype = w.quantization ? w.quantization.dtype : w.dtype;
      if (!(dtype in BYTES)) throw new SegmenterError(`${url}: weight ${w.name} has an unknown dtype ${dtype}`, 'model');
      expected += w.shape.reduce((a, b) => a * b, 1) * BYTES[dtype];
      if (w.dtype === 'string') throw new SegmenterError(`${url}: string weights are not supported`, 'model');
    }
    const parts = await Promise.all(group.paths.map(async (path) => {
      const shard = new URL(path, url).href;
      let reply;
      try {
        reply = await fetch(shard);
      } catch (err) {
        throw new SegmenterError(`weight shard ${path} is missing: cannot fetch ${shard} (${err.message})`, 'shard-missing');
      }
      if (!reply.ok) throw new SegmenterError(`weight shard ${path} is missing (HTTP ${reply.status} at ${shard})`, 'shard-missing');
      return new Uint8Array(await reply.arrayBuffer());
    }));
    const actual = parts.reduce((n, p) => n + p.byteLength, 0);
    if (actual !== expected) {
      throw new SegmenterError(`weight shard${group.paths.length > 1 ? 's' : ''} ${group.paths.join(', ')} ` +
        `hold${group.paths.length > 1 ? '' : 's'} ${actual} bytes; model.json describes ${expected} ` +
        '(a truncated or stale file?)', 'shard-size');
    }
    return {weights: group.weights, parts};
  }));
  const total = groups.reduce((n, g) => n + g.parts.reduce((m, p) => m + p.byteLength, 0), 0);
  const data = new Uint8Array(total);
  let at = 0;
  for (const group of groups) {
    specs.push(...group.weights);
    for (const p of group.parts) { data.set(p, at); at += p.byteLength; }
  }
  return {specs, data: data.buffer};
}

// ---------------------------------------------------------------------------------------------------
// Backend

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
                  webgl: ' (is WebGL available here?)'}[backend] || '';
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

// ---------------------------------------------------------------------------------------------------
// Which runtime runs a size: the build's measurements (model.json's userDefinedMetadata.litert)

const RUNTIMES = ['auto', 'tfjs', 'litert'];
const PRECISIONS = ['auto', 'float32', 'int8'];
const same = (a, b) => Boolean(a && b) && a[0] === b[0] && a[1] === b[1];
const sizeText = (s) => (s ? `${s[0]}x${s[1]}` : "the source's size");
const pct = (v) => `${(100 * v).toFixed(2)}%`;

function checkChoice(runtime, precision) {
  if (!RUNTIMES.includes(runtime)) {
    throw new SegmenterError(`options.runtime must be ${RUNTIMES.join(', ')}, not ${runtime}`, 'options');
  }
  if (!PRECISIONS.includes(precision)) {
    throw new SegmenterError(`options.precision must be ${PRECISIONS.join(', ')}, not ${precision}`, 'options');
  }
}

function nearestSize(sizes, size) {
  if (!size) return sizes[0];
  const area = size[0] * size[1];
  const gap = (s) => Math.abs(Math.log((s[0] * s[1]) / area)) + Math.abs(Math.log((s[0] / s[1]) / (size[0] / size[1])));
  return sizes.reduce((best, s) => (gap(s) < gap(best) ? s : best));
}

// What runs the model at `size` ([height, width], or null for the source's own), given the options
// {runtime, precision, backend}: {runtime, precision, size, file, reason}. `auto` takes the fastest of
// what the build measured in Chromium at that size (tfjs-wasm, LiteRT.js float32, LiteRT.js int8 where the
// build recorded int8 as accurate); with no measurement, tfjs. A size without a LiteRT.js model runs on
// tfjs (runtime 'auto') or on the nearest size that has one (runtime 'litert'). Throws SegmenterError
// 'options' for a choice the build cannot serve.
export function chooseRuntime(meta, {runtime = 'auto', precision = 'auto', backend = 'wasm'} = {}, size = null) {
  const bad = (message) => new SegmenterError(message, 'options');
  checkChoice(runtime, precision);
  const lite = meta && typeof meta.litert === 'object' && meta.litert ? meta.litert : null;
  const models = lite && Array.isArray(lite.models) ? lite.models.filter((m) => m && Array.isArray(m.size)) : [];
  const tfjsPrecision = (meta && meta.patcher && meta.patcher.quantization) || 'float32';
  const tfjs = (reason) => ({runtime: 'tfjs', precision: tfjsPrecision, size, file: null, reason});
  if (runtime === 'tfjs') {
    if (precision === 'int8') throw bad("precision 'int8' is a LiteRT.js model: use runtime 'litert' or 'auto'");
    return tfjs('runtime tfjs was asked for');
  }
  if (!models.length) {
    if (runtime === 'litert' || precision === 'int8') {
      throw bad("this build has no LiteRT.js models (build it with 'python -m patcher build --litert')");
    }
    return tfjs('this build has no LiteRT.js models');
  }
  if (runtime === 'auto' && backend !== 'wasm' && precision !== 'int8') {
    return tfjs(`backend ${backend} was asked for (the build measured LiteRT.js against tfjs on wasm)`);
  }
  const sizes = [];
  for (const m of models) if (!sizes.some((s) => same(s, m.size))) sizes.push(m.size);
  let at = sizes.find((s) => same(s, size)) || null;
  let moved = '';
  if (!at) {
    const built = sizes.map(sizeText).join(', ');
    if (runtime === 'auto' && precision !== 'int8') {
      return tfjs(`no LiteRT.js model at ${sizeText(size)} (built: ${built}); tfjs runs any size`);
    }
    at = nearestSize(sizes, size);
    moved = `no LiteRT.js model at ${sizeText(size)}, so the nearest built size, ${sizeText(at)}; `;
  }
  const here = models.filter((m) => same(m.size, at));
  const timing = (Array.isArray(lite.timings) ? lite.timings : []).find((t) => t && same(t.size, at) && t.ms);
  const ms = (key) => (timing && typeof timing.ms[key] === 'number' ? timing.ms[key] : null);
  const lite8 = here.find((m) => m.precision === 'int8');
  const lite32 = here.find((m) => m.precision === 'float32');
  const litert = (m, reason) => ({runtime: 'litert', precision: m.precision, size: at, file: m.file, reason: moved + reason});
  const accuracy = (m) => {
    const a = m.accuracy || {};
    const share = a.away_from_boundary != null ? a.away_from_boundary : a.overall;
    return typeof share === 'number' ? `${pct(share)} agreement with TensorFlow away from class boundaries` : 'no measured agreement';
  };
  if (precision !== 'auto') {
    const m = precision === 'int8' ? lite8 : lite32;
    if (!m) throw bad(`this build has no ${precision} LiteRT.js model at ${sizeText(at)}`);
    if (precision === 'int8') {
      return litert(m, `precision int8 was asked for (${accuracy(m)}${m.accurate ? '' : ', under the build\'s floor'})`);
    }
    if (runtime === 'litert' || !same(at, size)) return litert(m, 'runtime litert, precision float32 were asked for');
  }
  // the candidates, with what the build measured
  const candidates = [];
  if (lite32) candidates.push({key: 'float32', pick: lite32, ms: ms('float32')});
  if (lite8 && lite8.accurate && precision === 'auto') candidates.push({key: 'int8', pick: lite8, ms: ms('int8')});
  if (runtime === 'auto' && same(at, size)) candidates.push({key: 'tfjs', pick: null, ms: ms('tfjs')});
  const left = lite8 && !lite8.accurate && precision === 'auto' ? `; int8 left out: ${accuracy(lite8)}, under the build's floor` : '';
  const measured = candidates.filter((c) => c.ms != null);
  if (!measured.length) {
    if (runtime === 'auto') return tfjs(`the build measured no speeds at ${sizeText(at)}${left}`);
    const pick = candidates.find((c) => c.key === 'int8') || candidates[0];
    if (!pick) throw bad(`this build has no LiteRT.js model at ${sizeText(at)}`);
    return litert(pick.pick, `runtime litert was asked for; the build measured no speeds, so int8 where accurate${left}`);
  }
  measured.sort((a, b) => a.ms - b.ms);
  const label = (c) => (c.key === 'tfjs' ? 'tfjs wasm' : `LiteRT.js ${c.key}`);
  const threads = timing.threads ? `, ${timing.threads} thread${timing.threads === 1 ? '' : 's'}` : '';
  const why = `fastest the build measured at ${sizeText(at)} (${timing.browser || 'Chromium'}${threads}): ` +
    measured.map((c) => `${label(c)} ${c.ms.toFixed(c.ms < 10 ? 1 : 0)} ms`).join(', ') + left;
  const best = measured[0];
  return best.key === 'tfjs' ? tfjs(why) : litert(best.pick, why);
}

// ---------------------------------------------------------------------------------------------------
// The engines: tfjs (model.json) and LiteRT.js (the build's litert/*.tflite), where the model lives

function makeCanvas(width, height) {
  if (typeof OffscreenCanvas !== 'undefined') return new OffscreenCanvas(width, height);
  const canvas = document.createElement('canvas');
  canvas.width = width;
  canvas.height = height;
  return canvas;
}

function isImageData(source) {
  return typeof ImageData !== 'undefined' && source instanceof ImageData;
}

// The RGBA pixels of `source` drawn at width x height.
async function pixelsOf(source, width, height, holder) {
  if (isImageData(source) && source.width === width && source.height === height) return source;
  let drawable = source;
  if (isImageData(source)) drawable = await createImageBitmap(source);
  if (!holder.canvas) holder.canvas = makeCanvas(width, height);
  const canvas = holder.canvas;
  if (canvas.width !== width || canvas.height !== height) { canvas.width = width; canvas.height = height; }
  if (!holder.context) holder.context = canvas.getContext('2d', {willReadFrequently: true});
  holder.context.clearRect(0, 0, width, height);
  holder.context.drawImage(drawable, 0, 0, width, height);
  if (drawable !== source) drawable.close();
  return holder.context.getImageData(0, 0, width, height);
}

// Class ids of h x w mapped to sh x sw by nearest neighbour (pixel centres).
function resizeLabels(labels, h, w, sh, sw) {
  if (h === sh && w === sw) return labels;
  const out = new labels.constructor(sh * sw);
  const xs = new Int32Array(sw);
  for (let x = 0; x < sw; x++) xs[x] = Math.min(w - 1, Math.floor((x + 0.5) * w / sw));
  for (let y = 0; y < sh; y++) {
    const row = Math.min(h - 1, Math.floor((y + 0.5) * h / sh)) * w;
    const at = y * sw;
    for (let x = 0; x < sw; x++) out[at + x] = labels[row + xs[x]];
  }
  return out;
}

class TfjsEngine {
  static async create({model, backend, threads, assets}, {json, spec}) {
    const tf = await loadTfjs(assets);
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
    return new TfjsEngine(tf, graph, info, spec);
  }

  constructor(tf, graph, info, spec) {
    Object.assign(this, {tf, graph, info, spec});
  }

  // Class ids (h * w) of RGBA `pixels`.
  async infer(pixels) {
    const tf = this.tf;
    if (tf.getBackend() !== this.info.backend) await tf.setBackend(this.info.backend);
    const {input, scale, offset, bgr, output, argmax} = this.spec;
    const result = tf.tidy(() => {
      let x = tf.browser.fromPixels(pixels, 3).toFloat();
      if (bgr) x = tf.reverse(x, -1);
      x = tf.add(tf.mul(x, scale), offset).expandDims(0);
      let y = this.graph.execute(input ? {[input]: x} : x, output);
      if (argmax) y = tf.argMax(y, -1);
      return y;
    });
    try {
      return await result.data();
    } finally {
      result.dispose();
    }
  }

  free() {
    if (this.graph) { this.graph.dispose(); this.graph = null; }
  }
}

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
      globalThis.Module = {locateFile: (name) => wasm + name,
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

class LiteEngine {
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

  constructor(api, info, model, threads) {
    Object.assign(this, {api, info, model, threads, compiled: new Map()});
  }

  // The compiled model of `file` (fetched and compiled on first use).
  async compile(file) {
    if (!this.compiled.has(file)) {
      const url = new URL(file, this.model).href;
      const made = this.api.loadAndCompile(url, {accelerator: 'wasm', cpuOptions: {numThreads: this.threads}})
        .catch((err) => {
          this.compiled.delete(file);
          throw new SegmenterError(`LiteRT.js cannot load ${url}: ${err.message}`, 'litert');
        });
      this.compiled.set(file, made);
    }
    return this.compiled.get(file);
  }

  // Class ids (h * w) of RGBA `pixels` (h x w) with the model `file`.
  async infer(pixels, h, w, file, spec) {
    const model = await this.compile(file);
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
      return outputs[0].toTypedArray().slice();
    } finally {
      input.delete();
      for (const t of outputs) t.delete();
    }
  }

  free() {
    for (const made of this.compiled.values()) made.then((m) => m.delete(), () => {});
    this.compiled.clear();
  }
}

// Chooses the runtime for each size and runs it; one per segmenter, where the model lives.
class Engine {
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

// ---------------------------------------------------------------------------------------------------
// In the worker

function serve() {
  let engine = null;
  const post = (message, transfer) => globalThis.postMessage(message, transfer || []);
  globalThis.onmessage = async ({data}) => {
    const {id, type} = data;
    try {
      if (type === 'init') {
        engine = await Engine.create(data.options);
        post({id, ok: true, info: engine.info, spec: engine.spec, meta: engine.meta});
      } else if (type === 'segment') {
        if (!engine) throw new SegmenterError('the model is not loaded', 'run');
        const source = data.pixels ? new ImageData(data.pixels, data.sw, data.sh) : data.bitmap;
        try {
          const result = await engine.run(source, data.h, data.w, data.sh, data.sw);
          post({id, ok: true, ...result}, [result.labels.buffer]);
        } finally {
          if (data.bitmap) data.bitmap.close();
        }
      } else {
        throw new SegmenterError(`unknown request ${type}`, 'run');
      }
    } catch (err) {
      post({id, ok: false, error: wire(err)});
    }
  };
}

if (IN_WORKER && globalThis.name === WORKER_NAME) serve();

// ---------------------------------------------------------------------------------------------------
// On the caller's side

function sourceSize(source) {
  if (!source || typeof source !== 'object') {
    throw new SegmenterError('segment() needs an image, video, canvas, ImageBitmap or ImageData', 'source');
  }
  let width;
  let height;
  if (typeof HTMLImageElement !== 'undefined' && source instanceof HTMLImageElement) {
    [width, height] = [source.naturalWidth, source.naturalHeight];
    if (!source.complete || !width) throw new SegmenterError('the image has not loaded (or cannot be decoded)', 'source');
  } else if (typeof HTMLVideoElement !== 'undefined' && source instanceof HTMLVideoElement) {
    [width, height] = [source.videoWidth, source.videoHeight];
    if (source.readyState < 2 || !width) throw new SegmenterError('the video has no frame yet', 'source');
  } else if (typeof VideoFrame !== 'undefined' && source instanceof VideoFrame) {
    [width, height] = [source.displayWidth, source.displayHeight];
  } else {
    [width, height] = [source.width, source.height];
  }
  if (!Number.isInteger(width) || !Number.isInteger(height)) {
    throw new SegmenterError('segment() needs an image, video, canvas, ImageBitmap or ImageData', 'source');
  }
  if (!width || !height) throw new SegmenterError(`the source is empty (${width} x ${height} pixels)`, 'source');
  return [width, height];
}

function checkSize(size, what) {
  if (size == null) return null;
  if (!Array.isArray(size) || size.length !== 2 || !size.every((n) => Number.isInteger(n) && n > 0)) {
    throw new SegmenterError(`${what} must be [height, width] in whole pixels, not ${JSON.stringify(size)}`, 'options');
  }
  return size;
}

function options(given) {
  const o = {model: 'model.json', backend: 'wasm', worker: true, threads: 0, size: null, assets: HERE,
             runtime: 'auto', precision: 'auto', ...given};
  const base = typeof document !== 'undefined' ? document.baseURI : globalThis.location.href;
  if (typeof o.model !== 'string' && !(o.model instanceof URL)) throw new SegmenterError('options.model must be a URL', 'options');
  if (typeof o.backend !== 'string' || !o.backend) throw new SegmenterError('options.backend must be a backend name such as wasm, webgl or cpu', 'options');
  if (!Number.isInteger(o.threads) || o.threads < 0) throw new SegmenterError(`options.threads must be 0 (one per core) or a whole number of threads, not ${o.threads}`, 'options');
  checkSize(o.size, 'options.size');
  checkChoice(o.runtime, o.precision);
  return {...o, model: new URL(o.model, base).href, assets: new URL(o.assets, base).href.replace(/\/?$/, '/'),
          worker: Boolean(o.worker)};
}

function noWorker() {
  if (typeof Worker === 'undefined') return 'no Web Workers here';
  if (typeof OffscreenCanvas === 'undefined') return 'no OffscreenCanvas here (a worker cannot read pixels)';
  if (typeof createImageBitmap === 'undefined') return 'no createImageBitmap here';
  return null;
}

// Talks to a worker running this file; every call still waiting is rejected when the worker fails or ends.
function workerRunner(opts) {
  let worker;
  try {
    worker = new Worker(import.meta.url, {type: 'module', name: WORKER_NAME});
  } catch (err) {
    throw new SegmenterError(`cannot start a module Web Worker: ${err.message}`, 'worker');
  }
  const pending = new Map();
  let next = 1;
  let dead = null;
  const end = (err) => {
    if (!dead) dead = err;
    worker.terminate();
    for (const call of pending.values()) call.reject(err);
    pending.clear();
  };
  worker.onmessage = ({data}) => {
    const call = pending.get(data.id);
    if (!call) return;
    pending.delete(data.id);
    if (data.ok) call.resolve(data); else call.reject(unwire(data.error));
  };
  worker.onerror = (event) => {
    if (event.preventDefault) event.preventDefault();
    end(new SegmenterError(`the Web Worker failed: ${event.message ||
      'it could not start segmenter.js as a module worker'}`, 'worker'));
  };
  worker.onmessageerror = () => end(new SegmenterError('the Web Worker sent a message that could not be read', 'worker'));
  const call = (type, payload, transfer = []) => {
    if (dead) return Promise.reject(dead);
    return new Promise((resolve, reject) => {
      const id = next++;
      pending.set(id, {resolve, reject});
      try {
        worker.postMessage({...payload, id, type}, transfer);
      } catch (err) {
        pending.delete(id);
        reject(new SegmenterError(`cannot send to the Web Worker: ${err.message}`, 'worker'));
      }
    });
  };
  return {
    async init() {
      const {model, backend, threads, assets, runtime, precision, size} = opts;
      const {info, spec, meta} = await call('init', {options: {model, backend, threads, assets, runtime, precision,
                                                               size}});
      return {info, spec, meta};
    },
    async run(source, h, w, sh, sw) {
      let message;
      let transfer;
      if (isImageData(source) && h === sh && w === sw) {
        const pixels = new Uint8ClampedArray(source.data);
        message = {pixels};
        transfer = [pixels.buffer];
      } else {
        let bitmap;
        try {
          bitmap = await createImageBitmap(source);
        } catch (err) {
          throw new SegmenterError(`cannot read pixels from the source: ${err.message}`, 'source');
        }
        if (dead) { bitmap.close(); throw dead; }
        message = {bitmap};
        transfer = [bitmap];
      }
      const reply = await call('segment', {...message, h, w, sh, sw}, transfer);
      return {labels: reply.labels, modelMs: reply.modelMs, size: reply.size, info: reply.info};
    },
    dispose() { end(new SegmenterError('this segmenter was disposed', 'disposed')); },
  };
}

// The model on this thread; calls still waiting are rejected at dispose (the model is freed after them).
function mainRunner(opts) {
  let engine = null;
  const pending = new Set();
  let dead = null;
  return {
    async init() {
      engine = await Engine.create(opts);
      return {info: engine.info, spec: engine.spec, meta: engine.meta};
    },
    run(source, h, w, sh, sw) {
      if (dead) return Promise.reject(dead);
      return new Promise((resolve, reject) => {
        const call = {reject};
        pending.add(call);
        engine.run(source, h, w, sh, sw).then(resolve, (err) => reject(
          err instanceof SegmenterError ? err : new SegmenterError(`the model failed: ${err.message}`, 'run')))
          .finally(() => pending.delete(call));
      });
    },
    dispose() {
      dead = new SegmenterError('this segmenter was disposed', 'disposed');
      for (const call of pending) call.reject(dead);
      pending.clear();
      if (engine) engine.dispose();
    },
  };
}

class Segmenter {
  constructor(runner, {info, spec, meta}, opts) {
    this._runner = runner;
    this._size = opts.size;
    this._disposed = false;
    this.info = info;
    this.meta = meta;
    this.classes = spec.classes;
    this.palette = spec.palette;
    this.transparent = spec.transparent;
    this.title = spec.title;
    this.about = spec.about;
    this.sample = spec.sample;
    this.model = opts.model;
  }

  async segment(source, {size} = {}) {
    const start = performance.now();
    if (this._disposed) throw new SegmenterError('this segmenter was disposed', 'disposed');
    const [sw, sh] = sourceSize(source);
    const [h, w] = checkSize(size, 'size') || this._size || [sh, sw];
    const done = await this._runner.run(source, h, w, sh, sw);
    this.info = {...done.info, ...(this.info.fallback ? {fallback: this.info.fallback} : {})};
    return {labels: done.labels, width: sw, height: sh, ms: performance.now() - start, modelMs: done.modelMs,
            size: done.size, runtime: done.info.runtime, precision: done.info.precision, reason: done.info.reason};
  }

  colorize(labels, width, height, {alpha = 1, transparent = this.transparent, palette = this.palette} = {}) {
    if (!labels || labels.length !== width * height) {
      throw new SegmenterError(`colorize: ${labels ? labels.length : 0} labels for ${width} x ${height} pixels`, 'options');
    }
    const image = new ImageData(width, height);
    const out = new Uint32Array(image.data.buffer);
    const a = Math.round(255 * Math.min(1, Math.max(0, alpha)));
    const hidden = new Set(transparent);
    // One RGBA word per class, in the platform's byte order.
    const bytes = new Uint8Array(4);
    const word = new Uint32Array(bytes.buffer);
    const table = new Uint32Array(Math.max(256, palette.length));
    for (let i = 0; i < table.length; i++) {
      const c = palette[i] || [255, 255, 255];
      bytes.set([c[0], c[1], c[2], hidden.has(i) ? 0 : a]);
      table[i] = hidden.has(i) ? 0 : word[0];
    }
    for (let i = 0; i < labels.length; i++) out[i] = table[labels[i]];
    return image;
  }

  dispose() {
    if (this._disposed) return;
    this._disposed = true;
    this._runner.dispose();
  }
}

export async function createSegmenter(given = {}) {
  const opts = options(given);
  let fallback = null;
  if (opts.worker) {
    fallback = noWorker();
    if (!fallback) {
      let runner = null;
      try {
        runner = workerRunner(opts);
        return new Segmenter(runner, await runner.init(), opts);
      } catch (err) {
        if (runner) runner.dispose();
        if (!FALLBACK.has(err.code)) throw err;
        fallback = `the Web Worker could not run ${err.code === 'litert' ? 'LiteRT.js' : opts.backend}: ${err.message}`;
      }
    }
  }
  const runner = mainRunner(opts);
  try {
    const seg = new Segmenter(runner, await runner.init(), opts);
    if (fallback) seg.info = {...seg.info, fallback};
    return seg;
  } catch (err) {
    runner.dispose();
    throw err;
  }
}

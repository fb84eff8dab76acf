// LiteRT.js harness: window.harness runs this build's TFLite models (and the tfjs model in ../) on given
// input and returns an output (class ids, or a picture's values) and times. For tests and benchmarks; the demo page does not use it.
//   await harness.init({threads})          load LiteRT.js (threaded wasm when asked for and possible)
//   await harness.load(key, file, threads) compile litert/FILE for the wasm (XNNPACK) CPU path
//   await harness.run(key, base64, shape, dtype = 'int32')  float32 input (little-endian bytes) -> {output:
//                                          base64 of the output of that dtype (labels too, for int32), dtype, ms}
//   await harness.time(key, shape, n)      n timed runs on a fixed input (after one warm-up) -> [ms]
//   await harness.tfjsInit(threads)        tfjs + its wasm backend from ../ with that many threads
//   await harness.tfjsTime(shape, n)       same, for ../model.json
import {loadLiteRt, loadAndCompile, supportsFeature, Tensor} from './litert.js';

const models = {};
let loaded = null;
let tfModel = null;

function bytes(base64) {
  const raw = atob(base64);
  const out = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
  return out;
}

function base64(array) {
  const u8 = new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
  let text = '';
  for (let i = 0; i < u8.length; i += 0x8000) text += String.fromCharCode(...u8.subarray(i, i + 0x8000));
  return btoa(text);
}

function pattern(shape) {
  const n = shape.reduce((a, b) => a * b, 1);
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = Math.sin(i * 0.001) * 0.9;
  return x;
}

async function infer(key, x, shape, dtype = 'int32') {
  const input = new Tensor(x, shape);
  const start = performance.now();
  const outputs = await models[key].run(input);
  // the output of `dtype`: a class-map model's int32 class ids (it also gives its logits, float32), a
  // picture model's float32 picture
  const at = Math.max(0, models[key].getOutputDetails().findIndex((d) => d.dtype === dtype));
  const output = outputs[at].toTypedArray().slice();
  const ms = performance.now() - start;
  input.delete();
  for (const t of outputs) t.delete();
  return {output, ms};
}

window.harness = {
  async init({threads = true} = {}) {
    const relaxedSimd = Boolean(await supportsFeature('relaxedSimd'));
    const threaded = Boolean(threads && self.crossOriginIsolated && relaxedSimd);
    if (!loaded) loaded = await loadLiteRt('./wasm/', {threads: threaded});
    const info = {threaded, relaxedSimd, crossOriginIsolated: self.crossOriginIsolated,
                  cores: navigator.hardwareConcurrency, defaultThreads: loaded.liteRtWasm?.getThreadCount?.() ?? null};
    document.getElementById('status').textContent = JSON.stringify(info);
    return info;
  },
  async load(key, file, threads) {
    if (models[key]) models[key].delete();
    const options = {accelerator: 'wasm'};
    if (threads) options.cpuOptions = {numThreads: threads};
    models[key] = await loadAndCompile(file, options);
    const m = models[key];
    return {inputs: m.getInputDetails().map(d => ({name: d.name, shape: Array.from(d.shape), dtype: d.dtype})),
            outputs: m.getOutputDetails().map(d => ({name: d.name, shape: Array.from(d.shape), dtype: d.dtype})),
            threads: m.options.cpuOptions?.numThreads ?? null, fullyAccelerated: m.isFullyAccelerated};
  },
  async run(key, input, shape, dtype = 'int32') {
    const u8 = bytes(input);
    const {output, ms} = await infer(key, new Float32Array(u8.buffer), shape, dtype);
    const encoded = base64(output);
    return {output: encoded, ...(dtype === 'int32' ? {labels: encoded} : {}), dtype: output.constructor.name, ms};
  },
  async time(key, shape, n) {
    const x = pattern(shape);
    await infer(key, x, shape);
    const times = [];
    for (let i = 0; i < n; i++) times.push((await infer(key, x, shape)).ms);
    return times;
  },
  async tfjsInit(threads) {
    for (const src of ['../tf.min.js', '../tf-backend-wasm.min.js']) {
      await new Promise((resolve, reject) => {
        const s = document.createElement('script');
        s.src = src; s.onload = resolve; s.onerror = () => reject(new Error(`cannot load ${src}`));
        document.head.appendChild(s);
      });
    }
    tf.wasm.setWasmPaths(new URL('../', location.href).href);
    tf.wasm.setThreadsCount(threads);
    // tfjs-backend-wasm caps its threads at hardwareConcurrency / 2; while it starts, it is told twice the
    // wanted count so the cap lets `threads` through (as patcher/web/lib/tfjs.js does)
    let told = false;
    try {
      Object.defineProperty(navigator, 'hardwareConcurrency', {value: 2 * threads, configurable: true});
      told = true;
    } catch (err) { /* read-only here: the backend keeps its own cap */ }
    try {
      if (!(await tf.setBackend('wasm'))) throw new Error('tfjs could not start its wasm backend');
    } finally {
      if (told) delete navigator.hardwareConcurrency;
    }
    tfModel = await tf.loadGraphModel('../model.json');
    return {backend: tf.getBackend(), threads: tf.wasm.getThreadsCount()};
  },
  async tfjsTime(shape, n) {
    const x = tf.tensor(pattern(shape), shape);
    const once = async () => {
      const start = performance.now();
      const y = tfModel.predict(x);
      await (Array.isArray(y) ? y[0] : y).data();
      tf.dispose(y);
      return performance.now() - start;
    };
    await once();
    const times = [];
    for (let i = 0; i < n; i++) times.push(await once());
    x.dispose();
    return times;
  },
};
window.harnessReady = true;

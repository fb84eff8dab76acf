// onnxruntime-web harness for scripts/bench_browser.py: window.ortBench times model.onnx on the wasm EP.
//   await ortBench.init(threads)  start ort's wasm with that many threads (ort falls back to 1 when the page is
//                                 not cross-origin isolated) and load model.onnx -> what ort reports it runs
//   await ortBench.time(shape, n, labels)
//                                 n timed runs on a fixed input after one warm-up -> {ms: [...]}, and with
//                                 `labels`, the warm-up run's class ids (base64 int32) as `labels`
// The input is the one patcher/web_litert/harness.js gives tfjs and LiteRT.js (same formula), so the script can
// compare the class ids with TensorFlow's on it.
import * as ort from './ort.wasm.min.mjs';

let session = null;

function pattern(shape) {
  const n = shape.reduce((a, b) => a * b, 1);
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = Math.sin(i * 0.001) * 0.9;
  return x;
}

function base64(array) {
  const u8 = new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
  let text = '';
  for (let i = 0; i < u8.length; i += 0x8000) text += String.fromCharCode(...u8.subarray(i, i + 0x8000));
  return btoa(text);
}

async function infer(x, shape) {
  const input = new ort.Tensor('float32', x, shape);
  const start = performance.now();
  const outputs = await session.run({[session.inputNames[0]]: input});
  const data = outputs[session.outputNames[0]].data;
  const ms = performance.now() - start;
  for (const t of Object.values(outputs)) t.dispose();
  input.dispose();
  return {ms, data};
}

window.ortBench = {
  async init(threads) {
    ort.env.wasm.numThreads = threads;
    ort.env.wasm.wasmPaths = new URL('./', location.href).href;
    session = await ort.InferenceSession.create('model.onnx', {executionProviders: ['wasm'],
                                                                graphOptimizationLevel: 'all'});
    // ort sets env.wasm.numThreads to 1 itself when it cannot start threads, before it starts its wasm
    const info = {threads: ort.env.wasm.numThreads, version: ort.env.versions?.web ?? null,
                  crossOriginIsolated: self.crossOriginIsolated, cores: navigator.hardwareConcurrency,
                  inputs: session.inputNames, outputs: session.outputNames};
    document.getElementById('status').textContent = JSON.stringify(info);
    return info;
  },
  async time(shape, n, labels = false) {
    const x = pattern(shape);
    const first = await infer(x, shape);
    const ms = [];
    for (let i = 0; i < n; i++) ms.push((await infer(x, shape)).ms);
    if (!labels) return {ms};
    const ids = first.data instanceof BigInt64Array ? Int32Array.from(first.data, Number) : first.data;
    return {ms, labels: base64(ids), dtype: ids.constructor.name};
  },
};
window.ortBenchReady = true;

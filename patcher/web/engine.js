// The segmentation engine, shared by the Web Worker (importScripts) and the main-thread fallback.
// Needs tf (tf.min.js) and the wasm backend (tf-backend-wasm.min.js) loaded first.
(function (scope) {
  'use strict';
  const BYTES = {float32: 4, int32: 4, bool: 1, uint8: 1, uint16: 2, float16: 2};
  let model = null;
  let meta = null;

  // Fetch model.json and every shard, check the shards' sizes against the manifest, then load.
  async function load(base) {
    const response = await fetch(base + 'model.json');
    if (!response.ok) throw new Error(`model.json: HTTP ${response.status}`);
    const json = await response.json();
    const specs = [];
    const buffers = [];
    for (const group of json.weightsManifest) {
      let expected = 0;
      for (const w of group.weights) {
        const dtype = w.quantization ? w.quantization.dtype : w.dtype;
        expected += w.shape.reduce((a, b) => a * b, 1) * BYTES[dtype];
        specs.push(w);
      }
      let actual = 0;
      for (const p of group.paths) {
        const shard = await fetch(base + p);
        if (!shard.ok) throw new Error(`weight shard ${p} is missing (HTTP ${shard.status})`);
        const data = await shard.arrayBuffer();
        actual += data.byteLength;
        buffers.push(new Uint8Array(data));
      }
      if (actual !== expected) {
        throw new Error(`weight shards ${group.paths.join(', ')} hold ${actual} bytes; model.json describes ${expected}`);
      }
    }
    const total = buffers.reduce((n, b) => n + b.byteLength, 0);
    const all = new Uint8Array(total);
    let offset = 0;
    for (const b of buffers) { all.set(b, offset); offset += b.byteLength; }
    model = await tf.loadGraphModel(tf.io.fromMemory({
      modelTopology: json.modelTopology, weightSpecs: specs, weightData: all.buffer, format: json.format,
      generatedBy: json.generatedBy, convertedBy: json.convertedBy, signature: json.signature,
      userDefinedMetadata: json.userDefinedMetadata,
    }));
    meta = json.userDefinedMetadata || {};
    return meta;
  }

  // `threads`: wasm threads to run (default one per core); they only start where the page is
  // cross-origin isolated, otherwise the backend runs on one.
  async function init(backend, wasmPath, threads) {
    const wanted = threads || navigator.hardwareConcurrency || 1;
    let told = false;
    if (backend === 'wasm' && tf.wasm) {
      tf.wasm.setWasmPaths(wasmPath);
      tf.wasm.setThreadsCount(wanted);
      // tfjs-backend-wasm caps its threads at hardwareConcurrency / 2 (it assumes two logical CPUs per
      // core); while it starts, it is told twice the wanted count so the cap lets `wanted` through.
      try {
        Object.defineProperty(navigator, 'hardwareConcurrency', {value: 2 * wanted, configurable: true});
        told = true;
      } catch (err) { /* read-only here: the backend keeps its own cap */ }
    }
    try {
      if (!(await tf.setBackend(backend))) throw new Error(`backend ${backend} is not available here`);
    } finally {
      if (told) delete navigator.hardwareConcurrency;
    }
    await tf.ready();
    const info = {backend: tf.getBackend(), threads: 0, simd: false, isolated: !!self.crossOriginIsolated};
    if (info.backend === 'wasm') {
      info.threads = tf.wasm.getThreadsCount();
      info.simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
    }
    return info;
  }

  // RGBA pixels (ImageData-like) of `height` x `width` -> class ids per pixel.
  async function segment(pixels, height, width) {
    if (!model) throw new Error('no model loaded');
    const start = performance.now();
    const labels = tf.tidy(() => {
      const rgba = tf.tensor3d(pixels, [height, width, 4], 'int32');
      const rgb = tf.slice(rgba, [0, 0, 0], [height, width, 3]).toFloat();
      const x = tf.sub(tf.div(rgb, 127.5), 1).expandDims(0);
      return model.execute(x, 'final_output');
    });
    const data = await labels.data();
    labels.dispose();
    return {labels: data, height, width, ms: performance.now() - start};
  }

  scope.Segmenter = {load, init, segment, get meta() { return meta; }};
})(typeof self !== 'undefined' ? self : window);

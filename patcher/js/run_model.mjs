// Run a converted graph model in Node with TensorFlow.js on one backend; for `patcher check` and benchmarks.
// Usage: node run_model.mjs JOB.json   where JOB is
//   {"model": DIR, "backend": "cpu"|"wasm", "outputs": [names], "repeat": N, "warmup": bool,
//    "inputs": [{"file": F, "shape": [1, H, W, 3]}], "out": PREFIX}
// Writes each output of input i as PREFIX.i.k.bin (raw little-endian) and prints one JSON line per input.
import fs from 'node:fs';
import path from 'node:path';
import {pathToFileURL} from 'node:url';
import {createRequire} from 'node:module';
import * as tf from '@tensorflow/tfjs';
import {setWasmPaths, getThreadsCount} from '@tensorflow/tfjs-backend-wasm';

const BYTES = {float32: 4, int32: 4, bool: 1, uint8: 1, uint16: 2, float16: 2};

// The real path of weight shard `p` of the model in `dir`; refused when it leaves `dir` (`..`, an absolute
// path, a symbolic link out of it), so nothing outside the folder is read.
function shardPath(dir, p) {
  const root = fs.realpathSync(dir);
  if (typeof p !== 'string' || path.isAbsolute(p) || p.split(/[\\/]/).includes('..')) {
    throw new Error(`model.json names the weight shard ${JSON.stringify(p)}, outside ${dir}; refusing to read it`);
  }
  const file = path.join(root, p);
  if (!fs.existsSync(file)) throw new Error(`weight shard ${p} is missing from ${dir}`);
  const rel = path.relative(root, fs.realpathSync(file));
  if (rel === '..' || rel.startsWith('..' + path.sep) || path.isAbsolute(rel)) {
    throw new Error(`weight shard ${p} is a symbolic link out of ${dir}; refusing to read it`);
  }
  return file;
}

export function loadArtifacts(dir) {
  const json = JSON.parse(fs.readFileSync(path.join(dir, 'model.json'), 'utf8'));
  if (!json || !Array.isArray(json.weightsManifest)) throw new Error(`${path.join(dir, 'model.json')} has no weightsManifest`);
  const buffers = [];
  const specs = [];
  for (const group of json.weightsManifest) {
    let expected = 0;
    for (const w of group.weights) {
      const count = w.shape.reduce((a, b) => a * b, 1);
      const dtype = w.quantization ? w.quantization.dtype : w.dtype;
      expected += count * BYTES[dtype];
      specs.push(w);
    }
    let actual = 0;
    for (const p of group.paths) {
      const data = fs.readFileSync(shardPath(dir, p));
      actual += data.length;
      buffers.push(data);
    }
    if (actual !== expected) {
      throw new Error(`weight shards ${group.paths.join(', ')} hold ${actual} bytes; model.json describes ${expected}`);
    }
  }
  const all = Buffer.concat(buffers);
  const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength);
  return {
    modelTopology: json.modelTopology, weightSpecs: specs, weightData, format: json.format,
    generatedBy: json.generatedBy, convertedBy: json.convertedBy, signature: json.signature,
    userDefinedMetadata: json.userDefinedMetadata,
  };
}

// Start tfjs on `backend` (wasm from the installed package's binaries); what it runs, e.g. "wasm (SIMD, 1 thread)".
// Node has wasm SIMD; tfjs-backend-wasm runs threads only in browsers (tensorflow/tfjs#3830).
export async function useBackend(backend) {
  if (backend === 'wasm') {
    const require = createRequire(import.meta.url);
    const dist = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'));
    setWasmPaths(dist + path.sep);
  }
  if (!(await tf.setBackend(backend))) throw new Error(`backend ${backend} is not available`);
  await tf.ready();
  if (backend !== 'wasm') return backend;
  const simd = await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT');
  const threads = getThreadsCount();
  return `wasm (${simd ? 'SIMD' : 'no SIMD'}, ${threads} thread${threads === 1 ? '' : 's'})`;
}

async function main() {
  const job = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
  const runtime = await useBackend(job.backend);
  const model = await tf.loadGraphModel(tf.io.fromMemory(loadArtifacts(job.model)));
  for (const [i, input] of job.inputs.entries()) {
    const data = fs.readFileSync(input.file);
    const x = tf.tensor(new Float32Array(data.buffer, data.byteOffset, data.byteLength / 4), input.shape, 'float32');
    let times = [];
    let results;
    if (job.warmup) tf.dispose(model.execute(x, job.outputs));
    for (let r = 0; r < Math.max(1, job.repeat || 1); r++) {
      if (results) tf.dispose(results);
      const start = performance.now();
      results = model.execute(x, job.outputs);
      if (!Array.isArray(results)) results = [results];
      await Promise.all(results.map((t) => t.data()));
      times.push(performance.now() - start);
    }
    const shapes = [];
    for (const [k, t] of results.entries()) {
      const values = await t.data();
      fs.writeFileSync(`${job.out}.${i}.${k}.bin`, Buffer.from(values.buffer, values.byteOffset, values.byteLength));
      shapes.push({shape: t.shape, dtype: t.dtype});
    }
    tf.dispose([x, ...results]);
    console.log(JSON.stringify({input: i, backend: tf.getBackend(), runtime, outputs: shapes, ms: times}));
  }
}

if (import.meta.url === pathToFileURL(process.argv[1]).href) main().catch((err) => {
  console.log(JSON.stringify({error: String(err && err.message ? err.message : err)}));
  process.exit(1);
});

// Benchmark helper (not a test): where a web model's time goes on tfjs wasm in Node, per kernel.
// Usage: node scripts/profile_webmodel.mjs MODEL_DIR [SIZE]   (SIZE: square side, default 448)
import * as tf from '@tensorflow/tfjs';
import {loadArtifacts, useBackend} from '../patcher/js/run_model.mjs';

await useBackend('wasm');
const model = await tf.loadGraphModel(tf.io.fromMemory(loadArtifacts(process.argv[2])));
const size = Number(process.argv[3] || 448);
const x = tf.randomUniform([1, size, size, 3], -1, 1, 'float32', 0);
tf.dispose(model.execute(x, 'final_output'));
const start = performance.now();
const info = await tf.profile(async () => {
  const y = model.execute(x, 'final_output');
  await y.data();
  y.dispose();
});
const wall = performance.now() - start;
const kernels = [];
for (const k of info.kernels) {
  // tf.profile lists each op's wrapper (name__op) and its kernel; count kernels only.
  if (!k.name.endsWith('__op')) kernels.push({name: k.name, ms: await k.kernelTimeMs, shapes: k.inputShapes});
}
const total = kernels.reduce((sum, k) => sum + k.ms, 0);
const byName = new Map();
for (const k of kernels) {
  const [ms, n] = byName.get(k.name) || [0, 0];
  byName.set(k.name, [ms + k.ms, n + 1]);
}
console.log(`${size}x${size}: ${total.toFixed(1)} ms in ${kernels.length} kernels (${wall.toFixed(1)} ms with profiling)`);
for (const [name, [ms, n]] of [...byName].sort((a, b) => b[1][0] - a[1][0])) {
  console.log(`${name.padEnd(24)} ${String(n).padStart(4)} ${ms.toFixed(1).padStart(9)} ms ${(100 * ms / total).toFixed(1).padStart(5)} %`);
}
console.log('slowest kernels:');
for (const k of kernels.sort((a, b) => b.ms - a.ms).slice(0, 5)) {
  console.log(`${k.ms.toFixed(1).padStart(9)} ms ${k.name} ${JSON.stringify(k.shapes.filter(Boolean).slice(0, 2))}`);
}

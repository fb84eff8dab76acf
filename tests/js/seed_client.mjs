// Uses a built model the way the seed's published client does: tf.loadGraphModel(url), then per frame
// pixels -> expandDims(0) -> / 127.5 - 1 -> model.predict(x) -> prediction.arraySync() as H rows of W ids.
// Usage: node seed_client.mjs URL_OF_MODEL_JSON PIXELS.bin HEIGHT WIDTH   (PIXELS: RGB uint8)
import fs from 'node:fs';
import * as tf from '@tensorflow/tfjs';

const [url, file, height, width] = process.argv.slice(2);
await tf.setBackend('cpu');
const model = await tf.loadGraphModel(url);
const pixels = tf.tensor3d(new Uint8Array(fs.readFileSync(file)), [Number(height), Number(width), 3], 'int32');
const x = pixels.expandDims(0).toFloat().div(127.5).sub(1);
const prediction = model.predict(x);
const rows = prediction.arraySync();
console.log(JSON.stringify({rows, isTensor: prediction instanceof tf.Tensor, dtype: prediction.dtype}));

// Node helpers for the face detector's tests and scripts/face_measure.mjs: tfjs started on a backend from
// node_modules, a folder served over HTTP on localhost (the detector loads by URL, as in a browser), and
// the raw RGB pictures tests/faces_data.py writes read as {data: RGBA, width, height}.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import {createRequire} from 'node:module';
import * as tf from '@tensorflow/tfjs';
import {setWasmPaths} from '@tensorflow/tfjs-backend-wasm';

export {tf};

// tfjs on `backend` ('wasm' from the installed package's binaries, or 'cpu').
export async function startTf(backend = 'wasm') {
  if (backend === 'wasm') {
    const require = createRequire(import.meta.url);
    setWasmPaths(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm')) + path.sep);
  }
  if (!(await tf.setBackend(backend))) throw new Error(`backend ${backend} is not available`);
  await tf.ready();
  return tf;
}

// The files of `dir` on http://127.0.0.1:PORT/ (GET only, no subfolders): {url, close()}.
export async function serve(dir) {
  const server = http.createServer((req, res) => {
    const name = path.basename(decodeURIComponent(new URL(req.url, 'http://x').pathname));
    const file = path.join(dir, name);
    if (!name || !fs.existsSync(file)) { res.writeHead(404); res.end(); return; }
    res.writeHead(200);
    res.end(fs.readFileSync(file));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {url: `http://127.0.0.1:${server.address().port}/`, close: () => new Promise((r) => server.close(r))};
}

// A raw RGB file (height * width * 3 bytes) as RGBA pixels {data, width, height}.
export function readRgb({file, width, height}) {
  const rgb = fs.readFileSync(file);
  const data = new Uint8Array(width * height * 4);
  for (let i = 0, j = 0; i < width * height; i++, j += 4) {
    data[j] = rgb[3 * i]; data[j + 1] = rgb[3 * i + 1]; data[j + 2] = rgb[3 * i + 2]; data[j + 3] = 255;
  }
  return {data, width, height};
}

// `a` and `b` (RGBA pixels of equal height) side by side, `gap` grey pixels between them.
export function sideBySide(a, b, gap = 0) {
  const width = a.width + gap + b.width;
  const height = Math.max(a.height, b.height);
  const data = new Uint8Array(width * height * 4).fill(128);
  for (let y = 0; y < height; y++) {
    if (y < a.height) data.set(a.data.subarray(y * a.width * 4, (y + 1) * a.width * 4), y * width * 4);
    if (y < b.height) data.set(b.data.subarray(y * b.width * 4, (y + 1) * b.width * 4), (y * width + a.width + gap) * 4);
  }
  return {data, width, height};
}

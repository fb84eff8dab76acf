// The face detector measured in Node (tfjs wasm, one run; scripts/face_measure.py prepares the pictures).
// Usage: node scripts/face_measure.mjs JOB.json   JOB: {detector, anchors, pictures, frames, sigmas}
//   rate:     faces found with the default settings on each picture of a person (and false ones);
//   smallest: the astronaut at shrinking sizes in a 640 x 480 frame, the face's side where it is missed;
//   jitter:   a still picture with camera-like noise (Gaussian per pixel, seeded), the crop's centre and
//             side from frame to frame, raw (best box; weighted boxes) and steadied by the tracker.
import fs from 'node:fs';
import path from 'node:path';
import {fileURLToPath} from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const {cropFor} = await import(path.join(root, 'patcher/web/lib/crop.js'));
const {createFaceDetector} = await import(path.join(root, 'patcher/web/lib/faces.js'));
const {FaceTracker} = await import(path.join(root, 'patcher/web/lib/track.js'));
const {readRgb, serve, startTf} = await import(path.join(root, 'tests/js/faces_node.mjs'));

const job = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const pictures = JSON.parse(fs.readFileSync(job.pictures, 'utf8'));
const tf = await startTf('wasm');
const server = await serve(path.dirname(job.detector));
const detector = await createFaceDetector(tf, {model: server.url + path.basename(job.detector), anchors: job.anchors});
const fmt = (v, d = 1) => v.toFixed(d);

// Detection rate.
const people = pictures.filter((p) => p.kind);
const rows = new Map();
let extra = 0;
for (const p of people) {
  const faces = await detector.detect(readRgb(p));
  const row = rows.get(p.kind) || {pictures: 0, found: 0, scores: []};
  row.pictures += 1;
  if (faces.length) { row.found += 1; row.scores.push(faces[0].score); }
  extra += Math.max(0, faces.length - 1);
  rows.set(p.kind, row);
}
console.log('detection rate (default settings: minScore %s, letterboxed to %d x %d)', detector.settings.minScore,
  detector.settings.size, detector.settings.size);
for (const [kind, r] of rows) {
  console.log(`  ${kind.padEnd(16)} ${r.found}/${r.pictures} found, lowest score ${fmt(Math.min(...r.scores), 3)}`);
}
console.log(`  faces found beyond one per picture: ${extra}`);

// Smallest face found.
console.log('smallest face: the astronaut shrunk in a 640 x 480 frame (face side in frame px / in detector input px)');
let smallest = null;
let missed = false;
for (const p of pictures.filter((q) => q.scale).sort((a, b) => b.scale - a.scale)) {
  const faces = await detector.detect(readRgb(p));
  const side = p.face * p.scale;
  const input = side * detector.settings.size / Math.max(p.width, p.height);
  // Found: a box centred on the face, its width within 40 % of the face's.
  const hit = faces.find((f) => Math.abs(f.box[0] + f.box[2] / 2 - p.cx) < side / 2 && f.box[2] > 0.6 * side &&
    f.box[2] < 1.4 * side);
  const found = Boolean(hit);
  const others = faces.length - (found ? 1 : 0);
  console.log(`  face ${fmt(side)} px (${fmt(input)} input px): ` +
    `${found ? `found, box ${fmt(hit.box[2])} px, score ${fmt(hit.score, 2)}` : 'missed'}${others ? `, ${others} other` : ''}`);
  if (found && !missed) smallest = [side, input];
  missed ||= !found;
}
if (smallest) {
  console.log(`  found at every size down to a face of ${fmt(smallest[0])} px in the frame, ${fmt(smallest[1])} px ` +
    "at the detector's input");
}

// Jitter on a still picture with noise.
let seed = 12345;
const rand = () => {
  seed = (seed + 0x6d2b79f5) >>> 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const gauss = () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
const still = readRgb(pictures.find((p) => p.still));
const stats = (values) => {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const sd = Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length);
  const step = Math.sqrt(values.slice(1).reduce((a, b, i) => a + (b - values[i]) ** 2, 0) / (values.length - 1));
  return {sd, step};
};
console.log(`jitter: ${job.frames} frames of a still ${still.width} x ${still.height} picture with Gaussian noise; ` +
  'crop centre x, y and side: standard deviation / RMS change from frame to frame, in px');
for (const sigma of job.sigmas) {
  const series = {best: [], weighted: [], steadied: []};
  const tracker = new FaceTracker();
  for (let i = 0; i < job.frames; i++) {
    const data = new Uint8Array(still.data.length);
    for (let j = 0; j < data.length; j++) {
      data[j] = (j & 3) === 3 ? 255 : Math.max(0, Math.min(255, Math.round(still.data[j] + sigma * gauss())));
    }
    const frame = {data, width: still.width, height: still.height};
    const [best] = await detector.detect(frame, {blend: false});
    const [weighted] = await detector.detect(frame);
    const [track] = tracker.step(weighted ? [weighted] : []);
    series.best.push(best ? cropFor(best.box) : null);
    series.weighted.push(weighted ? cropFor(weighted.box) : null);
    series.steadied.push(track ? track.crop : null);
  }
  for (const [name, crops] of Object.entries(series)) {
    const seen = crops.filter(Boolean);
    const cells = [0, 1, 2].map((k) => stats(seen.map((c) => (k === 2 ? c[2] : c[k] + c[2] / 2))));
    const side = seen.reduce((a, c) => a + c[2], 0) / seen.length;
    console.log(`  noise sigma ${sigma} ${name.padEnd(9)} (${seen.length}/${crops.length} frames, side ${fmt(side, 0)}): ` +
      cells.map((c, k) => `${'xys'[k]} ${fmt(c.sd, 2)}/${fmt(c.step, 2)}`).join('  '));
  }
}
detector.dispose();
await server.close();

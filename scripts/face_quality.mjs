// Face mode's quality against the whole-frame parse, in Node (tfjs wasm; scripts/face_quality.py prepares
// the pictures and prints nothing else). Usage: node scripts/face_quality.mjs JOB.json
//   JOB: {detector, anchors, model (a build folder), pictures, sizes, whole}
// Per picture: the detector's faces (default settings), then the class map of the whole frame stretched to
// `whole` x `whole` (mapped back to the picture's size, nearest) and of face mode at each crop size (each
// face's square cut by lib/crop.js, parsed, pasted back). Judged by the detector, not by the parser: for
// each face, whether its eye, eye, nose and mouth keypoints fall on their own classes, the share of hat in
// its box, and agreement inside its box with face mode at the largest crop size; where a picture has a
// hand-checked crop of the head (`head`, the recipe's), agreement inside the box with that crop's parse.
import fs from 'node:fs';
import path from 'node:path';
import {fileURLToPath} from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const {cropFor, cropPixels, paste} = await import(path.join(root, 'patcher/web/lib/crop.js'));
const {createFaceDetector} = await import(path.join(root, 'patcher/web/lib/faces.js'));
const {resizeLabels} = await import(path.join(root, 'patcher/web/lib/pixels.js'));
const {readRgb, serve, startTf} = await import(path.join(root, 'tests/js/faces_node.mjs'));

const job = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const pictures = JSON.parse(fs.readFileSync(job.pictures, 'utf8'));
const tf = await startTf('wasm');
const detectorServer = await serve(path.dirname(job.detector));
const detector = await createFaceDetector(tf, {model: detectorServer.url + path.basename(job.detector),
                                                anchors: job.anchors});
const modelServer = await serve(job.model);
const content = JSON.parse(fs.readFileSync(path.join(job.model, 'model.json'), 'utf8'));
const meta = content.userDefinedMetadata;
const model = await tf.loadGraphModel(modelServer.url + 'model.json');
const output = meta.outputs.find((o) => o.kind === 'labels').name;
const id = (name) => meta.classes.indexOf(name);
// BlazeFace's keypoints in order: right eye, left eye, nose tip, mouth centre (then the two ears, unused)
const PARTS = [
  {name: 'eye', classes: ['l_eye', 'r_eye', 'eye_g'].map(id)},
  {name: 'eye', classes: ['l_eye', 'r_eye', 'eye_g'].map(id)},
  {name: 'nose', classes: [id('nose')]},
  {name: 'mouth', classes: ['mouth', 'u_lip', 'l_lip'].map(id)},
];
const HAT = id('hat');

// Class ids (Int32Array, side * side) of RGBA pixels parsed at side x side (stretched, bilinear).
async function parse({data, width, height}, side) {
  const labels = tf.tidy(() => {
    const rgba = tf.tensor3d(Uint8Array.from(data), [height, width, 4], 'int32');
    let x = rgba.slice([0, 0, 0], [height, width, 3]).toFloat();
    if (meta.input.color === 'BGR') x = x.reverse(-1);
    if (width !== side || height !== side) x = tf.image.resizeBilinear(x, [side, side], false, true);
    x = x.mul(meta.input.scale).add(meta.input.offset).expandDims(0);
    return model.execute(x, `${output}`).toInt();
  });
  const got = Int32Array.from(await labels.data());
  labels.dispose();
  return got;
}

// Whether keypoint [x, y] has one of `classes` within r pixels (a square window).
function onClass(labels, width, height, [x, y], classes, r) {
  for (let yy = Math.max(0, Math.round(y) - r); yy <= Math.min(height - 1, Math.round(y) + r); yy++) {
    for (let xx = Math.max(0, Math.round(x) - r); xx <= Math.min(width - 1, Math.round(x) + r); xx++) {
      if (classes.includes(labels[yy * width + xx])) return true;
    }
  }
  return false;
}

function judge(labels, reference, width, height, faces) {
  return faces.map((face) => {
    const [bx, by, bw, bh] = face.box.map(Math.round);
    const r = Math.max(1, Math.round(0.03 * bw));
    const hits = PARTS.map((p, k) => Number(onClass(labels, width, height, face.keypoints[k], p.classes, r)));
    let hat = 0;
    let same = 0;
    let n = 0;
    for (let y = Math.max(0, by); y < Math.min(height, by + bh); y++) {
      for (let x = Math.max(0, bx); x < Math.min(width, bx + bw); x++) {
        const p = y * width + x;
        n += 1;
        hat += labels[p] === HAT;
        same += labels[p] === reference[p];
      }
    }
    return {parts: hits.reduce((a, b) => a + b, 0), eyes: hits[0] + hits[1], nose: hits[2], mouth: hits[3],
            hat: hat / Math.max(1, n), agree: same / Math.max(1, n)};
  });
}

const sizes = [...job.sizes].sort((a, b) => a - b);
const methods = [`whole frame ${job.whole}`, ...sizes.map((s) => `face mode ${s}`)];
const rows = new Map();   // kind -> {pictures, found, per method: [{parts, hat, agree}]}
const handChecked = [];   // {name, agree: per method, per face}
for (const p of pictures) {
  const frame = readRgb(p);
  const {width, height} = frame;
  const faces = await detector.detect(frame);
  const maps = [resizeLabels(await parse(frame, job.whole), job.whole, job.whole, height, width)];
  for (const size of sizes) {
    const parts = [];
    for (const face of faces) {
      const crop = cropFor(face.box);
      parts.push({crop, size, labels: await parse(cropPixels(frame, crop, size), size)});
    }
    maps.push(paste(width, height, parts, {background: 0}).labels);
  }
  const reference = maps[maps.length - 1];
  if (p.head) {
    const side = Math.max(p.head[2], p.head[3]);
    const head = [p.head[0], p.head[1], side, side];
    const parts = [{crop: head, size: job.whole, labels: await parse(cropPixels(frame, head, job.whole), job.whole)}];
    const checked = paste(width, height, parts, {background: 0}).labels;
    handChecked.push({name: p.name, agree: maps.map((labels) => judge(labels, checked, width, height, faces)
      .map((f) => f.agree))});
  }
  const row = rows.get(p.kind) || {pictures: 0, found: 0, judged: methods.map(() => [])};
  row.pictures += 1;
  row.found += Math.min(1, faces.length);
  maps.forEach((labels, m) => row.judged[m].push(...judge(labels, reference, width, height, faces)));
  rows.set(p.kind, row);
  process.stderr.write(`${p.name}: ${faces.length} face(s)\n`);
}

const mean = (xs) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
console.log(`| pictures | faces found | parse | eyes, nose, mouth on their class (of 4) | eyes (of 2) | nose | mouth | ` +
  `hat in the face box | agreement in the box with face mode ${sizes[sizes.length - 1]} |`);
console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
const all = {pictures: 0, found: 0, judged: methods.map(() => [])};
for (const [kind, row] of [...rows, ['all', all]]) {
  if (kind !== 'all') {
    all.pictures += row.pictures;
    all.found += row.found;
    row.judged.forEach((j, m) => all.judged[m].push(...j));
  }
  methods.forEach((method, m) => {
    const j = row.judged[m];
    console.log(`| ${m ? '' : `${kind} (${row.pictures})`} | ${m ? '' : `${row.found}/${row.pictures}`} | ${method} | ` +
      `${mean(j.map((f) => f.parts)).toFixed(2)} | ${mean(j.map((f) => f.eyes)).toFixed(2)} | ` +
      `${mean(j.map((f) => f.nose)).toFixed(2)} | ${mean(j.map((f) => f.mouth)).toFixed(2)} | ` +
      `${(100 * mean(j.map((f) => f.hat))).toFixed(1)} % | ` +
      `${(100 * mean(j.map((f) => f.agree))).toFixed(1)} % |`);
  });
}
for (const {name, agree} of handChecked) {
  console.log(`\n${name}: agreement inside the face box with the parse of its hand-checked head crop at ` +
    `${job.whole} x ${job.whole}: ` + methods.map((method, m) => `${method} ${(100 * mean(agree[m])).toFixed(1)} %`)
    .join(', '));
}
detector.dispose();
model.dispose();
await detectorServer.close();
await modelServer.close();

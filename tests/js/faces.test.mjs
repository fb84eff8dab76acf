// Face mode's pure parts run directly in Node (node --test): the detector's anchor decoding and
// suppression, the crop and paste geometry, the tracker's steadying. tests/test_faces.py runs this file.
import assert from 'node:assert/strict';
import {test} from 'node:test';

import {CROP, cropFor, cropPixels, fromCrop, paste, toCrop} from '../../patcher/web/lib/crop.js';
import {anchorCentres, decode, iou, suppress, toSource} from '../../patcher/web/lib/faces.js';
import {LiteFaceDetector} from '../../patcher/web/lib/litefaces.js';
import {resizeLabels} from '../../patcher/web/lib/pixels.js';
import {FaceTracker, OneEuro} from '../../patcher/web/lib/track.js';

const close = (a, b, tol, what) => a.forEach((v, i) => assert.ok(Math.abs(v - b[i]) <= tol, `${what}: ${a} vs ${b}`));

// A seeded random number generator (mulberry32), so the noise is the same on every run.
function random(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const gauss = (rand) => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());

// A picture whose pixels say where they are, and a "parser" that reads them back: class = a function of
// the pixel's colour, so any mix-up of positions in crop or paste changes the classes.
function picture(width, height) {
  const data = new Uint8ClampedArray(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) data.set([(x * 7) % 256, (y * 5) % 256, (x + y) % 256, 255], (y * width + x) * 4);
  }
  return {data, width, height};
}
const parse = ({data, width, height}) => {
  const labels = new Int32Array(width * height);
  for (let i = 0; i < labels.length; i++) labels[i] = (data[4 * i] >> 5) * 3 + (data[4 * i + 1] >> 6) + 1;
  return labels;
};

test('anchors: an SSD grid layer by layer, cell by cell, centres at half strides', () => {
  const c = anchorCentres(64, {strides: [16, 32], perCell: [2, 3]});
  assert.equal(c.length / 2, 16 * 2 + 4 * 3);
  assert.deepEqual([...c.slice(0, 6)], [8, 8, 8, 8, 24, 8]);
  assert.deepEqual([...c.slice(64, 66)], [16, 16]);                  // the second layer's first anchor
  assert.deepEqual([...c.slice(-2)], [48, 48]);
});

test('decode: score is the sigmoid of the logit; box and keypoints relative to the anchor, in input pixels', () => {
  const centres = Float32Array.from([8, 8, 24, 8]);
  const logits = Float32Array.from([2, -3]);                         // 0.88 and 0.047
  const width = 8;                                                     // 2 keypoints
  const regressors = Float32Array.from([1, -2, 10, 12, -3, -1, 3, 4, 0, 0, 5, 5, 0, 0, 0, 0]);
  const faces = decode(logits, regressors, centres, width, 0.5);
  assert.equal(faces.length, 1);
  assert.ok(Math.abs(faces[0].score - 1 / (1 + Math.exp(-2))) < 1e-9);
  assert.deepEqual(faces[0].box, [9 - 5, 6 - 6, 10, 12]);
  assert.deepEqual(faces[0].keypoints, [[5, 7], [11, 12]]);
  assert.equal(decode(logits, regressors, centres, width, 0.01).length, 2);
  assert.throws(() => decode(logits, regressors.subarray(8), centres, width, 0.5), {code: 'model'});
});

test('suppress: overlapping boxes are one face (the best, or their score-weighted mean); apart they stay', () => {
  const f = (box, score) => ({box, score, keypoints: [[box[0], box[1]]]});
  const faces = [f([0, 0, 10, 10], 0.6), f([1, 0, 10, 10], 0.9), f([50, 50, 10, 10], 0.7)];
  const best = suppress(faces, 0.3, false);
  assert.deepEqual(best.map((x) => x.box), [[1, 0, 10, 10], [50, 50, 10, 10]]);
  const blended = suppress(faces, 0.3, true);
  assert.equal(blended.length, 2);
  close(blended[0].box, [0.6, 0, 10, 10], 1e-9, 'weighted box');
  close(blended[0].keypoints[0], [0.6, 0], 1e-9, 'weighted keypoint');
  assert.equal(blended[0].score, 0.9);
  assert.equal(iou([0, 0, 10, 10], [20, 0, 10, 10]), 0);
  assert.ok(Math.abs(iou([0, 0, 10, 10], [5, 0, 10, 10]) - 1 / 3) < 1e-12);
  const back = toSource([f([64, 32, 16, 16], 1)], 1000, 256);
  close(back[0].box, [250, 125, 62.5, 62.5], 1e-9, 'letterbox to source');
});

// A LiteRT.js engine that runs a fake detector: a 16 x 16 input, one anchor per 4 px cell, its outputs
// listed boxes first; one face at the anchor of cell (1, 1), a 4 x 4 box centred on it.
function fakeLite(outputs = [[1, 16, 8], [1, 16, 1]]) {
  const seen = {};
  const compiled = {getInputDetails: () => [{shape: Int32Array.from([1, 16, 16, 3])}],
                    getOutputDetails: () => outputs.map((shape) => ({shape: Int32Array.from(shape)}))};
  return {seen, compile: async ({file}) => { seen.compiled = file; return compiled; },
          outputs: async (file, x, shape) => {
            Object.assign(seen, {file, x, shape});
            const logits = new Float32Array(16).fill(-10);
            logits[5] = 10;
            const boxes = new Float32Array(16 * 8);
            boxes.set([0, 0, 4, 4, 1, -1, 0, 0], 5 * 8);
            return [{shape: [1, 16, 8], data: boxes}, {shape: [1, 16, 1], data: logits}];
          }};
}

test('LiteFaceDetector: the frame letterboxed and scaled to its input, outputs paired by shape, faces in frame pixels', async () => {
  const engine = fakeLite();
  const detector = await LiteFaceDetector.create(engine, {model: 'faces/d.tflite', anchors: {strides: [4], perCell: [1]}});
  const frame = {data: new Uint8ClampedArray(32 * 16 * 4).fill(255), width: 32, height: 16};
  const faces = await detector.detect(frame);
  assert.equal(engine.seen.compiled, 'faces/d.tflite');
  assert.deepEqual(engine.seen.shape, [1, 16, 16, 3]);
  // white above (x / 127.5 - 1 = 1), black padding below the 32 x 16 frame in its 32 x 32 square
  assert.equal(engine.seen.x[0], 1);
  assert.equal(engine.seen.x[engine.seen.x.length - 1], -1);
  assert.equal(faces.length, 1);
  close(faces[0].box, [8, 8, 8, 8], 1e-6, 'box: [4, 4, 4, 4] at the 16 px input, twice that in the frame');
  close(faces[0].keypoints[0], [14, 10], 1e-6, 'keypoint');
  await assert.rejects(LiteFaceDetector.create(fakeLite([[1, 16, 8]]), {model: 'x.tflite', anchors: {strides: [4], perCell: [1]}}),
    (err) => err.code === 'model' && /pairs of/.test(err.message));
  await assert.rejects(LiteFaceDetector.create(fakeLite(), {model: 'x.tflite', anchors: {strides: [8], perCell: [1]}}),
    (err) => err.code === 'model' && /gives 4 anchors, the model has 16/.test(err.message));
});

test('cropFor: a square factor x the box width, centred lift x side above the box centre, whole pixels', () => {
  assert.deepEqual(cropFor([100, 100, 40, 40], {factor: 2, lift: 0}), [80, 80, 80, 80]);
  const [x, y, side, same] = cropFor([100, 100, 40, 40]);
  assert.equal(side, Math.round(CROP.factor * 40));
  assert.equal(same, side);
  assert.ok(Math.abs(x + side / 2 - 120) <= 0.5);
  assert.ok(Math.abs(y + side / 2 - (120 - CROP.lift * side)) <= 0.5);
  assert.deepEqual(cropFor([-30, -10, 40, 40], {factor: 2, lift: 0}), [-50, -30, 80, 80]);   // outside: kept
});

test('crop equal to the frame: its pixels are the frame, and its parse pasted back is the plain parse exactly', () => {
  const frame = picture(48, 48);
  const same = cropPixels(frame, [0, 0, 48, 48]);
  assert.deepEqual([...same.data], [...frame.data]);
  for (const size of [48, 32, 20, 96]) {
    const pixels = cropPixels(frame, [0, 0, 48, 48], size);
    const labels = parse(pixels);
    const plain = resizeLabels(labels, size, size, 48, 48);          // what the whole-frame path does
    const pasted = paste(48, 48, [{crop: [0, 0, 48, 48], size, labels}]);
    assert.deepEqual([...pasted.labels], [...plain], `size ${size}`);
    assert.ok(pasted.owner.every((o) => o === 0));
  }
});

test('crop and paste: boxes round-trip through a crop, and a box drawn in the parse lands on the frame box', () => {
  const crop = [37, -11, 150, 150];
  for (const size of [150, 320, 64]) {
    const box = [60, 20, 41, 33];
    close(fromCrop(toCrop(box, crop, size), crop, size), box, 1e-9, `round trip at ${size}`);
    const [bx, by, bw, bh] = toCrop(box, crop, size).map(Math.round);
    const labels = new Uint8Array(size * size);
    for (let y = by; y < by + bh; y++) labels.fill(5, y * size + bx, y * size + bx + bw);
    const {labels: out} = paste(200, 160, [{crop, size, labels}]);
    const xs = [];
    const ys = [];
    out.forEach((v, i) => { if (v === 5) { xs.push(i % 200); ys.push(Math.floor(i / 200)); } });
    const found = [Math.min(...xs), Math.min(...ys), Math.max(...xs) + 1 - Math.min(...xs), Math.max(...ys) + 1 - Math.min(...ys)];
    close(found, box, Math.max(1, 150 / size), `pasted box at ${size}`);
  }
});

test('crop at the frame edge: padded outside the frame, pasted only inside it, background elsewhere', () => {
  const frame = picture(64, 48);
  const crop = cropFor([-8, 30, 24, 24], {factor: 2, lift: 0});        // [-20, 18, 48, 48]: left and bottom out
  assert.deepEqual(crop, [-20, 18, 48, 48]);
  const pixels = cropPixels(frame, crop, 48, [1, 2, 3, 255]);
  assert.deepEqual([...pixels.data.slice(0, 4)], [1, 2, 3, 255]);              // left of the frame
  assert.deepEqual([...pixels.data.slice((47 * 48 + 30) * 4, (47 * 48 + 30) * 4 + 4)], [1, 2, 3, 255]);  // below it
  const inside = (20 * 48 + 25) * 4;                                           // frame pixel (5, 38)
  assert.deepEqual([...pixels.data.slice(inside, inside + 4)], [...frame.data.slice((38 * 64 + 5) * 4, (38 * 64 + 5) * 4 + 4)]);
  const labels = parse(pixels);
  const {labels: out, owner} = paste(64, 48, [{crop, size: 48, labels}], {background: 0});
  const frameLabels = parse(frame);
  for (let y = 0; y < 48; y++) {
    for (let x = 0; x < 64; x++) {
      const p = y * 64 + x;
      const within = x < 28 && y >= 18;
      assert.equal(owner[p], within ? 0 : -1, `owner at ${x},${y}`);
      assert.equal(out[p], within ? frameLabels[p] : 0, `label at ${x},${y}`);
    }
  }
});

test('paste: overlapping crops, the crop whose centre is nearer wins; outside, the base parse or background', () => {
  const a = {crop: [0, 0, 40, 40], size: 20, labels: new Uint8Array(400).fill(1), masks: [new Float32Array(400).fill(0.25)]};
  const b = {crop: [30, 0, 40, 40], size: 10, labels: new Uint8Array(100).fill(2), masks: [new Float32Array(100).fill(0.75)]};
  const {labels, owner, masks} = paste(80, 40, [a, b], {outside: [1]});
  const at = (x, y) => labels[y * 80 + x];
  assert.equal(at(10, 5), 1);
  assert.equal(at(34, 5), 1);                // in both, nearer a's centre (20) than b's (50)
  assert.equal(at(36, 5), 2);                // nearer b's
  assert.equal(at(75, 5), 0);                // in neither
  assert.equal(owner[5 * 80 + 75], -1);
  assert.deepEqual([masks[0][5 * 80 + 10], masks[0][5 * 80 + 36], masks[0][5 * 80 + 75]], [0.25, 0.75, 1]);
  const base = new Uint8Array(80 * 40).fill(9);
  assert.equal(paste(80, 40, [a, b], {base}).labels[5 * 80 + 75], 9);
  const none = paste(80, 40, [], {background: 0});
  assert.ok(none.labels.every((v) => v === 0) && none.masks === null);
});

test('OneEuro: a constant stays put; a step is followed, faster with a larger beta', () => {
  const slow = new OneEuro({minCutoff: 1, beta: 0, dCutoff: 1});
  const fast = new OneEuro({minCutoff: 1, beta: 10, dCutoff: 1});
  for (let i = 0; i < 5; i++) { slow.filter(10, 1 / 30); fast.filter(10, 1 / 30); }
  assert.equal(slow.value, 10);
  const s = slow.filter(20, 1 / 30);
  const f = fast.filter(20, 1 / 30);
  assert.ok(s > 10 && s < 20 && f > s, `${s} ${f}`);
});

test('tracker: steadier boxes on a still face, held through misses, new ids after a cut or a jump', () => {
  const rand = random(7);
  const truth = [200, 120, 80, 80];
  const noisy = () => ({box: truth.map((v) => v + 2 * gauss(rand)), score: 0.9});
  const tracker = new FaceTracker();
  const raw = [];
  const steady = [];
  for (let i = 0; i < 90; i++) {
    const face = noisy();
    const [track] = tracker.step([face]);
    if (i >= 30) { raw.push(face.box[0]); steady.push(track.box[0]); }
    assert.equal(track.id, 1);
  }
  const jitter = (xs) => Math.sqrt(xs.slice(1).reduce((s, x, i) => s + (x - xs[i]) ** 2, 0) / (xs.length - 1));
  assert.ok(jitter(steady) < jitter(raw) / 3, `frame-to-frame jitter ${jitter(steady)} vs ${jitter(raw)}`);
  const held = tracker.step([]);
  assert.deepEqual([held.length, held[0].id, held[0].missed], [1, 1, 1]);
  for (let i = 0; i < tracker.settings.hold; i++) tracker.step([]);
  assert.equal(tracker.step([]).length, 0);                                   // dropped after `hold` misses
  const moved = new FaceTracker();
  moved.step([{box: [0, 0, 50, 50], score: 1}]);
  const both = moved.step([{box: [300, 0, 50, 50], score: 1}]);               // no overlap: another face
  assert.deepEqual(both.map((t) => [t.id, t.missed]), [[1, 1], [2, 0]]);      // the first one held
  assert.deepEqual(both[1].box, [300, 0, 50, 50]);
  const cut = new FaceTracker();
  cut.step([{box: [0, 0, 50, 50], score: 1}]);
  const [fresh] = cut.step([{box: [10, 0, 50, 50], score: 1}], {cut: true});
  assert.deepEqual([fresh.id, ...fresh.box], [1, 10, 0, 50, 50]);
});

test('tracker: a moving face is followed within a few pixels; two faces keep their ids, largest first', () => {
  const tracker = new FaceTracker();
  let last;
  for (let i = 0; i < 60; i++) {
    const x = 100 + 4 * i;                                                    // 120 px a second at 30 fps
    [last] = tracker.step([{box: [x, 50, 60, 60], score: 1}, {box: [500, 300, 30, 30], score: 1}].slice(0, 1));
  }
  assert.ok(Math.abs(last.box[0] - (100 + 4 * 59)) < 6, `lag ${100 + 4 * 59 - last.box[0]}`);
  const two = new FaceTracker();
  two.step([{box: [500, 300, 30, 30], score: 1}, {box: [0, 0, 60, 60], score: 1}]);
  const tracks = two.step([{box: [1, 0, 60, 60], score: 1}, {box: [501, 300, 30, 30], score: 1}]);
  assert.deepEqual(tracks.map((t) => t.id), [2, 1]);
  assert.deepEqual(tracks[0].crop, cropFor(tracks[0].box));
});

// The real face detector (a pinned npm package's graph model, fetched at run time) on real pictures, tfjs
// wasm in Node. tests/test_faces.py fetches the detector and writes the pictures, and passes
//   FACES_DETECTOR  the detector's JSON (its .bin beside it)
//   FACES_ANCHORS   its anchor layout, JSON {strides, perCell}
//   FACES_PICTURES  a JSON list of {name, file (raw RGB), width, height, head?: [x, y, w, h], none?: true}
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {after, before, test} from 'node:test';

import {cropFor, cropPixels, fromCrop, toCrop} from '../../patcher/web/lib/crop.js';
import {createFaceDetector} from '../../patcher/web/lib/faces.js';
import {readRgb, serve, sideBySide, startTf} from './faces_node.mjs';

const file = process.env.FACES_DETECTOR;
const anchors = JSON.parse(process.env.FACES_ANCHORS || 'null');
const pictures = JSON.parse(fs.readFileSync(process.env.FACES_PICTURES, 'utf8'));
const picture = (name) => pictures.find((p) => p.name === name);
let tf;
let server;
let detector;

before(async () => {
  tf = await startTf('wasm');
  server = await serve(path.dirname(file));
  detector = await createFaceDetector(tf, {model: server.url + path.basename(file), anchors});
});
after(async () => {
  if (detector) detector.dispose();
  if (server) await server.close();
});

const inside = ([x, y], [bx, by, bw, bh]) => x >= bx && x <= bx + bw && y >= by && y <= by + bh;
// Most of box b (85 % of its area) and its centre inside box a.
function within(a, b) {
  const w = Math.min(a[0] + a[2], b[0] + b[2]) - Math.max(a[0], b[0]);
  const h = Math.min(a[1] + a[3], b[1] + b[3]) - Math.max(a[1], b[1]);
  return inside([b[0] + b[2] / 2, b[1] + b[3] / 2], a) && w > 0 && h > 0 && w * h >= 0.85 * b[2] * b[3];
}
const near = (a, b, tol) => a.every((v, i) => Math.abs(v - b[i]) <= tol);

// A face as a person's: its eyes (keypoints 0, 1) above its nose (2) above its mouth (3), all in its box.
function facelike(face) {
  const [eye1, eye2, nose, mouth] = face.keypoints;
  return face.keypoints.length === 6 && [eye1, eye2, nose, mouth].every((k) => inside(k, face.box)) &&
    Math.max(eye1[1], eye2[1]) < nose[1] && nose[1] < mouth[1];
}

test('one face in each picture of a person, where the person is (the head\'s hand-checked square)', async () => {
  const people = pictures.filter((p) => !p.none);
  assert.ok(people.length >= 41, `${people.length} pictures`);
  const wrong = [];
  for (const p of people) {
    const faces = await detector.detect(readRgb(p));
    const ok = faces.length === 1 && facelike(faces[0]) && faces[0].score >= 0.5 &&
      (!p.head || within(p.head, faces[0].box));
    if (!ok) wrong.push(`${p.name}: ${JSON.stringify(faces.map((f) => [f.box.map(Math.round), f.score.toFixed(2)]))}`);
  }
  assert.deepEqual(wrong, []);
  const [astronaut] = await detector.detect(readRgb(picture('astronaut')));
  assert.ok(astronaut.box[2] > 60 && astronaut.box[2] < 160, `astronaut's face ${astronaut.box}`);
});

test('the same face found again in a crop around it, at the same place in the frame', async () => {
  for (const name of ['astronaut', 'P001-studio_posture', 'P004-amateur_selfie', 'P007-amateur_posture']) {
    const frame = readRgb(picture(name));
    const [face] = await detector.detect(frame);
    const crop = cropFor(face.box, {factor: 3, lift: 0.1});
    const [again] = await detector.detect(cropPixels(frame, crop, 256));
    const back = fromCrop(again.box, crop, 256);
    assert.ok(near(back, face.box, 0.1 * face.box[2]), `${name}: ${face.box.map(Math.round)} vs ${back.map(Math.round)}`);
  }
});

test('several faces: two pictures side by side give two faces, each where its picture put it', async () => {
  const left = readRgb(picture('astronaut'));
  const selfie = readRgb(picture('P004-amateur_selfie'));
  const [own] = await detector.detect(selfie);
  const crop = cropFor(own.box);
  const right = cropPixels(selfie, crop, 512);
  const pair = sideBySide(left, right, 40);
  const faces = await detector.detect(pair);
  assert.equal(faces.length, 2, JSON.stringify(faces.map((f) => f.box)));
  const [a] = await detector.detect(left);
  const expected = [a.box, toCrop(own.box, crop, 512).map((v, i) => (i === 0 ? v + 512 + 40 : v))];
  const sorted = [...faces].sort((f, g) => f.box[0] - g.box[0]);
  sorted.forEach((f, i) => assert.ok(near(f.box, expected[i], 0.12 * expected[i][2]),
    `face ${i}: ${f.box.map(Math.round)} vs ${expected[i].map(Math.round)}`));
  const one = await detector.detect(pair, {maxFaces: 1});
  const largest = [...faces].sort((f, g) => g.box[2] - f.box[2])[0];
  assert.deepEqual(one.map((f) => f.box), [largest.box]);
});

test('no face: a blank picture and pictures without people give []', async () => {
  for (const p of pictures.filter((q) => q.none)) assert.deepEqual(await detector.detect(readRgb(p)), [], p.name);
});

test('a tensor gives what its pixels give; a missing detector file is a SegmenterError with its code', async () => {
  const frame = readRgb(picture('P002-amateur_posture'));
  const fromPixels = await detector.detect(frame);
  const t = tf.browser.fromPixels(frame, 3);
  const fromTensor = await detector.detect(t);
  t.dispose();
  assert.deepEqual(fromTensor, fromPixels);
  await assert.rejects(createFaceDetector(tf, {model: server.url + 'absent.json', anchors}), {code: 'not-found'});
  await assert.rejects(createFaceDetector(tf, {model: server.url + path.basename(file), anchors: {strides: [16], perCell: [2]}}),
    {code: 'model'});
});

test('a face partly outside the frame: found, its box reaching past the edge; its crop padded there', async () => {
  const astronaut = readRgb(picture('astronaut'));
  const [whole] = await detector.detect(astronaut);
  for (const [dx, dy] of [[200, 0], [60, 90]]) {                 // a quarter out on the left; a seventh out at the top
    const frame = cropPixels(astronaut, [dx, dy, 400, 400], 400, [128, 128, 128, 255]);
    const faces = await detector.detect(frame);
    assert.equal(faces.length, 1, `shifted by ${dx}, ${dy}`);
    const expected = [whole.box[0] - dx, whole.box[1] - dy, whole.box[2], whole.box[3]];
    assert.ok(near(faces[0].box, expected, 0.1 * whole.box[2]), `${faces[0].box.map(Math.round)} vs ${expected.map(Math.round)}`);
    assert.ok(faces[0].box[0] < 0 || faces[0].box[1] < 0);
    const crop = cropFor(faces[0].box);
    assert.ok(crop[0] < 0 || crop[1] < 0);
    const pixels = cropPixels(frame, crop, 64, [1, 2, 3, 255]);
    assert.deepEqual([...pixels.data.slice(0, 4)], [1, 2, 3, 255]);        // the corner outside the frame: padding
  }
});

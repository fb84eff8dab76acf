// faces.js: a single-shot face detector (an SSD-style TensorFlow.js graph model: square input, per-anchor
// scores and box regressors) loaded from a URL, run on a picture, its anchors decoded and its overlapping
// boxes merged. The decoding and merging are pure functions (Node too); detect() needs a tfjs `tf`.
//
//   const detector = await createFaceDetector(tf, {model: 'detector/model.json', anchors: {strides, perCell}});
//   const faces = await detector.detect(imageData);   // [{box: [x, y, w, h], score, keypoints: [[x, y], ...]}]
//   detector.dispose();
//
// How the regressors read (the convention of MediaPipe's face detectors): per anchor, [dx, dy, w, h, then
// x, y of each keypoint], in input pixels, the box centre and the keypoints relative to the anchor's centre.
// The scores are logits. The picture is letterboxed (padded at the bottom or right to a square, so faces
// keep their shape), resized to the input size and mapped to x * scale + offset.
import {SegmenterError} from './errors.js';
import {fetchWeights} from './model.js';

/**
 * The detector's default settings.
 * minScore: lowest score (0..1, after the sigmoid) a face is kept with; iou: intersection over union above
 * which two boxes are one face; maxFaces: most faces returned (the largest kept); blend: merge the boxes of
 * one face weighted by score (steadier from frame to frame than keeping the best one alone).
 */
export const DETECTOR = Object.freeze({minScore: 0.5, iou: 0.3, maxFaces: 4, blend: true, scale: 1 / 127.5,
                                       offset: -1});

/**
 * The anchor centres of an SSD grid, in input pixels, in the order the model's outputs list them.
 * @param {number} size the input's side (pixels)
 * @param {{strides: number[], perCell: number[]}} layout each output layer's stride (pixels) and anchors per cell
 * @returns {Float32Array} 2 * anchors values: x, y of each anchor
 */
export function anchorCentres(size, {strides, perCell}) {
  const out = [];
  strides.forEach((stride, layer) => {
    const cells = Math.ceil(size / stride);
    for (let y = 0; y < cells; y++) {
      for (let x = 0; x < cells; x++) {
        for (let n = 0; n < perCell[layer]; n++) out.push(stride * (x + 0.5), stride * (y + 0.5));
      }
    }
  });
  return Float32Array.from(out);
}

const sigmoid = (v) => 1 / (1 + Math.exp(-v));

/**
 * The faces above `minScore` among the raw outputs of one picture, in input pixels.
 * @param {Float32Array} logits one score logit per anchor
 * @param {Float32Array} regressors `width` values per anchor (dx, dy, w, h, then keypoint x, y pairs)
 * @param {Float32Array} centres anchorCentres() of the model's layout
 * @param {number} width values per anchor in `regressors` (4 + 2 * keypoints)
 * @param {number} minScore lowest score kept (0..1)
 * @returns {{box: number[], score: number, keypoints: number[][]}[]} box [x, y, w, h]
 */
export function decode(logits, regressors, centres, width, minScore) {
  const n = logits.length;
  if (regressors.length !== n * width || centres.length !== 2 * n) {
    throw new SegmenterError(`the face detector gave ${n} scores and ${regressors.length / width} boxes for ` +
      `${centres.length / 2} anchors`, 'model');
  }
  const faces = [];
  for (let i = 0; i < n; i++) {
    const score = sigmoid(logits[i]);
    if (!(score >= minScore)) continue;
    const r = regressors.subarray(i * width, (i + 1) * width);
    const [ax, ay] = [centres[2 * i], centres[2 * i + 1]];
    const keypoints = [];
    for (let k = 4; k + 1 < width; k += 2) keypoints.push([ax + r[k], ay + r[k + 1]]);
    faces.push({box: [ax + r[0] - r[2] / 2, ay + r[1] - r[3] / 2, r[2], r[3]], score, keypoints});
  }
  return faces;
}

/**
 * Intersection over union of two [x, y, w, h] boxes (0 when either is empty).
 * @param {number[]} a
 * @param {number[]} b
 * @returns {number}
 */
export function iou(a, b) {
  const w = Math.min(a[0] + a[2], b[0] + b[2]) - Math.max(a[0], b[0]);
  const h = Math.min(a[1] + a[3], b[1] + b[3]) - Math.max(a[1], b[1]);
  if (w <= 0 || h <= 0) return 0;
  const both = w * h;
  return both / (a[2] * a[3] + b[2] * b[3] - both);
}

/**
 * Non-maximum suppression: the best-scoring face first, every face overlapping it by more than `threshold`
 * (intersection over union) taken as the same face; with `blend`, the face's box and keypoints are the
 * score-weighted mean of its group (MediaPipe's "weighted" suppression), else the best one's.
 * @param {{box: number[], score: number, keypoints: number[][]}[]} faces
 * @param {number} threshold
 * @param {boolean} blend
 * @returns {{box: number[], score: number, keypoints: number[][]}[]} one per face, best score first
 */
export function suppress(faces, threshold, blend) {
  const left = [...faces].sort((a, b) => b.score - a.score);
  const kept = [];
  while (left.length) {
    const best = left[0];
    const group = left.filter((f) => f === best || iou(best.box, f.box) > threshold);
    for (const f of group) left.splice(left.indexOf(f), 1);
    if (!blend || group.length === 1) { kept.push(best); continue; }
    const total = group.reduce((s, f) => s + f.score, 0);
    const mean = (pick) => pick(best).map((_, j) => group.reduce((s, f) => s + f.score * pick(f)[j], 0) / total);
    kept.push({
      box: mean((f) => f.box), score: best.score,
      keypoints: best.keypoints.map((_, k) => mean((f) => f.keypoints[k])),
    });
  }
  return kept;
}

/**
 * Faces mapped from the detector's letterboxed input (`size` pixels square) back to the source's pixels:
 * the source was padded at the bottom or right to a square of side `side` and resized to `size`.
 * @param {{box: number[], score: number, keypoints: number[][]}[]} faces in input pixels
 * @param {number} side the letterbox's side in source pixels (max of width and height)
 * @param {number} size the detector's input side
 * @returns {{box: number[], score: number, keypoints: number[][]}[]}
 */
export function toSource(faces, side, size) {
  const k = side / size;
  return faces.map((f) => ({
    box: f.box.map((v) => v * k), score: f.score, keypoints: f.keypoints.map(([x, y]) => [x * k, y * k]),
  }));
}

// The pixels of `input` as an [h, w, 3] tensor: a tfjs tensor [h, w, 3|4] or [1, h, w, 3|4] as it is, an
// ImageData-like {data: RGBA bytes, width, height} read directly, else anything tf.browser.fromPixels reads.
function pixelTensor(tf, input) {
  if (input instanceof tf.Tensor) {
    const t = input.rank === 4 ? input.squeeze([0]) : input;
    if (t.rank !== 3 || (t.shape[2] !== 3 && t.shape[2] !== 4)) {
      throw new SegmenterError(`the face detector needs an [h, w, 3] picture, not a tensor of shape [${input.shape}]`,
        'source');
    }
    return t.shape[2] === 4 ? t.slice([0, 0, 0], [-1, -1, 3]) : t;
  }
  const {data, width, height} = input || {};
  if (ArrayBuffer.isView(data) && data.length === width * height * 4 && !(typeof ImageData !== 'undefined' &&
      input instanceof ImageData)) {
    return tf.tensor3d(Int32Array.from(data), [height, width, 4], 'int32').slice([0, 0, 0], [-1, -1, 3]);
  }
  return tf.browser.fromPixels(input, 3);
}

/** A loaded face detector: detect() on pictures, dispose() when done. */
export class FaceDetector {
  /**
   * @param {object} tf the TensorFlow.js namespace the graph was loaded with
   * @param {object} graph the tfjs GraphModel
   * @param {object} settings DETECTOR's fields, `anchors` and the graph's output layout
   */
  constructor(tf, graph, settings) {
    Object.assign(this, {tf, graph, settings});
    this.centres = anchorCentres(settings.size, settings.anchors);
  }

  /**
   * The faces in a picture, best score first, at most `maxFaces` (the largest kept when there are more).
   * @param {object} input a tfjs tensor [h, w, 3|4] or [1, h, w, 3|4] of values 0..255, or anything
   *   tf.browser.fromPixels reads (ImageData, {data: RGBA Uint8Array, width, height}, a canvas, an image)
   * @param {{minScore?: number, iou?: number, maxFaces?: number, blend?: boolean}} [given] per-call settings
   * @returns {Promise<{box: number[], score: number, keypoints: number[][]}[]>} box [x, y, width, height]
   *   and keypoints [x, y] in the source's pixels (keypoints in the model's order)
   */
  async detect(input, given = {}) {
    if (!this.graph) throw new SegmenterError('this face detector was disposed', 'disposed');
    const s = {...this.settings, ...given};
    const tf = this.tf;
    const {size, layers} = s;
    let side = 0;
    const outputs = tf.tidy(() => {
      const pixels = pixelTensor(tf, input);
      const [h, w] = pixels.shape;
      side = Math.max(h, w);
      const square = tf.pad(pixels.toFloat(), [[0, side - h], [0, side - w], [0, 0]]);
      const x = tf.image.resizeBilinear(square, [size, size]).mul(s.scale).add(s.offset).expandDims(0);
      const got = this.graph.execute(x, layers.flatMap((l) => [l.scores, l.boxes]));
      // One [anchors] tensor of logits and one [anchors, width] of regressors, layers in anchor order.
      return [tf.concat(layers.map((_, i) => got[2 * i].reshape([-1])), 0),
              tf.concat(layers.map((_, i) => got[2 * i + 1].reshape([-1, s.width])), 0)];
    });
    let logits;
    let regressors;
    try {
      [logits, regressors] = await Promise.all(outputs.map((t) => t.data()));
    } finally {
      tf.dispose(outputs);
    }
    const found = suppress(decode(logits, regressors, this.centres, s.width, s.minScore), s.iou, s.blend);
    const largest = [...found].sort((a, b) => b.box[2] * b.box[3] - a.box[2] * a.box[3]).slice(0, s.maxFaces);
    return toSource(found.filter((f) => largest.includes(f)), side, size);
  }

  /**
   * Free the graph's weights; detect() fails with code 'disposed' afterwards.
   * @returns {void}
   */
  dispose() {
    if (this.graph) { this.graph.dispose(); this.graph = null; }
  }
}

// The graph's outputs paired per layer: {scores, boxes} node names, the finer layer (more anchors) first,
// read from the outputs' shapes in the converter's signature ([1, anchors, 1] and [1, anchors, width]).
function outputLayers(json, url) {
  const signature = json.signature || (json.userDefinedMetadata || {}).signature || {};
  const dims = (t) => ((t.tensorShape || {}).dim || []).map((d) => Number(d.size));
  const inputs = Object.values(signature.inputs || {});
  const outputs = Object.entries(signature.outputs || {}).map(([key, t]) => [(t.name || key).replace(/:0$/, ''), dims(t)]);
  const bad = (why) => new SegmenterError(`${url} is not a face detector this module reads: ${why}`, 'model');
  if (inputs.length !== 1) throw bad('its signature names no single input');
  const [, h, w] = dims(inputs[0]);
  if (!(h > 0) || h !== w) throw bad('its input is not a fixed square [1, size, size, 3]');
  const byAnchors = new Map();
  let width = 0;
  for (const [name, shape] of outputs) {
    if (shape.length !== 3) throw bad(`its output ${name} is not [1, anchors, values]`);
    const entry = byAnchors.get(shape[1]) || {};
    if (shape[2] === 1) entry.scores = name;
    else { entry.boxes = name; width = shape[2]; }
    byAnchors.set(shape[1], entry);
  }
  const layers = [...byAnchors.entries()].sort((a, b) => b[0] - a[0]).map(([anchors, e]) => ({anchors, ...e}));
  if (!layers.length || !layers.every((l) => l.scores && l.boxes) || width < 4) {
    throw bad('its outputs are not pairs of [1, anchors, 1] scores and [1, anchors, 4 + 2k] boxes');
  }
  return {size: h, width, layers};
}

/**
 * createFaceDetector's options.
 * @typedef {{model: string, anchors: {strides: number[], perCell: number[]}, minScore?: number, iou?: number,
 *   maxFaces?: number, blend?: boolean, scale?: number, offset?: number}} DetectorOptions
 */

/**
 * Load a face detector.
 * @param {object} tf the TensorFlow.js namespace (its backend already set)
 * @param {DetectorOptions} given `model`: the graph model's
 *   JSON (absolute URL; its .bin shards next to it); `anchors`: the anchor layout, each output layer's
 *   stride and anchors per cell (a fact of the model: the recipe says it); the rest override DETECTOR
 * @returns {Promise<FaceDetector>}
 * @throws {SegmenterError} 'not-found' (the JSON cannot be fetched), 'shard-missing' / 'shard-size' (a shard),
 *   'model' (not a detector this module reads, or its anchors do not match its outputs)
 */
export async function createFaceDetector(tf, given) {
  const {model: url, anchors, ...rest} = given || {};
  if (typeof url !== 'string' || !anchors || !Array.isArray(anchors.strides) || !Array.isArray(anchors.perCell)) {
    throw new SegmenterError('createFaceDetector needs {model: URL, anchors: {strides, perCell}}', 'options');
  }
  const hint = "serve the face detector's JSON and .bin next to model.json, or turn faces off";
  let json;
  try {
    const reply = await fetch(url);
    if (!reply.ok) throw new Error(`HTTP ${reply.status}`);
    json = await reply.json();
  } catch (err) {
    throw new SegmenterError(`cannot fetch the face detector ${url}: ${err.message}`, 'not-found', hint);
  }
  if (!json || !json.modelTopology || !Array.isArray(json.weightsManifest)) {
    throw new SegmenterError(`${url} is not a TensorFlow.js graph model`, 'model');
  }
  const layout = outputLayers(json, url);
  const settings = {...DETECTOR, ...rest, ...layout, anchors};
  const expected = layout.layers.map((l) => l.anchors).reduce((a, b) => a + b, 0);
  if (anchorCentres(layout.size, anchors).length / 2 !== expected) {
    throw new SegmenterError(`${url}: the anchor layout ${JSON.stringify(anchors)} gives ` +
      `${anchorCentres(layout.size, anchors).length / 2} anchors, the model has ${expected}`, 'model');
  }
  const {specs, data} = await fetchWeights(url, json);
  let graph;
  try {
    graph = await tf.loadGraphModel(tf.io.fromMemory({
      modelTopology: json.modelTopology, weightSpecs: specs, weightData: data, format: json.format,
      generatedBy: json.generatedBy, convertedBy: json.convertedBy,
    }));
  } catch (err) {
    throw new SegmenterError(`${url}: TensorFlow.js cannot load this face detector: ${err.message}`, 'model');
  }
  return new FaceDetector(tf, graph, settings);
}

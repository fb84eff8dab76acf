// litefaces.js: face mode's detector on LiteRT.js, where the build has one (model.json's faces.litert: a
// .tflite SSD-style detector, read as faces.js reads its tfjs graph: per-anchor score logits and box
// regressors in input pixels). The picture is letterboxed (padded at the bottom or right to a square) and
// resized to the model's input in JavaScript (crop.js), then run by the segmenter's own LiteRT.js.
//
//   const detector = await LiteFaceDetector.create(liteEngine, {model: 'faces/detector.tflite', anchors});
//   const faces = await detector.detect(imageData);   // [{box: [x, y, w, h], score, keypoints}]
import {SegmenterError} from './errors.js';
import {DETECTOR, anchorCentres, decode, suppress, toSource} from './faces.js';
import {cropPixels} from './crop.js';

/** A face detector on LiteRT.js: detect() on RGBA pixels. */
export class LiteFaceDetector {
  /**
   * Compile the detector and read its layout: one square input, outputs in pairs of [1, anchors, 1]
   * scores and [1, anchors, 4 + 2k] boxes.
   * @param {any} engine litert.js's LiteEngine (the segmenter's)
   * @param {{model: string, anchors: {strides: number[], perCell: number[]}}} given model: the .tflite,
   *   relative to model.json; anchors: its anchor layout (the recipe's)
   * @returns {Promise<LiteFaceDetector>}
   * @throws {SegmenterError} 'litert' (it does not load), 'model' (not a detector this module reads)
   */
  static async create(engine, {model, anchors}) {
    const compiled = await engine.compile({file: model});
    const bad = (why) => new SegmenterError(`${model} is not a face detector this module reads: ${why}`, 'model');
    const input = Array.from(compiled.getInputDetails()[0].shape);
    if (input.length !== 4 || input[1] !== input[2] || input[3] !== 3) throw bad(`its input is [${input}]`);
    const byAnchors = new Map();
    let width = 0;
    compiled.getOutputDetails().forEach((d, i) => {
      const shape = Array.from(d.shape);
      if (shape.length !== 3) throw bad(`its output ${i} is [${shape}], not [1, anchors, values]`);
      const entry = byAnchors.get(shape[1]) || {};
      if (shape[2] === 1) entry.scores = i;
      else { entry.boxes = i; width = shape[2]; }
      byAnchors.set(shape[1], entry);
    });
    const layers = [...byAnchors.entries()].sort((a, b) => b[0] - a[0]).map(([n, e]) => ({anchors: n, ...e}));
    if (!layers.length || !layers.every((l) => l.scores != null && l.boxes != null) || width < 4) {
      throw bad('its outputs are not pairs of [1, anchors, 1] scores and [1, anchors, 4 + 2k] boxes');
    }
    const size = input[1];
    const centres = anchorCentres(size, anchors);
    const expected = layers.reduce((n, l) => n + l.anchors, 0);
    if (centres.length / 2 !== expected) {
      throw bad(`the anchor layout ${JSON.stringify(anchors)} gives ${centres.length / 2} anchors, the model has ${expected}`);
    }
    return new LiteFaceDetector(engine, model, {...DETECTOR, size, width, layers, centres});
  }

  /**
   * @param {any} engine the LiteEngine
   * @param {string} model the .tflite, relative to model.json
   * @param {object} settings DETECTOR's fields and the model's layout
   */
  constructor(engine, model, settings) {
    Object.assign(this, {engine, model, settings});
  }

  /**
   * The faces in a picture, best score first, at most `maxFaces` (the largest kept when there are more).
   * @param {{data: ArrayLike<number>, width: number, height: number}} frame RGBA pixels
   * @param {{minScore?: number, iou?: number, maxFaces?: number, blend?: boolean}} [given] per-call settings
   * @returns {Promise<{box: number[], score: number, keypoints: number[][]}[]>} in the frame's pixels
   */
  async detect(frame, given = {}) {
    const s = {...this.settings, ...given};
    const side = Math.max(frame.width, frame.height);
    const square = cropPixels(/** @type {any} */ (frame), [0, 0, side, side], s.size).data;
    const x = new Float32Array(s.size * s.size * 3);
    for (let i = 0, j = 0; i < square.length; i += 4, j += 3) {
      for (let c = 0; c < 3; c++) x[j + c] = square[i + c] * s.scale + s.offset;
    }
    const got = await this.engine.outputs(this.model, x, [1, s.size, s.size, 3]);
    const join = (pick) => {
      const parts = s.layers.map((l) => got[l[pick]].data);
      const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
      parts.reduce((at, p) => { out.set(p, at); return at + p.length; }, 0);
      return out;
    };
    const found = suppress(decode(join('scores'), join('boxes'), s.centres, s.width, s.minScore), s.iou, s.blend);
    const largest = [...found].sort((a, b) => b.box[2] * b.box[3] - a.box[2] * a.box[3]).slice(0, s.maxFaces);
    return toSource(found.filter((f) => largest.includes(f)), side, s.size);
  }

  /**
   * Nothing to free: the compiled model is the LiteEngine's (freed with it).
   * @returns {void}
   */
  dispose() {}
}

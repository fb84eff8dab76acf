// labels.js: the `labels` kind's call (segmenter.js): class ids at the source's size, of the whole frame
// (with masks and smoothing when asked for) or, in face mode (facemode.js), of a square around each face.
import {SegmenterError} from './errors.js';
import {runFaces} from './facemode.js';
import {toMasks} from './masks.js';
import {resizeLabels} from './pixels.js';
import {Smoother} from './smoothing.js';

/** @typedef {import('./engine.js').Wants} Wants */
/** @typedef {import('./engine.js').RunResult} RunResult */

/**
 * One call of a class-map model (Engine.run's, for spec.kind 'labels').
 * @param {any} engine the Engine (engine.js)
 * @param {any} source
 * @param {number} h the height to run the model at
 * @param {number} w
 * @param {number} sh the source's height
 * @param {number} sw
 * @param {Wants} wants
 * @returns {Promise<RunResult>}
 */
export async function runLabels(engine, source, h, w, sh, sw, {masks = null, smoothing = null, faces = null} = {}) {
  if (faces) return runFaces(engine, source, h, w, sh, sw, {masks, smoothing, faces});
  return wholeFrame(engine, source, h, w, sh, sw, {masks, smoothing});
}

/**
 * The whole frame parsed at h x w (Engine.run's arguments, without face mode).
 * @param {any} owner the Engine (engine.js)
 * @param {any} source
 * @param {number} h
 * @param {number} w
 * @param {number} sh
 * @param {number} sw
 * @param {Wants} wants
 * @returns {Promise<RunResult>}
 */
export async function wholeFrame(owner, source, h, w, sh, sw, {masks = null, smoothing = null}) {
  const {engine, info, choice} = await owner.start([h, w]);
  const size = [h, w];
  const [ch, cw] = choice.size || [h, w];
  const pixels = await owner.read(source, cw, ch);
  const start = performance.now();
  const Type = owner.spec.classes.length > 256 ? Uint16Array : Uint8Array;
  if (!masks && !smoothing) {
    owner.smoother = null;
    const ids = await engine.infer(pixels, ch, cw, choice, owner.spec);
    if (ids.length !== ch * cw) {
      throw new SegmenterError(`the model gave ${ids.length} class ids for ${ch} x ${cw} pixels`, 'run');
    }
    const modelMs = performance.now() - start;
    owner.info = owner.measured(size, pixels, choice, info);
    return {labels: resizeLabels(Type.from(ids), ch, cw, sh, sw), modelMs, size: [ch, cw], info: owner.info};
  }
  const classes = owner.spec.classes.length;
  let probs = await engine.scores(pixels, ch, cw, choice, owner.spec);
  if (probs.length !== ch * cw * classes) {
    throw new SegmenterError(`the model gave ${probs.length} scores for ${ch} x ${cw} pixels of ${classes} classes`, 'run');
  }
  const modelMs = performance.now() - start;
  if (smoothing) {
    // (settings come by value from the worker's messages: compared by value)
    if (!owner.smoother || JSON.stringify(owner.smoother.settings) !== JSON.stringify(smoothing)) {
      owner.smoother = new Smoother(smoothing);
    }
    probs = owner.smoother.step(probs, pixels.data, ch, cw, classes);
  } else {
    owner.smoother = null;
  }
  const found = toMasks(probs, ch, cw, classes, sh, sw, masks || [], owner.spec.classes, Type);
  owner.info = owner.measured(size, pixels, choice, info);
  return {labels: found.labels, ...(masks ? {masks: found.masks} : {}), modelMs, size: [ch, cw], info: owner.info};
}


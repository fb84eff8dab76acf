// @ts-check
// smoothing.js: temporal smoothing of class probabilities over consecutive video frames (pure; Node too).
//
//   const smoother = new Smoother(smoothingOptions(true));
//   const smoothed = smoother.step(probs, rgba, h, w, classes);   // Float32Array, h * w * classes
//
// Each frame's probabilities are blended with the running estimate: per pixel,
//   estimate = keep * estimate + (1 - keep) * probs,   keep = history * (1 - change)
// where `change` (0..1) says how much the new frame disagrees at that pixel: the larger of
//   - the picture's change: the mean absolute luma difference (0..255) to the previous frame over the
//     pixel's 3 x 3 neighbourhood, ramped from `pixelLow` (0) to `pixelHigh` (1), and
//   - the probabilities' change: half the L1 distance between the new probabilities and the estimate
//     (0..1), ramped from `probLow` to `probHigh`.
// Where nothing changes, `history` of the estimate is kept (camera noise averages out); where the picture
// moves or cuts to another, the new frame takes over at once. The result is this frame's estimate: no
// frame of latency. Nothing is blended across a change of size or class count (the estimate restarts).

import {SegmenterError} from './errors.js';

/** @typedef {import('../segmenter.js').SmoothingSettings} SmoothingSettings */

/** The smoothing's default settings. @type {Readonly<SmoothingSettings>} */
export const SMOOTHING = Object.freeze({history: 0.75, pixelLow: 10, pixelHigh: 25, probLow: 0.2, probHigh: 0.6});

/**
 * The smoothing option as settings.
 * @param {boolean | Partial<SmoothingSettings> | null | undefined} given true (the defaults), false / null /
 *   undefined (off), or an object overriding some of SMOOTHING's numbers
 * @returns {SmoothingSettings | null} null when off
 * @throws {SegmenterError} 'options' for anything else
 */
export function smoothingOptions(given) {
  if (given === undefined || given === null || given === false) return null;
  const bad = (why) => new SegmenterError(`smoothing ${why}`, 'options');
  if (given === true) return {...SMOOTHING};
  if (typeof given !== 'object' || Array.isArray(given)) throw bad(`must be true, false or an object, not ${JSON.stringify(given)}`);
  const found = {...SMOOTHING};
  for (const [key, value] of Object.entries(given)) {
    if (!(key in SMOOTHING)) throw bad(`has no setting "${key}" (settings: ${Object.keys(SMOOTHING).join(', ')})`);
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw bad(`.${key} must be a number >= 0`);
    found[key] = value;
  }
  if (found.history >= 1) throw bad('.history must be below 1 (1 would never follow the picture)');
  if (found.pixelHigh <= found.pixelLow || found.probHigh <= found.probLow) throw bad(': each High must exceed its Low');
  return found;
}

const ramp = (v, lo, hi) => (v <= lo ? 0 : v >= hi ? 1 : (v - lo) / (hi - lo));

// Mean of |a - b| over each pixel's 3 x 3 neighbourhood (clamped at the borders), a and b luma planes.
function localChange(a, b, h, w) {
  const diff = new Float32Array(h * w);
  for (let i = 0; i < diff.length; i++) diff[i] = Math.abs(a[i] - b[i]);
  const rows = new Float32Array(h * w);
  for (let y = 0; y < h; y++) {
    const at = y * w;
    for (let x = 0; x < w; x++) {
      const l = x > 0 ? x - 1 : x;
      const r = x < w - 1 ? x + 1 : x;
      rows[at + x] = (diff[at + l] + diff[at + x] + diff[at + r]) / 3;
    }
  }
  for (let y = 0; y < h; y++) {
    const up = (y > 0 ? y - 1 : y) * w;
    const down = (y < h - 1 ? y + 1 : y) * w;
    const at = y * w;
    for (let x = 0; x < w; x++) diff[at + x] = (rows[up + x] + rows[at + x] + rows[down + x]) / 3;
  }
  return diff;
}

function luma(rgba, n) {
  const out = new Float32Array(n);
  for (let i = 0, j = 0; i < n; i++, j += 4) out[i] = 0.299 * rgba[j] + 0.587 * rgba[j + 1] + 0.114 * rgba[j + 2];
  return out;
}

/** The running estimate of one video's class probabilities. */
export class Smoother {
  /** @param {SmoothingSettings} [settings] */
  constructor(settings = SMOOTHING) {
    this.settings = settings;
    this.reset();
  }

  /**
   * Forget the past: the next frame is taken as it is.
   * @returns {void}
   */
  reset() {
    this.estimate = null;
    this.luma = null;
    this.shape = null;
  }

  /**
   * This frame's smoothed probabilities.
   * @param {ArrayLike<number>} probs h * w * classes probabilities (NHWC)
   * @param {ArrayLike<number> | null} rgba the frame's pixels at h x w (RGBA; null: only the probabilities'
   *   change counts)
   * @param {number} h
   * @param {number} w
   * @param {number} classes
   * @returns {Float32Array} h * w * classes, a new array
   */
  step(probs, rgba, h, w, classes) {
    const {history, pixelLow, pixelHigh, probLow, probHigh} = this.settings;
    const n = h * w;
    const shape = `${h}x${w}x${classes}`;
    const now = rgba ? luma(rgba, n) : null;
    if (!this.estimate || this.shape !== shape) {
      this.estimate = Float32Array.from(probs);
      this.luma = now;
      this.shape = shape;
      return Float32Array.from(this.estimate);
    }
    const moved = now && this.luma ? localChange(now, this.luma, h, w) : null;
    const s = this.estimate;
    for (let p = 0, i = 0; p < n; p++, i += classes) {
      let d = 0;
      for (let c = 0; c < classes; c++) d += Math.abs(probs[i + c] - s[i + c]);
      let change = ramp(d / 2, probLow, probHigh);
      if (moved) change = Math.max(change, ramp(moved[p], pixelLow, pixelHigh));
      const keep = history * (1 - change);
      for (let c = 0; c < classes; c++) s[i + c] = keep * s[i + c] + (1 - keep) * probs[i + c];
    }
    this.luma = now;
    return Float32Array.from(s);
  }
}

// @ts-check
// masks.js: soft per-class masks from a model's scores (pure functions; no DOM, runs in Node too).
//
// Scores are the model's output for one picture, pixel by pixel, class by class (NHWC: index
// (y * w + x) * C + c), as a Float32Array of h * w * C values.
//
//   softmax(logits, classes)                 -> Float32Array of probabilities (same layout), each pixel's sum 1
//   classIndices(wanted, names)              -> the class ids of `wanted` ('all' or a list of class names)
//   toMasks(probs, h, w, C, sh, sw, wanted)  -> {labels, masks}: labels (argmax) and one Float32Array of
//                                               sh * sw probabilities per wanted class, at sh x sw
//   scoresNode(json, spec)                   -> the model.json node whose output the class ids are the argmax
//                                               of: {name, logits} (logits: true unless it is a Softmax)

import {SegmenterError} from './errors.js';

/** @param {string} message */
const bad = (message) => new SegmenterError(message, 'options');

/**
 * Softmax over the last axis of `logits`, computed in double precision.
 * @param {ArrayLike<number>} logits pixels * classes (NHWC)
 * @param {number} classes
 * @returns {Float32Array} the same layout, each pixel's sum 1
 */
export function softmax(logits, classes) {
  const out = new Float32Array(logits.length);
  const e = new Float64Array(classes);
  for (let i = 0; i < logits.length; i += classes) {
    let top = -Infinity;
    for (let c = 0; c < classes; c++) if (logits[i + c] > top) top = logits[i + c];
    let sum = 0;
    for (let c = 0; c < classes; c++) { e[c] = Math.exp(logits[i + c] - top); sum += e[c]; }
    for (let c = 0; c < classes; c++) out[i + c] = e[c] / sum;
  }
  return out;
}

/**
 * The class ids of `wanted`.
 * @param {any} wanted 'all', or a list of class names (each once, each one of `names`)
 * @param {string[]} names the model's classes
 * @returns {number[]}
 * @throws {SegmenterError} 'options' for anything else, or a name the model lacks
 */
export function classIndices(wanted, names) {
  if (wanted === 'all') return names.map((_, i) => i);
  if (!Array.isArray(wanted) || !wanted.length || !wanted.every((n) => typeof n === 'string')) {
    throw bad(`masks must be 'all' or a list of class names (${names.join(', ')}), not ${JSON.stringify(wanted)}`);
  }
  const ids = [];
  for (const name of wanted) {
    const id = names.indexOf(name);
    if (id < 0) throw bad(`masks: this model has no class "${name}"; it has ${names.join(', ')}`);
    if (!ids.includes(id)) ids.push(id);
  }
  return ids;
}

/**
 * Class ids (argmax, the first of equals) of probabilities or logits laid out as above.
 * @param {ArrayLike<number>} scores pixels * classes
 * @param {number} classes
 * @param {Uint8ArrayConstructor | Uint16ArrayConstructor} [Type] the ids' array type
 * @returns {Uint8Array | Uint16Array}
 */
export function argmax(scores, classes, Type = Uint8Array) {
  const out = new Type(scores.length / classes);
  for (let i = 0, p = 0; i < scores.length; i += classes, p++) {
    let best = 0;
    for (let c = 1; c < classes; c++) if (scores[i + c] > scores[i + best]) best = c;
    out[p] = best;
  }
  return out;
}

// Sample positions of bilinear resizing from n to m (half-pixel centres, edges clamped): [lo, hi, t].
function taps(n, m) {
  const lo = new Int32Array(m);
  const hi = new Int32Array(m);
  const t = new Float32Array(m);
  for (let i = 0; i < m; i++) {
    const at = Math.min(n - 1, Math.max(0, (i + 0.5) * n / m - 0.5));
    lo[i] = Math.floor(at);
    hi[i] = Math.min(n - 1, lo[i] + 1);
    t[i] = at - lo[i];
  }
  return {lo, hi, t};
}

/**
 * Labels and masks at sh x sw from probabilities at h x w. Probabilities are resized bilinearly (so each
 * pixel's classes still sum to 1), labels are their argmax; at the same size, the argmax of `probs` itself.
 * @param {ArrayLike<number>} probs h * w * classes (NHWC)
 * @param {number} h
 * @param {number} w
 * @param {number} classes
 * @param {number} sh
 * @param {number} sw
 * @param {number[]} wanted class ids whose masks to give
 * @param {string[]} names the classes' names, the masks' keys
 * @param {Uint8ArrayConstructor | Uint16ArrayConstructor} [Type] the labels' array type
 * @returns {{labels: Uint8Array | Uint16Array, masks: Record<string, Float32Array>}} sh * sw each
 * @throws {SegmenterError} 'options' when probs is not h * w * classes long
 */
export function toMasks(probs, h, w, classes, sh, sw, wanted, names, Type = Uint8Array) {
  if (probs.length !== h * w * classes) {
    throw bad(`toMasks: ${probs.length} scores for ${h} x ${w} pixels of ${classes} classes`);
  }
  const labels = new Type(sh * sw);
  const planes = wanted.map(() => new Float32Array(sh * sw));
  const ys = taps(h, sh);
  const xs = taps(w, sw);
  const v = new Float32Array(classes);
  const same = h === sh && w === sw;
  for (let y = 0; y < sh; y++) {
    const r0 = ys.lo[y] * w;
    const r1 = ys.hi[y] * w;
    const ty = ys.t[y];
    for (let x = 0; x < sw; x++) {
      const p = y * sw + x;
      let best = 0;
      if (same) {
        const at = p * classes;
        for (let c = 0; c < classes; c++) v[c] = probs[at + c];
      } else {
        const tx = xs.t[x];
        const a = (r0 + xs.lo[x]) * classes;
        const b = (r0 + xs.hi[x]) * classes;
        const c0 = (r1 + xs.lo[x]) * classes;
        const d = (r1 + xs.hi[x]) * classes;
        for (let c = 0; c < classes; c++) {
          const top = probs[a + c] + (probs[b + c] - probs[a + c]) * tx;
          const bottom = probs[c0 + c] + (probs[d + c] - probs[c0 + c]) * tx;
          v[c] = top + (bottom - top) * ty;
        }
      }
      for (let c = 1; c < classes; c++) if (v[c] > v[best]) best = c;
      labels[p] = best;
      for (let k = 0; k < wanted.length; k++) planes[k][p] = v[wanted[k]];
    }
  }
  /** @type {Record<string, Float32Array>} */
  const masks = {};
  wanted.forEach((id, k) => { masks[names[id]] = planes[k]; });
  return {labels, masks};
}

/**
 * What the class ids of a tfjs graph model are the argmax of: the probabilities output where the build has
 * one, else the ArgMax's input found by walking first inputs back from the labels output (as
 * `patcher check` does).
 * @param {any} json model.json
 * @param {{output: string}} spec model.js's readMetadata
 * @returns {{name: string, logits: boolean} | null} logits: true unless the node is a Softmax; null: none
 */
export function scoresNode(json, spec) {
  const outputs = (json.userDefinedMetadata && json.userDefinedMetadata.outputs) || [];
  const probabilities = outputs.find((o) => o && o.kind === 'probabilities');
  if (probabilities) return {name: probabilities.name, logits: false};
  /** @type {Map<string, any>} */
  const nodes = new Map(((json.modelTopology && json.modelTopology.node) || []).map((n) => [n.name, n]));
  /** @param {string} name */
  const base = (name) => String(name).replace(/^\^/, '').split(':')[0];
  let node = nodes.get(spec.output);
  while (node && node.op !== 'ArgMax') node = node.input && node.input.length ? nodes.get(base(node.input[0])) : null;
  if (!node) return null;
  const name = base(node.input[0]);
  return {name, logits: !nodes.has(name) || nodes.get(name).op !== 'Softmax'};
}

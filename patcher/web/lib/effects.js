// @ts-check
// effects.js: what people make from a segmentation result: alpha masks, recolouring, background effects,
// the class-colour overlay laid over the picture. Each takes the `result` of seg.segment(source, {masks})
// (its width, height and `masks`: class name -> Float32Array of probabilities) and gives an ImageData of
// the result's size; nothing is drawn or changed in place.
//
//   alphaMask(result, classes, {feather})                       mask of the classes (white, alpha = probability)
//   recolor(source, result, {classes, color, strength, feather}) the classes take `color`, keeping lightness
//   replaceBackground(source, result, {keep, blur | image | color, feather})  all but the background (or
//                                                               the `keep` classes) over a new background
//   overlay(source, layer)                                      `layer` (e.g. seg.colorize(...)) over the source
//
// `source`: an ImageData (or {data, width, height}) or anything a canvas can draw (image, video, canvas,
// ImageBitmap, VideoFrame); drawn at the result's size when its size differs. `color`: [r, g, b] (0..255)
// or '#rrggbb'. `feather`: a radius in pixels by which the mask's edge is softened further (three box
// blurs; 0: the model's own probabilities only). Bad arguments throw an Error with code 'options'.

import {SegmenterError} from './errors.js';
import {makeCanvas} from './pixels.js';

/** @typedef {import('../segmenter.js').MaskedResult} MaskedResult */
/** @typedef {import('../segmenter.js').Picture} Picture */
/** @typedef {import('../segmenter.js').EffectColor} EffectColor */
/** @typedef {import('../segmenter.js').RecolorOptions} RecolorOptions */
/** @typedef {import('../segmenter.js').BackgroundOptions} BackgroundOptions */

/** @param {string} message */
const bad = (message) => new SegmenterError(message, 'options');

/**
 * An ImageData where there is one (else the same fields, in Node).
 * @param {Uint8ClampedArray<ArrayBuffer>} data
 * @param {number} width
 * @param {number} height
 * @returns {ImageData}
 */
function makeImage(data, width, height) {
  return typeof ImageData !== 'undefined' ? new ImageData(data, width, height)
    : /** @type {ImageData} */ (/** @type {unknown} */ ({data, width, height}));
}

/**
 * RGBA bytes of `source` at width x height (drawn through a canvas when its size differs).
 * @param {any} source a Picture
 * @param {number} width
 * @param {number} height
 * @returns {Uint8ClampedArray}
 * @throws {SegmenterError} 'options' where no canvas can resize it (Node)
 */
export function pixelsAt(source, width, height) {
  if (source && source.data && source.width === width && source.height === height) return source.data;
  if (typeof OffscreenCanvas === 'undefined' && typeof document === 'undefined') {
    throw bad(`the source is ${source && source.width} x ${source && source.height} pixels; the result ${width} x ${height}`);
  }
  let drawable = source;
  if (source && source.data) {  // ImageData of another size: through a canvas of its own size
    drawable = makeCanvas(source.width, source.height);
    drawable.getContext('2d').putImageData(source, 0, 0);
  }
  const ctx = makeCanvas(width, height).getContext('2d', {willReadFrequently: true});
  ctx.drawImage(drawable, 0, 0, width, height);
  return ctx.getImageData(0, 0, width, height).data;
}

/**
 * @param {any} color [r, g, b] (0..255, clamped and rounded) or '#rrggbb'
 * @returns {[number, number, number]} [r, g, b]
 * @throws {SegmenterError} 'options' for anything else
 */
export function parseColor(color) {
  if (typeof color === 'string' && /^#[0-9a-f]{6}$/i.test(color)) {
    return /** @type {[number, number, number]} */ ([1, 3, 5].map((i) => parseInt(color.slice(i, i + 2), 16)));
  }
  if (Array.isArray(color) && color.length >= 3 && color.slice(0, 3).every((v) => Number.isFinite(v))) {
    return /** @type {[number, number, number]} */ (color.slice(0, 3).map((v) => Math.min(255, Math.max(0, Math.round(v)))));
  }
  throw bad(`color must be [r, g, b] (0..255) or '#rrggbb', not ${JSON.stringify(color)}`);
}

// --- OKLab (Björn Ottosson's), from and to 8-bit sRGB ---------------------------------------------

const LINEAR = new Float32Array(256).map((_, i) => {
  const v = i / 255;
  return v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
});
const encode = (v) => 255 * (v <= 0.0031308 ? 12.92 * v : 1.055 * v ** (1 / 2.4) - 0.055);

/**
 * @param {number} r 0..255 (integer)
 * @param {number} g
 * @param {number} b
 * @returns {number[]} [L, a, b] in OKLab
 */
export function toOklab(r, g, b) {
  const [R, G, B] = [LINEAR[r], LINEAR[g], LINEAR[b]];
  const l = Math.cbrt(0.4122214708 * R + 0.5363325363 * G + 0.0514459929 * B);
  const m = Math.cbrt(0.2119034982 * R + 0.6806995451 * G + 0.1073969566 * B);
  const s = Math.cbrt(0.0883024619 * R + 0.2817188376 * G + 0.6299787005 * B);
  return [0.2104542553 * l + 0.7936177850 * m - 0.0040720468 * s,
          1.9779984951 * l - 2.4285922050 * m + 0.4505937099 * s,
          0.0259040371 * l + 0.7827717662 * m - 0.8086757660 * s];
}

// Linear RGB (may fall outside 0..1) of an OKLab colour.
function linearOf(L, a, b) {
  const l = (L + 0.3963377774 * a + 0.2158037573 * b) ** 3;
  const m = (L - 0.1055613458 * a - 0.0638541728 * b) ** 3;
  const s = (L - 0.0894841775 * a - 1.2914855480 * b) ** 3;
  return [4.0767416621 * l - 3.3077115913 * m + 0.2309699292 * s,
          -1.2684380046 * l + 2.6097574011 * m - 0.3413193965 * s,
          -0.0041960863 * l - 0.7034186147 * m + 1.7076147010 * s];
}

const inGamut = (rgb) => rgb.every((v) => v >= -1e-6 && v <= 1 + 1e-6);

/**
 * 8-bit sRGB of an OKLab colour; out of gamut, the chroma is reduced (lightness and hue kept).
 * @param {number} L
 * @param {number} a
 * @param {number} b
 * @returns {number[]} [r, g, b], 0..255
 */
export function fromOklab(L, a, b) {
  let rgb = linearOf(L, a, b);
  if (!inGamut(rgb)) {
    let lo = 0;
    let hi = 1;
    for (let i = 0; i < 12; i++) {
      const k = (lo + hi) / 2;
      if (inGamut(linearOf(L, a * k, b * k))) lo = k; else hi = k;
    }
    rgb = linearOf(L, a * lo, b * lo);
  }
  return rgb.map((v) => Math.round(encode(Math.min(1, Math.max(0, v)))));
}

// --- masks ------------------------------------------------------------------------------------------

/**
 * Three passes of a box blur of radius r over a w x h plane (in place; about a Gaussian of sigma r).
 * @param {Float32Array} plane w * h values, row by row
 * @param {number} w
 * @param {number} h
 * @param {number} r radius in pixels (rounded; below 1: nothing)
 * @returns {Float32Array} `plane`
 */
export function blurPlane(plane, w, h, r) {
  r = Math.round(r);
  if (r < 1) return plane;
  const line = new Float32Array(Math.max(w, h));
  const pass = (count, length, index) => {
    for (let k = 0; k < count; k++) {
      for (let i = 0; i < length; i++) line[i] = plane[index(k, i)];
      let sum = 0;
      for (let i = -r; i <= r; i++) sum += line[Math.min(length - 1, Math.max(0, i))];
      for (let i = 0; i < length; i++) {
        plane[index(k, i)] = sum / (2 * r + 1);
        sum += line[Math.min(length - 1, i + r + 1)] - line[Math.max(0, i - r)];
      }
    }
  };
  for (let n = 0; n < 3; n++) {
    pass(h, w, (y, x) => y * w + x);
    pass(w, h, (x, y) => y * w + x);
  }
  return plane;
}

/**
 * The summed probability (0..1) of `classes` per pixel, feathered by `feather` px.
 * @param {MaskedResult} result
 * @param {string | string[]} classes
 * @param {number} [feather] a radius in pixels
 * @param {string} [what] the caller's word for `classes`, for messages
 * @returns {Float32Array} width * height
 * @throws {SegmenterError} 'options' for a result without those masks, or bad arguments
 */
export function weights(result, classes, feather = 0, what = 'classes') {
  checkResult(result);
  const names = typeof classes === 'string' ? [classes] : classes;
  if (!Array.isArray(names) || !names.length) throw bad(`${what} must be a class name or a list of them, not ${JSON.stringify(classes)}`);
  const masks = result.masks || {};
  const n = result.width * result.height;
  const out = new Float32Array(n);
  for (const name of names) {
    const mask = masks[name];
    if (!mask) {
      throw bad(`the result has no mask of "${name}": ask for it, seg.segment(source, {masks: ['${name}']}) ` +
        `(it has ${Object.keys(masks).join(', ') || 'none'})`);
    }
    for (let i = 0; i < n; i++) out[i] += mask[i];
  }
  for (let i = 0; i < n; i++) out[i] = Math.min(1, out[i]);
  if (!(Number.isFinite(feather) && feather >= 0)) throw bad(`feather must be a radius >= 0 in pixels, not ${feather}`);
  return blurPlane(out, result.width, result.height, feather);
}

/**
 * Checks that `result` looks like what segment() returned.
 * @param {any} result
 * @returns {void}
 * @throws {SegmenterError} 'options' for anything without whole width and height
 */
function checkResult(result) {
  if (!result || !Number.isInteger(result.width) || !Number.isInteger(result.height)) {
    throw bad('the result must be what seg.segment() returned (width, height, masks)');
  }
}

/**
 * The share (0..1) of each pixel replaceBackground keeps: the `keep` classes' probability when given, else
 * one minus the background's (so every class but the background is kept, whichever masks were asked for).
 * @param {MaskedResult} result
 * @param {string[] | undefined} keep
 * @param {number} feather a radius in pixels
 * @returns {Float32Array} width * height
 * @throws {SegmenterError} 'options' for a result without the masks needed
 */
function kept(result, keep, feather) {
  if (keep !== undefined) return weights(result, keep, feather, 'keep');
  checkResult(result);
  const back = (result.masks || {}).background;
  if (!back) {
    throw bad('replaceBackground needs the background\'s probability: segment with ' +
      "seg.segment(source, {masks: ['background']}), or pass keep: [the classes to keep] " +
      `(the result has masks of ${Object.keys(result.masks || {}).join(', ') || 'none'})`);
  }
  const away = Float32Array.from(back, (v) => 1 - v);
  return weights({width: result.width, height: result.height, masks: {kept: away}}, 'kept', feather);
}

/**
 * White with alpha the probability of the classes (summed), optionally feathered.
 * @param {MaskedResult} result a result of segment() with masks
 * @param {string | string[]} classes one class name or a list
 * @param {{feather?: number}} [options] feather: a radius in pixels (default 0)
 * @returns {ImageData} the result's size
 * @throws {SegmenterError} 'options'
 */
export function alphaMask(result, classes, {feather = 0} = {}) {
  const w = weights(result, classes, feather);
  const data = new Uint8ClampedArray(w.length * 4).fill(255);
  for (let i = 0; i < w.length; i++) data[4 * i + 3] = Math.round(255 * w[i]);
  return makeImage(data, result.width, result.height);
}

// --- effects ------------------------------------------------------------------------------------------

/**
 * The classes take `color` in OKLab, keeping the source's lightness; soft edges from the probabilities.
 * @param {Picture} source the picture segmented (drawn at the result's size)
 * @param {MaskedResult} result a result of segment() with the classes' masks
 * @param {RecolorOptions} options classes, color, strength (0..1, default 1), feather (px, default 0)
 * @returns {ImageData} the result's size
 * @throws {SegmenterError} 'options'
 */
export function recolor(source, result, options) {
  const {classes, color, strength = 1, feather = 0} = options || /** @type {RecolorOptions} */ ({});
  if (!(Number.isFinite(strength) && strength >= 0 && strength <= 1)) throw bad(`strength must be 0..1, not ${strength}`);
  const [, ta, tb] = toOklab(...parseColor(color));
  const w = weights(result, classes, feather);
  const src = pixelsAt(source, result.width, result.height);
  const out = new Uint8ClampedArray(src);
  for (let p = 0, i = 0; p < w.length; p++, i += 4) {
    const k = w[p] * strength;
    if (k <= 0) continue;
    const [L, a, b] = toOklab(src[i], src[i + 1], src[i + 2]);
    const rgb = fromOklab(L, a + (ta - a) * k, b + (tb - b) * k);
    out[i] = rgb[0];
    out[i + 1] = rgb[1];
    out[i + 2] = rgb[2];
  }
  return makeImage(out, result.width, result.height);
}

/**
 * Everything but the `keep` classes blurred (a radius in pixels) or replaced by an image or a colour.
 * @param {Picture} source the picture segmented (drawn at the result's size)
 * @param {MaskedResult} result a result of segment() with masks
 * @param {BackgroundOptions} options keep (default: every class but the background, one minus
 *   result.masks.background), one of blur, image or color, feather (px, default 0)
 * @returns {ImageData} the result's size
 * @throws {SegmenterError} 'options' (none or several of blur, image, color; a mask missing)
 */
export function replaceBackground(source, result, options) {
  const {keep, blur, image, color, feather = 0} = options || {};
  const given = [blur, image, color].filter((v) => v !== undefined && v !== null).length;
  if (given !== 1) throw bad('replaceBackground needs one of blur (a radius in pixels), image or color');
  const alpha = kept(result, keep, feather);
  const {width, height} = result;
  const src = pixelsAt(source, width, height);
  const n = width * height;
  let back;
  if (color !== undefined && color !== null) {
    const rgb = parseColor(color);
    back = new Uint8ClampedArray(n * 4);
    for (let i = 0; i < n * 4; i += 4) back.set(rgb, i);
  } else if (image !== undefined && image !== null) {
    back = pixelsAt(image, width, height);
  } else {
    if (!(Number.isFinite(blur) && blur >= 0)) throw bad(`blur must be a radius >= 0 in pixels, not ${blur}`);
    // the background blurred with the kept part left out, so the person's colours do not halo into it
    const away = Float32Array.from(alpha, (a) => 1 - a);
    const planes = [0, 1, 2].map((c) => blurPlane(Float32Array.from(away, (v, p) => v * src[4 * p + c]), width, height, blur));
    blurPlane(away, width, height, blur);
    back = new Uint8ClampedArray(n * 4);
    for (let p = 0; p < n; p++) {
      for (let c = 0; c < 3; c++) back[4 * p + c] = away[p] > 1e-3 ? planes[c][p] / away[p] : src[4 * p + c];
    }
  }
  const out = new Uint8ClampedArray(n * 4);
  for (let p = 0, i = 0; p < n; p++, i += 4) {
    const a = alpha[p];
    for (let c = 0; c < 3; c++) out[i + c] = src[i + c] * a + back[i + c] * (1 - a);
    out[i + 3] = 255;
  }
  return makeImage(out, width, height);
}

/**
 * `layer` (an ImageData with alpha, such as seg.colorize(...)) laid over the source's pixels.
 * @param {Picture} source
 * @param {ImageData} layer
 * @returns {ImageData} opaque, the layer's size
 * @throws {SegmenterError} 'options' when layer is not an ImageData
 */
export function overlay(source, layer) {
  if (!layer || !layer.data || !Number.isInteger(layer.width)) throw bad('overlay(source, layer): layer must be an ImageData');
  const src = pixelsAt(source, layer.width, layer.height);
  const top = layer.data;
  const out = new Uint8ClampedArray(top.length);
  for (let i = 0; i < top.length; i += 4) {
    const a = top[i + 3] / 255;
    for (let c = 0; c < 3; c++) out[i + c] = src[i + c] * (1 - a) + top[i + c] * a;
    out[i + 3] = 255;
  }
  return makeImage(out, layer.width, layer.height);
}

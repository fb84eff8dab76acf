// @ts-check
// picture.js: the `image` kind's post-processing (stylizer.js): a model's picture output, float NHWC,
// back to RGBA pixels by the inverse of the input's scale and offset, clipped, channels put in RGB order,
// and resized to the source's size. The model's run itself is the engine's (engine.js), as for class maps.
import {SegmenterError} from './errors.js';

/** @typedef {import('./model.js').Picture} Picture */

/**
 * RGBA pixels of a picture output: each value v becomes clip(round((v - offset) / scale), 0, 255), rounding
 * half to even as a Uint8ClampedArray does (patcher/kinds/image.py's mapping, which `check` compares);
 * BGR channels are swapped to RGB; one channel is grey; alpha is 255 unless the output has a fourth channel.
 * @param {ArrayLike<number>} values h * w * channels, NHWC
 * @param {number} h
 * @param {number} w
 * @param {Picture} picture the output's mapping (model.js's Spec.picture)
 * @returns {Uint8ClampedArray<ArrayBuffer>} h * w * 4
 * @throws {SegmenterError} 'run' when `values` does not hold h * w * channels numbers
 */
export function toPixels(values, h, w, {channels, scale, offset, bgr}) {
  if (values.length !== h * w * channels) {
    throw new SegmenterError(`the model gave ${values.length} values for ${h} x ${w} pixels of ${channels} channels`, 'run');
  }
  const out = new Uint8ClampedArray(h * w * 4);
  const [r, b] = bgr ? [2, 0] : [0, 2];
  for (let i = 0, j = 0; j < out.length; i += channels, j += 4) {
    if (channels === 1) {
      out[j] = out[j + 1] = out[j + 2] = (values[i] - offset) / scale;
    } else {
      out[j] = (values[i + r] - offset) / scale;
      out[j + 1] = (values[i + 1] - offset) / scale;
      out[j + 2] = (values[i + b] - offset) / scale;
    }
    out[j + 3] = channels === 4 ? (values[i + 3] - offset) / scale : 255;
  }
  return out;
}

/**
 * RGBA pixels of h x w resized to sh x sw, bilinear with pixel centres aligned (half-pixel, as
 * tf.image.resize and canvas drawing do); the same array when the sizes are equal.
 * @param {Uint8ClampedArray<ArrayBuffer>} rgba h * w * 4
 * @param {number} h
 * @param {number} w
 * @param {number} sh
 * @param {number} sw
 * @returns {Uint8ClampedArray<ArrayBuffer>} sh * sw * 4
 */
export function resizePixels(rgba, h, w, sh, sw) {
  if (h === sh && w === sw) return rgba;
  const out = new Uint8ClampedArray(sh * sw * 4);
  const ky = h / sh;
  const kx = w / sw;
  for (let y = 0; y < sh; y++) {
    const fy = Math.min(Math.max((y + 0.5) * ky - 0.5, 0), h - 1);
    const y0 = Math.floor(fy);
    const y1 = Math.min(y0 + 1, h - 1);
    const dy = fy - y0;
    for (let x = 0; x < sw; x++) {
      const fx = Math.min(Math.max((x + 0.5) * kx - 0.5, 0), w - 1);
      const x0 = Math.floor(fx);
      const x1 = Math.min(x0 + 1, w - 1);
      const dx = fx - x0;
      const a = (y0 * w + x0) * 4;
      const b = (y0 * w + x1) * 4;
      const c = (y1 * w + x0) * 4;
      const d = (y1 * w + x1) * 4;
      const o = (y * sw + x) * 4;
      for (let k = 0; k < 4; k++) {
        const top = rgba[a + k] + (rgba[b + k] - rgba[a + k]) * dx;
        const bottom = rgba[c + k] + (rgba[d + k] - rgba[c + k]) * dx;
        out[o + k] = top + (bottom - top) * dy;
      }
    }
  }
  return out;
}

/**
 * One call of an image model (Engine.run's, for spec.kind 'image'): the model run on `source` at h x w,
 * its picture mapped to RGBA pixels at sh x sw.
 * @param {any} engine the Engine (engine.js): start(size), read(source, w, h), spec, measured(...)
 * @param {any} source ImageData, ImageBitmap, canvas, image or video
 * @param {number} h the height to run the model at
 * @param {number} w
 * @param {number} sh the source's height
 * @param {number} sw
 * @returns {Promise<{pixels: Uint8ClampedArray<ArrayBuffer>, modelMs: number, size: [number, number], info: any}>}
 * @throws {SegmenterError} 'source', 'disposed', 'run', or any code of starting a runtime
 */
export async function runPicture(engine, source, h, w, sh, sw) {
  const {engine: runtime, info, choice} = await engine.start([h, w]);
  const [ch, cw] = choice.size || [h, w];
  const pixels = await engine.read(source, cw, ch);
  const start = performance.now();
  const values = await runtime.infer(pixels, ch, cw, choice, engine.spec);
  const modelMs = performance.now() - start;
  const rgba = resizePixels(toPixels(values, ch, cw, engine.spec.picture), ch, cw, sh, sw);
  engine.info = engine.measured([h, w], pixels, choice, info);
  return {pixels: rgba, modelMs, size: [ch, cw], info: engine.info};
}

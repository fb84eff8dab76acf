// @ts-check
// pixels.js: reading a source's size and pixels, mapping a class map to another size, and painting one.
// sourceSize, resizeLabels and paint need no browser.
import {CORS_HINT, SegmenterError} from './errors.js';

/**
 * An OffscreenCanvas where there is one, else a <canvas> (typed as the former: the methods used are the same).
 * @param {number} width
 * @param {number} height
 * @returns {OffscreenCanvas}
 */
export function makeCanvas(width, height) {
  if (typeof OffscreenCanvas !== 'undefined') return new OffscreenCanvas(width, height);
  const canvas = document.createElement('canvas');
  canvas.width = width;
  canvas.height = height;
  return /** @type {OffscreenCanvas} */ (/** @type {unknown} */ (canvas));
}

/**
 * @param {any} source
 * @returns {source is ImageData}
 */
export function isImageData(source) {
  return typeof ImageData !== 'undefined' && source instanceof ImageData;
}

/**
 * The RGBA pixels of `source` drawn at width x height.
 * @param {any} source a Source (segmenter.d.ts)
 * @param {number} width
 * @param {number} height
 * @param {{canvas?: OffscreenCanvas, context?: OffscreenCanvasRenderingContext2D}} holder keeps the canvas
 *   between calls
 * @returns {Promise<ImageData>}
 */
export async function pixelsOf(source, width, height, holder) {
  if (isImageData(source) && source.width === width && source.height === height) return source;
  let drawable = source;
  if (isImageData(source)) drawable = await createImageBitmap(source);
  if (!holder.canvas) holder.canvas = makeCanvas(width, height);
  const canvas = holder.canvas;
  if (canvas.width !== width || canvas.height !== height) { canvas.width = width; canvas.height = height; }
  if (!holder.context) holder.context = canvas.getContext('2d', {willReadFrequently: true});
  holder.context.clearRect(0, 0, width, height);
  holder.context.drawImage(drawable, 0, 0, width, height);
  if (drawable !== source) drawable.close();
  return holder.context.getImageData(0, 0, width, height);
}

/**
 * The SegmenterError 'source' of a source whose pixels could not be read (`err`, not a cross-origin one):
 * a video says it has no frame yet, as sourceSize does.
 * @param {any} source what segment() was given
 * @param {Error} err what reading it threw
 * @param {string} [at] the size drawn at (' at H x W'), or ''
 * @returns {SegmenterError}
 */
export function unreadable(source, err, at = '') {
  if (typeof HTMLVideoElement !== 'undefined' && source instanceof HTMLVideoElement) {
    return new SegmenterError(`the video has no frame yet (${err.message})`, 'source');
  }
  return new SegmenterError(`cannot read the source's pixels${at} (${err.message})`, 'source');
}

/**
 * True for an image from another origin on a cross-origin isolated page (COEP require-corp), where it loads
 * only with crossOrigin set and CORS (or CORP) headers from its server.
 * @param {HTMLImageElement} image
 * @returns {boolean}
 */
function foreignUnderCoep(image) {
  if (!globalThis.crossOriginIsolated || typeof location === 'undefined') return false;
  try {
    return new URL(image.currentSrc || image.src, location.href).origin !== location.origin;
  } catch (err) {
    return false;
  }
}

/**
 * Class ids of h x w mapped to sh x sw by nearest neighbour (pixel centres).
 * @template {Uint8Array | Uint16Array} T
 * @param {T} labels h * w class ids
 * @param {number} h
 * @param {number} w
 * @param {number} sh
 * @param {number} sw
 * @returns {T} sh * sw (`labels` itself at the same size)
 */
export function resizeLabels(labels, h, w, sh, sw) {
  if (h === sh && w === sw) return labels;
  const out = /** @type {T} */ (new /** @type {any} */ (labels.constructor)(sh * sw));
  const xs = new Int32Array(sw);
  for (let x = 0; x < sw; x++) xs[x] = Math.min(w - 1, Math.floor((x + 0.5) * w / sw));
  for (let y = 0; y < sh; y++) {
    const row = Math.min(h - 1, Math.floor((y + 0.5) * h / sh)) * w;
    const at = y * sw;
    for (let x = 0; x < sw; x++) out[at + x] = labels[row + xs[x]];
  }
  return out;
}

/**
 * The size of an image, video, canvas, ImageBitmap, ImageData or VideoFrame.
 * @param {any} source
 * @returns {[number, number]} [width, height]
 * @throws {SegmenterError} 'source' for anything else, an image not loaded, a video without a frame, or an
 *   empty source
 */
export function sourceSize(source) {
  if (!source || typeof source !== 'object') {
    throw new SegmenterError('segment() needs an image, video, canvas, ImageBitmap or ImageData', 'source');
  }
  let width;
  let height;
  if (typeof HTMLImageElement !== 'undefined' && source instanceof HTMLImageElement) {
    [width, height] = [source.naturalWidth, source.naturalHeight];
    if (!source.complete || !width) {
      if (foreignUnderCoep(source)) {
        throw new SegmenterError('the image has not loaded: it comes from another origin, and this page is ' +
          'cross-origin isolated (Cross-Origin-Embedder-Policy: require-corp)', 'source', CORS_HINT);
      }
      throw new SegmenterError('the image has not loaded (or cannot be decoded)', 'source');
    }
  } else if (typeof HTMLVideoElement !== 'undefined' && source instanceof HTMLVideoElement) {
    [width, height] = [source.videoWidth, source.videoHeight];
    if (source.readyState < 2 || !width) throw new SegmenterError('the video has no frame yet', 'source');
  } else if (typeof VideoFrame !== 'undefined' && source instanceof VideoFrame) {
    [width, height] = [source.displayWidth, source.displayHeight];
  } else {
    [width, height] = [source.width, source.height];
  }
  if (!Number.isInteger(width) || !Number.isInteger(height)) {
    throw new SegmenterError('segment() needs an image, video, canvas, ImageBitmap or ImageData', 'source');
  }
  if (!width || !height) throw new SegmenterError(`the source is empty (${width} x ${height} pixels)`, 'source');
  return [width, height];
}

/**
 * `labels` in `palette`'s colours at opacity `alpha`, the classes in `transparent` fully clear (and ids
 * beyond the palette white).
 * @param {ArrayLike<number>} labels class ids
 * @param {ArrayLike<number>[]} palette [r, g, b] per class
 * @param {Iterable<number>} transparent class ids
 * @param {number} alpha 0..1
 * @returns {Uint8ClampedArray<ArrayBuffer>} RGBA bytes, labels.length * 4
 */
export function paint(labels, palette, transparent, alpha) {
  const rgba = new Uint8ClampedArray(labels.length * 4);
  const out = new Uint32Array(rgba.buffer);
  const a = Math.round(255 * Math.min(1, Math.max(0, alpha)));
  const hidden = new Set(transparent);
  // One RGBA word per class, in the platform's byte order.
  const bytes = new Uint8Array(4);
  const word = new Uint32Array(bytes.buffer);
  const table = new Uint32Array(Math.max(256, palette.length));
  for (let i = 0; i < table.length; i++) {
    const c = palette[i] || [255, 255, 255];
    bytes.set([c[0], c[1], c[2], hidden.has(i) ? 0 : a]);
    table[i] = hidden.has(i) ? 0 : word[0];
  }
  for (let i = 0; i < labels.length; i++) out[i] = table[labels[i]];
  return rgba;
}

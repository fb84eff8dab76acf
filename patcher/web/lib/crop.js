// crop.js: the square around a face that is parsed, its pixels (padded where the square leaves the frame),
// and the crops' class maps (and soft masks) pasted back into a map of the frame's size. Pure: Node too.
//
//   const crop = cropFor(face.box);                          // [x, y, side, side] in frame pixels
//   const pixels = cropPixels(frame, crop, 320);             // {data, width: 320, height: 320} RGBA
//   const {labels, owner} = paste(frame.width, frame.height, [{crop, labels: parsed, size: 320}]);
//
// Crop and paste use the same pixel-centre convention as pixels.js's resizeLabels: frame pixel x lies in
// the crop's pixel floor((x + 0.5 - cropX) * size / side), so a crop equal to a square frame pastes back
// exactly what resizeLabels gives for the whole frame's parse.

/**
 * The crop's defaults. factor: the square's side over the face box's width; lift: how far above the box's
 * centre the square's centre lies, as a share of the side. Measured on half-body, selfie and full-body
 * pictures: squares 2.0-2.5 box widths wide parse like portraits (1.0 cuts off large hair; wider brings
 * hat back onto walls and trees).
 */
export const CROP = Object.freeze({factor: 2.25, lift: 0.05});

/**
 * The square parsed for a face: whole pixels, possibly reaching outside the frame.
 * @param {number[]} box the face's [x, y, width, height] in frame pixels
 * @param {{factor?: number, lift?: number}} [given] overrides of CROP
 * @returns {number[]} [x, y, side, side]
 */
export function cropFor(box, given = {}) {
  const {factor, lift} = {...CROP, ...given};
  const side = Math.max(1, Math.round(factor * box[2]));
  const cx = box[0] + box[2] / 2;
  const cy = box[1] + box[3] / 2 - lift * side;
  return [Math.round(cx - side / 2), Math.round(cy - side / 2), side, side];
}

/**
 * A box in frame pixels mapped into a crop's parse of `size` x `size` pixels.
 * @param {number[]} box [x, y, width, height] in frame pixels
 * @param {number[]} crop [x, y, side, side]
 * @param {number} size the parse's side
 * @returns {number[]} [x, y, width, height] in the parse's pixels
 */
export function toCrop(box, crop, size) {
  const k = size / crop[2];
  return [(box[0] - crop[0]) * k, (box[1] - crop[1]) * k, box[2] * k, box[3] * k];
}

/**
 * A box in a crop's parse (`size` x `size` pixels) mapped back to frame pixels; toCrop's inverse.
 * @param {number[]} box [x, y, width, height] in the parse's pixels
 * @param {number[]} crop [x, y, side, side]
 * @param {number} size the parse's side
 * @returns {number[]} [x, y, width, height] in frame pixels
 */
export function fromCrop(box, crop, size) {
  const k = crop[2] / size;
  return [crop[0] + box[0] * k, crop[1] + box[1] * k, box[2] * k, box[3] * k];
}

/**
 * The RGBA pixels of a square of the frame, resized to `size` x `size` (bilinear, pixel centres; an exact
 * copy when size equals the side), `fill` where a pixel's centre lies outside the frame.
 * @param {{data: Uint8Array|Uint8ClampedArray, width: number, height: number}} frame RGBA pixels
 * @param {number[]} crop [x, y, side, side] in frame pixels
 * @param {number} [size] the result's side (default: the crop's side)
 * @param {number[]} [fill] [r, g, b, a] of the padding
 * @returns {{data: Uint8ClampedArray, width: number, height: number}}
 */
export function cropPixels(frame, crop, size = crop[2], fill = [0, 0, 0, 255]) {
  const {data, width, height} = frame;
  const [x0, y0, side] = crop;
  const out = new Uint8ClampedArray(size * size * 4);
  const k = side / size;
  for (let v = 0; v < size; v++) {
    const sy = y0 + (v + 0.5) * k - 0.5;
    for (let u = 0; u < size; u++) {
      const sx = x0 + (u + 0.5) * k - 0.5;
      const at = (v * size + u) * 4;
      if (sx < -0.5 || sy < -0.5 || sx >= width - 0.5 || sy >= height - 0.5) { out.set(fill, at); continue; }
      const xa = Math.max(0, Math.floor(sx));
      const ya = Math.max(0, Math.floor(sy));
      const xb = Math.min(width - 1, xa + 1);
      const yb = Math.min(height - 1, ya + 1);
      const fx = Math.min(1, Math.max(0, sx - xa));
      const fy = Math.min(1, Math.max(0, sy - ya));
      for (let c = 0; c < 4; c++) {
        const top = data[(ya * width + xa) * 4 + c] * (1 - fx) + data[(ya * width + xb) * 4 + c] * fx;
        const bottom = data[(yb * width + xa) * 4 + c] * (1 - fx) + data[(yb * width + xb) * 4 + c] * fx;
        out[at + c] = Math.round(top * (1 - fy) + bottom * fy);
      }
    }
  }
  return {data: out, width: size, height: size};
}

/**
 * paste's options.
 * @typedef {{base?: ArrayLike<number>, background?: number, baseMasks?: Float32Array[], outside?: number[]}} PasteOptions
 */

/**
 * The crops' parses pasted into maps of the frame's size. A frame pixel inside several crops takes the
 * parse of the crop whose centre is nearest to it (so the face nearer its crop's centre wins); a pixel
 * inside none keeps `base` (the whole frame's parse) or, without it, `background`.
 * @param {number} width the frame's width
 * @param {number} height the frame's height
 * @param {{crop: number[], size: number, labels: ArrayLike<number>, masks?: Float32Array[]}[]} parts each
 *   crop [x, y, side, side], its parse's side, class ids (size * size) and optional soft masks (one
 *   Float32Array of size * size per mask, the same masks in every part)
 * @param {PasteOptions} [given] base: class ids (width * height) outside every crop; background: the class
 *   id there without base (default 0); baseMasks / outside: each mask's values, or its constant value
 *   (default 0), there
 * @returns {{labels: ArrayLike<number>, owner: Int16Array, masks: Float32Array[]|null}} labels: the typed
 *   array type of `base` or the parts' labels; owner: the index of the part each pixel came from, -1 outside
 *   every crop
 */
export function paste(width, height, parts, given = {}) {
  const {base = null, background = 0, baseMasks = null, outside = []} = given;
  const n = width * height;
  const first = base || (parts[0] && parts[0].labels);
  const Type = ArrayBuffer.isView(first) ? first.constructor : Int32Array;
  const labels = base ? Type.from(base) : new Type(n).fill(background);
  const owner = new Int16Array(n).fill(-1);
  const count = parts.length && parts[0].masks ? parts[0].masks.length : 0;
  const masks = count ? Array.from({length: count}, (_, m) => (baseMasks ? Float32Array.from(baseMasks[m])
    : new Float32Array(n).fill(outside[m] || 0))) : null;
  const nearest = new Float32Array(n).fill(Infinity);
  parts.forEach(({crop, size, labels: parsed, masks: soft}, index) => {
    const [x0, y0, side] = crop;
    const k = size / side;
    const centre = side / 2;
    const cols = new Int32Array(side);
    for (let x = 0; x < side; x++) cols[x] = Math.min(size - 1, Math.floor((x + 0.5) * k));
    for (let y = Math.max(0, y0); y < Math.min(height, y0 + side); y++) {
      const dy = y - y0 + 0.5 - centre;
      const row = Math.min(size - 1, Math.floor((y - y0 + 0.5) * k)) * size;
      for (let x = Math.max(0, x0); x < Math.min(width, x0 + side); x++) {
        const dx = x - x0 + 0.5 - centre;
        const p = y * width + x;
        const d = dx * dx + dy * dy;
        if (d >= nearest[p]) continue;
        nearest[p] = d;
        owner[p] = index;
        const q = row + cols[x - x0];
        labels[p] = parsed[q];
        for (let m = 0; m < count; m++) masks[m][p] = soft[m][q];
      }
    }
  });
  return {labels, owner, masks};
}

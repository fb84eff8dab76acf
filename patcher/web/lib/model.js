// @ts-check
// model.js: model.json fetched, its metadata read and checked, and its weight shards fetched, each
// checked against the manifest's size before TensorFlow.js sees it.
import {SegmenterError} from './errors.js';

/**
 * What the module needs from model.json's metadata. `kind`: what the output is ('labels': a class map,
 * segmenter.js; 'image': a picture, stylizer.js). `picture` (image only): how the output's values become
 * pixels, pixel = clip(round((y - offset) / scale)), `channels` of them in the order `bgr` says.
 * @typedef {{kind: 'labels' | 'image', input: string | null, scale: number, offset: number, bgr: boolean,
 *   output: string, argmax: boolean, classes: string[], palette: [number, number, number][], transparent: number[],
 *   picture: Picture | null, title: string | null, about: string | null, sample: string | null,
 *   sampleCredit: string | null}} Spec
 */
/**
 * An image output's mapping back to pixels (patcher/kinds/image.py writes it).
 * @typedef {{channels: number, scale: number, offset: number, bgr: boolean}} Picture
 */

/** @type {Record<string, number>} */
const BYTES = {float32: 4, int32: 4, bool: 1, uint8: 1, uint16: 2, float16: 2, int8: 1, int16: 2};

/**
 * What the module needs from model.json's userDefinedMetadata.
 * @param {any} meta userDefinedMetadata
 * @param {string} url where model.json came from (for messages and the sample's URL)
 * @returns {Spec}
 * @throws {SegmenterError} 'model' when it is not a patcher model's
 */
export function readMetadata(meta, url) {
  /** @param {string} what */
  const bad = (what) => new SegmenterError(
    `${url}: its userDefinedMetadata ${what}; rebuild the model with a current patcher`, 'model');
  if (!meta || typeof meta !== 'object') throw bad('is missing');
  const input = meta.input || {};
  if (typeof input.scale !== 'number' || typeof input.offset !== 'number') {
    throw bad('gives no input.scale and input.offset (preprocessing x * scale + offset)');
  }
  const color = String(input.color || 'RGB').toUpperCase();
  if (color !== 'RGB' && color !== 'BGR') throw bad(`has input.color ${input.color}; RGB or BGR expected`);
  if (!Array.isArray(meta.outputs)) throw bad('has no list of outputs');
  // (after the checks: `url` is a URL only for a metadata that passes them)
  const common = () => ({
    input: input.name || null, scale: input.scale, offset: input.offset, bgr: color === 'BGR',
    title: typeof meta.title === 'string' ? meta.title : null,
    about: typeof meta.about === 'string' ? meta.about : null,
    sample: typeof meta.sample === 'string' && meta.sample ? new URL(meta.sample, url).href : null,
    sampleCredit: typeof meta.sample_credit === 'string' && meta.sample_credit ? meta.sample_credit : null,
  });
  const image = meta.outputs.find((o) => o && o.kind === 'image');
  if (image) return {...readPicture(image, input, bad), ...common(), kind: 'image'};
  const labels = meta.outputs.find((o) => o && o.kind === 'labels');
  const probabilities = meta.outputs.find((o) => o && o.kind === 'probabilities');
  if (!labels && !probabilities) throw bad('names no output of kind "labels" (or "probabilities")');
  const classes = meta.classes;
  const palette = meta.palette;
  if (!Array.isArray(classes) || !classes.length) throw bad('has no classes');
  if (!Array.isArray(palette) || palette.length !== classes.length ||
      !palette.every((c) => Array.isArray(c) && c.length >= 3)) {
    throw bad(`has no palette of ${classes.length} [r, g, b] colours`);
  }
  const transparent = Array.isArray(meta.transparent) ? meta.transparent.filter(Number.isInteger) : [];
  return {
    ...common(), kind: 'labels', output: (labels || probabilities).name, argmax: !labels,
    classes: classes.map(String),
    palette: palette.map((/** @type {number[]} */ c) => /** @type {[number, number, number]} */ ([c[0] | 0, c[1] | 0, c[2] | 0])),
    transparent, picture: null,
  };
}

/**
 * An image output's entry of model.json's outputs read: its node, and how its values become pixels (its
 * own scale, offset and colour order where it gives them, else the input's: the inverse of the input's
 * preprocessing).
 * @param {any} entry the outputs entry of kind 'image'
 * @param {any} input userDefinedMetadata.input
 * @param {(what: string) => SegmenterError} bad the error of a metadata that does not fit
 * @returns {{output: string, argmax: false, classes: string[], palette: [number, number, number][],
 *   transparent: number[], picture: Picture}}
 * @throws {SegmenterError} 'model'
 */
function readPicture(entry, input, bad) {
  if (typeof entry.name !== 'string' || !entry.name) throw bad('names an image output without a node name');
  const channels = Array.isArray(entry.shape) ? entry.shape[entry.shape.length - 1] : 3;
  if (![1, 3, 4].includes(channels)) throw bad(`has an image output of ${channels} channels; 1, 3 or 4 expected`);
  const scale = typeof entry.scale === 'number' ? entry.scale : input.scale;
  const offset = typeof entry.offset === 'number' ? entry.offset : input.offset;
  if (!(scale !== 0 && Number.isFinite(scale)) || !Number.isFinite(offset)) {
    throw bad('gives an image output without a finite, non-zero scale and an offset');
  }
  const color = String(entry.color || input.color || 'RGB').toUpperCase();
  return {output: entry.name, argmax: false, classes: [], palette: [], transparent: [],
          picture: {channels, scale, offset, bgr: channels >= 3 && color === 'BGR'}};
}

/**
 * model.json alone (the weights are fetched only when tfjs runs).
 * @param {string} url
 * @returns {Promise<{json: any, spec: Spec, meta: any, hash: string}>} hash: hashText of model.json
 * @throws {SegmenterError} 'not-found' or 'model'
 */
export async function fetchModel(url) {
  let response;
  try {
    response = await fetch(url);
  } catch (err) {
    throw new SegmenterError(`cannot fetch ${url}: ${err.message}`, 'not-found');
  }
  if (!response.ok) {
    throw new SegmenterError(response.status === 404 ? `model.json not found at ${url} (HTTP 404)`
      : `cannot fetch ${url} (HTTP ${response.status})`, 'not-found');
  }
  let json;
  let text = '';
  try {
    text = await response.text();
    json = JSON.parse(text);
  } catch (err) {
    throw new SegmenterError(`${url} is not a model.json (not JSON: ${err.message})`, 'model');
  }
  if (!json || !json.modelTopology || !Array.isArray(json.weightsManifest)) {
    throw new SegmenterError(`${url} is not a TensorFlow.js graph model (no modelTopology or weightsManifest)`, 'model');
  }
  return {json, spec: readMetadata(json.userDefinedMetadata, url), meta: json.userDefinedMetadata, hash: hashText(text)};
}

/**
 * A 53-bit hash (cyrb53: two 32-bit multiply-xor lanes): what names a model (its model.json, metadata and
 * weights manifest included) in the browser's storage. Not cryptographic.
 * @param {string} text
 * @returns {string} 14 hex digits
 */
export function hashText(text) {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return (4294967296 * (2097151 & h2) + (h1 >>> 0)).toString(16).padStart(14, '0');
}

/** The converter's shard size in bytes (tensorflowjs's --weight_shard_size_bytes default, 4 MiB). */
export const SHARD_BYTES = 4 * 1024 * 1024;

/**
 * The sizes of `count` shards of a group of `total` bytes as the converter cuts them (every shard SHARD_BYTES
 * but the last).
 * @param {number} total the group's bytes, from the manifest
 * @param {number} count its number of shards
 * @returns {number[] | null} each shard's bytes, or null where the count does not fit that cut
 */
export function shardSizes(total, count) {
  const last = total - (count - 1) * SHARD_BYTES;
  if (count < 1 || last <= 0 || last > SHARD_BYTES) return count === 1 ? [total] : null;
  return [...Array(count - 1).fill(SHARD_BYTES), last];
}

/**
 * The weights model.json lists, each shard's size checked against the manifest.
 * @param {string} url model.json's
 * @param {any} json model.json
 * @returns {Promise<{specs: any[], data: ArrayBuffer}>} the weight specs and their bytes, in order
 * @throws {SegmenterError} 'model', 'shard-missing' or 'shard-size'
 */
export async function fetchWeights(url, json) {
  const specs = [];
  const groups = await Promise.all(json.weightsManifest.map(async (/** @type {any} */ group, /** @type {number} */ i) => {
    const bad = (/** @type {string} */ what) => new SegmenterError(`${url}: weightsManifest[${i}] ${what}`, 'model');
    if (!group || typeof group !== 'object') throw bad('is not a group of weights');
    if (!Array.isArray(group.paths) || !group.paths.length || !group.paths.every((/** @type {any} */ p) => typeof p === 'string')) {
      throw bad('has no list of shard paths');
    }
    if (!Array.isArray(group.weights)) throw bad('has no list of weights');
    let expected = 0;
    for (const w of group.weights) {
      if (!w || typeof w !== 'object' || typeof w.name !== 'string') throw bad('has a weight without a name');
      if (!Array.isArray(w.shape) || !w.shape.every((/** @type {any} */ n) => Number.isSafeInteger(n) && n >= 0)) {
        throw new SegmenterError(`${url}: weight ${w.name} has no shape (a list of whole numbers >= 0): ` +
          `${JSON.stringify(w.shape)}`, 'model');
      }
      const dtype = w.quantization ? w.quantization.dtype : w.dtype;
      if (!(dtype in BYTES)) throw new SegmenterError(`${url}: weight ${w.name} has an unknown dtype ${dtype}`, 'model');
      expected += w.shape.reduce((/** @type {number} */ a, /** @type {number} */ b) => a * b, 1) * BYTES[dtype];
      if (w.dtype === 'string') throw new SegmenterError(`${url}: string weights are not supported`, 'model');
    }
    const parts = await Promise.all(group.paths.map(async (/** @type {string} */ path) => {
      const shard = new URL(path, url).href;
      let reply;
      try {
        reply = await fetch(shard);
      } catch (err) {
        throw new SegmenterError(`weight shard ${path} is missing: cannot fetch ${shard} (${err.message})`, 'shard-missing');
      }
      if (!reply.ok) throw new SegmenterError(`weight shard ${path} is missing (HTTP ${reply.status} at ${shard})`, 'shard-missing');
      return new Uint8Array(await reply.arrayBuffer());
    }));
    const actual = parts.reduce((n, p) => n + p.byteLength, 0);
    if (actual !== expected) {
      const sizes = shardSizes(expected, parts.length);
      const at = sizes ? parts.findIndex((p, i) => p.byteLength !== sizes[i]) : -1;
      if (at >= 0) {
        throw new SegmenterError(`weight shard ${group.paths[at]} holds ${parts[at].byteLength} bytes; ` +
          `${sizes[at]} expected from model.json (a truncated or stale file?)`, 'shard-size');
      }
      throw new SegmenterError(`weight shard${group.paths.length > 1 ? 's' : ''} ${group.paths.join(', ')} ` +
        `hold${group.paths.length > 1 ? '' : 's'} ${actual} bytes; model.json describes ${expected} ` +
        '(a truncated or stale file?)', 'shard-size');
    }
    return {weights: group.weights, parts};
  }));
  const total = groups.reduce((n, g) => n + g.parts.reduce((m, p) => m + p.byteLength, 0), 0);
  const data = new Uint8Array(total);
  let at = 0;
  for (const group of groups) {
    specs.push(...group.weights);
    for (const p of group.parts) { data.set(p, at); at += p.byteLength; }
  }
  return {specs, data: data.buffer};
}

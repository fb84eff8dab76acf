// facemode.js: face mode, where the model runs (the worker or the main thread). The faces of the source are
// found with the detector model.json names (faces.js, on TensorFlow.js; litefaces.js, on LiteRT.js where
// the squares are parsed there and the build has one), a square around each (crop.js) is
// parsed at `size`, and the parses are pasted back into a map of the source's size; on a video (smoothing
// on) the squares are steadied from frame to frame (track.js) and each face's probabilities smoothed apart.
import {SegmenterError} from './errors.js';
import {createFaceDetector} from './faces.js';
import {LiteFaceDetector} from './litefaces.js';
import {cropFor, cropPixels, paste} from './crop.js';
import {toMasks} from './masks.js';
import {Smoother} from './smoothing.js';
import {FaceTracker} from './track.js';
import {tfjsReady} from './tfjs.js';

/** @typedef {import('../segmenter.js').FaceSettings} FaceSettings */

/**
 * Face mode's defaults. maxFaces: most faces parsed (the largest kept); margin: the square's side over the
 * face box's width (2.0-2.5 parse like portraits on half-body, selfie and full-body pictures; 1.0 cuts
 * off large hair, wider brings hat onto walls and trees); size: the side each square is parsed at (320
 * put eyes, nose and mouth on their classes 3.61 times in 4, 448 3.84 for twice the pixels, 256 1.23:
 * docs/quality.md);
 * minScore: the detector's lowest score kept (0..1); fill: what the map holds outside every square,
 * 'background' (the background class) or 'frame' (the whole frame's parse, one more run of the model).
 */
export const FACES = /** @type {Readonly<FaceSettings>} */ (Object.freeze(
  {maxFaces: 4, margin: 2.25, size: 320, minScore: 0.5, fill: 'background'}));

const FILLS = ['background', 'frame'];

/**
 * The face mode a call runs, from its `faces` option and model.json's metadata.
 * @param {boolean | object | null | undefined} value true, false, an object of FACES' fields (the rest
 *   default), or null / undefined: on when model.json names a detector
 * @param {object} meta model.json's userDefinedMetadata
 * @param {string} [what] the option's name, for messages
 * @returns {false | import('../segmenter.js').FaceSettings}
 * @throws {SegmenterError} 'options' for a bad value, or face mode asked of a model without a detector;
 *   'not-found' when the build could not fetch its detector
 */
export function faceOptions(value, meta, what = 'options.faces') {
  const faces = (meta && meta.faces) || null;
  if (value == null) value = Boolean(faces && faces.detector);
  if (value === false) return false;
  if (value !== true && (typeof value !== 'object' || Array.isArray(value))) {
    throw new SegmenterError(`${what} must be true, false or {maxFaces, margin, size, minScore, fill}, not ` +
      `${JSON.stringify(value)}`, 'options');
  }
  const given = value === true ? {} : value;
  for (const key of Object.keys(given)) {
    if (!(key in FACES)) throw new SegmenterError(`${what} has no field ${key} (it has ${Object.keys(FACES).join(', ')})`, 'options');
  }
  const s = {...FACES, ...given};
  const bad = (field, want) => new SegmenterError(`${what}.${field} must be ${want}, not ${JSON.stringify(s[field])}`, 'options');
  if (!Number.isInteger(s.maxFaces) || s.maxFaces < 1) throw bad('maxFaces', 'a whole number of at least 1');
  if (typeof s.margin !== 'number' || !(s.margin >= 0.5 && s.margin <= 8)) throw bad('margin', 'a number in 0.5..8');
  if (!Number.isInteger(s.size) || s.size < 32 || s.size > 2048) throw bad('size', 'a whole number of pixels in 32..2048');
  if (typeof s.minScore !== 'number' || !(s.minScore >= 0 && s.minScore <= 1)) throw bad('minScore', 'a number in 0..1');
  if (!FILLS.includes(s.fill)) throw bad('fill', `${FILLS.join(' or ')}`);
  if (!faces) {
    throw new SegmenterError('face mode needs a face detector, and this model.json names none', 'options',
      'parse whole frames (faces: false), or build a model whose recipe has a `faces` field');
  }
  if (!faces.detector) {
    throw new SegmenterError(`this build has no face detector: ${faces.reason || 'it could not be fetched'}`,
      'not-found', 'build again where the npm registry answers, or parse whole frames (faces: false)');
  }
  return s;
}

/** One segmenter's face detector and, on a video, its tracker; Engine's face mode. */
export class FaceMode {
  /**
   * @param {{model: string, backend: string, threads: number, assets: string}} opts createSegmenter's, checked
   * @param {object} meta model.json's userDefinedMetadata (its `faces` entry names the detector)
   * @param {() => Promise<any>} lite the segmenter's LiteRT.js engine (litert.js's LiteEngine), started
   */
  constructor(opts, meta, lite) {
    Object.assign(this, {opts, meta, lite, loading: null, ran: null, tracker: null, trackerMargin: null});
    const faces = meta.faces || {};
    this.url = faces.detector ? new URL(faces.detector, opts.model).href : null;
  }

  /**
   * The detector, loaded on first use: on LiteRT.js where the squares are parsed there (`runtime`) and
   * model.json names a LiteRT.js detector (faces.litert), else on tfjs with the segmenter's backend; a
   * LiteRT.js detector that does not load leaves the tfjs one. describe() says which and why. A failed load
   * is tried again by the next call.
   * @param {string} runtime what parses the squares: 'tfjs' or 'litert'
   * @returns {Promise<{detect: (frame: any, given: object) => Promise<any[]>, dispose: () => void}>}
   * @throws {SegmenterError} 'not-found' (a file missing, with a hint), 'model', or any code of tfjs starting
   */
  load(runtime) {
    if (!this.loading) {
      const faces = this.meta.faces;
      const lite = faces.litert || null;
      const tfjs = (reason) => tfjsReady(this.opts)
        .then((tf) => createFaceDetector(tf, {model: this.url, anchors: faces.anchors}))
        .then((d) => { this.ran = {entry: faces, model: this.url, runtime: 'tfjs', backend: this.opts.backend, reason}; return d; });
      if (runtime === 'litert' && lite && lite.detector) {
        const reason = 'the squares are parsed on LiteRT.js, and this build has a LiteRT.js detector';
        this.loading = this.lite().then((engine) => LiteFaceDetector.create(engine, {model: lite.detector, anchors: lite.anchors}))
          .then((d) => {
            this.ran = {entry: lite, model: new URL(lite.detector, this.opts.model).href, runtime: 'litert', backend: 'wasm', reason};
            return d;
          }, (err) => tfjs(`the LiteRT.js detector did not load (${err.message}), so the tfjs one`));
      } else {
        this.loading = tfjs(runtime !== 'litert' ? 'the squares are parsed on tfjs'
          : lite ? `this build could not fetch its LiteRT.js detector (${lite.reason || 'no file'})` : 'this build has no LiteRT.js detector');
      }
      this.loading.catch(() => { this.loading = null; });
    }
    return this.loading;
  }

  /**
   * What ran: the detector's package and version, its URL, runtime and backend, and why it.
   * @returns {{detector: string, model: string, runtime: string, backend: string, reason: string}}
   */
  describe() {
    const {entry, model, runtime, backend, reason} = this.ran;
    return {detector: `${entry.package}@${entry.version}`, model, runtime, backend, reason};
  }

  /**
   * This frame's faces and the squares to parse: as detected, or (`steady`: a video) steadied by the
   * tracker, the largest `maxFaces` of them.
   * @param {{data: ArrayLike<number>, width: number, height: number}} frame the source's RGBA pixels
   * @param {{maxFaces: number, margin: number, minScore: number}} settings
   * @param {boolean} steady smoothing is on
   * @param {string} runtime what parses the squares (load's)
   * @returns {Promise<{id: number, box: number[], score: number, crop: number[]}[]>} largest first
   */
  async find(frame, settings, steady, runtime) {
    const detector = await this.load(runtime);
    const found = await detector.detect(frame, {minScore: settings.minScore, maxFaces: settings.maxFaces});
    if (!steady) {
      this.tracker = null;
      return found.map((f, id) => ({id, box: f.box, score: f.score, crop: cropFor(f.box, {factor: settings.margin})}));
    }
    if (!this.tracker || this.trackerMargin !== settings.margin) {
      this.tracker = new FaceTracker({crop: {factor: settings.margin}});
      this.trackerMargin = settings.margin;
    }
    return this.tracker.step(found).slice(0, settings.maxFaces)
      .map((t) => ({id: t.id, box: t.box, score: t.face.score, crop: t.crop}));
  }

  /** @returns {void} */
  free() {
    if (this.loading) this.loading.then((d) => d.dispose(), () => {});
    this.loading = null;
  }
}

/**
 * Face mode: the faces found in the source, a square around each parsed at `faces.size` and pasted back
 * into a map of sh x sw; outside every square the background class (its probability 1), or with fill
 * 'frame' the whole frame's parse at h x w. Where squares overlap, the face nearer its square's centre wins.
 * @param {import('./engine.js').Engine} owner the segmenter's Engine (its runtimes, its past)
 * @param {any} source
 * @param {number} h the whole frame's parse size (fill 'frame' only)
 * @param {number} w
 * @param {number} sh
 * @param {number} sw
 * @param {import('./engine.js').Wants} wants with faces set
 * @returns {Promise<import('./engine.js').RunResult>} with faces (box, score, crop) and times (detect, crop, parse, paste; ms)
 */
export async function runFaces(owner, source, h, w, sh, sw, {masks = null, smoothing = null, faces}) {
  if (!owner.faceMode) owner.faceMode = new FaceMode(owner.opts, owner.meta, () => owner.engineFor({runtime: 'litert'}));
  // the runtime of the squares' size: under runtime 'litert' where the build has no LiteRT.js model at it,
  // the nearest size it has (choose.js; info.reason and result.size say so), under 'auto' tfjs at it
  const {engine, info, choice} = await owner.start([faces.size, faces.size]);
  const frame = await owner.read(source, sw, sh);
  let t = performance.now();
  const found = await owner.faceMode.find(frame, faces, Boolean(smoothing), choice.runtime);
  const times = {detectMs: performance.now() - t, cropMs: 0, parseMs: 0, pasteMs: 0};
  const side = choice.size ? choice.size[0] : faces.size;
  if (choice.size && choice.size[1] !== side) {
    throw new SegmenterError(`face mode parses squares, and the LiteRT.js model nearest ${faces.size}x${faces.size} ` +
      `is ${choice.size[0]}x${choice.size[1]}`, 'options',
      `build with --litert-sizes ${faces.size}x${faces.size}, or run face mode on runtime 'tfjs' or 'auto'`);
  }
  const names = owner.spec.classes;
  const classes = names.length;
  const Type = classes > 256 ? Uint16Array : Uint8Array;
  const background = (owner.meta.transparent || [])[0] ?? 0;
  const wanted = masks || [];
  const parts = [];
  const kept = new Set();
  let pixels = null;
  for (const face of found) {
    t = performance.now();
    const crop = cropPixels(frame, face.crop, side);
    pixels = typeof ImageData === 'undefined' ? crop : new ImageData(crop.data, side, side);
    times.cropMs += performance.now() - t;
    t = performance.now();
    if (!masks && !smoothing) {
      const ids = await engine.infer(pixels, side, side, choice, owner.spec);
      if (ids.length !== side * side) {
        throw new SegmenterError(`the model gave ${ids.length} class ids for ${side} x ${side} pixels`, 'run');
      }
      parts.push({crop: face.crop, size: side, labels: Type.from(ids)});
    } else {
      let probs = await engine.scores(pixels, side, side, choice, owner.spec);
      if (probs.length !== side * side * classes) {
        throw new SegmenterError(`the model gave ${probs.length} scores for ${side} x ${side} pixels of ${classes} classes`, 'run');
      }
      if (smoothing) {
        // each face followed has its own past (track.js's ids)
        let smoother = owner.faceSmoothers.get(face.id);
        if (!smoother || JSON.stringify(smoother.settings) !== JSON.stringify(smoothing)) {
          smoother = new Smoother(smoothing);
          owner.faceSmoothers.set(face.id, smoother);
        }
        kept.add(face.id);
        probs = smoother.step(probs, pixels.data, side, side, classes);
      }
      const got = toMasks(probs, side, side, classes, side, side, wanted, names, Type);
      parts.push({crop: face.crop, size: side, labels: got.labels, masks: wanted.map((i) => got.masks[names[i]])});
    }
    times.parseMs += performance.now() - t;
  }
  for (const id of [...owner.faceSmoothers.keys()]) if (!kept.has(id)) owner.faceSmoothers.delete(id);
  owner.smoother = null;
  const base = faces.fill === 'frame' ? await owner.whole(source, h, w, sh, sw, {masks}) : null;
  t = performance.now();
  const pasted = paste(sw, sh, parts, {
    base: base ? base.labels : null, background,
    baseMasks: base && masks ? wanted.map((i) => base.masks[names[i]]) : null,
    outside: wanted.map((i) => (i === background ? 1 : 0)),
  });
  const labels = pasted.labels instanceof Type ? pasted.labels : Type.from(pasted.labels);
  const planes = pasted.masks || wanted.map((i) => (base ? Float32Array.from(base.masks[names[i]])
    : new Float32Array(sw * sh).fill(i === background ? 1 : 0)));
  const byName = Object.fromEntries(wanted.map((i, k) => [names[i], planes[k]]));
  times.pasteMs = performance.now() - t;
  const ran = pixels ? owner.measured([side, side], pixels, choice, info) : info;
  owner.info = {...ran, faces: owner.faceMode.describe()};
  return {labels, ...(masks ? {masks: byName} : {}), modelMs: times.parseMs + (base ? base.modelMs : 0),
          size: [side, side], info: owner.info, times,
          faces: found.map((f) => ({box: f.box, score: f.score, crop: f.crop}))};
}

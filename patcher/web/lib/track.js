// track.js: faces followed from frame to frame on a video, each face's box steadied so that the square
// parsed around it does not shake with the detector's noise. Pure: Node too.
//
//   const tracker = new FaceTracker();
//   for each frame: const tracks = tracker.step(faces, {time});   // [{id, box, crop, face, missed}]
//   on a cut (another scene, a seek): tracker.step(faces, {time, cut: true}) or tracker.reset()
//
// Each of the box's centre x, centre y, width and height goes through a One-Euro filter (Casiez, Roussel
// and Vogel, CHI 2012): a low-pass filter whose cut-off frequency rises with the value's speed, so a still
// face is held steady and a moving one is followed without lag. Speeds are measured in face widths per
// second, so the same settings hold for near and far faces. A face the detector misses keeps its last box
// for `hold` frames, then is dropped.
import {cropFor} from './crop.js';
import {iou} from './faces.js';

/**
 * The tracker's defaults. minCutoff (Hz): the filter's cut-off for a still face (lower: steadier, more
 * lag); beta: how fast the cut-off rises with speed (Hz per face width per second); dCutoff (Hz): the
 * cut-off of the speed estimate; hold: frames a missed face keeps its box; match: lowest intersection over
 * union of a detection with a face's box for it to be that face; frame: milliseconds between frames
 * assumed when step() is given no time.
 */
export const TRACK = Object.freeze({minCutoff: 0.5, beta: 4, dCutoff: 1, hold: 5, match: 0.2, frame: 1000 / 30});

const smoothing = (cutoff, dt) => 1 / (1 + 1 / (2 * Math.PI * cutoff * dt));

/** A One-Euro filter of one value. */
export class OneEuro {
  /**
   * @param {{minCutoff: number, beta: number, dCutoff: number}} settings
   */
  constructor({minCutoff, beta, dCutoff}) {
    Object.assign(this, {minCutoff, beta, dCutoff, value: null, speed: 0});
  }

  /**
   * The filtered value after `x`.
   * @param {number} x this frame's value
   * @param {number} dt seconds since the last value (> 0)
   * @param {number} [scale] the unit speeds are measured in (a face's width): speed = change / dt / scale
   * @returns {number}
   */
  filter(x, dt, scale = 1) {
    if (this.value === null) { this.value = x; return x; }
    const a = smoothing(this.dCutoff, dt);
    this.speed += a * ((x - this.value) / dt - this.speed);
    const cutoff = this.minCutoff + this.beta * Math.abs(this.speed) / scale;
    this.value += smoothing(cutoff, dt) * (x - this.value);
    return this.value;
  }
}

/** Faces followed over a video's frames, each with a steadied box and crop. */
export class FaceTracker {
  /**
   * @param {object} [given] overrides of TRACK, and `crop`: the options of cropFor (crop.js's CROP)
   */
  constructor(given = {}) {
    this.settings = {...TRACK, ...given};
    this.reset();
  }

  /**
   * Forget every face: the next frame's faces are taken as they are.
   * @returns {void}
   */
  reset() {
    this.tracks = [];
    this.time = null;
    this.next = 1;
  }

  /**
   * This frame's faces, steadied.
   * @param {{box: number[], score: number}[]} faces this frame's detections (box [x, y, w, h], frame pixels)
   * @param {{time?: number, cut?: boolean}} [frame] time: the frame's time in milliseconds (default: the
   *   last one plus TRACK.frame); cut: the picture changed scene, start again
   * @returns {{id: number, box: number[], crop: number[], face: object, missed: number}[]} one per face
   *   followed, largest first: id (the same while the face is followed), box (steadied [x, y, w, h]),
   *   crop (cropFor of that box: whole pixels), face (its last detection), missed (frames since it was seen)
   */
  step(faces, {time, cut = false} = {}) {
    const s = this.settings;
    if (cut) this.reset();
    const now = time ?? (this.time === null ? 0 : this.time + s.frame);
    const dt = this.time === null ? s.frame / 1000 : Math.max(1e-3, (now - this.time) / 1000);
    this.time = now;
    // Greedy matching: the best-overlapping pair first.
    const pairs = [];
    this.tracks.forEach((t, i) => faces.forEach((f, j) => {
      const overlap = iou(t.box, f.box);
      if (overlap >= s.match) pairs.push([overlap, i, j]);
    }));
    pairs.sort((a, b) => b[0] - a[0]);
    const taken = new Set();
    const seen = new Set();
    for (const [, i, j] of pairs) {
      if (seen.has(i) || taken.has(j)) continue;
      seen.add(i);
      taken.add(j);
      this.tracks[i].update(faces[j], dt);
    }
    this.tracks.forEach((t, i) => { if (!seen.has(i)) t.missed += 1; });
    this.tracks = this.tracks.filter((t) => t.missed <= s.hold);
    faces.forEach((f, j) => { if (!taken.has(j)) this.tracks.push(new Track(this.next++, f, s)); });
    return this.tracks.map((t) => ({id: t.id, box: [...t.box], crop: cropFor(t.box, s.crop), face: t.face,
                                    missed: t.missed}))
      .sort((a, b) => b.box[2] * b.box[3] - a.box[2] * a.box[3]);
  }
}

// One face followed: its filters (centre x, centre y, width, height) and its steadied box.
class Track {
  /**
   * @param {number} id the face's id while it is followed
   * @param {{box: number[]}} face its first detection
   * @param {object} settings the tracker's (TRACK's fields)
   */
  constructor(id, face, settings) {
    this.id = id;
    this.filters = [0, 1, 2, 3].map(() => new OneEuro(settings));
    this.missed = 0;
    this.update(face, 0);
  }

  /**
   * The face seen again: its box filtered.
   * @param {{box: number[]}} face this frame's detection
   * @param {number} dt seconds since the last frame (0 for the first)
   * @returns {void}
   */
  update(face, dt) {
    const [x, y, w, h] = face.box;
    const scale = this.box ? this.box[2] : w;
    const [cx, cy, fw, fh] = [x + w / 2, y + h / 2, w, h].map((v, k) => this.filters[k].filter(v, dt, scale));
    this.box = [cx - fw / 2, cy - fh / 2, fw, fh];
    this.face = face;
    this.missed = 0;
  }
}

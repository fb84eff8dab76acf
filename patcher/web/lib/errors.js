// @ts-check
// errors.js: SegmenterError, the one kind of error the module rejects with: a message saying what went
// wrong, a `code` (one of CODES) and a `hint` saying what to do; and its form on the wire between the Web
// Worker and the page. docs/page.md has the same table. A hint names only files that ship with the module.

/** @typedef {import('../segmenter.js').ErrorCode} ErrorCode */

/**
 * Every code, with the hint an error of it carries unless it has a more precise one.
 * @type {Readonly<Record<ErrorCode, string>>}
 */
export const CODES = {
  'options': 'check the option or argument the message names (segmenter.d.ts, next to segmenter.js, lists them)',
  'not-found': "pass model.json's URL as `model` (relative to the page), and serve the build folder whole",
  'model': 'build the model with a current patcher (python -m patcher build)',
  'shard-missing': "serve every .bin file of the build next to model.json",
  'shard-size': 'copy the build folder again: a .bin file is truncated or from another build',
  'tfjs': "serve tf.min.js and tf-backend-wasm.min.js next to segmenter.js, or pass their folder as `assets`",
  'backend-unknown': "use backend 'wasm', 'webgl' or 'cpu'",
  'backend': "try backend 'wasm' (with the .wasm files next to its bundle) or worker: false",
  'worker': 'create a new segmenter; worker: false runs the model on the page itself',
  'litert': "serve the build's litert/ folder, or use runtime 'auto' or 'tfjs'",
  'source': 'pass a loaded image, a video with a frame, a canvas, an ImageBitmap, ImageData or a VideoFrame',
  'disposed': 'create a new segmenter',
  'run': 'the model failed on this input: report it with seg.info',
};

// The hint of a picture whose pixels the page may not read (drawn from another origin without CORS).
export const CORS_HINT = 'load it with crossOrigin = "anonymous" from a server that sends ' +
  'Access-Control-Allow-Origin (or from the page\'s own origin)';

/** The one kind of error the module throws or rejects with. */
export class SegmenterError extends Error {
  /** @type {'SegmenterError'} */
  name = 'SegmenterError';

  /**
   * @param {string} message what went wrong
   * @param {ErrorCode} code one of CODES
   * @param {string} [hint] what to do (default: the code's hint in CODES)
   */
  constructor(message, code, hint = CODES[code] || CODES.run) {
    super(message);
    /** @type {ErrorCode} */
    this.code = code;
    /** @type {string} */
    this.hint = hint;
  }
}

/**
 * The error of a source whose pixels cannot be read because they come from another origin: the same in
 * the worker (where sending it fails) and on the main thread (where reading it fails).
 * @returns {SegmenterError} code 'source'
 */
export const crossOrigin = () => new SegmenterError(
  "cannot read the source's pixels: it holds a picture from another origin without CORS", 'source', CORS_HINT);

/**
 * True for the errors browsers raise on pixels from another origin: reading them (SecurityError) or
 * sending them to a worker (DataCloneError).
 * @param {any} err
 * @returns {boolean}
 */
export const isCrossOrigin = (err) => Boolean(err) && (err.name === 'SecurityError' || err.name === 'DataCloneError');

/**
 * `err` as a SegmenterError: itself if it is one, else code 'run' ("the model failed: ...").
 * @param {any} err
 * @returns {SegmenterError}
 */
export const asSegmenterError = (err) => (err instanceof SegmenterError ? err
  : new SegmenterError(`the model failed: ${err && err.message ? err.message : err}`, 'run'));

/**
 * An error as a structured-clonable message (code and hint kept; anything else is 'run').
 * @param {any} err
 * @returns {{message: string, code: ErrorCode, hint: string}}
 */
export const wire = (err) => {
  const e = asSegmenterError(err);
  return {message: e.message, code: e.code, hint: e.hint};
};
/**
 * wire's message back as a SegmenterError.
 * @param {{message: string, code: ErrorCode, hint: string}} e
 * @returns {SegmenterError}
 */
export const unwire = (e) => new SegmenterError(e.message, e.code, e.hint);

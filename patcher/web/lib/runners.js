// @ts-check
// runners.js: where a segmenter's model runs. workerRunner talks to the module worker (worker.js);
// mainRunner runs the Engine on this thread. Both have init() -> {info, spec, meta}, run(source, h, w, sh,
// sw, wants) -> {labels, masks?, modelMs, size, info} (wants: Engine.run's {masks, smoothing}) and
// dispose(); calls still waiting are rejected when the worker fails
// or the runner is disposed.
import {Engine} from './engine.js';
import {SegmenterError, asSegmenterError, crossOrigin, isCrossOrigin} from './errors.js';
import {MAX_PIXELS} from './options.js';
import {isImageData, unreadable} from './pixels.js';
import {Calls, WORKER_NAME} from './protocol.js';

/**
 * A runner: where a segmenter's model runs.
 * @typedef {{init: () => Promise<{info: import('../segmenter.js').RuntimeInfo, spec: any, meta: any}>,
 *   run: (source: any, h: number, w: number, sh: number, sw: number, wants: import('./engine.js').Wants) =>
 *     Promise<import('./engine.js').RunResult>,
 *   memory: () => Promise<{tensors: number | null, heap: number | null}>, dispose: () => void}} Runner
 */

/**
 * `source` drawn at h x w, as a bitmap to send to the worker.
 * @param {any} source a Source (segmenter.d.ts)
 * @param {number} h
 * @param {number} w
 * @returns {ImageBitmap}
 */
function scaled(source, h, w) {
  const canvas = new OffscreenCanvas(w, h);
  const context = /** @type {OffscreenCanvasRenderingContext2D} */ (canvas.getContext('2d'));
  context.drawImage(source, 0, 0, w, h);
  return canvas.transferToImageBitmap();
}

/**
 * Why a worker cannot run the model here.
 * @returns {string | null} a reason for seg.info.fallback, or null when it can
 */
export function noWorker() {
  if (typeof Worker === 'undefined') return 'no Web Workers here';
  if (typeof OffscreenCanvas === 'undefined') return 'no OffscreenCanvas here (a worker cannot read pixels)';
  if (typeof createImageBitmap === 'undefined') return 'no createImageBitmap here';
  return null;
}

/**
 * The model in a module Web Worker (worker.js).
 * @param {import('./options.js').Options} opts
 * @returns {Runner}
 * @throws {SegmenterError} 'worker' when the worker cannot be made
 */
export function workerRunner(opts) {
  let worker;
  try {
    worker = new Worker(new URL('./worker.js', import.meta.url), {type: 'module', name: WORKER_NAME});
  } catch (err) {
    throw new SegmenterError(`cannot start a module Web Worker: ${err.message}`, 'worker');
  }
  const calls = new Calls();
  const end = (err) => {
    worker.terminate();
    calls.fail(err);
  };
  worker.onmessage = ({data}) => calls.answer(data);
  worker.onerror = (event) => {
    if (event.preventDefault) event.preventDefault();
    end(new SegmenterError(`the Web Worker failed: ${event.message ||
      'it could not start worker.js as a module worker'}`, 'worker'));
  };
  worker.onmessageerror = () => end(new SegmenterError('the Web Worker sent a message that could not be read', 'worker'));
  const call = (type, payload, transfer = []) => {
    const {id, promise} = calls.add();
    if (!calls.dead) {
      try {
        worker.postMessage({...payload, id, type}, transfer);
      } catch (err) {
        // A picture from another origin cannot be sent (DataCloneError): the caller's input, not the worker
        calls.reject(id, transfer.length && isCrossOrigin(err) ? crossOrigin()
          : new SegmenterError(`cannot send to the Web Worker: ${err.message}`, 'worker'));
      }
    }
    return promise;
  };
  return {
    async init() {
      const {model, backend, threads, assets, runtime, precision, size, measure, measureDownloads, kind, faces} = opts;
      const {info, spec, meta} = await call('init', {options: {model, backend, threads, assets, runtime, precision,
                                                               size, measure, measureDownloads, kind, faces}});
      return {info, spec, meta};
    },
    async run(source, h, w, sh, sw, wants) {
      let message;
      let transfer;
      if (isImageData(source) && h === sh && w === sw) {
        const pixels = new Uint8ClampedArray(source.data);
        message = {pixels};
        transfer = [pixels.buffer];
      } else {
        let bitmap;
        try {
          // a source above MAX_PIXELS (run scaled down: no size was asked for) crosses drawn at the size the
          // model runs at: a bitmap of its own size may not even be allocated (8000 x 8000 is 256 MB)
          bitmap = sh * sw > MAX_PIXELS ? scaled(source, h, w) : await createImageBitmap(source);
        } catch (err) {
          throw isCrossOrigin(err) ? crossOrigin() : unreadable(source, err);
        }
        if (calls.dead) { bitmap.close(); throw calls.dead; }
        message = {bitmap};
        transfer = [bitmap];
      }
      const reply = await call('segment', {...message, h, w, sh, sw, wants}, transfer);
      return {labels: reply.labels, masks: reply.masks, pixels: reply.pixels, modelMs: reply.modelMs, size: reply.size,
              info: reply.info, faces: reply.faces, times: reply.times};
    },
    async memory() {
      const {tensors, heap} = await call('memory', {});
      return {tensors, heap};
    },
    dispose() { end(new SegmenterError('this segmenter was disposed', 'disposed')); },
  };
}

/**
 * The model on this thread; calls still waiting are rejected at dispose (the model is freed after them).
 * @param {import('./options.js').Options} opts
 * @returns {Runner}
 */
export function mainRunner(opts) {
  /** @type {any} */
  let engine = null;
  const pending = new Set();
  let dead = null;
  return {
    async init() {
      engine = await Engine.create(opts);
      return {info: engine.info, spec: engine.spec, meta: engine.meta};
    },
    run(source, h, w, sh, sw, wants) {
      if (dead) return Promise.reject(dead);
      return new Promise((resolve, reject) => {
        const call = {reject};
        pending.add(call);
        engine.run(source, h, w, sh, sw, wants).then(resolve, (err) => reject(asSegmenterError(err)))
          .finally(() => pending.delete(call));
      });
    },
    async memory() {
      if (dead) throw dead;
      return engine.memory();
    },
    dispose() {
      dead = new SegmenterError('this segmenter was disposed', 'disposed');
      for (const call of pending) call.reject(dead);
      pending.clear();
      if (engine) engine.dispose();
    },
  };
}

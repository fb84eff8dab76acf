// @ts-check
// protocol.js: the messages between the page and the module worker (worker.js). Pure: no browser needed.
//
// The page sends {id, type, ...}: type 'init' with {options} (createSegmenter's, checked), type 'segment'
// with {h, w, sh, sw, wants} (wants: {masks, smoothing, faces}, as Engine.run takes them; an image model's call too) and either {pixels} (RGBA bytes of an ImageData of sw x sh, transferred) or {bitmap}
// (an ImageBitmap, transferred). The worker answers each with {id, ok: true, ...} ('init': {info, spec,
// meta}; 'segment': {labels, masks?, modelMs, size, info}, or an image model's {pixels, modelMs, size, info}, the
// labels', masks' and pixels' buffers transferred) or {id, ok: false,
// error: {message, code}}. Type 'memory' is answered with {tensors, heap} (Engine.memory).
import {SegmenterError, unwire, wire} from './errors.js';

/** The worker's name (what devtools show). */
export const WORKER_NAME = 'patcher-segmenter';

/**
 * The calls waiting for the worker's answers: add() gives each an id and a promise; answer(reply) settles
 * the call of reply.id; fail(err) rejects every call waiting and, from then on, every new one.
 */
export class Calls {
  constructor() {
    this.waiting = new Map();
    this.next = 1;
    this.dead = null;
  }

  /**
   * A new call.
   * @returns {{id: number, promise: Promise<any>}} the promise is already rejected once the worker has failed
   */
  add() {
    const id = this.next++;
    if (this.dead) return {id, promise: Promise.reject(this.dead)};
    const promise = new Promise((resolve, reject) => this.waiting.set(id, {resolve, reject}));
    return {id, promise};
  }

  /**
   * Settle the call `reply.id` (unknown ids are ignored): with the reply when ok, else its SegmenterError.
   * @param {{id: number, ok: boolean, error?: any}} reply
   * @returns {void}
   */
  answer(reply) {
    const call = this.waiting.get(reply && reply.id);
    if (!call) return;
    this.waiting.delete(reply.id);
    if (reply.ok) call.resolve(reply); else call.reject(unwire(reply.error));
  }

  /**
   * Reject the call `id` alone (say, its message could not be sent).
   * @param {number} id
   * @param {Error} err
   * @returns {void}
   */
  reject(id, err) {
    const call = this.waiting.get(id);
    if (!call) return;
    this.waiting.delete(id);
    call.reject(err);
  }

  /**
   * The worker failed: every call waiting, and every later one, is rejected with `err`.
   * @param {Error} err
   * @returns {void}
   */
  fail(err) {
    if (!this.dead) this.dead = err;
    for (const call of this.waiting.values()) call.reject(err);
    this.waiting.clear();
  }
}

/**
 * The buffers a call's result hands over (transferred, not copied): its class ids, masks or picture pixels.
 * @param {{labels?: ArrayBufferView, pixels?: ArrayBufferView, masks?: Record<string, ArrayBufferView>}} result
 * @returns {ArrayBuffer[]}
 */
export function buffers(result) {
  const views = [result.labels, result.pixels, ...Object.values(result.masks || {})].filter(Boolean);
  return [...new Set(views.map((v) => /** @type {ArrayBuffer} */ (/** @type {ArrayBufferView} */ (v).buffer)))];
}

/**
 * The worker's side: answers the messages `scope` receives.
 * @param {any} scope the worker's global (postMessage, onmessage)
 * @param {(options: any) => Promise<any>} create makes the engine (an Engine, or any object with run(),
 *   memory(), info, spec and meta)
 * @param {(pixels: Uint8ClampedArray<ArrayBuffer>, width: number, height: number) => any} [image] makes the source of a
 *   {pixels} message (ImageData)
 * @returns {void}
 */
export function serve(scope, create, image = (pixels, width, height) => new ImageData(pixels, width, height)) {
  let engine = null;
  const post = (message, transfer) => scope.postMessage(message, transfer || []);
  scope.onmessage = async ({data}) => {
    const {id, type} = data;
    try {
      if (type === 'init') {
        engine = await create(data.options);
        post({id, ok: true, info: engine.info, spec: engine.spec, meta: engine.meta});
      } else if (type === 'segment') {
        if (!engine) throw new SegmenterError('the model is not loaded', 'run');
        const source = data.pixels ? image(data.pixels, data.sw, data.sh) : data.bitmap;
        try {
          const result = await engine.run(source, data.h, data.w, data.sh, data.sw, data.wants);
          post({id, ok: true, ...result}, buffers(result));
        } finally {
          if (data.bitmap) data.bitmap.close();
        }
      } else if (type === 'memory') {
        if (!engine) throw new SegmenterError('the model is not loaded', 'run');
        post({id, ok: true, ...engine.memory()});
      } else {
        throw new SegmenterError(`unknown request ${type}`, 'run');
      }
    } catch (err) {
      post({id, ok: false, error: wire(err)});
    }
  };
}

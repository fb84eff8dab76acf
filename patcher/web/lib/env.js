// @ts-check
// env.js: where this code runs.

/**
 * True inside a Web Worker (the module worker of worker.js, or a caller's own worker).
 * @type {boolean}
 */
export const IN_WORKER = typeof (/** @type {any} */ (globalThis).WorkerGlobalScope) === 'function' &&
  globalThis instanceof /** @type {any} */ (globalThis).WorkerGlobalScope;

/**
 * Logical cores (navigator.hardwareConcurrency; 1 where it is unknown).
 * @returns {number}
 */
export const cores = () => (typeof navigator !== 'undefined' && navigator.hardwareConcurrency) || 1;

// @ts-check
// store.js: where `auto` keeps what it measured on this device: the browser's IndexedDB (the same in the
// module worker and on the page; localStorage, where IndexedDB is missing, on the page alone). A store
// that fails (private browsing, storage blocked) never fails a call: it just remembers nothing.

const DB = 'patcher-segmenter';
const TABLE = 'auto';

/** How long a storage call may take (ms) before it counts as failed: a store never holds a call back. */
export const STORE_TIMEOUT = 2000;
/** The longest run (ms) a kept measurement may hold; anything above is not a measurement made here. */
export const MAX_RUN_MS = 600000;

/**
 * Where measurements are kept: values are structured-clonable objects.
 * @typedef {{get(key: string): Promise<any>, set(key: string, value: any): Promise<unknown>}} Store
 */
/**
 * A measurement as measure.js keeps it: the fastest runtime's id, each runtime's time for one run (ms), and
 * when (an ISO date, or null).
 * @typedef {{winner: string, ms: Record<string, number>, at: string | null}} Measurement
 */

/**
 * `promise`, or a rejection once `ms` have passed.
 * @template T
 * @param {Promise<T>} promise
 * @param {number} ms
 * @param {() => void} [gaveUp] called when the time is up
 * @returns {Promise<T>}
 */
function within(promise, ms, gaveUp = () => {}) {
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer;
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => {
      gaveUp();
      reject(new Error(`the browser's storage did not answer in ${ms} ms`));
    }, ms);
  });
  return /** @type {Promise<T>} */ (Promise.race([promise, late])).finally(() => clearTimeout(timer));
}

/**
 * IndexedDB database 'patcher-segmenter', object store 'auto'. The connection closes as soon as another
 * page or worker wants to delete or upgrade the database (`versionchange`), so it never blocks them; the
 * next call opens a new one. A call that does not end within `timeout` ms fails (so does an open that a
 * connection of someone else blocks), and the next call tries again.
 * @param {number} [timeout] ms
 * @returns {Store}
 */
function indexedStore(timeout = STORE_TIMEOUT) {
  /** @type {Promise<IDBDatabase> | null} */
  let opened = null;
  const open = () => {
    if (!opened) {
      /** @type {Promise<IDBDatabase>} */
      const attempt = new Promise((resolve, reject) => {
        const request = indexedDB.open(DB, 1);
        request.onupgradeneeded = () => request.result.createObjectStore(TABLE);
        request.onsuccess = () => {
          const db = request.result;
          db.onversionchange = () => {
            db.close();
            if (opened === attempt) opened = null;
          };
          if (opened !== attempt) db.close();   // given up on meanwhile
          resolve(db);
        };
        request.onerror = () => reject(request.error);
      });
      opened = attempt;
      attempt.catch(() => { if (opened === attempt) opened = null; });
    }
    return opened;
  };
  /**
   * @param {IDBTransactionMode} mode
   * @param {(table: IDBObjectStore) => IDBRequest} act
   * @returns {Promise<any>}
   */
  const run = (mode, act) => {
    const connection = open();
    return within(connection.then((db) => new Promise((resolve, reject) => {
      const tx = db.transaction(TABLE, mode);
      const request = act(tx.objectStore(TABLE));
      tx.oncomplete = () => resolve(request.result);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
    })), timeout, () => { if (opened === connection) opened = null; });
  };
  return {
    get: (key) => run('readonly', (table) => table.get(key)),
    set: (key, value) => run('readwrite', (table) => table.put(value, key)),
  };
}

/**
 * The same over localStorage (JSON), under 'patcher-segmenter/' + key.
 * @returns {Store}
 */
function localStore() {
  return {
    async get(key) {
      const text = localStorage.getItem(`${DB}/${key}`);
      return text ? JSON.parse(text) : null;
    },
    async set(key, value) { localStorage.setItem(`${DB}/${key}`, JSON.stringify(value)); },
  };
}

/**
 * The store of this thread, or one that remembers nothing where neither is there.
 * @returns {Store}
 */
export function deviceStore() {
  if (typeof indexedDB !== 'undefined') return indexedStore();
  if (typeof localStorage !== 'undefined') return localStore();
  return {get: async () => null, set: async () => {}};
}

/**
 * `store`'s get and set that never throw and never take longer than `timeout` ms.
 * @param {Store} store
 * @param {number} [timeout] ms
 * @returns {{get(key: string): Promise<any>, set(key: string, value: any): Promise<boolean>}} get gives
 *   null, set gives false on failure or when the time is up
 */
export function safeStore(store, timeout = STORE_TIMEOUT) {
  return {
    async get(key) {
      try { return (await within(Promise.resolve(store.get(key)), timeout)) || null; } catch (err) { return null; }
    },
    async set(key, value) {
      try { await within(Promise.resolve(store.set(key, value)), timeout); return true; } catch (err) { return false; }
    },
  };
}

/**
 * A kept measurement checked before it is believed: the browser's storage is anyone's to write (another
 * version of this module, an extension, a user in devtools).
 * @param {any} kept what the store gave
 * @param {string[]} ids the runtimes measured at this size here (choose.js's candidates' ids)
 * @returns {Measurement | null} null unless every time is a number above 0 and at most MAX_RUN_MS, of a
 *   runtime among `ids`, and the winner is one of them with the least time; `at` null unless a date
 */
export function readMeasurement(kept, ids) {
  if (!kept || typeof kept !== 'object' || !kept.ms || typeof kept.ms !== 'object' || Array.isArray(kept.ms)) return null;
  const times = Object.entries(kept.ms);
  const fine = (/** @type {unknown} */ v) => typeof v === 'number' && Number.isFinite(v) && v > 0 && v <= MAX_RUN_MS;
  if (!times.length || !times.every(([id, v]) => ids.includes(id) && fine(v))) return null;
  const {winner} = kept;
  if (typeof winner !== 'string' || !Object.hasOwn(kept.ms, winner)) return null;
  if (times.some(([, v]) => v < kept.ms[winner])) return null;
  const at = typeof kept.at === 'string' && !Number.isNaN(Date.parse(kept.at)) ? kept.at : null;
  return {winner, ms: Object.fromEntries(times), at};
}

/**
 * The key of one measurement.
 * @param {string} hash the model's (model.js's hashText of model.json)
 * @param {[number, number]} size [height, width]
 * @param {number} threads
 * @param {string} browser the user agent
 * @returns {string}
 */
export function storeKey(hash, size, threads, browser) {
  return `${hash}/${size[0]}x${size[1]}/${threads}t/${browser}`;
}

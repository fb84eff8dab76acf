// @ts-check
// store.js: where `auto` keeps what it measured on this device: the browser's IndexedDB (the same in the
// module worker and on the page; localStorage, where IndexedDB is missing, on the page alone). A store
// that fails (private browsing, storage blocked) never fails a call: it just remembers nothing.

const DB = 'patcher-segmenter';
const TABLE = 'auto';

/**
 * Where measurements are kept: values are structured-clonable objects.
 * @typedef {{get(key: string): Promise<any>, set(key: string, value: any): Promise<unknown>}} Store
 */

/**
 * IndexedDB database 'patcher-segmenter', object store 'auto'.
 * @returns {Store}
 */
function indexedStore() {
  /** @type {Promise<IDBDatabase> | null} */
  let opened = null;
  const open = () => {
    if (!opened) {
      opened = new Promise((resolve, reject) => {
        const request = indexedDB.open(DB, 1);
        request.onupgradeneeded = () => request.result.createObjectStore(TABLE);
        request.onsuccess = () => resolve(request.result);
        request.onerror = () => reject(request.error);
      });
      opened.catch(() => { opened = null; });
    }
    return opened;
  };
  /**
   * @param {IDBTransactionMode} mode
   * @param {(table: IDBObjectStore) => IDBRequest} act
   * @returns {Promise<any>}
   */
  const run = async (mode, act) => {
    const db = await open();
    return new Promise((resolve, reject) => {
      const tx = db.transaction(TABLE, mode);
      const request = act(tx.objectStore(TABLE));
      tx.oncomplete = () => resolve(request.result);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
    });
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
 * `store`'s get and set that never throw.
 * @param {Store} store
 * @returns {{get(key: string): Promise<any>, set(key: string, value: any): Promise<boolean>}} get gives
 *   null, set gives false on failure
 */
export function safeStore(store) {
  return {
    async get(key) {
      try { return (await store.get(key)) || null; } catch (err) { return null; }
    },
    async set(key, value) {
      try { await store.set(key, value); return true; } catch (err) { return false; }
    },
  };
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

// worker.js: the module worker (new Worker(url, {type: 'module'})) that runs a segmenter's model off the
// page's thread, with the same engine as the main thread.
import {Engine} from './engine.js';
import {serve} from './protocol.js';

serve(globalThis, (options) => Engine.create(options));

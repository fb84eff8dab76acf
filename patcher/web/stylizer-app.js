// The page of a picture model, built only on stylizer.js: the picture before and after side by side, a
// processing size, a picture file, the model's sample picture (credited) and the webcam.
import { createStylizer } from './stylizer.js';

const $ = (id) => document.getElementById(id);
const LITE_ONLY = ['float16', 'int8'];   // precisions only LiteRT.js models have
const params = new URLSearchParams(location.search);
const state = {status: 'loading', runs: 0, ms: null, modelMs: null, size: null, runtime: null, precision: null, reason: null,
               worker: null, error: null};
if (params.has('debug')) {
  // Test hooks, only with ?debug: the state, and "stylize the current picture again" (resolves to its ms).
  window.patcherState = state;
  window.patcherRun = async () => { await run(); return state.ms; };
}

let sty = null;          // the stylizer in use; null while one loads
let generation = 0;      // start() calls; a late stylizer of an older call is dropped
let still = null;        // the picture shown when the webcam is off
let webcamOn = false;
let busy = false;

function showError(err) {
  const message = err.message || String(err);
  Object.assign(state, {error: message, status: 'error'});
  $('error').textContent = `${message}${err.hint ? ` (${err.hint})` : ''}`;
  $('error').hidden = false;
}

// [height, width] for a source of sh x sw: its longer side at the chosen size (the picture's own: as it is).
function processingSize(sh, sw) {
  const chosen = $('resolution').value;
  if (chosen === 'source') return null;
  const k = Number(chosen) / Math.max(sh, sw);
  return [Math.max(1, Math.round(sh * k)), Math.max(1, Math.round(sw * k))];
}

function sourceSize(source) {
  return source instanceof HTMLVideoElement ? [source.videoHeight, source.videoWidth]
    : [source.naturalHeight || source.height, source.naturalWidth || source.width];
}

async function run() {
  const source = webcamOn ? $('video') : still;
  if (!sty || !source || busy) return;
  busy = true;
  try {
    const [sh, sw] = sourceSize(source);
    const before = $('before');
    before.width = sw;
    before.height = sh;
    before.getContext('2d').drawImage(source, 0, 0, sw, sh);
    // the frame drawn is the frame stylized (a video moves on meanwhile)
    const made = await sty.stylize(before, {size: processingSize(sh, sw) || undefined});
    const after = $('after');
    after.width = made.width;
    after.height = made.height;
    after.getContext('2d').putImageData(made.image, 0, 0);
    Object.assign(state, {status: 'ready', runs: state.runs + 1, ms: made.ms, modelMs: made.modelMs, size: made.size,
                          runtime: made.runtime, precision: made.precision, reason: made.reason, error: null});
    $('error').hidden = true;
    const info = sty.info;
    // (sizes [height, width]; shown width x height, as the picture's own)
    $('timing').textContent = `${made.width} x ${made.height}, run at ${made.size[1]} x ${made.size[0]}: ` +
      `${made.ms.toFixed(0)} ms (model ${made.modelMs.toFixed(0)} ms) on ${made.runtime === 'litert' ? 'LiteRT.js' : 'TensorFlow.js'} ` +
      `${info.backend}, ${info.threads || 1} thread${info.threads > 1 ? 's' : ''}, ${made.precision}${info.worker ? ', in a Web Worker' : ''}`;
    $('status').textContent = made.reason || 'ready';
  } catch (err) {
    showError(err);
  } finally {
    busy = false;
  }
  if (webcamOn) requestAnimationFrame(() => run());
}

async function start() {
  const mine = ++generation;
  if (sty) { sty.dispose(); sty = null; }
  Object.assign(state, {status: 'loading', error: null});
  $('status').textContent = 'loading the model ...';
  try {
    const made = await createStylizer({runtime: $('runtime').value, precision: $('precision').value,
                                       worker: $('mode').value === 'worker',
                                       ...(params.get('backend') ? {backend: params.get('backend')} : {})});
    if (mine !== generation) { made.dispose(); return; }
    sty = made;
    state.worker = made.info.worker;
    offerLitert(made.meta);
    if (made.title) { $('title').textContent = made.title; document.title = made.title; }
    $('about').textContent = made.about || '';
    const weights = made.meta.patcher && made.meta.patcher.weights;
    $('weights').hidden = weights !== 'random weights';
    $('sample').hidden = !made.sample;
    if (made.sampleCredit) {
      $('credit').textContent = `Sample picture: ${made.sampleCredit}.`;
      $('credit').hidden = false;
    }
    $('status').textContent = 'ready';
    state.status = 'ready';
    if (!still && !webcamOn && made.sample && params.get('sample') !== '0') await loadPicture(made.sample);
    else await run();
  } catch (err) {
    if (mine === generation) showError(err);
  }
}

// LiteRT.js is offered where the build has models for it (build --litert), whatever its output kind; float16
// and int8 where it has such a model and the runtime is not TensorFlow.js (`auto` takes one only where the
// build found it accurate; asked for, it runs, and the status line says if it is under the build's floor).
function offerLitert(meta) {
  const models = meta && meta.litert && Array.isArray(meta.litert.models) ? meta.litert.models : [];
  const runtime = [...$('runtime').options].find((o) => o.value === 'litert');
  runtime.disabled = !models.length;
  runtime.title = models.length ? `built sizes: ${[...new Set(models.map((m) => `${m.size[1]} x ${m.size[0]}`))].join(', ')}`
    : 'this build has no LiteRT.js models (python -m patcher build --litert)';
  for (const option of [...$('precision').options].filter((o) => LITE_ONLY.includes(o.value))) {
    option.disabled = !models.some((m) => m.precision === option.value) || $('runtime').value === 'tfjs';
    if (option.disabled && $('precision').value === option.value) $('precision').value = 'auto';
  }
}

function loadPicture(url) {
  return new Promise((resolve) => {
    const img = new Image();
    img.onload = () => { still = img; stopWebcam(); run().then(resolve); };
    img.onerror = () => { showError(new Error(`cannot load the picture ${url}`)); resolve(); };
    img.src = url;
  });
}

function stopWebcam() {
  if (!webcamOn) return;
  webcamOn = false;
  const stream = $('video').srcObject;
  if (stream) for (const track of stream.getTracks()) track.stop();
  $('video').srcObject = null;
  $('webcam').textContent = 'Webcam';
}

$('webcam').onclick = async () => {
  if (webcamOn) { stopWebcam(); run(); return; }
  try {
    const stream = await navigator.mediaDevices.getUserMedia({video: true, audio: false});
    $('video').srcObject = stream;
    await $('video').play();
    webcamOn = true;
    $('webcam').textContent = 'Stop the webcam';
    run();
  } catch (err) {
    showError(new Error(`the webcam could not be used: ${err.message}`));
  }
};
$('file').onchange = () => {
  const file = $('file').files[0];
  if (file) loadPicture(URL.createObjectURL(file));
};
$('sample').onclick = () => { if (sty && sty.sample) loadPicture(sty.sample); };
$('resolution').onchange = () => run();
$('runtime').onchange = () => {
  if ($('runtime').value === 'tfjs' && LITE_ONLY.includes($('precision').value)) $('precision').value = 'auto';
  start();
};
$('precision').onchange = () => start();
$('mode').onchange = () => start();
// URL parameters preset the choice: ?runtime=litert&precision=float32
if (['auto', 'tfjs', 'litert'].includes(params.get('runtime'))) $('runtime').value = params.get('runtime');
if (['auto', 'float32', ...LITE_ONLY].includes(params.get('precision'))) $('precision').value = params.get('precision');
start();

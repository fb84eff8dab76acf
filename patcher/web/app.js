// The demo page, built only on segmenter.js: picks runtime, precision, backend, thread and size, feeds it
// images or the webcam, draws each frame together with the class map computed for it, and shows what ran
// it and why. Where model.json names a face detector it parses in face mode (each face's square, pasted
// back) unless "the whole frame" is picked, and frames the faces found.
import { effectsPanel } from './panel.js';
import { createSegmenter } from './segmenter.js';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const threads = /^\d+$/.test(params.get('threads') || '') ? Number(params.get('threads')) : 0;
const SIZE_RULE = 'Height and width must be whole numbers from 32 to 2048.';
const panel = effectsPanel($('effects'), () => run());

const state = {status: 'loading', mode: null, backend: null, threads: null, threadsRequested: null, simd: null,
               runtime: null, precision: null, reason: null, ranSize: null, litert: false,
               isolated: null, fallback: null, runs: 0, ms: null, error: null, sizeError: null,
               lastLabels: null, lastLabelsSize: null, lastSize: null, meta: null, detector: false, faces: null};
if (params.has('debug')) {
  // Test and benchmark hooks, only with ?debug: the state, and "segment the current image again"
  // (resolves to the frame's time in ms).
  window.patcherState = state;
  window.patcherRun = async () => { await run(); return state.ms; };
}

let seg = null;           // the segmenter in use; null while one loads
let generation = 0;       // start() calls; a late segmenter of an older call is dropped
let still = null;         // the image shown when the webcam is off
let webcamOn = false;
let firstModel = true;
let errorFrom = null;     // 'load', 'run' or 'webcam'
let lastGoodSize = [448, 448];

// `err`: a SegmenterError (its message, and its hint on what to do) or any error.
function showError(err, from) {
  const message = err.message || String(err);
  Object.assign(state, {error: message, status: 'error'});
  errorFrom = from;
  const what = from === 'webcam' ? 'The webcam could not be used (the model is fine)' : 'The model could not be used';
  $('error').textContent = `${what}: ${message}${err.hint ? ` (${err.hint})` : ''}`;
  $('error').hidden = false;
}

function clearError() {
  Object.assign(state, {error: null, status: seg ? 'ready' : state.status});
  errorFrom = null;
  $('error').hidden = true;
}

// ---------------------------------------------------------------------------------------------------
// The model

function statusLine(info) {
  const runtime = info.runtime === 'litert' ? `LiteRT.js ${info.precision}${info.backend === 'webgpu' ? ' WebGPU' : ''}`
    : `TensorFlow.js ${info.backend}`;
  let text = `${runtime} in the ${info.worker ? 'Web Worker' : 'main thread'}`;
  if (info.backend === 'wasm' && info.threads != null) {
    text += `, ${info.threads} of ${info.threadsRequested} thread${info.threadsRequested === 1 ? '' : 's'}` +
      `${info.simd ? ', SIMD' : ', no SIMD'}${info.isolated ? '' : ' (not cross-origin isolated)'}`;
  }
  if (info.fallback) text += ` (${info.fallback}; using the main thread)`;
  return text;
}

async function start() {
  const mine = ++generation;
  const old = seg;
  seg = null;
  if (old) old.dispose();   // its calls still waiting are rejected; the frame loop goes on
  const backend = $('backend').value;
  const worker = $('mode').value === 'worker';
  const [runtime, precision] = [$('runtime').value, $('precision').value];
  state.status = 'loading';
  $('status').textContent = `loading the model (${runtime === 'auto' ? 'runtime auto' : runtime}) ...`;
  if (errorFrom !== 'webcam') clearError();
  try {
    const made = await createSegmenter({model: 'model.json', backend, worker, threads, runtime, precision,
                                        size: processingSize() || lastGoodSize});
    if (mine !== generation) { made.dispose(); return; }
    seg = made;
    const {info} = made;
    Object.assign(state, {mode: info.worker ? 'worker' : 'main', backend: info.backend, threads: info.threads,
                          threadsRequested: info.threadsRequested, simd: info.simd, isolated: info.isolated,
                          fallback: info.fallback || null, meta: made.meta, status: 'ready'});
    if (errorFrom === 'load' || errorFrom === 'run') clearError();
    showChoice(info);
    describe(made);
    panel.offer(made.classes);
    if (params.get('effect')) { $('effect').value = params.get('effect'); panel.offer(made.classes); }
    if (firstModel) {
      firstModel = false;
      if (!still && !webcamOn && made.sample && params.get('sample') !== '0') loadImage(made.sample);
    }
    if (still || webcamOn) run();
  } catch (err) {
    if (mine === generation) {
      state.status = 'error';
      $('status').textContent = 'error';
      showError(err, 'load');
    }
  }
}

// What runs the model and why (seg.info, updated by every frame).
function showChoice(info) {
  Object.assign(state, {runtime: info.runtime, precision: info.precision, reason: info.reason, ranSize: info.size,
                        backend: info.backend, threads: info.threads, threadsRequested: info.threadsRequested,
                        simd: info.simd});
  $('status').textContent = statusLine(info);
  $('choice').textContent = info.reason ? `Why: ${info.reason}.` : '';
}

// int8 is a LiteRT.js model: not offered with runtime TensorFlow.js, nor for a build without LiteRT.js.
function syncPrecision() {
  const option = [...$('precision').options].find((o) => o.value === 'int8');
  option.disabled = !state.litert || $('runtime').value === 'tfjs';
  if (option.disabled && $('precision').value === 'int8') $('precision').value = 'auto';
}

function describe(made) {
  const lite = made.meta.litert;
  state.litert = Boolean(lite && Array.isArray(lite.models) && lite.models.length);
  for (const value of ['litert', 'int8']) {
    const option = [...$(value === 'litert' ? 'runtime' : 'precision').options].find((o) => o.value === value);
    option.disabled = !state.litert;
    option.title = state.litert ? '' : "this build has no LiteRT.js models (python -m patcher build --litert)";
  }
  syncPrecision();
  const title = made.title || 'Segmentation in the browser';
  document.title = title;
  $('title').textContent = title;
  $('about').textContent = made.about || '';
  $('about').hidden = !made.about;
  $('sample').hidden = !made.sample;
  const hidden = new Set(made.transparent);
  $('legend').replaceChildren(...made.classes.map((name, i) => {
    const item = document.createElement('li');
    const swatch = document.createElement('span');
    swatch.className = hidden.has(i) ? 'swatch clear' : 'swatch';
    swatch.style.background = `rgb(${made.palette[i].join(',')})`;
    item.append(swatch, document.createTextNode(`${i} ${name}${hidden.has(i) ? ' (transparent)' : ''}`));
    return item;
  }));
  state.detector = Boolean(made.meta.faces && made.meta.faces.detector);
  $('parse').disabled = !state.detector;
  $('parse').title = state.detector ? '' : (made.meta.faces && made.meta.faces.reason) ||
    'this model.json names no face detector: whole frames are parsed';
  if (!state.detector) $('parse').value = 'frame';
  const weights = made.meta.patcher && made.meta.patcher.weights;
  $('banner').hidden = weights !== 'random weights';
  $('banner').textContent = 'This model carries RANDOM weights: it shows the pipeline working, not a trained ' +
    'segmentation. Build it with the trained checkpoint for real results.';
  const size = made.meta.input && made.meta.input.default_size;
  if (!params.get('size') && Array.isArray(size) && size.length === 2) {
    if (size[0] === size[1] && [...$('resolution').options].some((o) => o.value === String(size[0]))) {
      $('resolution').value = String(size[0]);
    } else {
      $('resolution').value = 'custom';
      [$('custom-height').value, $('custom-width').value] = size;
    }
    $('custom').hidden = $('resolution').value !== 'custom';
  }
}

// ---------------------------------------------------------------------------------------------------
// Size

function whole(text) {
  return /^\s*\d+\s*$/.test(text) && Number(text) >= 32 && Number(text) <= 2048 ? Number(text) : null;
}

// The [height, width] to run at, or null (and a visible message) when the custom size is not valid.
function processingSize() {
  const choice = $('resolution').value;
  let size;
  if (choice === 'custom') {
    const [h, w] = [whole($('custom-height').value), whole($('custom-width').value)];
    size = h && w ? [h, w] : null;
  } else {
    size = [Number(choice), Number(choice)];
  }
  state.sizeError = size ? null : SIZE_RULE;
  $('size-error').textContent = size ? '' : `${SIZE_RULE} The last valid size stays in use until then.`;
  $('size-error').hidden = Boolean(size);
  return size;
}



// ---------------------------------------------------------------------------------------------------
// Frames

let queued = null;
let chain = Promise.resolve();

// Segment the current picture once after any run in progress; calls meanwhile share that run.
function run() {
  if (!queued) {
    queued = chain.then(() => { queued = null; return frame(); });
    chain = queued.catch(() => {});
  }
  return queued;
}

function drawPicture(picture, width, height) {
  const canvas = $('image');
  if (canvas.width !== width || canvas.height !== height) { canvas.width = width; canvas.height = height; }
  canvas.getContext('2d').drawImage(picture, 0, 0, width, height);
}

function clearOverlay() {
  const overlay = $('overlay');
  overlay.getContext('2d').clearRect(0, 0, overlay.width, overlay.height);
  drawFaces(null, overlay.width, overlay.height);
}

// Face mode's faces (result.faces): each face's box, and the square parsed around it dashed; null clears.
function drawFaces(faces, width, height) {
  const canvas = $('boxes');
  if (canvas.width !== width || canvas.height !== height) { canvas.width = width; canvas.height = height; }
  const ctx = canvas.getContext('2d');
  ctx.clearRect(0, 0, width, height);
  ctx.strokeStyle = '#ffd400';
  ctx.lineWidth = Math.max(2, Math.round(Math.max(width, height) / 256));
  for (const face of faces || []) {
    ctx.setLineDash([]);
    ctx.strokeRect(...face.box);
    ctx.setLineDash([3 * ctx.lineWidth, 2 * ctx.lineWidth]);
    ctx.strokeRect(...face.crop);
  }
}

// What face mode found, in words (or that the whole frame was parsed).
function foundLine(result) {
  if (!result.faces) return state.detector ? 'The whole frame parsed (face mode off).' : '';
  const n = result.faces.length;
  if (!n) return 'Face mode: no face found, so the map is all background.';
  const scores = result.faces.map((f) => f.score.toFixed(2)).join(', ');
  const t = result.times;
  return `Face mode: ${n} face${n === 1 ? '' : 's'} found (score ${scores}), each square parsed at ` +
    `${result.size[0]} x ${result.size[1]}: detect ${t.detectMs.toFixed(1)} ms, crop ${t.cropMs.toFixed(1)} ms, ` +
    `parse ${t.parseMs.toFixed(1)} ms, paste ${t.pasteMs.toFixed(1)} ms.`;
}

async function frame() {
  const video = $('video');
  let picture = null;
  let width;
  let height;
  if (webcamOn) {
    if (video.readyState < 2 || !video.videoWidth) return;
    picture = await createImageBitmap(video);
    [width, height] = [picture.width, picture.height];
  } else if (still) {
    picture = still;
    [width, height] = [still.naturalWidth, still.naturalHeight];
  } else {
    return;
  }
  try {
    const size = processingSize() || lastGoodSize;
    lastGoodSize = size;
    const current = seg;
    if (!current) {          // a segmenter is loading: show the picture without a class map
      drawPicture(picture, width, height);
      clearOverlay();
      return;
    }
    const wants = panel.wants(current, webcamOn);
    const faces = state.detector && $('parse').value === 'faces';
    const result = await current.segment(picture, {size, ...wants, faces});
    // The picture and the class map computed from it (or the effect made of both) are drawn together.
    drawPicture(picture, result.width, result.height);
    Object.assign(state, {effect: panel.settings().effect, smoothing: wants.smoothing});
    const overlay = $('overlay');
    if (overlay.width !== result.width || overlay.height !== result.height) {
      overlay.width = result.width;
      overlay.height = result.height;
    }
    if (panel.draw($('image'), picture, result, current)) clearOverlay();
    else overlay.getContext('2d').putImageData(current.colorize(result.labels, result.width, result.height), 0, 0);
    drawFaces(result.faces, result.width, result.height);
    $('found').textContent = foundLine(result);
    Object.assign(state, {runs: state.runs + 1, ms: result.ms, lastLabels: result.labels,
                          lastLabelsSize: [result.height, result.width], lastSize: result.size,
                          faces: result.faces || null});
    if (current === seg) showChoice(current.info);
    if (errorFrom === 'run') clearError();
    $('timing').textContent = `${result.size[0]} x ${result.size[1]} on ${result.runtime === 'litert' ?
      `LiteRT.js ${result.precision}` : 'TensorFlow.js'}: ${result.ms.toFixed(1)} ms a frame ` +
      `(${(1000 / result.ms).toFixed(2)} FPS; the model ${result.modelMs.toFixed(1)} ms)`;
  } catch (err) {
    if (err.code !== 'disposed') showError(err, 'run');  // disposed: replaced meanwhile
  } finally {
    if (picture !== still) picture.close();
  }
}

function loadImage(url) {
  stopWebcam();
  const image = new Image();
  image.onload = () => { still = image; run(); };
  image.onerror = () => showError(`cannot read the image ${url}`, 'run');
  image.src = url;
}

// ---------------------------------------------------------------------------------------------------
// Webcam

async function loop() {
  while (webcamOn) {
    await run();
    await new Promise((next) => requestAnimationFrame(next));
  }
}

function stopWebcam() {
  if (!webcamOn) return;
  webcamOn = false;
  const video = $('video');
  if (video.srcObject) video.srcObject.getTracks().forEach((track) => track.stop());
  video.srcObject = null;
  $('webcam').textContent = 'Webcam';
  run();
}

async function webcam() {
  if (webcamOn) { stopWebcam(); return; }
  const video = $('video');
  try {
    video.srcObject = await navigator.mediaDevices.getUserMedia({video: true});
    await video.play();
  } catch (err) {
    const none = !navigator.mediaDevices || ['NotFoundError', 'OverconstrainedError'].includes(err.name);
    showError({message: none ? `no camera found (${err.name || 'no navigator.mediaDevices'}: ${err.message || 'none'})`
      : `${err.name}: ${err.message}`, hint: none ? 'connect a camera, or pick an image file'
      : 'allow this page to use the camera (the browser asks once per site), or pick an image file'}, 'webcam');
    return;
  }
  if (errorFrom === 'webcam') clearError();
  webcamOn = true;
  $('webcam').textContent = 'Stop webcam';
  loop();
}

// ---------------------------------------------------------------------------------------------------

$('backend').value = ['wasm', 'webgl', 'cpu'].includes(params.get('backend')) ? params.get('backend') : 'wasm';
$('runtime').value = ['auto', 'tfjs', 'litert'].includes(params.get('runtime')) ? params.get('runtime') : 'auto';
$('precision').value = ['auto', 'float32', 'int8'].includes(params.get('precision')) ? params.get('precision') : 'auto';
if ($('runtime').value === 'tfjs' && $('precision').value === 'int8') $('precision').value = 'auto';
$('mode').value = params.get('mode') === 'main' ? 'main' : 'worker';
$('parse').value = params.get('faces') === '0' ? 'frame' : 'faces';
if (params.get('size')) {
  const [h, w] = params.get('size').split('x');
  $('resolution').value = 'custom';
  $('custom').hidden = false;
  $('custom-height').value = h || '';
  $('custom-width').value = w || '';
  processingSize();
}
$('backend').onchange = start;
$('runtime').onchange = () => { syncPrecision(); start(); };
$('precision').onchange = start;
$('mode').onchange = start;
$('parse').onchange = () => run();
$('resolution').onchange = () => { $('custom').hidden = $('resolution').value !== 'custom'; run(); };
$('custom-height').oninput = () => { if (processingSize()) run(); };
$('custom-width').oninput = () => { if (processingSize()) run(); };
$('opacity').oninput = () => { $('overlay').style.opacity = $('opacity').value; };
$('overlay').style.opacity = $('opacity').value;
$('file').onchange = () => { const f = $('file').files[0]; if (f) loadImage(URL.createObjectURL(f)); };
$('sample').onclick = () => { if (seg && seg.sample) loadImage(seg.sample); };
$('webcam').onclick = webcam;
start();

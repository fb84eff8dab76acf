// The demo page: picks the engine (Web Worker or main thread), feeds it images, draws the class map.
(function () {
  'use strict';
  const $ = (id) => document.getElementById(id);
  const state = {status: 'loading', mode: null, backend: null, threads: 0, runs: 0, ms: null, error: null,
                 lastLabels: null, lastSize: null, meta: null};
  window.patcherState = state;
  // For tests and benchmarks: segment the current image again; resolves to the frame time in ms.
  window.patcherRun = async () => { await run(); return state.ms; };
  const params = new URLSearchParams(location.search);
  const threads = Number(params.get('threads')) || 0;
  let engine = null;
  let source = null;
  let busy = false;
  let webcamOn = false;
  let generation = 0;

  function showError(message) {
    state.error = message;
    state.status = 'error';
    $('error').textContent = `The model could not be used: ${message}`;
    $('error').hidden = false;
    $('status').textContent = 'error';
  }

  function workerEngine(backend) {
    return new Promise((resolve, reject) => {
      const worker = new Worker('worker.js');
      const pending = new Map();
      let next = 0;
      const call = (message, transfer = []) => new Promise((ok, fail) => {
        const id = next++;
        pending.set(id, {ok, fail});
        worker.postMessage({...message, id}, transfer);
      });
      worker.onmessage = (event) => {
        const {id, ok, error} = event.data;
        const handlers = pending.get(id);
        pending.delete(id);
        if (ok) handlers.ok(event.data); else handlers.fail(new Error(error));
      };
      worker.onerror = (event) => reject(new Error(event.message || 'the worker failed to start'));
      call({type: 'init', backend, threads, base: new URL('.', location.href).href,
            wasmPath: new URL('.', location.href).href})
        .then((reply) => resolve({
          mode: 'worker', info: reply.info, meta: reply.meta,
          async segment(image, height, width) {
            const bitmap = await createImageBitmap(image);
            return (await call({type: 'segment', bitmap, height, width}, [bitmap])).result;
          },
          close() { worker.terminate(); },
        }), (err) => { worker.terminate(); reject(err); });
    });
  }

  async function mainEngine(backend) {
    const info = await Segmenter.init(backend, new URL('.', location.href).href, threads);
    const meta = await Segmenter.load(new URL('.', location.href).href);
    const canvas = document.createElement('canvas');
    return {
      mode: 'main', info, meta,
      async segment(image, height, width) {
        canvas.width = width;
        canvas.height = height;
        const context = canvas.getContext('2d', {willReadFrequently: true});
        context.drawImage(image, 0, 0, width, height);
        const pixels = context.getImageData(0, 0, width, height).data;
        return Segmenter.segment(Int32Array.from(pixels), height, width);
      },
      close() {},
    };
  }

  async function start() {
    const mine = ++generation;
    const backend = $('backend').value;
    const wanted = $('mode').value;
    if (engine) engine.close();
    engine = null;
    state.status = 'loading';
    $('status').textContent = `loading the model on ${backend} ...`;
    $('error').hidden = true;
    let note = '';
    try {
      let made;
      if (wanted === 'worker' && typeof Worker !== 'undefined' && typeof OffscreenCanvas !== 'undefined') {
        try {
          made = await workerEngine(backend);
        } catch (err) {
          if (/weight shard|model\.json/.test(String(err.message))) throw err;
          note = ` (the worker could not run ${backend}: ${err.message}; using the main thread)`;
          made = await mainEngine(backend);
        }
      } else {
        if (wanted === 'worker') note = ' (no Web Worker with OffscreenCanvas here; using the main thread)';
        made = await mainEngine(backend);
      }
      if (mine !== generation) { made.close(); return; }
      engine = made;
      Object.assign(state, {mode: made.mode, backend: made.info.backend, threads: made.info.threads,
                            simd: made.info.simd, isolated: made.info.isolated,
                            meta: made.meta, status: 'ready', error: null});
      $('status').textContent = `${made.info.backend} in the ${made.mode === 'worker' ? 'Web Worker' : 'main thread'}` +
        (made.info.backend === 'wasm' ? `, ${made.info.threads} thread${made.info.threads === 1 ? '' : 's'}` +
         `${made.info.simd ? ', SIMD' : ''}${made.info.isolated ? '' : ' (not cross-origin isolated)'}` : '') + note;
      describe(made.meta);
      if (source) await run();
    } catch (err) {
      if (mine === generation) showError(err.message || String(err));
    }
  }

  function describe(meta) {
    const classes = meta.classes || [];
    const palette = meta.palette || [];
    $('legend').innerHTML = '';
    classes.forEach((name, i) => {
      const item = document.createElement('li');
      const swatch = document.createElement('span');
      swatch.className = 'swatch';
      swatch.style.background = `rgb(${palette[i].join(',')})`;
      item.append(swatch, document.createTextNode(`${i} ${name}`));
      $('legend').append(item);
    });
    const weights = meta.patcher && meta.patcher.weights;
    $('banner').hidden = weights !== 'random weights';
    $('banner').textContent = 'This model carries RANDOM weights: it shows the pipeline, not face parts. ' +
      'Build it with the trained checkpoint to segment faces.';
  }

  function processingSize() {
    const choice = $('resolution').value;
    if (choice === 'custom') return [Number($('custom-height').value), Number($('custom-width').value)];
    return [Number(choice), Number(choice)];
  }

  function draw(result) {
    const palette = state.meta.palette;
    const {labels, height, width} = result;
    const overlay = $('overlay');
    overlay.width = width;
    overlay.height = height;
    const context = overlay.getContext('2d');
    const image = context.createImageData(width, height);
    for (let i = 0; i < labels.length; i++) {
      const color = palette[labels[i]] || [255, 255, 255];
      image.data[4 * i] = color[0];
      image.data[4 * i + 1] = color[1];
      image.data[4 * i + 2] = color[2];
      image.data[4 * i + 3] = labels[i] === 0 ? 0 : 255;
    }
    context.putImageData(image, 0, 0);
  }

  async function run() {
    if (!engine || !source || busy) return;
    busy = true;
    try {
      const [height, width] = processingSize();
      const result = await engine.segment(source, height, width);
      draw(result);
      state.runs += 1;
      state.ms = result.ms;
      state.lastLabels = Array.from(result.labels);
      state.lastSize = [height, width];
      $('timing').textContent = `${height} x ${width}: ${result.ms.toFixed(1)} ms a frame (${(1000 / result.ms).toFixed(2)} FPS)`;
    } catch (err) {
      showError(err.message || String(err));
    } finally {
      busy = false;
    }
  }

  function show(image, width, height) {
    source = image;
    const canvas = $('image');
    canvas.width = width;
    canvas.height = height;
    canvas.getContext('2d').drawImage(image, 0, 0, width, height);
    run();
  }

  function loadImage(url) {
    const image = new Image();
    image.onload = () => show(image, image.naturalWidth, image.naturalHeight);
    image.onerror = () => showError(`cannot read the image ${url}`);
    image.src = url;
  }

  async function webcam() {
    const video = $('video');
    if (webcamOn) { webcamOn = false; video.srcObject && video.srcObject.getTracks().forEach((t) => t.stop()); return; }
    try {
      video.srcObject = await navigator.mediaDevices.getUserMedia({video: true});
      await video.play();
      webcamOn = true;
      const loop = async () => {
        if (!webcamOn) return;
        show(video, video.videoWidth, video.videoHeight);
        await run();
        requestAnimationFrame(loop);
      };
      loop();
    } catch (err) {
      showError(`no webcam: ${err.message}`);
    }
  }

  $('backend').value = params.get('backend') || 'wasm';
  $('mode').value = params.get('mode') || 'worker';
  if (params.get('size')) {
    const [h, w] = params.get('size').split('x').map(Number);
    $('resolution').value = 'custom';
    $('custom').hidden = false;
    $('custom-height').value = h;
    $('custom-width').value = w;
  }
  $('backend').onchange = start;
  $('mode').onchange = start;
  $('resolution').onchange = () => { $('custom').hidden = $('resolution').value !== 'custom'; run(); };
  $('custom-height').onchange = run;
  $('custom-width').onchange = run;
  $('opacity').oninput = () => { $('overlay').style.opacity = $('opacity').value; };
  $('overlay').style.opacity = $('opacity').value;
  $('file').onchange = () => { const f = $('file').files[0]; if (f) loadImage(URL.createObjectURL(f)); };
  $('sample').onclick = () => loadImage('sample.png');
  $('webcam').onclick = webcam;
  start().then(() => { if (!source && params.get('sample') !== '0') loadImage('sample.png'); });
})();

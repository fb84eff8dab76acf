// Web Worker: runs the model off the main thread; pixels come from an OffscreenCanvas.
importScripts('tf.min.js', 'tf-backend-wasm.min.js', 'engine.js');

let canvas = null;

self.onmessage = async (event) => {
  const {id, type} = event.data;
  try {
    if (type === 'init') {
      const info = await Segmenter.init(event.data.backend, event.data.wasmPath, event.data.threads);
      const meta = await Segmenter.load(event.data.base);
      self.postMessage({id, ok: true, info, meta});
    } else if (type === 'segment') {
      const {bitmap, height, width} = event.data;
      if (!canvas || canvas.width !== width || canvas.height !== height) canvas = new OffscreenCanvas(width, height);
      const context = canvas.getContext('2d', {willReadFrequently: true});
      context.drawImage(bitmap, 0, 0, width, height);
      bitmap.close();
      const pixels = context.getImageData(0, 0, width, height).data;
      const result = await Segmenter.segment(Int32Array.from(pixels), height, width);
      self.postMessage({id, ok: true, result}, [result.labels.buffer]);
    }
  } catch (err) {
    self.postMessage({id, ok: false, error: String(err && err.message ? err.message : err)});
  }
};

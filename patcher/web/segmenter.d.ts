// Type declarations for segmenter.js, the ES module patcher builds next to a model: the API's reference.
// segmenter.js's JSDoc names these types; tests/test_api_types.py type-checks the module against this file.

/** What runs the model: TensorFlow.js on model.json, or LiteRT.js on the build's .tflite models. */
export type Runtime = 'tfjs' | 'litert';
/** runtime option: 'auto' starts, per size, with the fastest the build measured, then measures on this device. */
export type RuntimeOption = 'auto' | Runtime;
/** precision option; float16 and int8 are LiteRT.js only (built with --litert-precisions). */
export type PrecisionOption = 'auto' | 'float32' | 'float16' | 'int8';
/** A TensorFlow.js backend name; 'webgpu' also runs LiteRT.js on its WebGPU accelerator. */
export type Backend = 'wasm' | 'webgl' | 'cpu' | 'webgpu' | (string & {});
/** A runtime as `auto` measures it: tfjs-wasm, LiteRT.js float32, float16 and int8 on wasm, and the WebGPU ones. */
export type RuntimeId = 'tfjs' | 'float32' | 'float16' | 'int8' | 'tfjs-webgpu' | 'float32-webgpu' | (string & {});
/** [height, width] in whole pixels. */
export type Size = [height: number, width: number];
/** What segment() reads. An image must have loaded, a video must have a frame. */
export type Source = HTMLImageElement | HTMLVideoElement | HTMLCanvasElement | OffscreenCanvas | ImageBitmap |
  ImageData | VideoFrame;
/** An [r, g, b] colour, each 0..255. */
export type Color = [r: number, g: number, b: number];

/** The code of every SegmenterError; docs/page.md has the table with each code's hint. */
export type ErrorCode = 'options' | 'not-found' | 'model' | 'shard-missing' | 'shard-size' | 'tfjs' |
  'backend-unknown' | 'backend' | 'worker' | 'litert' | 'source' | 'disposed' | 'run';

export interface SegmenterOptions {
  /** URL of model.json, relative to the page; default: the model.json next to segmenter.js. */
  model?: string | URL;
  /** 'auto' (default): per size, the fastest the build measured, then the fastest measured on this device;
   * 'tfjs': model.json only; 'litert': the LiteRT.js models (a size without one runs at the nearest built size). */
  runtime?: RuntimeOption;
  /** 'auto' (default), 'float32', or 'float16' or 'int8' (LiteRT.js only; `auto` takes them only where the
   * build recorded them as accurate). */
  precision?: PrecisionOption;
  /** The TensorFlow.js backend; default 'wasm'. 'webgpu' (needs tf-backend-webgpu.min.js and a WebGPU adapter)
   * runs tfjs on WebGPU, and LiteRT.js (runtime 'litert') on its WebGPU accelerator. */
  backend?: Backend;
  /** runtime 'auto' only: time each runtime on this device between calls, switch to the fastest and keep it
   * in the browser's storage (default true); false keeps the build's choice. */
  measure?: boolean;
  /** Let `auto`'s measuring fetch files the page has not fetched yet (the other runtimes' bundles and models);
   * default false: only the runtimes already started here are compared. */
  measureDownloads?: boolean;
  /** Run the model in a module Web Worker (default true); where it cannot, it runs on the page and info.fallback says why. */
  worker?: boolean;
  /** wasm threads: 0 (default) = one per logical core. Threads need a cross-origin isolated page. */
  threads?: number;
  /** [height, width] to run the model at; default: the model's preferred size (model.json's
   * input.default_size), else the source's own scaled down, aspect kept, to at most MAX_PIXELS (2048 x 2048).
   * A size asked for above MAX_PIXELS is refused with SegmenterError 'options'. */
  size?: Size | null;
  /** The folder of tf.min.js, tf-backend-wasm.min.js and the .wasm files; default: segmenter.js's. */
  assets?: string | URL;
  /** Video mode: blend each call's class probabilities with the earlier calls' (default false). */
  smoothing?: boolean | Partial<SmoothingSettings>;
  /** Face mode: find the faces, parse a square around each, paste the parses back (docs/page.md, "Face
   * mode"). Default: on when model.json names a face detector; false parses the whole frame; true or
   * settings (the rest FACES') turn it on, SegmenterError 'options' for a model without a detector.
   * Faces narrower than about 1/32 of the frame's longer side (20 px in a 640 x 480 frame) are missed: the
   * detector sees the frame at 256 x 256 (scripts/face_measure.py: found down to 19.9 px, 41 of 41 faces on
   * pictures of people). Where squares overlap, each pixel takes the square whose centre is nearest. */
  faces?: boolean | Partial<FaceSettings>;
}

/** Face mode's settings (FACES has the defaults). */
export interface FaceSettings {
  /** Most faces parsed; the largest are kept (default 4). */
  maxFaces: number;
  /** The square's side over the face box's width (default 2.25: 2.0-2.5 parsed like portraits, eyes, nose
   * and mouth on their own classes 4 times in 4 and no hat; 1.0 cut off large hair, wider brought hat back
   * onto walls and trees). */
  margin: number;
  /** The side, in pixels, each square is parsed at (default 320: eyes, nose and mouth on their classes 3.61
   * times in 4, 448 3.84 for twice the pixels, 256 only 1.23, the whole frame at 448 0.94; docs/quality.md). */
  size: number;
  /** The detector's lowest score kept, 0..1 (default 0.5; the faces of the measured pictures scored 0.82 and
   * more). */
  minScore: number;
  /** Outside every square: 'background' (default; the background class, its probability 1: for effects on
   * people, nothing outside the faces touched) or 'frame' (the whole frame's parse at the call's size: one
   * more run of the model, for a map of the whole picture, with its mistakes away from the faces). */
  fill: 'background' | 'frame';
}

/** A face that face mode parsed. */
export interface Face {
  /** [x, y, width, height] in source pixels (steadied from frame to frame with smoothing on). */
  box: number[];
  /** The detector's score, 0..1. */
  score: number;
  /** [x, y, side, side]: the square parsed, in source pixels (it may reach outside the frame: padded). */
  crop: number[];
}

/** Face mode's parts of a call, in milliseconds. */
export interface FaceTimes {
  detectMs: number;
  cropMs: number;
  parseMs: number;
  pasteMs: number;
}

/** The face detector face mode ran. */
export interface FaceInfo {
  /** Its npm package and version (model.json's faces entry, or its litert entry). */
  detector: string;
  /** Its graph's URL. */
  model: string;
  /** LiteRT.js where the squares are parsed on LiteRT.js and the build has a LiteRT.js detector
   * (model.json's faces.litert), else tfjs (RuntimeInfo's runtime, precision and size say what parsed). */
  runtime: 'tfjs' | 'litert';
  /** tfjs's backend, or 'wasm' on LiteRT.js. */
  backend: string;
  /** Why this detector. */
  reason: string;
}

/** The temporal smoothing's settings (docs/page.md, "Video: temporal smoothing"). */
export interface SmoothingSettings {
  /** Share of the running estimate kept where nothing changes, 0 <= history < 1 (default 0.75). */
  history: number;
  /** Mean luma change (0..255, 3 x 3 neighbourhood) from which the new frame starts to take over (10) ... */
  pixelLow: number;
  /** ... and at which it takes over fully (25). */
  pixelHigh: number;
  /** Probability change (half the L1 distance, 0..1) from which the new frame starts to take over (0.2) ... */
  probLow: number;
  /** ... and at which it takes over fully (0.6). */
  probHigh: number;
}

/** What runs the last size asked for. threads and simd are null off wasm. */
export interface RuntimeInfo {
  runtime: Runtime;
  precision: string;
  size: Size | null;
  /** The .tflite file LiteRT.js runs, or null. */
  model: string | null;
  /** Why this runtime runs this size. */
  reason: string;
  version: string | null;
  backend: string;
  worker: boolean;
  threadsRequested: number | null;
  threads: number | null;
  simd: boolean | null;
  isolated: boolean;
  cores: number;
  /** Why the model runs on the page although a worker was asked for. */
  fallback?: string;
  /** Why wasm runs fewer threads than asked: the page is not cross-origin isolated (COOP/COEP headers). */
  threadsReason?: string;
  /** What `auto` measured on this device at this size; null when it measures nothing here (measure: false, a
   * runtime or backend asked for, one candidate only). */
  measure: MeasureInfo | null;
  /** The face detector that ran, after a call in face mode (absent after a whole-frame call). */
  faces?: FaceInfo;
}

/** `auto`'s measuring at one size on this device. */
export interface MeasureInfo {
  /** waiting: for the first call; measuring: between calls; measured: done here; stored: kept from earlier. */
  status: 'waiting' | 'measuring' | 'measured' | 'stored';
  size: Size;
  /** The runtimes timed, in this order. */
  candidates: RuntimeId[];
  /** Each one's time for one run of the model (ms, the fastest of the timed runs). */
  ms: Partial<Record<RuntimeId, number>>;
  /** The runtimes that did not start here, with why. */
  failed: Partial<Record<RuntimeId, string>>;
  /** The fastest, which runs the later calls; null until measured. */
  winner: RuntimeId | null;
  /** What measuring cost: the steps that held calls back (ms in all; the longest, the most one call waited),
   * the starts of the library not in use, which ran beside the calls (ms), and the number of steps. */
  cost: number;
  longest: number;
  aside: number;
  steps: number;
  /** Bytes the measuring steps fetched (resource timing: network or HTTP cache). */
  bytes: number;
}

export interface SegmentOptions {
  /** [height, width] to run the model at, for this call; at most MAX_PIXELS pixels. */
  size?: Size;
  /** Class names whose probabilities to return as result.masks, or 'all'. */
  masks?: string[] | 'all';
  /** Overrides createSegmenter's smoothing for this call; false also forgets the past. */
  smoothing?: boolean | Partial<SmoothingSettings>;
  /** Overrides createSegmenter's faces for this call (false: the whole frame, exactly as without face mode). */
  faces?: boolean | Partial<FaceSettings>;
}

/** Class name -> width * height probabilities in [0, 1] (all classes sum to 1; labels is their argmax). */
export type Masks = Record<string, Float32Array>;

/** What every call's result says besides its output (a SegmentResult's, and stylizer.js's StylizeResult's). */
export interface CallResult {
  /** The source's width and height: the output's size. */
  width: number;
  height: number;
  /** The whole call, in milliseconds. */
  ms: number;
  /** The model alone, in milliseconds. */
  modelMs: number;
  /** The [height, width] the model ran at. */
  size: Size;
  runtime: Runtime;
  precision: string;
  /** Why that runtime ran this size. */
  reason: string;
}

export interface SegmentResult extends CallResult {
  /** width * height class ids, row by row, at the source's size (Uint16Array for more than 256 classes). */
  labels: Uint8Array | Uint16Array;
  /** With SegmentOptions.masks only. */
  masks?: Masks;
  /** Face mode only: the faces parsed, largest first ([] when there is none: then the map is background). */
  faces?: Face[];
  /** Face mode only: the call's parts. */
  times?: FaceTimes;
}

export interface ColorizeOptions {
  /** Opacity of the colours, 0..1 (default 1). */
  alpha?: number;
  /** Class ids drawn fully clear (default: the model's own list). */
  transparent?: number[];
  /** A colour per class (default: the model's). */
  palette?: Color[];
}

/** model.json's userDefinedMetadata, as patcher writes it. */
export interface ModelMetadata {
  title?: string;
  about?: string;
  classes?: string[];
  palette?: Color[];
  transparent?: number[];
  sample?: string;
  input?: {name?: string; scale: number; offset: number; color?: 'RGB' | 'BGR'; default_size?: Size; [key: string]: unknown};
  outputs?: {name: string; kind: 'labels' | 'probabilities' | 'image'; [key: string]: unknown}[];
  patcher?: {[key: string]: unknown};
  litert?: {[key: string]: unknown};
  [key: string]: unknown;
}

/** What a loaded model offers whatever its output (a Segmenter's, and stylizer.js's Stylizer's). */
export interface ModelHandle {
  /** tfjs's live tensors (null before tfjs has run there) and the JS heap in bytes (Chromium; else null) where the model runs. */
  memory(): Promise<{tensors: number | null; heap: number | null}>;
  /** Ends the worker (or frees the model); calls still waiting, and every later one, are rejected. */
  dispose(): void;
  info: RuntimeInfo;
  readonly title: string | null;
  readonly about: string | null;
  /** URL of the model's sample image, or null. */
  readonly sample: string | null;
  readonly meta: ModelMetadata;
  /** model.json's absolute URL. */
  readonly model: string;
}

export interface Segmenter extends ModelHandle {
  /** Class ids of `source`; rejects with a SegmenterError. */
  segment(source: Source, options?: SegmentOptions): Promise<SegmentResult>;
  /** Each pixel in its class's colour at opacity `alpha`; throws SegmenterError 'options' for labels of another size. */
  colorize(labels: ArrayLike<number>, width: number, height: number, options?: ColorizeOptions): ImageData;
  readonly classes: string[];
  readonly palette: Color[];
  readonly transparent: number[];
}

/** The one kind of error segmenter.js rejects with. */
export class SegmenterError extends Error {
  constructor(message: string, code: ErrorCode, hint?: string);
  readonly name: 'SegmenterError';
  readonly code: ErrorCode;
  /** What to do about it. */
  readonly hint: string;
}

/** Loads the model (in a Web Worker unless worker: false); rejects with a SegmenterError. */
export function createSegmenter(options?: SegmenterOptions): Promise<Segmenter>;

/** What runs the model at a size. */
export interface RuntimeChoice {
  runtime: Runtime;
  precision: string;
  /** 'wasm', or the backend asked for ('webgpu': LiteRT.js's WebGPU accelerator). */
  backend: string;
  size: Size | null;
  /** The .tflite file, or null for tfjs. */
  file: string | null;
  reason: string;
}

/** Which runtime runs `size` given model.json's metadata and the options; throws SegmenterError 'options'. */
export function chooseRuntime(meta: ModelMetadata | null | undefined,
  options?: {runtime?: RuntimeOption; precision?: PrecisionOption; backend?: Backend},
  size?: Size | null): RuntimeChoice;

/** A result of segment() with masks (width, height and the masks an effect needs). */
export type MaskedResult = Pick<SegmentResult, 'width' | 'height'> & {masks?: Masks};
/** A picture an effect reads: anything segment() reads, or {data, width, height}. */
export type Picture = Source | {data: Uint8ClampedArray; width: number; height: number};
/** [r, g, b] (0..255) or '#rrggbb'. */
export type EffectColor = Color | string;

/** recolor's options: the classes, their new colour, strength 0..1 (default 1), feather in pixels (default 0). */
export interface RecolorOptions {classes: string | string[]; color: EffectColor; strength?: number; feather?: number}
/** replaceBackground's options: the classes kept (default: all but the background, one minus
 * result.masks.background), one of blur (a radius in pixels), image or color, and feather in pixels (default 0). */
export interface BackgroundOptions {keep?: string[]; blur?: number; image?: Picture; color?: EffectColor; feather?: number}

/** The classes take `color` in OKLab, keeping the source's lightness; soft edges from the probabilities. */
export function recolor(source: Picture, result: MaskedResult, options: RecolorOptions): ImageData;
/** Everything but the `keep` classes (default: all but the background, from result.masks.background, so segment
 * with masks: ['background'] or more) blurred (a radius in pixels) or replaced by an image or a colour. */
export function replaceBackground(source: Picture, result: MaskedResult, options: BackgroundOptions): ImageData;
/** White with alpha the probability of the classes, optionally feathered (a radius in pixels). */
export function alphaMask(result: MaskedResult, classes: string | string[], options?: {feather?: number}): ImageData;
/** `layer` (such as colorize()'s) composited over the picture: opaque. */
export function overlay(source: Picture, layer: ImageData): ImageData;
/** Face mode's default settings. */
export const FACES: Readonly<FaceSettings>;
/** The smoothing's default settings. */
export const SMOOTHING: Readonly<SmoothingSettings>;
/** The most pixels (height * width) the model runs at, 2048 x 2048 (a run's memory grows with its pixels): a
 * size asked for above it is refused with SegmenterError 'options'; a larger source, with no size asked for and
 * no input.default_size in model.json, is scaled down to it, aspect kept. */
export const MAX_PIXELS: number;

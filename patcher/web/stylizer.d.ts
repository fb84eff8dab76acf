// Type declarations for stylizer.js, the ES module patcher builds next to a model whose output is a picture
// (a recipe output of kind `image`). It shares segmenter.js's engine, and so its types (segmenter.d.ts):
// tests/test_api_types.py type-checks stylizer.js against this file.
import type {Backend, CallResult, ErrorCode, ModelHandle, ModelMetadata, PrecisionOption, RuntimeInfo, RuntimeOption, Runtime, Size,
  Source, SegmenterOptions} from './segmenter.js';

export type {Backend, CallResult, ErrorCode, ModelHandle, ModelMetadata, PrecisionOption, RuntimeInfo, RuntimeOption, Runtime, Size,
  Source};
/** The one kind of error stylizer.js rejects with (segmenter.js's: the same codes and hints). */
export {SegmenterError} from './segmenter.js';

/** createStylizer's options: createSegmenter's that apply to a picture model, with the same defaults. */
export type StylizerOptions = Pick<SegmenterOptions, 'model' | 'runtime' | 'precision' | 'backend' | 'measure' |
  'worker' | 'threads' | 'size' | 'assets'>;

export interface StylizeOptions {
  /** [height, width] to run the model at (the result comes back at the source's size); default: the
   * stylizer's `size`, else the model's preferred size, else the source's own (at most 2048 x 2048 pixels). */
  size?: Size;
}

export interface StylizeResult extends CallResult {
  /** The model's picture at the source's size, RGB(A) whatever colour order the model works in. */
  image: ImageData;
}

export interface Stylizer extends ModelHandle {
  /** The model's picture of `source`; rejects with a SegmenterError. */
  stylize(source: Source, options?: StylizeOptions): Promise<StylizeResult>;
  /** Where the sample image comes from and its licence, or null. */
  readonly sampleCredit: string | null;
}

/** Loads a picture model (in a Web Worker unless worker: false); rejects with a SegmenterError. */
export function createStylizer(options?: StylizerOptions): Promise<Stylizer>;

/** The most pixels (height * width) the model is run at. */
export const MAX_PIXELS: number;

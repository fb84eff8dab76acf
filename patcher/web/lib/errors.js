// errors.js: SegmenterError, the one kind of error the module rejects with, and its form on the wire
// between the Web Worker and the page.

export class SegmenterError extends Error {
  constructor(message, code) {
    super(message);
    this.name = 'SegmenterError';
    this.code = code;
  }
}

// An error as a structured-clonable message, and back (a SegmenterError keeps its code; anything else is 'run').
export const wire = (err) => ({message: String(err && err.message ? err.message : err),
                               code: (err && err.code) || 'run'});
export const unwire = (e) => new SegmenterError(e.message, e.code);

"""LiteRT.js models beside the tfjs one: `build --litert` and `check --litert` (opt-in).

From the same edited frozen graph that the tfjs converter gets (build.prepare_graph: int32 class ids,
which LiteRT.js needs; it refuses int64), TensorFlow's own TFLite converter writes one model per input
size (LiteRT.js 2.5.3 has no resize call and refuses a concrete input for a [1, -1, -1, 3] model) and
per precision (`--litert-precisions`, default float32 and int8):

- float32;
- float16: weights stored in 16 bits, computed in float32;
- int8: full integer (int8 weights and activations, TFLITE_BUILTINS_INT8 only), float input, calibrated
  on a representative set of images (`--calibration DIR`, or by default the recipe's pictures and their
  mirror images; for a recipe without pictures, its sample image, variants of it and generated pictures;
  the metadata says which).

What a model outputs, how it is judged and what model.json's `litert` entry says of its output are the
output kind's (patcher/kinds: `litert_outputs`, `litert_accuracy`, `accurate`, `litert_metadata`). A
labels model has two outputs: the int32 class ids and, second, the float32 logits [1, H, W, C] they are
the argmax of (segmenter.js's soft masks are their softmax; the tfjs model keeps its one output and the
module fetches its logits node instead); it is judged by overall class-map agreement, agreement on pixels
more than 2 px from a class boundary of TensorFlow's map, and on pixels whose top-two probability margin
(TensorFlow's) is at least 0.05: float32 must meet the tfjs bound (99.9 %), int8 is "accurate" when
agreement away from boundaries is at least the int8 floor (99 % unless set). An image model has one
output, its picture (float32 [1, H, W, C]), judged in uint8 pixel values: float32 must have 99.9 % of them
within one level of TensorFlow's, float16 and int8 are "accurate" from their PSNR floors (50 and 40 dB).

Each model is compared with TensorFlow's frozen graph (DIR.tf) in the Python TFLite interpreter on the
recipe's pictures (else check's test picture) at its size, and in LiteRT.js in headless Chromium on the
first of them.

Files: DIR/litert/model-HxW-PRECISION.tflite, the LiteRT.js runtime (litert.js, wasm-utils.js, wasm/)
and a harness page (index.html, harness.js) that runs a model in the browser; model.json's
userDefinedMetadata.litert lists them. TensorFlow runs in a child process:
`python -m patcher.litert convert|compare --job JOB.json` (one JSON object per line on stdout).

Modules: options (what is made), calibration, conversion (the TensorFlow child), chromium (the browser
child), accuracy (judging; the Entry and Timing results), report, runtime (LiteRT.js files), job (running
a child), commands (build and check); the metrics themselves: patcher/metrics.py.
"""
from __future__ import annotations

from patcher.litert.accuracy import Entry, Timing, judge
from patcher.litert.calibration import calibration_images
from patcher.litert.chromium import chromium_missing, in_chromium
from patcher.litert.commands import build, check, compare_models
from patcher.litert.options import (CALIBRATION_IMAGES, FACE_SIZE, FLOAT_MIN_AGREEMENT, FOLDER, INT8_FLOOR,
                                    KNOWN_PRECISIONS, PRECISIONS, RUNTIME_FILES, RUNTIME_PACKAGE, RUNTIME_VERSION,
                                    SIZES, Options, file_name, for_faces)
from patcher.litert.runtime import install_runtime

__all__ = ["CALIBRATION_IMAGES", "FACE_SIZE",
           "FLOAT_MIN_AGREEMENT", "FOLDER", "INT8_FLOOR", "KNOWN_PRECISIONS", "PRECISIONS", "RUNTIME_FILES",
           "RUNTIME_PACKAGE", "RUNTIME_VERSION", "SIZES", "Entry", "Options", "Timing", "build", "calibration_images",
           "check", "chromium_missing", "compare_models", "file_name", "for_faces", "in_chromium", "install_runtime", "judge"]

"""What `build --litert` makes: the sizes, precisions and int8 floor (Options), the files' names, and the
pinned LiteRT.js runtime it copies."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from patcher.kinds import labels

FOLDER = "litert"
# the sizes the demo page offers; one model per size (LiteRT.js 2.5.3 takes no dynamic input size)
SIZES = ((288, 288), (448, 448), (1024, 1024))
# face mode's square (patcher/web/lib/facemode.js FACES.size): added to the default sizes of a model with a
# face detector, so that face mode's squares can be parsed on LiteRT.js
FACE_SIZE = (320, 320)
PRECISIONS = ("float32", "int8")  # made unless --litert-precisions says otherwise
KNOWN_PRECISIONS = ("float32", "float16", "int8")  # float16: weights in 16 bits, computed in float32
FLOAT_MIN_AGREEMENT = labels.MIN_AGREEMENT  # the tfjs bound
INT8_FLOOR = labels.INT8_FLOOR  # a labels build's int8 is "accurate" when agreement away from class boundaries reaches this
CALIBRATION_IMAGES = 20
RUNTIME_PACKAGE = "@litertjs/core"
RUNTIME_VERSION = "2.5.3"
# (package folder, file, name in DIR/litert): the ES module (its import of wasm-utils made relative), that
# import, and the wasm builds it picks from (threaded: relaxed SIMD + cross-origin isolation; plain: relaxed SIMD; compat: neither)
RUNTIME_FILES = [
    ("@litertjs/core/dist", "index.js", "litert.js"),
    ("@litertjs/wasm-utils/dist", "index.js", "wasm-utils.js"),
    *[("@litertjs/core/wasm", f"litert_wasm_{kind}_internal.{ext}", f"wasm/litert_wasm_{kind}_internal.{ext}")
      for kind in ("threaded", "compat") for ext in ("js", "wasm")],
    ("@litertjs/core/wasm", "litert_wasm_internal.js", "wasm/litert_wasm_internal.js"),
    ("@litertjs/core/wasm", "litert_wasm_internal.wasm", "wasm/litert_wasm_internal.wasm"),
]
BARE_IMPORT = 'from "@litertjs/wasm-utils"'
HARNESS = Path(__file__).resolve().parent.parent / "web_litert"
BROWSER_REPEAT = 3  # timed runs per model and size in Chromium, after a warm-up
BROWSER_TIMEOUT = 900  # seconds for the whole Chromium run (a hung wasm thread pool must not hang the build)

Size = tuple[int, int]


@dataclass(frozen=True)
class Options:
    """What `build --litert` makes: the sizes (HxW), the calibration images (None: the tool's own), the
    int8 floor (None: the output kind's own, `litert_floor`), the precisions (of KNOWN_PRECISIONS) and
    whether the sizes are the default ones (not given by the user)."""

    sizes: tuple[Size, ...] = SIZES
    calibration: Path | None = None
    int8_floor: float | None = None
    precisions: tuple[str, ...] = field(default=PRECISIONS)
    default_sizes: bool = False


def for_faces(options: Options) -> Options:
    """The options for a model whose recipe names a face detector: default sizes gain FACE_SIZE (face
    mode's square); sizes the user gave stay as given."""
    if not options.default_sizes or FACE_SIZE in options.sizes:
        return options
    return replace(options, sizes=tuple(sorted({*options.sizes, FACE_SIZE})))


def file_name(size: Size | list[int], precision: str) -> str:
    """The model file of one size and precision: model-HxW-PRECISION.tflite."""
    return f"model-{size[0]}x{size[1]}-{precision}.tflite"

"""segmenter.js's chooseRuntime: which runtime and precision run a size, from what the build
recorded in model.json's metadata (LiteRT.js models, their accuracy, the times Chromium measured). Run in
Node on the module itself, every case in one process."""
from __future__ import annotations

import json

import pytest

from kit import PROJECT, needs_node, node, url

MODULE = PROJECT / "patcher" / "web" / "segmenter.js"

pytestmark = needs_node


def model(size, precision, accurate=True, away=0.995):
    return {"size": list(size), "precision": precision, "file": f"litert/model-{size[0]}x{size[1]}-{precision}.tflite",
            "accurate": accurate, "accuracy": {"overall": away - 0.01, "away_from_boundary": away}}


def timing(size, tfjs, float32, int8):
    return {"size": list(size), "browser": "Chromium 156", "threads": 2, "ms": {"tfjs": tfjs, "float32": float32, "int8": int8}}


S, M, L = (288, 288), (448, 448), (1024, 1024)
MODELS = [model(s, p) for s in (S, M, L) for p in ("float32", "int8")]
MEASURED = {"models": MODELS, "timings": [timing(S, 120, 90, 40), timing(M, 260, 190, 95), timing(L, 1400, 1500, 500)]}
INACCURATE = {"models": [m if m["precision"] == "float32" else {**m, "accurate": False, "accuracy":
                         {"overall": 0.96, "away_from_boundary": 0.987}} for m in MODELS],
              "timings": MEASURED["timings"]}
UNMEASURED = {"models": MODELS, "timings": []}
TFJS_FASTEST = {"models": MODELS, "timings": [timing(M, 100, 190, 150)]}
ONE_SIZE = {"models": [model(M, "float32"), model(M, "int8")], "timings": [timing(M, 260, 190, 95)]}


# a picture build's: float16 beside float32 and int8, each judged by PSNR (int8 under its floor)
PSNR = {"models": [{"size": list(M), "precision": p, "file": f"litert/model-448x448-{p}.tflite", "accurate": ok,
                    "accuracy": {"psnr": db, "within_one": 1.0}}
                   for p, ok, db in (("float32", True, 98.8), ("float16", True, 62.9), ("int8", False, 33.4))],
        "timings": [{"size": list(M), "browser": "Chromium 156", "threads": 2,
                     "ms": {"tfjs": 260, "float32": 190, "float16": 150, "int8": 95}}]}
PSNR_LOW16 = {**PSNR, "models": [{**m, "accurate": m["precision"] == "float32"} for m in PSNR["models"]]}


def meta(litert=None, quantization="float32"):
    found = {"patcher": {"quantization": quantization}, "input": {"default_size": [448, 448]}}
    if litert is not None:
        found["litert"] = litert
    return found


CASES = [
    # (id, metadata, options, size, expected (runtime, precision, size) or an error code, words in the reason)
    pytest.param(meta(MEASURED), {}, M, ("litert", "int8", M), "LiteRT.js int8 95 ms, LiteRT.js float32 190 ms, "
                 "tfjs wasm 260 ms", id="auto-takes-the-fastest-measured"),
    pytest.param(meta(MEASURED), {}, L, ("litert", "int8", L), "fastest the build measured at 1024x1024",
                 id="auto-at-another-built-size"),
    pytest.param(meta(INACCURATE), {}, M, ("litert", "float32", M), "int8 left out: 98.70% agreement",
                 id="auto-leaves-out-int8-below-its-floor"),
    pytest.param(meta(INACCURATE), {}, L, ("tfjs", "float32", L), "tfjs wasm 1400 ms, LiteRT.js float32 1500 ms",
                 id="auto-never-slower-than-tfjs"),
    pytest.param(meta(TFJS_FASTEST), {}, M, ("tfjs", "float32", M), "tfjs wasm 100 ms", id="tfjs-when-it-measured-fastest"),
    pytest.param(meta(UNMEASURED), {}, M, ("tfjs", "float32", M), "measured no speeds", id="auto-without-measurements"),
    pytest.param(meta(None), {}, M, ("tfjs", "float32", M), "no LiteRT.js models", id="auto-on-a-build-without-litert"),
    pytest.param(meta(MEASURED), {}, (500, 400), ("tfjs", "float32", (500, 400)), "no LiteRT.js model at 500x400",
                 id="auto-at-a-size-without-a-model"),
    pytest.param(meta(MEASURED), {}, None, ("tfjs", "float32", None), "no LiteRT.js model at the source's size",
                 id="auto-without-a-size"),
    pytest.param(meta(MEASURED), {"backend": "webgl"}, M, ("tfjs", "float32", M), "backend webgl",
                 id="auto-keeps-another-tfjs-backend"),
    pytest.param(meta(MEASURED), {"runtime": "tfjs"}, M, ("tfjs", "float32", M), "runtime tfjs", id="tfjs-asked-for"),
    pytest.param(meta(MEASURED, "uint8"), {"runtime": "tfjs"}, M, ("tfjs", "uint8", M), "runtime tfjs",
                 id="tfjs-in-its-own-precision"),
    pytest.param(meta(MEASURED), {"runtime": "litert", "precision": "float32"}, M, ("litert", "float32", M),
                 "runtime litert, precision float32", id="litert-float32-asked-for"),
    pytest.param(meta(INACCURATE), {"precision": "int8"}, M, ("litert", "int8", M), "under the build's floor",
                 id="int8-asked-for-though-inaccurate"),
    pytest.param(meta(ONE_SIZE), {"runtime": "litert"}, (1000, 900), ("litert", "int8", M),
                 "no LiteRT.js model at 1000x900, so the nearest built size, 448x448", id="litert-takes-the-nearest-size"),
    pytest.param(meta(MEASURED), {"runtime": "litert"}, (300, 280), ("litert", "int8", S), "nearest built size, 288x288",
                 id="nearest-by-area-and-shape"),
    pytest.param(meta(UNMEASURED), {"runtime": "litert"}, M, ("litert", "int8", M), "int8 where accurate",
                 id="litert-without-measurements-prefers-accurate-int8"),
    pytest.param(meta(MEASURED), {"precision": "float32"}, M, ("litert", "float32", M), "LiteRT.js float32 190 ms, "
                 "tfjs wasm 260 ms", id="float32-auto-runtime-compares-litert-and-tfjs"),
    pytest.param(meta(None), {"runtime": "litert"}, M, "options", "no LiteRT.js models", id="litert-without-models"),
    pytest.param(meta(MEASURED), {"runtime": "tfjs", "precision": "int8"}, M, "options", "use runtime 'litert'",
                 id="int8-on-tfjs"),
    pytest.param(meta(MEASURED), {"runtime": "onnx"}, M, "options", "options.runtime must be", id="unknown-runtime"),
    pytest.param(meta(MEASURED), {"precision": "fp16"}, M, "options", "options.precision must be", id="unknown-precision"),
    pytest.param(meta({"models": [model(M, "float32")], "timings": []}), {"precision": "int8"}, M, "options",
                 "no int8 LiteRT.js model at 448x448", id="int8-not-built"),
    pytest.param(meta(PSNR), {}, M, ("litert", "float16", M), "int8 left out: PSNR 33.4 dB against TensorFlow, "
                 "under the build's floor", id="auto-takes-accurate-float16-never-inaccurate-int8"),
    pytest.param(meta(PSNR_LOW16), {}, M, ("litert", "float32", M), "float16 left out: PSNR 62.9 dB",
                 id="auto-leaves-out-float16-marked-inaccurate"),
    pytest.param(meta(PSNR), {"runtime": "litert", "precision": "float16"}, M, ("litert", "float16", M),
                 "precision float16 was asked for (PSNR 62.9 dB", id="float16-asked-for"),
    pytest.param(meta(PSNR), {"precision": "int8"}, M, ("litert", "int8", M), "under the build's floor",
                 id="inaccurate-int8-only-when-asked-for"),
    pytest.param(meta(PSNR), {"runtime": "tfjs", "precision": "float16"}, M, "options", "use runtime 'litert'",
                 id="float16-on-tfjs"),
]

RUNNER = """
import {chooseRuntime} from %s;
const cases = JSON.parse(process.argv[1]);
const out = cases.map(([meta, options, size]) => {
  try { return {ok: chooseRuntime(meta, options, size)}; } catch (err) { return {error: err.code, message: err.message}; }
});
console.log(JSON.stringify(out));
"""


@pytest.fixture(scope="module")
def choices():
    """Every case's answer, from one Node process."""
    cases = [[p.values[0], p.values[1], list(p.values[2]) if p.values[2] else None] for p in CASES]
    return dict(zip((p.id for p in CASES), node(RUNNER % url(MODULE), json.dumps(cases), cwd=MODULE.parent), strict=True))


@pytest.mark.parametrize(("metadata", "options", "size", "expected", "words"), CASES)
def test_choose_runtime(metadata, options, size, expected, words, choices, request):
    got = choices[request.node.callspec.id]
    if isinstance(expected, str):
        assert got.get("error") == expected and words in got["message"], got
        return
    choice = got["ok"]
    runtime, precision, at = expected
    assert (choice["runtime"], choice["precision"]) == (runtime, precision), choice
    assert choice["size"] == (list(at) if at else None)
    assert words in choice["reason"], choice["reason"]
    if runtime == "litert":
        assert choice["file"] == f"litert/model-{at[0]}x{at[1]}-{precision}.tflite"
    else:
        assert choice["file"] is None

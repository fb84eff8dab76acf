"""Face mode on LiteRT.js, in headless Chromium: the synthetic face model (random weights) built with
`--litert` at face mode's crop size (FACES.size, 320 x 320) and the recipe's real face detector (fetched by
the build; these tests skip when it could not be), and its LiteRT.js detector where the recipe names one.
Face mode on LiteRT.js float32 finds the face (with the LiteRT.js detector) and its square's parse agrees
with tfjs's parse of that square, in the worker and on the main thread; int8 runs too; a crop size without a LiteRT.js
model runs at the nearest built size under `runtime: 'litert'` and on tfjs under 'auto', saying so; and
'auto' starts the runtime of the squares' size, not the whole frame's; a LiteRT.js detector that does not
load leaves the tfjs one, saying why."""
from __future__ import annotations

import json

import numpy as np
import pytest
import test_page
import test_faces_module
from test_faces_module import HEAD, PROBE, pictures
from test_litert import needs_build
from test_module import ATTEMPT, attempt
from test_page import metadata

from kit import needs_chromium
from patcher.cli import main

playwright, browser = test_page.playwright, test_page.browser  # the same fixtures, one Chromium per module
site, probe = test_faces_module.site, test_faces_module.probe  # serving this module's `folder`
pytestmark = [*needs_build, needs_chromium]

SIDE = 320  # FACES.size: the squares' default parse size


@pytest.fixture(scope="module")
def folder(checkouts, tmp_path_factory):
    """The synthetic face model with LiteRT.js models at SIDE, its detectors and the probe page (served by
    test_faces_module's `site`)."""
    out = tmp_path_factory.mktemp("faces-litert") / "model"
    assert main(["build", "--dest", str(checkouts / "celebamask"), "--random-weights", "--out", str(out),
                 "--no-check", "--litert", "--litert-sizes", f"{SIDE}x{SIDE}"]) == 0
    if not metadata(out).get("faces", {}).get("detector"):
        pytest.skip("the build could not fetch the face detector (no npm registry): no face mode to test")
    astronaut = pictures()["astronaut"]
    rgba = np.concatenate([astronaut, np.full((*astronaut.shape[:2], 1), 255, np.uint8)], axis=-1)
    (out / "astronaut.rgba").write_bytes(rgba.tobytes())
    (out / "probe.html").write_text(PROBE % {"sizes": json.dumps({"astronaut": [512, 512]}), "attempt": ATTEMPT})
    # the same build whose LiteRT.js detector's file is missing
    content = json.loads((out / "model.json").read_text())
    lite = content["userDefinedMetadata"]["faces"].get("litert")
    if lite and lite.get("detector"):
        lite["detector"] = "faces/missing.tflite"
        (out / "nolite.json").write_text(json.dumps(content))
    return out


# One segmenter created with `options`, its info before any call, then face mode on the astronaut.
FACE_MODE = """async (m) => {
    const seg = await m.createSegmenter({backend: 'wasm', measure: false, ...%(options)s});
    const started = seg.info;
    const r = await seg.segment(await picture('astronaut'), %(call)s);
    const info = seg.info;
    seg.dispose();
    return {started, info, faces: r.faces, labels: Array.from(r.labels), size: r.size, runtime: r.runtime,
            precision: r.precision, reason: r.reason};
}"""


def face_mode(probe, options: str, call: str = "{}") -> dict:
    got = attempt(probe, FACE_MODE % {"options": options, "call": call})
    assert got["ok"], got
    return got["value"]


def square(labels: list[int], crop: list[int]) -> np.ndarray:
    """The class map's pixels inside the square `crop` (inside the 512 x 512 frame)."""
    x, y, side, _ = crop
    return np.array(labels).reshape(512, 512)[max(0, y):y + side, max(0, x):x + side]


# Face mode on LiteRT.js float32, then tfjs: its own face mode, and LiteRT.js's squares parsed as whole
# frames and pasted back (face mode on tfjs with the same squares: test_faces_module shows they are equal).
COMPARE = """async (m) => {
    const image = await picture('astronaut');
    const where = {backend: 'wasm', measure: false, worker: %(worker)s};
    const lite = await m.createSegmenter({...where, runtime: 'litert', precision: 'float32'});
    const started = lite.info;
    const r = await lite.segment(image);
    const info = lite.info;
    lite.dispose();
    const tfjs = await m.createSegmenter({...where, runtime: 'tfjs'});
    const own = await tfjs.segment(image);
    const tinfo = tfjs.info;
    const parts = [];
    for (const face of r.faces) {
      const pixels = crop.cropPixels(image, face.crop, %(side)d);
      const whole = await tfjs.segment(new ImageData(pixels.data, %(side)d, %(side)d), {faces: false, size: [%(side)d, %(side)d]});
      parts.push({crop: face.crop, size: %(side)d, labels: whole.labels});
    }
    tfjs.dispose();
    return {started, info, faces: r.faces, labels: Array.from(r.labels), size: r.size, tfjs: {faces: own.faces, info: tinfo,
            pasted: Array.from(crop.paste(image.width, image.height, parts, {background: 0}).labels)}};
}"""


def iou(a: list[float], b: list[float]) -> float:
    w = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    h = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    return 0.0 if w <= 0 or h <= 0 else w * h / (a[2] * a[3] + b[2] * b[3] - w * h)


@pytest.mark.parametrize("worker", [True, False], ids=["worker", "main-thread"])
def test_litert_float32_face_mode_finds_the_face_and_pastes_what_tfjs_pastes(probe, folder, worker):
    got = attempt(probe, COMPARE % {"worker": "true" if worker else "false", "side": SIDE})
    assert got["ok"], got
    lite = got["value"]
    tfjs = lite["tfjs"]
    assert len(lite["faces"]) == len(tfjs["faces"]) == 1, (lite["faces"], tfjs["faces"])
    box = lite["faces"][0]["box"]
    assert HEAD[0] <= box[0] + box[2] / 2 <= HEAD[0] + HEAD[2] and HEAD[1] <= box[1] + box[3] / 2 <= HEAD[1] + HEAD[3]
    info = lite["info"]
    assert (info["runtime"], info["precision"], info["size"], info["worker"]) == ("litert", "float32", [SIDE, SIDE], worker)
    assert info["model"] == f"litert/model-{SIDE}x{SIDE}-float32.tflite" and "fallback" not in info
    assert lite["size"] == [SIDE, SIDE] and lite["started"]["size"] == [SIDE, SIDE]
    # the detector: LiteRT.js's where the build has it (and the squares are parsed there), else tfjs's
    faces = metadata(folder)["faces"]
    litert = faces.get("litert") or {}
    detector = info["faces"]
    if litert.get("detector"):
        assert detector["runtime"] == "litert" and detector["detector"] == f"{litert['package']}@{litert['version']}"
        assert detector["model"].endswith(litert["detector"]) and "LiteRT.js" in detector["reason"]
        assert iou(box, tfjs["faces"][0]["box"]) >= 0.5, "both detectors find the same face"
    else:
        assert detector["runtime"] == "tfjs" and detector["detector"] == f"{faces['package']}@{faces['version']}"
    assert tfjs["info"]["faces"]["runtime"] == "tfjs" and tfjs["info"]["faces"]["reason"] == "the squares are parsed on tfjs"
    crop = lite["faces"][0]["crop"]
    ours, theirs = square(lite["labels"], crop), square(tfjs["pasted"], crop)
    assert len(np.unique(theirs)) > 1, "a parse, not a constant map"
    assert np.mean(ours == theirs) >= 0.99
    outside = np.ones((512, 512), bool)
    outside[max(0, crop[1]):crop[1] + crop[2], max(0, crop[0]):crop[0] + crop[2]] = False
    assert np.all(np.array(lite["labels"]).reshape(512, 512)[outside] == 0), "background outside the square"


def test_litert_int8_face_mode_runs_in_the_worker(probe):
    got = face_mode(probe, "{runtime: 'litert', precision: 'int8'}")
    assert len(got["faces"]) == 1 and (got["runtime"], got["precision"], got["size"]) == ("litert", "int8", [SIDE, SIDE])
    assert len(np.unique(square(got["labels"], got["faces"][0]["crop"]))) > 1


def test_a_crop_size_without_a_litert_model_takes_the_nearest_under_litert_and_tfjs_under_auto(probe):
    lite = face_mode(probe, "{runtime: 'litert', precision: 'float32'}", "{faces: {size: 256}}")
    assert (lite["runtime"], lite["size"]) == ("litert", [SIDE, SIDE]) and len(lite["faces"]) == 1
    assert f"no LiteRT.js model at 256x256, so the nearest built size, {SIDE}x{SIDE}" in lite["reason"]
    auto = face_mode(probe, "{}", "{faces: {size: 256}}")
    assert (auto["runtime"], auto["size"]) == ("tfjs", [256, 256]) and "no LiteRT.js model at 256x256" in auto["reason"]


def test_auto_starts_the_runtime_of_the_squares_size_not_the_whole_frames(probe):
    faces = face_mode(probe, "{}")
    whole = face_mode(probe, "{faces: false}")
    assert faces["started"]["size"] == faces["size"] == [SIDE, SIDE], faces["started"]
    assert whole["started"]["size"] == whole["size"] == [448, 448] and whole["started"]["runtime"] == "tfjs"
    assert "no LiteRT.js model at 448x448" in whole["started"]["reason"]


def test_a_litert_detector_that_does_not_load_leaves_the_tfjs_one_saying_why(probe, folder):
    if not (folder / "nolite.json").is_file():
        pytest.skip("this build has no LiteRT.js detector (the recipe names none, or it could not be fetched)")
    got = face_mode(probe, "{model: 'nolite.json', runtime: 'litert', precision: 'float32'}")
    assert len(got["faces"]) == 1 and got["runtime"] == "litert"
    detector = got["info"]["faces"]
    assert detector["runtime"] == "tfjs" and "the LiteRT.js detector did not load" in detector["reason"]
    assert "missing.tflite" in detector["reason"], detector

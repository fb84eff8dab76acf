"""LiteRT.js models beside the tfjs one: `build --litert` and `check --litert` (issue 14, opt-in).

From the same edited frozen graph that the tfjs converter gets (build.prepare_graph: int32 class ids,
which LiteRT.js needs; it refuses int64), TensorFlow's own TFLite converter writes one model per input
size (LiteRT.js 2.5.3 has no resize call and refuses a concrete input for a [1, -1, -1, 3] model) and
per precision:

- float32;
- int8: full integer (int8 weights and activations, TFLITE_BUILTINS_INT8 only), float input, int32
  class ids, calibrated on a representative set of images (`--calibration DIR`, or by default the
  recipe's pictures and their mirror images; for a recipe without pictures, its sample image, variants of
  it and generated pictures; the metadata says which).

Each model has two outputs: the int32 class ids and, second, the float32 logits [1, H, W, C] they are the
argmax of (segmenter.js's soft masks are their softmax; the tfjs model keeps its one output and the module
fetches its logits node instead).

Each model is compared with TensorFlow's frozen graph (DIR.tf) with the Python TFLite interpreter on
check's test picture at its size: overall class-map agreement, agreement on pixels more than 2 px from a
class boundary of TensorFlow's map, and on pixels whose top-two probability margin (TensorFlow's) is at
least 0.05, with how many pixels each covers. float32 must meet the tfjs bound (99.9 %); int8 is
"accurate" when agreement away from boundaries is at least the int8 floor (99 % unless set).

Files: DIR/litert/model-HxW-PRECISION.tflite, the LiteRT.js runtime (litert.js, wasm-utils.js, wasm/)
and a harness page (index.html, harness.js) that runs a model in the browser; model.json's
userDefinedMetadata.litert lists them. TensorFlow runs in a child process:
`python -m patcher.litert convert|compare --job JOB.json` (one JSON object per line on stdout).
"""
from __future__ import annotations

import argparse
import base64
import importlib.util
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from patcher import graphfix, nodejs, outdir, page
from patcher.errors import BuildError, ParityError

FOLDER = "litert"
# the sizes the demo page offers; one model per size (LiteRT.js 2.5.3 takes no dynamic input size)
SIZES = ((288, 288), (448, 448), (1024, 1024))
PRECISIONS = ("float32", "int8")
FLOAT_MIN_AGREEMENT = 0.999  # the tfjs bound (check.MIN_AGREEMENT)
INT8_FLOOR = 0.99  # int8 is "accurate" when agreement away from class boundaries reaches this
BOUNDARY_PX = 2
MARGIN = 0.05
CALIBRATION_IMAGES = 20
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".gif", ".tif", ".tiff"}
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
HARNESS = Path(__file__).resolve().parent / "web_litert"
BROWSER_REPEAT = 3  # timed runs per model and size in Chromium, after a warm-up
BROWSER_TIMEOUT = 900  # seconds for the whole Chromium run (a hung wasm thread pool must not hang the build)


@dataclass(frozen=True)
class Options:
    """What `build --litert` makes: the sizes (HxW), the calibration images (None: the tool's own), and the
    int8 floor."""

    sizes: tuple = SIZES
    calibration: Path | None = None
    int8_floor: float = INT8_FLOOR
    precisions: tuple = field(default=PRECISIONS)


def file_name(size, precision: str) -> str:
    return f"model-{size[0]}x{size[1]}-{precision}.tflite"


# --- accuracy (numpy only) --------------------------------------------------------------------------

def near_boundary(labels: np.ndarray, px: int = BOUNDARY_PX) -> np.ndarray:
    """True where a pixel of the class map [H, W] has a pixel of another class within `px` pixels
    (a (2 px + 1) square around it; the image border is not a boundary)."""
    h, w = labels.shape
    padded = np.pad(labels, px, mode="edge")
    near = np.zeros(labels.shape, dtype=bool)
    for dy in range(-px, px + 1):
        for dx in range(-px, px + 1):
            near |= padded[px + dy:px + dy + h, px + dx:px + dx + w] != labels
    return near


def agreement(reference: np.ndarray, probabilities: np.ndarray, labels: np.ndarray) -> dict:
    """How a class map `labels` agrees with TensorFlow's (`reference`, [H, W], with its probabilities
    [..., H, W, C]): overall, more than BOUNDARY_PX from a reference class boundary, and where the
    reference's top-two probability margin is at least MARGIN; with the pixels each covers."""
    reference = np.asarray(reference).reshape(labels.shape[-2:])
    labels = np.asarray(labels).reshape(reference.shape)
    same = labels == reference
    away = ~near_boundary(reference)
    top = np.sort(np.asarray(probabilities, dtype=np.float32).reshape(*reference.shape, -1), axis=-1)
    confident = top[..., -1] - top[..., -2] >= MARGIN

    def share(mask):
        n = int(mask.sum())
        return (float(same[mask].mean()) if n else None), n

    overall, pixels = share(np.ones(reference.shape, dtype=bool))
    away_share, away_pixels = share(away)
    confident_share, confident_pixels = share(confident)
    return {"overall": overall, "pixels": pixels, "away_from_boundary": away_share, "away_pixels": away_pixels,
            "confident": confident_share, "confident_pixels": confident_pixels}


def judge(entry: dict, int8_floor: float) -> bool:
    """Whether a model counts as accurate, in the Python interpreter and (where it ran) in Chromium: float32
    by the tfjs bound on all pixels, int8 by agreement away from class boundaries (no such pixels: by all
    pixels)."""
    def meets(acc):
        if entry["precision"] == "float32":
            return acc["overall"] >= FLOAT_MIN_AGREEMENT
        value = acc["away_from_boundary"] if acc["away_from_boundary"] is not None else acc["overall"]
        return value >= int8_floor

    return meets(entry["accuracy"]) and (not entry.get("browser") or meets(entry["browser"]["accuracy"]))


# --- calibration images -----------------------------------------------------------------------------

def _generated(n: int, rng: np.random.Generator) -> list[np.ndarray]:
    from patcher.check import picture_pixels  # noqa: PLC0415 - check imports this module's caller

    found = []
    for i in range(n):
        h, w = int(rng.integers(160, 512)), int(rng.integers(160, 512))
        picture = picture_pixels(h, w).astype(np.float32)
        picture = picture[:, ::-1] if i % 2 else picture
        picture = picture * rng.uniform(0.6, 1.3) + rng.normal(0, 12, picture.shape)
        found.append(np.clip(picture, 0, 255).astype(np.uint8))
    return found


def calibration_images(folder: Path | None, sample: Path | None, count: int = CALIBRATION_IMAGES,
                       pictures: list[tuple[str, np.ndarray]] | None = None) -> tuple[list[np.ndarray], dict]:
    """RGB uint8 pictures to calibrate the int8 models on, and how the metadata describes them: every image
    in `folder` (the user's); else the recipe's `pictures` (name, pixels) and their mirror images, when it
    names some (patcher/pictures.py); else the recipe's `sample` image, crops, flips and brightness variants
    of it and generated pictures (`count` in all, the same every build)."""
    from PIL import Image  # noqa: PLC0415

    if folder is not None:
        folder = Path(folder)
        if not folder.is_dir():
            raise BuildError(f"--calibration {folder} is not a folder of images")
        files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        images = []
        for path in files:
            try:
                with Image.open(path) as image:
                    images.append(np.asarray(image.convert("RGB")))
            except OSError as exc:
                raise BuildError(f"--calibration: cannot read {path}: {exc}") from None
        if not images:
            raise BuildError(f"--calibration {folder} holds no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
        return images, {"source": "user", "folder": str(folder.absolute()), "images": len(images)}
    if pictures:
        images = [p for _, p in pictures] + [p[:, ::-1].copy() for _, p in pictures]
        about = f"the recipe's {len(pictures)} pictures ({', '.join(n for n, _ in pictures)}) and their mirror images"
        return images, {"source": "recipe", "images": len(images), "description": about}
    rng = np.random.default_rng(0)
    images = []
    if sample is not None:
        with Image.open(sample) as image:
            picture = np.asarray(image.convert("RGB"))
        h, w = picture.shape[:2]
        images += [picture, picture[:, ::-1]]
        for _ in range(max(0, count // 2 - 2)):
            ch, cw = int(h * rng.uniform(0.5, 0.9)), int(w * rng.uniform(0.5, 0.9))
            y, x = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
            crop = picture[y:y + ch, x:x + cw].astype(np.float32) * rng.uniform(0.7, 1.25) + rng.uniform(-20, 20)
            images.append(np.clip(crop, 0, 255).astype(np.uint8))
    made = count - len(images)
    images += _generated(made, rng)
    about = (f"the recipe's sample image ({sample.name}), its mirror image and {len(images) - made - 2} crops of "
             f"it with other brightness, and {made} generated pictures" if sample is not None
             else f"{made} generated pictures")
    return images, {"source": "default", "images": len(images), "description": about}


# --- the child process (TensorFlow) -----------------------------------------------------------------

def emit(**fields) -> None:
    print(json.dumps(fields), flush=True)


def _resized(image: np.ndarray, size) -> np.ndarray:
    from PIL import Image  # noqa: PLC0415

    return np.asarray(Image.fromarray(image).resize((size[1], size[0]), Image.BILINEAR))


def child_convert(tf, job: dict) -> None:
    """Write each (size, precision) model of the job; emits its file and bytes."""
    tf1 = tf.compat.v1
    images = [np.load(p) for p in job.get("calibration", [])]
    scale, offset = np.float32(job["scale"]), np.float32(job["offset"])
    graph_def = tf1.GraphDef()
    graph_def.ParseFromString(Path(job["graph"]).read_bytes())
    logits = graphfix.argmax_source({n.name: (n.op, list(n.input)) for n in graph_def.node}, job["output"])
    if logits is None:
        raise ValueError(f"error: no ArgMax feeds the class-id output {job['output']}")
    emit(stage="outputs", labels=job["output"], logits=logits)
    for entry in job["models"]:
        h, w = entry["size"]
        start = time.perf_counter()
        converter = tf1.lite.TFLiteConverter.from_frozen_graph(
            job["graph"], [job["input"]], [job["output"], logits], {job["input"]: [1, h, w, 3]})
        if entry["precision"] == "int8":
            def representative(size=(h, w)):
                for image in images:
                    x = _resized(image, size)
                    x = x[..., ::-1] if job.get("color") == "BGR" else x
                    yield [(x.astype(np.float32) * scale + offset)[None].astype(np.float32)]

            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            converter.representative_dataset = representative
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            converter.inference_input_type = tf.float32
        data = converter.convert()
        Path(entry["path"]).write_bytes(data)
        emit(stage="convert", file=Path(entry["path"]).name, bytes=len(data),
             seconds=round(time.perf_counter() - start, 1))


def pooled(parts: list[dict]) -> dict:
    """agreement() over several pictures: each share weighted by the pixels it covers."""
    found = {}
    for key, count in (("overall", "pixels"), ("away_from_boundary", "away_pixels"), ("confident", "confident_pixels")):
        n = sum(p[count] for p in parts)
        found[key] = sum(p[key] * p[count] for p in parts if p[key] is not None) / n if n else None
        found[count] = n
    return found


def child_compare(tf, job: dict) -> None:
    """Per size: TensorFlow's frozen graph and each model on the job's pictures (RGB uint8 .npy files, the
    recipe's; else check's test picture), resized to the size; emits the agreement pooled over them. The
    first picture is saved for LiteRT.js in Chromium."""
    from patcher.check import picture_pixels, softmax  # noqa: PLC0415

    tf1 = tf.compat.v1
    graph_def = tf1.GraphDef()
    graph_def.ParseFromString(Path(job["graph"]).read_bytes())
    graph = tf1.Graph()
    with graph.as_default():
        tf1.import_graph_def(graph_def, name="")
    fetches = [graph.get_tensor_by_name(f"{job['labels']}:0"), graph.get_tensor_by_name(f"{job['probabilities']}:0")]
    image = graph.get_tensor_by_name(f"{job['input']}:0")
    scale, offset = np.float32(job["scale"]), np.float32(job["offset"])
    pictures = [np.load(p) for p in job.get("pictures", [])]
    with tf1.Session(graph=graph) as sess:
        for size in sorted({tuple(m["size"]) for m in job["models"]}):
            inputs = []
            for pixels in [_resized(p, size) for p in pictures] or [picture_pixels(*size)]:
                pixels = pixels[..., ::-1] if job.get("color") == "BGR" else pixels
                x = (pixels.astype(np.float32) * scale + offset)[None].astype(np.float32)
                inputs.append((x, *sess.run(fetches, {image: x})))
            if job.get("save"):  # for LiteRT.js in Chromium: the first input and TensorFlow's outputs
                stem = Path(job["save"]) / f"{size[0]}x{size[1]}"
                inputs[0][0].tofile(f"{stem}.input.bin")
                np.save(f"{stem}.labels.npy", inputs[0][1])
                np.save(f"{stem}.probabilities.npy", inputs[0][2])
            for entry in (m for m in job["models"] if tuple(m["size"]) == size):
                interpreter = tf.lite.Interpreter(model_path=entry["path"], num_threads=job.get("threads", 2))
                interpreter.allocate_tensors()
                inp = interpreter.get_input_details()[0]
                out = next(o for o in interpreter.get_output_details() if o["dtype"] in (np.int32, np.int64))
                scores = next((o for o in interpreter.get_output_details() if len(o["shape"]) == 4), None)
                parts, diff = [], None
                for x, reference, probabilities in inputs:
                    interpreter.set_tensor(inp["index"], x)
                    interpreter.invoke()
                    parts.append(agreement(reference, probabilities, interpreter.get_tensor(out["index"])))
                    if scores is not None:  # the logits output: how far its softmax is from TensorFlow's
                        got = softmax(interpreter.get_tensor(scores["index"]))
                        diff = max(diff or 0.0, float(np.max(np.abs(got - probabilities.reshape(got.shape)))))
                accuracy = pooled(parts)
                accuracy["pictures"] = len(parts)
                if diff is not None:
                    accuracy["probabilities_max_diff"] = diff
                emit(stage="compare", file=Path(entry["path"]).name, size=list(size), precision=entry["precision"],
                     input_dtype=np.dtype(inp["dtype"]).name, output_dtype=np.dtype(out["dtype"]).name,
                     outputs=len(interpreter.get_output_details()), accuracy=accuracy)


MODES = ("browser", "compare", "convert")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=MODES)
    parser.add_argument("--job", required=True)
    args = parser.parse_args(argv)
    tf = None
    if args.mode != "browser":
        try:
            import tensorflow as tf
        except ImportError as exc:
            emit(error="missing", message=str(exc))
            return 9
    try:
        child = {"convert": child_convert, "compare": child_compare, "browser": child_browser}[args.mode]
        child(tf, json.loads(Path(args.job).read_text()))
    except Exception as exc:  # noqa: BLE001 - reported as one line to the parent
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()] or [""]
        told = next((line for line in lines if "error:" in line.lower()), lines[0])
        emit(error="failed", stage=args.mode, message=f"{type(exc).__name__}: {told}")
        return 1
    return 0


def _child(mode: str, job: dict, work: Path, error, timeout: float | None = None) -> list[dict]:
    """Run `python -m patcher.litert MODE` on `job`; its records, or `error` with the one it reported."""
    path = work / f"litert-{mode}.json"
    path.write_text(json.dumps(job))
    from patcher.verify import run_child, upstream_env  # noqa: PLC0415

    return run_child("patcher.litert", mode, ["--job", str(path)], work, upstream_env(), error,
                     lambda r: f"LiteRT {mode}: {r['message']}", timeout)


# --- build ------------------------------------------------------------------------------------------

def install_runtime(folder: Path) -> None:
    """Copy the pinned LiteRT.js browser files and the harness page into `folder` (DIR/litert)."""
    modules = nodejs.modules()
    for package, name, target in RUNTIME_FILES:
        source = modules / package / name
        if not source.is_file():
            raise BuildError(f"{source} is missing; run 'npm ci' again ({RUNTIME_PACKAGE} {RUNTIME_VERSION} is "
                             "pinned in package.json)")
        (folder / target).parent.mkdir(parents=True, exist_ok=True)
        if target == "litert.js":
            # its one bare import, made relative: no import map needed (Web Workers cannot have one)
            text = source.read_text(encoding="utf-8")
            if text.count(BARE_IMPORT) != 1:
                raise BuildError(f"{source} does not import {BARE_IMPORT!r} once; is it {RUNTIME_PACKAGE} "
                                 f"{RUNTIME_VERSION}? run 'npm ci' again")
            (folder / target).write_text(text.replace(BARE_IMPORT, 'from "./wasm-utils.js"'), encoding="utf-8")
            continue
        shutil.copy2(source, folder / target)
    for path in HARNESS.iterdir():
        if path.is_file():
            shutil.copy2(path, folder / path.name)


def _job_models(folder: Path, options: Options) -> list[dict]:
    return [{"size": list(size), "precision": precision, "path": str(folder / file_name(size, precision))}
            for size in options.sizes for precision in options.precisions]


def build(graph: Path, reference: Path, folder: Path, meta: dict, options: Options, sample: Path | None,
          pictures: list[tuple[str, np.ndarray]] | None = None) -> dict:
    """Convert `graph` (the edited frozen graph) into `folder`, compare each model with `reference` (the
    freeze script's graph), copy the runtime; the `litert` entry of model.json's metadata."""
    folder.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="patcher-litert-"))
    try:
        images, calibration = ([], None)
        if "int8" in options.precisions:
            images, calibration = calibration_images(options.calibration, sample, pictures=pictures)
        files = []
        for i, image in enumerate(images):
            np.save(work / f"calibration-{i}.npy", image)
            files.append(str(work / f"calibration-{i}.npy"))
        inp = meta["input"]
        labels = next(o["name"] for o in meta["outputs"] if o["kind"] == "labels")
        models = _job_models(folder, options)
        common = {"input": inp["name"], "scale": inp["scale"], "offset": inp["offset"], "color": inp.get("color")}
        print(f"converting to TFLite for LiteRT.js: {len(models)} models ({', '.join(options.precisions)} at "
              f"{', '.join(f'{h}x{w}' for h, w in options.sizes)}) ...", file=sys.stderr)
        records = _child("convert", {**common, "graph": str(graph), "output": labels, "models": models,
                                     "calibration": files}, work, BuildError)
        converted = {r["file"]: r for r in records if r.get("stage") == "convert"}
        logits = next(r["logits"] for r in records if r.get("stage") == "outputs")
        install_runtime(folder)
        entries, timings = compare_models(reference, folder, meta, models, options.int8_floor, work, building=True,
                                          pictures=pictures)
        for entry in entries:
            entry["seconds_to_convert"] = converted[Path(entry["file"]).name]["seconds"]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report(entries, timings, options.int8_floor)
    failed = [e for e in entries if e["precision"] == "float32" and not e["accurate"]]
    if failed:
        raise ParityError(_failure(failed))
    result = {"runtime": f"{RUNTIME_PACKAGE} {RUNTIME_VERSION}", "folder": FOLDER, "harness": f"{FOLDER}/index.html",
              "input": {"name": inp["name"], "dtype": "float32", "layout": "NHWC"},
              "output": {"name": labels, "dtype": "int32", "shape": ["H", "W"]},
              # the second output: the scores the class ids are the argmax of (soft masks are their softmax)
              "logits": {"name": logits, "dtype": "float32", "shape": [1, "H", "W", len(meta["classes"])]},
              "sizes": [list(s) for s in options.sizes], "precisions": list(options.precisions),
              "int8_floor": options.int8_floor, "float32_min_agreement": FLOAT_MIN_AGREEMENT,
              "accuracy_on": (f"the recipe's {len(pictures)} pictures" if pictures else "check's test picture")
              + " at each size, against TensorFlow's frozen graph (float32): accuracy in the Python TFLite interpreter"
              + (", pooled over the pictures; browser.accuracy in LiteRT.js in Chromium on the first"
                 if pictures else ", browser.accuracy in LiteRT.js in Chromium"),
              "timings_on": f"headless Chromium, median of {BROWSER_REPEAT} runs after a warm-up, tfjs-wasm on "
                            "model.json and LiteRT.js (XNNPACK) on each model, the same threads",
              "models": entries, "timings": timings}
    if calibration is not None:
        result["calibration"] = calibration
    return result


def _saved(pictures, work: Path) -> list[str]:
    """The pictures ((name, RGB uint8)) as .npy files for the child process."""
    files = []
    for i, (_, pixels) in enumerate(pictures or []):
        np.save(work / f"picture-{i}.npy", pixels)
        files.append(str(work / f"picture-{i}.npy"))
    return files


def compare_models(reference: Path, folder: Path, meta: dict, models: list[dict], int8_floor: float,
                   work: Path, building: bool = False, pictures=None) -> tuple[list[dict], list[dict]]:
    """Each model's agreement with TensorFlow, as metadata entries (file relative to model.json), in the
    Python interpreter and in LiteRT.js in Chromium (where it runs here); and the times Chromium measured.
    A Chromium that fails is BuildError while `building`, else ParityError."""
    inp = meta["input"]
    names = meta["patcher"].get("reference_outputs") or {}
    labels = names.get("labels") or next(o["name"] for o in meta["outputs"] if o["kind"] == "labels")
    if not names.get("probabilities"):
        raise ParityError("model.json's metadata names no probabilities tensor (patcher.reference_outputs) to "
                          "measure margins with; build again")
    print("comparing the TFLite models with TensorFlow (Python TFLite interpreter) ...", file=sys.stderr)
    job = {"graph": str(reference), "input": inp["name"], "labels": labels, "probabilities": names["probabilities"],
           "scale": inp["scale"], "offset": inp["offset"], "color": inp.get("color"), "models": models,
           "save": str(work), "pictures": _saved(pictures, work)}
    entries = []
    for record in _child("compare", job, work, ParityError):
        if record.get("stage") != "compare":
            continue
        path = folder / record["file"]
        entry = {"size": record["size"], "precision": record["precision"], "file": f"{FOLDER}/{record['file']}",
                 "bytes": path.stat().st_size, "input_dtype": record["input_dtype"],
                 "output_dtype": record["output_dtype"], "outputs": record["outputs"], "accuracy": record["accuracy"]}
        entries.append(entry)
    why = chromium_missing()
    timings = []
    if why:
        then = "; segmenter.js's runtime 'auto' takes tfjs for this build" if building else ""
        print(f"note: LiteRT.js was not run in a browser and no speeds were measured ({why}){then}", file=sys.stderr)
    else:
        timings = in_chromium(folder.parent, entries, work, BuildError if building else ParityError)
    for entry in entries:
        entry["accurate"] = judge(entry, int8_floor)
    return entries, timings


def chromium_missing() -> str | None:
    """Why LiteRT.js cannot run in headless Chromium here; None when it can."""
    if importlib.util.find_spec("playwright") is None:
        return "playwright is not installed: pip install 'patcher[web]'"
    if not Path(page.CHROMIUM).exists():
        return f"Debian's chromium is not installed ({page.CHROMIUM}): apt-get install chromium"
    return None


def in_chromium(model_dir: Path, entries: list[dict], saved: Path, error, repeat: int = BROWSER_REPEAT) -> list[dict]:
    """LiteRT.js in headless Chromium (a child process: `python -m patcher.litert browser`), through the
    harness page in model_dir/litert: each model's class map on check's test picture against TensorFlow's
    (saved in `saved` by the compare child) as entry["browser"]; per size, the median ms of `repeat` runs
    of each model and of tfjs-wasm on model.json, all with one thread per core."""
    threads = len(os.sched_getaffinity(0))
    print(f"running LiteRT.js and tfjs-wasm in headless Chromium ({threads} threads) ...", file=sys.stderr)
    job = {"model_dir": str(model_dir), "saved": str(saved), "repeat": repeat, "threads": threads,
           "models": [{"file": e["file"], "size": e["size"], "precision": e["precision"]} for e in entries]}
    records = _child("browser", job, saved, error, BROWSER_TIMEOUT)
    by_file = {r["file"]: r for r in records if r.get("stage") == "browser"}
    for entry in entries:
        found = by_file[entry["file"]]
        entry["browser"] = {k: found[k] for k in ("accuracy", "threads", "threaded_build", "fully_accelerated")}
    return [{k: r[k] for k in ("size", "browser", "threads", "tfjs_threads", "ms")}
            for r in records if r.get("stage") == "timing"]


def child_browser(tf, job: dict) -> None:
    """LiteRT.js and tfjs-wasm in headless Chromium on the models of the job (see in_chromium)."""
    from playwright.sync_api import sync_playwright  # noqa: PLC0415 - only where a browser runs

    saved, threads, repeat = Path(job["saved"]), job["threads"], job["repeat"]
    httpd = page.server(Path(job["model_dir"]), quiet=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        with sync_playwright() as p:
            chromium = p.chromium.launch(executable_path=page.CHROMIUM, args=page.CHROMIUM_FLAGS)
            browser = f"Chromium {chromium.version.split('.')[0]}"
            tab = chromium.new_page()
            tab.goto(f"http://127.0.0.1:{httpd.server_address[1]}/{FOLDER}/index.html")
            tab.wait_for_function("window.harnessReady === true", timeout=60_000)
            ran = tab.evaluate("harness.init({threads: true})")
            tfjs = tab.evaluate("(n) => harness.tfjsInit(n)", threads)
            models = job["models"]
            for size in sorted({tuple(m["size"]) for m in models}, key=lambda s: s[0] * s[1]):
                h, w = size
                stem, shape = saved / f"{h}x{w}", [1, h, w, 3]
                x = base64.b64encode(Path(f"{stem}.input.bin").read_bytes()).decode()
                reference, probabilities = np.load(f"{stem}.labels.npy"), np.load(f"{stem}.probabilities.npy")
                ms = {"tfjs": statistics.median(tab.evaluate("([s, n]) => harness.tfjsTime(s, n)", [shape, repeat]))}
                for m in (m for m in models if tuple(m["size"]) == size):
                    loaded = tab.evaluate("([f, n]) => harness.load('m', f, n)", [Path(m["file"]).name, threads])
                    out = tab.evaluate("([x, s]) => harness.run('m', x, s)", [x, shape])
                    labels = np.frombuffer(base64.b64decode(out["labels"]), dtype=np.int32).reshape(h, w)
                    emit(stage="browser", file=m["file"], accuracy=agreement(reference, probabilities, labels),
                         threads=loaded["threads"], threaded_build=ran["threaded"],
                         fully_accelerated=loaded["fullyAccelerated"])
                    ms[m["precision"]] = statistics.median(
                        tab.evaluate("([s, n]) => harness.time('m', s, n)", [shape, repeat]))
                emit(stage="timing", size=[h, w], browser=browser, threads=threads, tfjs_threads=tfjs["threads"],
                     ms={k: round(v, 1) for k, v in ms.items()})
            chromium.close()
    finally:
        httpd.shutdown()


def report(entries: list[dict], timings: list[dict], int8_floor: float) -> None:
    def pct(value):
        return "-" if value is None else f"{100 * value:.3f}%"

    print(f"LiteRT models against TensorFlow (float32 must agree on >= {100 * FLOAT_MIN_AGREEMENT:g}% of pixels; "
          f"int8 counts as accurate at >= {100 * int8_floor:g}% away from class boundaries)")
    print(f"{'model':>32} {'bytes':>9} {'where':>9} {'all pixels':>11} {'> 2 px from edge':>22} "
          f"{'margin >= 0.05':>22}  accurate")
    for e in entries:
        runs = [("Python", e["accuracy"])] + ([("Chromium", e["browser"]["accuracy"])] if e.get("browser") else [])
        for i, (where, a) in enumerate(runs):
            name, size = (Path(e["file"]).name, str(e["bytes"])) if i == 0 else ("", "")
            print(f"{name:>32} {size:>9} {where:>9} {pct(a['overall']):>11} {pct(a['away_from_boundary']):>10} of "
                  f"{a['away_pixels']:>8} {pct(a['confident']):>10} of {a['confident_pixels']:>8}  "
                  f"{('yes' if e['accurate'] else 'no') if i == len(runs) - 1 else ''}")
    if timings:
        print(f"ms per run in {timings[0]['browser']} ({timings[0]['threads']} threads; median of {BROWSER_REPEAT}):")
        for t in timings:
            print(f"  {t['size'][0]}x{t['size'][1]}: " + ", ".join(
                f"{'tfjs wasm' if k == 'tfjs' else 'LiteRT.js ' + k} {v:.1f}" for k, v in t["ms"].items()))


def _failure(failed: list[dict]) -> str:
    e = failed[0]
    where, acc = "Python interpreter", e["accuracy"]
    if acc["overall"] >= FLOAT_MIN_AGREEMENT and e.get("browser"):
        where, acc = "LiteRT.js in Chromium", e["browser"]["accuracy"]
    return (f"{len(failed)} float32 LiteRT model(s) out of bounds; first: {Path(e['file']).name} ({where}): agreement "
            f"with TensorFlow {100 * acc['overall']:.3f}% (>= {100 * FLOAT_MIN_AGREEMENT:g}%)")


# --- check ------------------------------------------------------------------------------------------

def check(model_dir: Path, int8_floor: float | None = None, pictures=None) -> list[dict]:
    """`check --litert`: compare the build's TFLite models with TensorFlow again (on `pictures`, the recipe's,
    as the build did; else check's test picture); ParityError (exit 16) when a float32 model is below the
    tfjs bound. int8 below its floor is reported, not failed."""
    from patcher import check as checking  # noqa: PLC0415

    model_dir = checking._built(model_dir)
    meta = checking.metadata(model_dir)
    entry = meta.get("litert")
    if not isinstance(entry, dict) or not isinstance(entry.get("models"), list):
        raise ParityError(f"{model_dir} has no LiteRT models (model.json's metadata has no 'litert'); build it "
                          "with 'python -m patcher build --litert'")
    floor = entry.get("int8_floor", INT8_FLOOR) if int8_floor is None else int8_floor
    folder = model_dir / FOLDER
    models = []
    for m in entry["models"]:
        rel = m.get("file")
        if outdir.unsafe(rel) or not str(rel).startswith(f"{FOLDER}/") or not outdir.within(model_dir, model_dir / rel):
            raise ParityError(f"model.json's litert metadata names {rel!r}, outside {folder}; refusing to read it")
        if not (model_dir / rel).is_file():
            raise ParityError(f"{model_dir / rel} is missing; build again")
        models.append({"size": m["size"], "precision": m["precision"], "path": str(model_dir / rel)})
    work = Path(tempfile.mkdtemp(prefix="patcher-litert-check-"))
    try:
        entries, timings = compare_models(outdir.graph_path(model_dir), folder, meta, models, floor, work,
                                          pictures=pictures)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report(entries, timings, floor)
    failed = [e for e in entries if e["precision"] == "float32" and not e["accurate"]]
    if failed:
        raise ParityError(_failure(failed))
    print(f"checked: {len(entries)} LiteRT models; float32 within the tfjs bound; int8 accurate at "
          f"{sum(e['accurate'] for e in entries if e['precision'] == 'int8')} of "
          f"{sum(e['precision'] == 'int8' for e in entries)} sizes")
    return entries


if __name__ == "__main__":
    sys.exit(main())

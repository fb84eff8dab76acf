"""`build --litert` and `check --litert`: convert (build only), compare each model with TensorFlow in the
Python TFLite interpreter and in LiteRT.js in Chromium (where it runs here), by the output kind (patcher/kinds),
report, and fail when a float32 model misses the kind's bound (labels: the tfjs bound; image: pixel values
within one level); a lossy precision below its floor is reported, not failed."""
from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from patcher import outdir
from patcher.check import built, metadata
from patcher.child import Error
from patcher.errors import BuildError, ParityError
from patcher.kinds import of_metadata
from patcher.litert.accuracy import Entry, Timing, failure, judge
from patcher.litert.calibration import calibration_images
from patcher.litert.chromium import chromium_missing, in_chromium
from patcher.litert.job import run
from patcher.litert.options import BROWSER_REPEAT, FOLDER, RUNTIME_PACKAGE, RUNTIME_VERSION, Options, file_name
from patcher.litert.report import report
from patcher.litert.runtime import install_runtime

Pictures = list[tuple[str, np.ndarray]]


def _job_models(folder: Path, options: Options) -> list[dict[str, Any]]:
    return [{"size": list(size), "precision": precision, "path": str(folder / file_name(size, precision))}
            for size in options.sizes for precision in options.precisions]


def _saved(pictures: list[np.ndarray], work: Path, stem: str) -> list[str]:
    """The pictures (RGB uint8 arrays) as .npy files for the child process."""
    files = []
    for i, pixels in enumerate(pictures):
        np.save(work / f"{stem}-{i}.npy", pixels)
        files.append(str(work / f"{stem}-{i}.npy"))
    return files


def build(graph: Path, reference: Path, folder: Path, meta: dict[str, Any], options: Options, sample: Path | None,
          pictures: Pictures | None = None) -> dict[str, Any]:
    """Convert `graph` (the edited frozen graph) into `folder`, compare each model with `reference` (the
    freeze script's graph) by the output kind, copy the runtime; the `litert` entry of model.json's
    metadata. ParityError when a float32 model is out of the kind's bounds; BuildError when conversion or
    Chromium fails, or for an int8 floor the kind does not take."""
    judged = of_metadata(meta)
    try:
        int8_floor = judged.litert_floor(options.int8_floor)
    except ValueError as exc:
        raise BuildError(str(exc)) from None
    folder.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="patcher-litert-"))
    try:
        images: list[np.ndarray] = []
        calibration = None
        if "int8" in options.precisions:
            images, calibration = calibration_images(options.calibration, sample, pictures=pictures)
        inp = meta["input"]
        output = next(o["name"] for o in meta["outputs"] if o["kind"] == judged.name)
        models = _job_models(folder, options)
        print(f"converting to TFLite for LiteRT.js: {len(models)} models ({', '.join(options.precisions)} at "
              f"{', '.join(f'{h}x{w}' for h, w in options.sizes)}) ...", file=sys.stderr)
        records = run("convert", {"input": inp, "graph": str(graph), "output": output, "models": models,
                                  "kind": judged.name, "calibration": _saved(images, work, "calibration")},
                      work, BuildError)
        converted = {r["file"]: r["seconds"] for r in records if r.get("stage") == "convert"}
        names = next(r["names"] for r in records if r.get("stage") == "outputs")
        install_runtime(folder)
        entries, timings = compare_models(reference, folder, meta, models, int8_floor, work, building=True,
                                          pictures=pictures, converted=converted)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    report(entries, timings, int8_floor, judged)
    failed = [e for e in entries if e.precision == "float32" and not e.accurate]
    if failed:
        raise ParityError(failure(failed, judged))
    result = {"runtime": f"{RUNTIME_PACKAGE} {RUNTIME_VERSION}", "folder": FOLDER, "harness": f"{FOLDER}/index.html",
              "input": {"name": inp["name"], "dtype": "float32", "layout": "NHWC"},
              **judged.litert_metadata(meta, names),
              "sizes": [list(s) for s in options.sizes], "precisions": list(options.precisions),
              "int8_floor": int8_floor,
              "accuracy_on": (f"the recipe's {len(pictures)} pictures" if pictures else "check's test picture")
              + " at each size, against TensorFlow's frozen graph (float32): accuracy in the Python TFLite interpreter"
              + (", pooled over the pictures; browser.accuracy in LiteRT.js in Chromium on the first"
                 if pictures else ", browser.accuracy in LiteRT.js in Chromium"),
              "timings_on": f"headless Chromium, median of {BROWSER_REPEAT} runs after a warm-up, tfjs-wasm on "
                            "model.json and LiteRT.js (XNNPACK) on each model, the same threads",
              "models": [e.to_json() for e in entries], "timings": [t.to_json() for t in timings]}
    if calibration is not None:
        result["calibration"] = calibration
    return result


def compare_models(reference: Path, folder: Path, meta: dict[str, Any], models: list[dict[str, Any]],
                   int8_floor: float, work: Path, building: bool = False, pictures: Pictures | None = None,
                   converted: dict[str, float] | None = None) -> tuple[list[Entry], list[Timing]]:
    """Each model's accuracy against TensorFlow by the output kind, in the Python interpreter and in
    LiteRT.js in Chromium (where it runs here), with the seconds it took to convert (`converted`, by file
    name, when building); and the times Chromium measured. A Chromium that fails is BuildError while
    `building`, else ParityError."""
    judged = of_metadata(meta)
    fetches = judged.litert_reference(meta)
    print("comparing the TFLite models with TensorFlow (Python TFLite interpreter) ...", file=sys.stderr)
    job = {"graph": str(reference), "input": meta["input"], "reference": list(fetches.names), "models": models,
           "save": str(work), "kind": judged.name, "pictures": _saved([p for _, p in pictures or []], work, "picture")}
    records = [r for r in run("compare", job, work, ParityError) if r.get("stage") == "compare"]
    for r in records:
        r["file"] = f"{FOLDER}/{r['file']}"
    why = chromium_missing()
    browser: dict[str, dict[str, Any]] = {}
    timings: list[Timing] = []
    if why:
        then = f"; {judged.module}.js's runtime 'auto' takes tfjs for this build" if building else ""
        print(f"note: LiteRT.js was not run in a browser and no speeds were measured ({why}){then}", file=sys.stderr)
    else:
        error: Error = BuildError if building else ParityError
        dtype = records[0]["output_dtype"] if records else "int32"
        browser, timings = in_chromium(folder.parent, records, work, error,
                                       output={"kind": judged.name, "input": meta["input"], "dtype": dtype})
    entries = []
    for r in records:
        seen = browser.get(r["file"])
        entries.append(Entry(size=r["size"], precision=r["precision"], file=r["file"],
                             bytes=(folder.parent / r["file"]).stat().st_size, input_dtype=r["input_dtype"],
                             output_dtype=r["output_dtype"], outputs=r["outputs"], accuracy=r["accuracy"],
                             accurate=judge(r["precision"], r["accuracy"], seen and seen["accuracy"], int8_floor,
                                            judged),
                             browser=seen, seconds_to_convert=(converted or {}).get(Path(r["file"]).name)))
    return entries, timings


def check(model_dir: Path, int8_floor: float | None = None, pictures: Pictures | None = None) -> list[Entry]:
    """`check --litert`: compare the build's TFLite models with TensorFlow again (on `pictures`, the recipe's,
    as the build did; else check's test picture); ParityError (exit 16) when a float32 model is out of
    the kind's bound. int8 below its floor is reported, not failed."""
    model_dir = built(model_dir)
    meta = metadata(model_dir)
    entry = meta.get("litert")
    if not isinstance(entry, dict) or not isinstance(entry.get("models"), list):
        raise ParityError(f"{model_dir} has no LiteRT models (model.json's metadata has no 'litert'); build it "
                          "with 'python -m patcher build --litert'")
    judged = of_metadata(meta)
    try:
        floor = entry.get("int8_floor", judged.litert_floor(None)) if int8_floor is None else judged.litert_floor(int8_floor)
    except ValueError as exc:
        raise ParityError(str(exc)) from None
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
    report(entries, timings, floor, judged)
    failed = [e for e in entries if e.precision == "float32" and not e.accurate]
    if failed:
        raise ParityError(failure(failed, judged))
    print(f"checked: {len(entries)} LiteRT models; float32 within bounds; int8 accurate at "
          f"{sum(e.accurate for e in entries if e.precision == 'int8')} of "
          f"{sum(e.precision == 'int8' for e in entries)} sizes")
    return entries

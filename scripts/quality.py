"""How well each web variant of a trained model parses the recipe's pictures, against TensorFlow float32.

Builds (or takes, with --builds) the model from its published weights in every variant: tfjs float32 (with
--litert: LiteRT.js float32 and int8 at each size), tfjs float16 and tfjs uint8. Runs the recipe's pictures
(patcher/pictures.py; with mirrored, zoomed-out and shifted variants at the smaller sizes, the originals only
at the largest) through TensorFlow's frozen float32 graph, through each tfjs build on the wasm backend in
Node and through each TFLite model in TensorFlow Lite's Python interpreter (XNNPACK, the kernels LiteRT.js
runs). Prints one Markdown table per size: pixel agreement with TensorFlow (overall and more than 2 px from
a class boundary of TensorFlow's map, the measure of build --litert's int8 floor), mean IoU over the classes
present in TensorFlow's maps (intersection and union summed over all pictures), and the worst class's IoU.

    python scripts/quality.py --dest vendor/bisenetv2-celebamask [--work DIR] [--sizes 288,448,1024]
"""
from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from patcher import check, metrics, pictures, recipe as recipes
from patcher.cli import main as patcher

VARIANTS = {"float32": [], "float16": ["--quantize", "float16"], "uint8": ["--quantize", "uint8"]}


def iou_table(reference: list[np.ndarray], maps: list[np.ndarray], classes: list[str]) -> dict:
    """Agreement, mean IoU over the classes present in `reference`, and the worst class with its IoU."""
    from patcher.kinds.labels import near_boundary

    n = len(classes)
    inter, union = np.zeros(n), np.zeros(n)
    same = total = same_away = away_total = 0
    for want, got in zip(reference, maps, strict=True):
        same += int(np.sum(want == got))
        total += want.size
        away = ~near_boundary(want)
        same_away += int(np.sum((want == got) & away))
        away_total += int(np.sum(away))
        for c in range(n):
            a, b = want == c, got == c
            inter[c] += np.sum(a & b)
            union[c] += np.sum(a | b)
    present = [c for c in range(n) if any(np.any(r == c) for r in reference)]
    ious = {classes[c]: inter[c] / union[c] for c in present}
    worst = min(ious, key=ious.get)
    return {"agreement": same / total, "away": same_away / max(away_total, 1), "miou": float(np.mean(list(ious.values()))), "worst": worst,
            "worst_iou": float(ious[worst]), "classes": len(present)}


def tflite_labels(path: Path, inputs: list[np.ndarray]) -> list[np.ndarray]:
    from patcher.native import tensorflow

    tf = tensorflow()
    interpreter = tf.lite.Interpreter(model_path=str(path), num_threads=2)
    interpreter.allocate_tensors()
    inp = interpreter.get_input_details()[0]
    out = next(o for o in interpreter.get_output_details() if o["dtype"] in (np.int32, np.int64))
    found = []
    for x in inputs:
        interpreter.set_tensor(inp["index"], x)
        interpreter.invoke()
        found.append(interpreter.get_tensor(out["index"]).reshape(x.shape[1:3]))
    return found


def build_all(dest: Path, work: Path, sizes: list[int], litert: bool) -> dict[str, Path]:
    builds = {}
    for name, flags in VARIANTS.items():
        out = work / f"web-{name}"
        if not (out / "model.json").is_file():
            extra = ["--litert", "--litert-sizes", ",".join(f"{s}x{s}" for s in sizes)] if litert and name == "float32" else []
            code = patcher(["build", "--dest", str(dest), "--weights", "published", "--out", str(out), *flags, *extra])
            if code:
                raise SystemExit(f"build {name} failed (exit {code})")
        builds[name] = out
    return builds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dest", type=Path, default=Path("vendor/bisenetv2-celebamask"), help="a patched checkout")
    parser.add_argument("--recipe", default="bisenetv2")
    parser.add_argument("--model", default="celebamask")
    parser.add_argument("--work", type=Path, help="where the builds go (kept; reused when there)")
    parser.add_argument("--sizes", default="288,448,1024", help="square sides (default: %(default)s)")
    parser.add_argument("--no-litert", dest="litert", action="store_false", help="tfjs variants only")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    spec = recipes.load(args.recipe).model(args.model)
    work = args.work or Path(tempfile.mkdtemp(prefix="patcher-quality-"))
    work.mkdir(parents=True, exist_ok=True)
    builds = build_all(args.dest, work, sizes, args.litert)
    meta = check.metadata(builds["float32"])
    labels_name = next(o["name"] for o in meta["outputs"] if o["kind"] == "labels")
    every = pictures.pictures(spec.pictures, with_variants=True)
    originals = [p for p in every if not p[0].endswith(("-flipped", "-zoomed-out", "-shifted"))]
    print(f"# {len(originals)} pictures ({len(every)} with variants); weights: {meta['patcher']['weights']}\n")
    scratch = work / "scratch"
    for side in sizes:
        chosen = every if side < max(sizes) else originals
        shutil.rmtree(scratch, ignore_errors=True)
        scratch.mkdir()
        inputs, files = [], []
        for i, (_, pixels) in enumerate(chosen):
            x = metrics.preprocess(metrics.resize(pixels, side, side), meta)
            file = scratch / f"input{i}.bin"
            x.tofile(file)
            inputs.append(x)
            files.append({"file": str(file), "shape": [1, side, side, 3]})
        check.run_frozen(check.outdir.graph_path(builds["float32"]), files, scratch, meta)
        reference = [np.load(scratch / f"tf.{i}.0.npy").reshape(side, side) for i in range(len(chosen))]
        rows = []
        for name, folder in builds.items():
            job = {"backend": "wasm", "inputs": files, "repeat": 1, "warmup": False, "outputs": [labels_name],
                   "model": str(folder), "out": str(scratch / name)}
            check.node_runner(job, scratch)
            maps = [np.fromfile(f"{scratch / name}.{i}.0.bin", dtype=np.int32).reshape(side, side)
                    for i in range(len(chosen))]
            rows.append((f"tfjs wasm {name}", iou_table(reference, maps, meta["classes"])))
        for entry in check.metadata(builds["float32"]).get("litert", {}).get("models", []):
            if entry["size"] != [side, side]:
                continue
            maps = tflite_labels(builds["float32"] / entry["file"], inputs)
            rows.append((f"LiteRT {entry['precision']}", iou_table(reference, maps, meta["classes"])))
        print(f"## {side}x{side} ({len(chosen)} pictures)\n")
        print("| variant | agreement with TF float32 | > 2 px from a class boundary | mean IoU | worst class (IoU) |")
        print("| --- | --- | --- | --- | --- |")
        for name, r in rows:
            print(f"| {name} | {100 * r['agreement']:.3f} % | {100 * r['away']:.3f} % | {r['miou']:.4f} | "
                  f"{r['worst']} ({r['worst_iou']:.4f}) |")
        print(flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

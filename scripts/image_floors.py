"""Measure what lossy precisions cost a picture-output model, in the image kind's metrics (PSNR floors).

Applies a draft picture recipe's steps to a checkout (scripts/cartoon_measure.py's `patch`), builds its
graph from the recipe's `graph` expression (patcher/freeze.py) with seeded random weights for every
variable (freeze.random_values), freezes it, and compares with the float32 frozen graph at --size:

- float16 and uint16 / uint8: every float constant rounded as tfjs's --quantize_float16 stores it, or
  affine-quantized per tensor to 2^16 / 2^8 levels from its min and max (tfjs's --quantize_uint16 /
  uint8, without tfjs's nudging of the range to hold 0 exactly), run in TensorFlow;
- int8: LiteRT full-integer (TFLiteConverter, TFLITE_BUILTINS_INT8, float input), calibrated as
  `build --litert` calibrates a recipe without pictures (its sample, variants of it, generated
  pictures: litert.calibration_images), run in the Python TFLite interpreter.

Pictures: scikit-image's coffee and astronaut (public domain) and check's generated picture, resized to
--size, fed in the recipe's colour order. Prints one line per precision: PSNR (dB), share of pixel values
equal and within one level, largest level difference (patcher/kinds/image.py metrics, pooled).

    python scripts/image_floors.py --recipe patches/white-box-cartoonization.toml --checkout /tmp/wbc
"""
from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
import tomllib
from pathlib import Path

import numpy as np
import tensorflow as tf
from skimage import data
from tensorflow.python.framework import tensor_util

from patcher import freeze, litert
from patcher.check import picture_pixels
from patcher.kinds import kind
from patcher.pictures import resize
from patcher.recipe import Step

HERE = Path(__file__).resolve().parent


def quantized(graph_def: tf.compat.v1.GraphDef, precision: str) -> tf.compat.v1.GraphDef:
    """A copy of `graph_def` with every float constant of more than one value rounded to `precision`."""
    out = tf.compat.v1.GraphDef()
    out.CopyFrom(graph_def)
    for node in out.node:
        if node.op != "Const" or node.attr["dtype"].type != tf.float32.as_datatype_enum:
            continue
        w = tensor_util.MakeNdarray(node.attr["value"].tensor)
        if w.size < 2:
            continue
        if precision == "float16":
            q = w.astype(np.float16).astype(np.float32)
        else:
            levels = 2 ** (8 if precision == "uint8" else 16) - 1
            low, high = float(w.min()), float(w.max())
            step = (high - low) / levels or 1.0
            q = (np.round((w - low) / step) * step + low).astype(np.float32)
        node.attr["value"].tensor.CopyFrom(tensor_util.make_tensor_proto(q))
    return out


def run(graph_def: tf.compat.v1.GraphDef, inp: str, out: str, xs: list[np.ndarray]) -> list[np.ndarray]:
    with tf.Graph().as_default() as graph:
        tf.compat.v1.import_graph_def(graph_def, name="")
        with tf.compat.v1.Session(graph=graph) as sess:
            return [sess.run(f"{out}:0", {f"{inp}:0": x}) for x in xs]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", type=Path, required=True)
    parser.add_argument("--checkout", type=Path, required=True, help="the upstream at the pin, unpatched")
    parser.add_argument("--size", default="256x256")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--precisions", default="float16,uint16,uint8,int8")
    args = parser.parse_args(argv)
    tf.compat.v1.disable_v2_behavior()
    raw = tomllib.loads(args.recipe.read_text(encoding="utf-8"))
    model = next(iter(raw["models"].values()))
    (key, output), = model["outputs"].items()
    spec = {"graph": model["graph"], "input": model["input"]["name"], "outputs": [output["node"]],
            "graph_path": model["graph_path"], "graph_imports": model["graph_imports"], "restore": model["restore"]}
    h, w = (int(v) for v in args.size.split("x"))
    scale, offset = float(model["input"]["scale"]), float(model["input"]["offset"])
    meta = {"input": {"scale": scale, "offset": offset}}
    bgr = model["input"]["color"] == "BGR"
    pictures = [resize(p, h, w) for p in (data.coffee(), data.astronaut())] + [picture_pixels(h, w)]
    xs = [((p[..., ::-1] if bgr else p).astype(np.float32) * np.float32(scale) + np.float32(offset))[None] for p in pictures]

    loader = importlib.util.spec_from_file_location("cartoon_measure", HERE / "cartoon_measure.py")
    measure = importlib.util.module_from_spec(loader)
    loader.loader.exec_module(measure)
    steps = [Step(s["codemod"], tuple(s["files"]), s["sites"], s.get("params", {})) for s in raw["step"]]
    with tempfile.TemporaryDirectory() as tmp:
        patched = Path(tmp) / "patched"
        measure.patch(args.checkout, patched, steps)
        graph, _, outputs = freeze.build(tf, spec, freeze.namespace(spec, str(patched)))
        with graph.as_default(), tf.compat.v1.Session(graph=graph) as sess:
            values = freeze.random_values(tf, np, graph, args.seed)
            freeze.initialize(tf, sess, values)
            frozen = tf.compat.v1.graph_util.convert_variables_to_constants(sess, graph.as_graph_def(),
                                                                            [o.op.name for o in outputs])
        print(f"{len(values)} variables, {sum(v.size for v in values.values()):,} values, random (seed {args.seed}); "
              f"{len(xs)} pictures at {h}x{w}")
        want = run(frozen, spec["input"], output["node"], xs)
        image = kind("image")
        for precision in args.precisions.split(","):
            if precision == "int8":
                pb = Path(tmp) / "frozen.pb"
                pb.write_bytes(frozen.SerializeToString())
                sample = Path(data.__file__).parent / "coffee.png"
                images, _ = litert.calibration_images(None, sample)
                converter = tf.compat.v1.lite.TFLiteConverter.from_frozen_graph(
                    str(pb), [spec["input"]], [output["node"]], {spec["input"]: [1, h, w, 3]})

                def representative(images=images):
                    for picture in images:
                        p = resize(picture, h, w)
                        yield [((p[..., ::-1] if bgr else p).astype(np.float32) * np.float32(scale)
                                + np.float32(offset))[None]]

                converter.optimizations = [tf.lite.Optimize.DEFAULT]
                converter.representative_dataset = representative
                converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
                converter.inference_input_type = tf.float32
                interpreter = tf.lite.Interpreter(model_content=converter.convert(), num_threads=2)
                interpreter.allocate_tensors()
                got = []
                for x in xs:
                    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
                    interpreter.invoke()
                    got.append(interpreter.get_tensor(interpreter.get_output_details()[0]["index"]))
            else:
                got = run(quantized(frozen, precision), spec["input"], output["node"], xs)
            found = image.pooled([image.accuracy([a], [b], meta) for a, b in zip(want, got, strict=True)])
            print(f"{precision:>8}: PSNR {found['psnr']:.1f} dB, equal {100 * found['equal']:.2f}%, within one level "
                  f"{100 * found['within_one']:.2f}%, up to {found['max_levels']:g} levels; floor "
                  f"{image.floor(precision)} dB: {'accurate' if image.accurate(precision, found) else 'NOT accurate'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

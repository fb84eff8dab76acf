"""Child process of `verify`: build the patched upstream's graph with unknown height and width, run it on sizes.

Runs with the patched checkout as working directory (the upstream loads its config relative to it) and
prints one JSON object per line on stdout.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time


def emit(**fields) -> None:
    print(json.dumps(fields), flush=True)


def load_script(path: str):
    spec = importlib.util.spec_from_file_location("patched_freeze_script", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--script", required=True)
    parser.add_argument("--classes", type=int, required=True)
    parser.add_argument("--sizes", required=True)
    args = parser.parse_args(argv)
    sizes = [tuple(int(v) for v in s.split("x")) for s in args.sizes.split(",")]
    try:
        import numpy as np
        import tensorflow as tf
    except ImportError as exc:
        emit(error="missing", message=str(exc))
        return 9
    stage = "import"
    try:
        script = load_script(args.script)
        tf1 = tf.compat.v1
        tf1.disable_v2_behavior()
        stage = "build"
        graph = tf1.Graph()
        with graph.as_default():
            image = tf1.placeholder(tf.float32, [1, None, None, 3], name="input_tensor")
            net = script.bisenet_v2.BiseNetV2(phase="test", cfg=script.CFG)
            labels = tf1.squeeze(net.inference(input_tensor=image, name="BiseNetV2", reuse=False), axis=0)
            emit(stage="build", tensorflow=tf.__version__, static_shape=labels.shape.as_list(),
                 parameters=int(sum(np.prod(v.shape.as_list()) for v in tf1.trainable_variables())))
            with tf1.Session(graph=graph) as sess:
                sess.run(tf1.global_variables_initializer())
                rng = np.random.default_rng(0)
                for height, width in sizes:
                    stage = f"{height}x{width}"
                    x = rng.uniform(-1.0, 1.0, size=(1, height, width, 3)).astype(np.float32)
                    sess.run(labels, {image: x})
                    start = time.perf_counter()
                    out = sess.run(labels, {image: x})
                    ms = (time.perf_counter() - start) * 1000
                    emit(stage="run", size=[height, width], shape=list(out.shape), ms=round(ms, 1),
                         low=int(out.min()), high=int(out.max()))
    except Exception as exc:  # noqa: BLE001 - any TensorFlow failure is reported with its stage
        emit(error="failed", stage=stage, message=f"{type(exc).__name__}: {str(exc).strip().splitlines()[0]}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The TensorFlow child's work (`python -m patcher.litert convert|compare`): TensorFlow's TFLite converter
writes each model, and the Python TFLite interpreter compares it with the frozen graph.

What each model outputs is the output kind's (`litert_outputs`): a labels model the int32 class ids and,
second, the float32 logits [1, H, W, C] they are the argmax of (segmenter.js's soft masks are their
softmax); an image model its picture, float32 [1, H, W, C]. float16 stores the weights in 16 bits
(computed in float32); int8 is full integer (int8 weights and activations, TFLITE_BUILTINS_INT8 only) with
float input, calibrated on the job's pictures.
"""
from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from patcher.child import emit
from patcher.litert.options import Size
from patcher.kinds import kind
from patcher.metrics import picture_pixels, preprocess, resize


def child_convert(tf: Any, job: dict[str, Any]) -> None:
    """Write each (size, precision) model of the job; emits its file and bytes."""
    tf1 = tf.compat.v1
    images = [np.load(p) for p in job.get("calibration", [])]
    graph_def = tf1.GraphDef()
    graph_def.ParseFromString(Path(job["graph"]).read_bytes())
    nodes = {n.name: (n.op, list(n.input)) for n in graph_def.node}
    outputs = kind(job.get("kind", "labels")).litert_outputs(nodes, job["output"])
    emit(stage="outputs", names=outputs)
    name = job["input"]["name"]
    for entry in job["models"]:
        h, w = entry["size"]
        start = time.perf_counter()
        converter = tf1.lite.TFLiteConverter.from_frozen_graph(
            job["graph"], [name], outputs, {name: [1, h, w, 3]})
        if entry["precision"] == "int8":
            def representative(size: Size = (h, w)) -> Iterator[list[np.ndarray]]:
                for image in images:
                    yield [preprocess(resize(image, *size), job)]

            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            converter.representative_dataset = representative
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            converter.inference_input_type = tf.float32
        elif entry["precision"] == "float16":
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            converter.target_spec.supported_types = [tf.float16]
        data = converter.convert()
        Path(entry["path"]).write_bytes(data)
        emit(stage="convert", file=Path(entry["path"]).name, bytes=len(data),
             seconds=round(time.perf_counter() - start, 1))


def child_compare(tf: Any, job: dict[str, Any]) -> None:
    """Per size: TensorFlow's frozen graph (the job's `reference` tensors, the output kind's) and each model
    on the job's pictures (RGB uint8 .npy files, the recipe's; else check's test picture), resized to the
    size; emits the kind's accuracy pooled over them. The first picture and TensorFlow's outputs for it
    are saved for LiteRT.js in Chromium (SIZE.input.bin, SIZE.want.I.npy)."""
    tf1 = tf.compat.v1
    graph_def = tf1.GraphDef()
    graph_def.ParseFromString(Path(job["graph"]).read_bytes())
    graph = tf1.Graph()
    with graph.as_default():
        tf1.import_graph_def(graph_def, name="")
    fetches = [graph.get_tensor_by_name(f"{name}:0") for name in job["reference"]]
    image = graph.get_tensor_by_name(f"{job['input']['name']}:0")
    pictures = [np.load(p) for p in job.get("pictures", [])]
    judged = kind(job.get("kind", "labels"))
    with tf1.Session(graph=graph) as sess:
        for size in sorted({tuple(m["size"]) for m in job["models"]}):
            inputs = []
            for pixels in [resize(p, *size) for p in pictures] or [picture_pixels(*size)]:
                x = preprocess(pixels, job)
                inputs.append((x, sess.run(fetches, {image: x})))
            if job.get("save"):  # for LiteRT.js in Chromium: the first input and TensorFlow's outputs
                stem = Path(job["save"]) / f"{size[0]}x{size[1]}"
                inputs[0][0].tofile(f"{stem}.input.bin")
                for i, want in enumerate(inputs[0][1]):
                    np.save(f"{stem}.want.{i}.npy", want)
            for entry in (m for m in job["models"] if tuple(m["size"]) == size):
                interpreter = tf.lite.Interpreter(model_path=entry["path"], num_threads=job.get("threads", 2))
                interpreter.allocate_tensors()
                inp = interpreter.get_input_details()[0]
                details = interpreter.get_output_details()
                parts: list[dict[str, Any]] = []
                main = 0
                for x, want in inputs:
                    interpreter.set_tensor(inp["index"], x)
                    interpreter.invoke()
                    outputs = [interpreter.get_tensor(d["index"]) for d in details]
                    main = judged.litert_main(outputs)
                    parts.append(judged.litert_accuracy(want, outputs, job))
                accuracy = judged.pooled(parts)
                accuracy["pictures"] = len(parts)
                emit(stage="compare", file=Path(entry["path"]).name, size=list(size), precision=entry["precision"],
                     input_dtype=np.dtype(inp["dtype"]).name, output_dtype=np.dtype(details[main]["dtype"]).name,
                     outputs=len(details), accuracy=accuracy)

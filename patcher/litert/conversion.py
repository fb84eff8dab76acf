"""The TensorFlow child's work (`python -m patcher.litert convert|compare`): TensorFlow's TFLite converter
writes each model, and the Python TFLite interpreter compares it with the frozen graph.

Each model has two outputs: the int32 class ids and, second, the float32 logits [1, H, W, C] they are the
argmax of (segmenter.js's soft masks are their softmax). int8 is full integer (int8 weights and
activations, TFLITE_BUILTINS_INT8 only) with float input, calibrated on the job's pictures.
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
from patcher.metrics import picture_pixels, preprocess, resize, softmax


def child_convert(tf: Any, job: dict[str, Any]) -> None:
    """Write each (size, precision) model of the job; emits its file and bytes."""
    tf1 = tf.compat.v1
    images = [np.load(p) for p in job.get("calibration", [])]
    graph_def = tf1.GraphDef()
    graph_def.ParseFromString(Path(job["graph"]).read_bytes())
    nodes = {n.name: (n.op, list(n.input)) for n in graph_def.node}
    outputs = kind(job.get("kind", "labels")).litert_outputs(nodes, job["output"])
    logits = outputs[1] if len(outputs) > 1 else None
    emit(stage="outputs", labels=job["output"], logits=logits)
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
        data = converter.convert()
        Path(entry["path"]).write_bytes(data)
        emit(stage="convert", file=Path(entry["path"]).name, bytes=len(data),
             seconds=round(time.perf_counter() - start, 1))


def child_compare(tf: Any, job: dict[str, Any]) -> None:
    """Per size: TensorFlow's frozen graph and each model on the job's pictures (RGB uint8 .npy files, the
    recipe's; else check's test picture), resized to the size; emits the agreement pooled over them. The
    first picture is saved for LiteRT.js in Chromium."""
    tf1 = tf.compat.v1
    graph_def = tf1.GraphDef()
    graph_def.ParseFromString(Path(job["graph"]).read_bytes())
    graph = tf1.Graph()
    with graph.as_default():
        tf1.import_graph_def(graph_def, name="")
    fetches = [graph.get_tensor_by_name(f"{job['labels']}:0"), graph.get_tensor_by_name(f"{job['probabilities']}:0")]
    image = graph.get_tensor_by_name(f"{job['input']['name']}:0")
    pictures = [np.load(p) for p in job.get("pictures", [])]
    with tf1.Session(graph=graph) as sess:
        for size in sorted({tuple(m["size"]) for m in job["models"]}):
            inputs = []
            for pixels in [resize(p, *size) for p in pictures] or [picture_pixels(*size)]:
                x = preprocess(pixels, job)
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
                judged = kind(job.get("kind", "labels"))
                parts: list[dict[str, Any]] = []
                diff: float | None = None
                for x, reference, probabilities in inputs:
                    interpreter.set_tensor(inp["index"], x)
                    interpreter.invoke()
                    parts.append(judged.accuracy([reference, probabilities], [interpreter.get_tensor(out["index"])], job))
                    if scores is not None:  # the logits output: how far its softmax is from TensorFlow's
                        got = softmax(interpreter.get_tensor(scores["index"]))
                        diff = max(diff or 0.0, float(np.max(np.abs(got - probabilities.reshape(got.shape)))))
                accuracy = judged.pooled(parts)
                accuracy["pictures"] = len(parts)
                if diff is not None:
                    accuracy["probabilities_max_diff"] = diff
                emit(stage="compare", file=Path(entry["path"]).name, size=list(size), precision=entry["precision"],
                     input_dtype=np.dtype(inp["dtype"]).name, output_dtype=np.dtype(out["dtype"]).name,
                     outputs=len(interpreter.get_output_details()), accuracy=accuracy)

"""What feeding a picture model the wrong colour order costs: its output fed RGB against fed BGR.

For a build of a picture (`image`) model: runs its frozen graph (DIR.tf/frozen_graph.pb, made by
`patcher build`) in TensorFlow on the recipe's pictures at each --sizes HxW twice, once in the order the
recipe states (`input.color`, as the module feeds it) and once in the other order, as a caller who ignores
the recipe would (the published cartoonization worker feeds RGB to a model trained on BGR). Each output is
turned into RGB pixels as its caller would read it (the right order's by the recipe's colour order, the
wrong order's as if it were the order fed) and the two are compared: PSNR (dB, peak 255), mean and largest
level difference, share of values within one level. One line per picture and size, then the pooled line
per size, on stdout.

    python scripts/colour_order.py --recipe white-box-cartoonization --model-dir web --sizes 256x256,480x720
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from patcher import outdir
from patcher.kinds.image import psnr, to_pixels
from patcher.metrics import resize
from patcher.pictures import read
from patcher.recipe import find, load


def size(text: str) -> tuple[int, int]:
    h, _, w = text.partition("x")
    return int(h), int(w)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipe", required=True, help="a recipe file or a shipped recipe's name")
    parser.add_argument("--model-dir", type=Path, required=True, help="a folder made by patcher build")
    parser.add_argument("--sizes", default="256x256,480x720")
    args = parser.parse_args(argv)
    import tensorflow.compat.v1 as tf  # TensorFlow only once the arguments are read

    tf.disable_v2_behavior()
    meta = json.loads((args.model_dir / "model.json").read_text())["userDefinedMetadata"]
    spec = load(find(args.recipe)).model(meta["patcher"]["model"])
    inp = meta["input"]
    scale, offset, trained = float(inp["scale"]), float(inp["offset"]), inp["color"]
    node = meta["patcher"]["reference_outputs"]["image"]
    graph_def = tf.GraphDef()
    graph_def.ParseFromString(outdir.graph_path(args.model_dir).read_bytes())
    graph = tf.Graph()
    with graph.as_default():
        tf.import_graph_def(graph_def, name="")
    entries = spec.pictures or [{"name": "sample", "source": spec.sample}]
    seen = [(entry["name"], read(entry)) for entry in entries]  # each resized to every size as it is
    print(f"{meta['patcher']['recipe']} ({meta['patcher']['weights']}): trained on {trained}; "
          f"the other order against it, in RGB pixels")
    with tf.Session(graph=graph) as sess:
        for h, w in (size(s) for s in args.sizes.split(",")):
            sse, values, total, worst, near = 0.0, 0, 0.0, 0, 0
            for name, rgb in seen:
                pixels = resize(rgb, h, w)
                outs = {}
                for order in ("RGB", "BGR"):
                    x = pixels[..., ::-1] if order == "BGR" else pixels
                    y = sess.run(f"{node}:0", {f"{inp['name']}:0": (x.astype(np.float32) * scale + offset)[None]})
                    out = to_pixels(y[0], scale, offset)
                    outs[order] = out[..., ::-1] if order == "BGR" else out  # read back in the order fed
                right = outs[trained]
                wrong = outs["RGB" if trained == "BGR" else "BGR"]
                levels = np.abs(right.astype(np.int32) - wrong.astype(np.int32))
                part = float(np.sum(levels.astype(np.float64) ** 2))
                print(f"{h}x{w} {name:>10}: PSNR {psnr(part, levels.size):5.1f} dB, mean {levels.mean():5.2f} "
                      f"levels, max {levels.max():3d}, within one {100 * np.mean(levels <= 1):6.2f} %")
                sse, values = sse + part, values + levels.size
                total, worst, near = total + float(levels.sum()), max(worst, int(levels.max())), near + int(
                    np.sum(levels <= 1))
            print(f"{h}x{w} {'all':>10}: PSNR {psnr(sse, values):5.1f} dB, mean {total / values:5.2f} levels, "
                  f"max {worst:3d}, within one {100 * near / values:6.2f} %")
    return 0


if __name__ == "__main__":
    sys.exit(main())

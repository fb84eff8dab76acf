#!/usr/bin/env python3
"""Benchmark (not a test): the face model's costliest convolution alone, TensorFlow against tfjs wasm.

The detail branch's 3x3, 64 -> 64 convolution at 224x224 takes over a quarter of the wasm time at 448x448
input (scripts/profile_webmodel.mjs). This times it, with ReLU, in TensorFlow (1 thread and all) and on
tfjs wasm in Node (SIMD, 1 thread) in one run, and prints GFLOP/s: the per-thread gap is what limits the
web model's speed relative to TensorFlow.
Usage: python scripts/bench_conv.py [--repeat 10]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

PROJECT = Path(__file__).resolve().parent.parent
SHAPE, FILTER = (1, 224, 224, 64), (3, 3, 64, 64)
FLOP = 2 * np.prod(SHAPE[:3]) * np.prod(FILTER)

NODE = """
import * as tf from '@tensorflow/tfjs';
import {useBackend} from './patcher/js/run_model.mjs';
await useBackend('wasm');
const [shape, filter, repeat] = JSON.parse(process.argv[1]);
const x = tf.randomUniform(shape), w = tf.randomUniform(filter);
const run = () => tf.fused.conv2d({x, filter: w, strides: 1, pad: 'same', activation: 'relu'});
tf.dispose(run());
const times = [];
for (let i = 0; i < repeat; i++) {
  const start = performance.now();
  const y = run();
  await y.data();
  times.push(performance.now() - start);
  y.dispose();
}
times.sort((a, b) => a - b);
console.log(JSON.stringify({ms: times[Math.floor(times.length / 2)]}));
"""


def tf_ms(threads: int, repeat: int) -> float:
    code = f"""
import os, sys, time, json
os.environ['TF_CPP_MIN_LOG_LEVEL'] = '3'
import numpy as np, tensorflow as tf
tf.config.threading.set_intra_op_parallelism_threads({threads})
tf.config.threading.set_inter_op_parallelism_threads(1)
x = tf.constant(np.random.rand(*{SHAPE}).astype(np.float32))
w = tf.constant(np.random.rand(*{FILTER}).astype(np.float32))
run = tf.function(lambda: tf.nn.relu(tf.nn.conv2d(x, w, 1, 'SAME')), autograph=False)
run()
times = []
for _ in range({repeat}):
    start = time.perf_counter(); run().numpy(); times.append(1000 * (time.perf_counter() - start))
print(json.dumps({{'ms': float(np.median(times))}}))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return json.loads(out.splitlines()[-1])["ms"]


def wasm_ms(repeat: int) -> float:
    out = subprocess.run(["node", "--input-type=module", "-e", NODE, json.dumps([SHAPE, FILTER, repeat])],
                         capture_output=True, text=True, check=True, cwd=PROJECT).stdout
    return json.loads(out.splitlines()[-1])["ms"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=10, help="timed runs after a warm-up")
    args = parser.parse_args(argv)
    cores = len(os.sched_getaffinity(0))
    print("timing TensorFlow and tfjs wasm ...", file=sys.stderr)
    runs = [("tensorflow, 1 thread", tf_ms(1, args.repeat)), (f"tensorflow, {cores} threads", tf_ms(cores, args.repeat)),
            ("tfjs wasm in Node (SIMD, 1 thread)", wasm_ms(args.repeat))]
    print(f"conv 3x3 {FILTER[2]}->{FILTER[3]} + ReLU at {SHAPE[1]}x{SHAPE[2]} ({FLOP / 1e9:.2f} GFLOP), "
          f"median of {args.repeat} after a warm-up, {time.strftime('%Y-%m-%d')}")
    base = runs[0][1]
    for name, ms in runs:
        print(f"{name:>36} {ms:>9.1f} ms {FLOP / ms / 1e6:>8.1f} GFLOP/s {ms / base:>6.2f}x TF 1 thread")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Benchmark (not a test): ms per frame of built web models in TensorFlow and in tfjs cpu and wasm in Node.

All figures come from one run on this machine, each backend after a warm-up run; the ratio column is
the backend's median time over TensorFlow's on the same input in the same run. Give --model-dir more
than once to compare variants (say, --no-optimize, float32, float16, uint8) in one run.
Usage: python scripts/bench_webmodel.py --model-dir webmodel-celebamask [--model-dir ...] [--sizes 288,448,1024]
"""
from __future__ import annotations

import argparse
import platform
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from patcher.check import compare


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, action="append", required=True)
    parser.add_argument("--sizes", default="288,448,1024", help="square sizes (default: %(default)s)")
    parser.add_argument("--backends", default="cpu,wasm")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs for TensorFlow and wasm")
    parser.add_argument("--cpu-repeat", type=int, default=1, help="timed runs for tfjs cpu (slow)")
    args = parser.parse_args(argv)
    sizes = [(int(s), int(s)) for s in args.sizes.split(",")]
    backends = tuple(args.backends.split(","))
    repeat = {"tf": args.repeat, **{b: args.repeat for b in backends}, "cpu": args.cpu_repeat}
    results = {folder: compare(folder, backends, sizes, repeat) for folder in args.model_dir}
    print(f"machine: {platform.machine()}, {platform.processor() or platform.system()}, "
          f"python {platform.python_version()}")
    runtimes = sorted({r.runtime for rows in results.values() for r in rows})
    print(f"tfjs in Node: {', '.join(runtimes)}; agreement: class map against TensorFlow float32")
    print(f"{'size':>10} {'model':>24} {'runtime':>12} {'ms/frame':>10} {'x TF':>7} {'agreement':>10}")
    for size in sizes:
        for folder, rows in results.items():
            first = next(r for r in rows if r.size == size)
            label = folder.name[-24:]
            print(f"{size[0]:>4}x{size[1]:<5} {label:>24} {'tensorflow':>12} {first.tf_ms:>10.1f} {1:>7.2f}")
            for r in rows:
                if r.size == size:
                    print(f"{'':>10} {label:>24} {'tfjs ' + r.backend:>12} {r.ms:>10.1f} {r.ms / r.tf_ms:>7.2f} "
                          f"{100 * r.score:>9.3f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())

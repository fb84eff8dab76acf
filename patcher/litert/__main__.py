"""`python -m patcher.litert convert|compare|browser --job JOB.json`: the LiteRT child process (one JSON
record per line on stdout; patcher.child's protocol). convert and compare import TensorFlow; browser
drives Chromium."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from patcher.child import emit
from patcher.litert.chromium import child_browser
from patcher.litert.conversion import child_compare, child_convert

MODES = ("browser", "compare", "convert")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m patcher.litert", description=(__doc__ or "").splitlines()[0])
    parser.add_argument("mode", choices=MODES)
    parser.add_argument("--job", required=True)
    args = parser.parse_args(argv)
    tf = None
    if args.mode != "browser":
        try:
            import tensorflow  # noqa: PLC0415 - only in the child that converts or compares
        except ImportError as exc:
            emit(error="missing", message=str(exc))
            return 9
        tf = tensorflow
    try:
        job = json.loads(Path(args.job).read_text())
        if tf is None:
            child_browser(job)
        else:
            (child_convert if args.mode == "convert" else child_compare)(tf, job)
    except Exception as exc:  # noqa: BLE001 - reported as one line to the parent
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()] or [""]
        told = next((line for line in lines if "error:" in line.lower()), lines[0])
        emit(error="failed", stage=args.mode, message=f"{type(exc).__name__}: {told}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""What `build --litert` and `check --litert` print: each model's agreement with TensorFlow and the times
measured in Chromium."""
from __future__ import annotations

from pathlib import Path

from patcher.litert.accuracy import Entry, Timing
from patcher.litert.options import BROWSER_REPEAT, FLOAT_MIN_AGREEMENT


def report(entries: list[Entry], timings: list[Timing], int8_floor: float) -> None:
    """The models' accuracy (Python interpreter, and Chromium where it ran) and Chromium's times, as tables."""
    def pct(value: float | None) -> str:
        return "-" if value is None else f"{100 * value:.3f}%"

    print(f"LiteRT models against TensorFlow (float32 must agree on >= {100 * FLOAT_MIN_AGREEMENT:g}% of pixels; "
          f"int8 counts as accurate at >= {100 * int8_floor:g}% away from class boundaries)")
    print(f"{'model':>32} {'bytes':>9} {'where':>9} {'all pixels':>11} {'> 2 px from edge':>22} "
          f"{'margin >= 0.05':>22}  accurate")
    for e in entries:
        runs = [("Python", e.accuracy)] + ([("Chromium", e.browser["accuracy"])] if e.browser else [])
        for i, (where, a) in enumerate(runs):
            name, size = (Path(e.file).name, str(e.bytes)) if i == 0 else ("", "")
            print(f"{name:>32} {size:>9} {where:>9} {pct(a['overall']):>11} {pct(a['away_from_boundary']):>10} of "
                  f"{a['away_pixels']:>8} {pct(a['confident']):>10} of {a['confident_pixels']:>8}  "
                  f"{('yes' if e.accurate else 'no') if i == len(runs) - 1 else ''}")
    if timings:
        print(f"ms per run in {timings[0].browser} ({timings[0].threads} threads; median of {BROWSER_REPEAT}):")
        for t in timings:
            print(f"  {t.size[0]}x{t.size[1]}: " + ", ".join(
                f"{'tfjs wasm' if k == 'tfjs' else 'LiteRT.js ' + k} {v:.1f}" for k, v in t.ms.items()))

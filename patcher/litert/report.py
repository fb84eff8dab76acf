"""What `build --litert` and `check --litert` print: each model's accuracy against TensorFlow, in the output
kind's columns, and the times measured in Chromium."""
from __future__ import annotations

from pathlib import Path

from patcher.kinds import Kind
from patcher.litert.accuracy import Entry, Timing
from patcher.litert.options import BROWSER_REPEAT


def report(entries: list[Entry], timings: list[Timing], int8_floor: float, kind: Kind) -> None:
    """The models' accuracy (Python interpreter, and Chromium where it ran; `kind`'s columns and bounds) and
    Chromium's times, as tables."""
    print(f"LiteRT models against TensorFlow ({kind.litert_rule(int8_floor)})")
    if entries:
        titles = " ".join(f"{title:>{width}}" for title, width, _ in kind.litert_cells(entries[0].accuracy))
        print(f"{'model':>32} {'bytes':>9} {'where':>9} {titles}  accurate")
    for e in entries:
        runs = [("Python", e.accuracy)] + ([("Chromium", e.browser["accuracy"])] if e.browser else [])
        for i, (where, a) in enumerate(runs):
            name, size = (Path(e.file).name, str(e.bytes)) if i == 0 else ("", "")
            cells = " ".join(f"{value:>{width}}" for _, width, value in kind.litert_cells(a))
            print(f"{name:>32} {size:>9} {where:>9} {cells}  "
                  f"{('yes' if e.accurate else 'no') if i == len(runs) - 1 else ''}")
    if timings:
        print(f"ms per run in {timings[0].browser} ({timings[0].threads} threads; median of {BROWSER_REPEAT}):")
        for t in timings:
            print(f"  {t.size[0]}x{t.size[1]}: " + ", ".join(
                f"{'tfjs wasm' if k == 'tfjs' else 'LiteRT.js ' + k} {v:.1f}" for k, v in t.ms.items()))

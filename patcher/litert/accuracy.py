"""How a LiteRT model is judged against TensorFlow, and its result (Entry, Timing: model.json's
`litert.models` and `litert.timings`, each built once)."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from patcher.kinds import Kind, of_metadata

Accuracy = dict[str, Any]  # the output kind's accuracy (or pooled) record


@dataclass(frozen=True)
class Entry:
    """One model's result: its file (relative to model.json), what the TFLite interpreter reports of it,
    its `accuracy` there, its accuracy in LiteRT.js in Chromium (`browser`, where it ran) and whether it
    counts as `accurate` (judge)."""

    size: list[int]
    precision: str
    file: str
    bytes: int
    input_dtype: str
    output_dtype: str
    outputs: int
    accuracy: Accuracy
    accurate: bool
    browser: dict[str, Any] | None = None
    seconds_to_convert: float | None = None

    def to_json(self) -> dict[str, Any]:
        """The metadata entry (fields that are None left out)."""
        return {k: v for k, v in asdict(self).items() if v is not None}


@dataclass(frozen=True)
class Timing:
    """Per size: the median ms of tfjs-wasm on model.json and of LiteRT.js on each precision in Chromium."""

    size: list[int]
    browser: str
    threads: int
    tfjs_threads: int
    ms: dict[str, float]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def judge(precision: str, accuracy: Accuracy, browser: Accuracy | None, int8_floor: float,
          kind: Kind | None = None) -> bool:
    """Whether a model counts as accurate, in the Python interpreter (`accuracy`) and, where it ran, in
    Chromium (`browser`), by the output kind's `accurate` (default: a labels build's; labels: float32 by
    the tfjs bound on all pixels, int8 by agreement away from class boundaries; image: float32 by pixel
    values within one level, lossy precisions by PSNR). `int8_floor` is int8's; other precisions keep the
    kind's own floor."""
    found = kind or of_metadata({})
    floor = int8_floor if precision == "int8" else None
    return found.accurate(precision, accuracy, floor) and (browser is None or found.accurate(precision, browser, floor))


def failure(failed: list[Entry], kind: Kind | None = None) -> str:
    """The one-line error for float32 models out of bounds (the first, where it missed, in the kind's words)."""
    found = kind or of_metadata({})
    e = failed[0]
    where, acc = "Python interpreter", e.accuracy
    if found.accurate("float32", acc) and e.browser:
        where, acc = "LiteRT.js in Chromium", e.browser["accuracy"]
    return (f"{len(failed)} float32 LiteRT model(s) out of bounds; first: {Path(e.file).name} ({where}): "
            f"{found.litert_shortfall(acc)}")

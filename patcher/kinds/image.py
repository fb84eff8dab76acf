"""The `image` kind: a picture, float [1, H, W, C], mapped back to pixels by the inverse of the input's
scale and offset: pixel = clip(round((y - offset) / scale), 0, 255), rounding half to even (as a
Uint8ClampedArray, and so ImageData, rounds), in the input's colour order (the recipe's `input.color`;
a web module turns BGR into RGB for display).

Comparisons are made on those uint8 pixels, the numbers a user sees: the largest |dy| in the output's
own units, the share of pixel values equal and within one level, the largest level difference, and the
PSNR (dB, peak 255, over every value of every picture; 100 dB when identical).

Bounds. float32 weights must agree with TensorFlow on at least 99.9 % of the pixel values within one
level (a float32 runtime differs from TensorFlow by rounding only: |dy| of 1e-5 moves a value across a
rounding edge now and then, never by two levels). Lossy precisions are judged by a PSNR floor, `FLOORS`.
"""
from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from patcher.errors import ParityError, VerifyError
from patcher.kinds import Bound, Comparison, Fetches, InputLike, Output, pct, unknown_fields

MIN_WITHIN_ONE = 0.999
PEAK = 255.0
IDENTICAL_PSNR = 100.0
FLOATS = ("float32", "float16", "float64", "bfloat16")
# PSNR floors (dB) of the lossy precisions against TensorFlow's float32 graph: tfjs's --quantize float16
# and uint16 (weights stored in 16 bits, computed in float32), --quantize uint8 (weights affine-quantized
# per tensor to 256 levels) and LiteRT's full-integer int8 (weights and activations).
#
# Measured with scripts/image_floors.py (seeded random weights for every variable, biases included; the
# coffee cup, the astronaut and check's generated picture, BGR as the recipe feeds them), on the real
# upstream's graph of the shipped picture recipe in patches/ (1,467,075 weights) and on the synthetic
# upstream of its shape, at 256x256 seed 0 / 480x720 seed 1:
#
#   precision   real upstream        synthetic            largest level difference
#   float16     67.5 / 65.7 dB       69.0 / 68.7 dB       1
#   uint16      74.9 / 74.9 dB       77.0 / 76.5 dB       1
#   uint8       49.9 / 48.6 dB       50.8 / 50.6 dB       2-4
#   int8        44.4 / 36.3 dB       46.3 / 37.2 dB       60-111 (local: 62-88 % of values within one level)
#
# Floors. A 16-bit weight format only rounds weights: 50 dB (an RMS error of 0.8 levels) is 15 dB under
# every measurement, so a variant under it is broken, not rounded. 8-bit formats: 40 dB, an RMS error of
# 2.55 levels, the usual line for 8-bit pictures under which differences show as banding and colour
# shifts in flat regions, of which stylised pictures are made. uint8 weights clear it by 9-11 dB; full
# int8 straddles it (36-46 dB here, 33.5 dB in an earlier measurement by hand), so an int8 model is
# reported as inaccurate where it falls under the floor, and `auto` keeps to float there.
FLOORS = {"float16": 50.0, "uint16": 50.0, "uint8": 40.0, "int8": 40.0}


def to_pixels(y: np.ndarray, scale: float, offset: float) -> np.ndarray:
    """Output values y (any shape) as uint8 pixel values: clip(round((y - offset) / scale), 0, 255)."""
    return np.clip(np.rint((np.asarray(y, dtype=np.float64) - offset) / scale), 0, 255).astype(np.uint8)


def metrics(got: np.ndarray, want: np.ndarray, scale: float, offset: float) -> dict[str, float]:
    """The comparison's numbers (module docstring) of `got` against `want` (the same shape), with the
    sums that pool them over pictures: `values` (how many) and `sse` (sum of squared level differences)."""
    got, want = np.asarray(got), np.asarray(want)
    if got.shape != want.shape:
        raise ParityError(f"output shapes differ: {list(got.shape)} against the reference's {list(want.shape)}")
    a = to_pixels(got, scale, offset).astype(np.int32)
    b = to_pixels(want, scale, offset).astype(np.int32)
    levels = np.abs(a - b)
    sse = float(np.sum(levels.astype(np.float64) ** 2))
    values = int(levels.size)
    return {"max_dy": float(np.max(np.abs(got.astype(np.float64) - want))) if values else 0.0,
            "equal": float(np.mean(levels == 0)) if values else 1.0,
            "within_one": float(np.mean(levels <= 1)) if values else 1.0,
            "max_levels": float(levels.max()) if values else 0.0,
            "psnr": psnr(sse, values), "values": values, "sse": sse}


def psnr(sse: float, values: int) -> float:
    """Peak signal-to-noise ratio in dB for a sum of squared level differences over `values` values."""
    if sse == 0 or values == 0:
        return IDENTICAL_PSNR
    return min(IDENTICAL_PSNR, 10 * math.log10(PEAK * PEAK / (sse / values)))


def _scale(meta: Mapping[str, Any]) -> tuple[float, float]:
    inp = meta["input"]
    return float(inp["scale"]), float(inp["offset"])


class Image:
    name = "image"
    run_column = "range"
    legend = "within one: uint8 pixel values at most one level from those of the model compared against"
    # the web module (patcher/web/stylizer.js and .d.ts; it imports segmenter.d.ts's shared types) and the
    # files of patcher/web only this kind's builds get (its page, copied as index.html first)
    module = "stylizer"
    page: tuple[str, ...] = ("stylizer.html", "stylizer-app.js", "stylizer.js", "stylizer.d.ts")

    def parse(self, key: str, entry: Mapping[str, Any], model: Mapping[str, Any]) -> Output:
        unknown_fields(key, entry, self.name, ["channels", "range"])
        channels = entry.get("channels", 3)
        if not isinstance(channels, int) or isinstance(channels, bool) or not 1 <= channels <= 4:
            raise ValueError(f"field 'outputs.{key}.channels' must be a whole number from 1 to 4")
        span = entry.get("range", [-1.0, 1.0])
        if (not isinstance(span, list) or len(span) != 2
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in span) or span[0] >= span[1]):
            raise ValueError(f"field 'outputs.{key}.range' must be [low, high] with low < high")
        return Output(key, self.name, entry["node"], {"channels": channels, "range": (float(span[0]), float(span[1]))})

    def summary(self, value: np.ndarray) -> dict[str, Any]:
        finite = bool(np.isfinite(value).all())
        return {"shape": list(value.shape), "dtype": value.dtype.name, "finite": finite,
                "low": float(np.nanmin(value)) if value.size else 0.0,
                "high": float(np.nanmax(value)) if value.size else 0.0}

    def describe_run(self, record: Mapping[str, Any]) -> str:
        return f"[{record['low']:.3f}, {record['high']:.3f}]" + ("" if record.get("finite", True) else " not finite")

    def verify(self, output: Output, static_shape: Sequence[int | None], dtype: str,
               runs: Sequence[Mapping[str, Any]]) -> None:
        """VerifyError unless the static shape is [1, None, None, C] (batch 1 or unknown), the dtype a
        float, and each run [1, H, W, C] at the input's H and W with finite values (values outside the
        declared range are clipped to pixels, not an error)."""
        channels = output.options["channels"]
        static = list(static_shape)
        if len(static) != 4 or static[0] not in (1, None) or static[1:3] != [None, None] or static[3] != channels:
            raise VerifyError(f"output static shape is {static}, expected [1, None, None, {channels}] (an image output)")
        if dtype and dtype not in FLOATS:
            raise VerifyError(f"output dtype is {dtype}, expected a float picture (an image output)")
        for r in runs:
            h, w = r["size"]
            if r["shape"] != [1, h, w, channels]:
                raise VerifyError(f"{h}x{w}: output shape {r['shape']} is not [1, {h}, {w}, {channels}]")
            if not r.get("finite", True):
                raise VerifyError(f"{h}x{w}: the output has values that are not finite (NaN or infinity)")

    def metadata(self, output: Output, inp: InputLike, with_probabilities: bool = False) -> dict[str, Any]:
        """model.json's `outputs` (one picture: how to turn it into pixels) and patcher.reference_outputs."""
        channels = output.options["channels"]
        entry = {"name": output.node, "kind": "image", "shape": [1, "H", "W", channels], "dtype": "float32",
                 "color": inp.color if channels == 3 else None, "range": list(output.options["range"]),
                 "scale": inp.scale, "offset": inp.offset,
                 "pixels": f"clip(round((y - {inp.offset!r}) / {inp.scale!r}), 0, 255)",
                 "description": "the picture, in the input's colour order"}
        return {"outputs": [entry], "reference_outputs": {"image": output.node}}

    def reference(self, meta: Mapping[str, Any]) -> Fetches:
        return Fetches((meta["patcher"]["reference_outputs"]["image"],))

    def fetches(self, model_json: Mapping[str, Any]) -> Fetches:
        outputs = model_json.get("userDefinedMetadata", {}).get("outputs", [])
        found = [o["name"] for o in outputs if o.get("kind") == "image"]
        if not found:
            raise ParityError("model.json: its metadata names no image output")
        return Fetches((found[0],))

    def bound(self, precision: str, reference: str | None = None) -> Bound:
        """99.9 % of pixel values within one level when the precision is the reference's (float32 against
        TensorFlow); a lossy precision's PSNR floor otherwise."""
        if precision == (reference or "float32"):
            return Bound("within_one", MIN_WITHIN_ONE)
        return Bound("psnr", self.floor(precision) or 0.0)

    def quick(self, precision: str) -> Bound | None:
        return None if precision == "float32" else Bound("psnr", self.floor(precision) or 0.0)

    def compare(self, got: Sequence[np.ndarray], want: Sequence[np.ndarray], bound: Bound,
                meta: Mapping[str, Any], fetched: Fetches | None = None) -> Comparison:
        """got[0] against want[0] ([1, H, W, C] each) in uint8 pixels, by `meta`'s input scale and offset."""
        scale, offset = _scale(meta)
        found = metrics(np.asarray(got[0]).reshape(want[0].shape), want[0], scale, offset)
        value = found[bound.metric]
        ok = value >= bound.least
        cells = [("max |dy|", f"{found['max_dy']:.1e}"), ("equal", pct(found["equal"])),
                 ("within 1", pct(found["within_one"])), ("max levels", f"{found['max_levels']:g}"),
                 ("PSNR dB", f"{found['psnr']:.1f}")]
        reason = (f"{pct(found['within_one'])} of pixel values within one level (>= {100 * bound.least:g}%), "
                  f"{pct(found['equal'])} equal, up to {found['max_levels']:g} levels apart"
                  if bound.metric == "within_one" else
                  f"PSNR {found['psnr']:.1f} dB (>= {bound.least:g} dB), {pct(found['within_one'])} within one level")
        return Comparison(found, bound, ok, cells, "" if ok else reason)

    def agree(self, got: np.ndarray, want: np.ndarray, meta: Mapping[str, Any]) -> Comparison:
        """The build's pictures against another graph model's (flat, every picture at one size): 99.9 % of
        pixel values within one level, as float32 against TensorFlow."""
        return self.compare([got], [want], Bound("within_one", MIN_WITHIN_ONE), meta)

    def litert_outputs(self, nodes: Mapping[str, tuple[str, Sequence[str]]], node: str) -> list[str]:
        return [node]

    def litert_reference(self, meta: Mapping[str, Any]) -> Fetches:
        return self.reference(meta)

    def litert_metadata(self, meta: Mapping[str, Any], converted: Sequence[str]) -> dict[str, Any]:
        """The picture (`output`, float32 [1, H, W, C]; no logits, no probabilities); float32 is judged by
        the share of uint8 pixel values within one level, lossy precisions by their PSNR floors (dB)."""
        (entry,) = [o for o in meta["outputs"] if o.get("kind") == self.name]
        return {"output": {"name": converted[0], "dtype": "float32", "shape": [1, "H", "W", entry["shape"][-1]]},
                "float32_min_within_one": MIN_WITHIN_ONE,
                "psnr_floors": {p: v for p, v in FLOORS.items() if p in ("float16", "int8")}}

    def litert_main(self, outputs: Sequence[np.ndarray]) -> int:
        """The picture: the model's one output."""
        return 0

    def litert_accuracy(self, want: Sequence[np.ndarray], outputs: Sequence[np.ndarray],
                        meta: Mapping[str, Any]) -> dict[str, Any]:
        return self.accuracy(want, [outputs[self.litert_main(outputs)]], meta)

    def litert_floor(self, given: float | None) -> float:
        """The int8 floor: PSNR in dB, FLOORS['int8']; ValueError for a `given` one (--int8-floor is a share
        of class agreement, a labels build's)."""
        if given is not None:
            raise ValueError(f"--int8-floor is a share of class agreement (a class-map build's); a picture "
                             f"build's int8 is judged by its PSNR floor, {FLOORS['int8']:g} dB (docs/quality.md)")
        return FLOORS["int8"]

    def litert_rule(self, int8_floor: float) -> str:
        return (f"float32 must have >= {100 * MIN_WITHIN_ONE:g}% of uint8 pixel values within one level; "
                f"float16 counts as accurate at PSNR >= {FLOORS['float16']:g} dB, int8 at >= {int8_floor:g} dB")

    def litert_cells(self, accuracy: Mapping[str, Any]) -> list[tuple[str, int, str]]:
        a = accuracy
        return [("within 1", 11, pct(a["within_one"])), ("equal", 10, pct(a["equal"])),
                ("max levels", 10, f"{a['max_levels']:g}"), ("PSNR dB", 8, f"{a['psnr']:.1f}"),
                ("max |dy|", 9, f"{a['max_dy']:.1e}")]

    def litert_shortfall(self, accuracy: Mapping[str, Any]) -> str:
        return (f"{pct(accuracy['within_one'])} of uint8 pixel values within one level of TensorFlow's "
                f"(>= {100 * MIN_WITHIN_ONE:g}%), up to {accuracy['max_levels']:g} levels apart")

    def accuracy(self, want: Sequence[np.ndarray], got: Sequence[np.ndarray], meta: Mapping[str, Any]) -> dict[str, Any]:
        scale, offset = _scale(meta)
        return metrics(np.asarray(got[0]).reshape(want[0].shape), want[0], scale, offset)

    def pooled(self, parts: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        """accuracy() over several pictures: shares weighted by values, maxima of maxima, PSNR of the
        pooled squared differences."""
        values = sum(int(p["values"]) for p in parts)
        sse = sum(float(p["sse"]) for p in parts)
        if not values:
            return {"max_dy": 0.0, "equal": 1.0, "within_one": 1.0, "max_levels": 0.0, "psnr": IDENTICAL_PSNR,
                    "values": 0, "sse": 0.0}
        return {"max_dy": max(p["max_dy"] for p in parts), "max_levels": max(p["max_levels"] for p in parts),
                "equal": sum(p["equal"] * p["values"] for p in parts) / values,
                "within_one": sum(p["within_one"] * p["values"] for p in parts) / values,
                "psnr": psnr(sse, values), "values": values, "sse": sse}

    def floor(self, precision: str) -> float | None:
        return None if precision == "float32" else FLOORS.get(precision, max(FLOORS.values()))

    def accurate(self, precision: str, accuracy: Mapping[str, Any], floor: float | None = None) -> bool:
        """float32: 99.9 % of values within one level; another precision: PSNR >= `floor` (default its
        FLOORS entry)."""
        if precision == "float32":
            return bool(accuracy["within_one"] >= MIN_WITHIN_ONE)
        return bool(accuracy["psnr"] >= (self.floor(precision) if floor is None else floor))


KIND = Image()

"""What `check` and LiteRT measure, and how both feed a model: the test picture, resizing, preprocessing,
and softmax (numpy; Pillow only to resize); what a kind of output is compared by: patcher/kinds."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

def picture_pixels(height: int, width: int) -> np.ndarray:
    """A deterministic RGB picture (uint8, [H, W, 3]) with smooth regions, edges and a bright ellipse."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    cy, cx = height / 2, width / 2
    blob = ((yy - cy) / (0.38 * height)) ** 2 + ((xx - cx) / (0.28 * width)) ** 2 < 1
    rgb = np.stack([
        120 + 80 * np.sin(xx / 23.0) * np.cos(yy / 31.0),
        100 + 60 * np.cos((xx + yy) / 41.0),
        90 + 70 * np.sin(yy / 17.0),
    ], axis=-1)
    rgb[blob] = rgb[blob] * 0.4 + np.array([200, 150, 120]) * 0.6
    return np.clip(rgb, 0, 255).astype(np.uint8)


def resize(pixels: np.ndarray, height: int, width: int) -> np.ndarray:
    """RGB uint8 [H, W, 3] resized bilinearly to [height, width, 3] (as the upstream's test script feeds
    the model)."""
    from PIL import Image  # noqa: PLC0415 - Pillow only where pictures are resized

    return np.asarray(Image.fromarray(pixels).resize((width, height), Image.Resampling.BILINEAR))


def preprocess(pixels: np.ndarray, meta: Mapping[str, Any]) -> np.ndarray:
    """RGB uint8 pixels [H, W, 3] as the model takes them: [1, H, W, 3] float32, x * scale + offset (for
    the recipe's x / 127.5 - 1: scale 1/127.5, offset -1), channels reversed for a BGR model. `meta`:
    model.json's userDefinedMetadata, or any mapping whose "input" has scale, offset and color."""
    spec = meta["input"]
    x = pixels[..., ::-1] if spec.get("color") == "BGR" else pixels
    return (x.astype(np.float32) * np.float32(spec["scale"]) + np.float32(spec["offset"]))[None].astype(np.float32)


def softmax(logits: np.ndarray) -> np.ndarray:
    """Softmax over the last axis (computed in float64), as float32."""
    shifted = logits.astype(np.float64) - logits.max(axis=-1, keepdims=True)
    e = np.exp(shifted)
    return (e / e.sum(axis=-1, keepdims=True)).astype(np.float32)

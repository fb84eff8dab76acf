"""What `check` and LiteRT measure, and how both feed a model: the test picture, resizing, preprocessing,
softmax and class-map agreement (numpy; Pillow only to resize)."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

# LiteRT's accuracy: pixels within this many of a class boundary of TensorFlow's map, and the top-two
# probability margin under which a pixel counts as unsure
BOUNDARY_PX = 2
MARGIN = 0.05


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


def measure(labels: np.ndarray, prob: np.ndarray, want_labels: np.ndarray,
            want_prob: np.ndarray) -> tuple[float, float, float, float]:
    """Class-map agreement, largest probability difference, share of pixels that could flip (their top
    two reference probabilities within twice that difference) and share that differ but could not."""
    diff = float(np.max(np.abs(prob - want_prob)))
    top = np.sort(want_prob, axis=-1)
    near = (top[..., -1] - top[..., -2] <= 2 * diff).reshape(labels.shape)
    differ = labels != want_labels
    return float(np.mean(~differ)), diff, float(np.mean(near)), float(np.mean(differ & ~near))


def near_boundary(labels: np.ndarray, px: int = BOUNDARY_PX) -> np.ndarray:
    """True where a pixel of the class map [H, W] has a pixel of another class within `px` pixels
    (a (2 px + 1) square around it; the image border is not a boundary)."""
    h, w = labels.shape
    padded = np.pad(labels, px, mode="edge")
    near = np.zeros(labels.shape, dtype=bool)
    for dy in range(-px, px + 1):
        for dx in range(-px, px + 1):
            near |= padded[px + dy:px + dy + h, px + dx:px + dx + w] != labels
    return near


def agreement(reference: np.ndarray, probabilities: np.ndarray, labels: np.ndarray) -> dict[str, Any]:
    """How a class map `labels` agrees with TensorFlow's (`reference`, [H, W], with its probabilities
    [..., H, W, C]): overall, more than BOUNDARY_PX from a reference class boundary, and where the
    reference's top-two probability margin is at least MARGIN; with the pixels each covers (a share is
    None where it covers no pixel)."""
    reference = np.asarray(reference).reshape(labels.shape[-2:])
    labels = np.asarray(labels).reshape(reference.shape)
    same = labels == reference
    away = ~near_boundary(reference)
    top = np.sort(np.asarray(probabilities, dtype=np.float32).reshape(*reference.shape, -1), axis=-1)
    confident = top[..., -1] - top[..., -2] >= MARGIN

    def share(mask: np.ndarray) -> tuple[float | None, int]:
        n = int(mask.sum())
        return (float(same[mask].mean()) if n else None), n

    overall, pixels = share(np.ones(reference.shape, dtype=bool))
    away_share, away_pixels = share(away)
    confident_share, confident_pixels = share(confident)
    return {"overall": overall, "pixels": pixels, "away_from_boundary": away_share, "away_pixels": away_pixels,
            "confident": confident_share, "confident_pixels": confident_pixels}


def pooled(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """agreement() over several pictures: each share weighted by the pixels it covers."""
    found: dict[str, Any] = {}
    for key, count in (("overall", "pixels"), ("away_from_boundary", "away_pixels"), ("confident", "confident_pixels")):
        n = sum(p[count] for p in parts)
        found[key] = sum(p[key] * p[count] for p in parts if p[key] is not None) / n if n else None
        found[count] = n
    return found

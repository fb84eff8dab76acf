"""The pictures int8 LiteRT models are calibrated on: the user's folder, the recipe's pictures, or the
recipe's sample image with variants and generated pictures."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from patcher.errors import BuildError
from patcher.litert.options import CALIBRATION_IMAGES
from patcher.metrics import picture_pixels

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".gif", ".tif", ".tiff"}


def _generated(n: int, rng: np.random.Generator) -> list[np.ndarray]:
    """`n` variants of check's test picture: random sizes, mirrored, brightness and noise."""
    found = []
    for i in range(n):
        h, w = int(rng.integers(160, 512)), int(rng.integers(160, 512))
        picture = picture_pixels(h, w).astype(np.float32)
        picture = picture[:, ::-1] if i % 2 else picture
        picture = picture * rng.uniform(0.6, 1.3) + rng.normal(0, 12, picture.shape)
        found.append(np.clip(picture, 0, 255).astype(np.uint8))
    return found


def calibration_images(folder: Path | None, sample: Path | None, count: int = CALIBRATION_IMAGES,
                       pictures: list[tuple[str, np.ndarray]] | None = None) -> tuple[list[np.ndarray], dict[str, Any]]:
    """RGB uint8 pictures to calibrate the int8 models on, and how the metadata describes them: every image
    in `folder` (the user's); else the recipe's `pictures` (name, pixels) and their mirror images, when it
    names some (patcher/pictures.py); else the recipe's `sample` image, crops, flips and brightness variants
    of it and generated pictures (`count` in all, the same every build)."""
    from PIL import Image  # noqa: PLC0415 - Pillow only where a picture is read

    if folder is not None:
        folder = Path(folder)
        if not folder.is_dir():
            raise BuildError(f"--calibration {folder} is not a folder of images")
        files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
        images: list[np.ndarray] = []
        for path in files:
            try:
                with Image.open(path) as image:
                    images.append(np.asarray(image.convert("RGB")))
            except OSError as exc:
                raise BuildError(f"--calibration: cannot read {path}: {exc}") from None
        if not images:
            raise BuildError(f"--calibration {folder} holds no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
        return images, {"source": "user", "folder": str(folder.absolute()), "images": len(images)}
    if pictures:
        images = [p for _, p in pictures] + [p[:, ::-1].copy() for _, p in pictures]
        about = f"the recipe's {len(pictures)} pictures ({', '.join(n for n, _ in pictures)}) and their mirror images"
        return images, {"source": "recipe", "images": len(images), "description": about}
    rng = np.random.default_rng(0)
    images = []
    if sample is not None:
        with Image.open(sample) as image:
            picture = np.asarray(image.convert("RGB"))
        h, w = picture.shape[:2]
        images += [picture, picture[:, ::-1]]
        for _ in range(max(0, count // 2 - 2)):
            ch, cw = int(h * rng.uniform(0.5, 0.9)), int(w * rng.uniform(0.5, 0.9))
            y, x = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
            crop = picture[y:y + ch, x:x + cw].astype(np.float32) * rng.uniform(0.7, 1.25) + rng.uniform(-20, 20)
            images.append(np.clip(crop, 0, 255).astype(np.uint8))
    made = count - len(images)
    images += _generated(made, rng)
    about = (f"the recipe's sample image ({sample.name}), its mirror image and {len(images) - made - 2} crops of "
             f"it with other brightness, and {made} generated pictures" if sample is not None
             else f"{made} generated pictures")
    return images, {"source": "default", "images": len(images), "description": about}

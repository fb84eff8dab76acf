"""What the face detector's tests and scripts/face_measure.py use, fetched at run time and never committed:
the detector (a TensorFlow.js graph model inside an npm package pinned by version and the registry's
integrity: patcher/weights.py's fetch, `npm pack` into the cache, the tarball's sha512 checked before its
two files are unpacked, as a build does) and pictures of people (scikit-image's
astronaut, openpeople's synthetic people from PyPI, as patcher/pictures.py reads them) written as raw RGB
files for Node."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

# The detector and its facts (the stanza proposed for the recipe): the anchor layout is the model's, per
# output layer the stride in input pixels and the anchors per grid cell.
DETECTOR: dict[str, Any] = {
    "package": "@vladmandic/human", "version": "3.3.6", "folder": "models",
    "integrity": "sha512-Nr5mPfq1gQ+uKeXY5uM3Fj8UxvF5CEh2s6txM5wRThqaW0mF9huooOuZSrT8hhGho0hGaXLFdAwfD/2+teCv6A==",
    "files": ["blazeface.json", "blazeface.bin"], "license": "MIT", "model_license": "Apache-2.0",
    "anchors": {"strides": [16, 32], "perCell": [2, 6]},
}
OPENPEOPLE = ("openpeople==0.1.2", "6faee04493aa7e3e913ba7bc720db90bb9e5f4b7e65eaaf74cd77f74c74e609f")
KINDS = ("studio_portrait", "amateur_selfie", "studio_posture", "amateur_posture")
# the astronaut's head, hand-checked: the recipe's crop of it (x, y, width, height in the 512 x 512 picture)
ASTRONAUT_HEAD = (120, 0, 240, 240)
# openpeople's studio portraits: the recipe's crop around the head (2048 x 2048 pictures)
PORTRAIT_HEAD = (324, 80, 1400, 1400)


def detector() -> Path:
    """The folder holding the detector's files (cached); patcher's WeightsError when it cannot be fetched."""
    from patcher import weights

    return weights.fetch(DETECTOR)


def write_rgb(folder: Path, name: str, pixels: np.ndarray) -> dict:
    """`pixels` (RGB uint8 [H, W, 3]) as FOLDER/NAME.rgb; its entry for Node: {name, file, width, height}."""
    path = Path(folder) / f"{name}.rgb"
    path.write_bytes(np.ascontiguousarray(pixels, dtype=np.uint8).tobytes())
    return {"name": name, "file": str(path), "width": int(pixels.shape[1]), "height": int(pixels.shape[0])}


def astronaut() -> np.ndarray:
    from skimage import data

    return data.astronaut()


def openpeople(person: str, kind: str) -> np.ndarray:
    """One openpeople picture, RGB uint8, from the pinned wheel (fetched with pip once)."""
    import io
    import zipfile

    from PIL import Image

    from patcher import pictures

    with zipfile.ZipFile(pictures.wheel(*OPENPEOPLE)) as archive:
        data = archive.read(f"openpeople/data/curated/{person}/assets/{kind}.jpg")
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("RGB"))


def shrink(pixels: np.ndarray, longest: int) -> np.ndarray:
    """`pixels` resized (area filter) so that its longer side is `longest`."""
    from PIL import Image

    h, w = pixels.shape[:2]
    k = longest / max(h, w)
    return np.asarray(Image.fromarray(pixels).resize((max(1, round(w * k)), max(1, round(h * k))), Image.Resampling.BOX))


def manifest(folder: Path, entries: list[dict]) -> Path:
    path = Path(folder) / "pictures.json"
    path.write_text(json.dumps(entries))
    return path

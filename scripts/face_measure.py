"""The face detector measured in one run (tfjs wasm in Node): its detection rate on pictures of people, the
smallest face it finds, and the jitter of the crop around a still face in noisy frames with and without the
tracker's steadying. Fetches the detector (its pinned npm package) and the pictures (scikit-image's
astronaut; openpeople's synthetic people from PyPI) at run time, as tests/test_faces.py does; single runs on
a shared machine: counts and pixels, no times.

    python scripts/face_measure.py [--frames 60] [--sigmas 3,8] [--work DIR]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import faces_data  # noqa: E402

from patcher.errors import PatcherError  # noqa: E402

PEOPLE = [f"P{i:03d}" for i in range(1, 11)]
FRAME = (480, 640)           # a webcam frame, height x width
ASTRONAUT_FACE = 102         # the detector's box width on the 512 x 512 astronaut, px


def framed(picture: np.ndarray, side: int) -> tuple[np.ndarray, int]:
    """`picture` shrunk to side x side on a grey 640 x 480 frame (centred); the frame and the picture's x."""
    from PIL import Image

    small = np.asarray(Image.fromarray(picture).resize((side, side), Image.Resampling.BOX))
    frame = np.full((*FRAME, 3), 128, np.uint8)
    top, left = (FRAME[0] - side) // 2, (FRAME[1] - side) // 2
    frame[top:top + side, left:left + side] = small
    return frame, left


def prepare(work: Path) -> Path:
    entries = []
    for person in PEOPLE:
        for kind in faces_data.KINDS:
            pixels = faces_data.shrink(faces_data.openpeople(person, kind), 1024)
            entries.append({**faces_data.write_rgb(work, f"{person}-{kind}", pixels), "kind": kind})
    astronaut = faces_data.astronaut()
    entries.append({**faces_data.write_rgb(work, "astronaut", astronaut), "kind": "astronaut"})
    for side in (480, 320, 240, 200, 160, 140, 120, 110, 100, 90, 80, 70, 60, 50, 40):
        frame, left = framed(astronaut, side)
        scale = side / 512
        centre = left + (175 + ASTRONAUT_FACE / 2) * scale   # the face's centre x in the frame
        entries.append({**faces_data.write_rgb(work, f"small-{side}", frame), "scale": scale,
                        "face": ASTRONAUT_FACE, "cx": centre})
    still, _ = framed(astronaut, 480)
    entries.append({**faces_data.write_rgb(work, "still", still), "still": True})
    return faces_data.manifest(work, entries)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--sigmas", default="3,8", help="the noise's standard deviations (0..255), comma-separated")
    parser.add_argument("--work", type=Path, help="where the pictures are written (default: a temporary folder)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="face-measure-") as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        try:
            detector = faces_data.detector() / faces_data.DETECTOR["files"][0]
            pictures = prepare(work)
        except PatcherError as exc:
            print(f"face_measure: {exc}", file=sys.stderr)
            return 1
        job = work / "job.json"
        job.write_text(json.dumps({"detector": str(detector), "anchors": faces_data.DETECTOR["anchors"],
                                   "pictures": str(pictures), "frames": args.frames,
                                   "sigmas": [float(s) for s in args.sigmas.split(",")]}))
        return subprocess.run(["node", str(ROOT / "scripts" / "face_measure.mjs"), str(job)]).returncode


if __name__ == "__main__":
    sys.exit(main())

"""Face mode's quality against the whole-frame parse, measured in one run (tfjs wasm in Node) on pictures of
people where the face does not fill the frame: scikit-image's astronaut (her whole 512 x 512 picture) and
openpeople's ten synthetic people in three kinds of picture (amateur selfie, studio and amateur full-body
posture, shrunk to 1024 px on their longer side), fetched at run time as tests/faces_data.py does. Prints a
Markdown table: per kind of picture, the faces the detector found and, for the whole frame stretched to
448 x 448 and for face mode at each crop size, how many of each face's four keypoints (two eyes, nose,
mouth: the detector's, independent of the parser) fall on their own classes (within 3 % of the face's
width), the share of hat inside the face's box, and agreement inside the box with face mode at the largest
crop size; then, for the astronaut, agreement inside the box with the parse of the recipe's hand-checked
crop of her head. Counts and pixels, no times.

    python scripts/face_quality.py --model-dir DIR [--sizes 256,320,448] [--whole 448] [--people 10] [--work DIR]

DIR is a build of the face parser with its trained weights (`python -m patcher build --weights published`).
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import faces_data  # noqa: E402

from patcher.errors import PatcherError  # noqa: E402

PEOPLE = [f"P{i:03d}" for i in range(1, 11)]
KINDS = ("amateur_selfie", "studio_posture", "amateur_posture")


def prepare(work: Path, people: int = len(PEOPLE)) -> Path:
    """The pictures (the astronaut, and the first `people` of openpeople's) as raw RGB files in `work` and their
    manifest (kind: the row they count in)."""
    entries = [{**faces_data.write_rgb(work, "astronaut", faces_data.astronaut()), "kind": "astronaut",
                "head": list(faces_data.ASTRONAUT_HEAD)}]
    for kind in KINDS:
        for person in PEOPLE[:people]:
            pixels = faces_data.shrink(faces_data.openpeople(person, kind), 1024)
            entries.append({**faces_data.write_rgb(work, f"{person}-{kind}", pixels), "kind": kind})
    return faces_data.manifest(work, entries)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-dir", type=Path, required=True, help="a build of the face parser")
    parser.add_argument("--sizes", default="256,320,448", help="face mode's crop sizes (comma-separated)")
    parser.add_argument("--whole", type=int, default=448, help="the whole frame's parse size")
    parser.add_argument("--people", type=int, default=len(PEOPLE), choices=range(1, len(PEOPLE) + 1),
                        metavar="1..10", help="how many of openpeople's people (default: all %(default)s)")
    parser.add_argument("--work", type=Path, help="where the pictures are written (default: a temporary folder)")
    args = parser.parse_args(argv)
    if not (args.model_dir / "model.json").is_file():
        print(f"face_quality: {args.model_dir} holds no model.json (build one with python -m patcher build "
              "--weights published --out DIR)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="face-quality-") as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        try:
            detector = faces_data.detector() / faces_data.DETECTOR["files"][0]
            pictures = prepare(work, args.people)
        except PatcherError as exc:
            print(f"face_quality: {exc}", file=sys.stderr)
            return 1
        job = work / "job.json"
        job.write_text(json.dumps({"detector": str(detector), "anchors": faces_data.DETECTOR["anchors"],
                                   "model": str(args.model_dir.resolve()), "pictures": str(pictures),
                                   "sizes": [int(s) for s in args.sizes.split(",")], "whole": args.whole}))
        return subprocess.run(["node", str(ROOT / "scripts" / "face_quality.mjs"), str(job)]).returncode


if __name__ == "__main__":
    sys.exit(main())

"""build --litert's sizes: the defaults gain face mode's square for a model with a face detector; sizes the
user gives stay as given."""
from __future__ import annotations

import argparse
import re
from pathlib import Path

from patcher import cli, litert

FACEMODE = Path(__file__).resolve().parent.parent / "patcher" / "web" / "lib" / "facemode.js"


def options(**given: object) -> litert.Options:
    args = argparse.Namespace(litert=True, litert_sizes=None, calibration=None, int8_floor=None,
                              litert_precisions=litert.PRECISIONS)
    for key, value in given.items():
        setattr(args, key, value)
    made = cli._litert(args)
    assert made is not None
    return made


def test_noop_sizes_the_user_gave_stay_as_given() -> None:
    given = options(litert_sizes=[(256, 256)])
    assert not given.default_sizes
    assert litert.for_faces(given).sizes == ((256, 256),)


def test_fix_default_sizes_gain_face_modes_square() -> None:
    default = options()
    assert default.default_sizes and default.sizes == litert.SIZES
    assert litert.for_faces(default).sizes == ((288, 288), (320, 320), (448, 448), (1024, 1024))


def test_fix_is_idempotent() -> None:
    once = litert.for_faces(options())
    assert litert.for_faces(once) == once


def test_face_size_is_the_modules_square() -> None:
    found = re.search(r"FACES = .*?\{[^}]*\bsize: (\d+)", FACEMODE.read_text(), re.S)
    assert found, "FACES.size not found in facemode.js"
    assert litert.FACE_SIZE == (int(found.group(1)), int(found.group(1)))

"""Face mode's parts in Node: the pure ones always (tests/js/faces.test.mjs: anchor decoding and suppression,
crop and paste geometry, the tracker); the real detector on real pictures (tests/js/faces_detector.test.mjs)
when its pinned npm package and the pictures can be fetched (skipped, saying why, otherwise)."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import faces_data

JS = Path(__file__).resolve().parent / "js"

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")


def run_node(name: str, env: dict | None = None) -> None:
    tests = JS / name
    proc = subprocess.run(["node", "--test", str(tests)], capture_output=True, text=True, timeout=900,
                          env={**os.environ, **(env or {})})
    failed = re.findall(r"^not ok \d+ - (.*)$", proc.stdout, re.MULTILINE)
    assert proc.returncode == 0 and not failed, f"failed: {failed}\n{proc.stdout[-4000:]}{proc.stderr[-2000:]}"
    found = re.search(r"^# pass (\d+)$", proc.stdout, re.MULTILINE)
    assert found, proc.stdout[-2000:]
    assert int(found[1]) == len(re.findall(r"^test\(", tests.read_text(), re.MULTILINE)), proc.stdout[-2000:]


def test_the_pure_parts_pass_their_node_tests() -> None:
    run_node("faces.test.mjs")


@pytest.fixture(scope="module")
def detector() -> Path:
    from patcher.errors import PatcherError

    if shutil.which("npm") is None:
        pytest.skip("npm is not installed: cannot fetch the face detector's package")
    try:
        return faces_data.detector()
    except PatcherError as exc:
        pytest.skip(f"the face detector cannot be fetched from the npm registry: {exc}")


@pytest.fixture(scope="module")
def pictures(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from patcher.errors import PatcherError

    folder = tmp_path_factory.mktemp("faces")
    entries = [{**faces_data.write_rgb(folder, "astronaut", faces_data.astronaut()), "head": faces_data.ASTRONAUT_HEAD}]
    try:
        for person in ("P001", "P002", "P003", "P004", "P005", "P006", "P007", "P008", "P009", "P010"):
            for kind in faces_data.KINDS:
                pixels = faces_data.openpeople(person, kind)
                entry = faces_data.write_rgb(folder, f"{person}-{kind}", faces_data.shrink(pixels, 1024))
                if kind == "studio_portrait":   # the recipe's hand-checked square around the head, scaled
                    k = 1024 / max(pixels.shape[:2])
                    entry["head"] = [round(v * k) for v in faces_data.PORTRAIT_HEAD]
                entries.append(entry)
    except PatcherError as exc:
        pytest.skip(f"openpeople's pictures cannot be fetched from PyPI: {exc}")
    from skimage import data

    # no face: a blank picture, a landscape without people (scikit-image's coffee cup and brick wall)
    entries.append({**faces_data.write_rgb(folder, "blank", np.full((300, 400, 3), 200, np.uint8)), "none": True})
    entries.append({**faces_data.write_rgb(folder, "coffee", data.coffee()), "none": True})
    entries.append({**faces_data.write_rgb(folder, "brick", np.stack([data.brick()] * 3, -1)), "none": True})
    return faces_data.manifest(folder, entries)


def test_the_detector_finds_faces_where_they_are(detector: Path, pictures: Path) -> None:
    run_node("faces_detector.test.mjs", {
        "FACES_DETECTOR": str(detector / faces_data.DETECTOR["files"][0]),
        "FACES_ANCHORS": json.dumps(faces_data.DETECTOR["anchors"]),
        "FACES_PICTURES": str(pictures),
    })

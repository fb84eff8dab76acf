"""The web module's pure parts (option checks, worker protocol, pixel sizes and class-map mapping and
painting, model.json's metadata, the nearest built size) tested directly in Node: tests/js/web_parts.test.mjs;
`auto` measuring on the device with fake engines, clock and storage: tests/js/measure.test.mjs; the
default size and the effects' documented calls: tests/js/defaults.test.mjs; the picture kind's parts
(stylizer.js's pixels, resizing, metadata, engine call, kind check and protocol): tests/js/picture.test.mjs."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from kit import needs_node

JS = Path(__file__).resolve().parent / "js"

pytestmark = needs_node


@pytest.mark.parametrize("name", ["web_parts.test.mjs", "measure.test.mjs", "defaults.test.mjs",
                                  "picture.test.mjs"])
def test_the_pure_parts_pass_their_node_tests(name):
    tests = JS / name
    proc = subprocess.run(["node", "--test", str(tests)], capture_output=True, text=True, timeout=120)
    failed = re.findall(r"^not ok \d+ - (.*)$", proc.stdout, re.MULTILINE)
    assert proc.returncode == 0 and not failed, f"failed: {failed}\n{proc.stdout[-4000:]}{proc.stderr[-2000:]}"
    passed = int(re.search(r"^# pass (\d+)$", proc.stdout, re.MULTILINE)[1])
    assert passed == len(re.findall(r"^test\(", tests.read_text(), re.MULTILINE)), proc.stdout[-2000:]

"""The web module's pure parts (option checks, worker protocol, pixel sizes and class-map mapping and
painting, model.json's metadata, the nearest built size) tested directly in Node: tests/js/web_parts.test.mjs."""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent / "js" / "web_parts.test.mjs"

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")


def test_the_pure_parts_pass_their_node_tests():
    proc = subprocess.run(["node", "--test", str(TESTS)], capture_output=True, text=True, timeout=120)
    failed = re.findall(r"^not ok \d+ - (.*)$", proc.stdout, re.MULTILINE)
    assert proc.returncode == 0 and not failed, f"failed: {failed}\n{proc.stdout[-4000:]}{proc.stderr[-2000:]}"
    passed = int(re.search(r"^# pass (\d+)$", proc.stdout, re.MULTILINE)[1])
    assert passed == len(re.findall(r"^test\(", TESTS.read_text(), re.MULTILINE)), proc.stdout[-2000:]

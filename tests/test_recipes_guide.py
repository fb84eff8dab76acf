"""docs/recipes.md's second worked example as it is written: `patcher example`, then apply, list, verify,
build, check and serve. The serve block runs with `--port 0` in place of its port (another program may
hold 8000)."""
from __future__ import annotations

import os
import re
import signal
import subprocess
from pathlib import Path


from docs_blocks import blocks, run_shell, shell
from kit import BUILDS, fetched

pytestmark = BUILDS

PAGE = "recipes.md"


def example_blocks() -> list[str]:
    text = (Path(__file__).resolve().parent.parent / "docs" / PAGE).read_text()
    section = text.split("## The second worked example, from nothing", 1)[1]
    return [b for lang, _, b in blocks(PAGE) if lang == "sh" and b in section]


def test_the_second_worked_example_runs_as_written(tmp_path):
    commands, serve = example_blocks()
    assert commands.startswith("patcher example tiny") and serve.startswith("patcher serve tiny/web --port 8000")
    proc = run_shell(commands, tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    assert "applied 6 codemods to tiny/checkout on branch patcher/tiny/tiny" in out
    listed = [line for line in out.splitlines() if re.match(r"^\w+: .* \(from .*\)$", line)]
    assert len(listed) == 12, "apply and list each show the six codemods"
    assert sum("(from recipe file contrib_initializer.py)" in line for line in listed) == 2
    assert "verified: tiny graph builds with unknown height and width and runs at 2 sizes" in out
    assert "built tiny/web (random weights)" in out
    assert "checked: the web model matches TensorFlow" in out
    command, env = shell(serve.replace("--port 8000", "--port 0"))
    server = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, start_new_session=True)
    try:
        line = server.stdout.readline()
        assert line.startswith("serving tiny/web at http://127.0.0.1:"), line + server.stderr.read()
        url = line.split(" at ")[1].split()[0]
        assert b"<html" in fetched(url + "index.html")
        assert b"Tiny scenes in the browser" in fetched(url + "model.json")
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # the shell and the patcher it started (their own session)
        server.wait(timeout=10)

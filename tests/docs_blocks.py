"""The code blocks of a page in docs/, for tests that run a guide as it is written."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent.parent / "docs"
PROJECT = DOCS.parent
BLOCK = re.compile(r"(?:<!-- (?P<note>[^>]*?) -->\n)?```(?P<lang>\w*)\n(?P<body>.*?)^```$", re.S | re.M)


def blocks(page: str) -> list[tuple[str, str, str]]:
    """(language, note, text) of each fenced block of docs/PAGE, in order; `note` is the HTML comment on
    the line before the block ("file: NAME", say), or ""."""
    text = (DOCS / page).read_text(encoding="utf-8")
    return [(m["lang"], m["note"] or "", m["body"]) for m in BLOCK.finditer(text)]


def shell(script: str) -> tuple[list[str], dict[str, str]]:
    """The command and environment that run a shell block as written, `patcher` and `python` being this
    test run's Python (and its patcher); PATCHER_UPSTREAM unset."""
    prelude = (f'patcher() {{ "{sys.executable}" -m patcher "$@"; }}\n'
               f'python() {{ "{sys.executable}" "$@"; }}\nset -e\n')
    env = {k: v for k, v in os.environ.items() if k not in ("PATCHER_UPSTREAM", "VIRTUAL_ENV")}
    env["PYTHONPATH"] = str(PROJECT)
    return ["bash", "-c", prelude + script], env


def run_shell(script: str, cwd: Path, timeout: float = 900) -> subprocess.CompletedProcess:
    """Run a shell block as written (see shell())."""
    command, env = shell(script)
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)

"""The parent's side of a LiteRT child: `python -m patcher.litert MODE --job JOB.json` (patcher.child's
protocol: one JSON record per line on stdout)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from patcher.child import Error, Record, run_child, upstream_env


def run(mode: str, job: dict[str, Any], work: Path, error: Error, timeout: float | None = None) -> list[Record]:
    """Run `python -m patcher.litert MODE` on `job` (written into `work`); its records, or `error` with the
    one it reported."""
    path = work / f"litert-{mode}.json"
    path.write_text(json.dumps(job))
    return run_child("patcher.litert", mode, ["--job", str(path)], work, upstream_env(), error,
                     lambda r: f"LiteRT {mode}: {r['message']}", timeout)

"""scripts/bench_apply.py runs end to end on the synthetic upstream and prints one timed row per command."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "bench_apply.py"


def load():
    spec = importlib.util.spec_from_file_location("bench_apply", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_apply"] = module
    spec.loader.exec_module(module)
    return module


def test_bench_apply_prints_the_four_commands_with_times(monkeypatch, capsys):
    monkeypatch.delenv("PATCHER_UPSTREAM", raising=False)
    assert load().main(["--repeat", "1"]) == 0
    out = capsys.readouterr().out
    rows = [line.split() for line in out.splitlines() if line.startswith("synthetic")]
    assert [" ".join(r[1:3]) if r[1] in ("fresh", "second") else r[1] for r in rows] == [
        "fresh apply", "second apply", "list", "diff"]
    for row in rows:
        words = 3 if row[1] in ("fresh", "second") else 2
        median, least, target = float(row[words]), float(row[words + 1]), float(row[words + 2].rstrip("s"))
        assert 0 < least <= median < 120 and target > 0 and row[words + 3] in ("ok", "OVER")
        assert float(row[-1]) == least  # one run: its time is the median and the minimum
    assert not any(line.startswith("real") for line in out.splitlines())

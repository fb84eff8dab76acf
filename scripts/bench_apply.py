#!/usr/bin/env python3
"""Benchmark (not a test): wall time of `apply` (fresh and again), `list` and `diff`, each a process.

For each upstream: the synthetic one (tests/synthetic.py, written into a temporary folder) and, when
--upstream or PATCHER_UPSTREAM names one, the real one (a local path: a clone or a bare mirror). Each
command runs as `python -m patcher ...` from this source tree, in a fresh temporary checkout, so the
figures include Python's start and every import, as a user sees them. The fresh apply clones from the
local upstream. With --repeat N, each command runs N times (a new checkout for each round); the median
and the minimum are printed, with the load average (the machine may be busy with other work).
Usage: python scripts/bench_apply.py [--upstream PATH] [--repeat 3] [--no-synthetic]
"""
from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT / "tests"))

# The targets set when apply, list and diff were made fast, in seconds (docs/performance.md, "apply, list
# and diff").
TARGETS = {"fresh apply": 5.0, "second apply": 1.0, "list": 1.0, "diff": 1.0}


def patcher(*args: str, cwd: Path) -> tuple[float, str]:
    """Wall seconds and stdout of `python -m patcher ARGS`; stops the benchmark if it fails."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT), os.environ.get("PYTHONPATH")]))}
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "patcher", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          check=False)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"bench_apply: 'python -m patcher {' '.join(args)}' failed ({proc.returncode}):\n{proc.stderr}")
    return seconds, proc.stdout


def bench(upstream: Path, commit: str | None, work: Path, repeat: int) -> dict[str, list[float]]:
    """Seconds per command over `repeat` rounds, each round in a new checkout."""
    work.mkdir(parents=True, exist_ok=True)
    times: dict[str, list[float]] = {name: [] for name in TARGETS}
    pin = ["--commit", commit] if commit else []
    for n in range(repeat):
        dest = ["--dest", str(work / f"checkout-{n}")]
        apply = ["apply", "--upstream", str(upstream), *pin, *dest]
        seconds, out = patcher(*apply, cwd=work)
        if "already applied" in out:
            raise SystemExit(f"bench_apply: the fresh apply found nothing to do:\n{out}")
        times["fresh apply"].append(seconds)
        seconds, out = patcher(*apply, cwd=work)
        if "already applied" not in out:
            raise SystemExit(f"bench_apply: the second apply changed something:\n{out}")
        times["second apply"].append(seconds)
        times["list"].append(patcher("list", *dest, cwd=work)[0])
        times["diff"].append(patcher("diff", *dest, cwd=work)[0])
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upstream", default=os.environ.get("PATCHER_UPSTREAM"),
                        help="the real upstream, a local path (default: $PATCHER_UPSTREAM)")
    parser.add_argument("--repeat", type=int, default=3, help="rounds; each figure is their median (default: 3)")
    parser.add_argument("--no-synthetic", dest="synthetic", action="store_false", help="only the real upstream")
    args = parser.parse_args(argv)
    import synthetic

    work = Path(tempfile.mkdtemp(prefix="patcher-bench-apply-"))
    load = os.getloadavg()
    results = {}
    try:
        # every command's floor: Python's start and patcher's imports (libcst, GitPython), nothing done
        startup = [patcher("--help", cwd=work)[0] for _ in range(args.repeat)]
        if args.synthetic:
            path, (old, _) = synthetic.make_upstream(work / "synthetic-upstream")
            results["synthetic"] = bench(path, old, work / "synthetic", args.repeat)
        if args.upstream:
            if "://" in args.upstream or not Path(args.upstream).exists():
                raise SystemExit(f"bench_apply: the upstream must be a local path, not {args.upstream!r}")
            results["real"] = bench(Path(args.upstream).resolve(), None, work / "real", args.repeat)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, python {platform.python_version()}; "
          f"load average {load[0]:.2f} before, {os.getloadavg()[0]:.2f} after; {args.repeat} run(s) of "
          "'python -m patcher ...' each, wall seconds (the verdict is the median's)")
    print(f"startup ('python -m patcher --help', imports only): median {statistics.median(startup):.2f}, "
          f"min {min(startup):.2f}")
    print(f"{'upstream':<10} {'command':<13} {'median':>7} {'min':>6} {'target':>7}  {'verdict':<8} all runs")
    for upstream, times in results.items():
        for name, target in TARGETS.items():
            median = statistics.median(times[name])
            verdict = "ok" if median <= target else "OVER"
            runs = ", ".join(f"{t:.2f}" for t in times[name])
            print(f"{upstream:<10} {name:<13} {median:>7.2f} {min(times[name]):>6.2f} {target:>6.1f}s  {verdict:<8} {runs}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

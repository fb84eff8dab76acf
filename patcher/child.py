"""Running children: the upstream's code under TensorFlow (`python -m patcher.probe`, `patcher.litert`),
Node scripts (patcher/js), and the upstream's own tools (its freeze script, tensorflowjs's converter).

A Python child prints one JSON record per line on stdout (`emit`); a record with an "error" key is its one
error, which the parent raises as the caller's error class with one line (MissingTensorFlow, exit 9, when
the child could not import TensorFlow). Nothing here needs git, libcst or the recipe loader.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from patcher.errors import MissingTensorFlow, PatcherError, VerifyError

if TYPE_CHECKING:
    from patcher.recipe import Model

# seconds a registry call (npm ci, npm pack, pip download) may take before it counts as hanging
REGISTRY_TIMEOUT = 600
INSTALL = "pip install -e '.[tf]' (TensorFlow 2.19 with tf_keras)"
HERE = Path(__file__).resolve().parent.parent

Record = dict[str, Any]
Error = Callable[[str], PatcherError]


def emit(**fields: Any) -> None:
    """In a child: print one JSON record and flush, so the parent reads it even if the child dies next."""
    print(json.dumps(fields), flush=True)


def upstream_env(dest: Path | None = None, spec: Model | None = None) -> dict[str, str]:
    """The environment the upstream's code runs in: the recipe's variables, its checkout `dest` on the path."""
    env = dict(os.environ)
    env.update(spec.env if spec else {})
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    parts = [str(HERE), str(Path(dest).resolve()) if dest else None, env.get("PYTHONPATH")]
    env["PYTHONPATH"] = os.pathsep.join(p for p in parts if p)
    return env


def graph_args(spec: Model) -> list[str]:
    """The probe's arguments that tell it how the recipe builds the model's graph."""
    from patcher.kinds import output_of  # noqa: PLC0415 - kinds import the recipe's types lazily

    graph = {"graph": spec.graph, "input": spec.input.name, "moving_average": spec.moving_average,
             "kind": output_of(spec)[0].name, "graph_path": spec.graph_path, "graph_imports": list(spec.graph_imports)}
    # without a freeze script the expression runs among the recipe's graph_imports (patcher/freeze.py)
    return [*(["--script", spec.freeze_script] if spec.freeze_script else []), "--spec", json.dumps(graph)]


def run_probe(dest: Path, mode: str, *args: str, error: Error = VerifyError, spec: Model | None = None) -> list[Record]:
    """Run patcher.probe MODE in `dest` (with the environment of `spec`, the recipe's model); its JSON records, or `error` with the
    one it reported: its stage, the upstream file and line it came from (when it came from upstream code)
    and the exception's first line."""
    return run_child("patcher.probe", mode, list(args), dest, upstream_env(dest, spec), error,
                     lambda r: f"{r['stage']}: " + (f"{r['where']}: " if r.get("where") else "") + r["message"])


def run_child(module: str, mode: str, args: list[str], cwd: Path, env: dict[str, str], error: Error,
              describe: Callable[[Record], str], timeout: float | None = None) -> list[Record]:
    """Run `python -m MODULE MODE ARGS` that prints one JSON record per line; its records, or `error` with
    `describe(record)` of the first error it reported (or with the time it overran `timeout` seconds)."""
    try:
        proc = subprocess.run([sys.executable, "-m", module, mode, *args], cwd=cwd, env=env, capture_output=True,
                              text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise error(f"python -m {module} {mode} did not finish in {timeout:g} s; stopped it") from None
    records = []
    for line in proc.stdout.splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    errors = [r for r in records if "error" in r]
    if errors and errors[0]["error"] == "missing":
        raise MissingTensorFlow(f"TensorFlow is not installed ({errors[0]['message']}); install it with {INSTALL}")
    if errors:
        raise error(describe(errors[0]))
    if proc.returncode != 0:
        raise error(f"python -m {module} {mode} exited with {proc.returncode}: {last_line(proc.stderr)}")
    return records


def run_tool(command: list[str], cwd: Path, what: str, env: dict[str, str], error: Error) -> None:
    """Run a program that reports failure by its exit code (the freeze script, the tensorflowjs converter);
    `error` with its last `...Error:` line (else its last line) when it fails."""
    print(f"{what} ...", file=sys.stderr)
    proc = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        lines = [line.strip() for line in proc.stderr.splitlines() if line.strip()]
        errors = [line for line in lines if re.match(r"^[\w.]*(Error|Exception)\b", line)]
        raise error(f"{what} failed (exit {proc.returncode}): {(errors or lines or ['no output'])[-1]}")


def run_node(runner: Path, job: Record, path: Path, what: str, error: Error) -> list[Record]:
    """Run the Node script `runner` (nodejs.script(NAME)) on `job` (written to `path`, its one argument);
    its JSON records (lines that start with "{"), or `error` "WHAT: reason" with the first record's "error"
    (else Node's last line)."""
    if shutil.which("node") is None:
        raise error("node is not on PATH; install Node.js 18 or later")
    path.write_text(json.dumps(job))
    proc = subprocess.run(["node", str(runner), str(path)], capture_output=True, text=True)
    records = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    errors = [r["error"] for r in records if "error" in r]
    if errors or proc.returncode != 0:
        raise error(f"{what}: {errors[0] if errors else last_line(proc.stderr)}")
    return records


def last_line(text: str) -> str:
    """The last non-empty line of a child's output, or "no output"."""
    return (text.strip().splitlines() or ["no output"])[-1]


def run_registry(command: list[str], cwd: Path | str, what: str, error: Error,
                 timeout: float = REGISTRY_TIMEOUT) -> subprocess.CompletedProcess[str]:
    """Run a command that fetches from a package registry (npm, pip); the finished process (the caller
    reads its exit code and output), or `error` with one line when it overruns `timeout` seconds."""
    try:
        return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise error(f"{what}: no answer in {timeout:g} s (the registry or the network hangs); stopped it, "
                    "try again later") from None

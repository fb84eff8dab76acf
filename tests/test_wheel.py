"""A wheel built from the repository, installed into a fresh venv, runs the main job from any folder:
recipes, page, Node runner and npm lock ship inside it; Node packages go to PATCHER_CACHE on first use."""
from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from kit import PROJECT, fetched, needs_npm, needs_tfjs

pytestmark = [pytest.mark.tf, needs_tfjs, needs_npm]


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """A fresh venv with only the wheel installed; the test environment's packages (TensorFlow and the
    rest, which a plain `pip install patcher[tf,web]` would download) are visible through a .pth file."""
    root = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(PROJECT), "--no-deps", "-q", "-w", str(root / "dist")],
                   check=True, capture_output=True)
    wheel = next((root / "dist").glob("patcher-*.whl"))
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    # without PYTHONPATH: a source tree on it (with the patcher.egg-info the wheel build leaves there) would
    # make pip take patcher for installed already and skip the wheel
    clean = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--no-deps", str(wheel)], check=True,
                   capture_output=True, env=clean)
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    Path(site, "test-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return venv


def run(venv: Path, cwd: Path, *args: str, env: dict) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(venv / "bin" / "patcher"), *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=900)
    assert proc.returncode == 0, f"patcher {' '.join(args)}: {proc.stderr[-2000:]}"
    assert "Traceback" not in proc.stderr
    return proc


def test_the_installed_wheel_runs_the_main_job_outside_the_checkout(installed, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PATCHER_UPSTREAM")}
    env.update(PATCHER_CACHE=str(tmp_path / "cache"), PATH=f"{installed / 'bin'}{os.pathsep}{env['PATH']}")

    where = run(installed, work, "recipes", env=env).stdout
    assert where.startswith("bisenetv2: ") and str(installed) in where, "the shipped recipe comes from the wheel"
    # the example (upstream, recipe, the recipe's own codemod) ships in the wheel too
    run(installed, work, "example", "tiny", env=env)
    common = ["--recipe", "tiny/tiny.toml", "--dest", "checkout"]
    applied = run(installed, work, "apply", *common, env=env)
    assert "(from recipe file contrib_initializer.py)" in applied.stdout
    run(installed, work, "verify", *common, "--sizes", "64x64", env=env)
    built = run(installed, work, "build", *common, "--random-weights", "--out", "web", env=env)
    assert f"into {tmp_path / 'cache'}" in built.stderr, "stderr says where npm installed TensorFlow.js"
    for name in ("model.json", "index.html", "segmenter.js", "sample.png", "tf.min.js"):
        assert (work / "web" / name).is_file(), name
    checked = run(installed, work, "check", "--model-dir", "web", "--sizes", "64x64", "--backends", "wasm", env=env)
    assert "checked: the web model matches TensorFlow on wasm" in checked.stdout

    server = subprocess.Popen([str(installed / "bin" / "patcher"), "serve", "web", "--port", "0"], cwd=work, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = server.stdout.readline()
        url = line.split(" at ")[1].split()[0]
        assert b"<html" in fetched(url + "index.html")
    finally:
        server.terminate()
        server.wait(timeout=10)

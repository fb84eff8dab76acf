"""What a newcomer runs as the docs print it: `patcher serve` on any folder (an npm project's, whose
node_modules holds a link to a package folder), the review command `apply` prints last, and `patcher list`'s
note on its line numbers."""
from __future__ import annotations

import os
import shlex
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from patcher import page
from patcher.cli import main

PROJECT = Path(__file__).resolve().parent.parent


@pytest.fixture
def npm_project(tmp_path):
    """An npm project without index.html whose node_modules links a package folder outside it (what `npm
    install FOLDER` makes), next to a link elsewhere that must stay closed."""
    package = tmp_path / "build"
    package.mkdir()
    (package / "segmenter.js").write_text("export const ok = 1;\n")
    (tmp_path / "secret.txt").write_text("TOP-SECRET\n")
    app = tmp_path / "app"
    (app / "node_modules" / "@scope").mkdir(parents=True)
    (app / "node_modules" / "@scope" / "face").symlink_to(package)
    (app / "page.html").write_text("<!doctype html>")
    (app / "leak.txt").symlink_to(tmp_path / "secret.txt")
    return app


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=30) as reply:
            return reply.status, reply.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def test_serve_follows_npm_links_and_names_a_refused_link(npm_project, capfd):
    httpd = page.server(npm_project)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}/"
    try:
        assert get(url + "node_modules/@scope/face/segmenter.js") == (200, b"export const ok = 1;\n")
        assert get(url + "page.html")[0] == 200
        status, body = get(url + "leak.txt")
        assert status == 404 and b"TOP-SECRET" not in body
        assert get(url + "node_modules/@scope/face/../../../secret.txt")[0] == 404
    finally:
        httpd.shutdown()
        httpd.server_close()
    err = capfd.readouterr().err
    assert f"leak.txt is a symbolic link to {npm_project.parent / 'secret.txt'}, outside the served folder" in err


def test_patcher_serve_runs_on_a_folder_without_index_html(npm_project):
    proc = subprocess.Popen([sys.executable, "-m", "patcher", "serve", str(npm_project), "--port", "0"],
                            env={**os.environ, "PYTHONPATH": str(PROJECT)}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith(f"serving {npm_project} at http://127.0.0.1:"), line + proc.stderr.read()
        url = line.split(" at ", 1)[1].split()[0]
        assert get(url + "node_modules/@scope/face/segmenter.js")[0] == 200
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_patcher_serve_on_a_missing_folder_says_so(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "patcher", "serve", str(tmp_path / "nowhere"), "--port", "0"],
                          env={**os.environ, "PYTHONPATH": str(PROJECT)}, capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and proc.stderr.strip().count("\n") == 0
    assert f"{tmp_path / 'nowhere'} is not a folder" in proc.stderr


def test_the_review_command_apply_prints_shows_exactly_patchers_commits(synthetic_upstream, tmp_path, capsys):
    path, (old, _) = synthetic_upstream
    dest = tmp_path / "checkout"
    assert main(["apply", "--upstream", str(path), "--dest", str(dest), "--commit", old]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    command = last.split("review with '", 1)[1].rstrip("'")
    assert command.startswith(f"git -C {dest} log -p "), last
    shown = subprocess.run([*shlex.split(command), "--format=%H"], capture_output=True, text=True, check=True).stdout
    commits = [line for line in shown.splitlines() if len(line) == 40 and " " not in line]
    pin, tip = last.split("(", 1)[1].split(")", 1)[0].split("..")
    everything = subprocess.run(["git", "-C", str(dest), "rev-list", "HEAD"], capture_output=True, text=True,
                                check=True).stdout.split()
    assert commits and commits[0].startswith(tip) and not any(c.startswith(pin) for c in commits)
    assert len(commits) == everything.index(next(c for c in everything if c.startswith(pin))), "only patcher's commits"
    assert main(["list", "--dest", str(dest)]) == 0
    assert "each line number is the one its codemod saw" in capsys.readouterr().out.splitlines()[0]

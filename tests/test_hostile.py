"""Hostile or unlucky input: nothing of the user's is ever lost, and every refusal is one
`patcher: error:` line with its exit code, never a traceback (docs/reliability.md lists the cases)."""
from __future__ import annotations

import errno
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import git
import pytest

import synthetic
from kit import BUILDS, PROJECT, cli, needs_tfjs_node, one_error, patcher, wait_for
from patcher import checkout, outdir, page
from patcher.cli import main
from patcher.errors import RecipeError

FREEZE = "tools/celebamask_hq/freeze_celebamaskhq_bisenetv2_model.py"
MODEL = "bisenet_model/bisenet_v2.py"


def builds(test):
    """Mark a test that runs real builds (TensorFlow, the converter, Node)."""
    for mark in BUILDS:
        test = mark(test)
    return test


# --- helpers ----------------------------------------------------------------------------------------

def tree(folder: Path) -> dict[str, object]:
    """Every entry under `folder`: file bytes, link targets, empty folders."""
    found: dict[str, object] = {}
    for root, dirs, names in os.walk(folder):
        for name in dirs + names:
            path = Path(root) / name
            rel = path.relative_to(folder).as_posix()
            if path.is_symlink():
                found[rel] = ("link", os.readlink(path))
            elif path.is_file():
                found[rel] = path.read_bytes()
            elif not any(path.iterdir()):
                found[rel] = "empty folder"
    return found


def user_folder(path: Path) -> Path:
    path.mkdir(parents=True)
    (path / "thesis.txt").write_text("four years of work\n")
    (path / "data").mkdir()
    (path / "data" / "results.csv").write_text("a,b\n1,2\n")
    return path


def fake_build(path: Path, build: str = "b1") -> Path:
    """A folder as build leaves it (a marked web folder and its marked graph folder), without TensorFlow."""
    path.mkdir(parents=True)
    (path / "model.json").write_text("{}")
    (path / "index.html").write_text("<!doctype html>")
    (path / "group1-shard1of1.bin").write_bytes(b"\0" * 64)
    outdir.write_marker(path, "web", build)
    graph = outdir.graph_dir(path)
    graph.mkdir()
    (graph / outdir.GRAPH).write_bytes(b"graph")
    outdir.write_marker(graph, "tf", build)
    return path


def build_args(checkouts: Path, out, *extra: str) -> list[str]:
    return ["build", "--dest", str(checkouts / "celebamask"), "--random-weights", "--out", str(out), *extra]


def hidden(parent: Path, name: str) -> list[str]:
    """What a build left beside `name` in `parent`, locks aside."""
    return sorted(p.name for p in parent.iterdir() if p.name.startswith(f".{name}.") and not p.name.endswith(".lock"))


# --- build --out: what is refused before any work ---------------------------------------------------

def refusal_cases(tmp_path: Path, checkouts: Path, monkeypatch) -> dict[str, tuple[Path, str, Path | None]]:
    """name -> (--out as given, a phrase of the error, the folder that must stay as it was)."""
    cases = {}
    user = user_folder(tmp_path / "user")
    cases["a user's folder"] = (user, "was not made by 'patcher build'", user)
    (tmp_path / "afile").write_text("not a folder\n")
    cases["a file"] = (tmp_path / "afile", "it is a file", None)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    cases["the home folder (even empty)"] = (home, "your home folder", home)
    cases["the filesystem root"] = (Path("/"), "filesystem root", None)
    here = tmp_path / "here" / "cwd"
    here.mkdir(parents=True)
    cases["the current folder (even empty)"] = (Path("."), "the current folder", here)
    cases["a parent of the current folder"] = (Path(".."), "holds the current folder", here.parent)
    cases["the checkout"] = (checkouts / "celebamask", "it is the checkout (--dest)", None)
    cases["a parent of the checkout"] = (checkouts, "holds the checkout (--dest)", None)
    cases["patcher itself"] = (PROJECT, "patcher itself", None)
    link = tmp_path / "link"
    link.symlink_to(user)
    cases["a link to a user's folder"] = (link, "was not made by 'patcher build'", user)
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    cases["a link to nowhere"] = (tmp_path / "dangling", "which does not exist", None)
    lone = tmp_path / "lone"
    user_folder(outdir.graph_dir(lone))
    cases["a new folder whose DIR.tf is the user's"] = (lone, "its graph folder", outdir.graph_dir(lone))
    added = fake_build(tmp_path / "added")
    (added / "notes.txt").write_text("mine\n")
    (added / "drafts").mkdir()
    cases["a build the user added files to"] = (added, "drafts/, notes.txt", added)
    changed = fake_build(tmp_path / "changed")
    (changed / "index.html").write_text("<!doctype html><p>my edit")
    cases["a build whose page the user edited"] = (changed, "index.html", changed)
    graph_added = fake_build(tmp_path / "graphadded")
    (outdir.graph_dir(graph_added) / "notes.txt").write_text("mine\n")
    cases["a build whose DIR.tf the user added to"] = (graph_added, "notes.txt", outdir.graph_dir(graph_added))
    cases["a graph folder given as --out"] = (outdir.graph_dir(fake_build(tmp_path / "g")), "frozen-graph folder",
                                              None)
    monkeypatch.chdir(here)
    return cases


CASES = ["a user's folder", "a file", "the home folder (even empty)", "the filesystem root",
         "the current folder (even empty)", "a parent of the current folder", "the checkout",
         "a parent of the checkout", "patcher itself", "a link to a user's folder", "a link to nowhere",
         "a new folder whose DIR.tf is the user's", "a build the user added files to",
         "a build whose page the user edited", "a build whose DIR.tf the user added to",
         "a graph folder given as --out"]


@pytest.mark.parametrize("case", CASES)
def test_build_refuses_an_out_it_may_not_replace_before_any_work(case, checkouts, tmp_path, monkeypatch, capsys):
    out, phrase, kept = refusal_cases(tmp_path, checkouts, monkeypatch)[case]
    before = tree(kept) if kept else None
    listing = sorted(p.name for p in tmp_path.iterdir())
    code, _, err = cli(capsys, *build_args(checkouts, out))
    one_error(err, code, 17, "refusing --out", phrase, "nothing was touched")
    assert "checkpoint" not in err, "refused before any work"
    if kept:
        assert tree(kept) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == listing, "not even a lock file was made"


def test_force_does_not_override_the_places_that_are_never_replaced(checkouts, tmp_path, monkeypatch, capsys):
    home = user_folder(tmp_path / "home")
    monkeypatch.setenv("HOME", str(home))
    before = tree(home)
    code, _, err = cli(capsys, *build_args(checkouts, home, "--force"))
    one_error(err, code, 17, "your home folder")
    code, _, err = cli(capsys, *build_args(checkouts, user_folder(tmp_path / "user"), "--force"))
    one_error(err, code, 17, "was not made by 'patcher build'")
    assert tree(home) == before


def test_a_read_only_parent_is_refused_at_once(checkouts, tmp_path, capsys):
    """As a user who cannot write there (root can write anywhere, so the run drops to 'nobody')."""
    parent = Path(os.environ.get("TMPDIR", "/tmp")) / f"patcher-ro-{os.getpid()}"
    parent.mkdir()
    try:
        previous = fake_build(parent / "web")
        before = tree(parent)
        parent.chmod(0o555)
        command = [sys.executable, "-m", "patcher", *build_args(checkouts, previous)]
        if os.geteuid() == 0:
            if shutil.which("setpriv") is None:
                pytest.skip("running as root and setpriv is missing: cannot make a folder read-only for this run")
            command = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *command]
        proc = subprocess.run(command, cwd="/", env={**os.environ, "PYTHONPATH": str(PROJECT), "HOME": "/nonexistent"},
                              capture_output=True, text=True, timeout=120)
        one_error(proc.stderr, proc.returncode, 17, "cannot write in", str(parent))
        assert tree(parent) == before
    finally:
        parent.chmod(0o755)
        shutil.rmtree(parent)


def test_a_write_that_fails_beside_the_output_is_one_line(checkouts, tmp_path, monkeypatch, capsys):
    """Writable by the permission bits, yet the write fails (a read-only mount): exit 17, nothing left."""
    previous = fake_build(tmp_path / "web")
    before = tree(tmp_path)

    def refuse(out):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(out.parent / f".{out.name}.partial-x"))

    monkeypatch.setattr(outdir, "stage", refuse)
    code, _, err = cli(capsys, *build_args(checkouts, previous))
    one_error(err, code, 17, "Read-only file system", "the previous output is as it was")
    assert {k: v for k, v in tree(tmp_path).items() if not k.endswith(".lock")} == before


# --- apply --dest -------------------------------------------------------------------------------------

def test_apply_refuses_a_dest_it_may_not_use(synthetic_upstream, tmp_path, monkeypatch, capsys):
    path, (old, _) = synthetic_upstream
    home = tmp_path / "home"
    home.mkdir()
    synthetic.git(home, "init", "-q")
    (home / ".bashrc").write_text("export EDITOR=vi\n")
    synthetic.git(home, "add", "-A")
    synthetic.git(home, "commit", "-q", "-m", "my dotfiles")
    monkeypatch.setenv("HOME", str(home))
    mine = user_folder(tmp_path / "work" / "mine")
    synthetic.git(mine, "init", "-q")
    (tmp_path / "afile").write_text("x\n")
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    cases = [(home, "your home folder"), (Path("/"), "filesystem root"), (Path("."), "the current folder"),
             (Path(".."), "holds the current folder"), (tmp_path / "afile", "it is a file"),
             (tmp_path / "dangling", "which does not exist"), (PROJECT, "patcher itself")]
    monkeypatch.chdir(mine)
    before = {p: tree(p) for p in (home, mine)}
    listing = sorted(p.name for p in tmp_path.iterdir())
    for dest, phrase in cases:
        code, _, err = cli(capsys, "apply", "--upstream", str(path), "--commit", old, "--dest", str(dest))
        one_error(err, code, 17, "refusing --dest", phrase)
    assert {p: tree(p) for p in (home, mine)} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == listing


def test_apply_into_a_user_folder_that_is_not_a_checkout_deletes_nothing(synthetic_upstream, tmp_path, capsys):
    path, (old, _) = synthetic_upstream
    mine = user_folder(tmp_path / "mine")
    # look-alikes of patcher's staging and lock names, but not its own
    (tmp_path / "mine.partial-1").mkdir()
    (tmp_path / ".mine.notes").write_text("keep\n")
    before = tree(tmp_path)
    code, _, err = cli(capsys, "apply", "--upstream", str(path), "--commit", old, "--dest", str(mine))
    one_error(err, code, 3, "is not a git checkout")
    assert {k: v for k, v in tree(tmp_path).items() if not k.endswith(".lock")} == before


# --- check: a model.json that tries to read outside its folder ----------------------------------------

def hostile_model(tmp_path: Path, content, shard: str | None = None) -> Path:
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "model.json").write_text(content if isinstance(content, str) else json.dumps(content))
    graph = outdir.graph_dir(folder)
    graph.mkdir()
    (graph / outdir.GRAPH).write_bytes(b"not read: refused before")
    return folder


SECRET = b"SECRET-" + b"x" * 9  # 16 bytes: exactly what the manifest below describes


def manifest(path: str) -> dict:
    return {"modelTopology": {"node": []}, "format": "graph-model",
            "weightsManifest": [{"paths": [path], "weights": [{"name": "w", "shape": [4], "dtype": "float32"}]}],
            "userDefinedMetadata": {"patcher": {}}}


def model_cases(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    secret = tmp_path / "secret.bin"
    secret.write_bytes(SECRET)
    cases = {}
    for name, content, phrase in [
        ("not JSON", "{'model': ", "is not JSON"),
        ("not an object", "[1, 2]", "no modelTopology"),
        ("no weightsManifest", {"modelTopology": {"node": []}}, "no weightsManifest"),
        ("a manifest without paths", {"modelTopology": {}, "weightsManifest": [{"weights": []}]}, "no weightsManifest"),
        ("a shard in ..", manifest("../secret.bin"), "leaves its folder"),
        ("a shard at an absolute path", manifest(str(secret)), "is an absolute path"),
        ("a shard that is a link out", manifest("link.bin"), "symbolic link out of the folder"),
    ]:
        base = tmp_path / name.replace(" ", "-")
        base.mkdir()
        folder = hostile_model(base, content)
        (folder / "link.bin").symlink_to(secret)
        cases[name] = (folder, phrase)
    base = tmp_path / "json-link"
    base.mkdir()
    folder = hostile_model(base, "{}")
    (folder / "model.json").unlink()
    (tmp_path / "elsewhere.json").write_text(json.dumps(manifest("w.bin")))
    (folder / "model.json").symlink_to(tmp_path / "elsewhere.json")
    cases["model.json is a link out"] = (folder, "is a symbolic link out of")
    return cases


MODEL_CASES = ["not JSON", "not an object", "no weightsManifest", "a manifest without paths", "a shard in ..",
               "a shard at an absolute path", "a shard that is a link out", "model.json is a link out"]


@pytest.mark.parametrize("case", MODEL_CASES)
def test_check_refuses_a_model_json_that_reads_outside_its_folder(case, tmp_path, capsys):
    folder, phrase = model_cases(tmp_path)[case]
    code, _, err = cli(capsys, "check", "--model-dir", str(folder), "--sizes", "64x64", "--backends", "wasm")
    one_error(err, code, 16, phrase)
    assert "running" not in err, "refused before TensorFlow or Node ran"


LOAD = """
import {loadArtifacts} from %s;
try { loadArtifacts(process.argv[2]); console.log('loaded'); } catch (e) { console.log('refused: ' + e.message); }
"""


@needs_tfjs_node
def test_run_model_refuses_shards_outside_the_folder(tmp_path):
    """The Node runner checks on its own too (it also serves the benchmarks): a shard of the right size
    outside the folder would load without the check."""
    from patcher import nodejs

    secret = tmp_path / "secret.bin"
    secret.write_bytes(SECRET)
    script = tmp_path / "load.mjs"
    script.write_text(LOAD % json.dumps(nodejs.script("run_model.mjs").as_uri()))
    results = {}
    for name, shard in [("inside", "w.bin"), ("dotdot", "../secret.bin"), ("absolute", str(secret)),
                        ("link", "link.bin")]:
        folder = tmp_path / name
        folder.mkdir()
        (folder / "model.json").write_text(json.dumps(manifest(shard)))
        (folder / "w.bin").write_bytes(b"\0" * 16)
        (folder / "link.bin").symlink_to(secret)
        proc = subprocess.run(["node", str(script), str(folder)], capture_output=True, text=True, timeout=120)
        results[name] = proc.stdout.strip()
    assert results["inside"] == "loaded", results
    assert "outside" in results["dotdot"] and "outside" in results["absolute"], results
    assert "symbolic link out of" in results["link"], results


# --- serve --------------------------------------------------------------------------------------------

@pytest.fixture
def served(tmp_path):
    folder = tmp_path / "site"
    (folder / "sub").mkdir(parents=True)
    (folder / "index.html").write_text("<!doctype html><title>page</title>")
    (folder / "sub" / "a.txt").write_text("public\n")
    (tmp_path / "secret.txt").write_text("TOP-SECRET\n")
    (folder / "leak.txt").symlink_to(tmp_path / "secret.txt")
    (folder / "inside.txt").symlink_to(folder / "sub" / "a.txt")
    outdir.write_marker(folder, "web", "b1")
    httpd = page.server(folder)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield httpd.server_address[1], tmp_path / "secret.txt"
    httpd.shutdown()
    httpd.server_close()


def raw_get(port: int, target: str) -> tuple[int, bytes]:
    """A request with `target` sent as it is (urllib would normalise it)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.putrequest("GET", target, skip_host=True, skip_accept_encoding=True)
        connection.putheader("Host", f"127.0.0.1:{port}")
        connection.endheaders()
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_serve_sends_nothing_from_outside_its_folder(served):
    port, secret = served
    for target in ["/../secret.txt", "/%2e%2e/secret.txt", "/%2E%2E/secret.txt", "/..%2fsecret.txt",
                   "/%2e%2e%2fsecret.txt", "/sub/../../secret.txt", "/sub/%2e%2e/%2e%2e/secret.txt",
                   "//../secret.txt", "/./../secret.txt", "../secret.txt", str(secret), "/" + str(secret),
                   "//" + str(secret).lstrip("/"), "http://127.0.0.1/../secret.txt", "/..\\secret.txt",
                   "/leak.txt", "/.patcher-build", "/%2epatcher-build", "/sub/", "/sub", "/%00", "/%ff"]:
        status, body = raw_get(port, target)
        assert status in (301, 404), (target, status)
        assert b"TOP-SECRET" not in body and b"patcher build" not in body, target
    assert raw_get(port, "/index.html")[0] == 200
    assert raw_get(port, "/")[0] == 200
    assert raw_get(port, "/sub/a.txt") == (200, b"public\n")
    assert raw_get(port, "/inside.txt") == (200, b"public\n"), "a link that stays inside is served"


def test_serve_on_a_port_in_use_is_one_line(tmp_path):
    folder = tmp_path / "site"
    folder.mkdir()
    (folder / "index.html").write_text("<!doctype html>")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        for value in (str(port), "70000"):
            proc = patcher("serve", str(folder), "--port", value, timeout=120)
            one_error(proc.stderr, proc.returncode, 18, f"cannot serve on 127.0.0.1:{value}")


# --- the recipe and the upstream ----------------------------------------------------------------------

def bad_recipe(tmp_path: Path, files: str) -> Path:
    text = (PROJECT / "patches" / "bisenetv2.toml").read_text()
    first = 'files = ["{freeze_script}"]'
    assert first in text
    path = tmp_path / "bad.toml"
    path.write_text(text.replace(first, f"files = [{json.dumps(files)}]", 1))
    return path


@pytest.mark.parametrize("files", ["../x.py", "/etc/passwd", "tools/../../x.py"])
def test_a_recipe_file_outside_the_checkout_is_refused(files, synthetic_upstream, tmp_path, capsys):
    path, (old, _) = synthetic_upstream
    dest = tmp_path / "checkout"
    code, _, err = cli(capsys, "apply", "--recipe", str(bad_recipe(tmp_path, files)), "--upstream", str(path),
                    "--commit", old, "--dest", str(dest))
    one_error(err, code, 13, files)
    assert not dest.exists() or not [h for h in git.Repo(dest).heads if h.name.startswith("patcher/")]


@pytest.mark.parametrize("files", ["../x.py", "/etc/passwd", "a/../../x.py", "", "a\0b"])
def test_read_at_refuses_paths_outside_the_checkout(files, synthetic_upstream):
    """read_at's own check, whatever the recipe loader lets through."""
    path, (old, _) = synthetic_upstream
    with pytest.raises(RecipeError):
        checkout.read_at(git.Repo(path), old, files)
    assert checkout.read_at(git.Repo(path), old, f"./{MODEL}") == checkout.read_at(git.Repo(path), old, MODEL)


def change(root: Path, message: str, edit) -> str:
    """Commit what `edit(root)` does to the upstream copy; the new commit."""
    edit(root)
    synthetic.git(root, "add", "-A")
    synthetic.git(root, "commit", "-q", "-m", message)
    return synthetic.git(root, "rev-parse", "HEAD")


def link(path: str, target: str):
    def edit(root: Path) -> None:
        (root / path).unlink()
        (root / path).symlink_to(target)
    return edit


def moved_and_linked(root: Path) -> None:
    (root / MODEL).rename(root / "bisenet_model/bisenet_v2_impl.py")
    (root / MODEL).symlink_to("bisenet_v2_impl.py")


def folder_linked(root: Path) -> None:
    (root / "bisenet_model").rename(root / "model_code")
    (root / "bisenet_model").symlink_to("model_code")


def emptied(root: Path) -> None:
    (root / FREEZE).write_text("")


def huge(root: Path) -> None:
    text = (root / FREEZE).read_text()
    (root / FREEZE).write_text(text + "\n# padding\n" + ("# " + "x" * 98 + "\n") * 300_000)  # 30 MB


def renamed_non_utf8(root: Path) -> None:
    (root / MODEL).rename(root / os.fsdecode(b"bisenet_model/bisenet_v2_\xe9.py"))


UPSTREAMS = {
    "target is a link out of the repository": (link(MODEL, "/etc/passwd"), 7, "is a symbolic link (to /etc/passwd)"),
    "target is a link to ../..": (link(MODEL, "../../outside.py"), 7, "is a symbolic link (to ../../outside.py)"),
    "target is a link inside the repository": (moved_and_linked, 7, "is a symbolic link (to bisenet_v2_impl.py)"),
    "a folder on the way is a link": (folder_linked, 7, "bisenet_model is a symbolic link"),
    "target is empty": (emptied, 5, "found 0"),
    "target is 29 MB": (huge, 7, "28.9 MB at"),
    "target renamed to a non-UTF-8 name": (renamed_non_utf8, 5, "missing at"),
}


@pytest.mark.parametrize("case", list(UPSTREAMS))
def test_odd_upstream_files_are_a_clear_error_and_nothing_is_written(case, upstream, tmp_path, capsys):
    root, _ = upstream
    edit, expected, phrase = UPSTREAMS[case]
    commit = change(root, case, edit)
    dest = tmp_path / "checkout"
    code, _, err = cli(capsys, "apply", "--upstream", str(root), "--commit", commit, "--dest", str(dest))
    one_error(err, code, expected, phrase)
    repo = git.Repo(dest)
    assert not [h for h in repo.heads if h.name.startswith("patcher/")], "no patched branch was made"
    assert repo.head.commit.hexsha == commit and not repo.is_dirty(untracked_files=True)


def test_a_non_utf8_file_name_elsewhere_in_the_upstream_is_fine(upstream, tmp_path, capsys):
    root, _ = upstream
    name = os.fsdecode(b"notes/caf\xe9-\xff.py")

    def add(base: Path) -> None:
        (base / "notes").mkdir()
        (base / name).write_bytes(b"# latin-1 name\n")
    commit = change(root, "a non-UTF-8 file name", add)
    dest = tmp_path / "checkout"
    code, _, err = cli(capsys, "apply", "--upstream", str(root), "--commit", commit, "--dest", str(dest))
    assert code == 0 and "Traceback" not in err, err
    assert (dest / name).read_bytes() == b"# latin-1 name\n"
    assert cli(capsys, "apply", "--upstream", str(root), "--commit", commit, "--dest", str(dest))[0] == 0
    capsys.readouterr()
    assert main(["diff", "--dest", str(dest)]) == 0
    out = capsys.readouterr().out
    assert f"diff --git a/{MODEL}" in out and "notes/" not in out


# --- the swap survives a kill at any point (no TensorFlow: staged folders made by hand) ---------------

SWAP = """
import sys
from pathlib import Path
from patcher import outdir
from patcher.errors import PatcherError
out = Path(sys.argv[1])
staged = outdir.stage(out)
try:
    (staged / "model.json").write_text('{"new": true}')
    (outdir.graph_dir(staged) / outdir.GRAPH).write_bytes(b"new graph")
    outdir.commit(staged, out)
except PatcherError as exc:
    sys.exit(print(f"patcher: error: {exc}", file=sys.stderr) or exc.code)
finally:
    outdir.drop(staged)
"""


@pytest.mark.parametrize("stage", ["marked", "swap", None])
@pytest.mark.parametrize("first", [True, False])
def test_a_swap_killed_at_any_point_is_finished_or_undone_by_the_next_run(stage, first, tmp_path):
    out = tmp_path / "web"
    if not first:
        fake_build(out, "old")
        (out / "notes.txt").write_text("the user's\n")
    before = {p: tree(p) for p in (out, outdir.graph_dir(out)) if p.exists()}
    env = {**os.environ, "PYTHONPATH": str(PROJECT)}
    if stage:
        env["PATCHER_FAULT"] = stage
    proc = subprocess.run([sys.executable, "-c", SWAP, str(out)], env=env, capture_output=True, text=True, timeout=60)
    if not first:
        one_error(proc.stderr, proc.returncode, 17, "notes.txt")  # the user's file: refused, nothing moved
        assert {p: tree(p) for p in before} == before and hidden(tmp_path, "web") == []
        (out / "notes.txt").unlink()
        before = {p: tree(p) for p in before}
        proc = subprocess.run([sys.executable, "-c", SWAP, str(out)], env=env, capture_output=True, text=True,
                              timeout=60)
    assert proc.returncode == (-signal.SIGKILL if stage else 0), proc.stderr
    if stage == "marked":  # before the journal: the previous pair as it was
        assert {p: tree(p) for p in (out, outdir.graph_dir(out)) if p.exists()} == before
    outdir.recover(out)
    assert hidden(tmp_path, "web") == []
    if stage == "marked":
        assert {p: tree(p) for p in (out, outdir.graph_dir(out)) if p.exists()} == before
        return
    web, tf = outdir.read_marker(out), outdir.read_marker(outdir.graph_dir(out))
    assert web["build"] == tf["build"] != "old", "the new pair, complete"
    assert (out / "model.json").read_text() == '{"new": true}'
    assert (outdir.graph_dir(out) / outdir.GRAPH).read_bytes() == b"new graph"
    assert not list(tmp_path.glob("*.backup-*")), "nothing of the user's was there to keep"


def test_recovery_touches_only_patchers_own_hidden_folders(tmp_path):
    out = fake_build(tmp_path / "web")
    for name in (".web.partial-mine", ".web.old-notes", ".web.swap-x", ".web.partial-2024.tf", ".web.backup"):
        user_folder(tmp_path / name)
    before = tree(tmp_path)
    staged = outdir.stage(out)
    assert outdir.IDENT.search(staged.name)
    outdir.recover(out)
    assert tree(tmp_path) == before


def test_replacing_deletes_only_what_patcher_wrote(tmp_path, capsys):
    old = fake_build(tmp_path / "old")
    (old / "mine.txt").write_text("the user's\n")
    (old / "index.html").write_text("edited by the user")
    (tmp_path / "outside.txt").write_text("keep\n")
    marker = json.loads((old / outdir.MARKER).read_text())
    marker["files"]["../outside.txt"] = marker["files"]["model.json"]  # a forged entry
    (old / outdir.MARKER).write_text(json.dumps(marker))
    backup = outdir.discard(old, tmp_path / "web")
    assert not old.exists() and backup.name.startswith("web.backup-")
    assert tree(backup) == {"mine.txt": b"the user's\n", "index.html": b"edited by the user"}
    assert (tmp_path / "outside.txt").read_text() == "keep\n"
    assert f"kept 2 file(s) of {tmp_path / 'web'} that patcher did not write in {backup}" in capsys.readouterr().err


# --- with TensorFlow: real builds ---------------------------------------------------------------------

def previous(built: Path, out: Path) -> dict:
    """`out` as a copy of the built pair; what it holds."""
    shutil.copytree(built, out)
    shutil.copytree(outdir.graph_dir(built), outdir.graph_dir(out))
    return {p: tree(p) for p in (out, outdir.graph_dir(out))}


@builds
def test_force_moves_the_users_files_aside_and_replaces_the_build(checkouts, built, tmp_path, capsys):
    out = tmp_path / "web"
    previous(built, out)
    (out / "notes.txt").write_text("mine\n")
    (outdir.graph_dir(out) / "graph-notes.txt").write_text("mine too\n")
    before = {p: tree(p) for p in (out, outdir.graph_dir(out))}
    code, _, err = cli(capsys, *build_args(checkouts, out))
    one_error(err, code, 17, "notes.txt", "--force")
    assert {p: tree(p) for p in before} == before
    code, _, err = cli(capsys, *build_args(checkouts, out, "--force", "--no-check"))
    assert code == 0, err
    backups = sorted(tmp_path.glob("web*.backup-*"))
    assert [b.name.split(".backup-")[0] for b in backups] == ["web", "web.tf"]
    assert tree(backups[0]) == {"notes.txt": b"mine\n"} and tree(backups[1]) == {"graph-notes.txt": b"mine too\n"}
    assert all(str(b) in err for b in backups), "stderr says where they went"
    web, tf = outdir.read_marker(out), outdir.read_marker(outdir.graph_dir(out))
    assert web["build"] == tf["build"] and outdir.foreign(out, web) == []
    assert "model.json" in web["files"] and outdir.GRAPH in tf["files"] and outdir.GRAPH not in web["files"]
    assert hidden(tmp_path, "web") == []


@builds
def test_a_full_disk_while_writing_the_shards_leaves_the_previous_output(checkouts, built, tmp_path, monkeypatch,
                                                                         capsys):
    out = tmp_path / "web"
    before = previous(built, out)
    monkeypatch.setenv("PATCHER_FAULT", "enospc-shards")
    code, _, err = cli(capsys, *build_args(checkouts, out))
    one_error(err, code, 17, "no space left on device", "the previous output is as it was")
    assert {p: tree(p) for p in before} == before
    assert hidden(tmp_path, "web") == []


def children(pid: int) -> list[tuple[int, str]]:
    """(pid, command line) of every descendant of `pid`, from /proc."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                parents[int(entry)] = int(Path(f"/proc/{entry}/stat").read_text().rsplit(") ", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    found, todo = [], [pid]
    while todo:
        parent = todo.pop()
        for child, ppid in parents.items():
            if ppid == parent:
                todo.append(child)
                try:
                    found.append((child, Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ").decode()))
                except OSError:
                    continue
    return found


def gone(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].startswith("Z")
    except OSError:
        return True


KILLS = {
    "during conversion": ("child", "tensorflowjs.converters.converter"),
    "after conversion": ("hook", "shards"),
    "during the quick check": ("child", "run_model.mjs"),
    "in the middle of the swap": ("hook", "swap"),
}


@pytest.mark.parametrize("when", [pytest.param(k, marks=BUILDS) for k in KILLS])
def test_a_build_killed_at_any_point_leaves_a_whole_output_and_the_next_run_cleans_up(when, checkouts, built,
                                                                                      tmp_path, capsys):
    how, what = KILLS[when]
    out = tmp_path / "web"
    before = previous(built, out)
    env = {**os.environ, "PYTHONPATH": str(PROJECT), **({"PATCHER_FAULT": what} if how == "hook" else {})}
    proc = subprocess.Popen([sys.executable, "-m", "patcher", *build_args(checkouts, out)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    orphans = []
    if how == "child":
        deadline = time.monotonic() + 600
        while proc.poll() is None and time.monotonic() < deadline:
            found = [pid for pid, line in children(proc.pid) if what in line]
            if found:
                orphans = [pid for pid, _ in children(proc.pid)]
                proc.kill()
                break
            time.sleep(0.05)
    assert proc.wait(timeout=600) == -signal.SIGKILL, proc.stderr.read()
    # the converter or node may go on until it ends; its output goes into staging
    wait_for(lambda: all(gone(pid) for pid in orphans), "the killed build's children (converter, node) to end")
    assert hidden(tmp_path, "web"), "the kill left staging (or a half swap) behind"
    if when != "in the middle of the swap":
        assert {p: tree(p) for p in before} == before, "the previous output is whole"
    # the next run, whatever it does, cleans up first (here it stops at once: no such checkpoint)
    code, _, err = cli(capsys, "build", "--dest", str(checkouts / "celebamask"), "--checkpoint",
                    str(tmp_path / "absent.ckpt"), "--out", str(out))
    one_error(err, code, 14, "absent.ckpt")
    assert hidden(tmp_path, "web") == []
    web, tf = outdir.read_marker(out), outdir.read_marker(outdir.graph_dir(out))
    assert web and tf and web["build"] == tf["build"], "a whole pair"
    if when == "in the middle of the swap":
        assert web["build"] != json.loads(before[out][outdir.MARKER])["build"], "the new, complete build"
    else:
        assert {p: tree(p) for p in before} == before
    assert not list(tmp_path.glob("*.backup-*"))

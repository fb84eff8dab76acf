"""Never a false success: git's refusals and reasons reach the user, a pin means that commit,
a codemod changes only its sites, and a commit is patcher's only as patcher wrote it."""
from __future__ import annotations

import os
import pwd
import re
import subprocess
import sys
from difflib import SequenceMatcher
from pathlib import Path

import git
import pytest

import synthetic
from kit import PROJECT, apply, needs_tf, needs_tfjs, needs_tfjs_node, one_error, patcher, snapshot
from patcher import checkout, runner
from patcher import recipe as recipes
from patcher.cli import _sizes, main
from patcher.codemods.base import Site
from patcher.errors import LockedError, PatcherError, SourceError
from patcher.recipe import Step

FREEZE = "tools/celebamask_hq/freeze_celebamaskhq_bisenetv2_model.py"
STEPS = recipes.load().for_model("celebamask")
ROOT = os.geteuid() == 0
as_root = pytest.mark.skipif(not ROOT, reason="giving a folder to another user needs root")


@pytest.fixture(autouse=True)
def own_git_config(tmp_path, monkeypatch):
    """A HOME of the test's own, so that no safe.directory of the machine's user changes git's answers."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")


def chown(folder: Path, user: str = "nobody") -> None:
    entry = pwd.getpwnam(user)
    for root, dirs, files in os.walk(folder):
        for name in [root, *(os.path.join(root, n) for n in dirs + files)]:
            os.lchown(name, entry.pw_uid, entry.pw_gid)


# --- 1. git refuses the checkout: one line, git's reason, what to do, 19 on every command -------------

@as_root
def test_a_checkout_owned_by_another_user_is_refused_on_every_command(synthetic_upstream, tmp_path, capsys):
    path, (old, new) = synthetic_upstream
    dest = tmp_path / "checkout"
    assert apply(path, dest, "--commit", old) == 0
    chown(dest)
    before = snapshot(dest)
    for argv in (["apply", "--upstream", str(path), "--commit", old], ["apply", "--upstream", str(path), "--commit", new],
                 ["list"], ["diff"], ["verify"]):
        capsys.readouterr()
        line = one_error(capsys, main([*argv, "--dest", str(dest)]), 19, "dubious ownership", "safe.directory")
        assert f"git config --global --add safe.directory {dest}" in line and "does not change" in line
    assert snapshot(dest) == before
    assert git.Repo(dest).git.config("--global", "--get-all", "safe.directory", with_exceptions=False) == ""
    # as a user runs it: `python -m patcher`, where a broken pipe used to end the run with 0
    done = patcher("apply", "--upstream", str(path), "--commit", old, "--dest", str(dest))
    assert done.returncode == 19 and done.stderr.count("patcher: error:") == 1, done.stderr
    assert "dubious ownership" in done.stderr and "Traceback" not in done.stderr


def test_a_git_process_that_dies_under_gitpython_is_an_error_not_a_closed_stdout(synthetic_upstream, tmp_path):
    """git cat-file (GitPython's persistent reader) ends at once: the BrokenPipeError or empty answer that
    follows is git's failure (19), not a reader that closed stdout (0)."""
    path, (old, _) = synthetic_upstream
    dest = tmp_path / "checkout"
    assert apply(path, dest, "--commit", old) == 0
    fake = tmp_path / "git"
    fake.write_text('#!/bin/sh\ncase "$*" in *cat-file*--batch*) exit 128;; esac\nexec /usr/bin/git "$@"\n')
    fake.chmod(0o755)
    done = patcher("list", "--dest", str(dest), env={"GIT_PYTHON_GIT_EXECUTABLE": str(fake)})
    assert done.returncode == 19, done.stderr
    assert done.stderr.count("patcher: error:") == 1 and "Traceback" not in done.stderr, done.stderr
    assert f"a git process ended unexpectedly in {dest}" in done.stderr


def test_a_reader_that_closes_stdout_early_is_not_an_error(synthetic_upstream, tmp_path):
    """`patcher diff | true`: the reader has closed the pipe before patcher writes (patcher must first read
    the checkout), so the diff's first write raises BrokenPipeError. A reader that reads a few bytes and
    closes proves nothing here: a pipe holds 64 KiB and a partial write does not fail, so the run could end
    before it ever met the closed pipe."""
    path, (old, _) = synthetic_upstream
    dest = tmp_path / "checkout"
    assert apply(path, dest, "--commit", old) == 0
    proc = subprocess.Popen([sys.executable, "-m", "patcher", "diff", "--dest", str(dest)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(PROJECT)})
    proc.stdout.close()
    err = proc.stderr.read()
    assert proc.wait() == 0 and err == b"", err


def test_an_index_lock_of_another_git_is_left_and_named(synthetic_upstream, tmp_path, capsys):
    path, (old, new) = synthetic_upstream
    dest = tmp_path / "checkout"
    assert apply(path, dest, "--commit", old) == 0
    lock = Path(git.Repo(dest).git_dir) / "index.lock"
    lock.write_text("")  # another git is committing in the checkout
    head = git.Repo(dest).head.commit.hexsha
    capsys.readouterr()
    one_error(capsys, apply(path, dest, "--commit", new), 19, "index.lock", "File exists", "another git is running")
    assert lock.exists() and git.Repo(dest).head.commit.hexsha == head
    capsys.readouterr()
    one_error(capsys, apply(path, dest, "--commit", new), 19, "index.lock")  # still another git's, the next run too
    assert lock.exists()
    lock.unlink()
    assert apply(path, dest, "--commit", new) == 0


def test_a_damaged_object_store_is_git_s_reason(synthetic_upstream, tmp_path, capsys):
    path, (old, new) = synthetic_upstream
    dest = tmp_path / "checkout"
    assert apply(path, dest, "--commit", old) == 0
    repo = git.Repo(dest)
    repo.git.repack("-a", "-d", "-q")
    for pack in Path(repo.git_dir, "objects", "pack").glob("*.pack"):
        data = bytearray(pack.read_bytes())
        for i in range(len(data) // 4, len(data) - 64, 97):
            data[i] ^= 0xFF
        pack.chmod(0o644)
        pack.write_bytes(bytes(data))
    for argv in (["apply", "--upstream", str(path), "--commit", new], ["diff"]):
        capsys.readouterr()
        line = one_error(capsys, main([*argv, "--dest", str(dest)]), 19, f"in {dest}: git says: ")
        # git's own words for a damaged object; which one depends on where the flipped bytes land in the pack
        # (zlib's "inflate: data stream error", "failed to read delta base object", "bad object", ...)
        assert re.search(r"git says: (error|fatal): .*(inflate|corrupt|bad object|packed object|delta base|failed to read)", line), line


# --- 2. a failed clone says why ------------------------------------------------------------------------

def test_a_failed_clone_quotes_git(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    cases = {"http://127.0.0.1:9/x.git": "unable to access", str(tmp_path / "empty"): "does not exist"}
    for source, reason in cases.items():
        capsys.readouterr()
        line = one_error(capsys, apply(source, tmp_path / "dest"), 3, f"cannot clone {source}: git says: fatal:",
                         reason)
        assert "cmdline" not in line
        assert not (tmp_path / "dest").exists() and not list(tmp_path.glob(".dest.*"))


@as_root
def test_a_clone_of_an_upstream_owned_by_another_user_quotes_git(synthetic_upstream, tmp_path, capsys):
    path, _ = synthetic_upstream
    theirs = tmp_path / "theirs"
    subprocess.run(["cp", "-a", str(path), str(theirs)], check=True)
    chown(theirs)
    one_error(capsys, apply(theirs, tmp_path / "dest"), 3, "git says: fatal: detected dubious ownership")


# --- 3. a pin is an object id, never a ref --------------------------------------------------------------

@pytest.mark.parametrize("kind", ["tag", "branch"])
def test_a_ref_named_like_the_short_pin_makes_no_difference(kind, upstream, tmp_path, capsys):
    path, (old, new) = upstream
    synthetic.git(path, kind, old[:7], new)  # a ref named 710db86 that points at another commit
    dest = tmp_path / "checkout"
    assert git.Repo(path).git.rev_parse(old[:7]) == new  # git itself takes the ref
    assert apply(path, dest, "--commit", old[:7]) == 0
    assert f"pinned at {old}" in capsys.readouterr().err
    assert git.Repo(dest).commit(f"HEAD~{len(STEPS)}").hexsha == old
    assert apply(path, dest, "--commit", old[:7]) == 0  # and again, on the existing checkout (it has the ref)
    assert git.Repo(dest).commit(f"HEAD~{len(STEPS)}").hexsha == old


def test_a_short_pin_fetched_into_an_existing_checkout(upstream, tmp_path, capsys):
    path, (old, _) = upstream
    dest = tmp_path / "checkout"
    assert apply(path, dest, "--commit", old) == 0
    (path / "NOTES.md").write_text("later\n")
    synthetic.git(path, "add", "NOTES.md")
    synthetic.git(path, "commit", "-qm", "later")
    later = synthetic.git(path, "rev-parse", "HEAD")
    synthetic.git(path, "tag", later[:8], old)
    assert apply(path, dest, "--commit", later[:8]) == 0
    assert git.Repo(dest).commit(f"HEAD~{len(STEPS)}").hexsha == later


def colliding_blobs(repo: Path) -> str:
    """Write blobs into `repo` until two ids share their first 7 hex digits (deterministic); those digits."""
    count = 60000
    stream = "".join(f"blob\ndata {len(str(i)) + 1}\n{i}\n\n" for i in range(count))
    subprocess.run(["git", "fast-import", "--quiet"], cwd=repo, input=stream, text=True, check=True)
    ids = subprocess.run(["git", "cat-file", "--batch-all-objects", "--batch-check=%(objectname)"], cwd=repo,
                         capture_output=True, text=True, check=True).stdout.split()
    seen = {}
    for sha in ids:
        if sha[:7] in seen:
            return sha[:7]
        seen[sha[:7]] = sha
    pytest.fail("no two of the blobs share 7 digits")


def test_an_abbreviation_ambiguous_among_objects_is_refused(synthetic_upstream, tmp_path, capsys):
    path, (old, _) = synthetic_upstream
    dest = tmp_path / "checkout"
    assert apply(path, dest, "--commit", old) == 0
    prefix = colliding_blobs(dest)
    capsys.readouterr()
    one_error(capsys, apply(path, dest, "--commit", prefix), 4, f"commit {prefix} is ambiguous", "give more digits")


def test_a_pin_that_names_a_tree_is_refused(synthetic_upstream, tmp_path, capsys):
    path, (old, _) = synthetic_upstream
    dest = tmp_path / "checkout"
    assert apply(path, dest, "--commit", old) == 0
    tree = git.Repo(dest).commit(old).tree.hexsha
    capsys.readouterr()
    one_error(capsys, apply(path, dest, "--commit", tree[:10]), 4, f"names a tree ({tree})", "not a commit")


# --- 4, 5. bytes outside the sites do not change; legacy encodings are honoured ------------------------

def _numstat(dest: Path, pin: str) -> list[str]:
    """Lines added and removed in FREEZE by each commit after the pin."""
    return git.Repo(dest).git.log("--format=%s", "--numstat", f"{pin}..HEAD", "--", FREEZE).split("\n")


def _alternate(data: bytes) -> bytes:
    lines = data.split(b"\n")
    return b"".join(line + (b"\r\n" if i % 2 else b"\n") for i, line in enumerate(lines[:-1])) + lines[-1]


def _end(line: bytes) -> bytes:
    """A line's trailing whitespace and line ending."""
    return re.search(rb"[ \t]*(\r\n|\r|\n)?$", line)[0]


def _kept(plain: bytes, rewritten: bytes, patched: bytes, result: bytes) -> None:
    """`result` (the patched `rewritten` file) keeps `rewritten`'s layout: each line the codemods did not
    change (from `plain` to `patched`) is byte for byte the rewritten one, line ending included, and each
    line changed in place keeps its trailing whitespace and line ending."""
    old, new = rewritten.splitlines(keepends=True), result.splitlines(keepends=True)
    assert len(old) == len(plain.splitlines()) and len(new) == len(patched.splitlines())
    for tag, i1, i2, j1, j2 in SequenceMatcher(None, plain.splitlines(), patched.splitlines(), False).get_opcodes():
        if tag == "equal":
            assert new[j1:j2] == old[i1:i2]
        elif i2 - i1 == j2 - j1:
            assert [_end(line) for line in new[j1:j2]] == [_end(line) for line in old[i1:i2]]


GBK_HEAD = "# -*- coding: gbk -*-\n# 冻结人脸解析模型\n"
LAYOUTS = {
    # name: (bytes of the file, from the plain one; the patched plain file as this layout writes it, or None)
    "byte-order mark": (lambda b: b"\xef\xbb\xbf" + b, lambda b: b"\xef\xbb\xbf" + b),
    "CRLF": (lambda b: b.replace(b"\n", b"\r\n"), lambda b: b.replace(b"\n", b"\r\n")),
    "lone CR": (lambda b: b.replace(b"\n", b"\r"), lambda b: b.replace(b"\n", b"\r")),
    "mixed LF and CRLF": (_alternate, None),
    "no final newline": (lambda b: b.rstrip(b"\n"), lambda b: b.rstrip(b"\n")),
    "trailing spaces and tabs": (lambda b: b.replace(b"\n", b" \t \n"), None),
    "tab indentation": (lambda b: re.sub(rb"(?m)^((?:    )+)", lambda i: b"\t" * (len(i[1]) // 4), b), None),
    "GBK with a coding line": (lambda b: (GBK_HEAD + b.decode()).encode("gbk"),
                               lambda b: (GBK_HEAD + b.decode()).encode("gbk")),
}


@pytest.fixture(scope="module")
def plain(synthetic_upstream, tmp_path_factory):
    """The synthetic upstream patched as it is: (checkout, pin, numstat of FREEZE, patched FREEZE)."""
    path, (old, _) = synthetic_upstream
    dest = tmp_path_factory.mktemp("plain") / "checkout"
    assert main(["apply", "--upstream", str(path), "--commit", old, "--dest", str(dest)]) == 0
    return dest, old, _numstat(dest, old), (dest / FREEZE).read_bytes()


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_the_layout_and_encoding_of_a_file_are_kept(layout, plain, upstream, tmp_path):
    _, _, numstat, patched = plain
    path, _ = upstream
    rewrite, expected = LAYOUTS[layout]
    target = path / FREEZE
    original = target.read_bytes()
    target.write_bytes(rewrite(original))
    synthetic.git(path, "commit", "-qam", layout)
    pin = synthetic.git(path, "rev-parse", "HEAD")
    dest = tmp_path / "checkout"
    assert apply(path, dest, "--commit", pin) == 0
    if layout != "lone CR":  # git counts lines by LF: a file of lone CRs is one line to it
        assert _numstat(dest, pin) == numstat  # each codemod's commit changes the lines it did before, no more
    result = (dest / FREEZE).read_bytes()
    if expected is not None:
        assert result == expected(patched)
    else:
        _kept(original, rewrite(original), patched, result)
    if layout == "GBK with a coding line":
        assert result.decode("gbk").startswith(GBK_HEAD)


def test_bytes_that_do_not_decode_in_the_declared_codec_name_line_and_byte(upstream, tmp_path, capsys):
    path, _ = upstream
    target = path / FREEZE
    target.write_bytes(b"# -*- coding: ascii -*-\n\n# caf\xe9\n" + target.read_bytes())
    synthetic.git(path, "commit", "-qam", "ascii, but not")
    capsys.readouterr()
    one_error(capsys, apply(path, tmp_path / "dest", "--commit", synthetic.git(path, "rev-parse", "HEAD")), 7,
              f"{FREEZE}:3: not ascii (byte 0xe9)")


def test_a_character_the_codec_cannot_hold_is_refused():
    form = runner.Form("ascii")
    with pytest.raises(SourceError, match="m.py: the codemods wrote 'é', which ascii cannot hold"):
        runner.encode("x = 'é'\n", form, "m.py")


STEP = Step("open_placeholder", ("m.py",), 1, {})


def site(line: int) -> list:
    return [Site("m.py", line, 1, "here")]


@pytest.mark.parametrize(("before", "after", "sites", "fault"), [
    pytest.param("a = 1\nb = 2\n", "a = 1\nb = 3\n", site(2), None, id="the site's line"),
    pytest.param("a = 1\nb = 2\n", "a = 1\nx\nb = 2\n", site(1), None, id="an insertion next to a site"),
    pytest.param("a = 1\nb = 2\nc = 3\n", "a = 9\nb = 2\nc = 9\n", site(1), "3: changed a line",
                 id="a second hunk without a site"),
    pytest.param("a = 1\r\nb = 2\r\n", "a = 1\r\nb = 3\n", site(2), "2: changed the line ending", id="CRLF to LF"),
    pytest.param("a = 1\nb = 2\n", "a = 1\nb = 3\nc = 4\r\n", site(2), "2: changed the line ending",
                 id="a new line ending"),
    pytest.param("a = 1  \nb = 2\n", "a = 2\nb = 2\n", site(1), "1: changed trailing whitespace",
                 id="trailing spaces dropped"),
    pytest.param("if a:\n\tb = 2\n", "if a:\n    b = 3\n", site(2), "2: changed tabs", id="a tab expanded"),
    pytest.param("a = 1\nb = 2\n", "a = 1\nb = 3", site(2), "2: changed the final newline",
                 id="the final newline dropped"),
    pytest.param("a = 1\nb = 2", "a = 1\nb = 3\n", site(2), "2: changed the final newline",
                 id="a final newline added"),
])
def test_unsited_names_what_a_codemod_changed_outside_its_sites(before, after, sites, fault):
    found = runner.unsited(STEP, "m.py", before, after, sites)
    if fault is None:
        assert found is None
    else:
        assert isinstance(found, PatcherError) and f"open_placeholder: m.py:{fault}" in str(found)


@pytest.mark.parametrize(("source", "where"), [
    pytest.param("x = 1\ny = 2\nz = '''never closed\n", "3:5", id="unterminated string (libcst: 1:0)"),
    pytest.param("x = 1\nif x:\n        y = 1\n    z = 2\n", "4:", id="a dedent to no block (libcst: 1:0)"),
    pytest.param("x = 1\n\n\ndef broken(:\n", "4:12", id="a syntax error"),
    pytest.param("x = 1\nif x:\n if x:\n\t y = 2\nz = 3\n", "4:3:",
                 id="a tab followed by a space, which Python accepts (libcst's tokenizer: 1:0)"),
    pytest.param("x = 1\nif x:\n if x:\n\t\ty = 2\n z = 3\n", "4:3:",
                 id="two tabs under a space, which Python accepts (libcst's tokenizer: 1:0)"),
    pytest.param("if x:\n if x:\n\t y = 2\n", "3:3:", id="the fault on the last line"),
    pytest.param("x = 1\nif x:\n    y = 2\nprint x\n", "4:1:", id="Python 2 print (both refuse: Python's place)"),
])
def test_a_parse_error_names_the_real_line_and_column(source, where):
    with pytest.raises(SourceError) as error:
        runner.parse(source, "m.py")
    assert str(error.value).startswith(f"m.py:{where}") and "\n" not in str(error.value)


# --- 6. a commit is patcher's only as patcher wrote it --------------------------------------------------

@pytest.mark.parametrize("who", ["another user", "patcher's name and date"])
def test_an_amended_commit_is_kept_on_a_backup_branch(who, synthetic_upstream, tmp_path, capsys):
    path, (old, new) = synthetic_upstream
    dest = tmp_path / "checkout"
    assert apply(path, dest, "--commit", old) == 0
    repo = git.Repo(dest)
    edited = dest / "bisenet_model/cnn_basenet.py"
    edited.write_text(edited.read_text() + "# my fix\n")
    tip = repo.head.commit
    env = ({"GIT_COMMITTER_NAME": "me", "GIT_COMMITTER_EMAIL": "me@localhost"} if who == "another user" else
           {"GIT_COMMITTER_NAME": "patcher", "GIT_COMMITTER_EMAIL": "patcher@localhost",
            "GIT_COMMITTER_DATE": f"{tip.committed_date} +0000"})
    repo.git.commit("-a", "--amend", "--no-edit", env=env)
    amended = repo.head.commit.hexsha
    assert repo.head.commit.author.email == "patcher@localhost"
    capsys.readouterr()
    one_error(capsys, apply(path, dest, "--commit", new), 6, f"not made by patcher: {amended[:12]}")
    assert repo.head.commit.hexsha == amended and edited.read_text().endswith("# my fix\n")
    assert apply(path, dest, "--commit", new, "--force") == 0
    err = capsys.readouterr().err
    backups = [h for h in repo.heads if h.name.startswith("patcher-backup/")]
    assert len(backups) == 1 and backups[0].commit.hexsha == amended
    assert f"kept your changes: branch {backups[0].name}" in err
    assert "# my fix" in repo.git.show(f"{backups[0].name}:bisenet_model/cnn_basenet.py")


# --- 7. one line for a bad command line; no lock files left ---------------------------------------------

@pytest.mark.parametrize(("argv", "phrase", "command"), [
    (["verify", "--sizes", "abc"], "argument --sizes: HEIGHTxWIDTH pairs", "verify"),
    (["verify", "--sizes", "0x4"], "argument --sizes: HEIGHTxWIDTH pairs", "verify"),
    (["apply", "--bogus"], "unrecognized arguments: --bogus", "patcher"),
    (["build", "--dest", "x"], "the following arguments are required: --out", "build"),
    ([], "the following arguments are required: COMMAND", "patcher"),
    (["frobnicate"], "argument COMMAND: invalid choice: 'frobnicate'", "patcher"),
])
def test_a_bad_command_line_is_one_line_with_the_usage_hint(argv, phrase, command, capsys):
    with pytest.raises(SystemExit) as raised:
        main(argv)
    assert raised.value.code == 2
    out, err = capsys.readouterr()
    prog = "patcher" if command == "patcher" else f"patcher {command}"
    assert err.splitlines() == [err.strip()] and err.startswith(f"patcher: error: {phrase}"), err
    assert f"(usage: 'python -m {prog} --help')" in err and out == ""


def test_sizes_follow_the_module_rule():
    assert _sizes("1x1,2x3,448x448") == [(1, 1), (2, 3), (448, 448)]
    for bad in ("0x1", "1x0", "-2x4", "4", "4x4x4", "axb", ""):
        with pytest.raises(Exception, match="whole pixels"):
            _sizes(bad)


def test_no_lock_file_is_left_beside_the_checkout(synthetic_upstream, tmp_path):
    path, (old, _) = synthetic_upstream
    assert apply(path, tmp_path / "checkout", "--commit", old) == 0
    assert apply(path, tmp_path / "checkout", "--commit", old) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkout", "home"]


def test_the_lock_still_excludes_a_second_run_and_goes_with_the_first(tmp_path):
    dest = tmp_path / "d"
    with checkout.locked(dest):
        with pytest.raises(LockedError), checkout.locked(dest):
            pass
        assert (tmp_path / ".d.lock").exists()
    assert not (tmp_path / ".d.lock").exists()
    with checkout.locked(dest):  # free again
        pass


@pytest.mark.tf
@needs_tf
def test_verify_runs_down_to_one_pixel(checkouts, capsys):
    assert main(["verify", "--dest", str(checkouts / "celebamask"), "--sizes", "1x1,3x2"]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines()]
    assert ["1x1", "1x1"] == [r[:2] for r in rows if r and r[0] == "1x1"][0]
    assert ["3x2", "3x2"] == [r[:2] for r in rows if r and r[0] == "3x2"][0]


@pytest.mark.tf
@needs_tfjs
@needs_tfjs_node
def test_check_runs_down_to_one_pixel(built, capsys):
    assert main(["check", "--model-dir", str(built), "--backends", "wasm", "--sizes", "1x1,3x2"]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines() if line.split()[:1] == ["wasm"]]
    assert [r[1] for r in rows] == ["1x1", "3x2"] and all(r[2] == "100.000%" for r in rows), rows

"""The CLI through main(argv), on the synthetic upstream."""
from __future__ import annotations

import ast
import subprocess
from pathlib import Path

import git
import pytest

from kit import apply, cli, refuses_an_edit
import synthetic
from patcher import recipe as recipes
from patcher.cli import main

STEPS = recipes.load().for_model("celebamask")
FREEZE = "tools/celebamask_hq/freeze_celebamaskhq_bisenetv2_model.py"


def state(dest: Path) -> tuple[str, str, dict[str, bytes]]:
    """HEAD, branches and every tracked file's bytes: what a failed run must leave alone."""
    repo = git.Repo(dest)
    files = {p: (dest / p).read_bytes() for p in repo.git.ls_files().splitlines()}
    return repo.head.commit.hexsha, repo.git.branch("-a", "-v"), files


def test_help_lists_subcommands(capsys):
    with pytest.raises(SystemExit) as raised:
        main(["--help"])
    assert raised.value.code == 0
    out = capsys.readouterr().out
    for command in ("apply", "diff", "list", "verify"):
        assert command in out


def test_apply_pins_the_older_commit_and_commits_one_step_each(synthetic_upstream, tmp_path, capsys):
    path, (old, new) = synthetic_upstream
    dest = tmp_path / "checkout"
    assert apply(path, dest, "--commit", old) == 0
    out = capsys.readouterr().out
    repo = git.Repo(dest)
    assert repo.active_branch.name == "patcher/bisenetv2/celebamask"
    commits = list(repo.iter_commits(f"{old}..HEAD"))[::-1]
    assert [c.message.split(":")[0] for c in commits] == [s.codemod for s in STEPS]
    assert repo.commit(f"HEAD~{len(STEPS)}").hexsha == old
    assert new not in [c.hexsha for c in repo.iter_commits("HEAD")]
    assert all(c.author.email == "patcher@localhost" for c in commits)
    assert f"{FREEZE}:" in out and "applied 10 codemods" in out
    tree = ast.parse((dest / FREEZE).read_text())
    shapes = [kw.value for node in ast.walk(tree) if isinstance(node, ast.Call)
              for kw in node.keywords if kw.arg == "shape"]
    assert [ast.literal_eval(s) for s in shapes] == [[1, None, None, 3]]


def test_apply_twice_changes_nothing_and_says_so(synthetic_upstream, tmp_path, capsys):
    path, (old, _) = synthetic_upstream
    dest = tmp_path / "checkout"
    assert apply(path, dest, "--commit", old) == 0
    before = state(dest)
    capsys.readouterr()
    assert apply(path, dest, "--commit", old) == 0
    assert "already applied" in capsys.readouterr().out
    assert state(dest) == before


def test_apply_at_the_newer_commit(synthetic_upstream, tmp_path):
    path, (_, new) = synthetic_upstream
    dest = tmp_path / "checkout"
    assert apply(path, dest, "--commit", new) == 0
    assert git.Repo(dest).commit(f"HEAD~{len(STEPS)}").hexsha == new


def test_diff_applies_to_a_clean_checkout_of_the_pin(synthetic_upstream, tmp_path, capsys):
    path, (old, _) = synthetic_upstream
    dest = tmp_path / "checkout"
    assert apply(path, dest, "--commit", old) == 0
    code, patch, _ = cli(capsys, "diff", "--dest", str(dest))
    assert code == 0 and patch.startswith("diff --git") and patch.endswith("\n")
    clean = tmp_path / "clean"
    git.Repo.clone_from(path, clean).git.checkout(old)
    (tmp_path / "change.patch").write_text(patch)
    subprocess.run(["git", "apply", "--check", str(tmp_path / "change.patch")], cwd=clean, check=True)
    subprocess.run(["git", "apply", str(tmp_path / "change.patch")], cwd=clean, check=True)
    assert (clean / FREEZE).read_text() == (dest / FREEZE).read_text()


def test_list_prints_codemods_descriptions_and_sites(synthetic_upstream, tmp_path, capsys):
    path, (old, _) = synthetic_upstream
    dest = tmp_path / "checkout"
    assert apply(path, dest, "--commit", old) == 0
    code, listed, _ = cli(capsys, "list", "--dest", str(dest))
    assert code == 0
    first, *out = listed.splitlines()
    assert first == (f"recipe {recipes.default()} (model celebamask); "
                     "each line number is the one its codemod saw, before later codemods moved lines")
    headers = [line for line in out if not line.startswith("  ")]
    assert [h.split(":")[0] for h in headers] == [s.codemod for s in STEPS]
    sites = [line.strip() for line in out if line.startswith("  ")]
    assert len(sites) == sum(s.sites * len(s.files) for s in STEPS)
    for site in sites:
        file, line, column, _ = site.split(":", 3)
        assert (dest / file).exists() and int(line) > 0 and int(column) > 0


def test_list_before_apply_says_what_to_do(tmp_path, capsys):
    assert main(["list", "--dest", str(tmp_path / "none")]) == 12
    assert "run 'python -m patcher apply' first" in capsys.readouterr().err


def test_cityscapes_model_patches_its_own_freeze_script(synthetic_upstream, tmp_path):
    path, (old, _) = synthetic_upstream
    dest = tmp_path / "checkout"
    assert apply(path, dest, "--commit", old, "--model", "cityscapes") == 0
    repo = git.Repo(dest)
    assert repo.active_branch.name == "patcher/bisenetv2/cityscapes"
    changed = repo.git.diff("--name-only", old, "HEAD").splitlines()
    assert "tools/cityscapes/freeze_cityscapes_bisenetv2_model.py" in changed
    assert FREEZE not in changed


def test_drift_stops_before_writing_and_names_codemod_file_and_counts(upstream, tmp_path, capsys):
    path, (old, _) = upstream
    dest = tmp_path / "checkout"
    assert apply(path, dest, "--commit", old) == 0
    before = state(dest)
    drifted = synthetic.commit_change(path, FREEZE, "shape=[1, 448, 448, 3]", "shape=INPUT_SHAPE", "drift")
    capsys.readouterr()
    assert apply(path, dest, "--commit", drifted) == 5
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("patcher: error:")]
    assert len(errors) == 1
    err = errors[0]
    assert f"open_placeholder: {FREEZE}: expected 1 site(s), found 0" in err
    assert state(dest) == before


def test_missing_target_file_is_drift(upstream, tmp_path, capsys):
    path, _ = upstream
    synthetic.git(path, "rm", "-q", "bisenet_model/cnn_basenet.py")
    synthetic.git(path, "commit", "-qm", "remove the base net")
    dest = tmp_path / "checkout"
    assert apply(path, dest, "--commit", synthetic.git(path, "rev-parse", "HEAD")) == 5
    assert "bisenet_model/cnn_basenet.py: missing at" in capsys.readouterr().err


def test_unknown_commit_and_bad_sources(synthetic_upstream, tmp_path, capsys):
    path, _ = synthetic_upstream
    assert apply(path, tmp_path / "a", "--commit", "0123456789abcdef0123456789abcdef01234567") == 4
    assert apply(path, tmp_path / "b", "--commit", "not-a-sha") == 4
    assert apply(tmp_path / "nowhere", tmp_path / "c") == 3
    (tmp_path / "plain").mkdir()
    assert apply(tmp_path / "plain", tmp_path / "d") == 3
    assert not (tmp_path / "d").exists() and not list(tmp_path.glob(".d.partial-*"))


@pytest.mark.parametrize("source", [
    "ext::sh -c touch% {marker}",
    "--upload-pack=touch {marker}",
    "https://example.invalid/repo.git --upload-pack=touch",
    "-u touch {marker}",
    "fd::3",
])
def test_sources_that_could_run_commands_are_refused(source, tmp_path, capsys):
    marker = tmp_path / "ran"
    assert apply(source.format(marker=marker), tmp_path / "dest") == 10
    assert not marker.exists() and not (tmp_path / "dest").exists()


def test_commit_that_looks_like_an_option_is_refused(synthetic_upstream, tmp_path):
    path, _ = synthetic_upstream
    assert apply(path, tmp_path / "dest", "--commit=--output=x") == 10


def test_local_edits_are_refused_then_kept_with_force(synthetic_upstream, tmp_path, capsys):
    path, (old, _) = synthetic_upstream
    dest = tmp_path / "checkout"
    assert apply(path, dest, "--commit", old) == 0
    refuses_an_edit(path, dest, old, capsys)
    assert apply(path, dest, "--commit", old, "--force") == 0
    assert "stash" in capsys.readouterr().err
    repo = git.Repo(dest)
    assert not repo.is_dirty()
    assert "# my note" in repo.git.stash("show", "-p", "stash@{0}")


def test_commits_of_the_user_on_the_branch_are_kept_in_a_backup_branch(synthetic_upstream, tmp_path, capsys):
    path, (old, new) = synthetic_upstream
    dest = tmp_path / "checkout"
    assert apply(path, dest, "--commit", old) == 0
    repo = git.Repo(dest)
    (dest / "notes.txt").write_text("mine\n")
    repo.index.add(["notes.txt"])
    repo.index.commit("my work", author=git.Actor("me", "me@localhost"))
    assert apply(path, dest, "--commit", new) == 6
    assert apply(path, dest, "--commit", new, "--force") == 0
    backups = [h for h in repo.heads if h.name.startswith("patcher-backup/")]
    assert backups and backups[0].commit.message == "my work"


def test_a_second_run_on_a_locked_folder_stops(synthetic_upstream, tmp_path, capsys):
    import fcntl

    path, (old, _) = synthetic_upstream
    dest = tmp_path / "checkout"
    with open(tmp_path / ".checkout.lock", "a+") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        assert apply(path, dest, "--commit", old) == 11
    assert "another patcher run" in capsys.readouterr().err
    assert apply(path, dest, "--commit", old) == 0


def test_unparsable_and_non_utf8_sources_name_the_file_and_line(upstream, tmp_path, capsys):
    path, _ = upstream
    target = path / "bisenet_model/cnn_basenet.py"
    target.write_bytes(target.read_bytes() + b"\n\ndef broken(:\n")
    synthetic.git(path, "commit", "-qam", "syntax error")
    assert apply(path, tmp_path / "a", "--commit", synthetic.git(path, "rev-parse", "HEAD")) == 7
    err = capsys.readouterr().err
    assert "bisenet_model/cnn_basenet.py:" in err and "cannot parse" in err
    target.write_bytes(b"# caf\xe9\n" + target.read_bytes())
    synthetic.git(path, "commit", "-qam", "latin-1")
    assert apply(path, tmp_path / "b", "--commit", synthetic.git(path, "rev-parse", "HEAD")) == 7
    assert "bisenet_model/cnn_basenet.py:1: not UTF-8" in capsys.readouterr().err


SIZES = [(288, 288), (448, 448), (512, 384), (450, 301)]


@pytest.mark.parametrize(("argv", "want"), [
    pytest.param([], {"cpu": [(288, 288)], "wasm": SIZES}, id="cpu-at-one-small-size-by-default"),
    pytest.param(["--all-sizes"], {"cpu": SIZES, "wasm": SIZES}, id="all-sizes"),
    pytest.param(["--sizes", "64x64,50x70"], {"cpu": [(64, 64), (50, 70)], "wasm": [(64, 64), (50, 70)]},
                 id="given-sizes-for-every-backend"),
    pytest.param(["--backends", "wasm"], {"wasm": SIZES}, id="wasm-only"),
])
def test_check_runs_the_slow_cpu_backend_at_one_size_unless_asked(argv, want, monkeypatch, tmp_path):
    from patcher import check

    seen = {}
    monkeypatch.setattr(check, "check", lambda model_dir, backends, sizes, reference: seen.update(sizes=sizes))
    monkeypatch.setattr(check, "metadata", lambda model_dir: {})
    assert main(["check", "--model-dir", str(tmp_path), *argv]) == 0
    assert seen["sizes"] == want


@pytest.mark.parametrize(("meta", "argv", "litert_checked"), [
    pytest.param({"litert": {"models": []}}, [], True, id="a-litert-build-is-checked-on-both"),
    pytest.param({}, [], False, id="a-tfjs-build-on-tfjs-only"),
    pytest.param({"litert": {"models": []}}, ["--reference", "other"], False, id="not-against-a-reference"),
])
def test_check_goes_on_to_the_litert_models_where_built(meta, argv, litert_checked, monkeypatch, tmp_path):
    from patcher import check, litert

    calls = []
    monkeypatch.setattr(check, "check", lambda *args: calls.append("tfjs"))
    monkeypatch.setattr(check, "metadata", lambda model_dir: meta)
    monkeypatch.setattr(litert, "check", lambda model_dir, floor, pictures=None: calls.append("litert"))
    assert main(["check", "--model-dir", str(tmp_path), *argv]) == 0
    assert calls == ["tfjs", "litert"] if litert_checked else calls == ["tfjs"]

"""Nothing to do costs nothing: a branch recorded with this recipe's digest is taken as it is, no codemod runs."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import git
import pytest

from kit import apply, refuses_an_edit
from patcher import checkout, runner
from patcher.codemods import CODEMODS
from patcher.runner import fingerprint, step
from patcher import recipe as recipes
from patcher.cli import main

STEPS = recipes.load().for_model("celebamask")


@pytest.fixture
def runs(monkeypatch):
    """Codemod runs counted (in this process: PATCHER_JOBS=1)."""
    monkeypatch.setenv("PATCHER_JOBS", "1")
    count = []
    real = runner.run

    def counted(step, state):
        count.append(step.codemod)
        return real(step, state)

    monkeypatch.setattr(step, "run", counted)
    return count


@pytest.fixture
def no_codemod(monkeypatch):
    """Any codemod run (or run_steps) fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError("a codemod ran")

    monkeypatch.setattr(step, "run", refuse)
    monkeypatch.setattr(runner, "transform", refuse)
    monkeypatch.setattr(runner, "run_steps", refuse)


@pytest.fixture
def patched(synthetic_upstream, tmp_path):
    path, (old, _) = synthetic_upstream
    dest = tmp_path / "checkout"
    assert apply(path, dest, "--commit", old) == 0
    return path, old, dest


def trailers(dest: Path, pin: str) -> set[str]:
    """The digest trailers of the commits after `pin`; each commit's last line must name its own tree."""
    repo = git.Repo(dest)
    commits = list(repo.iter_commits(f"{pin}..HEAD"))
    assert [c.message.rstrip("\n").splitlines()[-1] for c in commits] == [f"Patcher-Tree: {c.tree.hexsha}"
                                                                          for c in commits]
    return {c.message.rstrip("\n").splitlines()[-2] for c in commits}


def test_every_commit_carries_the_digest_and_its_tree(patched):
    _, old, dest = patched
    recipe = recipes.load()
    assert trailers(dest, old) == {f"Patcher-Digest: {runner.digest(recipe, 'celebamask', old)}"}


def test_second_apply_runs_no_codemod(patched, no_codemod, capsys):
    path, old, dest = patched
    before = git.Repo(dest).head.commit.hexsha
    capsys.readouterr()
    assert apply(path, dest, "--commit", old) == 0
    out, err = capsys.readouterr()
    assert "already applied" in out and "no codemod to run" in err
    assert git.Repo(dest).head.commit.hexsha == before
    sites = [line.strip() for line in out.splitlines() if line.startswith("  ")]
    assert len(sites) == sum(s.sites * len(s.files) for s in STEPS)


def test_list_reads_the_recorded_sites_as_a_run_would_print_them(patched, monkeypatch, capsys):
    _, _, dest = patched
    capsys.readouterr()
    with monkeypatch.context() as m:
        m.setattr(checkout, "recorded", lambda *a, **k: None)  # as before the digest: the codemods run
        assert main(["list", "--dest", str(dest)]) == 0
    ran = capsys.readouterr().out
    with monkeypatch.context() as m:
        m.setattr(runner, "run_steps", lambda *a, **k: pytest.fail("a codemod ran"))
        assert main(["list", "--dest", str(dest)]) == 0
    recorded = capsys.readouterr().out
    assert recorded == ran and "  tools/celebamask_hq/" in recorded


def test_recorded_outcomes_equal_a_run(patched):
    _, old, dest = patched
    repo = git.Repo(dest)
    digest = runner.digest(recipes.load(), "celebamask", old)
    found = checkout.recorded(repo, old, "patcher/bisenetv2/celebamask", STEPS, digest)
    assert found and found[0] == repo.head.commit.hexsha
    ran = runner.run_steps(lambda p: checkout.read_at(repo, old, p), STEPS)
    assert [(o.step, o.sites, o.files) for o in found[1]] == [(o.step, o.sites, o.files) for o in ran]
    assert checkout.recorded(repo, old, "patcher/bisenetv2/celebamask", STEPS, "0" * 64) is None
    assert checkout.recorded(repo, old, "patcher/bisenetv2/celebamask", STEPS, digest, "other.toml") is None
    assert checkout.recorded(repo, old, "patcher/bisenetv2/cityscapes", STEPS, digest) is None
    assert checkout.recorded(repo, old, "patcher/bisenetv2/celebamask", STEPS[:-1], digest) is None


def test_an_edited_recipe_runs_every_codemod_again(patched, runs, tmp_path, capsys):
    path, old, dest = patched
    tree = git.Repo(dest).head.commit.tree.hexsha
    copy = tmp_path / "edited.toml"
    copy.write_bytes(recipes.load().path.read_bytes() + b"\n# an edit that changes no step\n")
    assert apply(path, dest, "--commit", old, "--recipe", str(copy)) == 0
    assert len(runs) == 2 * sum(len(s.files) for s in STEPS)  # each step and its idempotency check
    assert "applied 10 codemods" in capsys.readouterr().out
    repo = git.Repo(dest)
    assert repo.head.commit.tree.hexsha == tree
    edited = recipes.load(copy)
    assert trailers(dest, old) == {f"Patcher-Digest: {runner.digest(edited, 'celebamask', old)}"}
    runs.clear()
    assert apply(path, dest, "--commit", old, "--recipe", str(copy)) == 0
    assert runs == [] and "already applied" in capsys.readouterr().out


def test_a_changed_parameter_with_the_same_sites_runs_again(patched, runs, tmp_path, capsys):
    path, old, dest = patched
    text = recipes.load().path.read_text()
    functions = 'functions = ["tensorflow.image.resize_bilinear", "tensorflow.image.resize"]'
    assert text.count(functions) == 2
    copy = tmp_path / "bisenetv2.toml"  # the same name: only the parameter differs
    copy.write_text(text.replace(functions, 'functions = ["tensorflow.image.resize", '
                                            '"tensorflow.image.resize_bilinear"]'))
    capsys.readouterr()
    assert apply(path, dest, "--commit", old, "--recipe", str(copy)) == 0
    assert "dynamic_resize" in runs and "applied 10 codemods" in capsys.readouterr().out


def test_the_digest_covers_each_steps_parameters_not_only_the_recipe_bytes():
    """Two recipes read from the same bytes whose steps differ in one parameter have different digests."""
    recipe = recipes.load()
    index = next(i for i, s in enumerate(recipe.steps) if s.codemod == "dynamic_resize")
    step = recipe.steps[index]
    functions = list(reversed(step.params["functions"]))
    changed = dataclasses.replace(step, params={**step.params, "functions": functions})
    other = dataclasses.replace(recipe, steps=(*recipe.steps[:index], changed, *recipe.steps[index + 1:]))
    assert other.path.read_bytes() == recipe.path.read_bytes()
    assert runner.digest(other, "celebamask", "0" * 40) != runner.digest(recipe, "celebamask", "0" * 40)
    same = dataclasses.replace(recipe, steps=tuple(recipe.steps))
    assert runner.digest(same, "celebamask", "0" * 40) == runner.digest(recipe, "celebamask", "0" * 40)


def test_changed_codemod_source_runs_every_codemod_again(patched, runs, monkeypatch, tmp_path, capsys):
    path, old, dest = patched
    before = runner.digest(recipes.load(), "celebamask", old)
    extra = tmp_path / "edited_codemod.py"
    extra.write_text("# a codemod's source, edited\n")
    monkeypatch.setattr(fingerprint, "SOURCES", (*fingerprint.SOURCES, extra))
    assert runner.digest(recipes.load(), "celebamask", old) != before
    capsys.readouterr()
    assert apply(path, dest, "--commit", old) == 0
    assert len(runs) == 2 * sum(len(s.files) for s in STEPS)
    assert "applied 10 codemods" in capsys.readouterr().out


def test_the_digest_covers_each_codemod_module_base_and_runner():
    package = fingerprint.PACKAGE
    covered = {f.relative_to(package).as_posix() for source in fingerprint.SOURCES
               for f in (source.glob("*.py") if source.is_dir() else [source])}
    modules = {f"codemods/{cls.__module__.rsplit('.', 1)[1]}.py" for cls in CODEMODS.values()}
    engine = {f"runner/{f.name}" for f in (package / "runner").glob("*.py")}
    writer = {f"checkout/{f.name}" for f in (package / "checkout").glob("*.py")}
    assert modules | engine | writer | {"codemods/base.py", "runner/engine.py", "checkout/history.py"} <= covered


def test_local_edits_are_still_refused_without_running_a_codemod(patched, no_codemod, capsys):
    path, old, dest = patched
    refuses_an_edit(path, dest, old, capsys)


def test_local_edits_with_force_are_kept_and_the_branch_restored(patched, no_codemod, capsys):
    path, old, dest = patched
    edited = dest / "bisenet_model/cnn_basenet.py"
    edited.write_text(edited.read_text() + "# my note\n")
    assert apply(path, dest, "--commit", old, "--force") == 0
    assert "stash" in capsys.readouterr().err
    assert not git.Repo(dest).is_dirty() and "# my note" not in edited.read_text()


def test_a_branch_without_the_digest_is_rebuilt(patched, runs, capsys):
    """A branch made before the digest existed (no trailer) is not trusted: the codemods run."""
    path, old, dest = patched
    repo = git.Repo(dest)
    outcomes = runner.run_steps(lambda p: checkout.read_at(repo, old, p), STEPS)
    untagged = checkout.build_commits(repo, old, outcomes, "bisenetv2.toml")
    checkout.switch(repo, "patcher/bisenetv2/celebamask", untagged)
    runs.clear()
    capsys.readouterr()
    assert apply(path, dest, "--commit", old) == 0
    assert runs and "applied 10 codemods" in capsys.readouterr().out
    assert git.Repo(dest).head.commit.hexsha != untagged


def test_a_commit_amended_by_someone_else_is_not_trusted(patched, runs, capsys):
    path, old, dest = patched
    repo = git.Repo(dest)
    repo.git.commit("--amend", "--no-edit", "--allow-empty",
                    env={"GIT_COMMITTER_NAME": "me", "GIT_COMMITTER_EMAIL": "me@localhost"})
    amended = repo.head.commit.hexsha
    runs.clear()
    capsys.readouterr()
    assert apply(path, dest, "--commit", old) == 6  # not patcher's: kept, and named
    assert runs  # the codemods ran: the amended tip's digest was not taken on trust
    assert f"commits on patcher/bisenetv2/celebamask not made by patcher: {amended[:12]}" in capsys.readouterr().err
    assert repo.head.commit.hexsha == amended


def test_a_commit_whose_tree_is_not_the_one_it_records_is_not_trusted(patched, runs, capsys):
    """Amended with patcher's own name and date: the message (and its digest) stay, the tree does not."""
    path, old, dest = patched
    repo = git.Repo(dest)
    tip = repo.head.commit
    (dest / "notes.txt").write_text("mine\n")
    repo.git.add("notes.txt")
    env = {"GIT_COMMITTER_NAME": "patcher", "GIT_COMMITTER_EMAIL": "patcher@localhost",
           "GIT_COMMITTER_DATE": f"{tip.committed_date} +0000"}
    repo.git.commit("--amend", "--no-edit", env=env)
    assert repo.head.commit.message == tip.message and repo.head.commit.committer.email == "patcher@localhost"
    runs.clear()
    assert apply(path, dest, "--commit", old) == 6
    assert runs and repo.head.commit.tree.hexsha != tip.tree.hexsha


def test_a_branch_made_before_tree_trailers_is_recognised_by_its_trees(patched, runs, capsys):
    """Commits patcher wrote before they carried `Patcher-Tree`: same trees as patcher writes now, so a
    re-apply replaces them without --force; the same commits with an edited tree stay the user's."""
    path, old, dest = patched
    repo = git.Repo(dest)
    pin = repo.git.config("patcher.pin")
    commits = list(repo.iter_commits(f"{pin}..HEAD"))[::-1]

    def rewrite(edit=None):
        parent = pin
        for i, commit in enumerate(commits):
            message = "\n".join(line for line in commit.message.rstrip("\n").split("\n")
                                if not line.startswith("Patcher-Tree: "))
            tree = commit.tree.hexsha
            if edit is not None and i == len(commits) - 1:
                tree = edit(tree)
            date = f"{commit.committed_date} +0000"
            env = {"GIT_AUTHOR_NAME": commit.author.name, "GIT_AUTHOR_EMAIL": commit.author.email,
                   "GIT_AUTHOR_DATE": date, "GIT_COMMITTER_NAME": commit.committer.name,
                   "GIT_COMMITTER_EMAIL": commit.committer.email, "GIT_COMMITTER_DATE": date}
            parent = repo.git.commit_tree(tree, "-p", parent, "-m", message, env=env)
        repo.git.reset("--hard", parent)
        return parent

    legacy = rewrite()
    runs.clear()
    capsys.readouterr()
    assert apply(path, dest, "--commit", old) == 0
    assert "patcher-backup/" not in capsys.readouterr().err
    assert repo.head.commit.hexsha != legacy and repo.head.commit.tree.hexsha == commits[-1].tree.hexsha

    def with_notes(tree):
        (dest / "notes.txt").write_text("mine\n")
        repo.git.read_tree(tree)
        repo.git.add("notes.txt")
        return repo.git.write_tree()

    edited = rewrite(with_notes)
    capsys.readouterr()
    assert apply(path, dest, "--commit", old) == 6
    assert f"not made by patcher: {edited[:12]}" in capsys.readouterr().err

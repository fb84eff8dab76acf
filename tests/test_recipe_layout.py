"""The traps a second recipe's author met: branches named by recipe and model (the old patcher/MODEL still
recognised), PATCHER_UPSTREAM as --upstream's default, a digest that ignores the recipe's file name, a
sample next to the recipe, and verify naming the upstream file and line an error came from."""
from __future__ import annotations

import os
import shutil
import tomllib
import subprocess

import git
import pytest

from kit import needs_tf
import synthetic_tiny
from patcher import page
from patcher import recipe as recipes
from patcher.cli import main
from patcher.examples import CODEMOD, RECIPE


@pytest.fixture
def tiny(tmp_path):
    """A private tiny upstream and a folder holding its recipe and codemod."""
    upstream, commits = synthetic_tiny.make_upstream(tmp_path / "upstream")
    folder = tmp_path / "recipes"
    folder.mkdir()
    shutil.copy(RECIPE, folder / "tiny.toml")
    shutil.copy(CODEMOD, folder / CODEMOD.name)
    return upstream, folder


def apply(recipe, upstream, dest, *more) -> int:
    return main(["apply", "--recipe", str(recipe), "--upstream", str(upstream), "--dest", str(dest), *more])


def heads(dest) -> set[str]:
    return {h.name for h in git.Repo(dest).heads}


def test_two_recipes_with_a_model_of_one_name_keep_their_own_branches(tiny, tmp_path, capsys):
    upstream, folder = tiny
    other = folder / "other.toml"
    other.write_text((folder / "tiny.toml").read_text().replace('title = "Tiny scenes', 'title = "Other scenes')
                     .replace('[[step]]\ncodemod = "disable_v2"\nfiles = ["{freeze_script}"]\nsites = 1\n', ""))
    dest = tmp_path / "checkout"
    assert apply(folder / "tiny.toml", upstream, dest) == 0
    tiny_tip = git.Repo(dest).head.commit.hexsha
    assert apply(other, upstream, dest) == 0
    assert {"patcher/tiny/tiny", "patcher/other/tiny"} <= heads(dest)
    assert git.Repo(dest).commit("patcher/tiny/tiny").hexsha == tiny_tip, "the other recipe left it alone"
    capsys.readouterr()
    # the checkout is on the other recipe's branch: commands of the first recipe do not take it for theirs
    assert main(["verify", "--recipe", str(folder / "tiny.toml"), "--dest", str(dest)]) == 12
    assert "is not on patcher/tiny/tiny" in capsys.readouterr().err
    assert main(["diff", "--recipe", str(other), "--dest", str(dest)]) == 0
    assert "disable_v2_behavior" not in capsys.readouterr().out
    assert main(["diff", "--recipe", str(folder / "tiny.toml"), "--dest", str(dest)]) == 0
    assert "disable_v2_behavior" in capsys.readouterr().out
    assert apply(folder / "tiny.toml", upstream, dest) == 0
    err = capsys.readouterr().err
    assert "patcher/tiny/tiny is this recipe's result" in err and "running" not in err
    assert git.Repo(dest).head.commit.hexsha == tiny_tip and git.Repo(dest).active_branch.name == "patcher/tiny/tiny"


def test_a_branch_of_the_old_layout_is_recognised_and_renamed_by_apply(tiny, tmp_path, capsys):
    upstream, folder = tiny
    recipe = folder / "tiny.toml"
    dest = tmp_path / "checkout"
    assert apply(recipe, upstream, dest) == 0
    repo = git.Repo(dest)
    tip = repo.head.commit.hexsha
    repo.git.branch("-m", "patcher/tiny/tiny", "patcher/tiny")  # as patcher named it before
    assert heads(dest) >= {"patcher/tiny"} and "patcher/tiny/tiny" not in heads(dest)
    capsys.readouterr()
    assert main(["list", "--recipe", str(recipe), "--dest", str(dest)]) == 0
    assert "netlib/tinynet.py:15:77: xavier_initializer()" in capsys.readouterr().out
    assert main(["diff", "--recipe", str(recipe), "--dest", str(dest)]) == 0
    assert apply(recipe, upstream, dest) == 0
    captured = capsys.readouterr()
    assert "renamed the branch patcher/tiny to patcher/tiny/tiny" in captured.err
    assert "already applied" in captured.out and "running" not in captured.err
    repo = git.Repo(dest)
    assert repo.active_branch.name == "patcher/tiny/tiny" and repo.head.commit.hexsha == tip
    assert "patcher/tiny" not in heads(dest)


def test_an_old_branch_of_another_recipe_is_not_taken(tiny, tmp_path, capsys):
    upstream, folder = tiny
    dest = tmp_path / "checkout"
    assert apply(folder / "tiny.toml", upstream, dest) == 0
    git.Repo(dest).git.branch("-m", "patcher/tiny/tiny", "patcher/tiny")
    other = folder / "other.toml"
    shutil.copy(folder / "tiny.toml", other)
    capsys.readouterr()
    assert main(["list", "--recipe", str(other), "--dest", str(dest)]) == 12
    assert "has no branch patcher/other/tiny" in capsys.readouterr().err


def test_a_copy_of_the_recipe_under_another_name_runs_no_codemod(tiny, tmp_path, capsys):
    upstream, folder = tiny
    dest = tmp_path / "checkout"
    assert apply(folder / "tiny.toml", upstream, dest) == 0
    tip = git.Repo(dest).head.commit.hexsha
    shutil.copy(folder / "tiny.toml", folder / "renamed.toml")
    capsys.readouterr()
    assert apply(folder / "renamed.toml", upstream, dest) == 0
    err = capsys.readouterr().err
    assert "patcher/tiny/tiny is this recipe's result" in err and "running" not in err
    repo = git.Repo(dest)
    assert repo.active_branch.name == "patcher/renamed/tiny" and repo.head.commit.hexsha == tip


def test_the_recipe_s_own_variable_is_the_default_of_upstream(tiny, tmp_path, capsys, monkeypatch):
    upstream, folder = tiny
    monkeypatch.delenv("PATCHER_UPSTREAM", raising=False)
    monkeypatch.setenv("PATCHER_UPSTREAM_TINY", str(upstream))
    dest = tmp_path / "checkout"
    assert main(["apply", "--recipe", str(folder / "tiny.toml"), "--dest", str(dest)]) == 0
    assert f"upstream {upstream} (from PATCHER_UPSTREAM_TINY)" in capsys.readouterr().err
    monkeypatch.setenv("PATCHER_UPSTREAM_TINY", str(tmp_path / "nowhere"))
    assert apply(folder / "tiny.toml", upstream, tmp_path / "second") == 0, "--upstream wins over the variable"
    assert main(["apply", "--recipe", str(folder / "tiny.toml"), "--dest", str(tmp_path / "third")]) == 3
    assert "nowhere" in capsys.readouterr().err


def test_patcher_upstream_never_patches_another_recipe_s_repository(tiny, tmp_path, capsys, monkeypatch):
    """PATCHER_UPSTREAM is the default recipe's: another recipe does not read it (stderr says which variable
    it reads), and the default recipe refuses a clone that lacks its pin in one line naming the recipe."""
    from patcher.recipe import default

    upstream, folder = tiny
    monkeypatch.delenv("PATCHER_UPSTREAM_TINY", raising=False)
    monkeypatch.setenv("PATCHER_UPSTREAM", str(upstream))
    capsys.readouterr()
    assert main(["apply", "--recipe", str(folder / "tiny.toml"), "--dest", str(tmp_path / "tiny")]) != 0
    err = capsys.readouterr().err
    assert ("note: PATCHER_UPSTREAM is for the default recipe (bisenetv2) only; recipe tiny reads "
            "PATCHER_UPSTREAM_TINY, which is unset") in err, err
    assert "(from PATCHER_UPSTREAM)" not in err and not (tmp_path / "tiny").exists()
    assert main(["apply", "--dest", str(tmp_path / "default")]) == 4
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("patcher: error: ")]
    pin = tomllib.loads(default().read_text())["upstream"]["commit"]
    assert len(lines) == 1 and lines[0].startswith(f"patcher: error: recipe bisenetv2: commit {pin} is not in the "
                                                   f"upstream {upstream}"), lines
    assert f"is {upstream} a clone of https://github.com/" in lines[0]
    assert not (tmp_path / "default").exists()


def test_a_sample_next_to_the_recipe(tiny, tmp_path, capsys):
    _, folder = tiny
    (folder / "pictures").mkdir()
    picture = folder / "pictures" / "street.png"
    picture.write_bytes(b"\x89PNG\r\n\x1a\n")
    text = (folder / "tiny.toml").read_text()
    (folder / "tiny.toml").write_text(text.replace('sample = "package:skimage/data/coffee.png"',
                                                   'sample = "pictures/street.png"'))
    model = recipes.load(folder / "tiny.toml").model("tiny")
    assert page.sample_source(model.sample) == picture.resolve() and page.sample_name(model.sample) == "sample.png"
    outside = tmp_path / "outside.png"
    outside.write_bytes(b"\x89PNG\r\n\x1a\n")
    (folder / "pictures" / "link.png").symlink_to(outside)
    (folder / "tiny.toml").write_text(text.replace('sample = "package:skimage/data/coffee.png"',
                                                   'sample = "pictures/link.png"'))
    assert main(["list", "--recipe", str(folder / "tiny.toml"), "--dest", str(tmp_path / "none")]) == 13
    assert "field 'sample' 'pictures/link.png' leaves the recipe's folder" in capsys.readouterr().err


def test_the_commit_is_normalised_and_the_example_pins_its_upstreams_first_commit(tmp_path):
    _, commits = synthetic_tiny.make_upstream(tmp_path / "upstream")
    assert recipes.load(RECIPE).commit == commits[0]
    upper = tmp_path / "upper.toml"
    shutil.copy(CODEMOD, tmp_path / CODEMOD.name)
    upper.write_text(RECIPE.read_text().replace(commits[0], commits[0].upper()))
    assert recipes.load(upper).commit == commits[0]


@pytest.mark.tf
@needs_tf
def test_verify_names_the_upstream_line_of_an_error_raised_when_the_graph_runs(tiny, tmp_path, capsys):
    upstream, folder = tiny
    net = upstream / "netlib/tinynet.py"
    net.write_text(net.read_text().replace("            return tf.argmax(scores, axis=3)\n",
                                           "            scores = tf.reshape(scores, [1, 32, 32, 5])\n"
                                           "            return tf.argmax(scores, axis=3)\n"))
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t"}
    subprocess.run(["git", "commit", "-qam", "a reshape to a fixed size"], cwd=upstream, env=env, check=True)
    head = git.Repo(upstream).head.commit.hexsha
    dest = tmp_path / "checkout"
    assert apply(folder / "tiny.toml", upstream, dest, "--commit", head) == 0
    capsys.readouterr()
    assert main(["verify", "--recipe", str(folder / "tiny.toml"), "--dest", str(dest), "--sizes", "64x64"]) == 8
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("patcher: error: 64x64: netlib/tinynet.py:19 (in forward): InvalidArgumentError: "), err

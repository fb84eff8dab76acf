from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import synthetic
from patcher.cli import main


@pytest.fixture(scope="session")
def synthetic_upstream(tmp_path_factory) -> tuple[Path, list[str]]:
    """The synthetic upstream repository (read-only for tests) and its two commits, oldest first."""
    return synthetic.make_upstream(tmp_path_factory.mktemp("upstream") / "repo")


@pytest.fixture
def upstream(synthetic_upstream, tmp_path) -> tuple[Path, list[str]]:
    """A private copy of the synthetic upstream, for tests that add commits to it."""
    path, commits = synthetic_upstream
    copy = tmp_path / "upstream"
    shutil.copytree(path, copy)
    return copy, commits


@pytest.fixture(scope="session")
def checkouts(synthetic_upstream, tmp_path_factory):
    """Patched checkouts of the synthetic upstream, one per model: ROOT/celebamask, ROOT/cityscapes."""
    path, (old, _) = synthetic_upstream
    root = tmp_path_factory.mktemp("build")
    for model in ("celebamask", "cityscapes"):
        assert main(["apply", "--upstream", str(path), "--commit", old, "--dest", str(root / model),
                     "--model", model]) == 0
    return root


@pytest.fixture(scope="session")
def built(checkouts, tmp_path_factory):
    """The face model built from the synthetic upstream with random weights (page included)."""
    out = tmp_path_factory.mktemp("web") / "model"
    assert main(["build", "--dest", str(checkouts / "celebamask"), "--random-weights", "--out", str(out)]) == 0
    return out

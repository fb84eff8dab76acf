from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import synthetic  # noqa: E402


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


@pytest.fixture
def real_upstream() -> str:
    """The real upstream's URL or path, from PATCHER_UPSTREAM."""
    location = os.environ.get("PATCHER_UPSTREAM")
    if not location:
        pytest.skip("PATCHER_UPSTREAM is not set: set it to a URL or path of MaybeShewill-CV/bisenetv2-tensorflow")
    return location

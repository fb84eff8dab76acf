"""The recipe's published weights on the npm registry: fetched with their pinned integrity, read whole.

These need the npm registry (reachable on this project's machines and CI); they skip, saying so, when npm
cannot reach it. Building from them needs the real upstream: tests/test_upstream.py.
"""
from __future__ import annotations

import subprocess
from collections import Counter

import numpy as np
import pytest

from kit import needs_npm
from patcher import recipe as recipes
from patcher import child, weights
from patcher.errors import WeightsError

PUBLISHED = recipes.load().model("celebamask").published
pytestmark = needs_npm


@pytest.fixture(scope="module")
def registry():
    proc = subprocess.run(["npm", "view", weights.describe(PUBLISHED), "dist.integrity"], capture_output=True,
                          text=True, timeout=120)
    if proc.returncode != 0:
        pytest.skip(f"the npm registry is not reachable: {proc.stderr.strip().splitlines()[-1:]}")
    return proc.stdout.strip()


def test_the_recipe_pins_what_the_registry_serves(registry):
    assert registry == PUBLISHED["integrity"]


def test_published_model_is_fetched_once_and_read_whole(registry, tmp_path, monkeypatch):
    monkeypatch.setenv("PATCHER_CACHE", str(tmp_path / "cache"))
    folder = weights.fetch(PUBLISHED)
    assert folder == weights.cached(PUBLISHED) and (folder / "model.json").is_file()
    found = weights.read_model(folder)
    floats = [n for n, v in found.items() if v.dtype == np.float32]
    kinds = Counter(n.rsplit("_", 1)[-1] if n.endswith(("_weights", "_bn_offset")) else n.rsplit("/", 1)[-1]
                    for n in floats)
    # the folding's names: 52 convolutions (36 plain, 16 depthwise) with a batch norm, one lone batch norm
    # (Scaled, Offset) and 4 convolutions without one under their variable's name
    assert kinds == {"weights": 52, "offset": 52, "Scaled": 1, "Offset": 1, "W": 4}
    assert sum(v.size for n, v in found.items() if n in floats) > 2_000_000
    monkeypatch.setattr(child.subprocess, "run", lambda *a, **k: pytest.fail("fetched twice"))
    assert weights.fetch(PUBLISHED) == folder


def test_a_tarball_that_is_not_the_pinned_one_is_refused(registry, tmp_path, monkeypatch):
    monkeypatch.setenv("PATCHER_CACHE", str(tmp_path / "cache"))
    other = dict(PUBLISHED, integrity="sha512-" + "B" * 86 + "==")
    with pytest.raises(WeightsError, match=r"the tarball's integrity is sha512-rrx6EujdVKvXvb/rCax0\.\.\., "
                                           r"the recipe pins sha512-BBBB.*not using it"):
        weights.fetch(other)
    assert not (tmp_path / "cache" / "published").exists() or not any((tmp_path / "cache" / "published").iterdir())

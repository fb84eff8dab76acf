"""The cache of registry packages (patcher/cache.py): checked on every use, filled atomically beside the
entry (so across filesystems), once under concurrency, and nothing left by a failed fetch. A tiny
graph-model package is made here; no network, no TensorFlow."""
from __future__ import annotations

import errno
import io
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest

from patcher import cache, child, weights
from patcher.errors import WeightsError

FOLDER = "resources/tiny"
PROJECT = Path(__file__).resolve().parent.parent


def make_package(where: Path, values: np.ndarray | None = None, name: str = "tiny-1.0.0.tgz") -> Path:
    """A package as npm packs it: package/FOLDER/model.json and two shards of one float32 weight group."""
    values = np.arange(12, dtype=np.float32) if values is None else values
    data = values.tobytes()
    model = {"modelTopology": {}, "weightsManifest": [{"paths": ["group1-shard1of2.bin", "group1-shard2of2.bin"],
                                                      "weights": [{"name": "w", "shape": [3, 4],
                                                                   "dtype": "float32"}]}]}
    files = {"model.json": json.dumps(model).encode(), "group1-shard1of2.bin": data[:20],
             "group1-shard2of2.bin": data[20:], "../../README.md": b"readme"}
    tarball = where / name
    with tarfile.open(tarball, "w:gz") as archive:
        for rel, content in files.items():
            info = tarfile.TarInfo(os.path.normpath(f"package/{FOLDER}/{rel}"))
            info.size = len(content)
            archive.addfile(info, io.BytesIO(content))
    return tarball


def pin(tarball: Path) -> dict:
    return {"package": "@test/tiny", "version": "1.0.0", "folder": FOLDER, "integrity": weights.integrity(tarball),
            "license": "MIT", "terms": "test"}


@pytest.fixture
def package(tmp_path, monkeypatch) -> tuple[Path, dict]:
    monkeypatch.setenv("PATCHER_CACHE", str(tmp_path / "cache"))
    tarball = make_package(tmp_path)
    return tarball, pin(tarball)


def test_fetch_unpacks_the_model_and_keeps_the_tarball(package):
    tarball, published = package
    folder = weights.fetch(published, tarball)
    assert folder == weights.cached(published)
    assert sorted(p.name for p in folder.iterdir()) == ["group1-shard1of2.bin", "group1-shard2of2.bin", "model.json"]
    assert (folder.parent / "package.tgz").read_bytes() == tarball.read_bytes()
    assert weights.read_model(folder)["w"].tolist() == np.arange(12, dtype=np.float32).reshape(3, 4).tolist()
    assert [p.name for p in folder.parent.parent.iterdir()] == [folder.parent.name]  # no staging left


def altered_shard(folder: Path) -> None:
    shard = folder / "group1-shard1of2.bin"
    shard.write_bytes((-np.frombuffer(shard.read_bytes(), dtype=np.float32)).tobytes())  # same size


def repoint(folder: Path, elsewhere: Path) -> None:
    shard = folder / "group1-shard1of2.bin"
    shard.unlink()
    shard.symlink_to(elsewhere / "group1-shard1of2.bin")


@pytest.mark.parametrize("harm", [
    pytest.param(altered_shard, id="shard-altered-in-place"),
    pytest.param(lambda folder: (folder / "model.json").write_text((folder / "model.json").read_text() + " "),
                 id="model-json-altered"),
    pytest.param(lambda folder: (folder / "group1-shard2of2.bin").unlink(), id="shard-removed"),
    pytest.param(lambda folder: (folder / "extra.bin").write_bytes(b"x"), id="file-added"),
])
def test_a_cached_model_altered_in_place_is_fetched_again(package, harm, capsys):
    tarball, published = package
    folder = weights.fetch(published, tarball)
    harm(folder)
    assert weights.fetch(published, tarball) == folder
    assert "does not match its pin" in capsys.readouterr().err
    assert weights.read_model(folder)["w"].ravel().tolist() == list(range(12))
    cache.check_unpacked(folder.parent / "package.tgz", f"package/{FOLDER}/", folder)


def test_a_cached_tarball_altered_is_fetched_again(package, capsys):
    tarball, published = package
    folder = weights.fetch(published, tarball)
    other = make_package(folder.parent.parent.parent, -np.arange(12, dtype=np.float32), "other.tgz")
    os.replace(other, folder.parent / "package.tgz")  # consistent with the unpacked files? no: not the pin
    altered_shard(folder)
    assert weights.fetch(published, tarball) == folder
    assert "the tarball's integrity is" in capsys.readouterr().err
    assert weights.integrity(folder.parent / "package.tgz") == published["integrity"]


def test_without_a_source_to_fetch_again_a_mismatch_is_one_line(package, monkeypatch):
    tarball, published = package
    folder = weights.fetch(published, tarball)
    altered_shard(folder)
    monkeypatch.setattr(child.subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(a, 1, "", "npm ERR! 404"))
    monkeypatch.setattr(weights.shutil, "which", lambda name: "/bin/npm")
    with pytest.raises(WeightsError, match=r"^cannot fetch @test/tiny@1.0.0 with npm: npm ERR! 404$"):
        weights.fetch(published)
    assert not any(folder.parent.parent.iterdir())  # the bad entry was removed, nothing half-made left


NPM_OFFLINE = subprocess.CompletedProcess(
    ["npm"], 1, json.dumps({"error": {"code": "ECONNREFUSED", "summary": "FetchError: request to "
                           "http://127.0.0.1:9/@test%2ftiny failed, reason: connect ECONNREFUSED 127.0.0.1:9"}}),
    "npm error code ECONNREFUSED\nnpm error A complete log of this run can be found in: /root/.npm/_logs/x.log\n")


def test_npm_says_why_it_failed_not_where_its_log_is():
    """npm 10 with `--json` (as a registry it cannot reach gives): before, the line quoted its last stderr
    line, the log file's path."""
    assert cache.registry_error("npm pack", NPM_OFFLINE).endswith("reason: connect ECONNREFUSED 127.0.0.1:9")
    plain = subprocess.CompletedProcess(["npm"], 1, "", "npm error code E404\nnpm error A complete log of this run")
    assert cache.registry_error("npm pack", plain) == "npm error code E404"


@pytest.mark.parametrize("where", ["shard", "folder", "entry"])
def test_links_in_the_cache_are_never_followed_out_of_it(package, tmp_path, where, capsys):
    tarball, published = package
    folder = weights.fetch(published, tarball)
    outside = tmp_path / "outside"
    other = make_package(tmp_path, -np.arange(12, dtype=np.float32), "other.tgz")
    with tarfile.open(other) as archive:
        archive.extractall(outside, filter="data")
    elsewhere = outside / "package" / FOLDER
    before = {p.name: p.read_bytes() for p in elsewhere.iterdir()}
    if where == "shard":
        repoint(folder, elsewhere)
    elif where == "folder":
        os.rename(folder, tmp_path / "moved")
        folder.symlink_to(elsewhere)
    else:
        entry = folder.parent
        os.rename(entry, tmp_path / "moved")
        entry.symlink_to(outside)
    assert weights.fetch(published, tarball) == folder
    assert "does not match its pin" in capsys.readouterr().err
    assert weights.read_model(folder)["w"].ravel().tolist() == list(range(12))
    assert {p.name: p.read_bytes() for p in elsewhere.iterdir()} == before  # the link's target untouched
    assert not folder.is_symlink() and not folder.parent.is_symlink()


def test_the_cache_fills_across_filesystems(package, monkeypatch):
    """A rename across filesystems fails with EXDEV: the fetch must only rename inside the cache."""
    tarball, published = package
    cache_root = weights.cached(published).parent.parent.parent
    real = os.rename

    def rename(src, dst, *args, **kwargs):
        if Path(src).is_relative_to(cache_root) != Path(dst).is_relative_to(cache_root):
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        return real(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "rename", rename)
    monkeypatch.setattr(os, "replace", rename)
    monkeypatch.setattr(Path, "rename", lambda self, target: Path(rename(self, target) or target))
    folder = weights.fetch(published, tarball)
    assert weights.read_model(folder)["w"].size == 12


def test_the_cache_on_another_filesystem_than_the_temporary_folder(package, tmp_path):
    """A tmpfs mounted for the test (when this process may mount one) as PATCHER_CACHE."""
    tarball, published = package
    mount = tmp_path / "tmpfs"
    mount.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here (not root, or no mount permission)")
    try:
        assert os.stat(mount).st_dev != os.stat(tmp_path).st_dev
        env = {**os.environ, "PATCHER_CACHE": str(mount / "cache"), "PYTHONPATH": str(PROJECT)}
        code = "import json,sys; from patcher import weights; print(weights.fetch(json.loads(sys.argv[1]), sys.argv[2]))"
        proc = subprocess.run([sys.executable, "-c", code, json.dumps(published), str(tarball)], env=env,
                              capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        assert (Path(proc.stdout.strip()) / "model.json").is_file()
    finally:
        subprocess.run(["umount", str(mount)], check=False)


def test_three_concurrent_first_fetches_share_one_result(package, tmp_path):
    tarball, published = package
    env = {**os.environ, "PYTHONPATH": str(PROJECT)}
    code = ("import json,sys; from patcher import weights; f = weights.fetch(json.loads(sys.argv[1]), sys.argv[2]); "
            "print(f, sorted(weights.read_model(f)['w'].ravel().tolist()) == list(range(12)))")
    runs = [subprocess.Popen([sys.executable, "-c", code, json.dumps(published), str(tarball)], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(3)]
    outs = [run.communicate(timeout=120) for run in runs]
    assert [run.returncode for run in runs] == [0, 0, 0], outs
    assert {out for out, _ in outs} == {f"{weights.cached(published)} True\n"}
    entries = list(weights.cached(published).parent.parent.iterdir())
    assert entries == [weights.cached(published).parent]  # no staging folder left behind


def test_a_loser_of_the_race_uses_the_winners_entry(package, monkeypatch):
    tarball, published = package
    target = weights.cached(published).parent
    real = os.rename

    def rename(src, dst, *args, **kwargs):
        if Path(dst) == target and not target.exists():
            monkeypatch.setattr(os, "rename", real)
            assert weights.fetch(published, tarball) == target / "model"  # another run wins meanwhile
        return real(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "rename", rename)
    assert weights.fetch(published, tarball) == target / "model"
    assert [p.name for p in target.parent.iterdir()] == [target.name]


@pytest.mark.parametrize("fault", ["no-model-json", "not-gzip", "disk-full"])
def test_a_failed_fetch_leaves_nothing_behind(package, tmp_path, fault, monkeypatch):
    tarball, published = package
    if fault == "no-model-json":
        with tarfile.open(tarball := tmp_path / "bad.tgz", "w:gz") as archive:
            info = tarfile.TarInfo(f"package/{FOLDER}/x.bin")
            archive.addfile(info, io.BytesIO(b""))
        published = pin(tarball)
        message = "holds no model.json"
    elif fault == "not-gzip":
        tarball = tmp_path / "bad.tgz"
        tarball.write_bytes(b"not a tarball")
        published = pin(tarball)
        message = "cannot fetch or unpack @test/tiny@1.0.0"
    else:
        def full(*args, **kwargs):
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(tarfile.TarFile, "extractall", full)
        message = "No space left on device"
    with pytest.raises(WeightsError, match=message):
        weights.fetch(published, tarball)
    root = weights.cached(published).parent.parent
    assert not root.exists() or not any(root.iterdir())


def test_the_registry_client_has_a_timeout(package, monkeypatch):
    _, published = package
    monkeypatch.setattr(weights.shutil, "which", lambda name: "/bin/sleep")

    def slow(command, **kwargs):
        assert kwargs["timeout"] == child.REGISTRY_TIMEOUT
        raise subprocess.TimeoutExpired(command, kwargs["timeout"])

    monkeypatch.setattr(child.subprocess, "run", slow)
    with pytest.raises(WeightsError, match=r"^cannot fetch @test/tiny@1.0.0 with npm: no answer in 600 s "):
        weights.fetch(published)
    assert not any(weights.cached(published).parent.parent.iterdir())

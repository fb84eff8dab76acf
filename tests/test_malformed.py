"""One line, never a traceback, with the documented exit code: malformed weight manifests (20), `weights
--out` on a read-only or full disk (17; nothing left), `check` on a folder that is not a build (16),
`example` into a read-only folder, a full disk or a mount point (17). Full and read-only disks are small
tmpfs mounts when this process may mount them (else those cases skip; a monkeypatched write stands in)."""
from __future__ import annotations

import contextlib
import errno
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from kit import one_error
from patcher import examples, probe, recovery, weights
from patcher.cli import main
from patcher.errors import OutputError, WeightsError
from patcher.recipe import load


@contextlib.contextmanager
def tmpfs(where: Path, options: str) -> Iterator[Path]:
    """A tmpfs mounted at `where` with `options` (size=..., ro), or the test skips."""
    where.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)], capture_output=True, text=True)
    if proc.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.strip()[:80]}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


# --- malformed weight manifests ----------------------------------------------------------------------

GOOD = {"name": "w", "shape": [2, 3], "dtype": "float32"}


def model_folder(tmp_path: Path, manifest: object, data: bytes = np.zeros(6, np.float32).tobytes()) -> Path:
    folder = tmp_path / "model"
    folder.mkdir(exist_ok=True)
    (folder / "model.json").write_text(json.dumps({"modelTopology": {}, "weightsManifest": manifest}))
    (folder / "shard.bin").write_bytes(data)
    return folder


def group(*entries: object, paths: object = ("shard.bin",)) -> dict:
    return {"paths": list(paths) if isinstance(paths, tuple) else paths, "weights": list(entries)}


MALFORMED = {
    "missing-name": ([group({"shape": [2, 3], "dtype": "float32"})], "has no name"),
    "name-a-number": ([group({**GOOD, "name": 7})], "has no name"),
    "shape-a-string": ([group({**GOOD, "shape": "2x3"})], "has the shape '2x3'"),
    "shape-negative": ([group({**GOOD, "shape": [-2, -3]})], "has the shape [-2, -3]"),
    "shape-huge": ([group({**GOOD, "shape": [2 ** 63, 2]})], "not a list of sizes from 0 to 2^31 - 1"),
    "shape-overflows-a-product": ([group({**GOOD, "shape": [2 ** 31 - 1, 2 ** 31 - 1, 2 ** 31 - 1]})],
                                  "the shards end inside weight w"),
    "shape-of-floats": ([group({**GOOD, "shape": [2.0, 3.0]})], "has the shape [2.0, 3.0]"),
    "shape-of-booleans": ([group({**GOOD, "shape": [True, 6]})], "has the shape [True, 6]"),
    "shape-nan": ([group({**GOOD, "shape": [float("nan"), 3]})], "has the shape [nan, 3]"),
    "shape-infinite": ([group({**GOOD, "shape": [float("inf")]})], "has the shape [inf]"),
    "shape-long-and-huge": ([group({**GOOD, "shape": [2 ** 62] * 4})], "has the shape [4611686018427387904, 461168601842738..., not"),
    "shape-missing": ([group({"name": "w", "dtype": "float32"})], "has the shape None"),
    "dtype-missing": ([group({"name": "w", "shape": [6]})], "weight w has no dtype"),
    "paths-null": ([group(GOOD, paths=None)], "weightsManifest[0].paths must be a list"),
    "paths-a-string": ([group(GOOD, paths="shard.bin")], "weightsManifest[0].paths must be a list"),
    "paths-of-numbers": ([group(GOOD, paths=[1])], "weightsManifest[0].paths must be a list"),
    "weights-null": ([{"paths": ["shard.bin"], "weights": None}], "weightsManifest[0].weights must be a list"),
    "group-a-string": (["shard.bin"], "weightsManifest[0] must be an object"),
    "weight-a-string": ([group("w")], "has no name"),
    "manifest-an-object": ({"paths": ["shard.bin"]}, "weightsManifest must be a list of groups"),
    "quantization-without-dtype": ([group({**GOOD, "quantization": {"scale": 1}})], "malformed quantization"),
    "quantization-scale-a-string": ([group({**GOOD, "quantization": {"dtype": "uint8", "scale": "x", "min": 0}})],
                                    "malformed quantization"),
}


@pytest.mark.parametrize("case", MALFORMED)
def test_a_malformed_manifest_entry_is_one_error(case, tmp_path):
    manifest, phrase = MALFORMED[case]
    folder = model_folder(tmp_path, manifest)
    with pytest.raises(WeightsError) as caught:
        weights.read_model(folder)
    assert caught.value.code == 20 and "\n" not in str(caught.value) and phrase in str(caught.value), str(caught.value)


def test_a_well_formed_manifest_still_reads(tmp_path):
    folder = model_folder(tmp_path, [group(GOOD)], np.arange(6, dtype=np.float32).tobytes())
    assert weights.read_model(folder)["w"].tolist() == [[0, 1, 2], [3, 4, 5]]
    folder = model_folder(tmp_path, [group({"name": "s", "shape": [], "dtype": "float32"},
                                           {"name": "z", "shape": [0, 4], "dtype": "float32"},
                                           {"name": "v", "shape": [5], "dtype": "float32"})])
    found = weights.read_model(folder)
    assert found["s"].shape == () and found["z"].shape == (0, 4) and found["v"].shape == (5,)


# --- weights --out on a read-only or full disk ----------------------------------------------------------

@pytest.fixture
def fake_probe(tmp_path, monkeypatch):
    """recover() with the probe replaced: it writes a checkpoint of `size` bytes at --prefix, failing as the
    real probe does (an error record, WeightsError) when the disk is full."""
    size = {"data": 1 << 20}

    def run_child(module, command, args, dest, env, error, describe):
        prefix = Path(args[args.index("--prefix") + 1])
        prefix.parent.mkdir(parents=True, exist_ok=True)
        try:
            (prefix.parent / f"{prefix.name}.data-00000-of-00001").write_bytes(b"\1" * size["data"])
            (prefix.parent / f"{prefix.name}.index").write_bytes(b"index")
            (prefix.parent / "checkpoint").write_text("x")
        except OSError as exc:
            raise error(describe({"stage": "write", "message": exc.strerror})) from None
        return [{"assigned": 1}]

    monkeypatch.setattr(recovery, "run_child", run_child)
    monkeypatch.setattr(recovery, "graph_args", lambda model: [])
    monkeypatch.setattr(recovery, "upstream_env", lambda dest, model: {})
    folder = model_folder(tmp_path, [group(GOOD)])
    return folder, size


MODEL = load().model("celebamask")


def test_the_checkpoint_is_written_whole_beside_its_prefix(fake_probe, tmp_path):
    folder, _ = fake_probe
    out = tmp_path / "new" / "deeper" / "model.ckpt"
    assert recovery.recover(MODEL, tmp_path, folder, out) == {"assigned": 1}
    assert sorted(p.name for p in out.parent.iterdir()) == ["model.ckpt.data-00000-of-00001", "model.ckpt.index"]


def test_a_full_disk_leaves_nothing(fake_probe, tmp_path):
    folder, size = fake_probe
    with tmpfs(tmp_path / "small", "size=256k") as mount:
        before = sorted(os.listdir(mount))
        with pytest.raises(WeightsError, match="No space left on device"):
            recovery.recover(MODEL, tmp_path, folder, mount / "ckpt" / "model.ckpt")
        assert sorted(os.listdir(mount)) == before  # no staging folder, no truncated shard, no ckpt/ folder


def test_a_read_only_disk_is_exit_17(fake_probe, tmp_path):
    folder, _ = fake_probe
    with tmpfs(tmp_path / "ro", "ro,size=64k") as mount:
        with pytest.raises(OutputError, match=r"cannot write the checkpoint .*: Read-only file system; nothing was "
                                              r"written") as caught:
            recovery.recover(MODEL, tmp_path, folder, mount / "model.ckpt")
        assert caught.value.code == 17 and os.listdir(mount) == []


# TensorFlow's own error when its saver meets a full disk (a 256 kB tmpfs), as tensorflow 2.19 words it
FULL = ("Graph execution error:\n\nDetected at node 'save/SaveV2' defined at (most recent call last):\n"
        '    File "probe.py", line 4, in <module>\nNode: \'save/SaveV2\'\n'
        "/mnt/.m.ckpt.partial-x/m.ckpt.data-00000-of-00001.tempstate1; No space left on device\n"
        "\t [[{{node save/SaveV2}}]]\nHint: If you want to see a list of allocated tensors when OOM happens")


def test_a_full_disk_under_tensorflow_is_named_in_the_one_line():
    """The line after "Node: 'NAME'" is the reason; before, the line was "build: ResourceExhaustedError:
    Graph execution error:" and said nothing of the disk."""
    assert probe.reason(FULL) == "/mnt/.m.ckpt.partial-x/m.ckpt.data-00000-of-00001.tempstate1; No space left on device"
    assert probe.reason("Graph execution error:\n\nsomething else") == "Graph execution error:"
    assert probe.reason("Incompatible shapes: [1,2] vs. [1,3]\nmore") == "Incompatible shapes: [1,2] vs. [1,3]"


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EROFS, errno.EACCES])
def test_a_failing_rename_into_place_leaves_nothing(code, fake_probe, tmp_path, monkeypatch):
    folder, _ = fake_probe
    out = tmp_path / "out" / "model.ckpt"
    out.parent.mkdir()
    (out.parent / "mine.txt").write_text("the user's")
    real = os.rename
    calls = []

    def rename(src, dst):
        calls.append(dst)
        if len(calls) == 2:
            raise OSError(code, os.strerror(code))
        return real(src, dst)

    monkeypatch.setattr(recovery.os, "rename", rename)
    with pytest.raises(OutputError, match="nothing was written"):
        recovery.recover(MODEL, tmp_path, folder, out)
    assert os.listdir(out.parent) == ["mine.txt"]


def test_a_full_temporary_folder_is_one_error(fake_probe, tmp_path, monkeypatch):
    folder, _ = fake_probe

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(recovery.np, "savez", full)
    with pytest.raises(OutputError, match="No space left on device; nothing was written"):
        recovery.recover(MODEL, tmp_path, folder, tmp_path / "out" / "model.ckpt")
    assert not (tmp_path / "out").exists()


# --- check on a folder that is not a build --------------------------------------------------------------

def not_a_build(tmp_path: Path, kind: str) -> Path:
    folder = tmp_path / "model"
    if kind == "missing":
        return folder
    folder.mkdir()
    if kind == "not-json":
        (folder / "model.json").write_text("{ not json")
    elif kind == "json-list":
        (folder / "model.json").write_text("[1, 2]")
    elif kind == "binary":
        (folder / "model.json").write_bytes(b"\xff\xfe\0garbage")
    elif kind == "folder":
        (folder / "model.json").mkdir()
    elif kind == "metadata-a-string":
        (folder / "model.json").write_text(json.dumps({"userDefinedMetadata": "x"}))
    return folder


@pytest.mark.parametrize("options", [["--reference", "published"], ["--litert"], []],
                         ids=["reference-published", "litert", "plain"])
@pytest.mark.parametrize("kind", ["missing", "empty", "not-json", "json-list", "binary", "folder",
                                  "metadata-a-string"])
def test_check_on_a_folder_that_is_not_a_build_is_exit_16(kind, options, tmp_path, capsys):
    folder = not_a_build(tmp_path, kind)
    capsys.readouterr()
    code = main(["check", "--model-dir", str(folder), *options])
    one_error(capsys.readouterr().err, code, 16, str(folder))


# --- example into a read-only folder, a full disk, a mount point ------------------------------------------

def test_example_into_a_full_disk_is_exit_17_and_leaves_nothing(tmp_path, capsys):
    with tmpfs(tmp_path / "small", "size=48k") as mount:
        capsys.readouterr()
        code = main(["example", str(mount / "ex")])
        one_error(capsys.readouterr().err, code, 17, "cannot write the example into", "No space left on device")
        assert os.listdir(mount) == []


def test_example_into_a_read_only_folder_is_exit_17(tmp_path, capsys):
    with tmpfs(tmp_path / "ro", "ro,size=64k") as mount:
        capsys.readouterr()
        code = main(["example", str(mount / "ex")])
        one_error(capsys.readouterr().err, code, 17, "cannot write the example into", "Read-only file system")


def test_example_into_an_empty_mount_point_is_exit_17(tmp_path, capsys):
    with tmpfs(tmp_path / "mnt", "size=1m") as mount:
        capsys.readouterr()
        code = main(["example", str(mount)])
        one_error(capsys.readouterr().err, code, 17, "is a mount point")
        assert os.listdir(mount) == []


@pytest.mark.parametrize("where", ["git", "write"])
def test_example_on_a_full_disk_without_mounting_is_exit_17(where, tmp_path, capsys, monkeypatch):
    """The same failures, made by monkeypatching (for machines where tests cannot mount)."""
    if where == "git":
        def git(cwd, *args):
            raise examples.UpstreamError("git commit failed: fatal: unable to write new index file")

        monkeypatch.setattr(examples, "_git", git)
    else:
        def full(*args, **kwargs):
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(examples.shutil, "copy2", full)
    (tmp_path / "ex").mkdir()
    capsys.readouterr()
    code = main(["example", str(tmp_path / "ex")])
    one_error(capsys.readouterr().err, code, 17, "cannot write the example into")
    assert sorted(os.listdir(tmp_path)) == ["ex"] and os.listdir(tmp_path / "ex") == []  # the empty folder, as given

"""`weights` and `build --weights`: a checkpoint recovered from a published-style graph model.

The published model is made here, without the network: the synthetic upstream's face model frozen with
random weights and converted without patcher's simplifications (`build --no-optimize`), so that its batch
norms are folded by TensorFlow's own optimize_for_inference and the converter, exactly as in the seed's
published package (`<conv op>_weights`, `<conv op>_bn_offset`, `<batch-norm op>/Scaled` and `/Offset`).
"""
from __future__ import annotations

import json
import re
import shutil
import tarfile
from pathlib import Path

import numpy as np
import pytest

from kit import BUILDS
from patcher import weights
from patcher.cli import main
from patcher.errors import WeightsError

pytestmark = BUILDS
FOLDER = "resources/face-model"


@pytest.fixture(scope="module")
def published(checkouts, tmp_path_factory) -> Path:
    """A published-style graph model of the synthetic face net: folded batch norms, no patcher metadata."""
    out = tmp_path_factory.mktemp("published") / "model"
    assert main(["build", "--dest", str(checkouts / "celebamask"), "--random-weights", "--seed", "7",
                 "--no-optimize", "--no-check", "--out", str(out)]) == 0
    folder = tmp_path_factory.mktemp("seed") / "model"
    folder.mkdir()
    model = json.loads((out / "model.json").read_text())
    model.pop("userDefinedMetadata")
    (folder / "model.json").write_text(json.dumps(model))
    for shard in out.glob("*.bin"):
        shutil.copy2(shard, folder / shard.name)
    return folder


def package(published: Path, where: Path) -> Path:
    """The published model packed as npm packs a package: package/FOLDER/..."""
    tarball = where / "seed-1.0.0.tgz"
    with tarfile.open(tarball, "w:gz") as archive:
        archive.add(published, arcname=f"package/{FOLDER}")
    return tarball


def recipe_with(tmp_path: Path, integrity: str) -> Path:
    """The shipped recipe with the face model's published weights pointing at the test's package."""
    from patcher import recipe

    text = recipe.default().read_text()
    start = text.index("published = {")
    end = text.index("\n", start)
    entry = (f'published = {{ package = "seed", version = "1.0.0", folder = "{FOLDER}", integrity = "{integrity}", '
             'license = "MIT", terms = "test data" }')
    path = tmp_path / "recipe" / "bisenetv2.toml"
    path.parent.mkdir()
    path.write_text(text[:start] + entry + text[end:])
    return path


def errors(stderr: str) -> list[str]:
    """The error lines of stderr (progress lines may come before them)."""
    return [line for line in stderr.splitlines() if line.startswith("patcher: error: ")]


def floats(folder: Path) -> dict[str, np.ndarray]:
    return {k: v for k, v in weights.read_model(folder).items() if v.dtype == np.float32}


def test_published_style_model_has_folded_names(published):
    names = set(floats(published))
    assert any(n.endswith("Conv2D_weights") for n in names) and any(n.endswith("_bn_offset") for n in names)
    assert "BiseNetV2/context_bn/FusedBatchNormV3/Scaled" in names and "BiseNetV2/head/classes/W" in names
    assert not any("moving_mean" in n or "gamma" in n for n in names)


def test_recovered_checkpoint_rebuilds_the_same_model(published, checkouts, tmp_path, capsys):
    prefix = tmp_path / "ckpt" / "model.ckpt"
    capsys.readouterr()
    assert main(["weights", "--dest", str(checkouts / "celebamask"), "--from", str(published),
                 "--out", str(prefix)]) == 0
    said = capsys.readouterr().out
    count = len(floats(published))
    assert f"{count} of {count} published float weights used" in said
    import tensorflow as tf

    names = dict(tf.train.list_variables(str(prefix)))
    assert any(n.endswith("ExponentialMovingAverage") for n in names)
    reader = tf.train.load_checkpoint(str(prefix))
    means = [n for n in names if n.endswith("moving_mean")]
    assert means and all(np.all(reader.get_tensor(n) == 0) for n in means)
    out = tmp_path / "web"
    assert main(["build", "--dest", str(checkouts / "celebamask"), "--checkpoint", str(prefix), "--out", str(out),
                 "--no-check"]) == 0
    capsys.readouterr()
    assert main(["check", "--model-dir", str(out), "--reference", str(published), "--sizes", "64x64,48x80"]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines() if line.strip().startswith("wasm")]
    assert [r[1] for r in rows] == ["64x64", "48x80"] and all(float(r[2].rstrip("%")) >= 99.9 for r in rows)


def test_build_recovers_from_a_package_and_records_provenance(published, checkouts, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATCHER_CACHE", str(tmp_path / "cache"))
    tarball = package(published, tmp_path)
    recipe = recipe_with(tmp_path, weights.integrity(tarball))
    out = tmp_path / "web"
    assert main(["build", "--recipe", str(recipe), "--dest", str(checkouts / "celebamask"), "--weights",
                 str(tarball), "--out", str(out)]) == 0
    meta = json.loads((out / "model.json").read_text())["userDefinedMetadata"]
    assert meta["patcher"]["published"] == {"package": "seed", "version": "1.0.0", "folder": FOLDER,
                                            "integrity": weights.integrity(tarball), "license": "MIT",
                                            "terms": "test data"}
    assert meta["terms"] == "test data" and meta["patcher"]["weights"] == "recovered from seed@1.0.0"
    # the build also caches the recipe's face detector; the weights' package is one entry of its own
    cached = [p for p in (tmp_path / "cache" / "published").iterdir() if p.name.startswith("seed-")]
    assert len(cached) == 1 and (cached[0] / "model" / "model.json").is_file()


def test_bad_integrity_is_refused_and_nothing_cached(published, checkouts, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATCHER_CACHE", str(tmp_path / "cache"))
    tarball = package(published, tmp_path)
    wrong = "sha512-" + "A" * 86 + "=="
    recipe = recipe_with(tmp_path, wrong)
    capsys.readouterr()
    code = main(["weights", "--recipe", str(recipe), "--dest", str(checkouts / "celebamask"), "--from",
                 str(tarball), "--out", str(tmp_path / "ckpt" / "m.ckpt")])
    err = errors(capsys.readouterr().err)
    assert code == WeightsError.code == 20
    assert len(err) == 1 and err[0].startswith("patcher: error: seed@1.0.0: the tarball's integrity is sha512-")
    assert not (tmp_path / "cache" / "published").exists() or not any((tmp_path / "cache" / "published").iterdir())
    assert not (tmp_path / "ckpt").exists()


def broken(published: Path, tmp_path: Path, edit) -> Path:
    copy = tmp_path / "broken"
    shutil.copytree(published, copy)
    edit(copy)
    return copy


def rename_first_folded(folder: Path) -> None:
    model = json.loads((folder / "model.json").read_text())
    for weight in model["weightsManifest"][0]["weights"]:
        if weight["name"].endswith("_bn_offset"):
            weight["name"] = weight["name"].replace("_bn_offset", "_offset")
            break
    (folder / "model.json").write_text(json.dumps(model))


def add_extra(folder: Path) -> None:
    model = json.loads((folder / "model.json").read_text())
    group = model["weightsManifest"][-1]
    group["weights"].append({"name": "extra/W", "shape": [2], "dtype": "float32"})
    shard = folder / group["paths"][-1]
    shard.write_bytes(shard.read_bytes() + np.zeros(2, np.float32).tobytes())
    (folder / "model.json").write_text(json.dumps(model))


def drop_shard(folder: Path) -> None:
    next(folder.glob("*.bin")).unlink()


@pytest.mark.parametrize(("model", "edit", "message"), [
    ("celebamask", rename_first_folded, "the published model has no weight BiseNetV2/"),
    ("celebamask", add_extra, "published weight extra/W matches no variable of the graph"),
    ("celebamask", drop_shard, "is missing from"),
    # the street-scene net of the synthetic upstream is wider: another network for the face model's weights;
    # the line names the published weight and the graph's variable, and their two shapes, which differ
    ("cityscapes", None, r"published weight \S+ has shape (\[[\d, ]+\]); the graph's \S+ has (?!\1)\[[\d, ]+\]"),
], ids=["renamed-constant", "unused-weight", "missing-shard", "another-network"])
def test_a_model_that_does_not_fit_is_one_line_and_writes_nothing(published, checkouts, tmp_path, capsys, model,
                                                                 edit, message):
    source = broken(published, tmp_path, edit) if edit else published
    prefix = tmp_path / "ckpt" / "model.ckpt"
    capsys.readouterr()
    code = main(["weights", "--model", model, "--dest", str(checkouts / model), "--from", str(source),
                 "--out", str(prefix)])
    said = capsys.readouterr().err
    err = errors(said)
    assert code == 20, said
    assert len(err) == 1 and re.search(message, err[0]) and said.strip().splitlines()[-1] == err[0], said
    assert "Traceback" not in said
    assert not prefix.parent.exists()


def test_model_without_published_weights_names_the_alternatives(checkouts, tmp_path, capsys):
    capsys.readouterr()
    code = main(["build", "--model", "cityscapes", "--dest", str(checkouts / "cityscapes"), "--weights", "published",
                 "--out", str(tmp_path / "web")])
    err = capsys.readouterr().err.strip()
    assert code == 20 and "no published weights" in err and "--checkpoint" in err and "--random-weights" in err
    assert not (tmp_path / "web").exists()


def test_quantized_weights_are_dequantized(tmp_path):
    values = np.array([0, 1, 255, 128], np.uint8)
    model = {"modelTopology": {}, "weightsManifest": [{"paths": ["w.bin"], "weights": [
        {"name": "q", "shape": [2, 2], "dtype": "float32",
         "quantization": {"dtype": "uint8", "min": -1.0, "scale": 0.01}},
        {"name": "h", "shape": [2], "dtype": "float32", "quantization": {"dtype": "float16"}}]}]}
    (tmp_path / "model.json").write_text(json.dumps(model))
    (tmp_path / "w.bin").write_bytes(values.tobytes() + np.array([0.5, -2.25], np.float16).tobytes())
    found = weights.read_model(tmp_path)
    assert found["q"].dtype == np.float32
    np.testing.assert_allclose(found["q"], (values.astype(np.float32) * 0.01 - 1.0).reshape(2, 2), rtol=1e-6)
    np.testing.assert_array_equal(found["h"], np.array([0.5, -2.25], np.float32))


def test_unknown_quantization_is_refused_by_name(tmp_path):
    model = {"modelTopology": {}, "weightsManifest": [{"paths": ["w.bin"], "weights": [
        {"name": "layer/q", "shape": [4], "dtype": "float32", "quantization": {"dtype": "int4", "min": 0, "scale": 1}}]}]}
    (tmp_path / "model.json").write_text(json.dumps(model))
    (tmp_path / "w.bin").write_bytes(b"\0\0")
    with pytest.raises(WeightsError, match="weight layer/q is quantized as int4"):
        weights.read_model(tmp_path)


def test_an_existing_checkpoint_is_not_overwritten(published, checkouts, tmp_path, capsys):
    prefix = tmp_path / "model.ckpt"
    Path(f"{prefix}.index").write_bytes(b"mine")
    capsys.readouterr()
    code = main(["weights", "--dest", str(checkouts / "celebamask"), "--from", str(published), "--out", str(prefix)])
    err = errors(capsys.readouterr().err)
    assert code == 20 and len(err) == 1 and "exists (model.ckpt.index)" in err[0]
    assert Path(f"{prefix}.index").read_bytes() == b"mine" and sorted(p.name for p in tmp_path.iterdir()) == [
        "model.ckpt.index"]

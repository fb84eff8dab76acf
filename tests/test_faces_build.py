"""The recipe's face detector in a build: fetched like published weights (integrity checked before
unpacking, only its files unpacked, cached), copied into the web folder's faces/, named in model.json's
metadata and the package's README; without a registry the build goes on without face mode, saying so once."""
from __future__ import annotations

import io
import tarfile
from pathlib import Path
from typing import Any

import pytest

from patcher import npm, recipe, weights

FILES = {"det.json": b'{"modelTopology": {}, "weightsManifest": []}', "det.bin": b"\x00" * 64,
         "other.bin": b"\x01" * 32}


def package(where: Path) -> Path:
    """A package tarball with a models/ folder holding the detector's two files and one more."""
    tarball = where / "det-1.0.0.tgz"
    with tarfile.open(tarball, "w:gz") as archive:
        for name, data in FILES.items():
            info = tarfile.TarInfo(f"package/models/{name}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return tarball


def faces_entry(integrity: str) -> dict[str, Any]:
    return {"package": "@example/det", "version": "1.0.0", "folder": "models", "files": ["det.json", "det.bin"],
            "integrity": integrity, "license": "MIT", "model_license": "Apache-2.0",
            "anchors": {"strides": [16, 32], "per_cell": [2, 6]}}


def test_the_detector_is_unpacked_alone_and_copied_into_the_web_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("PATCHER_CACHE", str(tmp_path / "cache"))
    tarball = package(tmp_path)
    faces = faces_entry(weights.integrity(tarball))
    cached = weights.fetch(faces, tarball)
    assert sorted(p.name for p in cached.iterdir()) == ["det.bin", "det.json"], "only the recipe's files"
    web = tmp_path / "web"
    web.mkdir()
    entry = weights.detector(faces, web)
    assert entry["detector"] == "faces/det.json" and entry["files"] == ["faces/det.json", "faces/det.bin"]
    assert (web / "faces" / "det.bin").read_bytes() == FILES["det.bin"]
    assert entry["anchors"] == {"strides": [16, 32], "perCell": [2, 6]}
    assert (entry["license"], entry["model_license"]) == ("MIT", "Apache-2.0")


def test_a_litert_detector_at_the_package_root_is_copied_by_litert_builds_only(tmp_path, monkeypatch):
    monkeypatch.setenv("PATCHER_CACHE", str(tmp_path / "cache"))
    tarball = tmp_path / "lite-1.0.0.tgz"
    with tarfile.open(tarball, "w:gz") as archive:
        for name, data in {"det.tflite": b"TFL3" * 8, "det.js": b"//"}.items():
            info = tarfile.TarInfo(f"package/{name}")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    lite = {**faces_entry(weights.integrity(tarball)), "package": "@example/lite", "folder": ".",
            "files": ["det.tflite"], "anchors": {"strides": [4], "per_cell": [1]}}
    assert [p.name for p in weights.fetch(lite, tarball).iterdir()] == ["det.tflite"]
    det = package(tmp_path)
    faces = {**faces_entry(weights.integrity(det)), "litert": lite}
    weights.fetch(faces, det)
    plain, built = tmp_path / "plain", tmp_path / "lite"
    plain.mkdir()
    built.mkdir()
    assert "litert" not in weights.detector(faces, plain) and not (plain / "faces" / "det.tflite").exists()
    entry = weights.detector(faces, built, litert=True)
    assert entry["detector"] == "faces/det.json" and entry["litert"]["detector"] == "faces/det.tflite"
    assert entry["litert"]["anchors"] == {"strides": [4], "perCell": [1]} and entry["litert"]["package"] == "@example/lite"
    assert (built / "faces" / "det.tflite").read_bytes() == b"TFL3" * 8


def test_a_wrong_integrity_unpacks_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("PATCHER_CACHE", str(tmp_path / "cache"))
    tarball = package(tmp_path)
    faces = faces_entry("sha512-" + "A" * 86 + "==")
    with pytest.raises(weights.WeightsError, match="integrity"):
        weights.fetch(faces, tarball)
    assert not weights.cached(faces).exists()


def test_without_a_registry_the_build_has_no_face_mode_and_says_so_once(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATCHER_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("npm_config_registry", "http://127.0.0.1:9/")
    monkeypatch.setenv("npm_config_fetch_retries", "0")
    monkeypatch.setenv("npm_config_offline", "true")
    web = tmp_path / "web"
    web.mkdir()
    entry = weights.detector(faces_entry("sha512-" + "A" * 86 + "=="), web)
    assert entry["detector"] is None and entry["files"] == [] and entry["reason"]
    assert not (web / "faces").exists()
    lines = capsys.readouterr().err.strip().splitlines()
    notes = [line for line in lines if line.startswith("note: this build has no face mode")]
    assert len(notes) == 1 and "@example/det@1.0.0" in notes[0]


def test_the_readme_names_the_detector_and_its_licences_or_why_there_is_none():
    meta = {"patcher": {"recipe": "r", "model": "m", "weights": "random weights"}, "title": "T", "about": ""}
    package = {"name": "r-m", "version": "0.0.0", "license": "MIT"}
    shipped = recipe.load().model("celebamask").faces
    entry = {**shipped, "detector": "faces/blazeface.json"}
    text = npm.readme(package, {**meta, "faces": entry})
    assert "@vladmandic/human@3.3.6 (MIT; the model itself Apache-2.0)" in text and "faces: false" in text
    missing = npm.readme(package, {**meta, "faces": {**shipped, "detector": None, "reason": "offline"}})
    assert "no face mode" in missing and "(offline)" in missing
    assert "face" not in npm.readme(package, meta).lower()
    assert "LiteRT.js" not in text, "no LiteRT.js detector in this build"
    lite = {**shipped["litert"], "detector": "faces/face_detection_full_range.tflite"}
    both = npm.readme(package, {**meta, "faces": {**entry, "litert": lite}})
    assert "on LiteRT.js too, with the detector from @mediapipe/face_detection@0.4.1657300184 (Apache-2.0" in both

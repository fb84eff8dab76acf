"""A model table of a recipe, checked field by field into a Model.

Each field has its own validator (FIELDS, in the order they are checked); each failure is one
RecipeError line naming the file, the model and the field's path (`model 'NAME': field 'input.color'
...`). Why validators of our own and not pydantic or jsonschema: several fields are checked against
others (a palette colour per class, transparent ids among the classes, freeze arguments naming the
placeholder of `convert`) and against the filesystem (a sample inside the recipe's folder), and
today's messages say what a valid value looks like in the recipe's words; a schema library would
need these same functions as custom validators plus a translation of its own messages, for a table
of twenty fields.
"""
from __future__ import annotations

import re
import string
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, NoReturn

from patcher import npm
from patcher.recipe import outputs as kinds_fields
from patcher.recipe.data import Input, Model

# a model's published weights: a TensorFlow.js graph model inside an npm package, as the registry serves it
PUBLISHED = ("package", "version", "folder", "integrity", "license", "terms")
# a face detector the module runs before the model (face mode): its files inside an npm package, the
# licences of the package and of the model, and the model's anchor layout (per output layer: stride in
# input pixels, anchors per grid cell); optionally `litert`, a table of the same fields naming a .tflite
# detector the module runs on LiteRT.js where the build has it (build --litert)
FACES = ("package", "version", "folder", "files", "integrity", "license", "model_license", "anchors")
FREEZE_PLACEHOLDERS = {"checkpoint", "frozen", "optimized"}
SAMPLE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp")


@dataclass(frozen=True)
class Place:
    """Where a field is checked: the model's table (`where`), the recipe's folder, and the failure."""

    where: str
    folder: Path
    raise_at: Callable[[str, str], NoReturn]

    def fail(self, what: str) -> NoReturn:
        self.raise_at(self.where, what)


def inside(path: str) -> bool:
    """True when `path` is relative and stays inside the checkout (no `..`, not absolute)."""
    pure = PurePosixPath(path)
    return bool(path) and not pure.is_absolute() and ".." not in pure.parts and "\\" not in path


def whole(value: object) -> bool:
    """True for an int that is not a bool (TOML's integers; true and false are not numbers)."""
    return isinstance(value, int) and not isinstance(value, bool)


def box(value: object) -> bool:
    """True for [x, y, width, height] in pixels: four whole numbers, none negative, a size of at least 1."""
    return (isinstance(value, list) and len(value) == 4 and all(whole(v) and v >= 0 for v in value)
            and min(value[2:]) >= 1)


# The validators: each takes the field's value (of the right TOML type already) and the whole table,
# and gives the value the Model holds.

INPUT: dict[str, type | tuple[type, ...]] = {"name": str, "layout": str, "color": str, "scale": (int, float), "offset": (int, float),
         "default_size": list}


def _input(inp: dict[str, Any], raw: dict[str, Any], at: Place) -> Input:
    for key, kind in INPUT.items():
        if key not in inp:
            at.fail(f"missing field 'input.{key}'")
        if not isinstance(inp[key], kind) or isinstance(inp[key], bool):
            at.fail(f"field 'input.{key}' has the wrong type")
    for key in sorted(set(inp) - set(INPUT)):
        at.fail(f"unknown field 'input.{key}'")
    size = inp["default_size"]
    if len(size) != 2 or not all(whole(v) and v > 0 for v in size):
        at.fail("field 'input.default_size' must be [height, width]")
    if inp["layout"] != "NHWC" or inp["color"] not in ("RGB", "BGR"):
        at.fail("input.layout must be 'NHWC' and input.color 'RGB' or 'BGR'")
    return Input(inp["name"], inp["layout"], inp["color"], float(inp["scale"]), float(inp["offset"]),
                 (size[0], size[1]))


def _classes(classes: list[Any], raw: dict[str, Any], at: Place) -> tuple[str, ...]:
    if not classes or not all(isinstance(c, str) for c in classes):
        at.fail("field 'classes' must be a list of names")
    return tuple(classes)


def _palette(palette: list[Any], raw: dict[str, Any], at: Place) -> tuple[tuple[int, int, int], ...]:
    if len(palette) != len(raw.get("classes", [])):
        at.fail(f"field 'palette' has {len(palette)} colours for {len(raw.get('classes', []))} classes")
    if not all(isinstance(c, list) and len(c) == 3 and all(whole(v) and 0 <= v <= 255 for v in c) for c in palette):
        at.fail("field 'palette' must be [r, g, b] triples of 0..255")
    return tuple((c[0], c[1], c[2]) for c in palette)


def _transparent(ids: list[Any], raw: dict[str, Any], at: Place) -> tuple[int, ...]:
    if not all(whole(i) and 0 <= i < len(raw.get("classes", [])) for i in ids):
        at.fail(f"field 'transparent' must list class ids in 0..{len(raw.get('classes', [])) - 1}")
    return tuple(ids)


def _convert(convert: str, raw: dict[str, Any], at: Place) -> str:
    if convert not in ("frozen", "optimized"):
        at.fail("field 'convert' must be 'frozen' or 'optimized'")
    return convert


def _freeze_args(args: list[Any], raw: dict[str, Any], at: Place) -> tuple[str, ...]:
    if not all(isinstance(a, str) for a in args):
        at.fail("field 'freeze_args' must be a list of strings")
    named = {name for a in args for _, name, _, _ in string.Formatter().parse(a) if name}
    if not named <= FREEZE_PLACEHOLDERS or not {"checkpoint", raw["convert"]} <= named:
        at.fail("field 'freeze_args' must use {checkpoint} and {" + raw["convert"] + "} (and only "
                "{checkpoint}, {frozen}, {optimized})")
    return tuple(args)


def _freeze_script(script: str, raw: dict[str, Any], at: Place) -> str:
    if not inside(script):
        at.fail(f"field 'freeze_script' must stay inside the checkout, not {script!r}")
    return script


def _moving_average(ema: dict[str, Any], raw: dict[str, Any], at: Place) -> dict[str, Any]:
    if ema and (set(ema) != {"scope", "decay"} or not isinstance(ema["scope"], str)
                or not isinstance(ema["decay"], float)):
        at.fail("field 'moving_average' must be {scope = \"...\", decay = 0.999...}")
    return dict(ema)


def _env(env: dict[str, Any], raw: dict[str, Any], at: Place) -> dict[str, str]:
    if not all(isinstance(v, str) for v in env.values()):
        at.fail("field 'env' must map names to strings")
    return dict(env)


def _sample(sample: str, raw: dict[str, Any], at: Place) -> str:
    """`package:PACKAGE/PATH` as it is, or an image file relative to the recipe (inside its folder, links
    resolved) as an absolute path."""
    if sample.startswith("package:"):
        if sample.count(":") != 1 or "/" not in sample or not inside(sample.partition("/")[2]):
            at.fail("field 'sample' must be 'package:PACKAGE/PATH' (an image shipped in an installed package, PATH "
                    "inside it) "
                    "or an image file relative to the recipe")
        return sample
    pure = PurePosixPath(sample)
    if not sample or pure.is_absolute() or ".." in pure.parts or "\\" in sample or ":" in sample:
        at.fail(f"field 'sample' must be 'package:PACKAGE/PATH' or an image file inside the recipe's folder, "
                f"not {sample!r}")
    if pure.suffix.lower() not in SAMPLE_SUFFIXES:
        at.fail(f"field 'sample' must be an image ({', '.join(SAMPLE_SUFFIXES)}), not {sample!r}")
    base = at.folder.resolve()
    found = (base / sample).resolve()
    if not found.is_relative_to(base):
        at.fail(f"field 'sample' {sample!r} leaves the recipe's folder (it resolves to {found})")
    if not found.is_file():
        at.fail(f"field 'sample' {sample!r} is not a file in the recipe's folder {base}")
    return str(found)


def _published(published: dict[str, Any], raw: dict[str, Any], at: Place) -> dict[str, str]:
    if not published:
        return {}
    for key in sorted(set(published) ^ set(PUBLISHED)):
        at.fail(f"field 'published.{key}' is {'unknown' if key in published else 'missing'}")
    if not all(isinstance(published[k], str) and published[k] for k in PUBLISHED):
        at.fail("the fields of 'published' must be non-empty strings")
    if not re.fullmatch(r"sha512-[A-Za-z0-9+/]{86}==", published["integrity"]):
        at.fail("field 'published.integrity' must be the registry's 'sha512-...' (base64) integrity")
    if not re.fullmatch(r"\d+\.\d+\.\d+", published["version"]) or not inside(published["folder"]):
        at.fail("field 'published.version' must be an exact version (1.2.3) and 'published.folder' a "
                "relative path inside the package")
    return dict(published)


def _faces(faces: dict[str, Any], raw: dict[str, Any], at: Place) -> dict[str, Any]:
    lite = faces.get("litert")
    checked = _detector({k: v for k, v in faces.items() if k != "litert"}, at, "faces", ".json", "the graph's .json")
    if lite is None:
        return checked
    if not isinstance(lite, dict):
        at.fail("field 'faces.litert' must be a table of the same fields")
    return {**checked, "litert": _detector(lite, at, "faces.litert", ".tflite", "the model's .tflite")}


def _detector(faces: dict[str, Any], at: Place, name: str, suffix: str, graph: str) -> dict[str, Any]:
    """A face detector's fields (FACES) checked: `name` in messages, `suffix` the one model file's."""
    for key in sorted(set(faces) ^ set(FACES)):
        at.fail(f"field '{name}.{key}' is {'unknown' if key in faces else 'missing'}")
    for key in ("package", "version", "folder", "integrity", "license", "model_license"):
        if not isinstance(faces[key], str) or not faces[key]:
            at.fail(f"field '{name}.{key}' must be a non-empty string")
    try:
        npm.check_name(faces["package"])
    except ValueError as exc:
        at.fail(f"field '{name}.package': {exc}")
    if not re.fullmatch(r"\d+\.\d+\.\d+", faces["version"]):
        at.fail(f"field '{name}.version' must be an exact version (1.2.3)")
    if not inside(faces["folder"]):
        at.fail(f"field '{name}.folder' must be a relative path inside the package")
    if not re.fullmatch(r"sha512-[A-Za-z0-9+/]{86}==", faces["integrity"]):
        at.fail(f"field '{name}.integrity' must be the registry's 'sha512-...' (base64) integrity")
    files = faces["files"]
    if (not isinstance(files, list) or not all(isinstance(f, str) and inside(f) and "/" not in f for f in files)
            or len(set(files)) != len(files) or sum(f.endswith(suffix) for f in files) != 1):
        at.fail(f"field '{name}.files' must list file names in the folder, one of them {graph}")
    anchors = faces["anchors"]
    if not isinstance(anchors, dict) or set(anchors) != {"strides", "per_cell"}:
        at.fail(f"field '{name}.anchors' must be {{strides = [...], per_cell = [...]}}")
    strides, per_cell = anchors["strides"], anchors["per_cell"]
    if (not isinstance(strides, list) or not isinstance(per_cell, list) or not strides
            or len(strides) != len(per_cell) or not all(whole(v) and v > 0 for v in strides + per_cell)):
        at.fail(f"field '{name}.anchors' must give as many strides as per_cell counts, whole numbers above 0")
    return {**faces, "files": list(files), "anchors": {"strides": list(strides), "per_cell": list(per_cell)}}


def _sample_crop(crop: list[Any], raw: dict[str, Any], at: Place) -> tuple[int, ...]:
    if crop and not box(crop):
        at.fail("field 'sample_crop' must be [x, y, width, height] in pixels")
    return tuple(crop)


def _pictures(pictures: list[Any], raw: dict[str, Any], at: Place) -> tuple[dict[str, Any], ...]:
    for i, entry in enumerate(pictures):
        if not isinstance(entry, dict) or not {"name", "source"} <= set(entry) <= {"name", "source", "crop", "sha256"}:
            at.fail(f"pictures[{i}] must be {{name, source, crop (optional), sha256 (for pypi:)}}")
        source = entry["source"]
        packaged = isinstance(source, str) and source.startswith("package:") and inside(source.partition("/")[2])
        pinned = (isinstance(source, str) and source.startswith("pypi:") and "==" in source.split("/")[0]
                  and re.fullmatch(r"[0-9a-f]{64}", str(entry.get("sha256", ""))))
        if not packaged and not pinned:
            at.fail(f"pictures[{i}].source must be 'package:PKG/PATH' or 'pypi:NAME==VERSION/PATH' with a sha256")
        if "crop" in entry and not box(entry["crop"]):
            at.fail(f"pictures[{i}].crop must be [x, y, width, height] in pixels")
    return tuple(dict(p) for p in pictures)


def _upstream_checkpoint(prefix: str, raw: dict[str, Any], at: Place) -> str:
    if not prefix or not inside(prefix):
        at.fail("field 'upstream_checkpoint' must be a checkpoint prefix inside the checkout (relative, no '..')")
    return prefix


def _package(package: str, raw: dict[str, Any], at: Place) -> str:
    try:
        npm.check_name(package)
    except ValueError as exc:
        at.fail(f"field 'package': {exc}")
    return package


def _text(value: str, raw: dict[str, Any], at: Place) -> str:
    return value


Validator = Callable[[Any, dict[str, Any], Place], Any]

# field: (TOML type, required, validator); checked in this order, nothing else allowed in a model table
FIELDS: dict[str, tuple[type, bool, Validator]] = {
    "title": (str, True, _text), "about": (str, False, _text), "graph": (str, True, _text),
    "checkpoint_help": (str, False, _text), "license": (str, False, _text), "sample_credit": (str, False, _text),
    "input": (dict, True, _input), "classes": (list, False, _classes),
    "palette": (list, False, _palette), "transparent": (list, False, _transparent),
    "outputs": (dict, True, kinds_fields.outputs),
    # required unless `restore` is given (kinds_fields.requirements)
    "convert": (str, False, _convert), "freeze_args": (list, False, _freeze_args),
    "freeze_script": (str, False, _freeze_script), "moving_average": (dict, False, _moving_average),
    "restore": (dict, False, kinds_fields.restore), "graph_path": (str, False, kinds_fields.graph_path),
    "graph_imports": (list, False, kinds_fields.graph_imports), "packages": (list, False, kinds_fields.packages),
    "env": (dict, False, _env), "sample": (str, True, _sample), "published": (dict, False, _published),
    "sample_crop": (list, False, _sample_crop), "pictures": (list, False, _pictures),
    "package": (str, False, _package), "faces": (dict, False, _faces),
    "upstream_checkpoint": (str, False, _upstream_checkpoint),
}


def model(name: str, raw: dict[str, Any], folder: Path, raise_at: Callable[[str, str], NoReturn]) -> Model:
    """The Model of the table `raw` (defaults merged in) called `name`; the first fault is a RecipeError
    raised through `raise_at(where, what)`. `folder` is the recipe's (a sample file is relative to it)."""
    at = Place(f"model {name!r}", folder, raise_at)
    for key in raw:
        if key not in FIELDS:
            at.fail(f"unknown field {key!r}")
    for key, (kind, required, _) in FIELDS.items():
        if key not in raw:
            if required:
                at.fail(f"missing field {key!r}")
        elif not isinstance(raw[key], kind):
            at.fail(f"field {key!r} must be a {'table' if kind is dict else kind.__name__}")
    kinds_fields.requirements(raw, at)
    got = {key: check(raw[key], raw, at) for key, (_, _, check) in FIELDS.items() if key in raw}
    labels = next((o for o in got["outputs"] if o.kind == "labels"), None)
    return Model(name=name, labels=labels.node if labels else "",
                 probabilities=labels.options["probabilities"] if labels else "",
                 transparent=got.pop("transparent", ()), about=got.pop("about", ""),
                 checkpoint_help=got.pop("checkpoint_help", ""), classes=got.pop("classes", ()),
                 palette=got.pop("palette", ()), freeze_script=got.pop("freeze_script", ""),
                 freeze_args=got.pop("freeze_args", ()), convert=got.pop("convert", ""), **got)

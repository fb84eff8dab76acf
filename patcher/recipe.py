"""The recipe: everything about one upstream. Which codemods run, in which order, on which files, with
which parameters and site counts; and for each model how it is frozen, built, fed and read.

A recipe is checked when it loads: any unknown or missing field, codemod or parameter is one error
naming the file, the step or model and the field (exit 13). Its `[codemods]` table names codemod modules
of its own (patcher/codemods/__init__.py); installed packages add theirs through entry points.
"""
from __future__ import annotations

import inspect
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from patcher import codemods as registry
from patcher.codemods import CODEMODS, Codemod
from patcher.errors import RecipeError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

# In a wheel the recipes are package data (patcher/recipes); in the source tree they are in patches/.
_HERE = Path(__file__).resolve().parent
SHIPPED = _HERE / "recipes" if (_HERE / "recipes").is_dir() else _HERE.parent / "patches"


@dataclass(frozen=True)
class Step:
    codemod: str
    files: tuple[str, ...]
    sites: int
    params: dict = field(default_factory=dict, hash=False)
    # the codemod's class and origin; None for a shipped codemod named in a Step made by hand
    impl: Codemod | None = field(default=None, compare=False, repr=False)

    @property
    def cls(self) -> type:
        return self.impl.cls if self.impl else CODEMODS[self.codemod]

    @property
    def description(self) -> str:
        return self.cls.DESCRIPTION

    @property
    def origin(self) -> str:
        """Where the codemod comes from: `patcher`, `recipe file PATH`, `module NAME` or `entry point ...`."""
        return self.impl.origin if self.impl else registry.SHIPPED_ORIGIN


@dataclass(frozen=True)
class Input:
    name: str
    layout: str
    color: str
    scale: float
    offset: float
    default_size: tuple[int, int]


@dataclass(frozen=True)
class Model:
    """One model of the upstream: how it is frozen, how its graph is built, what goes in and comes out."""

    name: str
    title: str
    about: str
    freeze_script: str
    freeze_args: tuple[str, ...]
    convert: str
    graph: str
    input: Input
    labels: str
    probabilities: str
    classes: tuple[str, ...]
    palette: tuple[tuple[int, int, int], ...]
    transparent: tuple[int, ...]
    sample: str
    checkpoint_help: str
    moving_average: dict = field(default_factory=dict, hash=False)
    env: dict = field(default_factory=dict, hash=False)
    # where trained weights are published (PUBLISHED_FIELDS), or empty
    published: dict = field(default_factory=dict, hash=False)
    # the sample picture's crop box [x, y, width, height] in its pixels, or empty for the whole picture
    sample_crop: tuple[int, ...] = ()
    # pictures of what the model parses (patcher/pictures.py): name, source, crop, sha256 (for pypi:)
    pictures: tuple = field(default=(), hash=False)
    # the npm package the build folder is (empty: RECIPE-MODEL) and its licence (an SPDX expression)
    package: str = ""
    license: str = ""  # noqa: A003 - npm's and the recipe's word

    @property
    def values(self) -> dict[str, str]:
        """What `{name}` in a step's files stands for."""
        return {"freeze_script": self.freeze_script, "model": self.name}


@dataclass(frozen=True)
class Recipe:
    url: str
    commit: str
    models: dict[str, Model]
    steps: tuple[Step, ...]
    path: Path | None = None

    @property
    def name(self) -> str:
        return self.path.stem if self.path else "recipe"

    def model(self, name: str) -> Model:
        if name not in self.models:
            raise RecipeError(f"unknown model {name!r}; the recipe {self.path} has {', '.join(sorted(self.models))}")
        return self.models[name]

    def for_model(self, name: str) -> list[Step]:
        """The steps with the model's own files filled in."""
        values = self.model(name).values
        return [Step(s.codemod, tuple(f.format(**values) for f in s.files), s.sites, s.params, s.impl)
                for s in self.steps]


# field: (type, required); types are checked, and nothing else is allowed in a model table
MODEL_FIELDS = {
    "title": (str, True), "about": (str, False), "freeze_script": (str, True), "freeze_args": (list, True),
    "convert": (str, True), "graph": (str, True), "input": (dict, True), "outputs": (dict, True),
    "classes": (list, True), "palette": (list, True), "transparent": (list, False), "sample": (str, True),
    "checkpoint_help": (str, False), "moving_average": (dict, False), "env": (dict, False),
    "published": (dict, False), "sample_crop": (list, False), "pictures": (list, False),
    "package": (str, False), "license": (str, False),
}
# a model's published weights: a TensorFlow.js graph model inside an npm package, as the registry serves it
PUBLISHED_FIELDS = {"package": str, "version": str, "folder": str, "integrity": str, "license": str, "terms": str}
INPUT_FIELDS = {"name": str, "layout": str, "color": str, "scale": (int, float), "offset": (int, float),
                "default_size": list}
FREEZE_PLACEHOLDERS = {"checkpoint", "frozen", "optimized"}
COMMIT = re.compile(r"[0-9a-fA-F]{40}")
# model names go into branch names (patcher/RECIPE/MODEL) and folder names
MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
MODULE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")
SAMPLE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp")


def shipped() -> list[Path]:
    """The recipes that ship with patcher."""
    return sorted(SHIPPED.glob("*.toml"))


def default() -> Path:
    """The recipe used without --recipe: the first that ships with patcher (today there is one)."""
    found = shipped()
    if not found:
        raise RecipeError(f"no recipe ships in {SHIPPED}; pass --recipe PATH")
    return found[0]


def find(name: str | Path) -> Path:
    """A recipe path: an existing file, or the name of a shipped recipe (with or without .toml)."""
    path = Path(name)
    if path.is_file():
        return path
    for candidate in (SHIPPED / path.name, SHIPPED / f"{path.name}.toml"):
        if candidate.is_file() and path.parent == Path("."):
            return candidate
    return path


def inside(path: str) -> bool:
    """True when `path` is relative and stays inside the checkout (no `..`, not absolute)."""
    pure = PurePosixPath(path)
    return bool(path) and not pure.is_absolute() and ".." not in pure.parts and "\\" not in path


def load(path: Path | str | None = None) -> Recipe:
    path = find(path) if path else default()
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise RecipeError(f"cannot read recipe {path}: {exc.strerror if isinstance(exc, OSError) else exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise RecipeError(f"{path}: not TOML: {exc}") from None
    return parse(data, Path(path))


def parse(data: dict, path: Path) -> Recipe:
    def fail(where: str, what: str):
        raise RecipeError(f"{path}: {where}: {what}")

    unknown = set(data) - {"upstream", "defaults", "models", "step", "codemods"}
    if unknown:
        fail("top level", f"unknown table {sorted(unknown)[0]!r}")
    upstream = data.get("upstream")
    if not isinstance(upstream, dict) or not all(isinstance(upstream.get(k), str) for k in ("url", "commit")):
        fail("[upstream]", "needs url and commit (strings)")
    if not COMMIT.fullmatch(upstream["commit"]):
        fail("[upstream]", f"commit must be the full SHA, 40 hex digits, not {upstream['commit']!r}")
    models_raw = data.get("models")
    if not isinstance(models_raw, dict) or not models_raw:
        fail("[models]", "no model")
    for name in models_raw:
        if not MODEL_NAME.fullmatch(name):
            fail(f"model {name!r}", "a model's name is letters, digits, '_' and '-' (it names a branch and a folder)")
    folder = Path(path).parent
    defaults = data.get("defaults", {})
    models = {name: _model(name, _merge(defaults, raw), fail, folder) for name, raw in models_raw.items()}
    known = _codemods(data.get("codemods", {}), folder, fail)
    steps_raw = data.get("step")
    if not isinstance(steps_raw, list) or not steps_raw:
        fail("[[step]]", "no step")
    steps = tuple(_step(i + 1, raw, models, known, fail) for i, raw in enumerate(steps_raw))
    return Recipe(upstream["url"], upstream["commit"].lower(), models, steps, Path(path))


def _codemods(raw: dict, folder: Path, fail) -> dict[str, Codemod]:
    """The codemods this recipe can name: the shipped ones, its `[codemods] modules`, the installed ones."""
    where = "[codemods]"
    if not isinstance(raw, dict):
        fail(where, "must be a table")
    for key in set(raw) - {"modules"}:
        fail(where, f"unknown field {key!r}")
    modules = raw.get("modules", [])
    if not isinstance(modules, list) or not all(isinstance(m, str) for m in modules):
        fail(where, "field 'modules' must be a list of module names and .py files")
    for item in modules:
        if item.endswith(".py"):
            if PurePosixPath(item).is_absolute() or "\\" in item:
                fail(where, f"module file {item!r} must be a path relative to the recipe")
            if not (folder / item).is_file():
                fail(where, f"module file {item!r} is not a file next to the recipe ({folder / item})")
        elif not MODULE_NAME.fullmatch(item):
            fail(where, f"{item!r} is neither an importable module name (such as mypkg.codemods.fix) nor a .py file")
    try:
        return registry.catalog(modules, folder)
    except registry.LoadError as exc:
        fail(where, str(exc))


def _merge(defaults: dict, raw: dict) -> dict:
    merged = dict(defaults)
    for key, value in (raw if isinstance(raw, dict) else {}).items():
        merged[key] = {**merged[key], **value} if isinstance(value, dict) and isinstance(merged.get(key), dict) else value
    return merged


def _model(name: str, raw: dict, fail, folder: Path) -> Model:
    where = f"model {name!r}"
    for key in raw:
        if key not in MODEL_FIELDS:
            fail(where, f"unknown field {key!r}")
    for key, (kind, required) in MODEL_FIELDS.items():
        if key not in raw:
            if required:
                fail(where, f"missing field {key!r}")
        elif not isinstance(raw[key], kind):
            fail(where, f"field {key!r} must be a {'table' if kind is dict else kind.__name__}")
    inp = raw["input"]
    for key, kind in INPUT_FIELDS.items():
        if key not in inp:
            fail(where, f"missing field 'input.{key}'")
        if not isinstance(inp[key], kind) or isinstance(inp[key], bool):
            fail(where, f"field 'input.{key}' has the wrong type")
    for key in set(inp) - set(INPUT_FIELDS):
        fail(where, f"unknown field 'input.{key}'")
    size = inp["default_size"]
    if len(size) != 2 or not all(isinstance(v, int) and v > 0 for v in size):
        fail(where, "field 'input.default_size' must be [height, width]")
    if inp["layout"] != "NHWC" or inp["color"] not in ("RGB", "BGR"):
        fail(where, "input.layout must be 'NHWC' and input.color 'RGB' or 'BGR'")
    outputs = raw["outputs"]
    for key in set(outputs) - {"labels", "probabilities"}:
        fail(where, f"unknown field 'outputs.{key}'")
    for key in ("labels", "probabilities"):
        if not isinstance(outputs.get(key), str):
            fail(where, f"missing field 'outputs.{key}' (a node name)")
    classes, palette = raw["classes"], raw["palette"]
    if not classes or not all(isinstance(c, str) for c in classes):
        fail(where, "field 'classes' must be a list of names")
    if len(palette) != len(classes):
        fail(where, f"field 'palette' has {len(palette)} colours for {len(classes)} classes")
    if not all(isinstance(c, list) and len(c) == 3 and all(isinstance(v, int) and 0 <= v <= 255 for v in c)
               for c in palette):
        fail(where, "field 'palette' must be [r, g, b] triples of 0..255")
    transparent = raw.get("transparent", [])
    if not all(isinstance(i, int) and 0 <= i < len(classes) for i in transparent):
        fail(where, f"field 'transparent' must list class ids in 0..{len(classes) - 1}")
    if raw["convert"] not in ("frozen", "optimized"):
        fail(where, "field 'convert' must be 'frozen' or 'optimized'")
    args = raw["freeze_args"]
    if not all(isinstance(a, str) for a in args):
        fail(where, "field 'freeze_args' must be a list of strings")
    named = {p for a in args for p in _placeholders(a)}
    if not named <= FREEZE_PLACEHOLDERS or not {"checkpoint", raw["convert"]} <= named:
        fail(where, "field 'freeze_args' must use {checkpoint} and {" + raw["convert"] + "} (and only "
             "{checkpoint}, {frozen}, {optimized})")
    if not inside(raw["freeze_script"]):
        fail(where, f"field 'freeze_script' must stay inside the checkout, not {raw['freeze_script']!r}")
    ema = raw.get("moving_average", {})
    if ema and (set(ema) != {"scope", "decay"} or not isinstance(ema["scope"], str)
                or not isinstance(ema["decay"], float)):
        fail(where, "field 'moving_average' must be {scope = \"...\", decay = 0.999...}")
    env = raw.get("env", {})
    if not all(isinstance(v, str) for v in env.values()):
        fail(where, "field 'env' must map names to strings")
    sample = _sample(raw["sample"], folder, lambda what: fail(where, what))
    published = raw.get("published", {})
    if published:
        for key in set(published) ^ set(PUBLISHED_FIELDS):
            fail(where, f"field 'published.{key}' is {'unknown' if key in published else 'missing'}")
        if not all(isinstance(published[k], str) and published[k] for k in PUBLISHED_FIELDS):
            fail(where, "the fields of 'published' must be non-empty strings")
        if not re.fullmatch(r"sha512-[A-Za-z0-9+/]{86}==", published["integrity"]):
            fail(where, "field 'published.integrity' must be the registry's 'sha512-...' (base64) integrity")
        if not re.fullmatch(r"\d+\.\d+\.\d+", published["version"]) or not inside(published["folder"]):
            fail(where, "field 'published.version' must be an exact version (1.2.3) and 'published.folder' a "
                        "relative path inside the package")
    crop = raw.get("sample_crop", [])
    if crop and (len(crop) != 4 or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in crop)
                 or min(crop[2:]) < 1):
        fail(where, "field 'sample_crop' must be [x, y, width, height] in pixels")
    pictures = raw.get("pictures", [])
    for i, entry in enumerate(pictures):
        if not isinstance(entry, dict) or not {"name", "source"} <= set(entry) <= {"name", "source", "crop", "sha256"}:
            fail(where, f"pictures[{i}] must be {{name, source, crop (optional), sha256 (for pypi:)}}")
        source = entry["source"]
        if not (source.startswith("package:") and "/" in source) and not (
                source.startswith("pypi:") and "==" in source.split("/")[0] and re.fullmatch(r"[0-9a-f]{64}", entry.get("sha256", ""))):
            fail(where, f"pictures[{i}].source must be 'package:PKG/PATH' or 'pypi:NAME==VERSION/PATH' with a sha256")
        box = entry.get("crop", [0, 0, 1, 1])
        if len(box) != 4 or not all(isinstance(v, int) and v >= 0 for v in box) or min(box[2:]) < 1:
            fail(where, f"pictures[{i}].crop must be [x, y, width, height] in pixels")
    if "package" in raw:
        from patcher import npm  # noqa: PLC0415 - the name rule lives with the package writer

        try:
            npm.check_name(raw["package"])
        except ValueError as exc:
            fail(where, f"field 'package': {exc}")
    return Model(
        name=name, title=raw["title"], about=raw.get("about", ""), freeze_script=raw["freeze_script"],
        freeze_args=tuple(args), convert=raw["convert"], graph=raw["graph"],
        input=Input(inp["name"], inp["layout"], inp["color"], float(inp["scale"]), float(inp["offset"]),
                    (size[0], size[1])),
        labels=outputs["labels"], probabilities=outputs["probabilities"], classes=tuple(classes),
        palette=tuple(tuple(c) for c in palette), transparent=tuple(transparent), sample=sample,
        checkpoint_help=raw.get("checkpoint_help", ""), moving_average=dict(ema), env=dict(env),
        published=dict(published), sample_crop=tuple(crop), pictures=tuple(dict(p) for p in pictures),
        package=raw.get("package", ""), license=raw.get("license", ""),
    )


def _sample(sample: str, folder: Path, fail) -> str:
    """`package:PACKAGE/PATH` as it is, or an image file relative to the recipe (inside its folder, links
    resolved) as an absolute path."""
    if sample.startswith("package:"):
        if sample.count(":") != 1 or "/" not in sample:
            fail("field 'sample' must be 'package:PACKAGE/PATH' (an image shipped in an installed package) "
                 "or an image file relative to the recipe")
        return sample
    pure = PurePosixPath(sample)
    if not sample or pure.is_absolute() or ".." in pure.parts or "\\" in sample or ":" in sample:
        fail(f"field 'sample' must be 'package:PACKAGE/PATH' or an image file inside the recipe's folder, "
             f"not {sample!r}")
    if pure.suffix.lower() not in SAMPLE_SUFFIXES:
        fail(f"field 'sample' must be an image ({', '.join(SAMPLE_SUFFIXES)}), not {sample!r}")
    base = folder.resolve()
    found = (base / sample).resolve()
    if not found.is_relative_to(base):
        fail(f"field 'sample' {sample!r} leaves the recipe's folder (it resolves to {found})")
    if not found.is_file():
        fail(f"field 'sample' {sample!r} is not a file in the recipe's folder {base}")
    return str(found)


def _placeholders(text: str) -> set[str]:
    import string

    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def _step(number: int, raw: dict, models: dict[str, Model], known: dict[str, Codemod], fail) -> Step:
    where = f"step {number}"
    if not isinstance(raw, dict):
        fail(where, "must be a table")
    for key in set(raw) - {"codemod", "files", "sites", "params"}:
        fail(where, f"unknown field {key!r}")
    codemod = raw.get("codemod")
    if not isinstance(codemod, str) or codemod not in known:
        fail(where, f"unknown codemod {codemod!r} (known: {', '.join(sorted(known))})")
    where = f"step {number} ({codemod})"
    files, sites, params = raw.get("files"), raw.get("sites"), raw.get("params", {})
    if not isinstance(files, list) or not files or not all(isinstance(f, str) for f in files):
        fail(where, "field 'files' must be a non-empty list of paths")
    if not isinstance(sites, int) or isinstance(sites, bool) or sites < 1:
        fail(where, "field 'sites' must be a whole number of at least 1")
    if not isinstance(params, dict):
        fail(where, "field 'params' must be a table")
    for model in models.values():
        for f in files:
            try:
                filled = f.format(**model.values)
            except (KeyError, IndexError, ValueError):
                fail(where, f"file {f!r} names an unknown field (known: {', '.join('{' + k + '}' for k in model.values)})")
            if not inside(filled):
                fail(where, f"file {filled!r} leaves the checkout")
    try:
        impl = registry.resolve(known[codemod])
    except registry.LoadError as exc:
        fail(where, str(exc))
    _check_params(impl.cls, params, lambda what: fail(where, what))
    return Step(codemod, tuple(files), sites, dict(params), impl)


def _check_params(codemod: type, params: dict, fail) -> None:
    """Every parameter the codemod requires, none it does not know, each of the annotated type."""
    signature = inspect.signature(codemod.__init__)
    accepted = {n: p for n, p in list(signature.parameters.items())[2:]
                if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    for name in params:
        if name not in accepted:
            fail(f"unknown parameter {name!r} (the codemod takes {', '.join(accepted) or 'none'})")
    for name, parameter in accepted.items():
        if parameter.default is parameter.empty and name not in params:
            fail(f"missing parameter {name!r}")
        if name in params and not _fits(params[name], parameter.annotation):
            fail(f"parameter {name!r} must be {parameter.annotation}, not {params[name]!r}")


def _fits(value, annotation) -> bool:
    text = str(annotation)
    if text in ("str", "<class 'str'>"):
        return isinstance(value, str)
    if text in ("int", "<class 'int'>"):
        return isinstance(value, int) and not isinstance(value, bool)
    if "Sequence[int]" in text or "list[int]" in text or "tuple[int" in text:
        return isinstance(value, list) and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    if "Sequence[str]" in text or "list[str]" in text:
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    return True

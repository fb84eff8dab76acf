"""What a loaded recipe is: its steps, its models and their inputs, as frozen dataclasses."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from patcher import codemods as registry
from patcher.codemods import CODEMODS, Codemod
from patcher.errors import RecipeError
from patcher.kinds import Output


@dataclass(frozen=True)
class Step:
    """One codemod run on `files` (paths in the checkout, `{model}` and `{freeze_script}` filled in by
    Recipe.for_model), expected to find `sites` sites in each, with the codemod's keyword `params`."""

    codemod: str
    files: tuple[str, ...]
    sites: int
    params: dict[str, Any] = field(default_factory=dict, hash=False)
    # the codemod's class and origin; None for a shipped codemod named in a Step made by hand
    impl: Codemod | None = field(default=None, compare=False, repr=False)

    @property
    def cls(self) -> type[Any]:
        """The codemod's class (a SiteCodemod subclass)."""
        found = self.impl.cls if self.impl is not None else None
        return found if found is not None else CODEMODS[self.codemod]

    @property
    def description(self) -> str:
        return str(getattr(self.cls, "DESCRIPTION", ""))

    @property
    def origin(self) -> str:
        """Where the codemod comes from: `patcher`, `recipe file PATH`, `module NAME` or `entry point ...`."""
        return self.impl.origin if self.impl else registry.SHIPPED_ORIGIN


@dataclass(frozen=True)
class Input:
    """The graph's input: placeholder name, layout (NHWC), colour order, `x * scale + offset`, and the
    [height, width] in pixels used when none is given."""

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
    moving_average: dict[str, Any] = field(default_factory=dict, hash=False)
    env: dict[str, str] = field(default_factory=dict, hash=False)
    # the upstream's own trained checkpoint, a prefix inside the checkout (build --weights upstream), or empty
    upstream_checkpoint: str = ""
    # where trained weights are published (fields.PUBLISHED), or empty
    published: dict[str, str] = field(default_factory=dict, hash=False)
    # the sample picture's crop box [x, y, width, height] in its pixels, or empty for the whole picture
    sample_crop: tuple[int, ...] = ()
    # where the sample picture comes from and its licence, shown on the page (empty: not shown)
    sample_credit: str = ""
    # pictures of what the model parses (patcher/pictures.py): name, source, crop, sha256 (for pypi:)
    pictures: tuple[dict[str, Any], ...] = field(default=(), hash=False)
    # the npm package the build folder is (empty: RECIPE-MODEL) and its licence (an SPDX expression)
    package: str = ""
    license: str = ""  # npm's and the recipe's word
    # what each output is (patcher/kinds); today's labels fields above mirror a labels output
    outputs: tuple[Output, ...] = field(default=(), hash=False)
    # freezing without a freeze script (patcher/freeze.py): what a checkpoint restores (None: the freeze
    # script does), the checkout's folder put first on sys.path and the modules the graph expression uses
    restore: dict[str, Any] | None = field(default=None, hash=False)
    graph_path: str = ""
    graph_imports: tuple[str, ...] = ()
    # Python packages the upstream needs beyond patcher's own, each NAME==VERSION (patcher/packages.py)
    packages: tuple[str, ...] = ()
    # the face detector run before the model (fields.FACES), or empty: the model parses whole frames
    faces: dict[str, Any] = field(default_factory=dict, hash=False)

    @property
    def values(self) -> dict[str, str]:
        """What `{name}` in a step's files stands for."""
        return {"freeze_script": self.freeze_script, "model": self.name}


@dataclass(frozen=True)
class Recipe:
    """A loaded recipe: the upstream's URL and pinned commit, its models by name, its steps in order, and
    the file it came from (None for one made in memory)."""

    url: str
    commit: str
    models: dict[str, Model]
    steps: tuple[Step, ...]
    path: Path | None = None

    @property
    def name(self) -> str:
        return self.path.stem if self.path else "recipe"

    def model(self, name: str) -> Model:
        """The model called `name`; RecipeError (13) naming the recipe's models when there is none."""
        if name not in self.models:
            raise RecipeError(f"unknown model {name!r}; the recipe {self.path} has {', '.join(sorted(self.models))}")
        return self.models[name]

    def for_model(self, name: str) -> list[Step]:
        """The steps with the model's own files filled in."""
        values = self.model(name).values
        return [Step(s.codemod, tuple(f.format(**values) for f in s.files), s.sites, s.params, s.impl)
                for s in self.steps]

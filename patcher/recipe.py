"""The recipe: which codemods run, in which order, on which files, with which parameters and site counts."""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from patcher.codemods import CODEMODS
from patcher.errors import PatcherError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

DEFAULT = Path(__file__).resolve().parent.parent / "patches" / "bisenetv2.toml"


class RecipeError(PatcherError):
    """The recipe file is unreadable or names something that does not exist."""

    code = 13


@dataclass(frozen=True)
class Step:
    codemod: str
    files: tuple[str, ...]
    sites: int
    params: dict = field(default_factory=dict, hash=False)

    @property
    def description(self) -> str:
        return CODEMODS[self.codemod].DESCRIPTION


@dataclass(frozen=True)
class Recipe:
    url: str
    commit: str
    models: dict
    steps: tuple[Step, ...]

    def for_model(self, model: str) -> list[Step]:
        """The steps with the model's own files filled in."""
        if model not in self.models:
            raise RecipeError(f"unknown model {model!r}; the recipe has {', '.join(sorted(self.models))}")
        values = {k: v for k, v in self.models[model].items() if isinstance(v, str)}
        return [Step(s.codemod, tuple(f.format(**values) for f in s.files), s.sites, s.params) for s in self.steps]


def load(path: Path = DEFAULT) -> Recipe:
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        steps = []
        for raw in data["step"]:
            if raw["codemod"] not in CODEMODS:
                raise RecipeError(f"{path}: unknown codemod {raw['codemod']!r}")
            steps.append(Step(raw["codemod"], tuple(raw["files"]), int(raw["sites"]), dict(raw.get("params", {}))))
        return Recipe(data["upstream"]["url"], data["upstream"]["commit"], data["models"], tuple(steps))
    except (OSError, KeyError, TypeError, ValueError) as exc:
        raise RecipeError(f"cannot read recipe {path}: {exc!r}") from exc

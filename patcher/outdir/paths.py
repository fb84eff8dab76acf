"""Where things are: an output's graph folder beside it, and relative paths that stay inside their folder."""
from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

GRAPH = "frozen_graph.pb"
GRAPH_SUFFIX = ".tf"


def graph_dir(model_dir: Path) -> Path:
    """The folder beside a web folder that holds its frozen graph: DIR.tf for DIR."""
    model_dir = Path(model_dir).absolute()
    return model_dir.parent / f"{model_dir.name}{GRAPH_SUFFIX}"


def graph_path(model_dir: Path) -> Path:
    """The frozen graph `check` compares the web model in `model_dir` with: DIR.tf/frozen_graph.pb (or,
    for a folder built before the graph moved out of the web folder, DIR/frozen_graph.pb)."""
    path = graph_dir(model_dir) / GRAPH
    legacy = Path(model_dir).absolute() / GRAPH
    return legacy if not path.is_file() and legacy.is_file() else path


def unsafe(path: object) -> str | None:
    """Why `path` (from a recipe, a marker or a model.json) is not a relative path that stays inside its
    folder, or None when it is."""
    if not isinstance(path, str) or not path:
        return "is not a path"
    if "\0" in path or "\\" in path:
        return "has a NUL or a backslash in it"
    pure = PurePosixPath(path)
    if pure.is_absolute() or path.startswith("~"):
        return "is an absolute path"
    if ".." in pure.parts:
        return "leaves its folder (..)"
    return None


def safe_relative(path: str) -> str:
    """`path` normalised (no `.` or empty parts) when it stays inside its folder; ValueError otherwise.

    Callers turn the ValueError into their own error (the recipe's 13, check's 16, ...)."""
    reason = unsafe(path)
    if reason:
        raise ValueError(f"{path!r} {reason}")
    return "/".join(p for p in PurePosixPath(path).parts if p != ".")


def within(root: Path, path: Path) -> bool:
    """True when `path`, with every symbolic link followed, is `root` or inside it (also resolved)."""
    top, real = os.path.realpath(root), os.path.realpath(path)
    return real == top or real.startswith(top.rstrip(os.sep) + os.sep)

"""Which folders patcher may replace or clone into: never the root, home, the current folder, the
checkout, patcher itself or a folder holding one; a non-empty folder only when its marker says
patcher made it, and its extra files only with `force`. Refusals are OutputError (17), before any work."""
from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path

from patcher.errors import OutputError
from patcher.outdir.marker import MARKER, foreign, read_marker
from patcher.outdir.paths import graph_dir

PROJECT = Path(__file__).resolve().parent.parent.parent
SHOWN = 5


def _real(path: Path, option: str) -> Path:
    """`path` with every symbolic link followed; refused when a link points nowhere."""
    path = Path(path)
    if path.is_symlink() and not path.exists():
        raise OutputError(f"refusing {option} {path}: it is a symbolic link to {os.readlink(path)}, which does not "
                          "exist; nothing was touched")
    return Path(os.path.realpath(path.absolute()))


def _never(real: Path, checkout: Path | None = None) -> str | None:
    """Why `real` (a resolved path) may never be written over, or None."""
    places = []
    with contextlib.suppress(KeyError, RuntimeError, OSError):
        places.append(("your home folder", Path(os.path.realpath(Path.home()))))
    with contextlib.suppress(OSError):
        places.append(("the current folder", Path(os.path.realpath(os.getcwd()))))
    if checkout is not None:
        places.append(("the checkout (--dest)", Path(os.path.realpath(Path(checkout).absolute()))))
    places.append(("patcher itself", PROJECT))
    if real == Path(real.anchor):
        return "it is the filesystem root"
    for what, place in places:
        if real == place:
            return f"it is {what}"
        if real in place.parents:
            return f"it holds {what} ({place})"
    return None


def _judge(folder: Path, shown: str, kind: str, force: bool) -> list[str]:
    """What in an existing `folder` is not patcher's (only with `force`); refuses a folder patcher may
    not replace. `shown` names the folder as the user gave it."""
    if not os.path.lexists(folder):
        return []
    if folder.is_symlink():
        raise OutputError(f"refusing {shown}: it is a symbolic link ({os.readlink(folder)}); nothing was touched")
    if not folder.is_dir():
        raise OutputError(f"refusing {shown}: it is a file, not a folder; nothing was touched")
    if os.path.ismount(folder):
        raise OutputError(f"refusing {shown}: it is a mount point, which patcher cannot swap; nothing was "
                          "touched; give a folder in it")
    try:
        empty = next(os.scandir(folder), None) is None
    except OSError as exc:
        raise OutputError(f"refusing {shown}: cannot read it ({exc.strerror}); nothing was touched") from None
    if empty:
        return []
    marker = read_marker(folder)
    if marker is None:
        older = ("; a build by an older patcher has no marker either: remove it yourself" if _older_build(folder)
                 else "")
        raise OutputError(f"refusing {shown}: it holds files and was not made by 'patcher build' (no {MARKER} "
                          f"in it); nothing was touched; give a new or empty folder{older}")
    if marker.get("kind") != kind:
        what = {"tf": "the frozen-graph folder (DIR.tf) of a build", "web": "the web folder of a build"}
        raise OutputError(f"refusing {shown}: it is {what.get(str(marker.get('kind')), 'another patcher folder')}; "
                          "nothing was touched; give the web folder itself")
    extra = foreign(folder, marker)
    if extra and not force:
        names = ", ".join(extra[:SHOWN]) + (f" and {len(extra) - SHOWN} more" if len(extra) > SHOWN else "")
        raise OutputError(f"refusing {shown}: it was made by 'patcher build' but holds what is not patcher's "
                          f"(added or changed since): {names}; nothing was touched; move them, or pass --force "
                          f"to move them into {folder.name}.backup-TIME beside it")
    return extra


def _older_build(folder: Path) -> bool:
    """True when `folder` looks like the output of a patcher from before the marker."""
    try:
        content = json.loads((folder / "model.json").read_text(encoding="utf-8"))
        return "patcher" in content["userDefinedMetadata"]
    except (OSError, ValueError, KeyError, TypeError):
        return False


def _writable(folder: Path, shown: str) -> None:
    """Refuse when the nearest existing folder of `folder` cannot be written to."""
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not os.access(existing, os.W_OK | os.X_OK):
        raise OutputError(f"refusing {shown}: cannot write in {existing} (read-only or not yours); nothing was "
                          "touched")


def guard(out: Path, checkout: Path | None = None, force: bool = False) -> Path:
    """The real path `build` may replace for `--out out` (and its graph folder beside it); OutputError
    (exit 17) for anything else, before any work and without touching anything."""
    real = _real(out, "--out")
    shown = f"--out {out}" + (f" (a link to {real})" if Path(out).is_symlink() else "")
    why = _never(real, checkout)
    if why:
        raise OutputError(f"refusing {shown}: {why}; nothing was touched; give a new folder or one made by "
                          "'patcher build'")
    _judge(real, shown, "web", force)
    graph = graph_dir(real)
    why = _never(graph, checkout)
    if why:
        raise OutputError(f"refusing {shown}: its graph folder {graph}: {why}; nothing was touched")
    _judge(graph, f"{shown}: its graph folder {graph}", "tf", force)
    _writable(real.parent, shown)
    return real


def guard_checkout(dest: Path) -> Path:
    """`apply --dest dest` as an absolute path, refused (exit 17) when it names a file, a link to nowhere,
    the filesystem root, the home folder, the current folder, patcher itself or a folder holding one."""
    real = _real(dest, "--dest")
    why = _never(real)
    if why:
        raise OutputError(f"refusing --dest {dest}: {why}; nothing was touched; give a new folder for the checkout")
    if os.path.lexists(real) and not real.is_dir():
        raise OutputError(f"refusing --dest {dest}: it is a file, not a folder; nothing was touched")
    return Path(dest).absolute()

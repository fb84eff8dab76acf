"""Output folders: which folders patcher may replace, the marker that says patcher made one, staging,
the swap into place, recovery after a kill, and backups of anything that is not patcher's.

`build --out DIR` writes two folders side by side, both patcher-made and marked:

- DIR: what a web server may serve (model.json, the weight shards, the demo page);
- DIR.tf: the frozen TensorFlow graph, which only `check` reads (see `graph_path`).

Rules (docs/reliability.md):

- a folder is replaced only when it is absent, empty, or carries the marker `.patcher-build` (written last
  into each folder, it lists every file patcher wrote with its SHA-256); anything else is refused before
  any work starts, with `OutputError` (exit 17), and nothing is touched;
- the filesystem root, the home folder, the current folder, the checkout, patcher itself, and any folder
  holding one of them are never replaced; nor is a file; a symbolic link is judged as the folder it points
  to (and refused when it points nowhere);
- a marked folder holding files that are not patcher's (added, or changed since the build) is refused
  naming them; with `force` those files are moved into DIR.backup-TIME beside it, never deleted;
- replacing a folder deletes only the files its marker lists that still have their recorded content;
  whatever else is left goes to a backup folder, and stderr says where;
- both folders are made in hidden staging folders and swapped in under a journal file, so a kill at any
  point leaves either the previous pair or (after `recover`, run by the next build) the new pair.
"""
from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import re
import shutil
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from patcher.errors import OutputError

MARKER = ".patcher-build"
MADE_BY = "patcher build"
GRAPH = "frozen_graph.pb"
GRAPH_SUFFIX = ".tf"
PROJECT = Path(__file__).resolve().parent.parent
SHOWN = 5
# the ID in patcher's hidden names beside an output (`stage`): only names with it are patcher's to clean up
IDENT = re.compile(r"\d{14}-\d+-[0-9a-f]{4}")


# --- where things are -------------------------------------------------------------------------------

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


def unsafe(path) -> str | None:
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
    root, real = os.path.realpath(root), os.path.realpath(path)
    return real == root or real.startswith(root.rstrip(os.sep) + os.sep)


# --- fault injection (tests) ------------------------------------------------------------------------

def fault(stage: str, path: Path | str | None = None) -> None:
    """Test hook, inert unless PATCHER_FAULT is set: `PATCHER_FAULT=STAGE` kills this process with SIGKILL
    at `stage`; `PATCHER_FAULT=enospc-STAGE` raises the OSError a full disk gives there."""
    wanted = os.environ.get("PATCHER_FAULT")
    if wanted == stage:
        os.kill(os.getpid(), signal.SIGKILL)
    if wanted == f"enospc-{stage}":
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), None if path is None else str(path))


# --- the marker -------------------------------------------------------------------------------------

def _digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_marker(folder: Path, kind: str, build: str) -> None:
    """Mark `folder` as made by patcher: every regular file in it (but the marker) with its SHA-256."""
    files = {}
    for root, _, names in os.walk(folder):
        for name in names:
            path = Path(root) / name
            rel = path.relative_to(folder).as_posix()
            if rel != MARKER and path.is_file() and not path.is_symlink():
                files[rel] = _digest(path)
    content = {"made_by": MADE_BY, "kind": kind, "build": build, "files": dict(sorted(files.items()))}
    (folder / MARKER).write_text(json.dumps(content, indent=1) + "\n", encoding="utf-8")


def read_marker(folder: Path) -> dict | None:
    """The marker of a patcher-made folder, or None (absent, unreadable, or not patcher's)."""
    try:
        content = json.loads((Path(folder) / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if (not isinstance(content, dict) or content.get("made_by") != MADE_BY
            or not isinstance(content.get("files"), dict)):
        return None
    return content


def _ours(folder: Path, marker: dict) -> tuple[dict[str, str], set[str]]:
    """The files a marker lists that are safe to act on (inside `folder`) and the folders above them."""
    files = {rel: digest for rel, digest in marker["files"].items()
             if unsafe(rel) is None and isinstance(digest, str) and within(folder, folder / rel)}
    parents = {str(p) for rel in files for p in PurePosixPath(rel).parents if str(p) != "."}
    return files, parents


def foreign(folder: Path, marker: dict) -> list[str]:
    """What in a patcher-made `folder` is not patcher's: entries its marker does not list, and listed files
    whose content changed since (a folder is shown with a trailing /, and not entered)."""
    files, parents = _ours(folder, marker)
    found = []
    for root, dirs, names in os.walk(folder):
        base = Path(root).relative_to(folder)
        kept = []
        for name in dirs:
            rel = (base / name).as_posix()
            if (Path(root) / name).is_symlink() or rel not in parents:
                found.append(rel + "/")
            else:
                kept.append(name)
        dirs[:] = kept
        for name in names:
            rel = (base / name).as_posix()
            path = Path(root) / name
            if rel == MARKER:
                continue
            if rel not in files or path.is_symlink() or not path.is_file() or _digest(path) != files[rel]:
                found.append(rel)
    return sorted(found)


# --- what may be replaced ---------------------------------------------------------------------------

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
        raise OutputError(f"refusing {shown}: it is {what.get(marker.get('kind'), 'another patcher folder')}; "
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


# --- staging, swap, recovery ------------------------------------------------------------------------

def _names(out: Path, ident: str) -> dict[str, Path]:
    """The hidden paths one build uses beside `out`; all start with `.NAME.`, as the lock does."""
    staged, old = out.parent / f".{out.name}.partial-{ident}", out.parent / f".{out.name}.old-{ident}"
    return {"staged": staged, "staged_tf": graph_dir(staged), "old": old, "old_tf": graph_dir(old),
            "journal": out.parent / f".{out.name}.swap-{ident}"}


def stage(out: Path) -> Path:
    """New staging folders beside `out`: the web one (returned) and its graph folder (`graph_dir`)."""
    ident = f"{time.strftime('%Y%m%d%H%M%S')}-{os.getpid()}-{os.urandom(2).hex()}"
    names = _names(out, ident)
    for key in ("staged", "staged_tf"):
        names[key].mkdir()
        names[key].chmod(0o755)
    return names["staged"]


def drop(staged: Path) -> None:
    """Remove staging folders (patcher's own, never the user's)."""
    for path in (staged, graph_dir(staged)):
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(path)


def commit(staged: Path, out: Path, checkout: Path | None = None, force: bool = False) -> None:
    """Mark the staged pair and swap it in for `out` and its graph folder; the old pair is discarded
    (only what patcher wrote is deleted, the rest kept in a backup folder)."""
    guard(out, checkout, force)  # again: the folder may have changed while the build ran
    ident = staged.name.rsplit(".partial-", 1)[1]
    names = _names(out, ident)
    build = f"{ident}-{os.urandom(4).hex()}"
    write_marker(staged, "web", build)
    write_marker(names["staged_tf"], "tf", build)
    fault("marked")
    names["journal"].write_text(json.dumps({"out": str(out)}) + "\n", encoding="utf-8")
    _roll_forward(out, ident)


def _roll_forward(out: Path, ident: str) -> None:
    """Finish a swap whose journal exists: old folders aside, staged ones in, journal gone, old discarded.

    Each step checks what is already done, so running it again after a kill completes it."""
    names = _names(out, ident)
    for staged, target, old in ((names["staged"], out, names["old"]),
                                (names["staged_tf"], graph_dir(out), names["old_tf"])):
        if staged.is_dir():
            if os.path.lexists(target):
                target.rename(old)
            fault("swap")
            staged.rename(target)
    names["journal"].unlink(missing_ok=True)
    for old, target in ((names["old"], out), (names["old_tf"], graph_dir(out))):
        if os.path.lexists(old):
            discard(old, target)


def _backup_name(target: Path) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = target.parent / f"{target.name}.backup-{stamp}"
    n = 1
    while os.path.lexists(path):
        n += 1
        path = target.parent / f"{target.name}.backup-{stamp}-{n}"
    return path


def discard(folder: Path, target: Path) -> Path | None:
    """Delete a replaced output: the files its marker lists that still hold what patcher wrote, then the
    marker and the emptied folders. Anything left is not patcher's: the folder is renamed to
    TARGET.backup-TIME (said on stderr), which is returned."""
    marker = read_marker(folder) if folder.is_dir() and not folder.is_symlink() else None
    if marker is not None:
        files, parents = _ours(folder, marker)
        for rel, digest in files.items():
            path = folder / rel
            with contextlib.suppress(OSError):
                if path.is_file() and not path.is_symlink() and _digest(path) == digest:
                    path.unlink()
        for rel in sorted(parents, key=lambda p: p.count("/"), reverse=True):
            with contextlib.suppress(OSError):
                (folder / rel).rmdir()
        with contextlib.suppress(OSError):
            (folder / MARKER).unlink()
    with contextlib.suppress(OSError):
        folder.rmdir()
        return None
    backup = _backup_name(target)
    folder.rename(backup)
    kept = sum(len(names) for _, _, names in os.walk(backup)) if backup.is_dir() else 1
    print(f"kept {kept} file(s) of {target} that patcher did not write in {backup}", file=sys.stderr)
    return backup


def recover(out: Path) -> None:
    """Clean up after a build killed at any point (run under the output's lock): finish a swap whose
    journal was written, remove staging folders, discard replaced outputs (keeping what is not patcher's)."""
    prefix = f".{out.name}."
    try:
        entries = [p for p in out.parent.iterdir() if p.name.startswith(prefix)]
    except FileNotFoundError:
        return
    ours = re.compile(rf"(swap|partial|old)-({IDENT.pattern})({re.escape(GRAPH_SUFFIX)})?")
    found = [(path, ours.fullmatch(path.name[len(prefix):])) for path in entries]
    for path, match in sorted((f for f in found if f[1]), key=lambda f: f[0].name):
        if match[1] == "swap" and not match[3] and path.is_file():
            print(f"finishing the swap of {out} that an interrupted build left", file=sys.stderr)
            _roll_forward(out, match[2])
    for path, match in found:
        if match and match[1] == "partial" and path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        elif match and match[1] == "old" and os.path.lexists(path):
            discard(path, graph_dir(out) if match[3] else out)


@contextlib.contextmanager
def output_errors(out: Path) -> Iterator[None]:
    """Turn a full disk, or a folder beside `out` that cannot be written, into OutputError (exit 17)."""
    try:
        yield
    except OSError as exc:
        where = f" ({exc.filename})" if exc.filename else ""
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise OutputError(f"cannot write the build for {out}: no space left on device{where}; the previous "
                              "output is as it was") from None
        near = exc.filename and (within(out.parent, Path(exc.filename))
                                 or Path(os.path.realpath(out.parent)).is_relative_to(os.path.realpath(exc.filename)))
        if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM) and near:
            raise OutputError(f"cannot write the build for {out}: {exc.strerror}{where}; the previous output is as "
                              "it was") from None
        raise

"""The marker that says patcher made a folder: every file it wrote with its SHA-256, and what in a
marked folder is not patcher's."""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path, PurePosixPath
from typing import Any

from patcher.outdir.paths import unsafe, within

MARKER = ".patcher-build"
MADE_BY = "patcher build"


def file_digest(path: Path) -> str:
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
                files[rel] = file_digest(path)
    content = {"made_by": MADE_BY, "kind": kind, "build": build, "files": dict(sorted(files.items()))}
    (folder / MARKER).write_text(json.dumps(content, indent=1) + "\n", encoding="utf-8")


def read_marker(folder: Path) -> dict[str, Any] | None:
    """The marker of a patcher-made folder, or None (absent, unreadable, or not patcher's)."""
    try:
        content = json.loads((Path(folder) / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if (not isinstance(content, dict) or content.get("made_by") != MADE_BY
            or not isinstance(content.get("files"), dict)):
        return None
    return content


def listed(folder: Path, marker: dict[str, Any]) -> tuple[dict[str, str], set[str]]:
    """The files a marker lists that are safe to act on (inside `folder`) and the folders above them."""
    files = {rel: digest for rel, digest in marker["files"].items()
             if unsafe(rel) is None and isinstance(digest, str) and within(folder, folder / rel)}
    parents = {str(p) for rel in files for p in PurePosixPath(rel).parents if str(p) != "."}
    return files, parents


def foreign(folder: Path, marker: dict[str, Any]) -> list[str]:
    """What in a patcher-made `folder` is not patcher's: entries its marker does not list, and listed files
    whose content changed since (a folder is shown with a trailing /, and not entered)."""
    files, parents = listed(folder, marker)
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
            if rel not in files or path.is_symlink() or not path.is_file() or file_digest(path) != files[rel]:
                found.append(rel)
    return sorted(found)

"""Staging, the swap into place under a journal, recovery after a kill, and backups of what is not
patcher's: a kill at any point leaves the previous output or, after `recover`, the new one."""
from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import shutil
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from patcher.errors import OutputError
from patcher.outdir.faults import fault
from patcher.outdir.marker import MARKER, file_digest, listed, read_marker, write_marker
from patcher.outdir.paths import GRAPH_SUFFIX, graph_dir, within
from patcher.outdir.policy import guard

# the ID in patcher's hidden names beside an output (`stage`): only names with it are patcher's to clean up
IDENT = re.compile(r"\d{14}-\d+-[0-9a-f]{4}")


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
        files, parents = listed(folder, marker)
        for rel, digest in files.items():
            path = folder / rel
            with contextlib.suppress(OSError):
                if path.is_file() and not path.is_symlink() and file_digest(path) == digest:
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
    found = [(path, match) for path in entries if (match := ours.fullmatch(path.name[len(prefix):]))]
    for path, match in sorted(found, key=lambda f: f[0].name):
        if match[1] == "swap" and not match[3] and path.is_file():
            print(f"finishing the swap of {out} that an interrupted build left", file=sys.stderr)
            _roll_forward(out, match[2])
    for path, match in found:
        if match[1] == "partial" and path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        elif match[1] == "old" and os.path.lexists(path):
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

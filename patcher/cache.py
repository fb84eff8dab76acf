"""Registry packages in patcher's cache (PATCHER_CACHE): filled once, atomically, and checked on every use.

An entry is a folder holding the downloaded file exactly as the registry served it (an npm tarball, a
wheel) and, for a tarball, the part of it that is used, unpacked. Every use checks the kept file against
the hash the recipe pins and every unpacked file against the kept tarball's member of that name, so what
is read was checked in the same run, whatever happened to the cache in between. Nothing in the cache is
followed out of it: an entry, the kept file or an unpacked file that is a symbolic link (or anything but a
plain file or folder) does not match.

Filling goes through a staging folder `.NAME.partial-ID` beside the entry (the same filesystem, wherever
the temporary folder is), renamed into place when complete; a failure removes it. Two runs filling one
entry at once each fill their own staging folder; the first rename wins and the other run uses the
winner's entry (after checking it) and removes its own. A staging folder left by a killed run is removed by
the next fill of that folder once it is an hour old.
"""
from __future__ import annotations

import base64
import errno
import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
import tarfile
import time
import uuid
from collections.abc import Callable, Collection
from contextlib import suppress
from pathlib import Path

from patcher.hashing import file_digest

STALE = 3600.0


class Mismatch(Exception):
    """A cache entry is not what its pin says (the reason is the message)."""


def registry_error(what: str, proc: subprocess.CompletedProcess[str]) -> str | None:
    """None when a registry client's run (child.run_registry, which has the timeout) succeeded, else one
    line saying why: npm's `--json` error summary on stdout, else its own last error line (not npm's
    "A complete log of this run can be found in: ..."), or its exit code."""
    if proc.returncode == 0:
        return None
    with suppress(ValueError, TypeError, KeyError, AttributeError):
        summary = json.loads(proc.stdout)["error"]["summary"]
        if isinstance(summary, str) and summary.strip():
            return summary.strip().splitlines()[0]
    lines = [line.strip() for line in proc.stderr.splitlines()
             if line.strip() and "WARN" not in line and "A complete log of this run" not in line]
    return (lines or [f"{what} exited with {proc.returncode}"])[-1]


def digest(path: Path, algorithm: str) -> str:
    """The hash of a plain file (not through a link: Mismatch then): `sha512-BASE64` (npm's integrity) for
    sha512, hex for sha256."""
    plain(path)
    made = file_digest(path, algorithm=algorithm, opener=_nofollow)
    if algorithm == "sha512":
        return "sha512-" + base64.b64encode(made).decode()
    return made.hex()


def _nofollow(path: str, flags: int) -> int:
    return os.open(path, flags | os.O_NOFOLLOW)


def plain(path: Path) -> None:
    """Mismatch unless `path` is a plain file (a link, even to a file, is not)."""
    try:
        mode = os.lstat(path).st_mode
    except OSError:
        raise Mismatch(f"{Path(path).name} is missing") from None
    if not stat.S_ISREG(mode):
        raise Mismatch(f"{Path(path).name} is {'a symbolic link' if stat.S_ISLNK(mode) else 'not a plain file'}")


def check_unpacked(tarball: Path, prefix: str, folder: Path, only: Collection[str] = ()) -> None:
    """Mismatch unless `folder` holds exactly the plain files under `prefix` in `tarball` (those named in
    `only`, when given), byte for byte."""
    wanted: dict[str, str] = {}
    with tarfile.open(tarball, "r:gz") as archive:
        for member in archive.getmembers():
            if member.isfile() and member.name.startswith(prefix) and (not only or member.name[len(prefix):] in only):
                handle = archive.extractfile(member)
                wanted[member.name[len(prefix):]] = hashlib.sha256(handle.read() if handle else b"").hexdigest()
    found: dict[str, str] = {}
    for root, dirs, names in os.walk(folder):
        for name in dirs:
            if os.path.islink(os.path.join(root, name)):
                raise Mismatch(f"{name} is a symbolic link")
        for name in names:
            path = Path(root) / name
            found[path.relative_to(folder).as_posix()] = digest(path, "sha256")
    for name in sorted(set(wanted) | set(found)):
        if wanted.get(name) != found.get(name):
            what = "is missing" if name not in found else "is not in the package" if name not in wanted else \
                "differs from the package's"
            raise Mismatch(f"{name} {what}")


def entry(target: Path, check: Callable[[Path], None], fill: Callable[[Path], None], what: str) -> Path:
    """The cache entry `target` (a folder), checked with `check(folder)` (raising Mismatch); when it is
    missing or does not match, filled anew by `fill(staging)` into a staging folder beside it and renamed
    into place. `fill` raises the caller's error when it cannot; nothing is left behind then."""
    if os.path.lexists(target):
        try:
            _check_folder(target, check)
            return target
        except Mismatch as exc:
            print(f"the cached {what} does not match its pin ({exc}); fetching it again", file=sys.stderr)
            discard(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    _sweep(target)
    staging = target.parent / f".{target.name}.partial-{uuid.uuid4().hex[:12]}"
    staging.mkdir()
    try:
        fill(staging)
        check(staging)
        try:
            os.rename(staging, target)
        except OSError as exc:
            if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY, errno.EISDIR, errno.ENOTDIR):
                raise
            # another run filled it first: use its entry, checked as any other
            _check_folder(target, check)
        return target
    finally:
        if os.path.lexists(staging):
            discard(staging)


def _check_folder(target: Path, check: Callable[[Path], None]) -> None:
    if os.path.islink(target) or not target.is_dir():
        raise Mismatch(f"{target.name} is {'a symbolic link' if os.path.islink(target) else 'not a folder'}")
    check(target)


def discard(path: Path) -> None:
    """Remove a cache entry or staging folder: a link itself (never what it points to), a folder whole."""
    if os.path.islink(path) or not os.path.isdir(path):
        with suppress(OSError):
            os.unlink(path)
        return
    shutil.rmtree(path, ignore_errors=True)


def _sweep(target: Path) -> None:
    """Remove staging folders of `target` that a killed run left (older than an hour)."""
    now = time.time()
    for old in target.parent.glob(f".{target.name}.partial-*"):
        with suppress(OSError):
            if now - old.lstat().st_mtime > STALE:
                discard(old)


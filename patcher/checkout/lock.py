"""Locking: one patcher run at a time on a folder (a checkout or an output)."""
from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from patcher.errors import LockedError


@contextlib.contextmanager
def locked(dest: Path) -> Iterator[None]:
    """Hold an exclusive lock on `dest` (a file beside it) or stop at once if another run holds it.

    The lock file is removed when the run ends. So that a run which opened it just before is not
    fooled, a lock counts only while the file at that name is the one locked (same inode).
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    lock = dest.parent / f".{dest.name}.lock"
    while True:
        handle = open(lock, "a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            raise LockedError(f"another patcher run is using {dest} (lock {lock}); try again when it ends") from None
        try:
            current = os.stat(lock).st_ino
        except FileNotFoundError:
            current = None
        if current == os.fstat(handle.fileno()).st_ino:
            break
        handle.close()  # the run that held it removed it as we opened it: lock the new one
    try:
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            lock.unlink()
        handle.close()

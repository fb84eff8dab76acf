"""Fault injection for the tests that kill a run or fill the disk at a named stage; inert unless
PATCHER_FAULT is set."""
from __future__ import annotations

import errno
import os
import signal
from pathlib import Path


def fault(stage: str, path: Path | str | None = None) -> None:
    """Test hook, inert unless PATCHER_FAULT is set: `PATCHER_FAULT=STAGE` kills this process with SIGKILL
    at `stage`; `PATCHER_FAULT=enospc-STAGE` raises the OSError a full disk gives there."""
    wanted = os.environ.get("PATCHER_FAULT")
    if wanted == stage:
        os.kill(os.getpid(), signal.SIGKILL)
    if wanted == f"enospc-{stage}":
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), None if path is None else str(path))

"""Validation of what the user names before git runs: an upstream URL or path that could make git run a
command, and a commit that is not a SHA, are refused."""
from __future__ import annotations

import re
from pathlib import Path

from patcher.errors import PinError, UnsafeInput, UpstreamError

SCHEMES = ("https", "http", "ssh", "git", "file")
SCP_LIKE = re.compile(r"^[\w.-]+@[\w.-]+:[\w./~][\w./~-]*$")
SHA = re.compile(r"^[0-9a-fA-F]{7,40}$")


def check_source(source: str) -> str:
    """The upstream URL or path, refused before git runs if it could make git run a command."""
    if not source or source.startswith("-") or any(t.startswith("-") for t in source.split()):
        raise UnsafeInput(f"refusing upstream {source!r}: it looks like a git option")
    if "::" in source:
        raise UnsafeInput(f"refusing upstream {source!r}: remote-helper transports (such as ext::) can run commands")
    if "://" in source:
        scheme = source.split("://", 1)[0].lower()
        if scheme not in SCHEMES:
            raise UnsafeInput(f"refusing upstream {source!r}: scheme {scheme!r} is not one of {', '.join(SCHEMES)}")
        return source
    if SCP_LIKE.match(source):
        return source
    path = Path(source).expanduser()
    if not path.exists():
        raise UpstreamError(f"upstream {source!r} is neither a URL nor an existing path")
    return str(path.resolve())


def check_commit(commit: str) -> str:
    if commit.startswith("-"):
        raise UnsafeInput(f"refusing commit {commit!r}: it looks like a git option")
    if not SHA.match(commit):
        raise PinError(f"--commit takes a commit SHA (7 to 40 hex digits), not {commit!r}")
    return commit.lower()

"""`python -m patcher`. A reader that closes stdout early (`| head`) ends the run with 0; nothing else does.

Which BrokenPipeError is the closed stdout is known by where it happened: in a write or flush of
stdout (Stdout below), not by the exception's type, since a git process that dies under GitPython
raises the same type and is an error (patcher.cli turns it into one line and a code).
"""
import os
import sys
from typing import Any, TextIO

from patcher.cli import main


class StdoutClosed(Exception):
    """The reader of stdout went away."""


class Stdout:
    """sys.stdout, but a BrokenPipeError of its own writes becomes StdoutClosed."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def _closed(self) -> StdoutClosed:
        # later writes, and the interpreter's flush at exit, go nowhere instead of failing again
        os.dup2(os.open(os.devnull, os.O_WRONLY), self._stream.fileno())
        return StdoutClosed()

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            raise self._closed() from None

    def flush(self) -> None:
        try:
            return self._stream.flush()
        except BrokenPipeError:
            raise self._closed() from None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


sys.stdout = Stdout(sys.stdout)
try:
    code = main()
    sys.stdout.flush()
except StdoutClosed:  # not an error of ours
    code = 0
sys.exit(code)

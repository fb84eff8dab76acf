"""A recipe's own code (its codemod modules, installed entry points) run so that it cannot fake an outcome.

Whatever such code raises while it is imported or while it runs, `SystemExit` and `KeyboardInterrupt`
included, becomes one CodemodError (exit 13, as a recipe that cannot run) naming the module and the
codemod; `os._exit` (or `posix._exit`, the same function) called by it raises SystemExit instead of ending
patcher (or the pool process running it). What it prints goes to stderr, never into stdout, where `diff` and `list` write their results.
A pool process that ends anyway (a signal, `os._exit` bound before the run) is `broken()`: one line naming
the codemods it was running.
"""
from __future__ import annotations

import atexit
import contextlib
import os
import posix
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import NoReturn, ParamSpec, TypeVar

from patcher.errors import CodemodError, PatcherError


def _exit(status: int = 0) -> NoReturn:
    raise SystemExit(f"os._exit({status})")


@contextlib.contextmanager
def guarded(what: str, shipped: bool = False) -> Iterator[None]:
    """Run the block as `what` (the codemod and its module, as the message names them): stdout goes to
    stderr, os._exit raises SystemExit, and any exception but a PatcherError becomes a CodemodError. A
    `shipped` codemod's KeyboardInterrupt is the user's Ctrl-C and stays one, and its exceptions stay
    patcher's own (a TypeError for a parameter the recipe loader did not check, say)."""
    try:
        with contained():
            yield
    except PatcherError:
        raise
    except KeyboardInterrupt:
        if shipped:
            raise
        raise CodemodError(f"{what}: raised KeyboardInterrupt") from None
    except SystemExit as exc:
        called = exc.code if str(exc.code).startswith("os._exit(") else f"sys.exit({exc.code!r})"
        raise CodemodError(f"{what}: called {called}; a codemod must not end the run") from None
    except BaseException as exc:  # any failure of the recipe's code (GeneratorExit too) is its one line
        if shipped:
            raise
        first = (str(exc).strip().splitlines() or [""])[0]
        raise CodemodError(f"{what}: raised {type(exc).__name__}{': ' + first if first else ''}") from None


_register = atexit.register
P = ParamSpec("P")
T = TypeVar("T")


def _at_exit(func: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Callable[P, T]:
    """atexit.register for a recipe's code: the handler runs contained, and whatever it raises or exits with
    is dropped (before, an `os._exit` registered this way was a traceback after patcher's own line)."""
    def run() -> None:
        with contextlib.suppress(BaseException), contained():
            func(*args, **kwargs)

    _register(run)
    return func


@contextlib.contextmanager
def contained() -> Iterator[None]:
    """Within the block, stdout goes to stderr, os._exit (posix._exit) raises SystemExit and atexit handlers
    registered are run contained."""
    real = os._exit
    os._exit = posix._exit = _exit
    atexit.register = _at_exit
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        os._exit = posix._exit = real
        atexit.register = _register


def broken(running: Iterable[str]) -> CodemodError:
    """The error for a pool process that ended without a result while it ran the codemods `running`."""
    names = "; ".join(sorted(set(running))) or "a codemod"
    return CodemodError(f"a process running codemods ended without a result (running: {names}): the codemod's code "
                        "ended it (os._exit, a signal) or it crashed; nothing was written")

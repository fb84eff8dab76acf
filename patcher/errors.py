"""Every error that ends a command with a one-line message, and its exit code: the one table of them
(docs/reliability.md lists the same codes for users). Several classes may share a code when a user
would act the same way on them (13: the recipe cannot run; 16: the web model cannot be checked;
20: something published cannot be fetched)."""


class PatcherError(Exception):
    """Base: `code` is the process exit code."""

    code = 1


class UpstreamError(PatcherError):
    """The upstream cannot be reached or is not a git repository."""

    code = 3


class PinError(PatcherError):
    """The pinned commit is missing, or HEAD is not the pin after checkout."""

    code = 4


class DriftError(PatcherError):
    """A codemod found fewer or more sites than the recipe expects, or a target file is missing."""

    code = 5


class DirtyError(PatcherError):
    """The checkout has edits the tool did not make."""

    code = 6


class SourceError(PatcherError):
    """An upstream file is not UTF-8 or not Python that libcst can parse."""

    code = 7


class VerifyError(PatcherError):
    """The patched graph failed to build or run."""

    code = 8


class MissingTensorFlow(PatcherError):
    """TensorFlow is not installed in this environment."""

    code = 9


class UnsafeInput(PatcherError):
    """A URL, path or ref that could make git run a command."""

    code = 10


class LockedError(PatcherError):
    """Another patcher run holds the folder."""

    code = 11


class NotApplied(PatcherError):
    """The command needs a patched checkout and there is none."""

    code = 12


class RecipeError(PatcherError):
    """The recipe file is unreadable or names something that does not exist."""

    code = 13


class LoadError(PatcherError):
    """A codemod module cannot be loaded, holds no codemod or two, or its name is taken (exit 13, as a recipe
    error: the recipe cannot run)."""

    code = 13


class CodemodError(PatcherError):
    """A recipe's codemod module raised, exited or ended its process while imported or run (exit 13, as a
    recipe error: the recipe cannot run)."""

    code = 13


class CheckpointError(PatcherError):
    """No checkpoint, or one that is unreadable or does not match the graph."""

    code = 14


class BuildError(PatcherError):
    """Freezing or converting failed."""

    code = 15


class ParityError(PatcherError):
    """The web model does not compute what TensorFlow computes, within the bounds."""

    code = 16


class NodeError(PatcherError):
    """Node.js or the pinned TensorFlow.js packages are missing and cannot be installed (exit 16, as a
    failed check: the web model cannot be checked)."""

    code = 16


class OutputError(PatcherError):
    """An output or checkout folder patcher may not write over (the user's, home, root, the current
    folder, a file), or one it cannot write (a full disk, a read-only folder)."""

    code = 17


class ServeError(PatcherError):
    """`serve` cannot listen: the port is in use or not a port."""

    code = 18


class GitError(PatcherError):
    """Git refused or failed a command in the checkout (ownership, permissions, a corrupt object store, a
    lock held by another git): the message quotes git's own first line and says what to do."""

    code = 19


class WeightsError(PatcherError):
    """Published weights cannot be fetched, are not what the recipe pins, or do not fit the graph."""

    code = 20


class PicturesError(PatcherError):
    """A recipe's pictures cannot be fetched or read (exit 20, as published weights that cannot be)."""

    code = 20


class MissingPackage(PatcherError):
    """A Python package the recipe's upstream needs (its `packages`) is not installed, or not at the
    recipe's version: the line names the `pip install` that fixes it."""

    code = 21

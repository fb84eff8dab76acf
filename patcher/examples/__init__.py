"""The worked second example: a tiny TF1-style upstream, written as a git repository, and its recipe.

`patcher example DIR` writes DIR/upstream (the repository), DIR/tiny.toml (its recipe, pinned to the
repository's first commit) and DIR/contrib_initializer.py (a codemod the recipe brings, see
docs/codemods.md). The upstream is unlike the shipped recipe's in every name the recipe gives: another
package, a placeholder called `image`, a freeze script with `--ckpt`/`--out` that writes one graph,
plain variables (no moving averages), five classes, inputs scaled by 1/255, an output node
`segmentation`, and a `tf.contrib` initializer that no shipped codemod replaces.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from patcher.errors import OutputError, UpstreamError

HERE = Path(__file__).resolve().parent / "tiny"
RECIPE = HERE / "tiny.toml"
CODEMOD = HERE / "contrib_initializer.py"
# The recipe's placeholder for the upstream's URL; `write` puts the repository's path there.
URL = "https://example.invalid/tiny.git"

NET = '''\
"""A five-class pixel classifier in the TF1 style."""
import tensorflow as tf


class TinyNet(object):

    def __init__(self, classes):
        self.classes = classes

    def forward(self, images):
        with tf.variable_scope('Tiny'):
            w1 = tf.get_variable('w1', [3, 3, 3, 6], initializer=tf.glorot_uniform_initializer())
            b1 = tf.get_variable('b1', [6], initializer=tf.random_normal_initializer(stddev=0.1))
            x = tf.nn.relu(tf.nn.conv2d(images, w1, [1, 2, 2, 1], 'SAME') + b1)
            w2 = tf.get_variable('w2', [1, 1, 6, self.classes], initializer=tf.contrib.layers.xavier_initializer())
            logits = tf.nn.conv2d(x, w2, [1, 1, 1, 1], 'SAME')
            logits = tf.image.resize_bilinear(logits, images.shape[1:3], name='up')
            scores = tf.nn.softmax(logits, name='scores')
            return tf.argmax(scores, axis=3)
'''

EXPORT = '''\
"""Export the tiny net as one frozen graph."""
import argparse

import tensorflow as tf
from tensorflow.python.framework import graph_util

from netlib.tinynet import TinyNet


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--ckpt', required=True)
    parser.add_argument('--out', required=True)
    args = parser.parse_args()
    images = tf.placeholder(tf.float32, [1, 256, 256, 3], name='image')
    ids = tf.squeeze(TinyNet(classes=5).forward(images), axis=0, name='segmentation')
    with tf.Session() as sess:
        tf.train.Saver().restore(sess, args.ckpt)
        frozen = graph_util.convert_variables_to_constants(sess, sess.graph_def, ['segmentation'])
    with tf.gfile.GFile(args.out, 'wb') as handle:
        handle.write(frozen.SerializeToString())


if __name__ == '__main__':
    main()
'''

FILES = {"README.md": "Tiny TF1 segmenter.\n", "netlib/__init__.py": "", "netlib/tinynet.py": NET, "export.py": EXPORT}

# Fixed names and dates: the same commits (and SHAs) on every machine, so the recipe can pin the first.
GIT_ENV = {"GIT_AUTHOR_NAME": "tiny", "GIT_AUTHOR_EMAIL": "tiny@localhost", "GIT_AUTHOR_DATE": "2020-01-01T00:00:00 +0000",
           "GIT_COMMITTER_NAME": "tiny", "GIT_COMMITTER_EMAIL": "tiny@localhost",
           "GIT_COMMITTER_DATE": "2020-01-01T00:00:00 +0000", "GIT_CONFIG_NOSYSTEM": "1"}


def _git(cwd: Path, *args: str) -> str:
    env = {**os.environ, **GIT_ENV, "HOME": str(cwd), "GIT_CONFIG_GLOBAL": os.devnull}
    try:
        proc = subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True)
    except FileNotFoundError:
        raise UpstreamError("git is not installed; the example upstream is a git repository") from None
    except subprocess.CalledProcessError as exc:
        raise UpstreamError(f"git {args[0]} failed: {(exc.stderr.strip().splitlines() or ['?'])[-1]}") from None
    return proc.stdout.strip()


def make_upstream(root: Path) -> tuple[Path, list[str]]:
    """Write the tiny upstream as a git repository at `root`: its path and its two commits, oldest first
    (the first is the one the recipe pins; the second changes the README only)."""
    root.mkdir(parents=True, exist_ok=True)
    _git(root, "init", "-q")
    _git(root, "checkout", "-q", "-b", "main")
    for path, text in FILES.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "tiny net")
    (root / "README.md").write_text("Tiny TF1 segmenter, five classes.\n", encoding="utf-8")
    _git(root, "commit", "-q", "-am", "readme")
    return root, _git(root, "rev-list", "--reverse", "HEAD").split()


def write(dest: Path) -> tuple[Path, Path]:
    """Write the example into the new folder `dest`: `upstream/`, `tiny.toml` (its url the upstream's
    path) and `contrib_initializer.py`. The (upstream, recipe) paths.

    OutputError (17) when `dest` exists and is not an empty folder; nothing is left half-written: the
    files go to a hidden folder beside `dest`, renamed into place when complete.
    """
    real = Path(os.path.realpath(Path(dest).absolute()))
    if os.path.lexists(real) and not (real.is_dir() and not any(real.iterdir())):
        raise OutputError(f"refusing {dest}: it exists and is not an empty folder; nothing was touched; "
                          "give a new folder for the example")
    if os.path.ismount(real):
        raise OutputError(f"refusing {dest}: it is a mount point, which patcher cannot rename a complete example "
                          "into; give a new folder inside it")
    partial = real.parent / f".{real.name}.partial-{os.getpid()}"
    shutil.rmtree(partial, ignore_errors=True)
    emptied = False
    try:
        _, commits = make_upstream(partial / "upstream")
        recipe = RECIPE.read_text(encoding="utf-8")
        upstream = real / "upstream"
        (partial / RECIPE.name).write_text(recipe.replace(f'url = "{URL}"', f'url = "{upstream}"'), encoding="utf-8")
        shutil.copy2(CODEMOD, partial / CODEMOD.name)
        if real.exists():
            real.rmdir()
            emptied = True
        partial.rename(real)
    except (OSError, UpstreamError) as exc:
        if emptied and not os.path.lexists(real):
            real.mkdir()  # the empty folder it was
        if isinstance(exc, UpstreamError) and shutil.which("git") is None:
            raise
        why = exc.strerror or str(exc) if isinstance(exc, OSError) else str(exc)
        raise OutputError(f"cannot write the example into {dest}: {why}; nothing was left there") from None
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return upstream, real / RECIPE.name

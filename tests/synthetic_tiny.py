"""A second synthetic upstream, unlike the first in every name the recipe gives: another package, a
placeholder called `image`, a freeze script with `--ckpt`/`--out` that writes one graph, plain variables
(no moving averages), five classes, inputs scaled by 1/255, and an output node `segmentation`.

Used with tests/recipes/tiny.toml to show that a recipe carries the whole model and the engine none.
"""
from __future__ import annotations

from pathlib import Path

from synthetic import git, write

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
            w2 = tf.get_variable('w2', [1, 1, 6, self.classes], initializer=tf.glorot_uniform_initializer())
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


def make_upstream(root: Path) -> tuple[Path, list[str]]:
    """Build the tiny upstream under `root`; its path and its two commits, oldest first."""
    root.mkdir(parents=True, exist_ok=True)
    git(root, "init", "-q", "-b", "main")
    write(root, {"README.md": "Tiny TF1 segmenter.\n", "netlib/__init__.py": "", "netlib/tinynet.py": NET,
                 "export.py": EXPORT})
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "tiny net")
    (root / "README.md").write_text("Tiny TF1 segmenter, five classes.\n")
    git(root, "commit", "-q", "-am", "readme")
    return root, git(root, "rev-list", "--reverse", "HEAD").split()


RECIPE = Path(__file__).resolve().parent / "recipes" / "tiny.toml"

"""A synthetic upstream of the picture-to-picture kind: TF1-style code written for these tests.

It has the shape of the cartoonization upstream the draft recipe (patches/white-box-cartoonization.toml)
patches, never its text: the same layout (`test_code/network.py` with `unet_generator`,
`test_code/guided_filter.py` with `guided_filter(guide, y, r, eps)`), slim imported as an aliased module of
`tensorflow.contrib` (it runs with `tf_slim` once `replace_module` has replaced it), convolutions with
slim's default zero biases, two up-samplings to twice the size of a stride-2 feature map that meet the
skip tensor by `+` and by `tf.concat` (so any height or width that is not a multiple of 4 fails until
`resize_to_skip` resizes them to the skip tensor's size), no freeze script, and a picture out:
`[1, H, W, 3]` in [-1, 1] through tanh. `make_upstream` builds it into a git repository of two commits.
"""
from __future__ import annotations

from pathlib import Path

from synthetic import git, write

NETWORK = '''\
"""A small encoder-decoder that repaints a picture, TF1 style."""
import tensorflow as tf
import tensorflow.contrib.slim as slim


def _act(t):
    return tf.nn.leaky_relu(t, alpha=0.2)


def unet_generator(inputs, channel=8, name='generator', reuse=False):
    with tf.variable_scope(name or 'generator', reuse=reuse):
        top = _act(slim.conv2d(inputs, channel, [5, 5], activation_fn=None, scope='stem'))
        mid = _act(slim.conv2d(top, channel * 2, [3, 3], stride=2, activation_fn=None, scope='down1'))
        low = _act(slim.conv2d(mid, channel * 2, [3, 3], stride=2, activation_fn=None, scope='down2'))
        inner = _act(slim.conv2d(low, channel * 2, [3, 3], activation_fn=None, scope='body1'))
        low = slim.conv2d(inner, channel * 2, [3, 3], activation_fn=None, scope='body2') + low

        rows, cols = tf.shape(low)[1], tf.shape(low)[2]
        up = tf.image.resize_bilinear(low, [rows * 2, cols * 2])
        up = _act(slim.conv2d(tf.concat([up, mid], axis=3), channel * 2, [3, 3], activation_fn=None, scope='up1'))

        side = slim.conv2d(top, channel * 2, [1, 1], activation_fn=None, scope='side')
        rows, cols = tf.shape(up)[1], tf.shape(up)[2]
        up = tf.image.resize_bilinear(up, [rows * 2, cols * 2])
        up = _act(slim.conv2d(up + side, channel, [3, 3], activation_fn=None, scope='up2'))
        return slim.conv2d(up, 3, [5, 5], activation_fn=None, scope='rgb')
'''

FILTER = '''\
"""Edge-aware smoothing of a network's output, guided by the picture it came from."""
import tensorflow as tf


def _mean(t, r):
    side = 2 * r + 1
    depth = t.get_shape().as_list()[-1]
    kernel = tf.ones([side, side, depth, 1], tf.float32)
    return tf.nn.depthwise_conv2d(t, kernel, [1, 1, 1, 1], 'SAME') / float(side * side)


def guided_filter(guide, y, r, eps=0.01):
    """y smoothed where the guide is flat and kept where it has edges, squashed into [-1, 1]."""
    mg, my = _mean(guide, r), _mean(y, r)
    a = (_mean(guide * y, r) - mg * my) / (_mean(guide * guide, r) - mg * mg + eps)
    b = my - a * mg
    return tf.tanh(_mean(a, r) * guide + _mean(b, r))
'''

RUN = '''\
"""Repaint every picture of a folder with a trained checkpoint (pictures are read and written as BGR)."""
import os
import sys

import numpy as np
import tensorflow as tf

import guided_filter
import network


def repaint(source, target, weights):
    import cv2
    picture = tf.placeholder(tf.float32, [1, None, None, 3])
    result = guided_filter.guided_filter(picture, network.unet_generator(picture), r=1, eps=5e-3)
    names = [v for v in tf.trainable_variables() if v.name.startswith('generator')]
    with tf.Session() as sess:
        tf.train.Saver(var_list=names).restore(sess, tf.train.latest_checkpoint(weights))
        for item in sorted(os.listdir(source)):
            pixels = cv2.imread(os.path.join(source, item)).astype(np.float32) / 127.5 - 1
            out = sess.run(result, {picture: pixels[None]})[0]
            cv2.imwrite(os.path.join(target, item), np.clip((out + 1) * 127.5, 0, 255).astype(np.uint8))


if __name__ == '__main__':
    repaint(*sys.argv[1:4])
'''

FILES = {
    "README.md": "Pictures repainted as cartoons, TF1 style. Licence CC BY-NC-SA 4.0 (stated here only).\n",
    "test_code/network.py": NETWORK,
    "test_code/guided_filter.py": FILTER,
    "test_code/repaint.py": RUN,
}


def make_upstream(root: Path) -> tuple[Path, list[str]]:
    """Build the synthetic upstream under `root`: its path and its two commits, oldest first (the second
    adds a usage line to the README only)."""
    root.mkdir(parents=True, exist_ok=True)
    git(root, "init", "-q", "-b", "master")
    write(root, FILES)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "first: the generator, its filter and the repaint script")
    with (root / "README.md").open("a", encoding="utf-8") as readme:
        readme.write("Usage: cd test_code; python repaint.py PICTURES OUT CHECKPOINT_FOLDER\n")
    git(root, "commit", "-q", "-am", "second: usage")
    return root, git(root, "rev-list", "--reverse", "HEAD").split()

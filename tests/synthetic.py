"""A small synthetic upstream: TF1-style code written for these tests, with the patterns the recipe edits.

It mirrors the layout and the patterns of the real upstream (a fixed input placeholder, a commented-out
optimisation call, resizes to static shapes, a head sized by a list comprehension, float filter shapes,
`tf.layers.batch_normalization`, the old `graph_util` import, a text-mode GFile for bytes, a
convolution added to a feature map that tensorflowjs's converter fuses as if it were a bias), never
its text. `make_upstream` builds it into a git repository with two commits, like the pinned and the newest
upstream commits.
"""
from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path

BASENET = '''\
"""Layer helpers in the TF1 style."""
import tensorflow as tf


class CNNBaseModel:

    @staticmethod
    def conv2d(inputdata, out_channel, kernel_size, stride=1, split=1, name=None):
        with tf.variable_scope(name, default_name='conv'):
            channels = inputdata.get_shape().as_list()[3]
            if isinstance(kernel_size, (list, tuple)):
                filter_shape = [kernel_size[0], kernel_size[1], channels / split, out_channel]
            else:
                filter_shape = [kernel_size, kernel_size, channels / split, out_channel]
            kernel = tf.get_variable('W', filter_shape, initializer=tf.variance_scaling_initializer())
            return tf.nn.conv2d(inputdata, kernel, [1, stride, stride, 1], 'SAME')

    @staticmethod
    def layerbn(inputdata, is_training, name):
        return tf.layers.batch_normalization(inputs=inputdata, training=is_training, name=name)

    @staticmethod
    def relu(x, name=None):
        return tf.nn.relu(x, name=name)
'''

MODEL = '''\
"""A two-branch segmentation net, tiny, in the TF1 style."""
import tensorflow as tf

from bisenet_model.cnn_basenet import CNNBaseModel


class _Block(CNNBaseModel):

    def __init__(self, phase='test'):
        self._training = tf.equal(tf.constant(phase, dtype=tf.string), tf.constant('train'))

    def conv_bn_relu(self, x, channels, stride, scope):
        with tf.variable_scope(scope):
            x = self.conv2d(x, channels, 3, stride=stride, name='conv')
            x = self.layerbn(x, is_training=self._training, name='bn')
            return self.relu(x)


class _GuidedAggregation(_Block):

    def __call__(self, **kwargs):
        fine = kwargs['detail_input_tensor']
        coarse = kwargs['semantic_input_tensor']
        channels = fine.get_shape().as_list()[-1]
        with tf.variable_scope(kwargs['name']):
            gate = self.conv_bn_relu(coarse, channels, 1, 'gate')
            gate = tf.image.resize_bilinear(gate, fine.shape[1:3], name='gate_up')
            mixed = tf.multiply(fine, tf.sigmoid(gate))
            pooled = tf.nn.avg_pool(fine, [1, 3, 3, 1], [1, 2, 2, 1], 'SAME')
            pooled = tf.multiply(pooled, tf.sigmoid(self.conv_bn_relu(coarse, channels, 1, 'mix')))
            mixed = mixed + tf.image.resize_bilinear(pooled, fine.shape[1:3], name='pooled_up')
            # a plain projection added first: the converter misreads this sum as a bias
            mixed = tf.add(self.conv2d(fine, channels, 1, name='shortcut'), mixed)
            return self.conv_bn_relu(mixed, channels, 1, 'out')


class _SegmentationHead(_Block):

    def __call__(self, **kwargs):
        features = kwargs['input_tensor']
        ratio = kwargs.get('upsample_ratio', 8)
        small = features.get_shape().as_list()[1:3]
        large = [int(side * ratio) for side in small]
        with tf.variable_scope(kwargs['name']):
            x = self.conv_bn_relu(features, kwargs['feature_dims'], 1, 'hidden')
            x = self.conv2d(x, kwargs['classes_nums'], 1, name='classes')
            return tf.image.resize_bilinear(x, large, name='logits_up')


class BiseNetV2(_Block):

    def __init__(self, phase='test', cfg=None):
        super(BiseNetV2, self).__init__(phase)
        self._classes = cfg.DATASET.NUM_CLASSES
        self._width = cfg.MODEL.WIDTH
        self._aggregate = _GuidedAggregation(phase)
        self._seg_head_block = _SegmentationHead(phase)

    def inference(self, input_tensor, name='net', reuse=False):
        with tf.variable_scope(name, reuse=reuse):
            x = input_tensor
            for i in range(3):
                x = self.conv_bn_relu(x, self._width, 2, 'detail_{}'.format(i))
            y = self.conv_bn_relu(x, self._width, 2, 'semantic')
            # global context: a batch norm right after the pooling, then a 1x1 projection
            context = tf.reduce_mean(y, axis=[1, 2], keepdims=True, name='context_pool')
            context = self.layerbn(context, is_training=self._training, name='context_bn')
            context = self.conv2d(context, self._width, 1, name='context_conv')
            y = y + self.relu(self.layerbn(context, is_training=self._training, name='context_conv_bn'))
            z = self._aggregate(detail_input_tensor=x, semantic_input_tensor=y, name='aggregate')
            logits = self._seg_head_block(
                input_tensor=z,
                name='head',
                upsample_ratio=8,
                feature_dims=2 * self._width,
                classes_nums=self._classes
            )
            scores = tf.nn.softmax(logits, name='prob')
            return tf.argmax(scores, axis=-1, name='prediction')
'''

CONFIG = '''\
"""Configs, read relative to the working directory when imported (as the real upstream does)."""
import yaml


class Config(dict):

    def __getattr__(self, key):
        value = self[key]
        return Config(value) if isinstance(value, dict) else value


def _read(path):
    with open(path) as handle:
        return Config(yaml.safe_load(handle))


celebamask_hq_cfg = _read('./config/celebamask_hq/celebamask_hq_bisenetv2.yaml')
cityscapes_cfg_v2 = _read('./config/cityscapes/cityscapes_bisenetv2.yaml')
'''

FREEZE = '''\
"""Freeze the {title} net: restore the averaged weights, fold them into constants."""
import argparse

import tensorflow as tf
from tensorflow.python.framework import graph_util
from tensorflow.python.tools import optimize_for_inference_lib as ofi

from bisenet_model import bisenet_v2
import local_utils.config_utils.parse_config_utils as settings

CFG = getattr(settings, '{config}')


def init_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--weights_path', type=str)
    parser.add_argument('--frozen_pb_file_path', type=str, default='./frozen.pb')
    parser.add_argument('--optimized_pb_file_path', type=str, default='./optimized.pb')
    return parser.parse_args(argv)


def restore_graph(weights_path):
    image = tf.placeholder(dtype=tf.float32, shape=[1, {height}, {width}, 3], name='input_tensor')
    model = bisenet_v2.BiseNetV2('test', CFG)
    labels = model.inference(input_tensor=image, name='BiseNetV2', reuse=False)
    labels = tf.squeeze(labels, axis=0, name='final_output')
    labels = tf.identity(labels, name='final_output')
    with tf.variable_scope('moving_avg'):
        restore = tf.train.ExponentialMovingAverage(0.9995).variables_to_restore()
    sess = tf.Session(config=tf.ConfigProto(allow_soft_placement=True))
    tf.train.Saver(restore).restore(sess, weights_path)
    return graph_util.remove_training_nodes(sess.graph_def), sess, labels


def freeze(target, sess, graph_def):
    frozen = graph_util.convert_variables_to_constants(sess, graph_def, ['final_output'])
    tf.train.write_graph(frozen, './', target, as_text=False)


def optimize_inference_model(source, target):
    graph = tf.GraphDef()
    with tf.gfile.GFile(source, 'rb') as handle:
        graph.ParseFromString(handle.read())
    graph = ofi.optimize_for_inference(
        graph, ['input_tensor'], ['final_output'], tf.float32.as_datatype_enum)
    with tf.gfile.GFile(target, 'w') as handle:
        handle.write(graph.SerializeToString())


if __name__ == "__main__":
    args = init_args()
    graph_def, session, _ = restore_graph(args.weights_path)
    freeze(args.frozen_pb_file_path, session, graph_def)

    # the optimised graph is what the web model is made from:
    # optimize_inference_model(
    #     source=args.frozen_pb_file_path,
    #     target=args.optimized_pb_file_path,
    # )
'''

YAML = "DATASET:\n  NUM_CLASSES: 19\nMODEL:\n  WIDTH: {width}\n"

# The second commit, like the newest upstream commit: a config import at module level and a new loss.
NEWER = '''

from local_utils.config_utils import parse_config_utils  # noqa: E402


def dice_loss(scores, onehot):
    overlap = tf.reduce_sum(scores * onehot)
    return 1.0 - 2.0 * overlap / (tf.reduce_sum(scores) + tf.reduce_sum(onehot) + 1e-5)
'''


def files() -> dict[str, str]:
    """The synthetic upstream at its first (pinned) commit: path -> text."""
    tree = {
        "README.md": "A synthetic TF1 segmentation repository for patcher's tests.\n",
        "bisenet_model/__init__.py": "",
        "bisenet_model/cnn_basenet.py": BASENET,
        "bisenet_model/bisenet_v2.py": MODEL,
        "local_utils/__init__.py": "",
        "local_utils/config_utils/__init__.py": "",
        "local_utils/config_utils/parse_config_utils.py": CONFIG,
        "config/celebamask_hq/celebamask_hq_bisenetv2.yaml": YAML.format(width=8),
        "config/cityscapes/cityscapes_bisenetv2.yaml": YAML.format(width=12),
        "tools/__init__.py": "",
        "tools/celebamask_hq/__init__.py": "",
        "tools/cityscapes/__init__.py": "",
        "tools/celebamask_hq/freeze_celebamaskhq_bisenetv2_model.py":
            FREEZE.format(title="face-parsing", config="celebamask_hq_cfg", height=448, width=448),
        "tools/cityscapes/freeze_cityscapes_bisenetv2_model.py":
            FREEZE.format(title="street-scene", config="cityscapes_cfg_v2", height=512, width=1024),
    }
    return tree


def git(cwd: Path, *args: str) -> str:
    env = {"GIT_AUTHOR_NAME": "synthetic", "GIT_AUTHOR_EMAIL": "synthetic@localhost",
           "GIT_COMMITTER_NAME": "synthetic", "GIT_COMMITTER_EMAIL": "synthetic@localhost",
           "HOME": str(cwd), "PATH": "/usr/bin:/bin:/usr/local/bin"}
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout.strip()


def write(root: Path, tree: dict[str, str]) -> None:
    for path, text in tree.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")


def make_upstream(root: Path) -> tuple[Path, list[str]]:
    """Build the synthetic upstream under `root`; its path and its commits, oldest first."""
    root.mkdir(parents=True, exist_ok=True)
    git(root, "init", "-q", "-b", "master")
    write(root, files())
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "first: the pinned state")
    model = root / "bisenet_model/bisenet_v2.py"
    model.write_text(model.read_text() + textwrap.dedent(NEWER))
    git(root, "commit", "-q", "-am", "second: a loss and a module-level config import")
    commits = git(root, "rev-list", "--reverse", "HEAD").split()
    return root, commits


def commit_change(root: Path, path: str, old: str, new: str, message: str) -> str:
    """Commit a text replacement in the synthetic upstream; the new commit's SHA."""
    target = root / path
    text = target.read_text()
    assert old in text, f"{old!r} not in {path}"
    target.write_text(text.replace(old, new))
    git(root, "commit", "-q", "-am", message)
    return git(root, "rev-parse", "HEAD")

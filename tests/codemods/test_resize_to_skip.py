"""resize_to_skip: an up-sampled tensor added to (or concatenated with) a skip tensor resizes to tf.shape(skip)[1:3]."""
from __future__ import annotations

import pytest
from codemod_cases import CodemodTest

CODEMOD = "resize_to_skip"
RESIZES = ["tensorflow.image.resize_bilinear", "tensorflow.image.resize"]
PARAMS = {"scope": "", "functions": RESIZES}

NOOP = [
    pytest.param(PARAMS, """\
        import tensorflow as tf
        def up(x, skip):
            y = tf.image.resize_bilinear(x, tf.shape(skip)[1:3])
            return y + skip
        """, id="already the skip's run-time size"),
    pytest.param(PARAMS, """\
        import tensorflow as tf
        def up(x, skip):
            y = tf.image.resize_bilinear(x, (64, 64))
            y = tf.nn.relu(y)
            return y + skip
        """, id="first use is not the add"),
    pytest.param(PARAMS, """\
        import tensorflow as tf
        def up(x, skip):
            y = tf.image.resize_bilinear(x, (64, 64))
            return y * skip, tf.concat([y, skip, x], axis=3)
        """, id="product, three-way concat"),
    pytest.param(PARAMS, """\
        import tensorflow as tf
        def up(x, skip, k):
            return tf.concat([tf.image.resize(x, (8, 8)), skip], 1), tf.concat([tf.image.resize(x, (8, 8)), skip], k)
        """, id="concat along the height, or an axis not written out"),
    pytest.param(PARAMS, """\
        import tensorflow as tf
        def up(x, skip):
            y = tf.image.resize_bilinear(x, (64, 64))
            return y + conv(skip)
        """, id="skip is a call"),
    pytest.param({**PARAMS, "functions": ["tensorflow.image.resize"]}, """\
        import tensorflow as tf
        def up(x, skip):
            return tf.image.resize_bilinear(x, (64, 64)) + skip
        """, id="function not listed"),
    pytest.param(PARAMS, """\
        import numpy as tf
        def up(x, skip):
            return tf.image.resize_bilinear(x, (64, 64)) + skip
        """, id="not tensorflow"),
    pytest.param({**PARAMS, "scope": "Decoder"}, """\
        import tensorflow as tf
        def up(x, skip):
            return tf.image.resize_bilinear(x, (64, 64)) + skip
        """, id="outside the scope"),
    pytest.param(PARAMS, """\
        import tensorflow as tf
        def up(x, a, net):
            y = tf.image.resize_bilinear(x, (64, 64))
            skip = conv(a)
            for net.side in a: pass
            return y + skip, tf.concat([y, net.side], 3)
        """, id="skip bound between the resize and the add"),
    pytest.param(PARAMS, """\
        import tensorflow as tf
        def up(x, skip):
            y = tf.image.resize_bilinear(x, (64, 64))
            if skip is not None:
                return y + skip
        """, id="the add is in another block"),
]

FIX = [
    pytest.param(PARAMS, """\
        import tensorflow as tf
        def up(x, skip):
            with tf.variable_scope('up'):
                h, w = tf.shape(x)[1], tf.shape(x)[2]
                y = tf.image.resize_bilinear(x, (h * 2, w * 2))
                y = conv(y + skip, 8)
                return y
        """, """\
        import tensorflow as tf
        def up(x, skip):
            with tf.variable_scope('up'):
                h, w = tf.shape(x)[1], tf.shape(x)[2]
                y = tf.image.resize_bilinear(x, tf.shape(skip)[1:3])
                y = conv(y + skip, 8)
                return y
        """, [(5, 41)], id="through a name, add inside a call"),
    pytest.param(PARAMS, """\
        import tensorflow.compat.v1 as t1
        class Net:
            def up(self, x):
                return t1.add(self.skip, t1.image.resize(x, size=[32, 32]))
        """, """\
        import tensorflow.compat.v1 as t1
        class Net:
            def up(self, x):
                return t1.add(self.skip, t1.image.resize(x, size=t1.shape(self.skip)[1:3]))
        """, [(4, 53)], id="tf.add, keyword size, compat.v1 alias, attribute skip"),
    pytest.param({**PARAMS, "scope": "Decoder.up"}, """\
        import tensorflow as tf
        class Decoder:
            def up(self, a, b, skip):
                a = tf.image.resize_bilinear(a, 2 * tf.shape(a)[1:3])
                b = tf.image.resize(b, (9, 9)) + skip
                return tf.concat([skip, a], axis=-1) + b
        """, """\
        import tensorflow as tf
        class Decoder:
            def up(self, a, b, skip):
                a = tf.image.resize_bilinear(a, tf.shape(skip)[1:3])
                b = tf.image.resize(b, tf.shape(skip)[1:3]) + skip
                return tf.concat([skip, a], axis=-1) + b
        """, [(4, 41), (5, 32)], id="concat through a name, inline add, method scope"),
    pytest.param(PARAMS, """\
        import tensorflow as tf
        x = tf.image.resize_bilinear(x, (h * 2, w * 2))
        y = x + skip
        """, """\
        import tensorflow as tf
        x = tf.image.resize_bilinear(x, tf.shape(skip)[1:3])
        y = x + skip
        """, [(2, 33)], id="module level"),
]



class TestResizeToSkip(CodemodTest):
    CODEMOD, PARAMS, NOOP, FIX = CODEMOD, PARAMS, NOOP, FIX

"""dynamic_head_size: in the given function, size = x.get_shape().as_list()[a:b] and a list comprehension
scaling it become tf.shape(x)[a:b] and tf.multiply(size, ratio)."""
from __future__ import annotations

import pytest
from codemod_cases import CodemodTest

CODEMOD = "dynamic_head_size"
PARAMS = {"function": "Head.__call__"}

NOOP = [
    pytest.param("""\
        class Head:
            def __call__(self, x, ratio):
                size = x.get_shape().as_list()[1:3]
                return size
        """, id="static size not scaled"),
    pytest.param("""\
        def other(x, ratio):
            size = x.get_shape().as_list()[1:3]
            big = [int(s * ratio) for s in size]
        """, id="another function"),
    pytest.param("""\
        class Head:
            def __call__(self, x, ratio):
                size = x.get_shape().as_list()[1:3]
                big = [int(s * ratio) for s in other]
        """, id="comprehension over another list"),
    pytest.param("""\
        class Head:
            def __call__(self, x, ratio):
                size = x.get_shape().as_list()[1:3]
                big = [int(s * ratio) for s in size]
        """, id="no tensorflow import"),
    pytest.param("""\
        import tensorflow as tf
        class Head:
            def __call__(self, x, ratio):
                size = x.get_shape().as_list()[1:3]
                big = [int(ratio * s) for s in size]
                odd = [int(s * ratio) for s in size if s]
        """, id="other comprehension shapes"),
    pytest.param({"function": "Head"}, """\
        import tensorflow as tf
        class Head:
            def __call__(self, x, ratio):
                size = x.get_shape().as_list()[1:3]
                big = [int(s * ratio) for s in size]
        """, id="function parameter names the class"),
]

FIX = [
    pytest.param("""\
        import tensorflow as tf
        class Head:
            def __call__(self, x, ratio):
                size = x.get_shape().as_list()[1:3]
                big = [int(s * ratio) for s in size]
                return tf.image.resize_bilinear(x, big)
        """, """\
        import tensorflow as tf
        class Head:
            def __call__(self, x, ratio):
                size = tf.shape(x)[1:3]
                big = tf.multiply(size, ratio)
                return tf.image.resize_bilinear(x, big)
        """, [(4, 9), (5, 9)], id="method"),
    pytest.param({"function": "upsample"}, """\
        import tensorflow.compat.v1 as v1
        def upsample(x):
            hw = x.get_shape().as_list()[1:3]
            out = [int(d * 8) for d in hw]
            return out
        """, """\
        import tensorflow.compat.v1 as v1
        def upsample(x):
            hw = v1.shape(x)[1:3]
            out = v1.multiply(hw, 8)
            return out
        """, [(3, 5), (4, 5)], id="function, compat.v1 alias, literal ratio"),
]


class TestDynamicHeadSize(CodemodTest):
    CODEMOD, PARAMS, NOOP, FIX = CODEMOD, PARAMS, NOOP, FIX

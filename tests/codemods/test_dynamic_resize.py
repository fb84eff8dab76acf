"""dynamic_resize: in the given scope, a resize to a static x.shape[a:b] resizes to tf.shape(x)[a:b] instead."""
from __future__ import annotations

import pytest
from codemod_cases import CodemodTest

CODEMOD = "dynamic_resize"
RESIZES = ["tensorflow.image.resize_bilinear", "tensorflow.image.resize"]
PARAMS = {"scope": "Agg", "functions": RESIZES}

NOOP = [
    pytest.param("""\
        import tensorflow as tf
        def loss(a, b):
            return tf.image.resize_bilinear(a, b.shape[1:3])
        """, id="outside the scope"),
    pytest.param("""\
        import tensorflow as tf
        class Agg:
            def f(self, a, b):
                return tf.image.resize_bilinear(a, [64, 64]), tf.image.resize_bilinear(a, tf.shape(b)[1:3])
        """, id="fixed size, already dynamic"),
    pytest.param({**PARAMS, "functions": ["tensorflow.image.resize"]}, """\
        import tensorflow as tf
        class Agg:
            def f(self, a, b):
                return tf.image.resize_bilinear(a, b.shape[1:3])
        """, id="function not listed"),
    pytest.param("""\
        import numpy as tf
        class Agg:
            def f(self, a, b):
                return tf.image.resize_bilinear(a, b.shape[1:3])
        """, id="not tensorflow"),
    pytest.param("""\
        import tensorflow as tf
        class Agg:
            def f(self, a, b):
                return tf.image.resize_bilinear(a, b.shape), tf.image.resize_bilinear(a, size)
        """, id="not a slice of x.shape"),
    pytest.param("""\
        import tensorflow as tf
        class Aggregate:
            def f(self, a, b):
                return tf.image.resize_bilinear(a, b.shape[1:3])
        """, id="scope is a prefix of another name"),
]

FIX = [
    pytest.param("""\
        import tensorflow as tf
        class Agg:
            def __call__(self, a, b):
                return tf.image.resize_bilinear(a, b.shape[1:3], name='up')
        """, """\
        import tensorflow as tf
        class Agg:
            def __call__(self, a, b):
                return tf.image.resize_bilinear(a, tf.shape(b)[1:3], name='up')
        """, [(4, 44)], id="positional size"),
    pytest.param({**PARAMS, "scope": "Agg.__call__"}, """\
        import tensorflow.compat.v1 as t1
        class Agg:
            def __call__(self, a, b):
                return t1.image.resize_bilinear(a, size=self.b.shape[1:3])
        """, """\
        import tensorflow.compat.v1 as t1
        class Agg:
            def __call__(self, a, b):
                return t1.image.resize_bilinear(a, size=t1.shape(self.b)[1:3])
        """, [(4, 44)], id="keyword size, compat.v1 alias, method scope"),
    pytest.param("""\
        import tensorflow as tf
        class Agg:
            def __call__(self, a, b):
                up = tf.image.resize(a, b.shape[1:3])
                return tf.image.resize_bilinear(b, a.shape[1:3])
        """, """\
        import tensorflow as tf
        class Agg:
            def __call__(self, a, b):
                up = tf.image.resize(a, tf.shape(b)[1:3])
                return tf.image.resize_bilinear(b, tf.shape(a)[1:3])
        """, [(4, 33), (5, 44)], id="both listed functions"),
    pytest.param({"scope": "", "functions": ["tensorflow.image.resize_nearest_neighbor"]}, """\
        import tensorflow as tf
        def up(a, b):
            return tf.image.resize_nearest_neighbor(a, b.shape[1:3])
        """, """\
        import tensorflow as tf
        def up(a, b):
            return tf.image.resize_nearest_neighbor(a, tf.shape(b)[1:3])
        """, [(3, 48)], id="empty scope is the whole module"),
]


class TestDynamicResize(CodemodTest):
    CODEMOD, PARAMS, NOOP, FIX = CODEMOD, PARAMS, NOOP, FIX

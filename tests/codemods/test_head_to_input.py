"""head_to_input: the caller passes the input's run-time size to the head, and the head resizes to it."""
from __future__ import annotations

import pytest
from codemod_cases import CodemodTest

CODEMOD = "head_to_input"
PARAMS = {"caller": "Net.run", "head": "head", "source": "input_tensor", "head_function": "Head.__call__",
          "keyword": "output_size", "functions": ["tensorflow.image.resize_bilinear", "tensorflow.image.resize"]}

NOOP = [
    pytest.param("""\
        import tensorflow as tf
        class Head:
            def __call__(self, **kwargs):
                return tf.image.resize_bilinear(kwargs['x'], kwargs.get('output_size', big))
        class Net:
            def run(self, input_tensor):
                return self.head(x=input_tensor, output_size=tf.shape(input_tensor)[1:3])
            def loss(self, input_tensor):
                return self.head(x=input_tensor)
        """, id="already done, other caller"),
    pytest.param("""\
        class Head:
            def __call__(self, **kwargs):
                return image.resize_bilinear(kwargs['x'], big)
        class Net:
            def run(self, input_tensor):
                return self.head(x=input_tensor)
        """, id="no tensorflow import"),
    pytest.param("""\
        import tensorflow as tf
        class Head:
            def __call__(self, **kwargs):
                return tf.image.resize_nearest_neighbor(kwargs['x'], big)
            def other(self, x):
                return tf.image.resize_bilinear(x, big)
        class Net:
            def run(self, input_tensor):
                return self.body(x=input_tensor), head(x=input_tensor), other.head(x=input_tensor)
        """, id="unlisted resize, other method, other callee"),
]

FIX = [
    pytest.param("""\
        import tensorflow as tf
        class Head:
            def __call__(self, **kwargs):
                return tf.image.resize_bilinear(kwargs['x'], big)
        class Net:
            def run(self, input_tensor):
                return self.head(
                    x=input_tensor,
                    ratio=8
                )
        """, """\
        import tensorflow as tf
        class Head:
            def __call__(self, **kwargs):
                return tf.image.resize_bilinear(kwargs['x'], kwargs.get('output_size', big))
        class Net:
            def run(self, input_tensor):
                return self.head(
                    x=input_tensor,
                    ratio=8,
                    output_size=tf.shape(input_tensor)[1:3]
                )
        """, [(4, 54), (9, 13)], id="one argument a line"),
    pytest.param("""\
        import tensorflow as tf
        class Head:
            def __call__(self, **kwargs):
                return tf.image.resize(kwargs['x'], size=big)
        class Net:
            def run(self, input_tensor):
                return self.head(x=input_tensor, ratio=8,)
        """, """\
        import tensorflow as tf
        class Head:
            def __call__(self, **kwargs):
                return tf.image.resize(kwargs['x'], size=kwargs.get('output_size', big))
        class Net:
            def run(self, input_tensor):
                return self.head(x=input_tensor, ratio=8, output_size=tf.shape(input_tensor)[1:3],)
        """, [(4, 45), (7, 42)], id="one line, trailing comma, size keyword"),
    pytest.param({**PARAMS, "source": "image", "keyword": "out_hw"}, """\
        import tensorflow.compat.v1 as v1
        class Net:
            def run(self, image):
                return self.head(image)
        """, """\
        import tensorflow.compat.v1 as v1
        class Net:
            def run(self, image):
                return self.head(image, out_hw=v1.shape(image)[1:3])
        """, [(4, 26)], id="caller only, own source and keyword"),
    pytest.param({**PARAMS, "keyword": "out_hw"}, """\
        import tensorflow as tf
        class Head:
            def __call__(self, x, **kwargs):
                return tf.image.resize_bilinear(x, [64, 64])
        """, """\
        import tensorflow as tf
        class Head:
            def __call__(self, x, **kwargs):
                return tf.image.resize_bilinear(x, kwargs.get('out_hw', [64, 64]))
        """, [(4, 44)], id="head only"),
]


class TestHeadToInput(CodemodTest):
    CODEMOD, PARAMS, NOOP, FIX = CODEMOD, PARAMS, NOOP, FIX

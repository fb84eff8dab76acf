"""Each codemod: `fix` cases (before -> after) and `noop` cases that must stay unchanged, its own output included."""
from __future__ import annotations

import textwrap

import pytest

from patcher.codemods import CODEMODS
from patcher.recipe import Step
from patcher.runner import transform


def run(codemod: str, source: str, /, **params) -> tuple[str, list]:
    return transform(Step(codemod, ("m.py",), 0, params), "m.py", textwrap.dedent(source))


FIX = [
    # open_placeholder
    ("open_placeholder", {}, """\
        import tensorflow as tf
        x = tf.placeholder(dtype=tf.float32, shape=[1, 448, 448, 3], name='input_tensor')
        """, """\
        import tensorflow as tf
        x = tf.placeholder(dtype=tf.float32, shape=[1, None, None, 3], name='input_tensor')
        """),
    ("open_placeholder", {}, """\
        import tensorflow.compat.v1 as tfv
        x = tfv.placeholder(tfv.float32, [1, 64, 32, 3], 'input_tensor')
        """, """\
        import tensorflow.compat.v1 as tfv
        x = tfv.placeholder(tfv.float32, [1, None, None, 3], 'input_tensor')
        """),
    ("open_placeholder", {"name": "image", "dims": [2]}, """\
        from tensorflow import placeholder
        x = placeholder(shape=[1, 9, 9, 3],  # fixed
                        dtype='float32', name="image")
        """, """\
        from tensorflow import placeholder
        x = placeholder(shape=[1, 9, None, 3],  # fixed
                        dtype='float32', name="image")
        """),
    # uncomment_call
    ("uncomment_call", {"function": "optimize"}, """\
        if __name__ == '__main__':
            run()

            # optimize(
            #     a=1,
            #     b=[2,
            #        3],
            # )
        """, """\
        if __name__ == '__main__':
            run()

            optimize(
                a=1,
                b=[2,
                   3],
            )
        """),
    ("uncomment_call", {"function": "optimize"}, """\
        run()
        # a note that stays
        # optimize(x)
        # another note
        done()
        """, """\
        run()
        # a note that stays
        optimize(x)
        # another note
        done()
        """),
    ("uncomment_call", {"function": "optimize"}, """\
        def main():
            run()
            #optimize(
            #    1)
        """, """\
        def main():
            run()
            optimize(
                1)
        """),
    # dynamic_resize
    ("dynamic_resize", {"scope": "Agg"}, """\
        import tensorflow as tf
        class Agg:
            def __call__(self, a, b):
                return tf.image.resize_bilinear(a, b.shape[1:3], name='up')
        """, """\
        import tensorflow as tf
        class Agg:
            def __call__(self, a, b):
                return tf.image.resize_bilinear(a, tf.shape(b)[1:3], name='up')
        """),
    ("dynamic_resize", {"scope": "Agg.__call__"}, """\
        import tensorflow.compat.v1 as t1
        class Agg:
            def __call__(self, a, b):
                return t1.image.resize_bilinear(a, size=self.b.shape[1:3])
        """, """\
        import tensorflow.compat.v1 as t1
        class Agg:
            def __call__(self, a, b):
                return t1.image.resize_bilinear(a, size=t1.shape(self.b)[1:3])
        """),
    # dynamic_head_size
    ("dynamic_head_size", {"function": "Head.__call__"}, """\
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
        """),
    # head_to_input
    ("head_to_input", {"caller": "Net.run", "head": "head", "head_function": "Head.__call__"}, """\
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
        """),
    ("head_to_input", {"caller": "Net.run", "head": "head", "head_function": "Head.__call__"}, """\
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
        """),
    # tf_compat_v1
    ("tf_compat_v1", {}, "import tensorflow as tf\n", "import tensorflow.compat.v1 as tf\n"),
    ("tf_compat_v1", {}, "import os, tensorflow as tflow  # tf\n", "import os, tensorflow.compat.v1 as tflow  # tf\n"),
    # disable_v2
    ("disable_v2", {}, """\
        import tensorflow.compat.v1 as tf
        from a import b

        X = 1
        """, """\
        import tensorflow.compat.v1 as tf
        from a import b
        tf.disable_v2_behavior()

        X = 1
        """),
    ("disable_v2", {}, "import tensorflow as tf\n", "import tensorflow as tf\ntf.compat.v1.disable_v2_behavior()\n"),
    # floor_division
    ("floor_division", {"function": "Base.conv", "target": "shape"}, """\
        class Base:
            def conv(self, c, s):
                if c:
                    shape = [3, 3] + [c / s, 8]
                else:
                    shape = [1, 1, c/s, (c + 1) / s]
                return shape
        """, """\
        class Base:
            def conv(self, c, s):
                if c:
                    shape = [3, 3] + [c // s, 8]
                else:
                    shape = [1, 1, c//s, (c + 1) // s]
                return shape
        """),
    # replace_import
    ("replace_import", {"module": "a.b", "name": "c", "new_module": "x.y"},
     "from a.b import c\n", "from x.y import c\n"),
    ("replace_import", {"module": "a.b", "name": "c", "new_module": "x.y"},
     "from a.b import (c)  # keep\n", "from x.y import (c)  # keep\n"),
    # binary_write
    ("binary_write", {}, """\
        import tensorflow as tf
        with tf.gfile.GFile(path, 'w') as f:
            f.write(graph.SerializeToString())
        """, """\
        import tensorflow as tf
        with tf.gfile.GFile(path, 'wb') as f:
            f.write(graph.SerializeToString())
        """),
    ("binary_write", {}, """\
        with open(path, mode="w") as out:
            out.write(g.SerializeToString())
        """, """\
        with open(path, mode="wb") as out:
            out.write(g.SerializeToString())
        """),
]

NOOP = [
    ("open_placeholder", {}, "import tensorflow as tf\nx = tf.placeholder(tf.float32, [1, None, None, 3], name='input_tensor')\n"),
    ("open_placeholder", {}, "import tensorflow as tf\nx = tf.placeholder(tf.float32, [1, 448, 448, 3], name='label')\n"),
    ("open_placeholder", {}, "import tensorflow as tf\nx = tf.placeholder(tf.float32, shape, name='input_tensor')\n"),
    ("open_placeholder", {}, "import numpy as tf\nx = tf.placeholder(shape=[1, 4, 4, 3], name='input_tensor')\n"),
    ("open_placeholder", {}, "import tensorflow as tf\nx = tf.placeholder(tf.float32, [1, h, w, 3], name='input_tensor')\n"),
    ("uncomment_call", {"function": "optimize"}, "run()\n# we could optimize(x) here\n# optimise(y)\n"),
    ("uncomment_call", {"function": "optimize"}, "run()\n# optimize(\n#   unbalanced\n"),
    ("uncomment_call", {"function": "optimize"}, "run()\n# optimize(x) if y else z\n"),
    ("uncomment_call", {"function": "optimize"}, "run()\nx = '# optimize(x)'\n"),
    ("dynamic_resize", {"scope": "Agg"}, """\
        import tensorflow as tf
        def loss(a, b):
            return tf.image.resize_bilinear(a, b.shape[1:3])
        """),
    ("dynamic_resize", {"scope": "Agg"}, """\
        import tensorflow as tf
        class Agg:
            def f(self, a, b):
                return tf.image.resize_bilinear(a, [64, 64]), tf.image.resize_bilinear(a, tf.shape(b)[1:3])
        """),
    ("dynamic_head_size", {"function": "Head.__call__"}, """\
        class Head:
            def __call__(self, x, ratio):
                size = x.get_shape().as_list()[1:3]
                return size
        """),
    ("dynamic_head_size", {"function": "Head.__call__"}, """\
        def other(x, ratio):
            size = x.get_shape().as_list()[1:3]
            big = [int(s * ratio) for s in size]
        """),
    ("dynamic_head_size", {"function": "Head.__call__"}, """\
        class Head:
            def __call__(self, x, ratio):
                size = x.get_shape().as_list()[1:3]
                big = [int(s * ratio) for s in other]
        """),
    ("head_to_input", {"caller": "Net.run", "head": "head", "head_function": "Head.__call__"}, """\
        import tensorflow as tf
        class Head:
            def __call__(self, **kwargs):
                return tf.image.resize_bilinear(kwargs['x'], kwargs.get('output_size', big))
        class Net:
            def run(self, input_tensor):
                return self.head(x=input_tensor, output_size=tf.shape(input_tensor)[1:3])
            def loss(self, input_tensor):
                return self.head(x=input_tensor)
        """),
    ("tf_compat_v1", {}, "import tensorflow.compat.v1 as tf\n"),
    ("tf_compat_v1", {}, "import tensorflow\nimport tensorflow_addons as tfa\n"),
    ("disable_v2", {}, "import tensorflow.compat.v1 as tf\ntf.disable_eager_execution()\n"),
    ("disable_v2", {}, "import numpy as np\n"),
    ("floor_division", {"function": "Base.conv", "target": "shape"}, """\
        class Base:
            def conv(self, c, s):
                ratio = c / s
                shape = [c // s]
        def conv(c, s):
            shape = [c / s]
        """),
    ("replace_import", {"module": "a.b", "name": "c", "new_module": "x.y"}, "from a.b import c, d\nfrom a.b import e\n"),
    ("binary_write", {}, "with open(p, 'w') as f:\n    f.write(str(g))\n"),
    ("binary_write", {}, "with open(p, 'r') as f:\n    f.write(g.SerializeToString())\n"),
]


@pytest.mark.parametrize(("name", "params", "before", "after"), FIX)
def test_fix(name, params, before, after):
    code, sites = run(name, before, **params)
    assert code == textwrap.dedent(after)
    assert sites, "a fix must report its sites"
    again, more = run(name, code, **params)
    assert (again, more) == (code, []), "applying the codemod to its own output must change nothing"


@pytest.mark.parametrize(("name", "params", "source"), NOOP)
def test_noop(name, params, source):
    code, sites = run(name, source, **params)
    assert code == textwrap.dedent(source)
    assert sites == []


@pytest.mark.parametrize("name", sorted(CODEMODS))
def test_every_codemod_has_cases_and_a_one_line_description(name):
    assert any(case[0] == name for case in FIX) and any(case[0] == name for case in NOOP)
    description = CODEMODS[name].DESCRIPTION
    assert description and "\n" not in description and len(description) < 120
    assert CODEMODS[name].__module__.rsplit(".", 1)[-1] == name


def test_sites_name_file_line_and_column():
    source = "import tensorflow as tf\n\n\nx = tf.placeholder(tf.float32, [1, 2, 2, 3], name='input_tensor')\n"
    _, sites = run("open_placeholder", source)
    assert [(s.path, s.line, s.column) for s in sites] == [("m.py", 4, 5)]
    assert str(sites[0]).startswith("m.py:4:5: ")

"""open_placeholder: the named placeholder's chosen dimensions become None; anything else stays as it is."""
from __future__ import annotations

import pytest
from codemod_cases import CodemodTest, run

CODEMOD = "open_placeholder"
PARAMS = {"name": "input_tensor", "dims": [1, 2]}

NOOP = [
    pytest.param("import tensorflow as tf\nx = tf.placeholder(tf.float32, [1, None, None, 3], name='input_tensor')\n",
                 id="already open"),
    pytest.param("import tensorflow as tf\nx = tf.placeholder(tf.float32, [1, 448, 448, 3], name='label')\n",
                 id="another placeholder"),
    pytest.param("import tensorflow as tf\nx = tf.placeholder(tf.float32, shape, name='input_tensor')\n",
                 id="shape not a list literal"),
    pytest.param("import numpy as tf\nx = tf.placeholder(shape=[1, 4, 4, 3], name='input_tensor')\n",
                 id="not tensorflow"),
    pytest.param("import tensorflow as tf\nx = tf.placeholder(tf.float32, [1, h, w, 3], name='input_tensor')\n",
                 id="dimensions are expressions"),
    pytest.param("import tensorflow as tf\nx = tf.placeholder(tf.float32, [1, 448], name='input_tensor')\n",
                 id="fewer dimensions than dims names"),
    pytest.param("import tensorflow as tf\nx = tf.placeholder(tf.float32, [1, 4, 4, 3], name=NAME)\n",
                 id="name not a string literal"),
    pytest.param({**PARAMS, "name": "image"},
                 "import tensorflow as tf\nx = tf.placeholder(tf.float32, [1, 4, 4, 3], name='input_tensor')\n",
                 id="name parameter picks another placeholder"),
]

FIX = [
    pytest.param("""\
        import tensorflow as tf
        x = tf.placeholder(dtype=tf.float32, shape=[1, 448, 448, 3], name='input_tensor')
        """, """\
        import tensorflow as tf
        x = tf.placeholder(dtype=tf.float32, shape=[1, None, None, 3], name='input_tensor')
        """, [(2, 38)], id="keywords"),
    pytest.param("""\
        import tensorflow.compat.v1 as tfv
        x = tfv.placeholder(tfv.float32, [1, 64, 32, 3], 'input_tensor')
        """, """\
        import tensorflow.compat.v1 as tfv
        x = tfv.placeholder(tfv.float32, [1, None, None, 3], 'input_tensor')
        """, [(2, 34)], id="positional, compat.v1 alias"),
    pytest.param({"name": "image", "dims": [2]}, """\
        from tensorflow import placeholder
        x = placeholder(shape=[1, 9, 9, 3],  # fixed
                        dtype='float32', name="image")
        """, """\
        from tensorflow import placeholder
        x = placeholder(shape=[1, 9, None, 3],  # fixed
                        dtype='float32', name="image")
        """, [(2, 17)], id="imported name, one dimension, comment kept"),
    pytest.param("""\
        import tensorflow as tf
        x = tf.placeholder(tf.float32, [1, None, 448, 3], name='input_tensor')
        """, """\
        import tensorflow as tf
        x = tf.placeholder(tf.float32, [1, None, None, 3], name='input_tensor')
        """, [(2, 32)], id="half open"),
    pytest.param("""\
        import tensorflow as tf
        a = tf.placeholder(tf.float32, [1, 8, 8, 3], name='input_tensor')
        b = tf.placeholder(tf.int32, [1, 8, 8], name='label')
        c = tf.placeholder(tf.float32, [2, 16, 16, 3], name='input_tensor')
        """, """\
        import tensorflow as tf
        a = tf.placeholder(tf.float32, [1, None, None, 3], name='input_tensor')
        b = tf.placeholder(tf.int32, [1, 8, 8], name='label')
        c = tf.placeholder(tf.float32, [2, None, None, 3], name='input_tensor')
        """, [(2, 32), (4, 32)], id="every placeholder of that name"),
]


class TestOpenPlaceholder(CodemodTest):
    CODEMOD, PARAMS, NOOP, FIX = CODEMOD, PARAMS, NOOP, FIX


def test_sites_name_file_line_and_column():
    source = "import tensorflow as tf\n\n\nx = tf.placeholder(tf.float32, [1, 2, 2, 3], name='input_tensor')\n"
    _, sites = run(CODEMOD, source, **PARAMS)
    assert [(s.path, s.line, s.column) for s in sites] == [("m.py", 4, 32)]  # the shape list it edits
    assert str(sites[0]).startswith("m.py:4:32: ")

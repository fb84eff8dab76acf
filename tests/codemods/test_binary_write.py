"""binary_write: a file opened 'w' and written a serialized protobuf is opened 'wb'."""
from __future__ import annotations

import pytest
from codemod_cases import CodemodTest

CODEMOD = "binary_write"

NOOP = [
    pytest.param("with open(p, 'w') as f:\n    f.write(str(g))\n", id="writes text"),
    pytest.param("with open(p, 'r') as f:\n    f.write(g.SerializeToString())\n", id="not mode w"),
    pytest.param("with open(p, 'wb') as f:\n    f.write(g.SerializeToString())\n", id="already wb"),
    pytest.param("with open(p, 'w') as f, open(q) as g:\n    f.write(g.SerializeToString())\n", id="two items"),
    pytest.param("with open(p, 'w'):\n    out.write(g.SerializeToString())\n", id="no as name"),
    pytest.param("with open(p, 'w') as f:\n    other.write(g.SerializeToString())\n", id="writes to another file"),
    pytest.param("with open(p, mode) as f:\n    f.write(g.SerializeToString())\n", id="mode not a literal"),
    pytest.param("import numpy as tf\nwith tf.gfile.GFile(p, 'w') as f:\n    f.write(g.SerializeToString())\n",
                 id="not tensorflow"),
]

FIX = [
    pytest.param("""\
        import tensorflow as tf
        with tf.gfile.GFile(path, 'w') as f:
            f.write(graph.SerializeToString())
        """, """\
        import tensorflow as tf
        with tf.gfile.GFile(path, 'wb') as f:
            f.write(graph.SerializeToString())
        """, [(2, 27)], id="tf.gfile.GFile"),
    pytest.param("""\
        with open(path, mode="w") as out:
            out.write(g.SerializeToString())
        """, """\
        with open(path, mode="wb") as out:
            out.write(g.SerializeToString())
        """, [(1, 17)], id="open, mode keyword, double quotes"),
    pytest.param("""\
        import tensorflow.compat.v1 as v1
        def save(g):
            with v1.io.gfile.GFile('a.pb', 'w') as f:
                f.write(g.SerializeToString())
            with v1.gfile.Open('b.pb', 'w') as f:
                f.write(g.SerializeToString())
        """, """\
        import tensorflow.compat.v1 as v1
        def save(g):
            with v1.io.gfile.GFile('a.pb', 'wb') as f:
                f.write(g.SerializeToString())
            with v1.gfile.Open('b.pb', 'wb') as f:
                f.write(g.SerializeToString())
        """, [(3, 36), (5, 32)], id="compat.v1 io.gfile and gfile.Open"),
]


class TestBinaryWrite(CodemodTest):
    CODEMOD, NOOP, FIX = CODEMOD, NOOP, FIX

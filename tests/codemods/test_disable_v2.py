"""disable_v2: a TensorFlow script calls disable_v2_behavior() right after its last import."""
from __future__ import annotations

import pytest
from codemod_cases import CodemodTest

CODEMOD = "disable_v2"

NOOP = [
    pytest.param("import tensorflow.compat.v1 as tf\ntf.disable_eager_execution()\n", id="eager execution disabled"),
    pytest.param("import tensorflow as tf\ntf.compat.v1.disable_v2_behavior()\n", id="already there"),
    pytest.param("import numpy as np\n", id="no tensorflow"),
    pytest.param("from tensorflow import keras\n", id="from-import only"),
]

FIX = [
    pytest.param("""\
        import tensorflow.compat.v1 as tf
        from a import b

        X = 1
        """, """\
        import tensorflow.compat.v1 as tf
        from a import b
        tf.disable_v2_behavior()

        X = 1
        """, [(2, 1)], id="compat.v1, after the last import"),
    pytest.param("import tensorflow as tf\n", "import tensorflow as tf\ntf.compat.v1.disable_v2_behavior()\n", [(1, 1)],
                 id="tensorflow"),
    pytest.param('''\
        """Doc."""
        import os
        import tensorflow.compat.v1 as v1
        import numpy as np
        def main():
            pass
        ''', '''\
        """Doc."""
        import os
        import tensorflow.compat.v1 as v1
        import numpy as np
        v1.disable_v2_behavior()
        def main():
            pass
        ''', [(4, 1)], id="own alias, after a later import"),
]


class TestDisableV2(CodemodTest):
    CODEMOD, NOOP, FIX = CODEMOD, NOOP, FIX

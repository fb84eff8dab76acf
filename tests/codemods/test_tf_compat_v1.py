"""tf_compat_v1: `import tensorflow as X` becomes `import tensorflow.compat.v1 as X`."""
from __future__ import annotations

import pytest
from codemod_cases import CodemodTest

CODEMOD = "tf_compat_v1"

NOOP = [
    pytest.param("import tensorflow.compat.v1 as tf\n", id="already compat.v1"),
    pytest.param("import tensorflow\nimport tensorflow_addons as tfa\n", id="no alias, another package"),
    pytest.param("from tensorflow import keras\nimport tensorflow.keras as K\n", id="from-import, submodule"),
]

FIX = [
    pytest.param("import tensorflow as tf\n", "import tensorflow.compat.v1 as tf\n", [(1, 1)], id="tf"),
    pytest.param("import os, tensorflow as tflow  # tf\n", "import os, tensorflow.compat.v1 as tflow  # tf\n", [(1, 1)],
                 id="among other imports, comment kept"),
    pytest.param("def f():\n    import tensorflow as tf\n    return tf\n",
                 "def f():\n    import tensorflow.compat.v1 as tf\n    return tf\n", [(2, 5)], id="inside a function"),
]


class TestTfCompatV1(CodemodTest):
    CODEMOD, NOOP, FIX = CODEMOD, NOOP, FIX

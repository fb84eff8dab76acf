"""tf_compat_v1: `import tensorflow as X` becomes `import tensorflow.compat.v1 as X`."""
from __future__ import annotations

import pytest
from codemod_cases import assert_fix, assert_idempotent, assert_noop, assert_unknown_raises, required

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


@pytest.mark.parametrize("source", NOOP)
def test_noop(source):
    assert_noop(CODEMOD, {}, source)


@pytest.mark.parametrize(("before", "after", "sites"), FIX)
def test_fix(before, after, sites):
    assert_fix(CODEMOD, {}, before, after, sites)


@pytest.mark.parametrize(("before", "after", "sites"), FIX)
def test_idempotent(before, after, sites):
    assert_idempotent(CODEMOD, {}, before)


def test_takes_no_parameters():
    assert required(CODEMOD) == []
    assert_unknown_raises(CODEMOD, {})

"""replace_import: `from MODULE import NAME` becomes `from NEW_MODULE import NAME`."""
from __future__ import annotations

import pytest
from codemod_cases import CodemodTest

CODEMOD = "replace_import"
PARAMS = {"module": "a.b", "name": "c", "new_module": "x.y"}

NOOP = [
    pytest.param("from a.b import c, d\nfrom a.b import e\n", id="more names, other name"),
    pytest.param("import a.b\nfrom a.b import *\nfrom a import c\nfrom . import c\n",
                 id="import, star, parent module, relative"),
    pytest.param({**PARAMS, "module": "a"}, "from a.b import c\n", id="module parameter names the parent"),
]

FIX = [
    pytest.param("from a.b import c\n", "from x.y import c\n", [(1, 1)], id="plain"),
    pytest.param("from a.b import (c)  # keep\n", "from x.y import (c)  # keep\n", [(1, 1)],
                 id="parenthesized, comment kept"),
    pytest.param("from a.b import c as d\ndef f():\n    from a.b import c\n",
                 "from x.y import c as d\ndef f():\n    from x.y import c\n", [(1, 1), (3, 5)], id="alias, inside a function"),
    pytest.param({"module": "tensorflow.python.framework", "name": "graph_util", "new_module": "tensorflow.compat.v1"},
                 "from tensorflow.python.framework import graph_util\n",
                 "from tensorflow.compat.v1 import graph_util\n", [(1, 1)], id="graph_util"),
]


class TestReplaceImport(CodemodTest):
    CODEMOD, PARAMS, NOOP, FIX = CODEMOD, PARAMS, NOOP, FIX

"""replace_module: `import MODULE as c` and `from PARENT import LAST [as c]` become `import NEW_MODULE as c`."""
from __future__ import annotations

import pytest
from codemod_cases import CodemodTest

CODEMOD = "replace_module"
PARAMS = {"module": "a.b.c", "new_module": "d_e"}

NOOP = [
    pytest.param(PARAMS, "import a.b.c\nimport a.b as c\nimport a.b.cd as c\n",
                 id="no alias, parent module, longer name"),
    pytest.param(PARAMS, "from a.b import c, d\nfrom a.b import *\nfrom . import c\nfrom .a.b import c\n",
                 id="two names, star, relative"),
    pytest.param(PARAMS, "from a import b\nfrom a.b.c import x\nimport d_e as c\n",
                 id="parent module, a name from the module, already replaced"),
]

FIX = [
    pytest.param(PARAMS, "import a.b.c as c\n", "import d_e as c\n", [(1, 8)], id="import with alias"),
    pytest.param(PARAMS, "import os, a.b.c as m  # keep\n", "import os, d_e as m  # keep\n", [(1, 12)],
                 id="one of two names, comment kept"),
    pytest.param(PARAMS, "from a.b import c as m\ndef f():\n    from a.b import c\n    return c\n",
                 "import d_e as m\ndef f():\n    import d_e as c\n    return c\n", [(1, 1), (3, 5)],
                 id="from form with and without alias, inside a function"),
    pytest.param({"module": "tensorflow.contrib.slim", "new_module": "tf_slim"},
                 "import tensorflow as tf\nimport tensorflow.contrib.slim as slim\n",
                 "import tensorflow as tf\nimport tf_slim as slim\n", [(2, 8)], id="slim"),
    pytest.param({"module": "x", "new_module": "p.q"}, "import x as y; y.run()\n", "import p.q as y; y.run()\n",
                 [(1, 8)], id="dotted replacement, semicolon"),
]



class TestReplaceModule(CodemodTest):
    CODEMOD, PARAMS, NOOP, FIX = CODEMOD, PARAMS, NOOP, FIX

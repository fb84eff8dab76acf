"""floor_division: in the target assignment of the given function, `/` becomes `//`."""
from __future__ import annotations

import pytest
from codemod_cases import CodemodTest

CODEMOD = "floor_division"
PARAMS = {"function": "Base.conv", "target": "shape"}

NOOP = [
    pytest.param("""\
        class Base:
            def conv(self, c, s):
                ratio = c / s
                shape = [c // s]
        def conv(c, s):
            shape = [c / s]
        """, id="other assignment, already floor, other function"),
    pytest.param({**PARAMS, "target": "filter_shape"}, """\
        class Base:
            def conv(self, c, s):
                shape = [c / s]
        """, id="target parameter names another variable"),
    pytest.param("""\
        class Base:
            def conv(self, c, s):
                shape, other = [c / s], 1
                shape += [c / s]
        """, id="not a plain assignment"),
]

FIX = [
    pytest.param("""\
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
        """, [(4, 33), (6, 29), (6, 41)], id="both branches, spacing kept"),
    pytest.param({"function": "CNNBaseModel.conv2d", "target": "filter_shape"}, """\
        class CNNBaseModel:
            def conv2d(self, inputdata, out_channel, split=1):
                in_channel = inputdata.get_shape().as_list()[3]
                filter_shape = [3, 3] + [in_channel / split, out_channel]
                return filter_shape
        """, """\
        class CNNBaseModel:
            def conv2d(self, inputdata, out_channel, split=1):
                in_channel = inputdata.get_shape().as_list()[3]
                filter_shape = [3, 3] + [in_channel // split, out_channel]
                return filter_shape
        """, [(4, 45)], id="one division"),
    pytest.param("""\
        class Base:
            def conv(self, c, s):
                def inner():
                    shape = [c / s / 2]
        """, """\
        class Base:
            def conv(self, c, s):
                def inner():
                    shape = [c // s // 2]
        """, [(4, 24), (4, 28)], id="nested function, chained division"),
]


class TestFloorDivision(CodemodTest):
    CODEMOD, PARAMS, NOOP, FIX = CODEMOD, PARAMS, NOOP, FIX

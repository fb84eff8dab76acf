"""floor_division: in the target assignment of the given function, `/` becomes `//`."""
from __future__ import annotations

import pytest
from codemod_cases import assert_fix, assert_idempotent, assert_missing_raises, assert_noop, required

CODEMOD = "floor_division"
PARAMS = {"function": "Base.conv", "target": "shape"}

NOOP = [
    pytest.param(PARAMS, """\
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
    pytest.param(PARAMS, """\
        class Base:
            def conv(self, c, s):
                shape, other = [c / s], 1
                shape += [c / s]
        """, id="not a plain assignment"),
]

FIX = [
    pytest.param(PARAMS, """\
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
    pytest.param(PARAMS, """\
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


@pytest.mark.parametrize(("params", "source"), NOOP)
def test_noop(params, source):
    assert_noop(CODEMOD, params, source)


@pytest.mark.parametrize(("params", "before", "after", "sites"), FIX)
def test_fix(params, before, after, sites):
    assert_fix(CODEMOD, params, before, after, sites)


@pytest.mark.parametrize(("params", "before", "after", "sites"), FIX)
def test_idempotent(params, before, after, sites):
    assert_idempotent(CODEMOD, params, before)


def test_parameters_are_required_keywords():
    assert required(CODEMOD) == list(PARAMS)


@pytest.mark.parametrize("missing", list(PARAMS))
def test_missing_parameter_is_a_type_error(missing):
    assert_missing_raises(CODEMOD, PARAMS, missing)

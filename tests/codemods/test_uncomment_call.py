"""uncomment_call: a commented-out call to the named function becomes code where it stood, comments kept."""
from __future__ import annotations

import pytest
from codemod_cases import CodemodTest

CODEMOD = "uncomment_call"
PARAMS = {"function": "optimize"}

NOOP = [
    pytest.param("run()\n# we could optimize(x) here\n# optimise(y)\n", id="call inside prose, other name"),
    pytest.param("run()\n# optimize(\n#   unbalanced\n", id="unbalanced"),
    pytest.param("run()\n# optimize(x) if y else z\n", id="more than a call"),
    pytest.param("run()\nx = '# optimize(x)'\n", id="in a string"),
    pytest.param("run()\n# optimize_more(x)\n# self.optimize(x)\n", id="longer name, attribute"),
    pytest.param("run()\noptimize(x)\n", id="already code"),
    pytest.param({"function": "other"}, "run()\n# optimize(x)\n", id="function parameter names another"),
]

FIX = [
    pytest.param("""\
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
        """, [(4, 1)], id="several lines at the end of a block"),
    pytest.param("""\
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
        """, [(3, 1)], id="between notes"),
    pytest.param("""\
        def main():
            run()
            #optimize(
            #    1)
        """, """\
        def main():
            run()
            optimize(
                1)
        """, [(3, 1)], id="no space after the hash"),
    pytest.param("""\
        run()
        # optimize(a)
        # optimize(b)
        """, """\
        run()
        optimize(a)
        optimize(b)
        """, [(2, 1), (3, 1)], id="two calls in a row"),
    pytest.param({"function": "optimize_inference_model"}, """\
        def main():
            # optimize_inference_model(args.weights_path)
            return 0
        """, """\
        def main():
            optimize_inference_model(args.weights_path)
            return 0
        """, [(2, 1)], id="before a statement"),
]


class TestUncommentCall(CodemodTest):
    CODEMOD, PARAMS, NOOP, FIX = CODEMOD, PARAMS, NOOP, FIX

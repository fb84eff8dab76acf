"""Property tests: generated variants of each pattern are rewritten exactly as expected or refused, never mangled."""
from __future__ import annotations

import ast

from codemod_cases import run
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

IMPORTS = [("import tensorflow as tf", "tf"), ("import tensorflow.compat.v1 as tf", "tf"),
           ("import tensorflow as tflow", "tflow"), ("import tensorflow.compat.v1 as v1", "v1")]
SEP = st.sampled_from([", ", ",", " , ", ",\n    ", ",  # note\n    "])
PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def placeholder_case(draw):
    """(source, expected or None when the codemod must refuse)."""
    imported, alias = draw(st.sampled_from(IMPORTS + [("from tensorflow import placeholder", None),
                                                      ("import numpy as tf", "tf")]))
    func = f"{alias}.placeholder" if alias else "placeholder"
    h, w = draw(st.integers(1, 4096)), draw(st.integers(1, 4096))
    name = draw(st.sampled_from(["input_tensor", "input_tensor", "label"]))
    literal = draw(st.booleans())
    shape, fixed = (f"[1, {h}, {w}, 3]", "[1, None, None, 3]") if literal else ("size", "size")
    dtype = f"{alias or 'np'}.float32"
    style = draw(st.sampled_from(["keywords", "positional", "mixed"]))
    if style == "positional":
        args = [dtype, "{shape}", f"'{name}'"]
    elif style == "mixed":
        args = [dtype, "shape={shape}", f"name='{name}'"]
    else:
        args = draw(st.permutations([f"dtype={dtype}", "shape={shape}", f"name=\"{name}\""]))
    template = f"{imported}\n\n\nx = {func}({joined(draw, args)})  # input\n"
    source = template.replace("{shape}", shape)
    good = imported != "import numpy as tf" and name == "input_tensor" and literal
    return source, template.replace("{shape}", fixed) if good else None


def rewritten_or_refused(codemod: str, case, **params) -> None:
    """The codemod's output is exactly the expected text with one site, or the source with none."""
    source, expected = case
    code, sites = run(codemod, source, **params)
    ast.parse(code)
    if expected is None:
        assert (code, sites) == (source, [])
    else:
        assert code == expected and len(sites) == 1


def joined(draw, args) -> str:
    """Arguments joined by drawn separators (spaces, newlines, comments)."""
    return "".join(arg + (draw(SEP) if i < len(args) - 1 else "") for i, arg in enumerate(args))


@given(placeholder_case())
@PROPERTY
def test_placeholder_variants(case):
    rewritten_or_refused("open_placeholder", case, name="input_tensor", dims=[1, 2])


@st.composite
def resize_case(draw):
    imported, alias = draw(st.sampled_from(IMPORTS + [("from tensorflow.image import resize_bilinear", None)]))
    func = f"{alias}.image.resize_bilinear" if alias else "resize_bilinear"
    tensor = draw(st.sampled_from(["fine", "self.detail", "inputs['x']"]))
    keyword = draw(st.booleans())
    size = ("size=" if keyword else "") + "{size}"
    extra = draw(st.sampled_from([[], ["name='up'"], ["align_corners=False", "name='up'"]]))
    args = ["coarse", size, *extra]
    if keyword:
        args = [args[0], *draw(st.permutations(args[1:]))]
    cls = draw(st.sampled_from(["Agg", "Agg", "Other"]))
    template = (f"{imported}\n\n\nclass {cls}:\n    def __call__(self, coarse, fine):\n"
                f"        return {func}(\n            {joined(draw, args)})\n")
    source = template.replace("{size}", f"{tensor}.shape[1:3]")
    good = alias is not None and cls == "Agg"
    return source, template.replace("{size}", f"{alias}.shape({tensor})[1:3]") if good else None


@given(resize_case())
@PROPERTY
def test_resize_variants(case):
    rewritten_or_refused("dynamic_resize", case, scope="Agg", functions=["tensorflow.image.resize_bilinear"])


@st.composite
def commented_call_case(draw):
    indent = draw(st.sampled_from(["", "    "]))
    hash_ = draw(st.sampled_from(["# ", "#"]))
    inner = draw(st.sampled_from(["    ", "  ", "\t"]))
    args = draw(st.lists(st.sampled_from(["a=args.a", "b=1", "c=[1, 2]", "d='x'"]), min_size=1, max_size=3, unique=True))
    comma = draw(st.sampled_from(["", ","]))
    call = ["optimize_inference_model("] + [f"{inner}{a}," for a in args[:-1]] + [f"{inner}{args[-1]}{comma}", ")"]
    before = draw(st.sampled_from([[], ["# a note"], ["# optimize_inference_model is slow"]]))
    after = draw(st.sampled_from([[], ["# done"]]))
    head = "if __name__ == '__main__':\n    run()\n" if indent else "run()\n"
    lines = [f"{indent}{c}" for c in before] + [f"{indent}{hash_}{c}" for c in call] + [f"{indent}{c}" for c in after]
    source = head + "\n".join(lines) + "\n"
    fixed = [f"{indent}{c}" for c in before] + [f"{indent}{c}" for c in call] + [f"{indent}{c}" for c in after]
    return source, head + "\n".join(fixed) + "\n"


@given(commented_call_case())
@PROPERTY
def test_commented_call_variants(case):
    source, expected = case
    code, sites = run("uncomment_call", source, function="optimize_inference_model")
    assert code == expected and len(sites) == 1
    ast.parse(code)

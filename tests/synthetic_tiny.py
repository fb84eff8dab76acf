"""The second synthetic upstream and its recipe: patcher's worked example (patcher/examples), which
`patcher example DIR` writes for users; see that module for how it differs from tests/synthetic.py.

Used with its recipe to show that a recipe carries the whole model and the engine none, and that a recipe
can bring its own codemod.
"""
from __future__ import annotations

from patcher.examples import RECIPE, make_upstream

__all__ = ["RECIPE", "make_upstream"]

"""The recipe: everything about one upstream. Which codemods run, in which order, on which files, with
which parameters and site counts; and for each model how it is frozen, built, fed and read.

A recipe is checked when it loads: any unknown or missing field, codemod or parameter is one error
naming the file, the step or model and the field (exit 13). Its `[codemods]` table names codemod modules
of its own (patcher/codemods/__init__.py); installed packages add theirs through entry points.

The package's modules, one job each: data (the dataclasses), files (finding and reading a recipe, its
top-level tables), fields (a model's fields), steps (its codemods and steps), params (a codemod's
parameters against its annotations). The names other modules use are these.
"""
from patcher.recipe.data import Input, Model, Recipe, Step
from patcher.recipe.fields import inside
from patcher.recipe.files import SHIPPED, default, find, load, parse, shipped

__all__ = ["SHIPPED", "Input", "Model", "Recipe", "Step", "default", "find", "inside", "load", "parse", "shipped"]

"""Every error class lives in patcher/errors.py, and docs/reliability.md's table gives each its exit code."""
from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

from patcher import errors

ROOT = Path(__file__).resolve().parent.parent


def documented() -> dict[str, int]:
    """Class name -> code, from the rows `| CODE | `Name`, ... | meaning |` of the table."""
    found = {}
    for line in (ROOT / "docs/reliability.md").read_text(encoding="utf-8").splitlines():
        row = re.match(r"\| (\d+) \| ([^|]*) \|", line)
        if row:
            found.update({name: int(row[1]) for name in re.findall(r"`(\w+)`", row[2])})
    return found


def test_the_table_gives_each_error_class_its_code():
    classes = {name: cls.code for name, cls in vars(errors).items()
               if inspect.isclass(cls) and issubclass(cls, errors.PatcherError)}
    assert {"RecipeError", "LoadError", "NodeError", "PicturesError"} <= set(classes)
    assert documented() == classes


def test_no_error_class_is_defined_outside_errors_py():
    outside = []
    for path in (ROOT / "patcher").rglob("*.py"):
        if path.name == "errors.py" and path.parent.name == "patcher":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef) and any(
                    isinstance(b, ast.Name) and (b.id.endswith("Error") or b.id in vars(errors)) for b in node.bases):
                outside.append(f"{path.relative_to(ROOT)}: {node.name}")
    assert outside == []

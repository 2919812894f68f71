"""The house keeps its rooms small: no function in gradcli/ is over 120 lines.

Long functions were broken up (lowering, the parser's shunting-yard, the SymPy table);
this keeps them so.  The limit counts every line of the definition, docstring included.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "gradcli"
MAX_LINES = 120


def _functions() -> list[tuple[int, str]]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                found.append((lines, f"{path.relative_to(PACKAGE.parent)}:{node.lineno} {node.name}"))
    return found


def test_no_function_is_over_the_limit():
    long = sorted((n, where) for n, where in _functions() if n > MAX_LINES)
    assert not long, f"functions over {MAX_LINES} lines: {long}"


def test_the_check_can_fail():
    # the walk sees nested functions and methods too, and measures them
    assert any(n > 30 for n, _ in _functions())
    assert all(n >= 1 for n, _ in _functions())

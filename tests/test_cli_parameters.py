"""The command line's functions stay small: none under gradcli/cli/ takes more than 10
parameters.  A command receives its options as one record per command (eval's `EvalOptions`,
check's `CheckOptions`, ...), whose fields are exactly the command's declared parameters."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from gradcli.cli.check import CheckOptions
from gradcli.cli.commands import main
from gradcli.cli.descend import DescendOptions
from gradcli.cli.diff import DiffOptions
from gradcli.cli.evaluation import EvalOptions
from gradcli.cli.jacobian import MatrixOptions

CLI = Path(__file__).resolve().parent.parent / "gradcli" / "cli"
MAX_PARAMETERS = 10


def _parameters(source: str) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            a = node.args
            count = len(a.posonlyargs) + len(a.args) + len(a.kwonlyargs) + (a.vararg is not None) + (
                a.kwarg is not None)
            found.append((count, f"{node.name}:{node.lineno}"))
    return found


def test_no_function_under_cli_takes_more_than_ten_parameters():
    many = [(n, f"{path.name}:{where}") for path in sorted(CLI.glob("*.py"))
            for n, where in _parameters(path.read_text(encoding="utf-8")) if n > MAX_PARAMETERS]
    assert not many, f"functions with more than {MAX_PARAMETERS} parameters: {many}"


def test_the_parameter_count_can_fail():
    source = "def f(a, b, c, d, e, f, g, h, i, j, *k, l, **m):\n    pass\n"
    assert _parameters(source) == [(13, "f:1")]


@pytest.mark.parametrize("command, record", [
    ("eval", EvalOptions), ("jacobian", MatrixOptions), ("check", CheckOptions),
    ("descend", DescendOptions), ("diff", DiffOptions),
])
def test_each_record_has_exactly_its_commands_parameters(command, record):
    # a deprecated spelling's hidden option is folded into its option before the record is built
    declared = {p.name for p in main.commands[command].params if not p.name.endswith("_deprecated")}
    assert set(record.fields()) == declared


def test_hessian_shares_the_matrix_record_without_a_mode():
    assert set(MatrixOptions.fields()) - {p.name for p in main.commands["hessian"].params} == {"mode"}


def test_a_record_refuses_unknown_and_missing_fields():
    assert EvalOptions(args=("x",)).fmt is None and EvalOptions(args=("x",), fmt="json").fmt == "json"
    assert EvalOptions(args=("x",)) == EvalOptions(args=("x",)) != EvalOptions(args=("y",))
    with pytest.raises(TypeError, match="no field 'colour'"):
        EvalOptions(args=("x",), colour="red")
    with pytest.raises(TypeError, match="needs args"):
        EvalOptions()

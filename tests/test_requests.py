"""One typed request per command (gradcli/run/requests.py), built alike by the command line
and the API, validated once, and run by one pipeline into a typed report."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import gradcli
from gradcli.cli.evaluation import EvalOptions, eval_request
from gradcli.cli.jacobian import MatrixOptions, matrix_request
from gradcli.core.errors import UsageError
from gradcli.run import pipeline
from gradcli.run.reports import EvalReport, Explained
from gradcli.run.requests import Checks, EvaluateRequest, Explain, MatrixRequest, check_kinds, seconds, tolerance

PACKAGE = Path(__file__).resolve().parent.parent / "gradcli"


def test_the_command_line_and_the_api_build_the_same_evaluate_request():
    options = EvalOptions(args=("(a+b)*(b+1)", "a=3", "b=2"), check=("all",), rtol=1e-7, mode="forward",
                          seed_input="b", steps=True)
    request = eval_request(options)
    assert request.point.source == "(a+b)*(b+1)" and request.point.wrt is None
    assert {n: b.value for n, b in request.point.bindings.items()} == {"a": 3.0, "b": 2.0}
    assert request.checks == Checks(kinds=("sympy", "fd"), rtol=1e-7, atol=None, sympy_timeout=10.0)
    assert request.explain == Explain(steps=True)
    assert (request.mode, request.seed, request.resolved_mode) == ("forward", "b", "forward")
    report = pipeline.evaluate(request)
    assert isinstance(report, EvalReport) and report.explained.shown() == ["forward_steps"]
    api = gradcli.evaluate("(a+b)*(b+1)", a=3, b=2, mode="forward", seed="b")
    api.check("all", rtol=1e-7)
    from gradcli.output.documents import dumps, to_json

    assert api.to_json() == dumps(to_json(EvalReport(evaluation=report.evaluation, checks=report.checks)))


def test_matrix_requests_from_the_command_line_and_the_api_agree():
    request = matrix_request("jacobian", MatrixOptions(args=("softmax(z)", "z=[1,2,3]"), mode="both"))
    assert request.kind == "jacobian" and request.mode == "both" and request.checks == Checks()
    report = pipeline.matrix(pipeline.matrix_evaluation(request), request)
    api = gradcli.jacobian("softmax(z)", z=[1, 2, 3], mode="both")
    assert api.mode == report.matrix.mode == "both"
    assert api.data.tolist() == [[float(v) for v in row] for row in report.matrix.data]


@pytest.mark.parametrize("kinds, expected", [
    ((), ()), (("fd",), ("fd",)), (("all",), ("sympy", "fd")), (("fd", "sympy", "fd"), ("sympy", "fd")),
])
def test_check_kinds_are_read_once_in_the_order_they_run(kinds, expected):
    assert check_kinds(kinds) == expected


@pytest.mark.parametrize("call, message", [
    (lambda: check_kinds(["magic"]), "unknown check 'magic'"),
    (lambda: check_kinds([3]), "a check's kind must be a string"),
    (lambda: tolerance(-1, "rtol"), "rtol must be a non-negative number"),
    (lambda: tolerance(float("nan"), "atol"), "atol must be a non-negative number"),
    (lambda: tolerance(True, "rtol"), "rtol must be a non-negative number"),
    (lambda: seconds(0), "sympy_timeout must be a positive number"),
    (lambda: EvaluateRequest(point=None, mode="sideways").validated(), "mode must be 'reverse' or 'forward'"),
    (lambda: EvaluateRequest(point=None, mode="reverse", seed="b").validated(), "forward-mode tangent pass"),
    (lambda: EvaluateRequest(point=None, mode="forward", seed_output=1.0).validated(), "seed_output is for reverse"),
    (lambda: EvaluateRequest(point=None, seed=3).validated(), "seed must be an input's name"),
    (lambda: MatrixRequest(point=None, kind="hessian", mode="forward").validated(), "mode must be 'reverse'"),
])
def test_values_are_validated_in_one_place(call, message):
    with pytest.raises(UsageError, match=message):
        call()


def test_the_api_and_the_command_line_refuse_alike():
    """The same validation, reached from both faces (the CLI's flags meet the conflict table first)."""
    with pytest.raises(UsageError, match="unknown check 'magic'"):
        gradcli.evaluate("a*b", a=1, b=2).check("magic")
    with pytest.raises(UsageError, match="unknown check 'magic'"):
        eval_request(EvalOptions(args=("a*b", "a=1", "b=2"), check=("magic",)))
    with pytest.raises(UsageError, match="rtol must be a non-negative number"):
        gradcli.judge("a", a=1, expect={"a": 1}, rtol=-1)
    with pytest.raises(UsageError, match="rtol must be a non-negative number"):
        eval_request(EvalOptions(args=("a", "a=1"), rtol=-1.0))


def test_explained_is_typed_and_shown_in_one_order():
    assert Explained().shown() == []
    both = Explained(latex={"a": "x"}, steps=True, exact=object(), edges=True, jacobians=True)
    assert both.shown() == ["steps", "edges", "exact", "latex"]
    with pytest.raises(TypeError, match="no field 'colour'"):
        Explained(colour="red")


def test_no_untyped_extras_remain():
    """`Evaluation.extras` carried flags and results from cli/ into output/ untyped: it is gone."""
    found = [f"{path.relative_to(PACKAGE)}:{node.lineno}" for path in sorted(PACKAGE.rglob("*.py"))
             for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
             if isinstance(node, ast.Attribute) and node.attr == "extras"]
    assert found == []


def test_the_new_api_functions_print_what_their_commands_print():
    script = gradcli.export("(a+b)*(b+1)", a=3, b=2, to="torch")
    assert "torch" in script and script.startswith('"""')
    run = gradcli.descend("(x-3)^2", x=0, lr=0.25, updates=3)
    assert run.stopped == "steps" and run.losses[0] == (0, 9.0) and run.final["x"] == pytest.approx(2.625)
    derivation = gradcli.diff("(a+b)*(b+1)")
    assert derivation.gradient == {"a": "b + 1", "b": "a + 2*b + 1"}
    matrix = gradcli.hessian("x^2*y", x=1, y=2).check("fd")
    assert matrix.ok and '"checks"' in matrix.to_json()
    with pytest.raises(UsageError, match="target must be"):
        gradcli.export("a", a=1, to="fortran")
    with pytest.raises(UsageError, match="updates must be a whole number"):
        gradcli.descend("x^2", x=1, updates=-1)


def test_a_record_s_dict_and_list_defaults_are_its_own():
    from gradcli.run.requests import JudgeRequest

    one, two = JudgeRequest(point=None), JudgeRequest(point=None)
    one.expect["a"] = (1.0, "1")
    assert two.expect == {} and JudgeRequest.expect == {} and EvalReport(evaluation=None).checks == []

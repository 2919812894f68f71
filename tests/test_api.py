"""The public Python API: the worked examples, every sample against the CLI's JSON,
errors, and the autograder example of the docs (run as written)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import gradcli
from clitools import ENV, run_cli
from test_samples import FILES, directives

ROOT = Path(__file__).resolve().parent.parent


def test_the_lecture_example():
    r = gradcli.evaluate("(a+b)*(b+1)", a=3, b=2)
    assert r.value == 15.0
    assert r.gradient == {"a": 3.0, "b": 8.0}
    assert (r.adjoint("c"), r.adjoint("d"), r.adjoint("e")) == (3.0, 5.0, 1.0)
    assert (r.value_of("c"), r.value_of("d")) == (5.0, 3.0)
    assert [n.name for n in r.nodes] == ["a", "b", "c", "", "d", "e"]
    c = r.nodes[2]
    assert (c.op, c.inputs, c.expr, c.value, c.adjoint) == ("add", (0, 1), "a + b", 5.0, 3.0)
    assert r.output == "e" and r.inputs == ["a", "b"]


def test_bindings_as_a_mapping_and_the_max_example():
    r = gradcli.evaluate("f = (x+y)*max(y,z)", {"x": 1, "y": 2, "z": 0})
    assert r.value == 6.0 and r.gradient == {"x": 2.0, "y": 5.0, "z": 0.0}


def test_values_as_expressions_lists_tuples_and_numpy():
    r = gradcli.evaluate("s = dot(u, sigmoid(W@x + b))", u=[0.3, -0.2, 0.5],
                         W=np.array([[0.1, 0.2], [-0.3, 0.4], [0.5, -0.6]]), x=(1, 2), b="[0, 1/10, -1/10]")
    z = np.array([[0.1, 0.2], [-0.3, 0.4], [0.5, -0.6]]) @ np.array([1.0, 2.0]) + np.array([0, 0.1, -0.1])
    h = 1 / (1 + np.exp(-z))
    delta = np.array([0.3, -0.2, 0.5]) * h * (1 - h)
    assert isinstance(r.gradient["W"], np.ndarray)
    np.testing.assert_allclose(r.gradient["W"], np.outer(delta, [1.0, 2.0]), rtol=1e-12)
    np.testing.assert_allclose(r.gradient["b"], delta, rtol=1e-12)
    assert r.value == pytest.approx(float(np.dot([0.3, -0.2, 0.5], h)), rel=1e-12)


def test_forward_mode_and_seeds():
    r = gradcli.evaluate("(a+b)*(b+1)", a=3, b=2, mode="forward", seed="b")
    assert r.gradient == {"b": 8.0}
    v = gradcli.evaluate("W@x", W=[[1, 2], [3, 4]], x=[1, 1], seed_output=[1, 0])
    np.testing.assert_array_equal(v.gradient["x"], [1.0, 2.0])


def test_wrt_and_output():
    r = gradcli.evaluate("c = a*b; d = c + a", a=2, b=5, wrt="b", output="c")
    assert r.gradient == {"b": 2.0}
    assert r.value == 10.0


def test_checks_report_per_input():
    r = gradcli.evaluate("y = x*exp(x^2)", x=0.5)
    report = r.check("fd", "sympy")
    assert set(report) == {"fd", "sympy"}
    for kind in report:
        entry = report[kind]["x"]
        assert entry.ok is True and entry.status == "ok"
        assert entry.estimate == pytest.approx(r.gradient["x"], rel=1e-8)
    assert r.ok
    doc = r.to_dict()
    assert set(doc["checks"]) == {"fd", "sympy"} and doc["ok"] is True


def test_a_kink_is_reported_not_failed():
    r = gradcli.evaluate("relu(x)", x=0)
    entry = r.check("fd")["fd"]["x"]
    assert entry.status == "kink" and entry.ok is not False
    assert any("kink" in w or "not differentiable" in w for w in r.warnings)


def test_jacobian_and_hessian():
    J = gradcli.jacobian("W@x", W=[[1, 2], [3, 4]], x=[5, 6])
    assert J.data.shape == (2, 6)
    assert J["c[0]" if "c[0]" in J.rows else J.rows[0], "x[1]"] == 2.0
    np.testing.assert_array_equal(J.data[:, 4:], [[1, 2], [3, 4]])
    assert J.kind == "jacobian" and J.passes == 2
    assert gradcli.jacobian("W@x", W=[[1, 2], [3, 4]], x=[5, 6], mode="forward").data.tolist() == J.data.tolist()
    H = gradcli.hessian("x^2*y", x=1, y=2)
    assert H.data.tolist() == [[4.0, 2.0], [2.0, 0.0]]
    assert H.rows == H.columns == ["x", "y"]


def test_judge_numbers_and_formulas():
    j = gradcli.judge("(a+b)*(b+1)", a=3, b=2, expect={"a": 3, "b": 7}, expect_value=15,
                      expect_formula={"b": "a + 2*b + 1"})
    by = {v.question: v for v in j.verdicts}
    assert by["value"].ok is True and by["a"].ok is True and by["b"].ok is False
    assert by["formula b"].ok is True
    assert not j.ok and j.score == 3
    doc = json.loads(j.to_json())
    assert doc["ok"] is False


@pytest.mark.parametrize("call, kind, message", [
    (lambda: gradcli.evaluate("(a+", a=1), gradcli.ParseError, "expected an expression"),
    (lambda: gradcli.evaluate("a*b", a=1), gradcli.UsageError, "missing value for input b"),
    (lambda: gradcli.evaluate("log(a)", a=-1), gradcli.MathError, "log"),
    (lambda: gradcli.evaluate("W@x", W=[[1, 2]], x=[1, 2, 3]), gradcli.ShapeError, ""),
    (lambda: gradcli.evaluate("a", a=True), gradcli.UsageError, "not a number"),
    (lambda: gradcli.evaluate("a", a=[[1, 2], [3]]), gradcli.UsageError, "rectangular"),
    (lambda: gradcli.evaluate("a", a={"x": 1}), gradcli.UsageError, "expected a number"),
    (lambda: gradcli.evaluate("a", a=float("nan")), gradcli.UsageError, "NaN"),
    (lambda: gradcli.evaluate("a", {"a": 1}, a=2), gradcli.UsageError, "bound twice"),
    (lambda: gradcli.evaluate("a", a=1, mode="sideways"), gradcli.UsageError, "mode"),
    (lambda: gradcli.evaluate("a*b", a=1, b=2).adjoint("zz"), gradcli.UsageError, "not a step"),
    (lambda: gradcli.evaluate("a", a=1).check("magic"), gradcli.UsageError, "unknown check"),
    (lambda: gradcli.judge("a", a=1), gradcli.UsageError, "nothing to judge"),
])
def test_errors_are_the_cli_s_typed_errors(call, kind, message):
    with pytest.raises(kind) as info:
        call()
    assert isinstance(info.value, gradcli.GradcliError)
    assert message in info.value.message
    assert int(info.value.exit_status) in (2, 3)


def test_parse_errors_point_at_the_column():
    with pytest.raises(gradcli.ParseError) as info:
        gradcli.evaluate("(a+", a=1)
    assert info.value.line_col == (1, 4)
    assert "column 4" in info.value.render()


def _sample_bindings(path: Path) -> tuple[dict, list[str]]:
    spec = directives(path)
    args = spec["bind"]
    if args[0] == "--vars":
        return json.loads(Path(args[1]).read_text()), args
    return {k: v for k, _, v in (a.partition("=") for a in args)}, args


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_sample_gives_the_cli_s_json(path):
    bindings, args = _sample_bindings(path)
    spec = directives(path)
    program = path.read_text(encoding="utf-8")
    r = gradcli.evaluate(program, bindings, output=spec["output"])
    cli_args = ["eval", "-f", str(path), *args, "--json"]
    if spec["output"]:
        cli_args += ["--output", spec["output"]]
    result = run_cli(cli_args)
    assert result.exit_code == 0, result.stderr
    assert r.to_json() + "\n" == result.stdout
    doc = json.loads(result.stdout)
    assert r.value == pytest.approx(doc["value"], rel=0, abs=0)
    for name, g in r.gradient.items():
        np.testing.assert_array_equal(np.asarray(g, dtype=float), np.asarray(doc["gradient"][name], dtype=float))
        expected = spec["grad"].get(name)
        if expected is not None:
            np.testing.assert_allclose(np.asarray(g), np.asarray(expected, dtype=float), rtol=1e-9, atol=1e-12)


def test_jacobian_and_hessian_json_match_the_cli():
    J = gradcli.jacobian("W@x", W=[[1, 2], [3, 4]], x=[5, 6])
    assert J.to_json() + "\n" == run_cli(["jacobian", "W@x", "W=[[1,2],[3,4]]", "x=[5,6]", "--json"]).stdout
    H = gradcli.hessian("x^2*y", x=1, y=2)
    assert H.to_json() + "\n" == run_cli(["hessian", "x^2*y", "x=1", "y=2", "--json"]).stdout


def test_importing_gradcli_does_not_load_the_api_or_heavy_libraries():
    code = ("import sys, gradcli; "
            "print(sorted(m for m in ('gradcli.api', 'numpy', 'sympy', 'click', 'rich') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=None)
    assert out.stdout.strip() == "[]"


def test_every_public_name_is_exported_and_documented():
    for name in gradcli.__all__:
        obj = getattr(gradcli, name)
        if callable(obj) and name != "__version__":
            assert obj.__doc__, f"gradcli.{name} has no docstring"
    assert "evaluate" in dir(gradcli)
    with pytest.raises(AttributeError):
        gradcli.no_such_thing  # noqa: B018


def test_the_package_is_typed():
    assert (ROOT / "gradcli" / "py.typed").exists()


@pytest.mark.slow
def test_the_docs_autograder_example_runs(tmp_path):
    """The how-to "pytest and notebooks" holds a pytest file; it runs and passes."""
    section = (ROOT / "docs" / "howto" / "pytest-and-notebooks.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    grader = [b for b in blocks if "def test_" in b]
    assert grader, "the pytest how-to has no pytest example"
    (tmp_path / "test_autograder.py").write_text(grader[0], encoding="utf-8")
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
                         capture_output=True, text=True, cwd=tmp_path, env={**_env(), "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stdout + out.stderr
    assert re.search(r"\b\d+ passed\b", out.stdout)
    for block in blocks:  # the other examples run too
        if block not in grader:
            subprocess.run([sys.executable, "-c", block], check=True, capture_output=True, cwd=tmp_path,
                           env={**_env(), "PYTHONPATH": str(ROOT)})


def _env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k not in ENV or ENV[k] is not None}

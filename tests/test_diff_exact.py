"""gradcli diff writes irrational constants exactly (issue 22): log(10), log(2), sqrt(pi),
never a 15-digit fraction; the formula evaluates to the engine's gradient."""

from __future__ import annotations

import json
import re

import pytest

from clitools import run_cli


def _formula(program: str) -> str:
    result = run_cli(["diff", program])
    assert result.exit_code == 0, result.stderr
    return result.stdout.strip().splitlines()[-1].split(" = ", 1)[1]


@pytest.mark.parametrize("program, constant", [
    ("log10(x^2 + 1)", "log(10)"), ("log2(x)*x", "log(2)"), ("erf(x^2)", "sqrt(pi)"), ("gelu(x)", "sqrt(pi)"),
])
def test_irrational_constants_are_exact(program, constant):
    formula = _formula(program)
    assert constant in formula, formula
    assert not re.search(r"\d{8,}", formula), formula  # no long fraction standing in for a constant
    at = run_cli(["eval", formula, "x=0.7", "--json"])
    assert at.exit_code == 0, at.stderr
    truth = json.loads(run_cli(["eval", program, "x=0.7", "--json"]).stdout)["gradient"]["x"]
    assert json.loads(at.stdout)["value"] == pytest.approx(truth, rel=1e-12)


def test_plain_decimals_stay_fractions():
    assert _formula("0.1*x^2") == "x/5"


@pytest.mark.parametrize("program, compact", [
    ("elu(x)", "where(x > 0, 1, exp(x))"),
    ("elu(x, 2)", "where(x > 0, 1, 2*exp(x))"),
    ("relu(x)*x", "2*x*(x > 0)"),
])
def test_piecewise_derivatives_are_compact(program, compact):
    assert _formula(program) == compact


@pytest.mark.parametrize("program", ["elu(x)", "elu(x, 2)", "relu(x)*x", "elu(x)*x + relu(x - 1)^2"])
@pytest.mark.parametrize("x", ["-0.5", "0", "1", "0.7"])
def test_compact_forms_agree_with_the_engine_at_the_kink_too(program, x):
    formula = _formula(program)
    at = run_cli(["eval", formula, f"x={x}", "--json"])
    assert at.exit_code == 0, at.stderr
    truth = json.loads(run_cli(["eval", program, f"x={x}", "--json"]).stdout)["gradient"]["x"]
    assert json.loads(at.stdout)["value"] == pytest.approx(truth, rel=1e-12, abs=1e-15)


def test_scalar_programs_with_named_steps_get_formulas_in_the_steps():
    result = run_cli(["diff", "-f", "samples/tiny_net.grad", "--wrt", "w11,x1", "--json"])
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["gradient"]["w11"] == "h1*v1*x1*(1 - h1)*(o - t)"  # the notes' (o - t)*v1*h1*(1 - h1)*x1
    assert "h1 = sigmoid(a1)" in doc["where"]
    point = dict(p.split("=") for p in
                 "x1=0.5 x2=-1 w11=0.15 w12=-0.25 b1=0.1 w21=0.4 w22=0.3 b2=-0.2 v1=0.7 v2=-0.5 c=0.05 t=1".split())
    truth = json.loads(run_cli(["eval", "-f", "samples/tiny_net.grad", "--json"]).stdout)["gradient"]
    for name in ("w11", "x1"):
        program = "; ".join(doc["where"]) + "; " + doc["gradient"][name]
        got = run_cli(["eval", program, *(f"{k}={v}" for k, v in point.items()), "--json"])
        assert got.exit_code == 0, got.stderr
        assert json.loads(got.stdout)["value"] == pytest.approx(truth[name], rel=1e-12)
    expanded = json.loads(run_cli(["diff", "-f", "samples/tiny_net.grad", "--wrt", "w11", "--expand",
                                   "--json"]).stdout)
    assert "where" not in expanded and "exp(" in expanded["gradient"]["w11"]

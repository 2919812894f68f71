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

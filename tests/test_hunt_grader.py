"""Bug hunt on the grader: `gradcli check`, class gradebooks and `gradcli.judge` against
independent references (hand-derived or SymPy-built derivatives, rounding done here), and
against each other (the same answer through every door gets the same verdict).

Each regression test names the bug it pins; the property tests draw bounded examples.
"""

from __future__ import annotations

import json

import gradcli
from clitools import run_cli, strict_json


def _judge(program: str, **kwargs):
    return gradcli.judge(program, **kwargs).verdicts[0]


# ---- diagnoses -----------------------------------------------------------------------------
def test_a_step_using_its_argument_twice_is_not_diagnosed_as_a_path_missing_from_itself():
    """x*x at x = 3 with 3 (one use followed): the two paths x → a are the same steps, so
    "you have only the path x → a; the path x → a is missing" said nothing; the uses do."""
    for program, wrong in (("x*x", 3), ("x+x", 1)):
        v = _judge(program, x=3, expect={"x": wrong})
        assert v.ok is False
        assert v.mistake == "fan-out", v.diagnosis
        assert "twice" in v.diagnosis and "x → a is missing" not in v.diagnosis
    # a path through the same steps twice is said once, with "twice"
    v = _judge("x*x + sin(x)", x=3, expect={"x": 6})
    assert v.mistake == "fan-out"
    assert "only the paths x → a → c twice; the path x → b → c is missing" in v.diagnosis


# ---- formulas that do not parse --------------------------------------------------------------
def test_a_formula_that_does_not_parse_says_where_through_every_door(tmp_path):
    """The parse error's column was dropped: "does not parse: unmatched ')'" alone."""
    v = _judge("x*x", x=3, expect_formula={"x": "2*x )"})
    assert (v.ok, v.status, v.note) == (False, "invalid", "does not parse at column 5: unmatched ')'")
    v = _judge("x*x", x=3, expect_formula={"x": "2*x\n)"})
    assert v.note.startswith("does not parse at line 2, column 1: ")
    result = run_cli(["check", "x*x", "x=3", "--expect-formula", "x=2*x )", "--json"])
    assert result.exit_code == 1 and result.stderr == ""
    assert strict_json(result.stdout)["verdicts"][0]["how"] == "does not parse at column 5: unmatched ')'"
    sheet = tmp_path / "class.csv"
    sheet.write_text('id,formula:x\ns1,"2*x )"\n', encoding="utf-8")
    result = run_cli(["check", "x*x", "x=3", "--answers", str(sheet), "--json"])
    assert result.exit_code == 0, result.stderr
    [row] = strict_json(result.stdout)["students"]
    assert "does not parse at column 5: unmatched ')'" in json.dumps(row, ensure_ascii=False)

"""`gradcli check`: judging a student's numbers, formulas and a whole class's CSV.

Every expected derivative here is worked out by hand (or by SymPy inside the test),
never taken from gradcli.  Every invocation checks the exit status, stdout and stderr.
"""

from __future__ import annotations

import csv
import io

import pytest
import sympy as sp
from click.testing import Result


from clitools import run_cli, strict_json, usage_error

LECTURE = "(a+b)*(b+1)"  # a=3 b=2: e = 15, ∂e/∂a = b+1 = 3, ∂e/∂b = (b+1)+(a+b) = 8
MAXPROG = "(x+y)*max(y,z)"  # x=1 y=2 z=0: value 6, ∂x = max(y,z) = 2, ∂y = max + (x+y) = 5, ∂z = 0

COLUMNS = 250  # wide enough that no table wraps


def invoke(*args: str, input=None) -> Result:
    return run_cli(["check", *args], input=input, columns=COLUMNS)


def rows(text: str) -> dict[str, list[str]]:
    """The rows of the ✓/✗ table, keyed by the question cell."""
    out = {}
    for line in text.splitlines():
        if line.startswith("|") and not line.startswith("|-"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if cells[0] != "question":
                out[cells[0]] = cells
    return out


# ---- numbers -----------------------------------------------------------------------
def test_all_right_exit_0():
    result = invoke(MAXPROG, "x=1", "y=2", "z=0", "--expect", "x=2", "--expect", "y=5")
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    assert "2 of 2 right" in result.stdout
    table = rows(result.stdout)
    assert table["∂c/∂x"][1:3] == ["2", "✓"]
    assert table["∂c/∂y"][1:3] == ["5", "✓"]
    assert "✗" not in result.stdout
    assert "--reveal" not in result.stdout  # nothing to reveal when all are right


def test_wrong_answer_hidden_without_reveal():
    result = invoke(MAXPROG, "x=1", "y=2", "z=0", "--expect", "x=2", "--expect", "y=4")
    assert result.exit_code == 1
    assert result.stderr == ""
    assert "1 of 2 right" in result.stdout
    table = rows(result.stdout)
    assert table["∂c/∂y"][1:3] == ["4", "✗"]
    assert table["∂c/∂x"][1:3] == ["2", "✓"]
    header = next(line for line in result.stdout.splitlines() if line.startswith("| question"))
    assert "right answer" not in header
    assert "5" not in "".join(table["∂c/∂y"])  # the truth (5) is nowhere in the row
    assert "(--reveal shows the right answers)" in result.stdout


def test_wrong_answer_shown_with_reveal():
    result = invoke(MAXPROG, "x=1", "y=2", "z=0", "--expect", "x=2", "--expect", "y=4", "--reveal")
    assert result.exit_code == 1
    assert result.stderr == ""
    table = rows(result.stdout)
    assert table["∂c/∂y"][:4] == ["∂c/∂y", "4", "✗", "5"]
    assert table["∂c/∂x"][:4] == ["∂c/∂x", "2", "✓", "2"]
    assert "1 of 2 right" in result.stdout
    assert "(--reveal shows" not in result.stdout


def test_constant_expression_answers():
    # a*b at a=1/3, b=3: ∂/∂a = b = 3, ∂/∂b = a = 1/3 exactly
    result = invoke("a*b", "a=1/3", "b=3", "--expect", "a=9/3", "--expect", "b=1/3")
    assert result.exit_code == 0, result.stdout
    assert result.stderr == ""
    assert "2 of 2 right" in result.stdout
    # sin(x) at pi/4: ∂ = cos(pi/4) = sqrt(2)/2, value 1/sqrt(2)
    result = invoke("sin(x)", "x=pi/4", "--expect", "x=sqrt(2)/2", "--expect-value", "1/sqrt(2)")
    assert result.exit_code == 0, result.stdout
    assert result.stderr == ""
    assert "2 of 2 right" in result.stdout


def test_a_rounded_fraction_is_right_to_its_digits_unless_a_tolerance_is_given():
    # 1/3 to 5 digits (0.33333) is right at rtol 1e-4; 0.333 is right to the 3 digits written...
    ok = invoke("a*b", "a=1/3", "b=3", "--expect", "b=0.33333")
    assert ok.exit_code == 0 and ok.stderr == "" and "1 of 1 right" in ok.stdout
    three = invoke("a*b", "a=1/3", "b=3", "--expect", "b=0.333")
    assert three.exit_code == 0 and three.stderr == "" and "right to the significant digits written" in three.stdout
    # ...but a grader's explicit tolerance alone judges: 0.333 is off by 1e-3 relative
    bad = invoke("a*b", "a=1/3", "b=3", "--expect", "b=0.333", "--rtol", "1e-4")
    assert bad.exit_code == 1 and bad.stderr == "" and "0 of 1 right" in bad.stdout
    # two digits are too few, and say so
    few = invoke("a*b", "a=1/3", "b=3", "--expect", "b=0.33")
    assert few.exit_code == 1 and "too few digits: 2 significant digits written, at least 3" in few.stdout


def test_array_answers_for_tensor_inputs():
    # sum(W@x) = Σ_ij W_ij x_j: ∂/∂W_ij = x_j, ∂/∂x_j = Σ_i W_ij
    args = ("sum(W@x)", "W=[[1,2],[3,4]]", "x=[1,2]")
    result = invoke(*args, "--expect", "W=[[1,2],[1,2]]", "--expect", "x=[4,6]")
    assert result.exit_code == 0, result.stdout
    assert result.stderr == ""
    assert "2 of 2 right" in result.stdout
    wrong = invoke(*args, "--expect", "W=[[1,2],[2,1]]", "--expect", "x=[4,6]", "--json")
    assert wrong.exit_code == 1 and wrong.stderr == ""
    verdicts = {v["question"]: v for v in strict_json(wrong.stdout)["verdicts"]}
    assert verdicts["W"]["ok"] is False and verdicts["x"]["ok"] is True
    assert verdicts["W"]["answer"] == [[1, 2], [2, 1]]


def test_array_answer_with_constant_expressions():
    # dot(v,v)/2: gradient v = [1/3, 2]
    result = invoke("dot(v,v)/2", "v=[1/3,2]", "--expect", "v=[1/3, 4/2]")
    assert result.exit_code == 0 and result.stderr == ""
    assert "1 of 1 right" in result.stdout


def test_array_answer_of_the_wrong_shape_is_wrong():
    result = invoke("sum(W@x)", "W=[[1,2],[3,4]]", "x=[1,2]", "--expect", "W=[1,2]")
    assert result.exit_code == 1
    assert result.stderr == ""
    table = rows(result.stdout)
    assert table["∂b/∂W"][2] == "✗"
    assert "expected shape (2, 2)" in result.stdout


def test_expect_value():
    ok = invoke(LECTURE, "a=3", "b=2", "--expect-value", "15")
    assert ok.exit_code == 0 and ok.stderr == ""
    assert rows(ok.stdout)["e"][1:3] == ["15", "✓"]
    assert "Answers for e = 15" in ok.stdout
    bad = invoke(LECTURE, "a=3", "b=2", "--expect-value", "16")
    assert bad.exit_code == 1 and bad.stderr == ""
    assert rows(bad.stdout)["e"][1:3] == ["16", "✗"]


def test_expect_value_for_a_vector_output():
    result = invoke("W@x", "W=[[1,2],[3,4]]", "x=[1,2]", "--expect-value", "[5,11]")
    assert result.exit_code == 0 and result.stderr == ""
    assert "1 of 1 right" in result.stdout


# ---- tolerances ----------------------------------------------------------------------
@pytest.mark.parametrize(
    "answer, extra, code",
    [
        (8 * (1 + 1e-6), (), 0),  # off by 1e-6 relative: right at the default rtol 1e-4
        (8 * (1 - 1e-6), (), 0),
        (8 * (1 + 1e-3), (), 1),  # off by 1e-3: wrong
        (8 * (1 - 1e-3), (), 1),
        (8 * (1 + 1e-3), ("--rtol", "1e-2"), 0),  # a wider rtol accepts it
        (8 * (1 + 1e-3), ("--atol", "0.01"), 0),  # 0.008 ≤ 0.01 + 1e-4·8
        (8 * (1 + 1e-6), ("--rtol", "0", "--atol", "0"), 1),  # zero tolerance: only 8 itself
        (8.0, ("--rtol", "0", "--atol", "0"), 0),
    ],
)
def test_tolerances(answer, extra, code):
    result = invoke(LECTURE, "a=3", "b=2", "--expect", f"b={answer!r}", *extra)
    assert result.exit_code == code, result.stdout
    assert result.stderr == ""
    assert rows(result.stdout)["∂e/∂b"][2] == ("✓" if code == 0 else "✗")


def test_tolerance_is_stated():
    result = invoke(LECTURE, "a=3", "b=2", "--expect", "a=3", "--rtol", "0.5", "--atol", "0.25")
    assert result.exit_code == 0 and result.stderr == ""
    assert "numbers are right within rtol 0.5, atol 0.25\n" in result.stdout
    doc = strict_json(invoke(LECTURE, "a=3", "b=2", "--expect", "a=3", "--json").stdout)
    assert doc["tolerance"] == {"rtol": 1e-4, "atol": 1e-8, "min_digits": 3, "explicit": False}
    default = invoke(LECTURE, "a=3", "b=2", "--expect", "a=3")
    assert "numbers are right to the digits written (at least 3) or within rtol 0.0001, atol 1e-08" in default.stdout


# ---- formulas ------------------------------------------------------------------------
def _truth_equals(truth_text: str, expected) -> bool:
    x = sp.Symbol("x")
    return sp.simplify(sp.sympify(truth_text, locals={"x": x}) - expected) == 0


def test_formula_equivalent():
    result = invoke("x*exp(x^2)", "x=0.5", "--expect-formula", "x=exp(x^2)*(1+2*x^2)", "--sympy-timeout", "60",
                    "--prove")
    assert result.exit_code == 0, result.stdout
    assert result.stderr == ""
    row = rows(result.stdout)["∂c/∂x (formula)"]
    assert row[1:3] == ["exp(x^2)*(1+2*x^2)", "✓"]
    assert "equivalent: SymPy simplifies the difference to 0" in result.stdout
    # without --prove, the values at the point and at chosen points judge it (no SymPy)
    quick = invoke("x*exp(x^2)", "x=0.5", "--expect-formula", "x=exp(x^2)*(1+2*x^2)")
    assert quick.exit_code == 0 and "equal to the derivative at the point and at 12 other points" in quick.stdout


def test_formula_equivalent_json_reveals_sympy_truth():
    result = invoke("x*exp(x^2)", "x=0.5", "--expect-formula", "x=(2*x^2+1)*exp(x*x)",
                    "--json", "--reveal", "--sympy-timeout", "60")
    assert result.exit_code == 0 and result.stderr == ""
    doc = strict_json(result.stdout)
    (v,) = doc["verdicts"]
    assert v["question"] == "formula x" and v["ok"] is True and v["answer"] == "(2*x^2+1)*exp(x*x)"
    x = sp.Symbol("x")
    assert _truth_equals(v["truth"], sp.diff(x * sp.exp(x**2), x))


def test_formula_wrong_differs_at_random_points():
    result = invoke("x*exp(x^2)", "x=0.5", "--expect-formula", "x=exp(x^2)*(1+x^2)", "--sympy-timeout", "60")
    assert result.exit_code == 1
    assert result.stderr == ""
    row = rows(result.stdout)["∂c/∂x (formula)"]
    assert row[2] == "✗"
    assert "differs from the derivative at the point" in result.stdout
    assert "0 of 1 right" in result.stdout


def test_formula_that_does_not_parse_is_a_wrong_answer():
    result = invoke("x*exp(x^2)", "x=0.5", "--expect-formula", "x=exp(x^2)*(1+", "--sympy-timeout", "60")
    assert result.exit_code == 1
    assert result.stderr == ""
    row = rows(result.stdout)["∂c/∂x (formula)"]
    assert row[1:3] == ["exp(x^2)*(1+", "✗"]
    assert "does not parse" in result.stdout


def test_formula_with_unknown_names_is_a_wrong_answer():
    result = invoke("x*exp(x^2)", "x=0.5", "--expect-formula", "x=exp(y^2)", "--sympy-timeout", "60")
    assert result.exit_code == 1
    assert result.stderr == ""
    assert rows(result.stdout)["∂c/∂x (formula)"][2] == "✗"
    assert "uses names the program does not have: y" in result.stdout


def test_formula_for_a_name_that_is_not_an_input():
    usage_error(invoke("x*exp(x^2)", "x=0.5", "--expect-formula", "q=exp(x^2)"), "--expect-formula q", "inputs: x")


def test_formula_needs_name_and_expression():
    usage_error(invoke("x*exp(x^2)", "x=0.5", "--expect-formula", "x="), "--expect-formula")


def test_numbers_and_formulas_together():
    # (x+y)*max(y,z): ∂x = max(y,z); value 6
    result = invoke(MAXPROG, "x=1", "y=2", "z=0", "--expect-value", "6", "--expect", "z=1",
                    "--expect-formula", "x=max(y,z)", "--sympy-timeout", "60")
    assert result.exit_code == 1
    assert result.stderr == ""
    assert "2 of 3 right" in result.stdout
    table = rows(result.stdout)
    assert table["c"][2] == "✓" and table["∂c/∂z"][2] == "✗" and table["∂c/∂x (formula)"][2] == "✓"


# ---- a class's answers -----------------------------------------------------------------
ANSWERS = (
    "id,d/da,b,value\n"
    "alice,3,8,15\n"
    "bob,3,5,\n"
    "carol,abc,8.00001,15\n"
    "dave,9/3,7.99,14\n"
)
#: by hand: ∂e/∂a = 3, ∂e/∂b = 8, e = 15
GRADEBOOK = {
    "alice": (["right", "right", "right"], "3"),
    "bob": (["right", "wrong", "missing"], "1"),
    "carol": (["invalid", "right", "right"], "2"),
    "dave": (["right", "wrong", "wrong"], "1"),  # 7.99 is not 8 to 3 digits
}


def _check_gradebook(text: str) -> None:
    reader = csv.reader(io.StringIO(text))
    header = next(reader)
    assert header == ["id", "d/da", "d/da verdict", "b", "b verdict", "value", "value verdict", "score", "out_of"]
    got = {}
    for row in reader:
        verdicts = [row[2], row[4], row[6]]
        got[row[0]] = ([v.split(":")[0] for v in verdicts], row[7])
        assert row[8] == "3"  # the score is points, a number; out_of beside it
        assert row[1] == {"alice": "3", "bob": "3", "carol": "abc", "dave": "9/3"}[row[0]]
    assert got == GRADEBOOK


def test_answers_gradebook_to_out_file(tmp_path):
    answers = tmp_path / "answers.csv"
    answers.write_text(ANSWERS, encoding="utf-8")
    out = tmp_path / "grades.csv"
    result = invoke(LECTURE, "a=3", "b=2", "--answers", str(answers), "--out", str(out))
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    _check_gradebook(out.read_text(encoding="utf-8"))
    # the summary: per question, right and wrong counts
    assert "4 students" in result.stdout
    table = rows(result.stdout)
    # right, wrong, missing, invalid
    assert table["d/da"][1:5] == ["3", "0", "0", "1"]
    assert table["b"][1:5] == ["2", "2", "0", "0"]
    assert table["value"][1:5] == ["2", "1", "1", "0"]
    assert "class average: 1.75 of 3 points (58.3%)" in result.stdout
    assert f"gradebook written to {out}" in result.stdout.replace("\n", "")


def test_answers_gradebook_to_stdout(tmp_path):
    answers = tmp_path / "answers.csv"
    answers.write_text(ANSWERS, encoding="utf-8")
    result = invoke(LECTURE, "a=3", "b=2", "--answers", str(answers))
    assert result.exit_code == 0
    _check_gradebook(result.stdout)
    assert "4 students" in result.stderr  # the summary goes to stderr, the CSV alone to stdout
    assert "gradebook written" not in result.stderr


def test_answers_json(tmp_path):
    answers = tmp_path / "answers.csv"
    answers.write_text(ANSWERS, encoding="utf-8")
    result = invoke(LECTURE, "a=3", "b=2", "--answers", str(answers), "--json")
    assert result.exit_code == 0 and result.stderr == ""
    doc = strict_json(result.stdout)
    students = {s["id"]: s for s in doc["students"]}
    assert {k: (s["score"], s["out_of"]) for k, s in students.items()} == {
        "alice": (3, 3), "bob": (1, 3), "carol": (2, 3), "dave": (1, 3)}
    assert students["bob"]["answers"]["value"] == {"question": "value", "answer": "", "ok": False,
                                                   "status": "missing", "how": "missing"}
    assert students["carol"]["answers"]["d/da"]["status"] == "invalid"
    assert students["carol"]["answers"]["d/da"]["how"].startswith("invalid")
    assert students["dave"]["answers"]["d/da"]["ok"] is True  # 9/3 is read as 3


def test_answers_with_array_cells(tmp_path):
    answers = tmp_path / "answers.csv"
    answers.write_text('id,d/dx\ns1,"[1/3, 2]"\ns2,"[1/3, 3]"\ns3,1/3\n', encoding="utf-8")
    out = tmp_path / "grades.csv"
    result = invoke("dot(x,x)/2", "x=[1/3,2]", "--answers", str(answers), "--out", str(out))
    assert result.exit_code == 0 and result.stderr == ""
    assert "3 students" in result.stdout
    book = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert [(r[0], r[2].split(":")[0], r[3]) for r in book[1:]] == [("s1", "right", "1"), ("s2", "wrong", "0"),
                                                                   ("s3", "wrong", "0")]


@pytest.mark.parametrize("header", ["id,d/dq", "id,a,d/dz", "id,value:q", "id,formula:q"])
def test_answers_bad_column_names(tmp_path, header):
    answers = tmp_path / "answers.csv"
    answers.write_text(f"{header}\nalice,1{',1' if header.count(',') == 2 else ''}\n", encoding="utf-8")
    out = tmp_path / "grades.csv"
    result = invoke(LECTURE, "a=3", "b=2", "--answers", str(answers), "--out", str(out))
    usage_error(result, "answers column", "inputs: a, b")
    assert not out.exists()


@pytest.mark.parametrize("content", ["id\nalice\n", "", "id,q\nalice,1\n", "id,grad_a\nalice,1\n"])
def test_answers_without_answer_columns(tmp_path, content):
    answers = tmp_path / "answers.csv"
    answers.write_text(content, encoding="utf-8")
    usage_error(invoke(LECTURE, "a=3", "b=2", "--answers", str(answers)), "--answers", "answer column")


def test_answers_missing_file(tmp_path):
    usage_error(invoke(LECTURE, "a=3", "b=2", "--answers", str(tmp_path / "nope.csv")), "--answers", "nope.csv")


def test_answers_unwritable_out(tmp_path):
    answers = tmp_path / "answers.csv"
    answers.write_text(ANSWERS, encoding="utf-8")
    usage_error(invoke(LECTURE, "a=3", "b=2", "--answers", str(answers), "--out", str(tmp_path / "no" / "g.csv")),
                "--out")


def test_answers_with_expect_is_refused(tmp_path):
    answers = tmp_path / "answers.csv"
    answers.write_text(ANSWERS, encoding="utf-8")
    usage_error(invoke(LECTURE, "a=3", "b=2", "--answers", str(answers), "--expect", "a=3"), "--answers")


def test_answers_duplicate_columns_are_refused(tmp_path):
    answers = tmp_path / "answers.csv"
    answers.write_text("id,d/da,d/da\nalice,3,4\n", encoding="utf-8")
    usage_error(invoke(LECTURE, "a=3", "b=2", "--answers", str(answers)), "d/da")


def test_answers_summary_for_one_student(tmp_path):
    answers = tmp_path / "answers.csv"
    answers.write_text("id,a\nalice,3\n", encoding="utf-8")
    result = invoke(LECTURE, "a=3", "b=2", "--answers", str(answers), "--out", str(tmp_path / "g.csv"))
    assert result.exit_code == 0 and result.stderr == ""
    assert "1 student" in result.stdout and "1 students" not in result.stdout


# ---- JSON ------------------------------------------------------------------------------
def test_json_without_reveal_has_no_truth():
    result = invoke(LECTURE, "a=3", "b=2", "--expect", "b=9", "--expect", "a=3", "--expect-value", "15", "--json")
    assert result.exit_code == 1 and result.stderr == ""
    doc = strict_json(result.stdout)
    assert doc["ok"] is False and doc["output"] == "e" and doc["program"] == LECTURE
    for v in doc["verdicts"]:
        assert set(v) - {"rule", "note"} == {"question", "answer", "ok", "how", "status"}
        assert ("rule" in v) == v["ok"]  # a right answer says which rule found it right
    assert [(v["question"], v["answer"], v["ok"]) for v in doc["verdicts"]] == [
        ("value", 15, True), ("b", 9, False), ("a", 3, True)]


def test_json_with_reveal_has_truth():
    result = invoke(LECTURE, "a=3", "b=2", "--expect", "b=9", "--expect-value", "15", "--json", "--reveal")
    assert result.exit_code == 1 and result.stderr == ""
    doc = strict_json(result.stdout)
    for v in doc["verdicts"]:
        assert set(v) - {"rule", "note"} == {"question", "answer", "ok", "how", "status", "truth"}
    assert {v["question"]: v["truth"] for v in doc["verdicts"]} == {"value": 15, "b": 8}


def test_json_all_right():
    result = invoke("sum(W@x)", "W=[[1,2],[3,4]]", "x=[1,2]", "--expect", "x=[4,6]", "--json", "--reveal")
    assert result.exit_code == 0 and result.stderr == ""
    doc = strict_json(result.stdout)
    assert doc["ok"] is True
    assert doc["verdicts"] == [{"question": "x", "answer": [4, 6], "ok": True, "how": "", "status": "right",
                                "rule": "tolerance", "truth": [4, 6]}]


# ---- usage errors ----------------------------------------------------------------------
def test_nothing_to_check():
    usage_error(invoke(LECTURE, "a=3", "b=2"), "nothing to check")


def test_expect_needs_name_and_value():
    usage_error(invoke(LECTURE, "a=3", "b=2", "--expect", "a"), "--expect", "NAME=VALUE")


def test_expect_an_unknown_name():
    usage_error(invoke(LECTURE, "a=3", "b=2", "--expect", "q=1"), "--expect q", "inputs: a, b")


def test_expect_answer_that_is_not_a_constant():
    usage_error(invoke(LECTURE, "a=3", "b=2", "--expect", "a=abc"), "--expect a")


# ---- bugs --------------------------------------------------------------------------------
def test_repeated_expect_for_one_name():
    result = invoke(LECTURE, "a=3", "b=2", "--expect", "a=1", "--expect", "a=3")
    if result.exit_code == 2:  # refusing the repetition would do
        usage_error(result, "--expect a")
        return
    assert result.exit_code == 1  # ...and so would judging both answers
    assert result.stderr == ""
    assert "1 of 2 right" in result.stdout


def test_expect_outside_wrt_message():
    result = invoke(LECTURE, "a=3", "b=2", "--wrt", "a", "--expect", "b=8")
    assert result.exit_code == 2 and result.stdout == ""
    assert "not an input of the program" not in result.stderr


def test_expect_gradient_of_vector_output_message():
    result = invoke("W@x", "W=[[1,2],[3,4]]", "x=[1,2]", "--expect", "x=[4,6]")
    assert result.exit_code == 2 and result.stdout == ""
    assert "not an input of the program" not in result.stderr


def test_reveal_for_an_unparseable_formula():
    result = invoke("x*exp(x^2)", "x=0.5", "--expect-formula", "x=exp(x^2)*(1+", "--reveal", "--json",
                    "--sympy-timeout", "60")
    assert result.exit_code == 1 and result.stderr == ""
    (v,) = strict_json(result.stdout)["verdicts"]
    assert "truth" in v


def test_a_formula_right_on_one_side_of_a_kink_is_wrong():
    # ∂/∂y of (x+y)*max(y,z) is max(y,z) + (x+y)·[y > z]: max(y,z)+x+y agrees at y=2>z=0 only
    result = invoke(MAXPROG, "x=1", "y=2", "z=0", "--expect-formula", "y=max(y,z)+x+y")
    assert result.exit_code == 1 and result.stderr == ""
    assert "right at the point, but not where z is the largest" in " ".join(result.stdout.split())
    right = invoke(MAXPROG, "x=1", "y=2", "z=0", "--expect-formula", "y=max(y,z)+(x+y)*(y > z)")
    assert right.exit_code == 0 and "on every side of" in " ".join(right.stdout.split())

"""Bug hunt on the grader: `gradcli check`, class gradebooks and `gradcli.judge` against
independent references (hand-derived or SymPy-built derivatives, rounding done here), and
against each other (the same answer through every door gets the same verdict).

Each regression test names the bug it pins; the property tests draw bounded examples.
"""

from __future__ import annotations

import json
import math

import sympy as sp
from sympy.printing.str import StrPrinter
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import gradcli
from clitools import examples, run_cli, strict_json


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


# ---- numbers through every door --------------------------------------------------------------
#: scalar programs (gradcli text, the same function built in SymPy here) and the input asked about
_X, _Y = sp.symbols("x y", real=True)
PROGRAMS = [
    ("x^3*y + sin(x*y)", _X**3 * _Y + sp.sin(_X * _Y)),
    ("exp(x)/(1 + exp(x)) * y", sp.exp(_X) / (1 + sp.exp(_X)) * _Y),
    ("log(1 + x^2) - y*tanh(x)", sp.log(1 + _X**2) - _Y * sp.tanh(_X)),
    ("relu(x*y - 1) + abs(x - y)", sp.Max(_X * _Y - 1, 0) + sp.Abs(_X - _Y)),
    ("max(x, y)*x + min(x, 2*y)", sp.Max(_X, _Y) * _X + sp.Min(_X, 2 * _Y)),
    ("sqrt(x^2 + y^2)*1e5", sp.sqrt(_X**2 + _Y**2) * 10**5),
    ("x*exp(-30*y^2)", _X * sp.exp(-30 * _Y**2)),
]


def _sig(value: float, digits: int) -> str:
    """`value` rounded to `digits` significant digits, written in one of the ways students do."""
    text = f"{value:.{digits - 1}e}"
    mantissa, exponent = text.split("e")
    e = int(exponent)
    if -4 <= e < digits + 2:  # plain decimals where they are short (trailing zeros are digits)
        return f"{value:#.{digits}g}".rstrip(".") if e < digits - 1 else f"{value:.{max(digits - 1 - e, 0)}f}"
    return f"{mantissa}e{e}"


@settings(max_examples=examples(40), deadline=None)
@given(which=st.integers(0, len(PROGRAMS) - 1),
       x=st.floats(-3, 3).filter(lambda v: abs(v) > 1e-3), y=st.floats(-3, 3).filter(lambda v: abs(v) > 1e-3),
       digits=st.integers(1, 6), wrt=st.sampled_from("xy"))
def test_numbers_judged_alike_by_the_api_the_command_line_and_a_gradebook(tmp_path_factory, which, x, y, digits,
                                                                        wrt):
    program, expr = PROGRAMS[which]
    symbol = {"x": _X, "y": _Y}[wrt]
    at = {_X: sp.Rational(repr(x)), _Y: sp.Rational(repr(y))}
    if expr.has(sp.Max, sp.Min, sp.Abs):  # keep off the kinks: the answer key is then one-sided
        assume(all(abs(float(arg.subs(at))) > 1e-6 for f in expr.atoms(sp.Max, sp.Min, sp.Abs)
                   for arg in ([f.args[0] - f.args[1]] if len(f.args) == 2 else f.args)))
    truth = float(sp.diff(expr, symbol).subs(at).evalf(30))
    assume(abs(truth) > 1e-6)  # the default atol (1e-8) would make every small answer right
    answers = {
        "rounded": _sig(truth, digits),
        "double": _sig(2 * truth, max(digits, 3)),
        "half": _sig(truth / 2, max(digits, 3)),
        "sign": _sig(-truth, max(digits, 3)),
    }
    exact = abs(float(answers["rounded"]) - truth) <= 1e-8 + 1e-4 * abs(truth)  # few digits, but within tolerance
    expected = {"rounded": digits >= 3 or exact, "double": False, "half": False, "sign": False}
    point = [f"x={x!r}", f"y={y!r}"]
    sheet = tmp_path_factory.mktemp("sheet") / "class.csv"
    sheet.write_text("id," + wrt + "\n" + "".join(f"{k},{v}\n" for k, v in answers.items()), encoding="utf-8")
    book = run_cli(["check", program, *point, "--answers", str(sheet), "--json"])
    assert book.exit_code == 0, book.stderr
    rows = {s["id"]: s for s in strict_json(book.stdout)["students"]}
    for kind, text in answers.items():
        api = _judge(program, x=x, y=y, expect={wrt: text})
        assert api.ok is expected[kind], (kind, text, truth, api.note)
        cli = run_cli(["check", program, *point, "--expect", f"{wrt}={text}", "--json"])
        [verdict] = strict_json(cli.stdout)["verdicts"]
        assert cli.exit_code == (0 if api.ok else 1), cli.stderr
        assert (verdict["ok"], verdict.get("rule", ""), verdict["how"]) == (api.ok, api.rule, api.note)
        assert rows[kind]["score"] == int(bool(api.ok)), rows[kind]
        if api.mistake is not None:
            assert api.diagnosis in json.dumps(rows[kind], ensure_ascii=False)


# ---- formulas right on one piece only -------------------------------------------------------
def test_a_formula_wrong_only_on_a_combination_of_kink_sides_is_wrong():
    """The points covered each kink's sides one at a time and then stayed near the point,
    so a formula wrong only where two kinks take one pair of sides passed: x > y for
    ∂/∂x of max(max(x, y), z) (wrong where z is the largest and x > y)."""
    wrong = [("max(max(x, y), z)", "x>y", {"x": 0.7, "y": 0.3, "z": -0.2}),
             ("relu(x) + relu(y) + relu(x-y)", "(x>0)+(x>y)*(x>0)", {"x": 0.7, "y": 0.3}),
             ("relu(x) + relu(y) + relu(x-y)", "(x>0)+(x>y)*(y<0)", {"x": 0.7, "y": -0.3})]
    for program, formula, point in wrong:
        v = _judge(program, expect_formula={"x": formula}, **point)
        assert v.ok is False and v.note.startswith("right at the point, but not where "), (program, formula, v.note)
    right = [("max(max(x, y), z)", "(x>y)*(x>z)", {"x": 0.7, "y": 0.3, "z": -0.2}),
             ("relu(x) + relu(y) + relu(x-y)", "(x>0)+(x>y)", {"x": 0.7, "y": 0.3}),
             ("relu(x) + relu(y) + relu(x-y)", "where(x>0, 1, 0) + where(x-y>0, 1, 0)", {"x": 0.7, "y": -0.3})]
    for program, formula, point in right:
        v = _judge(program, expect_formula={"x": formula}, **point)
        assert v.ok is True and "on every side of" in v.note, (program, formula, v.note)


def test_a_formula_with_kinks_of_its_own_is_tried_on_each_of_their_sides(tmp_path):
    """A program without kinks was tested only near its point, so 2*abs(x) for the
    derivative of x^2 at x = 3 (wrong wherever x < 0) was judged right."""
    wrong = [("x^2", "2*abs(x)", {"x": 3}), ("x^2", "2*relu(x)", {"x": 3}), ("x^3", "3*x*abs(x)", {"x": 0.5}),
             ("exp(x)", "max(exp(x), 1)", {"x": 1.5}), ("sin(x)", "abs(cos(x))", {"x": 0.3}),
             ("x*y", "where(x > 0, y, 0)", {"x": 1.5, "y": -2.0})]
    for program, formula, point in wrong:
        v = _judge(program, expect_formula={"x": formula}, **point)
        assert v.ok is False and v.note.startswith("right at the point, but differs"), (program, formula, v.note)
    right = [("x^2", "2*abs(x)*sign(x)", {"x": 3}), ("x^2", "where(x > 0, 2*x, x + x)", {"x": 3}),
             ("abs(x)", "x/abs(x)", {"x": -2}), ("log(x)", "1/abs(x)", {"x": 2}),  # log: x > 0 at every point
             ("x*y", "where(x > 0, y, y)", {"x": 1.5, "y": -2.0})]
    for program, formula, point in right:
        v = _judge(program, expect_formula={"x": formula}, **point)
        assert v.ok is True, (program, formula, v.note)
    # the same verdict in a gradebook, whichever formulas the class wrote before
    sheet = tmp_path / "class.csv"
    sheet.write_text("id,formula:x\ns1,2*x\ns2,2*abs(x)\ns3,x+x\ns4,2*relu(x)\n", encoding="utf-8")
    result = run_cli(["check", "x^2", "x=3", "--answers", str(sheet), "--json"])
    assert result.exit_code == 0, result.stderr
    assert [s["score"] for s in strict_json(result.stdout)["students"]] == [1, 0, 1, 0]


# ---- gradebooks ----------------------------------------------------------------------------
def test_a_gradescope_submission_with_an_empty_id_is_graded(tmp_path):
    """docs/howto/gradescope.md: "the id is ignored"; an empty one made the row ungraded,
    then exit 2 (0 students), and run_autograder gave the student 0 points."""
    sheet = tmp_path / "answers.csv"
    sheet.write_text("id,a,b\n,3,5\n", encoding="utf-8")
    result = run_cli(["check", "c = a+b; d = b+1; e = c*d", "a=3", "b=2", "--answers", str(sheet),
                      "--format", "gradescope"])
    assert result.exit_code == 0, result.stderr
    assert "warning" not in result.stderr
    doc = strict_json(result.stdout)
    assert doc["score"] == 1.0
    assert [(t["name"], t["status"]) for t in doc["tests"]] == [("a", "passed"), ("b", "failed")]
    # the same row in a class gradebook: an empty id is still not graded, as documented
    result = run_cli(["check", "c = a+b; d = b+1; e = c*d", "a=3", "b=2", "--answers", str(sheet), "--json"])
    assert result.exit_code == 0 and strict_json(result.stdout)["students"] == []
    assert "line 2: the id is empty; the row is not graded" in result.stderr


# ---- formulas against SymPy ----------------------------------------------------------------
class _GradcliPrinter(StrPrinter):
    """SymPy's derivative in gradcli's syntax, written here (never gradcli's own printer)."""

    def _print_Heaviside(self, expr):
        return f"({self._print(expr.args[0])} > 0)"

    def _print_Abs(self, expr):
        return f"abs({self._print(expr.args[0])})"

    def _print_Max(self, expr):
        return "max(" + ", ".join(self._print(a) for a in expr.args) + ")"

    def _print_Exp1(self, expr):
        return "exp(1)"


_LEAVES = st.sampled_from([("x", _X), ("y", _Y), ("2", sp.Integer(2)), ("0.5", sp.Rational(1, 2))])
_UNARY = [("exp({})", sp.exp), ("sin({})", sp.sin), ("tanh({})", sp.tanh), ("sigmoid({})", lambda u: 1 / (1 + sp.exp(-u))),
          ("relu({})", lambda u: sp.Max(u, 0)), ("abs({})", sp.Abs), ("log(1 + ({})^2)", lambda u: sp.log(1 + u**2))]
_BINARY = [("({}) + ({})", sp.Add), ("({}) * ({})", sp.Mul), ("({}) - ({})", lambda a, b: a - b),
           ("max({}, {})", sp.Max)]


def _extend(children):
    unary = st.tuples(st.sampled_from(_UNARY), children).map(lambda t: (t[0][0].format(t[1][0]), t[0][1](t[1][1])))
    # max over arguments in different inputs: max(x, max(x, y)) ties its own arguments wherever
    # x > y, a region of kinks no point may be drawn in (reported, not judged here)
    binary = st.tuples(st.sampled_from(_BINARY), children, children).filter(
        lambda t: t[0][0] != "max({}, {})" or not (t[1][1].free_symbols & t[2][1].free_symbols)).map(
        lambda t: (t[0][0].format(t[1][0], t[2][0]), t[0][1](t[1][1], t[2][1])))
    return unary | binary


_EXPRS = st.recursive(_LEAVES, _extend, max_leaves=6).filter(lambda e: e[1].has(_X))


@settings(max_examples=examples(60), deadline=None)
@given(expr=_EXPRS, x=st.floats(-2, 2).filter(lambda v: abs(v) > 0.05), y=st.floats(-2, 2).filter(lambda v: abs(v) > 0.05))
def test_sympys_derivative_is_right_and_twice_it_wrong_through_every_door(expr, x, y):
    text, f = expr
    derivative = sp.diff(f, _X)
    assume(not derivative.has(sp.Subs, sp.Derivative, sp.DiracDelta))
    at = {_X: x, _Y: y}
    value = complex(derivative.subs(at).evalf())
    assume(value.imag == 0 and math.isfinite(value.real) and abs(value.real) > 1e-3)
    formula = _GradcliPrinter().doprint(derivative)
    point = {"x": x, "y": y} if text.count("y") else {"x": x}
    program = text if "y" in text else f"({text}) + 0*y"
    for answer, right in ((formula, True), (f"2*({formula})", False)):
        api = _judge(program, x=x, y=y, expect_formula={"x": answer})
        if api.ok is None:  # on a kink of the program: the verdict is left open, never wrong or right
            assert api.status == "unjudged"
            continue
        assert api.ok is right, (program, point, answer, api.note)
        cli = run_cli(["check", program, f"x={x!r}", f"y={y!r}", "--expect-formula", f"x={answer}", "--json"])
        [verdict] = strict_json(cli.stdout)["verdicts"]
        assert (cli.exit_code, verdict["ok"], verdict["how"]) == (0 if right else 1, api.ok, api.note), cli.stderr


#: (program, point, question, answers a class might give: right, wrong, one-sided, unreadable)
CLASS_QUESTIONS = [
    ("c = a+b; d = b+1; e = c*d", ["a=3", "b=2"], "b",
     ["d+c", "a+2*b+1", "d", "c", "max(d,c)", "2*b+a+1", "d+c )", "q+1", "8", "8.00", "7.99", "5", "-8", "1/0"]),
    ("(x+y)*max(y,z)", ["x=1.5", "y=2.25", "z=0.5"], "y",
     ["max(y,z)+(x+y)*(y>z)", "max(y,z)+x+y", "y+x+y", "max(y,z)", "(x+y)*(y>z)", "6.00", "6", "3.75", "6.0001"]),
    ("y = relu(w*x); L = (y - t)^2", ["w=0.5", "x=2", "t=0.3"], "w",
     ["2*(y-t)*x*(w*x>0)", "2*(y-t)*x", "2*(y-t)*(w*x>0)", "2*(relu(w*x)-t)*x*(x*w > 0)", "1.40", "1.4", "-1.40", "2.80"]),
]


@settings(max_examples=examples(24), deadline=None)
@given(which=st.integers(0, len(CLASS_QUESTIONS) - 1), picks=st.lists(st.integers(0, 13), min_size=1, max_size=6),
       bom=st.booleans(), newline=st.sampled_from(["\n", "\r\n"]), delimiter=st.sampled_from([",", ";", "\t"]))
def test_a_gradebook_row_is_the_single_check_of_the_same_answer(tmp_path_factory, which, picks, bom, newline,
                                                                delimiter):
    program, point, name, pool = CLASS_QUESTIONS[which]
    answers = [pool[k % len(pool)] for k in picks]
    kinds = ["formula" if any(ch.isalpha() for ch in a) or ")" in a else "number" for a in answers]

    def cell(text: str) -> str:  # quoted as a spreadsheet does
        return '"' + text.replace('"', '""') + '"' if (delimiter in text or '"' in text) else text

    header = delimiter.join(["id", "email", f"formula:{name}", f"d/d{name}"])
    rows = [delimiter.join([f"s{k}", cell(f"s{k}@uni, dept"), cell(a if kind == "formula" else ""),
                            cell(a if kind == "number" else "")])
            for k, (a, kind) in enumerate(zip(answers, kinds))]
    sheet = tmp_path_factory.mktemp("sheet") / "class.csv"
    sheet.write_bytes((("\ufeff" if bom else "") + newline.join([header, *rows]) + newline).encode("utf-8"))
    book = run_cli(["check", program, *point, "--answers", str(sheet), "--json"])
    assert book.exit_code == 0, book.stderr
    doc = strict_json(book.stdout)
    assert doc["problems"] == []
    students = {s["id"]: s for s in doc["students"]}
    for k, (answer, kind) in enumerate(zip(answers, kinds)):
        row = students[f"s{k}"]
        assert row["fields"] == {"email": f"s{k}@uni, dept"}
        column = f"formula:{name}" if kind == "formula" else f"d/d{name}"
        graded = row["answers"][column]
        option = ["--expect-formula", f"{name}={answer}"] if kind == "formula" else ["--expect", f"{name}={answer}"]
        single = run_cli(["check", program, *point, *option, "--json"])
        if single.exit_code == 2 or single.exit_code == 3:  # an unreadable number: invalid in a gradebook
            assert graded["status"] == "invalid", graded
            continue
        [verdict] = strict_json(single.stdout)["verdicts"]
        for key in ("question", "answer"):  # the gradebook's names the column, and keeps the cell's text
            verdict.pop(key)
            graded.pop(key)
        assert graded == verdict, (answer, graded, verdict)
        assert row["score"] == int(bool(verdict["ok"])) and single.exit_code == (0 if verdict["ok"] else 1)


# ---- numbers: digits -----------------------------------------------------------------------
def test_a_whole_number_rounded_to_three_digits_keeps_its_trailing_zeros_as_places(tmp_path):
    """343000 for 343470 (rounded to 3 digits, written out) counted 6 digits and was wrong;
    trailing zeros written without a point may be places.  With a point they are digits,
    and a wrong number stays wrong."""
    program = "1000*x^3"  # ∂/∂x at x = 10.7: 3000·x² = 343470
    cases = [("343000", True), ("343500", True), ("3.43e5", True), ("340000", False), ("343000.", False),
             ("344000", False), ("-343000", False)]
    for text, right in cases:
        v = _judge(program, x=10.7, expect={"x": text})
        assert v.ok is right, (text, v.note)
    assert _judge(program, x=10.7, expect={"x": "343000"}).rule == "digits"
    # fewer than --min-digits digits are still too few, however the zeros are read
    assert _judge("x*y", x=299.7, y=1, expect={"y": "300"}).ok is True
    assert _judge("x*y", x=304, y=1, expect={"y": "300"}).ok is False
    assert _judge(program, x=10.7, expect={"x": "343000"}, min_digits=4).ok is False
    # the same through the command line and a gradebook
    result = run_cli(["check", program, "x=10.7", "--expect", "x=343000", "--json"])
    assert result.exit_code == 0 and strict_json(result.stdout)["verdicts"][0]["rule"] == "digits"
    sheet = tmp_path / "class.csv"
    sheet.write_text("id,x\ns1,343000\ns2,340000\n", encoding="utf-8")
    result = run_cli(["check", program, "x=10.7", "--answers", str(sheet), "--json"])
    assert [s["score"] for s in strict_json(result.stdout)["students"]] == [1, 0]


def test_the_installed_command_gives_the_verdicts_of_the_api():
    """The real entry point (a subprocess: gradcli.__main__, not CliRunner) and gradcli.judge."""
    import subprocess
    import sys

    program, formula = "(x+y)*max(y,z)", "max(y,z)+x+y"  # right at y > z only
    done = subprocess.run([sys.executable, "-m", "gradcli", "check", program, "x=1.5", "y=2.25", "z=0.5",
                           "--expect", "y=6.00", "--expect-formula", f"y={formula}", "--json"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and done.stderr == ""
    verdicts = strict_json(done.stdout)["verdicts"]
    api = gradcli.judge(program, x=1.5, y=2.25, z=0.5, expect={"y": "6.00"}, expect_formula={"y": formula})
    assert [(v["ok"], v["how"], v.get("diagnosis", {}).get("kind")) for v in verdicts] == \
        [(v.ok, v.note, v.mistake) for v in api.verdicts]
    assert [v.ok for v in api.verdicts] == [True, False]


# ---- formulas at a singular point, or on a kink ------------------------------------------------
def test_a_formula_at_a_point_where_the_derivative_is_infinite_is_judged_around_it():
    """sqrt(x) at x = 0: ∂ is inf (a value, with a warning), and the right 1/(2*sqrt(x))
    "cannot be evaluated at the point: division by zero" was judged wrong."""
    for program, formula, point in (("sqrt(x)", "1/(2*sqrt(x))", 0), ("sqrt(x)", "0.5*x^(-0.5)", 0),
                                    ("asin(x)", "1/sqrt(1 - x^2)", 1), ("cbrt(x)", "1/(3*cbrt(x)^2)", 0)):
        v = _judge(program, x=point, expect_formula={"x": formula})
        assert v.ok is True and "(the point itself is a singularity, where the derivative is not finite)" in v.note, \
            (program, formula, v.note)
    v = _judge("sqrt(x)", x=0, expect_formula={"x": "1/sqrt(x)"})
    assert v.ok is False and v.note.startswith("differs from the derivative at "), v.note
    result = run_cli(["check", "sqrt(x)", "x=0", "--expect-formula", "x=1/(2*sqrt(x))", "--json"])
    assert result.exit_code == 0 and strict_json(result.stdout)["verdicts"][0]["rule"] == "points"
    assert "∂a/∂x = inf" in result.stderr  # the warning stays
    # a formula that cannot be evaluated where the derivative is finite stays wrong
    v = _judge("sqrt(x + 1)", x=0, expect_formula={"x": "1/(2*sqrt(x))"})
    assert v.ok is False and v.note.startswith("cannot be evaluated at the point"), v.note
    # an infinite derivative is matched only by itself: rtol·inf made 0 "right at the point"
    v = _judge("sqrt(x)", x=0, expect_formula={"x": "0"})
    assert v.ok is False and "right at the point" not in v.note, v.note
    # on a kink of sqrt(x^2) (= |x|) at 0, x/sqrt(x^2) cannot be evaluated: the points around judge
    v = _judge("sqrt(x^2)", x=0, expect_formula={"x": "x/sqrt(x^2)"})
    assert v.ok is True and "(the point itself is on a kink" in v.note, v.note
    # an array with one infinite element
    v = _judge("sum(sqrt(x))", x=[0.0, 4.0], expect_formula={"x": "0.5/sqrt(x)"})
    assert v.ok is True and "singularity" in v.note, v.note
    v = _judge("sum(sqrt(x))", x=[0.0, 4.0], expect_formula={"x": "1/sqrt(x)"})
    assert v.ok is False, v.note


def test_a_formula_wrong_around_a_kink_point_does_not_say_it_is_right_at_the_point():
    """relu(x) at x = 0 with 1: the point is on the kink (relu'(0) = 0 by convention) and
    the formula is 1 there; the note said "right at the point, but not where x <= 0"."""
    v = _judge("relu(x)", x=0, expect_formula={"x": "1"})
    assert v.ok is False and v.mistake == "relu-mask"
    assert v.note.startswith("wrong where x <= 0 (one side of a = relu(x)): it differs at "), v.note
    assert "(the point itself is on a kink, where gradcli's convention decides the derivative)" in v.note
    assert "right at the point" not in v.note
    v = _judge("relu(x)", x=0, expect_formula={"x": "x >= 0"})  # 1 at the kink, the convention's 0 aside
    assert v.ok is True and "on every side of a = relu(x)" in v.note

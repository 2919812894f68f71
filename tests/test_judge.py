"""The grader's rules: numbers right to the digits written, formulas tested at points
that keep data in kind and cross every kink, adjoint names, and one judge for the
command line and the API.

Every expected derivative is worked out by hand (NumPy in the test), never taken from
gradcli.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import gradcli
from clitools import run_cli, strict_json
from gradcli.teach import answers as answers_mod
from gradcli.teach import points as points_mod
from gradcli.teach.answers import Rules

ENV = {"COLUMNS": "250"}


def check(*args: str):
    return run_cli(["check", *args], env=ENV)


def verdicts(*args: str) -> list[dict]:
    result = check(*args, "--json")
    assert result.stderr == ""
    return strict_json(result.stdout)["verdicts"]


# ---- numbers: the digits written ------------------------------------------------------------
SIN = "u = x^2; y = sin(u)"  # x = 0.7: ∂y/∂x = 2x cos(x²)
TRUTH = 2 * 0.7 * math.cos(0.49)  # 1.2352622...


@pytest.mark.parametrize("answer, ok, rule", [
    ("1.235", True, "digits"),       # 4 digits, rounded
    ("1.24", True, "digits"),        # 3 digits
    ("1.2353", True, "tolerance"),   # 5 digits: within rtol 1e-4 anyway
    (repr(TRUTH), True, "tolerance"),
    ("1.236", False, ""),            # wrongly rounded
    ("1.2", False, ""),              # too few digits
    ("1.25", False, ""),
    ("-1.235", False, ""),
])
def test_a_number_is_right_to_the_digits_written(answer, ok, rule):
    (v,) = verdicts(SIN, "x=0.7", "--expect", f"x={answer}")
    assert v["ok"] is ok
    assert v.get("rule", "") == rule


def test_too_few_digits_and_near_misses_get_a_note():
    (few,) = verdicts(SIN, "x=0.7", "--expect", "x=1.2")
    assert few["note"] == "too few digits: 2 significant digits written, at least 3 needed"
    (off,) = verdicts(SIN, "x=0.7", "--expect", "x=1.237")  # two units off in the last digit
    assert off["note"].startswith("close: off by a unit or two in the last digit written")
    (two,) = verdicts(SIN, "x=0.7", "--expect", "x=1.2491")  # right to 2 digits only
    assert two["note"] == "close: right to 2 significant digits only"
    (far,) = verdicts(SIN, "x=0.7", "--expect", "x=7.5")
    assert "note" not in far


def test_an_exact_answer_is_right_however_few_its_digits():
    (v,) = verdicts("(a+b)*(b+1)", "a=3", "b=2", "--expect", "a=3")
    assert v["ok"] is True and v["rule"] == "tolerance"
    (half,) = verdicts("x^2/4", "x=1", "--expect", "x=0.5")
    assert half["ok"] is True


def test_min_digits_is_configurable_and_an_explicit_tolerance_alone_judges():
    (v,) = verdicts(SIN, "x=0.7", "--expect", "x=1.2", "--min-digits", "2")
    assert v["ok"] is True and v["rule"] == "digits"
    (strict,) = verdicts(SIN, "x=0.7", "--expect", "x=1.235", "--rtol", "1e-6")
    assert strict["ok"] is False
    (loose,) = verdicts(SIN, "x=0.7", "--expect", "x=1.2", "--rtol", "0.05")
    assert loose["ok"] is True and loose["rule"] == "tolerance"


def test_a_number_cut_to_its_digits_is_right():
    # 1.23586 cut to 4 digits is 1.235 (rounded, 1.236): every digit written is the truth's
    (v,) = verdicts("x*1.23586", "x=1", "--expect", "x=1.235")
    assert v["ok"] is True and v["rule"] == "digits"
    (w,) = verdicts("x*1.23586", "x=1", "--expect", "x=1.234")
    assert w["ok"] is False


def test_trailing_zeros_written_count():
    # 1.200 claims four digits: right for 1.2003, and 1.2 (two digits) is too few
    (v,) = verdicts("x*1.2003", "x=1", "--expect", "x=1.200")
    assert v["ok"] is True and v["rule"] == "digits"
    (w,) = verdicts("x*1.2003", "x=1", "--expect", "x=1.2")
    assert w["ok"] is False and w["note"].startswith("too few digits")


def test_a_rounded_matrix_is_judged_element_by_element():
    W = np.array([[0.12345, -0.0077951], [0.018713, 2.5]])
    x = np.array([0.3, -1.7])
    # s = sum(tanh(W @ x)): ∂s/∂W = outer(1 - tanh(Wx)², x)
    truth = np.outer(1 - np.tanh(W @ x) ** 2, x)
    rounded = [[float(f"{v:.4g}") for v in row] for row in truth]
    text = "[" + ",".join("[" + ",".join(f"{v:.4g}" for v in row) + "]" for row in truth) + "]"
    prog = "s = sum(tanh(W @ x))"
    args = (prog, f"W={W.tolist()}", f"x={x.tolist()}")
    (v,) = verdicts(*args, "--expect", f"W={text}")
    assert v["ok"] is True and v["rule"] == "digits", v
    bad = [row[:] for row in rounded]
    bad[1][0] = bad[1][0] * 1.01
    (w,) = verdicts(*args, "--expect", f"W={bad}")
    assert w["ok"] is False and [e["index"] for e in w["elements"]] == [[1, 0]]


def test_the_digit_rule_unit():
    w = answers_mod.literal_digits("-0.007795")
    assert (w.digits, w.ulp) == (4, pytest.approx(1e-6))
    w = answers_mod.literal_digits("1.20e-3")
    assert (w.digits, w.ulp) == (3, pytest.approx(1e-5))
    assert answers_mod.literal_digits("0") is None and answers_mod.literal_digits("1/3") is None
    assert answers_mod.written_digits("[1.5, -2.25e1]", 2)[1].digits == 3
    assert answers_mod.written_digits("1/3", 1) is None
    rules = Rules()
    assert answers_mod.judge_element(1.235, TRUTH, answers_mod.literal_digits("1.235"), rules)[0]
    assert not answers_mod.judge_element(7.99, 8.0, answers_mod.literal_digits("7.99"), rules)[0]


# ---- formulas: data stays data ---------------------------------------------------------------
SOFTMAX = "z = W@h + b; p = softmax(z); L = -sum(y*log(p))"
POINT = ("W=[[0.1,0.2],[0.3,-0.4],[0.5,0.6]]", "h=[1,2]", "b=[0.1,0.2,0.3]", "y=[0,1,0]")


def _softmax_truth():
    W = np.array([[0.1, 0.2], [0.3, -0.4], [0.5, 0.6]])
    h, b, y = np.array([1.0, 2.0]), np.array([0.1, 0.2, 0.3]), np.array([0.0, 1.0, 0.0])
    z = W @ h + b
    p = np.exp(z - z.max()) / np.exp(z - z.max()).sum()
    dz = p - y
    return {"z": dz, "W": np.outer(dz, h), "h": W.T @ dz, "b": dz}


@pytest.mark.parametrize("name, formula", [
    ("z", "p - y"), ("z", "softmax(z) - y"), ("W", "outer(p - y, h)"), ("h", "transpose(W) @ (p - y)"),
    ("h", "(p - y) @ W"), ("b", "p - y"), ("W", "outer(dz, h)"), ("h", "transpose(W) @ dz"),
])
def test_textbook_softmax_formulas_are_right_for_a_one_hot_label(name, formula):
    (v,) = verdicts(SOFTMAX, *POINT, "--expect-formula", f"{name}={formula}")
    assert v["ok"] is True and v["rule"] == "points", v


@pytest.mark.parametrize("name, formula", [("z", "p"), ("z", "y - p"), ("h", "W @ (p - y)")])
def test_softmax_mistakes_are_wrong(name, formula):
    (v,) = verdicts(SOFTMAX, *POINT, "--expect-formula", f"{name}={formula}")
    assert v["ok"] is False


def test_the_oracle_agrees_with_the_engine_on_the_softmax_layer():
    truth = _softmax_truth()
    for name, t in truth.items():
        text = "[" + ",".join(repr(float(v)) for v in np.ravel(t)) + "]" if t.ndim == 1 else \
            "[" + ",".join("[" + ",".join(repr(float(v)) for v in row) + "]" for row in t) + "]"
        (v,) = verdicts(SOFTMAX, *POINT, "--expect", f"{name}={text}")
        assert v["ok"] is True, name


def test_input_kinds():
    assert points_mod.kind_of(np.array([0.0, 1.0, 0.0])) == "onehot"
    assert points_mod.kind_of(np.array([[0.0, 1.0], [1.0, 0.0]])) == "onehot"
    assert points_mod.kind_of(np.array([0.2, 0.3, 0.5])) == "simplex"
    assert points_mod.kind_of(np.array([1.0, 0.0, 1.0, 1.0])) == "mask"
    assert points_mod.kind_of(3.0) == "whole"
    assert points_mod.kind_of(0.7) == "real"
    assert points_mod.declared_data("#: data y mask\n#: data t\nx*y") == ["y", "mask", "t"]


def test_data_declared_in_the_program_or_with_data_is_never_moved():
    # with t = 0.5 moved, 2*(o - 0.5) is wrong; declared data, it stays 0.5 and is right
    prog = "o = w*x; L = (o - t)^2"
    moved = verdicts(prog, "w=0.3", "x=1.5", "t=0.5", "--expect-formula", "w=2*(o - 0.5)*x")
    assert moved[0]["ok"] is False
    fixed = verdicts(prog, "w=0.3", "x=1.5", "t=0.5", "--data", "t", "--expect-formula", "w=2*(o - 0.5)*x")
    assert fixed[0]["ok"] is True
    declared = verdicts("#: data t\n" + prog, "w=0.3", "x=1.5", "t=0.5", "--expect-formula", "w=2*(o - 0.5)*x")
    assert declared[0]["ok"] is True
    result = check(prog, "w=0.3", "x=1.5", "t=0.5", "--data", "q", "--expect-formula", "w=x")
    assert result.exit_code == 2 and "--data q: not an input" in result.stderr


# ---- formulas: kinks are crossed ------------------------------------------------------------
def test_the_forgotten_relu_mask_is_wrong_and_names_the_kink():
    result = check("y = relu(w*x)", "w=2", "x=3", "--expect-formula", "w=x")
    assert result.exit_code == 1
    text = " ".join(result.stdout.split())
    assert "right at the point, but not where w * x <= 0" in text
    right = check("y = relu(w*x)", "w=2", "x=3", "--expect-formula", "w=x*(w*x > 0)")
    assert right.exit_code == 0 and "on every side of" in " ".join(right.stdout.split())


def test_max_routed_by_the_current_side_only_is_wrong():
    (v,) = verdicts("(x+y)*max(y,z)", "x=1", "y=2", "z=0", "--expect-formula", "x=y")
    assert v["ok"] is False and "z is the largest" in v["how"]
    (w,) = verdicts("(x+y)*max(y,z)", "x=1", "y=2", "z=0", "--expect-formula", "x=max(y,z)")
    assert w["ok"] is True


def test_chosen_points_cover_every_side_and_avoid_the_kinks_themselves():
    from gradcli.run.bindings import parse_argument
    from gradcli.run.evaluate import prepare, run

    ev = run(prepare("y = relu(w*x) + abs(x - 1) + max(w, x)",
                     {b.name: b for b in map(parse_argument, ["w=2", "x=3"])}))
    chosen = points_mod.choose(ev, points_mod.input_kinds(ev.env))
    kinks = points_mod.kink_nodes(ev.graph, ev.tape.live)
    seen = set().union(*(p.sides for p in chosen))
    for k in kinks:
        assert len({s for (i, _, s) in seen if i == k}) == 2, ev.graph.definition(k)
    for p in chosen:
        w, x = p.env["w"], p.env["x"]
        assert w * x != 0 and x != 1 and w != x


# ---- formulas: equivalent forms and names -----------------------------------------------------
@pytest.mark.parametrize("program, point, formula", [
    ("s = sigmoid(z); L = s", ("z=0.3",), "z=s*(1-s)"),
    ("s = sigmoid(z); L = s", ("z=0.3",), "z=s - s^2"),
    ("(a+b)*(b+1)", ("a=3", "b=2"), "b=a + 2*b + 1"),
    ("c = a+b; d = b+1; e = c*d", ("a=3", "b=2"), "b=d+c"),
    ("L = sum(x * eye(3)[1])", ("x=[1,2,3]",), "x=[0,1,0]"),
])
def test_equivalent_forms_are_right(program, point, formula):
    (v,) = verdicts(program, *point, "--expect-formula", formula)
    assert v["ok"] is True, v


def test_adjoint_names_of_the_question_itself_are_refused():
    (v,) = verdicts(SOFTMAX, *POINT, "--expect-formula", "z=dz")
    assert v["status"] == "invalid" and "computes from this answer itself" in v["how"]
    (w,) = verdicts(SOFTMAX, *POINT, "--expect-formula", "z=dq")
    assert w["status"] == "invalid" and "names the program does not have: dq" in w["how"]


# ---- one judge: the command line and the API ---------------------------------------------------
CASES = [
    (("(a+b)*(b+1)", "a=3", "b=2"), {"a": 3, "b": 2}, ["--expect", "b=8"], {"expect": {"b": "8"}}),
    ((SIN, "x=0.7"), {"x": 0.7}, ["--expect", "x=1.235"], {"expect": {"x": "1.235"}}),
    ((SIN, "x=0.7"), {"x": 0.7}, ["--expect", "x=1.2"], {"expect": {"x": 1.2}}),
    ((SIN, "x=0.7"), {"x": 0.7}, ["--expect", "x=1.235", "--rtol", "1e-6"],
     {"expect": {"x": 1.235}, "rtol": 1e-6}),
    (("(a+b)*(b+1)", "a=3", "b=2"), {"a": 3, "b": 2}, ["--expect-formula", "a=b + 1 + 1e-9", "--rtol", "1e-12",
                                                        "--atol", "0"],
     {"expect_formula": {"a": "b + 1 + 1e-9"}, "rtol": 1e-12, "atol": 0}),
    (("y = relu(w*x)", "w=2", "x=3"), {"w": 2, "x": 3}, ["--expect-formula", "w=x"], {"expect_formula": {"w": "x"}}),
    ((SOFTMAX, *POINT), {"W": [[0.1, 0.2], [0.3, -0.4], [0.5, 0.6]], "h": [1, 2], "b": [0.1, 0.2, 0.3],
                         "y": [0, 1, 0]}, ["--expect-formula", "z=p - y", "--expect-value", "2.598"],
     {"expect_formula": {"z": "p - y"}, "expect_value": "2.598"}),
    (("o = w*x; L = (o - t)^2", "w=0.3", "x=1.5", "t=0.5"), {"w": 0.3, "x": 1.5, "t": 0.5},
     ["--data", "t", "--expect-formula", "w=2*(o - 0.5)*x"], {"data": ["t"], "expect_formula": {"w": "2*(o - 0.5)*x"}}),
]


@pytest.mark.parametrize("cli_program, values, cli_args, api_kwargs", CASES)
def test_the_command_line_and_the_api_give_the_same_verdicts(cli_program, values, cli_args, api_kwargs):
    program = cli_program[0]
    cli = verdicts(*cli_program, *cli_args)
    api = gradcli.judge(program, values, **api_kwargs)
    assert [(v["question"], v["ok"], v.get("rule", ""), v["how"]) for v in cli] == [
        (v.question, v.ok, v.rule, v.note) for v in api.verdicts]
    assert strict_json(api.to_json())["verdicts"] == cli


def test_the_api_tolerances_reach_formulas():
    # the proof: b + 1 + 1e-9 is not b + 1 at rtol 1e-12, atol 0 (the API dropped them)
    strict = gradcli.judge("(a+b)*(b+1)", a=3, b=2, expect_formula={"a": "b + 1 + 1e-9"}, rtol=1e-12, atol=0)
    assert strict.ok is False
    assert gradcli.judge("(a+b)*(b+1)", a=3, b=2, expect_formula={"a": "b + 1"}).ok is True


def test_the_api_verdict_carries_the_rule_and_the_diagnosis():
    j = gradcli.judge("(a+b)*(b+1)", a=3, b=2, expect={"a": -3, "b": "8.00"})
    wrong, right = j.verdicts
    assert wrong.ok is False and wrong.mistake == "sign" and wrong.diagnosis == "the sign is wrong"
    assert right.ok is True and right.rule == "tolerance" and right.mistake is None
    with pytest.raises(gradcli.UsageError):
        gradcli.judge("x", x=1, expect={"x": 1}, min_digits=0)


# ---- property: a right formula is never rejected, a perturbed one never accepted -----------------
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
import sympy as sp  # noqa: E402

_X, _Y = sp.symbols("x y", real=True)
#: (gradcli spelling, SymPy builder) of unary and binary pieces; kinks included
_UNARY = [("sin({})", sp.sin), ("exp({})", sp.exp), ("tanh({})", sp.tanh),
          ("sigmoid({})", lambda e: 1 / (1 + sp.exp(-e))), ("relu({})", lambda e: sp.Max(e, 0)),
          ("abs({})", sp.Abs), ("({})^2", lambda e: e**2)]
_BINARY = [("({} + {})", lambda a, b: a + b), ("({} * {})", lambda a, b: a * b), ("({} - {})", lambda a, b: a - b),
           ("max({}, {})", sp.Max)]


@st.composite
def _programs(draw, depth: int = 3):
    """A random scalar program in x and y, as gradcli text and as the same SymPy expression
    (built here, from the test's own tree: no user text is parsed by SymPy)."""
    if depth == 0 or draw(st.integers(0, 3)) == 0:
        leaf = draw(st.sampled_from([("x", _X), ("y", _Y), ("0.5", sp.Rational(1, 2))]))
        return leaf
    if draw(st.booleans()):
        text, build = draw(st.sampled_from(_UNARY))
        inner, expr = draw(_programs(depth - 1))
        return text.format(inner), build(expr)
    text, build = draw(st.sampled_from(_BINARY))
    (a, ea), (b, eb) = draw(_programs(depth - 1)), draw(_programs(depth - 1))
    return text.format(a, b), build(ea, eb)


_JUDGED: list[str] = []


@settings(max_examples=60, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(program=_programs(), x=st.floats(-2, 2), y=st.floats(-2, 2))
def test_sympys_derivative_is_judged_right_and_a_perturbed_one_wrong(program, x, y):
    from gradcli.core.errors import GradcliError
    from gradcli.teach.derive import to_gradcli

    text, expr = program
    if not ({_X, _Y} & expr.free_symbols):
        return
    source = f"f = {text} + 0*x + 0*y"
    point = {"x": round(x, 3), "y": round(y, 3)}
    try:
        truth = gradcli.evaluate(source, point)
    except GradcliError:  # on a kink, or outside a domain: nothing to judge
        return
    if any("kink" in w for w in truth.warnings):
        return
    _JUDGED.append(source)
    for name, symbol in (("x", _X), ("y", _Y)):
        derivative = sp.diff(expr, symbol)
        formula = to_gradcli(derivative, pieces=True)
        verdict = gradcli.judge(source, point, expect_formula={name: formula}).verdicts[0]
        assert verdict.ok is True, (source, name, formula, verdict.note)
        wrong = gradcli.judge(source, point, expect_formula={name: f"({formula})*1.01 + 0.37 + 0.01*x"}).verdicts[0]
        assert wrong.ok is False, (source, name, formula)


def test_the_property_judged_enough_programs():
    # runs after the property test (file order): most drawn programs must have been judged
    assert len(_JUDGED) >= 30, _JUDGED
    assert sum(1 for s in _JUDGED if any(k in s for k in ("relu", "max", "abs"))) >= 10, _JUDGED

"""Issue 10 ("Trust"), the mathematical part: derivatives that exist are never NaN,
forward and reverse mode agree, exit 4 only for bugs, no Python warning leaks,
huge literals stay cheap, parse errors point at the unclosed bracket, hints.

Every reproduction from the issue is a test here.  The property tests run random
programs (scalars and arrays) in both modes and require agreement per element
wherever either mode is finite.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, note, settings
from hypothesis import strategies as st

from clitools import ENV, examples, run_cli, strict_json  # noqa: F401
from gradcli.core.errors import GradcliError, MathError
from gradcli.run.bindings import parse_argument
from gradcli.run.derivatives import jacobian
from gradcli.run.evaluate import prepare, run, run_forward

def fuzz(max_examples: int):
    return settings(
        max_examples=examples(max_examples), deadline=None, derandomize=True, database=None,
        suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow, HealthCheck.data_too_large],
    )


def gradient_of(result) -> dict:
    return strict_json(result.stdout)["gradient"]


def number(x):
    """A JSON number or its string encoding of a non-finite value, as a float."""
    return float(x)


# --------------------------------------------------------------------------------------
# 1. Derivatives that exist are never NaN
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_x_to_the_zero_at_zero(mode):
    result = run_cli(["eval", "x^0", "x=0", "--json", "--mode", mode])
    assert result.exit_code == 0, result.stderr
    assert gradient_of(result) == {"x": 0.0}
    assert result.stderr == ""  # x^0 is the constant 1: no kink, no non-finite warning


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_sum_of_zero_to_the_zero(mode):
    """PyTorch, JAX and autograd all give 0 for both; floats and arrays agree."""
    result = run_cli(["eval", "sum(pow(x, y))", "x=[0,0,0,0]", "y=[0,0,0,0]", "--json", "--mode", mode])
    assert result.exit_code == 0, result.stderr
    assert gradient_of(result) == {"x": [0.0] * 4, "y": [0.0] * 4}
    scalar = run_cli(["eval", "pow(x, y)", "x=0", "y=0", "--json", "--mode", mode])
    assert gradient_of(scalar) == {"x": 0.0, "y": 0.0}


@pytest.mark.parametrize("x, y", [(0.0, 0.0), (0.0, 2.0), (0.0, 1.0), (2.0, 0.0), (-2.0, 0.0), (-2.0, 3.0),
                                  (0.0, 0.5), (1.5, -2.0)])
def test_pow_partials_agree_between_floats_and_arrays(x, y):
    s = run_cli(["eval", "pow(x, y)", f"x={x}", f"y={y}", "--json"])
    a = run_cli(["eval", "sum(pow(x, y))", f"x=[{x}]", f"y=[{y}]", "--json"])
    assert s.exit_code == a.exit_code == 0, (s.stderr, a.stderr)
    gs, ga = gradient_of(s), gradient_of(a)
    for name in ("x", "y"):
        fs, fa = number(gs[name]), number(ga[name][0])
        assert (fs == fa) or (math.isnan(fs) and math.isnan(fa)), (name, fs, fa)


def test_max_to_a_power_in_forward_mode():
    """The unused partial ∂/∂y = x^y*log(x) is NaN at x < 0; it must not poison ∂x."""
    forward = run_cli(["eval", "max(x)^y", "x=-2", "y=2", "--mode", "forward", "--json"])
    reverse = run_cli(["eval", "max(x)^y", "x=-2", "y=2", "--json"])
    assert number(gradient_of(forward)["x"]) == -4.0
    assert number(gradient_of(reverse)["x"]) == -4.0
    assert math.isnan(number(gradient_of(forward)["y"])) and math.isnan(number(gradient_of(reverse)["y"]))


def test_hessian_of_power_with_negative_base():
    result = run_cli(["hessian", "x^y", "x=-2", "y=2", "--wrt", "x", "--json"])
    assert result.exit_code == 0, result.stderr
    assert strict_json(result.stdout)["hessian"] == [[2.0]]


@pytest.mark.parametrize("mode", ["reverse", "forward"])
def test_zero_tangent_through_relu_exponent(mode):
    result = run_cli(["eval", "(2*z)^relu(z)", "z=-1", "--mode", mode, "--json"])
    assert result.exit_code == 0, result.stderr
    assert gradient_of(result) == {"z": 0.0}


def test_zero_cotangent_does_not_multiply_an_infinite_partial():
    result = run_cli(["eval", "sqrt(x)*0", "x=0", "--json"])
    assert gradient_of(result) == {"x": 0.0}


def test_pow_edge_label_stays_the_textbook_formula():
    result = run_cli(["eval", "x^y", "x=2", "y=3", "--edges", "--no-nodes"])
    assert "y*x^(y - 1)" in result.stdout and "a*log(x)" in result.stdout
    zero = run_cli(["eval", "x^y", "x=0", "y=0", "--edges", "--no-nodes"])
    assert "y*x^(y - 1)" in zero.stdout and zero.exit_code == 0


# --------------------------------------------------------------------------------------
# 2. Forward and reverse mode agree (random programs, scalars and arrays)
# --------------------------------------------------------------------------------------
SCALAR_FUNCS = ("exp", "log", "sqrt", "sin", "cos", "tan", "tanh", "sigmoid", "softplus", "atan", "sinh",
                "cosh", "relu", "abs", "asin", "acos")
VECTOR_FUNCS = SCALAR_FUNCS + ("softmax", "log_softmax")
REDUCTIONS = ("sum", "mean", "norm", "max", "min", "logsumexp")
SMALL = ("0", "1", "2", "0.5", "-1", "3")


def scalars(vectors):
    leaves = st.sampled_from(["x", "y", "x", "y", *SMALL])

    def extend(inner):
        return st.one_of(
            st.tuples(st.sampled_from(SCALAR_FUNCS), inner).map(lambda t: f"{t[0]}({t[1]})"),
            st.tuples(inner, st.sampled_from("+-*/^"), inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
            st.tuples(inner, st.sampled_from(["0", "1", "2", "3", "-1", "0.5", "y", "x"])).map(
                lambda t: f"({t[0]})^{t[1]}"),
            st.tuples(st.sampled_from(["max", "min"]), inner, inner).map(lambda t: f"{t[0]}({t[1]}, {t[2]})"),
            st.tuples(st.sampled_from(REDUCTIONS), vectors).map(lambda t: f"{t[0]}({t[1]})"),
            st.tuples(vectors, vectors).map(lambda t: f"dot({t[0]}, {t[1]})"),
            st.tuples(vectors, st.sampled_from(["0", "1", "-1"])).map(lambda t: f"({t[0]})[{t[1]}]"),
        )

    return st.recursive(leaves, extend, max_leaves=6)


def vectors():
    leaves = st.sampled_from(["u", "v", "W@u", "W.T@v", "[x, y, x*y]", "u[::-1]"])

    def extend(inner):
        return st.one_of(
            st.tuples(st.sampled_from(VECTOR_FUNCS), inner).map(lambda t: f"{t[0]}({t[1]})"),
            st.tuples(inner, st.sampled_from("+-*/"), inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
            st.tuples(inner, st.sampled_from("+-*/^"), st.sampled_from(["x", "y", "2", "0", "0.5"])).map(
                lambda t: f"({t[0]} {t[1]} {t[2]})"),
            st.tuples(st.sampled_from(["x", "y", "2"]), st.sampled_from("+-*/^"), inner).map(
                lambda t: f"({t[0]} {t[1]} {t[2]})"),
            inner.map(lambda t: f"W@({t})"),
            st.tuples(inner, inner).map(lambda t: f"max({t[0]}, {t[1]})"),
        )

    return st.recursive(leaves, extend, max_leaves=4)


VALUES = st.sampled_from([0.0, 1.0, -1.0, 0.5, -0.5, 2.0, -2.0, 3.0])
ELEMENT = st.one_of(VALUES, st.floats(-3, 3, allow_nan=False, allow_subnormal=False))


@st.composite
def points(draw):
    x, y = draw(ELEMENT), draw(ELEMENT)
    u = draw(st.lists(ELEMENT, min_size=3, max_size=3))
    v = draw(st.lists(ELEMENT, min_size=3, max_size=3))
    w = draw(st.lists(st.lists(ELEMENT, min_size=3, max_size=3), min_size=3, max_size=3))
    return {"x": f"x={x!r}", "y": f"y={y!r}", "u": f"u={u!r}", "v": f"v={v!r}", "W": f"W={w!r}"}


def bind(source: str, point: dict) -> dict:
    import re

    used = set(re.findall(r"[A-Za-z_]\w*", source))
    return {name: parse_argument(text) for name, text in point.items() if name in used}


def agree(a, b, what: str) -> None:
    """Per element: where either is finite, both are, and they are close."""
    a, b = np.broadcast_arrays(np.asarray(a, dtype=float), np.asarray(b, dtype=float))
    for index in np.ndindex(*a.shape):
        p, q = float(a[index]), float(b[index])
        if not (math.isfinite(p) or math.isfinite(q)):
            continue
        assert math.isfinite(p) and math.isfinite(q) and abs(p - q) <= 1e-9 + 1e-7 * max(abs(p), abs(q)), (
            f"{what}{list(index)}: reverse {p!r} forward {q!r}")


def both_modes(source: str, point: dict):
    try:
        ev = prepare(source, bind(source, point))
    except GradcliError:
        assume(False)
    try:
        run(ev)
    except MathError:
        assume(False)
    reverse = {name: np.array(g, dtype=float) for name, g in ev.gradient.items()}
    fwd = prepare(source, bind(source, point))
    run_forward(fwd)
    return ev, reverse, {name: np.array(g, dtype=float) for name, g in fwd.gradient.items()}


@fuzz(300)
@given(source=st.one_of(scalars(vectors()), scalars(st.just("u"))), point=points())
def test_forward_and_reverse_agree_on_scalar_outputs(source, point):
    note(f"gradcli eval {source!r} " + " ".join(point.values()))
    with np.errstate(all="raise"), __import__("warnings").catch_warnings():
        __import__("warnings").simplefilter("error")
        ev, reverse, forward = both_modes(source, point)
    assert reverse.keys() == forward.keys()
    for name in reverse:
        agree(reverse[name], forward[name], f"∂/∂{name}")


@fuzz(150)
@given(source=vectors(), point=points())
def test_jacobians_agree_between_modes(source, point):
    note(f"gradcli jacobian {source!r} " + " ".join(point.values()))
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            ev = run(prepare(source, bind(source, point)))
        except (GradcliError, MathError):
            assume(False)
        agree(jacobian(ev, "reverse").data, jacobian(ev, "forward").data, "J")


# --------------------------------------------------------------------------------------
# 3. Exit 4 means a bug only
# --------------------------------------------------------------------------------------
ARRAY_KINKS = [
    (["sqrt(v @ v)", "v=[0,0]"], {"v": [0.0, 0.0]}),
    (["acos(dot(u, v))", "u=[1,0]", "v=[1,0]"], {"u": ["-inf", 0.0], "v": ["-inf", 0.0]}),
    (["sqrt(max(v))", "v=[0,0]"], {"v": ["inf", "inf"]}),
    (["asin(norm(v))", "v=[1,0]"], {"v": ["inf", 0.0]}),
    (["z ^ (v @ v)", "z=-2", "v=[1,1]"], {"z": -4.0, "v": ["nan", "nan"]}),
]


@pytest.mark.parametrize("args, gradient", ARRAY_KINKS)
def test_infinite_derivative_reaching_an_array_op(args, gradient):
    result = run_cli(["eval", *args, "--json"])
    assert result.exit_code == 0, result.stderr
    assert gradient_of(result) == gradient
    for mode in ("forward", "reverse"):
        assert run_cli(["jacobian", *args, "--mode", mode]).exit_code == 0


@pytest.mark.parametrize("args", [a for a, _ in ARRAY_KINKS])
def test_graph_of_an_infinite_derivative(args):
    result = run_cli(["graph", *args])
    assert result.exit_code == 0, result.stderr


def test_paths_when_the_output_is_an_input():
    result = run_cli(["eval", "x", "x=1", "--paths", "--no-nodes"])
    assert result.exit_code == 0, result.stderr
    assert "∂x/∂x = 1 (the output is the input x itself: one path with no edges)" in result.stdout
    doc = strict_json(run_cli(["eval", "d = a", "a=2.8", "--paths", "--json"]).stdout)
    assert doc["paths"]["a"] == {"count": 1, "capped": False,
                                 "paths": [{"nodes": ["a"], "factors": [], "value": 1.0}]}


def _lattice(levels: int) -> str:
    lines = ["a0 = x", "b0 = x"]
    for i in range(1, levels):
        lines += [f"s{i} = a{i - 1} + b{i - 1}", f"a{i} = sin(s{i})", f"b{i} = cos(s{i})"]
    return "\n".join(lines + [f"a{levels - 1} + b{levels - 1}"])


@pytest.mark.slow
def test_paths_over_a_huge_lattice_are_counted_without_big_integers():
    result = run_cli(["eval", _lattice(2000), "x=0.1", "--paths", "--no-nodes"])
    assert result.exit_code == 0, result.stderr
    assert "more than 1e15 paths are too many to list" in result.stdout
    doc = strict_json(run_cli(["eval", _lattice(2000), "x=0.1", "--paths", "--json"]).stdout)
    assert doc["paths"]["x"]["capped"] is True and doc["paths"]["x"]["count"] == 10**15


def test_paths_on_a_long_chain_are_bounded():
    chain = "\n".join(["t0 = x"] + [f"t{i} = sin(t{i - 1})" for i in range(1, 3000)])
    result = run_cli(["eval", chain, "x=0.1", "--paths", "--no-nodes"])
    assert result.exit_code == 0, result.stderr
    assert "1 path(s), the longest with 2999 edges, too long to write out" in result.stdout


@pytest.mark.parametrize("args, key, expected", [
    (["hessian", "sqrt(x)", "x=0"], "hessian", [["-inf"]]),
    (["hessian", "x^y", "x=-2", "y=2"], "hessian", [[2.0, "nan"], ["nan", "nan"]]),
    (["jacobian", "sqrt(x)", "x=0", "--mode", "both"], "jacobian", [["inf"]]),
])
def test_non_finite_numbers_in_matrix_documents(args, key, expected):
    result = run_cli([*args, "--json"])
    assert result.exit_code == 0, result.stderr
    assert strict_json(result.stdout)[key] == expected
    assert "Warning" not in result.stderr


def test_infinite_tolerance_in_a_json_document():
    result = run_cli(["eval", "x", "x=1", "--check", "fd", "--rtol", "inf", "--json"])
    assert result.exit_code == 0, result.stderr
    assert strict_json(result.stdout)["tolerances"]["fd"]["rtol"] == "inf"


def test_mode_difference_and_asymmetry_ignore_equal_infinities():
    doc = strict_json(run_cli(["jacobian", "sqrt(x)", "x=0", "--mode", "both", "--json"]).stdout)
    assert doc["forward_reverse_difference"] == 0.0
    assert strict_json(run_cli(["hessian", "sqrt(x)", "x=0", "--json"]).stdout)["asymmetry"] == 0.0


# --------------------------------------------------------------------------------------
# 4. No Python warnings; --rtol inf keeps exact agreement
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("args, code", [
    (["eval", "mean(x[0:0])", "x=[1,2]"], 3),
    (["hessian", "pow(-x, y)*1", "x=2", "y=2", "--check", "fd", "--wrt", "x"], 0),
    (["jacobian", "sqrt(x)", "x=0", "--mode", "both"], 0),
])
def test_no_python_warnings(args, code):
    result = run_cli(args)
    assert result.exit_code == code, result.stderr
    assert all(line.startswith("gradcli: ") for line in result.stderr.splitlines()), result.stderr


@pytest.mark.parametrize("command", ["eval", "jacobian", "hessian"])
def test_infinite_rtol_keeps_exact_agreement(command):
    result = run_cli([command, "x*0", "x=0", "--check", "fd", "--rtol", "inf"])
    assert result.exit_code == 0, result.stdout


# --------------------------------------------------------------------------------------
# 5. Huge literal exponents
# --------------------------------------------------------------------------------------
def test_huge_exponent_literals_are_normalised():
    from fractions import Fraction

    from gradcli.backends.sympy import _exact_fraction

    assert _exact_fraction("0e999999999") == 0
    assert _exact_fraction("1e-999999999") == 0
    assert _exact_fraction("0.0e-999999999") == 0
    assert _exact_fraction("1.5e-300") == Fraction("1.5e-300")  # still exact in range


@pytest.mark.parametrize("program", ["x + 0e999999999", "x*1e-999999999"])
def test_huge_exponent_literals_in_checks(program):
    result = run_cli(["eval", program, "x=1", "--check", "sympy", "--exact", "--sympy-timeout", "20"])
    assert result.exit_code == 0, result.stdout
    assert "time budget" not in result.stdout + result.stderr


# --------------------------------------------------------------------------------------
# 6. Parse errors and the program header
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("source, opener, line_col", [
    ("a = (x + 1\nf = a*2\nf", "(", (1, 5)),
    ("a = sin(x\nb = 2", "(", (1, 5)),
    ("a = [x,\n1\nb = 2", "[", (1, 5)),
    ("a = (x +\nb = 2", "(", (1, 5)),
])
def test_unclosed_bracket_is_named_where_it_opened(source, opener, line_col):
    from gradcli.core.errors import ParseError
    from gradcli.language.parser import parse

    with pytest.raises(ParseError) as info:
        parse(source)
    assert info.value.message.startswith(f"'{opener}' is never closed"), info.value.message
    assert info.value.line_col == line_col


def test_header_keeps_a_continued_statement_whole():
    result = run_cli(["eval", "a = x\nb = a*\n2\nb", "x=1", "--no-nodes"])
    assert result.stdout.splitlines()[0] == "program  a = x; b = a* 2; b"
    from gradcli.language.parser import statement_texts

    assert statement_texts("a = x  # one\nb = max(a,\n  x) # two\nc = -\n b; b*c") == [
        "a = x", "b = max(a, x)", "c = - b", "b*c"]


# --------------------------------------------------------------------------------------
# 7. Hints
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("args, hint", [
    (["w·x", "w=[1,2]", "x=[1,2]"], "write @ or dot(u, v) for a matrix or vector product"),
    (["W x", "W=[[1,2],[3,4]]", "x=[1,2]"], "write @ or dot(u, v) for a matrix or vector product"),
    (["a b", "a=1", "b=2"], "(write * for multiplication)"),
    (["a b", "a=1"], "write * for multiplication, or @ or dot(u, v) for matrix and vector products"),
    (["2 x", "x=[1,2]"], "(write * for multiplication)"),
    (["w^T @ x", "w=[1,2]", "x=[1,2]"], "for the transpose write w.T, not w^T"),
    (["ln(x)", "x=1"], "did you mean log?"),
    (["ReLU(x)", "x=1"], "did you mean relu?"),
    (["e^x", "x=1"], "for Euler's number write exp(x)"),
])
def test_hints(args, hint):
    result = run_cli(["eval", *args])
    assert result.exit_code == 2
    assert hint in result.stderr, result.stderr

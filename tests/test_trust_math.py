"""Issue 10 ("Trust"), the mathematical part: derivatives that exist are never NaN,
forward and reverse mode agree, exit 4 only for bugs, no Python warning leaks,
huge literals stay cheap, parse errors point at the unclosed bracket, hints.

Every reproduction from the issue is a test here.  The property tests run random
programs (scalars and arrays) in both modes and require agreement per element
wherever either mode is finite.
"""

from __future__ import annotations

import math
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, note, settings
from hypothesis import strategies as st

from clitools import ENV, run_cli, strict_json  # noqa: F401
from gradcli.core.errors import GradcliError, MathError
from gradcli.run.bindings import parse_argument
from gradcli.run.derivatives import jacobian
from gradcli.run.evaluate import prepare, run, run_forward

EXTRA = int(os.environ.get("GRADCLI_FUZZ_EXAMPLES", "0") or 0)


def fuzz(max_examples: int):
    return settings(
        max_examples=max(max_examples, EXTRA), deadline=None, derandomize=True, database=None,
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
    assert "y*x^y" in zero.stdout


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

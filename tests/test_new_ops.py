"""Issue 11's operations: comparisons and where, the new elementwise functions,
reductions, shapes, linear algebra and constants.

Every rule is checked against oracles independent of it:

* elementwise partials against SymPy's own ``diff`` of the op's SymPy form and against
  central differences, at points drawn by hypothesis inside each op's domain;
* array programs (gradient, forward-mode Jacobian, forward-over-reverse Hessian)
  against 4-point finite differences of the same program written in NumPy here;
* array programs at hypothesis-drawn points against the SymPy oracle (SymPy's
  derivative of the expression built from the ops' SymPy forms, not from their rules);
* PyTorch's conventions at kinks, NumPy's shape rules and the error messages, by hand.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import strategies as st

from clitools import examples
from test_ops import CASES as OP_CASES
from test_ops import Case, _sympy_derivatives, close, fd_partial, row_partials, sympy_value
from test_tensors import (
    N, U, _case_inputs, _inputs, away_from_zero, evaluate, fd_gradient, fd_hessian, grads_equal, invoke,
)

from gradcli.core.ops import OPS
from gradcli.language.parser import parse, program_sexpr
from gradcli.oracles.sympy_check import sympy_check
from gradcli.run.derivatives import hessian, jacobian

#: SymPy inside hypothesis takes minutes: CI runs these, the quick loop (-m 'not slow') does not
pytestmark = pytest.mark.slow

NEW_ELEMENTWISE = [
    "lt", "le", "gt", "ge", "ne", "where", "log1p", "expm1", "log2", "log10", "erf", "asinh", "acosh",
    "atanh", "cbrt", "atan2", "hypot", "logaddexp", "sign", "floor", "ceil", "round", "clip",
    "leaky_relu", "elu", "gelu",
]
NEW_STRUCTURAL = [
    "prod", "cumsum", "var", "std", "reshape", "flatten", "hstack", "vstack", "trace", "det", "logdet",
    "inv", "solve", "diag", "eye", "zeros", "ones",
]
SETTINGS = settings(max_examples=examples(25), deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


def test_the_lists_here_are_the_new_rows():
    for name in NEW_ELEMENTWISE:
        assert OPS[name].elementwise, name
    for name in NEW_STRUCTURAL:
        assert not OPS[name].elementwise, name


# ---- elementwise partials: hypothesis points, SymPy and finite differences -------------
def _interval(domain) -> st.SearchStrategy:
    return st.one_of(*[st.floats(a, b, allow_nan=False) for a, b in domain])


_NEW_CASES = [c for c in OP_CASES if c.op in NEW_ELEMENTWISE]


def test_every_new_elementwise_op_has_a_case():
    assert {c.op for c in _NEW_CASES} == set(NEW_ELEMENTWISE)


@pytest.mark.parametrize("case", _NEW_CASES, ids=repr)
@SETTINGS
@given(data=st.data())
def test_partials_match_sympy_and_finite_differences(case: Case, data):
    xs = [data.draw(_interval(d)) for d in case.domains]
    if case.distinct:
        assume(all(abs(a - b) >= 0.1 for i, a in enumerate(xs) for b in xs[i + 1:]))
    syms, derivs = _sympy_derivatives(case)
    got = row_partials(case.op, xs, case.wrt)
    for k in case.wrt:
        exact = sympy_value(derivs[k], syms, xs)
        assert close(got[k], exact, 1e-9, 1e-300), f"{case.op}{tuple(xs)}: partial {k} {got[k]!r}, SymPy {exact!r}"
        estimate, floor = fd_partial(case.op, xs, k)
        assert close(got[k], estimate, 1e-6, floor + 1e-12), (
            f"{case.op}{tuple(xs)}: partial {k} {got[k]!r}, finite differences {estimate!r}"
        )


# ---- array programs: gradient, forward mode and Hessian against NumPy -------------------
def _erf(x):
    return np.vectorize(math.erf)(x)


def _off_grid(rng, n, step=1.0):
    """Points at least 0.1 away from every multiple of step/2 (floor, ceil, round jump there)."""
    return rng.uniform(0.1, 0.4, n) * step + rng.integers(-2, 3, n) * step


def _square(rng, n=3):
    return 2.5 * np.eye(n) + rng.uniform(-0.5, 0.5, (n, n))


def _apart(rng):
    x = N(5)(rng)
    return {"x": x, "y": x + away_from_zero(rng, 5, 0.1, 1.0), "c": N(5)(rng)}


ARRAY_CASES = [
    ("where_cmp", "sum(where(x > y, x * c, y^2)) + sum(where(x <= y, 0, x^3))", _apart,
     lambda x, y, c: np.sum(np.where(x > y, x * c, y ** 2)) + np.sum(np.where(x <= y, 0, x ** 3))),
    ("comparisons", "sum((x < y) + (x <= y) + (x > y) + (x >= y) + (x == y) + (x != y)) * sum(x * c)", _apart,
     lambda x, y, c: np.sum((x < y) + 1.0 * (x <= y) + (x > y) + 1.0 * (x >= y) + (x == y) + 1.0 * (x != y))
     * np.sum(x * c)),
    ("logs_exps", "sum(log1p(x) * c + expm1(x) + log2(x) * log10(x))", _inputs(x=U(0.5, 2, 4), c=N(4)),
     lambda x, c: np.sum(np.log1p(x) * c + np.expm1(x) + np.log2(x) * np.log10(x))),
    ("erf_gelu", "sum(erf(x) * c + gelu(x * c))", _inputs(x=U(-2, 2, 4), c=N(4)),
     lambda x, c: np.sum(_erf(x) * c + (x * c) * 0.5 * (1 + _erf(x * c / math.sqrt(2))))),
    ("inverse_hyperbolic", "sum(asinh(x) + acosh(x + 3) * c + atanh(x / 2) + cbrt(x))",
     lambda rng: {"x": away_from_zero(rng, 4), "c": N(4)(rng)},
     lambda x, c: np.sum(np.arcsinh(x) + np.arccosh(x + 3) * c + np.arctanh(x / 2) + np.cbrt(x))),
    ("atan2_hypot_logaddexp", "sum(atan2(y, x) * c + hypot(x, a) + logaddexp(x, a * y))",
     lambda rng: {"y": away_from_zero(rng, 4), "x": away_from_zero(rng, 4), "c": N(4)(rng), "a": 0.7},
     lambda x, y, a, c: np.sum(np.arctan2(y, x) * c + np.hypot(x, a) + np.logaddexp(x, a * y))),
    ("jumps", "sum((sign(x) + floor(x) + ceil(x) + round(x)) * x)",
     lambda rng: {"x": _off_grid(rng, 6, 0.5) + 0.0},
     lambda x: np.sum((np.sign(x) + np.floor(x) + np.ceil(x) + np.round(x)) * x)),
    ("clip", "sum(clip(x, lo, hi) * c)",
     lambda rng: {"x": np.array([-1.2, -0.3, 0.1, 0.55, 0.9, -0.7]), "lo": -0.5, "hi": 0.7, "c": N(6)(rng)},
     lambda x, lo, hi, c: np.sum(np.clip(x, lo, hi) * c)),
    ("leaky_elu", "sum(leaky_relu(x) * c + leaky_relu(x, s) + elu(x) * c + elu(x, a))",
     lambda rng: {"x": away_from_zero(rng, 6), "c": N(6)(rng), "s": 0.2, "a": 1.5},
     lambda x, s, a, c: np.sum(np.where(x > 0, x, 0.01 * x) * c + np.where(x > 0, x, s * x)
                               + np.where(x > 0, x, np.expm1(np.minimum(x, 0))) * c
                               + np.where(x > 0, x, a * np.expm1(np.minimum(x, 0))))),
    ("prod", "prod(x) + sum(prod(A, 0) * c) + sum(prod(A, 1))", _inputs(x=N(4), A=N(3, 4), c=N(4)),
     lambda x, A, c: np.prod(x) + np.sum(np.prod(A, 0) * c) + np.sum(np.prod(A, 1))),
    ("cumsum", "sum(cumsum(x) * c) + sum(cumsum(A, 0) * C) + sum(cumsum(A, 1)^2) + sum(cumsum(A)^3)",
     _inputs(x=N(4), c=N(4), A=N(3, 4), C=N(3, 4)),
     lambda x, c, A, C: np.sum(np.cumsum(x) * c) + np.sum(np.cumsum(A, 0) * C) + np.sum(np.cumsum(A, 1) ** 2)
     + np.sum(np.cumsum(A) ** 3)),
    ("var_std", "var(x) + std(x) * sum(c) + sum(var(A, 0) * c) + sum(std(A, 1))",
     _inputs(x=N(4), c=N(4), A=N(3, 4)),
     lambda x, c, A: np.var(x) + np.std(x) * np.sum(c) + np.sum(np.var(A, 0) * c) + np.sum(np.std(A, 1))),
    ("reshape_flatten", "sum(reshape(A, 2, -1) @ B) + sum(reshape(A, 6) * c) + sum(flatten(A)^3)",
     _inputs(A=N(3, 2), B=N(3, 2), c=N(6)),
     lambda A, B, c: np.sum(A.reshape(2, -1) @ B) + np.sum(A.reshape(6) * c) + np.sum(A.ravel() ** 3)),
    ("hstack_vstack", "sum(hstack(x, y, a) * c) + sum(vstack(x, y) * C) + sum(hstack(A, B) * D)"
     " + sum(vstack(A, u)^2)",
     _inputs(x=N(3), y=N(3), a=N(), c=N(7), C=N(2, 3), A=N(2, 2), B=N(2, 3), D=N(2, 5), u=N(2)),
     lambda x, y, a, c, C, A, B, D, u: np.sum(np.hstack([x, y, a]) * c) + np.sum(np.vstack([x, y]) * C)
     + np.sum(np.hstack([A, B]) * D) + np.sum(np.vstack([A, u]) ** 2)),
    ("trace_det_logdet", "trace(X @ A) + det(X) * 0.3 + logdet(X)",
     lambda rng: {"X": _square(rng), "A": N(3, 3)(rng)},
     lambda X, A: np.trace(X @ A) + np.linalg.det(X) * 0.3 + np.linalg.slogdet(X)[1]),
    ("inv_solve", "sum(inv(X) * C) + sum(solve(X, b) * c) + sum(solve(X, B) * D)",
     lambda rng: {"X": _square(rng), "C": N(3, 3)(rng), "b": N(3)(rng), "c": N(3)(rng), "B": N(3, 2)(rng),
                  "D": N(3, 2)(rng)},
     lambda X, C, b, c, B, D: np.sum(np.linalg.inv(X) * C) + np.sum(np.linalg.solve(X, b) * c)
     + np.sum(np.linalg.solve(X, B) * D)),
    ("diag", "sum(diag(X) * c) + sum(diag(c) * X)^2", _inputs(X=N(3, 3), c=N(3)),
     lambda X, c: np.sum(np.diag(X) * c) + np.sum(np.diag(c) * X) ** 2),
    ("constants", "sum((X + eye(3)) @ ones(3) * c) + sum(zeros(3, 3) + X^2) + sum(ones(2, 3) @ X) + sum(zeros(3) * c)",
     _inputs(X=N(3, 3), c=N(3)),
     lambda X, c: np.sum((X + np.eye(3)) @ np.ones(3) * c) + np.sum(X ** 2) + np.sum(np.ones((2, 3)) @ X)),
    ("scalar_operands", "sum(dot(x, a) * c) + sum((W @ a)^2) + a @ a", _inputs(x=N(3), a=N(), c=N(3), W=N(2, 3)),
     lambda x, a, c, W: np.sum(np.dot(x, a) * c) + np.sum((W * a) ** 2) + a * a),
]


def test_the_array_cases_use_every_new_op():
    used = set()
    for case_id, program, make, _ in ARRAY_CASES:
        ev = evaluate(program, **_case_inputs(case_id, make))
        used |= {node.op for node in ev.graph.nodes}
    missing = (set(NEW_ELEMENTWISE) | set(NEW_STRUCTURAL)) - used
    assert not missing


@pytest.mark.parametrize("case", ARRAY_CASES, ids=[c[0] for c in ARRAY_CASES])
def test_array_gradient_matches_finite_differences(case):
    case_id, program, make, f = case
    values = _case_inputs(case_id, make)
    ev = evaluate(program, **values)
    assert ev.value == pytest.approx(f(**values), rel=1e-12, abs=1e-12)
    grads_equal(ev, fd_gradient(f, values), rtol=1e-7, atol=1e-8)


@pytest.mark.parametrize("case", ARRAY_CASES, ids=[c[0] for c in ARRAY_CASES])
def test_forward_mode_equals_reverse_mode(case):
    case_id, program, make, f = case
    ev = evaluate(program, **_case_inputs(case_id, make))
    np.testing.assert_allclose(jacobian(ev, "forward").data, jacobian(ev, "reverse").data, rtol=1e-11, atol=1e-12)


@pytest.mark.parametrize("case", ARRAY_CASES, ids=[c[0] for c in ARRAY_CASES])
def test_hessian_matches_second_differences(case):
    case_id, program, make, f = case
    values = _case_inputs(case_id, make)
    H = hessian(evaluate(program, **values)).data
    np.testing.assert_allclose(H, H.T, rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(H, fd_hessian(f, values), rtol=1e-5, atol=2e-5)


# ---- array programs at hypothesis points, against the SymPy oracle ----------------------
def _vector(n, lo=-2.0, hi=2.0):
    return st.lists(st.floats(lo, hi, allow_nan=False), min_size=n, max_size=n).map(np.array)


def _well_conditioned():
    return _vector(9, -0.5, 0.5).map(lambda v: 2.5 * np.eye(3) + v.reshape(3, 3))


SYMPY_PROGRAMS = [
    ("prod(x) + sum(cumsum(x)^2) + var(x) + std(x)", {"x": _vector(4)}),
    ("sum(reshape(x, 2, 2) @ flatten(vstack(x[0:2], x[2:4]))[0:2]) + sum(hstack(x, 1)^2)", {"x": _vector(4)}),
    ("trace(X) + det(X) + logdet(X) + sum(inv(X)) + sum(solve(X, x[0:3])) + sum(diag(X) * diag(diag(x[0:3])))",
     {"X": _well_conditioned(), "x": _vector(4)}),
    ("sum(where(x > 0.5, log1p(x^2), gelu(x)) + erf(x) + clip(x, -1, 1) * leaky_relu(x) + elu(x, 2))",
     {"x": _vector(4)}),
    ("sum(atan2(x, 2) + hypot(x, 1) + logaddexp(x, -x) + asinh(x) + atanh(x / 3) + acosh(x^2 + 1.5)"
     " + log2(2.5 + x) + log10(3 + x) + expm1(x) + cbrt(x + 5))", {"x": _vector(4)}),  # x in [-2, 2]: log2 stays defined
]


@pytest.mark.parametrize("program, strategies", SYMPY_PROGRAMS, ids=[p[0][:30] for p in SYMPY_PROGRAMS])
@settings(max_examples=examples(6), deadline=None, database=None, phases=[Phase.explicit, Phase.generate],
          suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_array_programs_agree_with_sympy(program, strategies, data):
    values = {name: data.draw(s) for name, s in strategies.items()}
    ev = evaluate(program, **values)
    assume(not ev.kinks)
    check = sympy_check(ev, seconds=60)
    assert check.results, check.note
    assert all(r.status == "ok" for r in check.results.values()), {
        k: (r.status, r.error, r.note) for k, r in check.results.items()
    }


# ---- conventions at kinks (PyTorch's) -------------------------------------------------
@pytest.mark.parametrize("program, env, value, grads", [
    ("x < y", {"x": 1.0, "y": 2.0}, 1.0, {"x": 0.0, "y": 0.0}),
    ("x >= y", {"x": 2.0, "y": 2.0}, 1.0, {"x": 0.0, "y": 0.0}),
    ("where(x > 0, x^2, 3*x)", {"x": 2.0}, 4.0, {"x": 4.0}),
    ("where(x > 0, x^2, 3*x)", {"x": -2.0}, -6.0, {"x": 3.0}),
    ("where(x > 0, x^2, 3*x)", {"x": 0.0}, 0.0, {"x": 3.0}),
    ("clip(x, lo, hi)", {"x": 1.0, "lo": 1.0, "hi": 2.0}, 1.0, {"x": 1.0, "lo": 0.0, "hi": 0.0}),
    ("clip(x, lo, hi)", {"x": 2.0, "lo": 1.0, "hi": 2.0}, 2.0, {"x": 1.0, "lo": 0.0, "hi": 0.0}),
    ("clip(x, lo, hi)", {"x": 0.5, "lo": 1.0, "hi": 2.0}, 1.0, {"x": 0.0, "lo": 1.0, "hi": 0.0}),
    ("clip(x, lo, hi)", {"x": 3.0, "lo": 1.0, "hi": 2.0}, 2.0, {"x": 0.0, "lo": 0.0, "hi": 1.0}),
    ("leaky_relu(x)", {"x": 0.0}, 0.0, {"x": 0.01}),
    ("leaky_relu(x, s)", {"x": 0.0, "s": 0.2}, 0.0, {"x": 0.2, "s": 0.0}),
    ("elu(x)", {"x": 0.0}, 0.0, {"x": 1.0}),
    ("elu(x, a)", {"x": 0.0, "a": 2.0}, 0.0, {"x": 2.0, "a": 0.0}),
    ("floor(x) + ceil(x) + round(x) + sign(x)", {"x": 2.0}, 7.0, {"x": 0.0}),
    ("round(x)", {"x": 2.5}, 2.0, {"x": 0.0}),
    ("round(x)", {"x": -0.5}, -0.0, {"x": 0.0}),
    ("cbrt(x)", {"x": -27.0}, -3.0, {"x": 1 / 27}),
    ("logaddexp(x, y)", {"x": 1000.0, "y": 1000.0}, 1000.0 + math.log(2.0), {"x": 0.5, "y": 0.5}),
    ("logaddexp(x, y)", {"x": -1000.0, "y": 0.0}, 0.0, {"x": 0.0, "y": 1.0}),
])
def test_scalar_conventions(program, env, value, grads):
    ev = evaluate(program, **env)
    assert ev.value == pytest.approx(value, rel=1e-15, abs=1e-300)
    assert ev.gradient == pytest.approx(grads, rel=1e-14, abs=1e-300)


@pytest.mark.parametrize("program, env", [
    ("x < y", {"x": 1.0, "y": 1.0}), ("floor(x)", {"x": 3.0}), ("round(x)", {"x": 1.5}),
    ("sign(x)", {"x": 0.0}), ("clip(x, 0, 1)", {"x": 1.0}), ("leaky_relu(x)", {"x": 0.0}),
    ("elu(x, 2)", {"x": 0.0}), ("hypot(x, y)", {"x": 0.0, "y": 0.0}), ("acosh(x)", {"x": 1.0}),
    ("std(x)", {"x": [2.0, 2.0]}),
])
def test_kinks_are_flagged_with_the_rows_convention(program, env):
    ev = evaluate(program, **env)
    assert ev.kinks, program
    op = OPS[ev.kinks[0].op]
    assert op.convention and any(op.convention in w for w in ev.warnings), ev.warnings


def test_prod_with_zeros_is_exact():
    ev = evaluate("prod(x)", x=[1.5, 0.0, 2.0, -1.0])
    np.testing.assert_array_equal(ev.gradient["x"], [0.0, -3.0, 0.0, 0.0])
    ev = evaluate("prod(x)", x=[1.5, 0.0, 2.0, 0.0])
    np.testing.assert_array_equal(ev.gradient["x"], [0.0, 0.0, 0.0, 0.0])
    ev = evaluate("sum(prod(A, 1))", A=[[0.0, 2.0], [3.0, 4.0]])
    np.testing.assert_array_equal(ev.gradient["A"], [[2.0, 0.0], [4.0, 3.0]])
    H = hessian(evaluate("prod(x)", x=[0.0, 2.0, 3.0])).data
    np.testing.assert_allclose(H, [[0, 3, 2], [3, 0, 0], [2, 0, 0]], atol=1e-15)


def test_det_gradient_at_a_singular_matrix_is_the_cofactor_matrix():
    X = np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [1.0, 0.0, 1.0]])
    cof = np.array([[X[1, 1] * X[2, 2] - X[1, 2] * X[2, 1], -(X[1, 0] * X[2, 2] - X[1, 2] * X[2, 0]),
                     X[1, 0] * X[2, 1] - X[1, 1] * X[2, 0]],
                    [-(X[0, 1] * X[2, 2] - X[0, 2] * X[2, 1]), X[0, 0] * X[2, 2] - X[0, 2] * X[2, 0],
                     -(X[0, 0] * X[2, 1] - X[0, 1] * X[2, 0])],
                    [X[0, 1] * X[1, 2] - X[0, 2] * X[1, 1], -(X[0, 0] * X[1, 2] - X[0, 2] * X[1, 0]),
                     X[0, 0] * X[1, 1] - X[0, 1] * X[1, 0]]])
    ev = evaluate("det(X)", X=X)
    assert ev.value == pytest.approx(0.0, abs=1e-12)
    np.testing.assert_allclose(ev.gradient["X"], cof, atol=1e-12)


def test_var_std_are_population_and_cumsum_flattens():
    ev = evaluate("var(x) + 0 * std(x)", x=[1.0, 2.0, 3.0, 4.0])
    assert ev.value == pytest.approx(1.25)
    ev = evaluate("cumsum(A)", A=[[1.0, 2.0], [3.0, 4.0]])
    np.testing.assert_array_equal(ev.value, [1.0, 3.0, 6.0, 10.0])


@pytest.mark.parametrize("program, shape", [
    ("hstack(x, x)", (6,)), ("hstack(x, 1)", (4,)), ("vstack(x, x)", (2, 3)), ("vstack(1, 2, 3)", (3, 1)),
    ("hstack(A, A)", (2, 6)), ("vstack(A, A)", (4, 3)), ("vstack(A, x)", (3, 3)), ("reshape(A, -1, 2)", (3, 2)),
    ("reshape(A, 6)", (6,)), ("flatten(A)", (6,)), ("diag(x)", (3, 3)), ("eye(2)", (2, 2)), ("zeros(2, 4)", (2, 4)),
    ("ones(5)", (5,)), ("A @ 2", (2, 3)), ("dot(x, 3)", (3,)),
])
def test_shapes_follow_numpy(program, shape):
    x, A = np.array([1.0, 2.0, 3.0]), np.arange(6.0).reshape(2, 3)
    ev = evaluate(f"y = {program}; s = sum(y)", x=x, A=A)
    assert ev.graph.nodes[ev.graph.names["y"]].shape == shape


@pytest.mark.parametrize("program, bindings, parts", [
    ("reshape(A, 4, -1)", ["A=[[1,2,3],[4,5,6]]"], ["reshape", "cannot reshape 6 elements"]),
    ("reshape(A, -1, -1)", ["A=[[1,2,3],[4,5,6]]"], ["at most one size may be -1"]),
    ("hstack(A, x)", ["A=[[1,2],[3,4]]", "x=[1,2]"], ["hstack", "(2, 2)", "(2,)"]),
    ("vstack(A, x)", ["A=[[1,2],[3,4]]", "x=[1,2,3]"], ["vstack", "same number of columns"]),
    ("det(A)", ["A=[[1,2,3],[4,5,6]]"], ["det", "square matrix", "(2, 3)"]),
    ("solve(A, x)", ["A=[[1,2],[3,4]]", "x=[1,2,3]"], ["solve", "(3,)"]),
    ("diag(A)", ["A=[[1,2,3],[4,5,6]]"], ["diag", "vector or a square matrix"]),
])
def test_shape_errors_exit_2(program, bindings, parts):
    result = invoke("eval", program, *bindings)
    assert result.exit_code == 2 and result.stdout == ""
    for part in parts:
        assert part in result.stderr, (part, result.stderr)


@pytest.mark.parametrize("program, bindings, parts", [
    ("logdet(A)", ["A=[[1,2],[3,4]]"], ["node b = logdet(A) (logdet)", "positive determinant"]),
    ("sum(inv(A))", ["A=[[1,2],[2,4]]"], ["node b = inv(A) (inv)", "non-singular"]),
    ("sum(solve(A, x))", ["A=[[1,2],[2,4]]", "x=[1,2]"], ["solve(A, x) (solve)", "non-singular"]),
    ("log1p(x)", ["x=-1"], ["log1p", "greater than -1"]),
    ("acosh(x)", ["x=0.5"], ["acosh", ">= 1"]),
])
def test_math_errors_exit_3_naming_the_node(program, bindings, parts):
    result = invoke("eval", program, *bindings)
    assert result.exit_code == 3 and result.stdout == ""
    assert result.stderr.count("\n") == 1
    for part in parts:
        assert part in result.stderr, (part, result.stderr)


@pytest.mark.parametrize("program, message", [
    ("eye(n)", "integer literals"), ("zeros(2, 3, 4, 5, 6)", "zeros(d0, d1, …) with 1 to 4 sizes"), ("reshape(x)", "reshape(x, d0, d1, …)"),
    ("eye(-2)", "non-negative"), ("ones(2.5)", "integer literals"),
])
def test_constructor_arguments_are_integer_literals(program, message):
    result = invoke("eval", program, "x=[1,2]", "n=3")
    assert result.exit_code == 2 and message in result.stderr, result.stderr


# ---- the language: comparisons below arithmetic, as in Python -----------------------
@pytest.mark.parametrize("src, sexpr", [
    ("x + 1 > y * 2", "(> (+ x 1) (* y 2))"),
    ("a <= -b ^ 2", "(<= a (neg (^ b 2)))"),
    ("(x < y) * (y != z)", "(* (< x y) (!= y z))"),
    ("x == y", "(== x y)"),
    ("t = x >= y", "(= t (>= x y))"),
])
def test_comparisons_parse_below_arithmetic(src, sexpr):
    assert program_sexpr(parse(src)) == sexpr


def test_chained_comparisons_are_refused_at_the_column():
    result = invoke("eval", "x < y <= z", "x=1", "y=2", "z=3")
    assert result.exit_code == 2 and "column 7" in result.stderr and "chained comparison" in result.stderr


# ---- every teaching view works with the new ops ---------------------------------------
@pytest.mark.parametrize("flags", [
    ["--check", "sympy"], ["--exact"], ["--latex"], ["--steps"], ["--edges"], ["--paths"], ["--mode", "forward"],
])
def test_teaching_views_run_with_new_scalar_ops(flags):
    program = "f = where(x > 1, log1p(x) * erf(x), 0) + clip(x, 0, 3) * gelu(y) + logaddexp(x, y) + floor(y)"
    result = invoke("eval", program, "x=3/2", "y=1/4", *flags)
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""


@pytest.mark.parametrize("flags", [["--check", "all"], ["--exact"], ["--latex"], ["--steps"], ["--edges"]])
def test_teaching_views_run_with_new_array_ops(flags):
    program = "s = logdet(X) + trace(inv(X)) + sum(solve(X, b)) + prod(b) + var(b) + sum(cumsum(b))"
    result = invoke("eval", program, "X=[[2,1],[1,3]]", "b=[1,2]", *flags)
    assert result.exit_code == 0, result.stderr


def test_exact_value_of_new_ops():
    result = invoke("eval", "det(X) + trace(X) + round(y) + floor(y)", "X=[[2,1],[1,3]]", "y=5/2", "--exact",
                    "--json")
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["exact"]["nodes"][doc["output"]]["exact"] == "14"  # 5 + 5 + round(5/2) + floor(5/2)
    assert doc["exact"]["gradient"]["X"]["exact"] == "[[4, -1], [-1, 3]]"


def test_export_writes_the_new_elementwise_ops(tmp_path):
    import subprocess
    import sys

    program = ("f = where(x > 1, log1p(x) * atan2(x, y), 0) + clip(x, 0, 3) * leaky_relu(y, 0.2) + floor(x)"
               " + hypot(x, y) + (x != y) + expm1(y) + log2(x) + log10(x) + asinh(y) + acosh(x) + atanh(y)"
               " + cbrt(y) + logaddexp(x, y) + round(x) + ceil(y) + sign(y)")
    script = tmp_path / "backprop.py"
    made = invoke("export", program, "x=1.5", "y=0.3", "-o", str(script))
    assert made.exit_code == 0, made.stderr
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, check=True).stdout
    exported = json.loads(out)
    ev = evaluate(program, x=1.5, y=0.3)
    assert exported["value"] == pytest.approx(ev.value, rel=1e-12)
    assert exported["gradient"] == pytest.approx(ev.gradient, rel=1e-12)


def test_det_hessian_at_a_singular_matrix():
    """Second derivatives of det are exact even where X has no inverse: for 2x2, det is
    X00 X11 - X01 X10, so its Hessian pairs (X00, X11) with 1 and (X01, X10) with -1."""
    H = hessian(evaluate("det(X)", X=[[1.0, 2.0], [2.0, 4.0]])).data
    np.testing.assert_array_equal(H, [[0, 0, 0, 1], [0, 0, -1, 0], [0, -1, 0, 0], [1, 0, 0, 0]])

"""Vectors and matrices: every tensor op's VJP and JVP, closed forms, broadcasting,
indexing, stable forms, shape errors, Hessians, the tensor samples and --seed-output.

Every expectation is computed independently of gradcli's engine: closed forms or
finite differences written here in NumPy, or SymPy's own ``hessian``.  Finite
differences use the 4-point central stencil (error O(h⁴)), so they agree with exact
derivatives to about 1e-10 at h = 1e-3; the random points are seeded and kept away
from kinks (relu, abs, max) by more than the stencil's reach.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import sympy as sp

from clitools import invoke as invoke_cli
from gradcli.run.bindings import Binding
from gradcli.run.derivatives import hessian, jacobian
from gradcli.run.evaluate import prepare, run
from gradcli.core.ops import OPS

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"


# ---- helpers --------------------------------------------------------------------------
def bindings(values: dict) -> dict:
    out = {}
    for name, v in values.items():
        arr = np.asarray(v, dtype=float)
        value = float(arr) if arr.ndim == 0 else arr.copy()
        out[name] = Binding(name, value, json.dumps(arr.tolist()), "test")
    return out


def evaluate(source: str, **values):
    return run(prepare(source, bindings(values)))


def prepared(source: str, **values):
    return prepare(source, bindings(values))


def _at(values: dict, name: str, index: tuple, delta: float) -> dict:
    env = {k: np.array(v, dtype=float) for k, v in values.items()}
    env[name][index] += delta
    return {k: (float(v) if v.ndim == 0 else v) for k, v in env.items()}


def fd_gradient(f: Callable, values: dict, h: float = 1e-3) -> dict:
    """∂f/∂input for each input of scalar-valued NumPy function f(**values), 4-point stencil."""
    grads = {}
    for name, v in values.items():
        arr = np.asarray(v, dtype=float)
        g = np.zeros(arr.shape)
        for idx in np.ndindex(*arr.shape):
            fp1, fm1 = f(**_at(values, name, idx, h)), f(**_at(values, name, idx, -h))
            fp2, fm2 = f(**_at(values, name, idx, 2 * h)), f(**_at(values, name, idx, -2 * h))
            g[idx] = (8 * (fp1 - fm1) - (fp2 - fm2)) / (12 * h)
        grads[name] = g
    return grads


def fd_jacobian(f: Callable, values: dict, h: float = 1e-3) -> np.ndarray:
    """Rows: output elements (row-major); columns: input elements in `values` order."""
    cols = []
    for name, v in values.items():
        arr = np.asarray(v, dtype=float)
        for idx in np.ndindex(*arr.shape):
            d1 = np.ravel(f(**_at(values, name, idx, h))) - np.ravel(f(**_at(values, name, idx, -h)))
            d2 = np.ravel(f(**_at(values, name, idx, 2 * h))) - np.ravel(f(**_at(values, name, idx, -2 * h)))
            cols.append((8 * d1 - d2) / (12 * h))
    return np.array(cols).T


def fd_hessian(f: Callable, values: dict, h: float = 2e-4) -> np.ndarray:
    """Second differences of scalar f over all input elements (row-major, `values` order)."""
    elems = [(name, idx) for name, v in values.items() for idx in np.ndindex(*np.shape(v))]
    n = len(elems)
    H = np.zeros((n, n))

    def shifted(pairs):
        env = {k: np.array(v, dtype=float) for k, v in values.items()}
        for (name, idx), d in pairs:
            env[name][idx] += d
        return f(**{k: (float(v) if v.ndim == 0 else v) for k, v in env.items()})

    f0 = f(**values)
    for i in range(n):
        for j in range(i, n):
            if i == j:
                e = elems[i]
                H[i, i] = (-shifted([(e, 2 * h)]) + 16 * shifted([(e, h)]) - 30 * f0
                           + 16 * shifted([(e, -h)]) - shifted([(e, -2 * h)])) / (12 * h * h)
            else:
                a, b = elems[i], elems[j]
                H[i, j] = H[j, i] = (shifted([(a, h), (b, h)]) - shifted([(a, h), (b, -h)])
                                     - shifted([(a, -h), (b, h)]) + shifted([(a, -h), (b, -h)])) / (4 * h * h)
    return H


def grads_equal(ev, expected: dict, rtol: float = 1e-7, atol: float = 1e-9) -> None:
    got = ev.gradient
    assert set(got) == set(expected)
    for name, want in expected.items():
        g = got[name]
        assert np.shape(g) == np.shape(want) == np.shape(ev.env[name]), name
        if np.ndim(want) == 0:
            assert isinstance(g, float), (name, type(g))
        np.testing.assert_allclose(np.asarray(g, dtype=float), want, rtol=rtol, atol=atol, err_msg=name)


def sigmoid(t):
    t = np.asarray(t, dtype=float)
    e = np.exp(-np.abs(t))
    return np.where(t >= 0, 1 / (1 + e), e / (1 + e))


def softmax(z, axis=-1):
    e = np.exp(z - np.max(z, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


def logsumexp(z, axis=None):
    top = np.max(z, axis=axis, keepdims=True)
    out = np.log(np.sum(np.exp(z - top), axis=axis, keepdims=True)) + top
    return float(out.reshape(())) if axis is None else np.squeeze(out, axis=axis)


def log_softmax(z, axis=-1):
    return z - np.expand_dims(logsumexp(z, axis), axis)


def invoke(*args: str):
    result = invoke_cli(args, columns=120)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr, result.stderr
    return result


def strict_json(text: str) -> dict:
    def reject(name: str) -> None:
        raise AssertionError(f"non-standard JSON constant {name}")

    return json.loads(text, parse_constant=reject)


def away_from_zero(rng, shape, low=0.2, high=1.5):
    return rng.uniform(low, high, shape) * rng.choice([-1.0, 1.0], shape)


# ---- every op: scalar programs, VJP vs finite differences ---------------------------
# (id, program, inputs(rng) -> dict, NumPy function of the same inputs)
def U(lo: float, hi: float, *shape: int):
    """A maker of uniform random inputs of this shape (a scalar when no shape is given)."""
    return lambda rng: rng.uniform(lo, hi, shape)


def N(*shape: int):
    return U(-1.5, 1.5, *shape)


def _inputs(**makers):
    return lambda rng: {k: m(rng) for k, m in makers.items()}


CASES = [
    # matmul in its four forms, and by name
    ("matmul_mv", "sum((W@x) * c)", _inputs(W=N(3, 2), x=N(2), c=N(3)), lambda W, x, c: np.sum((W @ x) * c)),
    ("matmul_vm", "sum((x@W) * c)", _inputs(x=N(3), W=N(3, 2), c=N(2)), lambda x, W, c: np.sum((x @ W) * c)),
    ("matmul_mm", "sum((A@B) * C)", _inputs(A=N(2, 3), B=N(3, 4), C=N(2, 4)), lambda A, B, C: np.sum((A @ B) * C)),
    ("matmul_vv", "(x@y) * (x@x)", _inputs(x=N(4), y=N(4)), lambda x, y: (x @ y) * (x @ x)),
    ("matmul_call", "sum(matmul(A, x) * c)", _inputs(A=N(2, 3), x=N(3), c=N(2)),
     lambda A, x, c: np.sum((A @ x) * c)),
    ("dot_vv", "dot(u, v) * dot(u, u)", _inputs(u=N(3), v=N(3)), lambda u, v: (u @ v) * (u @ u)),
    ("dot_mv", "sum(dot(W, x) * c)", _inputs(W=N(3, 2), x=N(2), c=N(3)), lambda W, x, c: np.sum((W @ x) * c)),
    ("outer", "sum(outer(u, v) * C)", _inputs(u=N(3), v=N(2), C=N(3, 2)),
     lambda u, v, C: np.sum(np.outer(u, v) * C)),
    ("transpose", "sum(transpose(A) * C)", _inputs(A=N(2, 3), C=N(3, 2)), lambda A, C: np.sum(A.T * C)),
    ("dot_T", "sum((A.T @ x) * c)", _inputs(A=N(3, 2), x=N(3), c=N(2)), lambda A, x, c: np.sum((A.T @ x) * c)),
    ("sum_all", "sum(A * C) + sum(A)^2", _inputs(A=N(2, 3), C=N(2, 3)),
     lambda A, C: np.sum(A * C) + np.sum(A) ** 2),
    ("sum_axis0", "sum(sum(A, 0) * c)", _inputs(A=N(3, 4), c=N(4)), lambda A, c: np.sum(np.sum(A, 0) * c)),
    ("sum_axis1", "sum(sum(A, 1)^2 * c)", _inputs(A=N(3, 4), c=N(3)), lambda A, c: np.sum(np.sum(A, 1) ** 2 * c)),
    ("sum_axis_neg", "sum(sum(A, -1) * c)", _inputs(A=N(3, 4), c=N(3)), lambda A, c: np.sum(np.sum(A, -1) * c)),
    ("mean_all", "mean(A * C) * mean(A)", _inputs(A=N(2, 3), C=N(2, 3)), lambda A, C: np.mean(A * C) * np.mean(A)),
    ("mean_axis0", "sum(mean(A, 0) * c)", _inputs(A=N(3, 4), c=N(4)), lambda A, c: np.sum(np.mean(A, 0) * c)),
    ("mean_axis1", "sum(mean(A, 1)^2 * c)", _inputs(A=N(3, 4), c=N(3)),
     lambda A, c: np.sum(np.mean(A, 1) ** 2 * c)),
    ("norm_vec", "norm(x) * sum(x * c)", _inputs(x=N(4), c=N(4)), lambda x, c: np.linalg.norm(x) * np.sum(x * c)),
    ("norm_mat", "norm(A)", _inputs(A=N(3, 2)), lambda A: np.linalg.norm(A)),
    ("softmax_vec", "sum(softmax(z) * c)", _inputs(z=U(-3, 3, 5), c=N(5)), lambda z, c: np.sum(softmax(z) * c)),
    ("softmax_rows", "sum(softmax(A) * C)", _inputs(A=U(-3, 3, 3, 4), C=N(3, 4)),
     lambda A, C: np.sum(softmax(A, -1) * C)),
    ("softmax_axis0", "sum(softmax(A, 0) * C)", _inputs(A=U(-3, 3, 3, 4), C=N(3, 4)),
     lambda A, C: np.sum(softmax(A, 0) * C)),
    ("log_softmax_vec", "sum(log_softmax(z) * c)", _inputs(z=U(-3, 3, 5), c=N(5)),
     lambda z, c: np.sum(log_softmax(z) * c)),
    ("log_softmax_rows", "sum(log_softmax(A, 1) * C)", _inputs(A=U(-3, 3, 3, 4), C=N(3, 4)),
     lambda A, C: np.sum(log_softmax(A, 1) * C)),
    ("log_softmax_axis0", "sum(log_softmax(A, 0) * C)", _inputs(A=U(-3, 3, 3, 4), C=N(3, 4)),
     lambda A, C: np.sum(log_softmax(A, 0) * C)),
    ("logsumexp_vec", "logsumexp(z) * logsumexp(z * c)", _inputs(z=U(-3, 3, 5), c=N(5)),
     lambda z, c: logsumexp(z) * logsumexp(z * c)),
    ("logsumexp_mat", "logsumexp(A)", _inputs(A=U(-3, 3, 3, 4)), lambda A: logsumexp(A)),
    ("logsumexp_axis0", "sum(logsumexp(A, 0) * c)", _inputs(A=U(-3, 3, 3, 4), c=N(4)),
     lambda A, c: np.sum(logsumexp(A, 0) * c)),
    ("logsumexp_axis1", "sum(logsumexp(A, 1) * c)", _inputs(A=U(-3, 3, 3, 4), c=N(3)),
     lambda A, c: np.sum(logsumexp(A, 1) * c)),
    ("amax_vec", "max(x * c) * sum(x)", _inputs(x=U(0.5, 2, 6), c=U(0.5, 2, 6)),
     lambda x, c: np.max(x * c) * np.sum(x)),
    ("amax_mat", "max(A) + sum(A * C)", _inputs(A=N(3, 3), C=N(3, 3)), lambda A, C: np.max(A) + np.sum(A * C)),
    ("amin_vec", "min(x * c) * sum(x)", _inputs(x=U(0.5, 2, 6), c=U(0.5, 2, 6)),
     lambda x, c: np.min(x * c) * np.sum(x)),
    ("amin_mat", "min(A)^2 + sum(A * C)", _inputs(A=N(3, 3), C=N(3, 3)),
     lambda A, C: np.min(A) ** 2 + np.sum(A * C)),
    ("index_ints", "x[1] * x[-1] + x[0]^2", _inputs(x=N(4)), lambda x: x[1] * x[-1] + x[0] ** 2),
    ("index_2d", "W[1, 2] * W[0, 0] + W[-1, -2]", _inputs(W=N(2, 3)),
     lambda W: W[1, 2] * W[0, 0] + W[-1, -2]),
    ("index_row", "sum(W[1] * c)", _inputs(W=N(3, 2), c=N(2)), lambda W, c: np.sum(W[1] * c)),
    ("slice", "sum(x[1:3] * c)", _inputs(x=N(5), c=N(2)), lambda x, c: np.sum(x[1:3] * c)),
    ("slice_step", "sum(x[::2] * c)", _inputs(x=N(5), c=N(3)), lambda x, c: np.sum(x[::2] * c)),
    ("slice_reverse", "sum(x[::-1] * c)", _inputs(x=N(4), c=N(4)), lambda x, c: np.sum(x[::-1] * c)),
    ("slice_column", "sum(W[:, 0] * c)", _inputs(W=N(3, 2), c=N(3)), lambda W, c: np.sum(W[:, 0] * c)),
    ("slice_block", "sum(W[0:2, 1:3] * C)", _inputs(W=N(3, 4), C=N(2, 2)),
     lambda W, C: np.sum(W[0:2, 1:3] * C)),
    ("stack_scalars", "sum([a*b, sin(a), b] * c)", _inputs(a=N(), b=N(), c=N(3)),
     lambda a, b, c: np.sum(np.array([a * b, np.sin(a), b]) * c)),
    ("stack_vectors", "sum([u, v, u*v] * C)", _inputs(u=N(2), v=N(2), C=N(3, 2)),
     lambda u, v, C: np.sum(np.stack([u, v, u * v]) * C)),
    ("stack_nested", "sum([[a, b], [b, a*a]] * C)", _inputs(a=N(), b=N(), C=N(2, 2)),
     lambda a, b, C: np.sum(np.array([[a, b], [b, a * a]]) * C)),
]

#: elementwise primitives on arrays (with broadcasting against a vector or a scalar)
ELEMENTWISE = [
    ("exp", "sum(exp(x) * c)", _inputs(x=N(4), c=N(4)), lambda x, c: np.sum(np.exp(x) * c)),
    ("log", "sum(log(x) * c)", _inputs(x=U(0.5, 2, 4), c=N(4)), lambda x, c: np.sum(np.log(x) * c)),
    ("sqrt", "sum(sqrt(x) * c)", _inputs(x=U(0.5, 2, 4), c=N(4)), lambda x, c: np.sum(np.sqrt(x) * c)),
    ("sin_cos", "sum(sin(x) * cos(c * x))", _inputs(x=N(4), c=N(4)), lambda x, c: np.sum(np.sin(x) * np.cos(c * x))),
    ("tan", "sum(tan(x) * c)", _inputs(x=U(-1, 1, 4), c=N(4)), lambda x, c: np.sum(np.tan(x) * c)),
    ("asin_acos", "sum(asin(x) * c + acos(x)^2)", _inputs(x=U(-0.8, 0.8, 4), c=N(4)),
     lambda x, c: np.sum(np.arcsin(x) * c + np.arccos(x) ** 2)),
    ("atan", "sum(atan(x) * c)", _inputs(x=N(4), c=N(4)), lambda x, c: np.sum(np.arctan(x) * c)),
    ("sinh_cosh_tanh", "sum(sinh(x) * c + cosh(x) + tanh(c * x))", _inputs(x=N(4), c=N(4)),
     lambda x, c: np.sum(np.sinh(x) * c + np.cosh(x) + np.tanh(c * x))),
    ("sigmoid", "sum(sigmoid(W) * C)", _inputs(W=U(-4, 4, 2, 3), C=N(2, 3)), lambda W, C: np.sum(sigmoid(W) * C)),
    ("softplus", "sum(softplus(W) * C)", _inputs(W=U(-4, 4, 2, 3), C=N(2, 3)),
     lambda W, C: np.sum(np.logaddexp(0, W) * C)),
    ("relu", "sum(relu(x) * c)", lambda rng: {"x": away_from_zero(rng, 6), "c": N(6)(rng)},
     lambda x, c: np.sum(np.maximum(x, 0) * c)),
    ("abs", "sum(abs(x) * c)", lambda rng: {"x": away_from_zero(rng, 6), "c": N(6)(rng)},
     lambda x, c: np.sum(np.abs(x) * c)),
    ("pow_arrays", "sum(x^y * c)", _inputs(x=U(0.5, 2, 4), y=N(4), c=N(4)), lambda x, y, c: np.sum(x ** y * c)),
    ("pow_scalar_exponent", "sum(pow(x, a))", _inputs(x=U(0.5, 2, 4), a=U(0.5, 3)),
     lambda x, a: np.sum(x ** a)),
    ("div_sub_neg", "sum((x - c) / (y + 3) * -x)", _inputs(x=N(4), c=N(4), y=N(4)),
     lambda x, c, y: np.sum((x - c) / (y + 3) * -x)),
    ("max_min_elementwise", "sum(max(x, y, 0.1) * c - min(x, y))",
     lambda rng: {"x": rng.permutation(np.linspace(-1.4, 1.3, 6)), "y": rng.permutation(np.linspace(-1.35, 1.35, 6)),
                  "c": N(6)(rng)},
     lambda x, y, c: np.sum(np.maximum(np.maximum(x, y), 0.1) * c - np.minimum(x, y))),
]

ALL_CASES = CASES + ELEMENTWISE


def _case_inputs(case_id: str, make) -> dict:
    rng = np.random.default_rng(sum(map(ord, case_id)) * 7919)  # seeded per case, stable across runs
    return make(rng)


@pytest.mark.parametrize("case", ALL_CASES, ids=[c[0] for c in ALL_CASES])
def test_gradient_matches_finite_differences(case):
    case_id, program, make, f = case
    values = _case_inputs(case_id, make)
    ev = evaluate(program, **values)
    assert ev.scalar_output
    assert ev.value == pytest.approx(f(**values), rel=1e-12, abs=1e-12)
    grads_equal(ev, fd_gradient(f, values), rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("case", ALL_CASES, ids=[c[0] for c in ALL_CASES])
def test_forward_mode_jacobian_equals_reverse_mode(case):
    case_id, program, make, f = case
    values = _case_inputs(case_id, make)
    ev = evaluate(program, **values)
    rev = jacobian(ev, "reverse")
    fwd = jacobian(ev, "forward")
    n_in = sum(int(np.size(v)) for v in values.values())
    assert rev.data.shape == fwd.data.shape == (1, n_in)
    assert rev.passes == 1 and fwd.passes == n_in
    assert rev.columns == fwd.columns
    np.testing.assert_allclose(fwd.data, rev.data, rtol=1e-12, atol=1e-14)
    fd = fd_gradient(f, values)
    np.testing.assert_allclose(fwd.data[0], np.concatenate([np.ravel(fd[k]) for k in values]), rtol=1e-7, atol=1e-9)


@pytest.mark.parametrize("case", ALL_CASES, ids=[c[0] for c in ALL_CASES])
def test_hessian_matches_second_differences(case):
    case_id, program, make, f = case
    values = _case_inputs(case_id, make)
    ev = evaluate(program, **values)
    H = hessian(ev).data
    np.testing.assert_allclose(H, H.T, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(H, fd_hessian(f, values), rtol=1e-5, atol=1e-5)


def test_the_cases_cover_every_tensor_op():
    ops_used = set()
    for case_id, program, make, _ in ALL_CASES:
        ev = prepared(program, **_case_inputs(case_id, make))
        ops_used |= {node.op for node in ev.graph.nodes}
    from test_new_ops import NEW_ELEMENTWISE, NEW_STRUCTURAL  # issue 11's ops have their own file

    from test_conv import WINDOW_OPS  # issue 23's convolution and pooling have theirs

    structural = {name for name, op in OPS.items() if not op.elementwise} - set(NEW_STRUCTURAL) - set(WINDOW_OPS) - {
        "gather", "pick", "onehot"}  # issue 23's integer-data ops: tests/test_gather.py
    assert structural == {"matmul", "dot", "outer", "transpose", "sum", "mean", "norm", "softmax",
                          "log_softmax", "logsumexp", "amax", "amin", "index", "stack"}
    assert structural <= ops_used, structural - ops_used
    user_elementwise = {name for name, op in OPS.items() if op.elementwise and op.user} - set(NEW_ELEMENTWISE)
    assert user_elementwise <= ops_used, user_elementwise - ops_used


# ---- Jacobians of array-valued outputs ------------------------------------------------
VECTOR_OUTPUTS = [
    ("softmax(z)", _inputs(z=U(-2, 2, 4)), lambda z: softmax(z)),
    ("softmax(A, 0)", _inputs(A=U(-2, 2, 3, 2)), lambda A: softmax(A, 0)),
    ("log_softmax(A)", _inputs(A=U(-2, 2, 2, 3)), lambda A: log_softmax(A, -1)),
    ("logsumexp(A, 1)", _inputs(A=U(-2, 2, 2, 3)), lambda A: logsumexp(A, 1)),
    ("W@x + b", _inputs(W=N(3, 2), x=N(2), b=N(3)), lambda W, x, b: W @ x + b),
    ("outer(u, v)", _inputs(u=N(3), v=N(2)), lambda u, v: np.outer(u, v)),
    ("A.T @ B", _inputs(A=N(3, 2), B=N(3, 2)), lambda A, B: A.T @ B),
    ("sum(A, 0) * mean(A, 0)", _inputs(A=N(3, 2)), lambda A: np.sum(A, 0) * np.mean(A, 0)),
    ("x[1:3] * x[0]", _inputs(x=N(4)), lambda x: x[1:3] * x[0]),
    ("[a*b, b, exp(a)]", _inputs(a=N(), b=N()), lambda a, b: np.array([a * b, b, np.exp(a)])),
    ("tanh(W) * c", _inputs(W=N(2, 3), c=N(3)), lambda W, c: np.tanh(W) * c),
]


@pytest.mark.parametrize("case", VECTOR_OUTPUTS, ids=[c[0] for c in VECTOR_OUTPUTS])
def test_jacobian_of_array_outputs_forward_reverse_and_fd(case):
    program, make, f = case
    values = make(np.random.default_rng(sum(map(ord, program))))
    ev = evaluate(program, **values)
    assert not ev.scalar_output and ev.gradient == {}
    np.testing.assert_allclose(ev.value, f(**values), rtol=1e-12, atol=1e-14)
    expected = fd_jacobian(f, values)
    rev, fwd = jacobian(ev, "reverse"), jacobian(ev, "forward")
    n_out = int(np.size(f(**values)))
    assert rev.passes == n_out and fwd.passes == sum(int(np.size(v)) for v in values.values())
    assert len(rev.rows) == n_out and rev.rows == fwd.rows
    np.testing.assert_allclose(rev.data, expected, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(fwd.data, rev.data, rtol=1e-12, atol=1e-14)


# ---- closed forms -----------------------------------------------------------------------
@pytest.mark.parametrize("k", [0, 2, 5, -1])
@pytest.mark.parametrize("form", ["-log(softmax(z)[K])", "-log_softmax(z)[K]", "logsumexp(z) - z[K]"])
def test_softmax_cross_entropy_gradient_is_softmax_minus_onehot(form, k):
    z = np.random.default_rng(3 + k).normal(size=6) * 2
    ev = evaluate(form.replace("K", str(k)), z=z)
    onehot = np.zeros(6)
    onehot[k] = 1.0
    assert ev.value == pytest.approx(-np.log(softmax(z)[k]), rel=1e-12)
    grads_equal(ev, {"z": softmax(z) - onehot}, rtol=1e-12, atol=1e-15)
    assert abs(float(np.sum(ev.gradient["z"]))) < 1e-14


def test_batched_softmax_cross_entropy_over_rows():
    rng = np.random.default_rng(11)
    Z = rng.normal(size=(5, 4))
    Y = np.eye(4)[[0, 3, 1, 1, 2]]
    ev = evaluate("-mean(sum(log_softmax(Z) * Y, 1))", Z=Z, Y=Y)
    assert ev.value == pytest.approx(-np.mean(np.sum(log_softmax(Z, 1) * Y, 1)), rel=1e-12)
    np.testing.assert_allclose(ev.gradient["Z"], (softmax(Z, 1) - Y) / 5, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(ev.gradient["Y"], -log_softmax(Z, 1) / 5, rtol=1e-12)


def test_single_layer_gradient_is_delta_x_transpose():
    rng = np.random.default_rng(5)
    W, x, b, u = rng.normal(size=(4, 3)), rng.normal(size=3), rng.normal(size=4), rng.normal(size=4)
    ev = evaluate("z = W@x + b; h = sigmoid(z); s = dot(u, h)", W=W, x=x, b=b, u=u)
    h = sigmoid(W @ x + b)
    delta = u * h * (1 - h)
    assert ev.value == pytest.approx(u @ h, rel=1e-12)
    grads_equal(ev, {"W": np.outer(delta, x), "x": W.T @ delta, "b": delta, "u": h}, rtol=1e-12, atol=1e-15)
    assert ev.adjoints[ev.graph.names["z"]] == pytest.approx(delta, rel=1e-12)


def test_logistic_regression_vectorized_gradient():
    rng = np.random.default_rng(7)
    m = 7
    X, w, b = rng.normal(size=(3, m)), rng.normal(size=3), 0.3
    y = (rng.uniform(size=m) > 0.5).astype(float)
    ev = evaluate("p = sigmoid(w@X + b); J = -mean(y*log(p) + (1-y)*log(1-p))", X=X, w=w, b=b, y=y)
    z = w @ X + b
    p = sigmoid(z)
    assert ev.value == pytest.approx(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)), rel=1e-12)
    grads_equal(ev, {"w": X @ (p - y) / m, "b": float(np.mean(p - y)), "X": np.outer(w, p - y) / m, "y": -z / m},
                rtol=1e-10, atol=1e-14)


def test_mlp_with_weight_decay():
    rng = np.random.default_rng(9)
    x, W, v, y, lam = rng.normal(size=3), rng.normal(size=(4, 3)), rng.normal(size=4), 0.7, 0.05
    ev = evaluate("a = W@x; h = sigmoid(a); yhat = dot(v, h); J = (yhat - y)^2 + lam*(sum(W^2) + sum(v^2))",
                  x=x, W=W, v=v, y=y, lam=lam)
    h = sigmoid(W @ x)
    yhat = v @ h
    r = 2 * (yhat - y)
    da = r * v * h * (1 - h)
    reg = np.sum(W ** 2) + np.sum(v ** 2)
    assert ev.value == pytest.approx((yhat - y) ** 2 + lam * reg, rel=1e-12)
    grads_equal(ev, {"x": W.T @ da, "W": np.outer(da, x) + 2 * lam * W, "v": r * h + 2 * lam * v,
                     "y": -r, "lam": reg}, rtol=1e-11, atol=1e-14)


def _rnn_program(steps: int) -> str:
    lines = [f"h{t} = tanh(Wi@X[{t - 1}] + Wh@h{t - 1})" for t in range(1, steps + 1)]
    lines += [f"L{t} = sum((Wo@h{t} - Y[{t - 1}])^2)" for t in range(1, steps + 1)]
    lines.append("L = " + " + ".join(f"L{t}" for t in range(1, steps + 1)))
    return "\n".join(lines)


def _rnn_numpy(Wi, Wh, Wo, h0, X, Y):
    hs, loss = [h0], 0.0
    for t in range(len(X)):
        hs.append(np.tanh(Wi @ X[t] + Wh @ hs[-1]))
        loss += np.sum((Wo @ hs[-1] - Y[t]) ** 2)
    return loss, hs


def _bptt(Wi, Wh, Wo, h0, X, Y):
    """Backpropagation through time by hand; also each step's contribution to ∂L/∂Wh."""
    _, hs = _rnn_numpy(Wi, Wh, Wo, h0, X, Y)
    g = {k: np.zeros_like(v) for k, v in dict(Wi=Wi, Wh=Wh, Wo=Wo, X=X, Y=Y).items()}
    per_step = []
    carry = np.zeros_like(h0)
    for t in reversed(range(len(X))):
        e = 2 * (Wo @ hs[t + 1] - Y[t])
        g["Wo"] += np.outer(e, hs[t + 1])
        g["Y"][t] = -e
        da = (Wo.T @ e + carry) * (1 - hs[t + 1] ** 2)
        g["Wi"] += np.outer(da, X[t])
        per_step.append(np.outer(da, hs[t]))
        g["Wh"] += per_step[-1]
        g["X"][t] = Wi.T @ da
        carry = Wh.T @ da
    g["h0"] = carry
    return g, per_step[::-1]


def test_rnn_gradient_sums_over_time_steps():
    rng = np.random.default_rng(13)
    steps, nh, nx, ny = 4, 3, 2, 2
    vals = dict(Wi=rng.normal(size=(nh, nx)) * 0.6, Wh=rng.normal(size=(nh, nh)) * 0.5,
                Wo=rng.normal(size=(ny, nh)), h0=rng.normal(size=nh) * 0.3,
                X=rng.normal(size=(steps, nx)), Y=rng.normal(size=(steps, ny)))
    ev = evaluate(_rnn_program(steps), **vals)
    loss, _ = _rnn_numpy(**vals)
    assert ev.value == pytest.approx(loss, rel=1e-12)
    expected, per_step = _bptt(**vals)
    grads_equal(ev, expected, rtol=1e-10, atol=1e-13)
    # the shared Wh gets one contribution per step; no single step's is the total
    assert len(per_step) == steps
    np.testing.assert_allclose(sum(per_step), ev.gradient["Wh"], rtol=1e-10, atol=1e-13)
    for contribution in per_step:
        assert not np.allclose(contribution, ev.gradient["Wh"], rtol=1e-3)
    # and an independent check of the hand-written BPTT itself
    fd = fd_gradient(lambda **kw: _rnn_numpy(**kw)[0], vals)
    for name in vals:
        np.testing.assert_allclose(expected[name], fd[name], rtol=1e-7, atol=1e-9)


# ---- broadcasting -----------------------------------------------------------------------
def test_scalar_plus_vector_gradient_sums_to_a_scalar():
    x, c = np.array([0.5, -1.0, 2.0]), np.array([1.5, 2.0, -0.25])
    ev = evaluate("sum((a + x) * c)", a=0.3, x=x, c=c)
    grads_equal(ev, {"a": float(np.sum(c)), "x": c, "c": 0.3 + x}, rtol=1e-14, atol=0)


def test_scalar_times_matrix_and_function_of_a_broadcast_product():
    rng = np.random.default_rng(17)
    W, a = rng.normal(size=(2, 3)), 0.8
    ev = evaluate("sum(a * W) + sum(sigmoid(a * W))", a=a, W=W)
    s = sigmoid(a * W)
    grads_equal(ev, {"a": float(np.sum(W) + np.sum(s * (1 - s) * W)), "W": a + a * s * (1 - s)},
                rtol=1e-12, atol=1e-15)


def test_matrix_plus_row_vector_gradient_sums_over_rows():
    rng = np.random.default_rng(19)
    W, b, C = rng.normal(size=(3, 4)), rng.normal(size=4), rng.normal(size=(3, 4))
    ev = evaluate("sum((W + b) * C) + sum(W * b)", W=W, b=b, C=C)
    grads_equal(ev, {"W": C + b, "b": C.sum(0) + W.sum(0), "C": W + b}, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("shape, axis", [((3, 1), 1), ((1, 4), 0)])
def test_matrix_plus_column_or_row_matrix_keeps_the_input_shape(shape, axis):
    rng = np.random.default_rng(23)
    W, C, k = rng.normal(size=(3, 4)), rng.normal(size=(3, 4)), rng.normal(size=shape)
    ev = evaluate("sum((W + k) * C) + sum(exp(W * k))", W=W, C=C, k=k)
    e = np.exp(W * k)
    grads_equal(ev, {"W": C + e * k, "C": W + k, "k": np.sum(C + e * W, axis=axis, keepdims=True)},
                rtol=1e-12, atol=1e-14)


def test_column_plus_row_broadcasts_to_a_matrix_and_back():
    rng = np.random.default_rng(31)
    k, r, C = rng.normal(size=(3, 1)), rng.normal(size=(1, 4)), rng.normal(size=(3, 4))
    ev = evaluate("sum((k + r) * C) + sum(tanh(k * r))", k=k, r=r, C=C)
    t = 1 - np.tanh(k * r) ** 2
    grads_equal(ev, {"k": np.sum(C + t * r, axis=1, keepdims=True), "r": np.sum(C + t * k, axis=0, keepdims=True),
                     "C": k + r}, rtol=1e-12, atol=1e-14)

    def f(k, r, C):
        return np.sum((k + r) * C) + np.sum(np.tanh(k * r))

    H = hessian(ev).data
    np.testing.assert_allclose(H, fd_hessian(f, {"k": k, "r": r, "C": C}), rtol=1e-5, atol=1e-5)


def test_elementwise_max_broadcasts_a_vector_against_a_matrix():
    W = np.array([[0.1, 2.0, -1.0], [3.0, -2.0, 0.5]])
    b = np.array([1.0, 0.0, 0.0])
    C = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    ev = evaluate("sum(max(W, b) * C)", W=W, b=b, C=C)
    grads_equal(ev, {"W": (W > b) * C, "b": np.sum((b > W) * C, axis=0), "C": np.maximum(W, b)},
                rtol=1e-15, atol=0)


def test_pow_with_a_scalar_exponent_sums_over_the_vector():
    x = np.array([0.5, 1.5, 2.5])
    ev = evaluate("sum(x^a)", x=x, a=1.7)
    grads_equal(ev, {"x": 1.7 * x ** 0.7, "a": float(np.sum(x ** 1.7 * np.log(x)))}, rtol=1e-12, atol=0)


def test_every_gradient_has_its_input_shape_in_a_mixed_program():
    rng = np.random.default_rng(29)
    vals = dict(W=rng.normal(size=(3, 2)), x=rng.normal(size=2), b=rng.normal(size=3), a=0.4,
                k=rng.normal(size=(3, 1)), r=rng.normal(size=(1, 2)))
    ev = evaluate("h = tanh(W@x + b) * a; M = W * k + r; s = sum(h) + norm(M) + mean(M, 0)@x", **vals)
    assert set(ev.gradient) == set(vals)
    for name, v in vals.items():
        assert np.shape(ev.gradient[name]) == np.shape(v), name
    assert isinstance(ev.gradient["a"], float)

    def f(W, x, b, a, k, r):
        M = W * k + r
        return np.sum(np.tanh(W @ x + b) * a) + np.linalg.norm(M) + np.mean(M, 0) @ x

    grads_equal(ev, fd_gradient(f, vals), rtol=1e-7, atol=1e-9)


# ---- indexing, literals, transpose, reductions ----------------------------------------
X4 = np.array([1.0, 2.0, 3.0, 4.0])
W23 = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])


@pytest.mark.parametrize("program, value, grad", [
    ("x[1]", 2.0, [0, 1, 0, 0]),
    ("x[-1]", 4.0, [0, 0, 0, 1]),
    ("x[-4]", 1.0, [1, 0, 0, 0]),
    ("sum(x[1:3])", 5.0, [0, 1, 1, 0]),
    ("sum(x[::2])", 4.0, [1, 0, 1, 0]),
    ("sum(x[1::2] * x[::2])", 2 + 12.0, [2, 1, 4, 3]),
    ("sum(x[:-1] * [1, 2, 3])", 1 + 4 + 9.0, [1, 2, 3, 0]),
    ("x[0]*x[0] + x[0]", 2.0, [3, 0, 0, 0]),
    ("x[2] + x[2]", 6.0, [0, 0, 2, 0]),
])
def test_vector_indexing(program, value, grad):
    ev = evaluate(program, x=X4)
    assert ev.value == value
    grads_equal(ev, {"x": np.array(grad, dtype=float)}, rtol=0, atol=0)


@pytest.mark.parametrize("program, value, grad", [
    ("W[1, 0]", 4.0, [[0, 0, 0], [1, 0, 0]]),
    ("W[-1, -1] * W[0, 1]", 12.0, [[0, 6, 0], [0, 0, 2]]),
    ("sum(W[1])", 15.0, [[0, 0, 0], [1, 1, 1]]),
    ("sum(W[0] * [1, 2, 3])", 14.0, [[1, 2, 3], [0, 0, 0]]),
    ("sum(W[:, 0])", 5.0, [[1, 0, 0], [1, 0, 0]]),
    ("sum(W[:, 1:] * [[1, 2], [3, 4]])", 2 + 6 + 15 + 24.0, [[0, 1, 2], [0, 3, 4]]),
    ("sum(W[0, ::2])", 4.0, [[1, 0, 1], [0, 0, 0]]),
])
def test_matrix_indexing(program, value, grad):
    ev = evaluate(program, W=W23)
    assert ev.value == value
    grads_equal(ev, {"W": np.array(grad, dtype=float)}, rtol=0, atol=0)


def test_index_value_shapes():
    ev = evaluate("r = W[1]; c = W[:, 2]; s = sum(r) + sum(c)", W=W23)
    names = ev.graph.names
    assert ev.values[names["r"]].tolist() == [4.0, 5.0, 6.0]
    assert ev.values[names["c"]].tolist() == [3.0, 6.0]


def test_vector_literal_of_scalars():
    ev = evaluate("v = [a, b*b, c]; s = sum(v * w)", a=1.5, b=-2.0, c=0.5, w=np.array([2.0, 3.0, -1.0]))
    assert ev.values[ev.graph.names["v"]].tolist() == [1.5, 4.0, 0.5]
    grads_equal(ev, {"a": 2.0, "b": 3.0 * 2 * -2.0, "c": -1.0, "w": np.array([1.5, 4.0, 0.5])}, rtol=0, atol=0)


def test_matrix_literal_of_vectors_and_of_rows_of_scalars():
    u, v = np.array([1.0, 2.0]), np.array([3.0, -4.0])
    C = np.array([[1.0, -1.0], [0.5, 2.0]])
    ev = evaluate("M = [u, v]; s = sum(M * C)", u=u, v=v, C=C)
    assert ev.values[ev.graph.names["M"]].shape == (2, 2)
    grads_equal(ev, {"u": C[0], "v": C[1], "C": np.stack([u, v])}, rtol=0, atol=0)
    ev = evaluate("M = [[a, b], [b, a*b]]; s = sum(M * C)", a=2.0, b=3.0, C=C)
    assert ev.values[ev.graph.names["M"]].tolist() == [[2.0, 3.0], [3.0, 6.0]]
    grads_equal(ev, {"a": 1.0 + 2.0 * 3.0, "b": -1.0 + 0.5 + 2.0 * 2.0, "C": np.array([[2.0, 3.0], [3.0, 6.0]])},
                rtol=0, atol=0)


@pytest.mark.parametrize("program", ["sum(W.T * C)", "sum(transpose(W) * C)", "sum((W.T).T * C.T)"])
def test_transpose_gradient(program):
    C = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    ev = evaluate(program, W=W23, C=C)
    assert ev.value == pytest.approx(np.sum(W23.T * C))
    grads_equal(ev, {"W": C.T, "C": W23.T}, rtol=0, atol=0)


def test_transpose_value_and_vector_transpose():
    ev = evaluate("T = W.T; s = sum(T @ x)", W=W23, x=np.array([1.0, -1.0]))
    assert ev.values[ev.graph.names["T"]].tolist() == W23.T.tolist()
    grads_equal(ev, {"W": np.outer([1.0, -1.0], [1.0, 1.0, 1.0]), "x": W23.sum(1)}, rtol=0, atol=0)
    ev = evaluate("sum(x.T * x)", x=X4)  # a vector's transpose is itself
    grads_equal(ev, {"x": 2 * X4}, rtol=0, atol=0)


@pytest.mark.parametrize("program, value, grad", [
    ("sum(sum(W, 0) * [1, 10, 100])", 5 + 70 + 900.0, [[1, 10, 100], [1, 10, 100]]),
    ("sum(sum(W, 1) * [1, 10])", 6 + 150.0, [[1, 1, 1], [10, 10, 10]]),
    ("sum(sum(W, -2) * [1, 10, 100])", 975.0, [[1, 10, 100], [1, 10, 100]]),
    ("sum(mean(W, 0) * [1, 10, 100])", 975 / 2, [[0.5, 5, 50], [0.5, 5, 50]]),
    ("sum(mean(W, 1) * [3, 6])", 2 * 3 + 5 * 6.0, [[1, 1, 1], [2, 2, 2]]),
    ("mean(W)", 3.5, [[1 / 6] * 3] * 2),
    ("sum(W)", 21.0, [[1] * 3] * 2),
])
def test_sum_and_mean_with_an_axis(program, value, grad):
    ev = evaluate(program, W=W23)
    assert ev.value == pytest.approx(value, rel=1e-15)
    grads_equal(ev, {"W": np.array(grad, dtype=float)}, rtol=1e-15, atol=0)


@pytest.mark.parametrize("program, x, value, grad", [
    ("max(x)", [1, 3, 3], 3.0, [0, 0.5, 0.5]),
    ("max(x)", [2, 2, 2], 2.0, [1 / 3, 1 / 3, 1 / 3]),
    ("min(x)", [2, 1, 1, 1], 1.0, [0, 1 / 3, 1 / 3, 1 / 3]),
    ("max(x)", [1, 5, 3], 5.0, [0, 1, 0]),
    ("min(x) * 2", [4, -1, 3], -2.0, [0, 2, 0]),
    ("max(W)", [[1, 4], [4, 0]], 4.0, [[0, 0.5], [0.5, 0]]),
])
def test_max_and_min_reductions_split_ties_evenly(program, x, value, grad):
    arr = np.array(x, dtype=float)
    name = "W" if "W" in program else "x"
    ev = evaluate(program, **{name: arr})
    assert ev.value == value
    grads_equal(ev, {name: np.array(grad, dtype=float)}, rtol=1e-15, atol=0)
    tied = int(np.sum(arr == value / (2 if "* 2" in program else 1))) > 1
    assert bool(ev.kinks) == tied
    assert any("not differentiable here" in w for w in ev.warnings) == tied


@pytest.mark.parametrize("program, values, row", [
    ("max(x)", {"x": [1.0, 3.0, 3.0]}, [0, 0.5, 0.5]),
    ("min(W)", {"W": [[1.0, 4.0], [1.0, 1.0]]}, [1 / 3, 0, 1 / 3, 1 / 3]),
    ("sum(max(x, y))", {"x": [1.0, 2.0], "y": [0.0, 2.0]}, [1, 0.5, 0, 0.5]),
])
def test_forward_mode_follows_the_same_tie_convention(program, values, row):
    ev = evaluate(program, **{k: np.array(v) for k, v in values.items()})
    assert ev.kinks
    for mode in ("reverse", "forward"):
        np.testing.assert_allclose(jacobian(ev, mode).data, [row], rtol=1e-15, atol=0, err_msg=mode)


def test_elementwise_max_of_arrays_splits_a_tie_in_one_element():
    x, y = np.array([1.0, 2.0, 5.0]), np.array([0.0, 2.0, 6.0])
    ev = evaluate("sum(max(x, y))", x=x, y=y)
    grads_equal(ev, {"x": np.array([1.0, 0.5, 0.0]), "y": np.array([0.0, 0.5, 1.0])}, rtol=0, atol=0)
    assert ev.kinks


# ---- numerically stable forms -----------------------------------------------------------
BIG = np.array([1000.0, 1001.0, 999.0])
SMALL = BIG - 1000.0  # softmax and log_softmax are shift-invariant


def test_softmax_of_large_inputs_is_finite_and_correct():
    c = np.array([0.5, -2.0, 1.0])
    ev = evaluate("p = softmax(z); s = sum(p * c)", z=BIG, c=c)
    e = np.exp(SMALL)
    p = e / e.sum()
    np.testing.assert_allclose(ev.values[ev.graph.names["p"]], p, rtol=1e-14)
    assert ev.value == pytest.approx(p @ c, rel=1e-14)
    grads_equal(ev, {"z": p * (c - p @ c), "c": p}, rtol=1e-12, atol=1e-15)
    assert ev.warnings == []


def test_log_softmax_of_large_inputs():
    c = np.array([1.0, 2.0, 3.0])
    ev = evaluate("l = log_softmax(z); s = sum(l * c)", z=BIG, c=c)
    lse = 1 + math.log(1 + math.exp(-1) + math.exp(-2))
    expected = SMALL - lse
    np.testing.assert_allclose(ev.values[ev.graph.names["l"]], expected, rtol=1e-14)
    p = np.exp(expected)
    grads_equal(ev, {"z": c - p * c.sum(), "c": expected}, rtol=1e-12, atol=1e-14)


def test_logsumexp_of_large_inputs():
    ev = evaluate("logsumexp(z)", z=BIG)
    assert ev.value == pytest.approx(1001 + math.log(1 + math.exp(-1) + math.exp(-2)), rel=1e-15)
    e = np.exp(SMALL)
    grads_equal(ev, {"z": e / e.sum()}, rtol=1e-13, atol=0)
    ev = evaluate("logsumexp(z)", z=-BIG)  # exp(-1000) underflows; logsumexp does not
    assert ev.value == pytest.approx(-999 + math.log(1 + math.exp(-1) + math.exp(-2)), rel=1e-15)


@pytest.mark.parametrize("program", ["logsumexp(z)", "-log(softmax(z)[1])", "sum(log_softmax(z) * [1, 2, 3])"])
def test_stable_forms_pass_the_checks_through_the_cli(program):
    result = invoke("eval", program, "z=[1000,1001,999]", "--check", "all", "--json")
    assert result.exit_code == 0, result.stdout + result.stderr
    doc = strict_json(result.stdout)
    assert doc["ok"] is True
    assert np.all(np.isfinite(doc["gradient"]["z"]))
    assert all(e["status"] == "ok" for check in doc["checks"].values() for e in check.values())


def test_sigmoid_and_softplus_of_large_magnitudes():
    x = np.array([-800.0, -40.0, -0.5, 0.5, 40.0, 800.0])
    ev = evaluate("s = sigmoid(x); p = softplus(x); out = sum(s) + sum(p)", x=x)
    s_expected = np.array([0.0, math.exp(-40) / (1 + math.exp(-40)), 1 / (1 + math.exp(0.5)),
                           1 / (1 + math.exp(-0.5)), 1 / (1 + math.exp(-40)), 1.0])
    p_expected = np.array([0.0, math.log1p(math.exp(-40)), math.log1p(math.exp(-0.5)),
                           0.5 + math.log1p(math.exp(-0.5)), 40 + math.log1p(math.exp(-40)), 800.0])
    names = ev.graph.names
    np.testing.assert_allclose(ev.values[names["s"]], s_expected, rtol=1e-14, atol=1e-300)
    np.testing.assert_allclose(ev.values[names["p"]], p_expected, rtol=1e-14, atol=1e-300)
    # d/dx (sigmoid + softplus) = sigmoid (1 - sigmoid) + sigmoid
    g = s_expected * (1 - s_expected) + s_expected
    grads_equal(ev, {"x": g}, rtol=1e-13, atol=1e-300)
    assert ev.value == pytest.approx(np.sum(s_expected) + np.sum(p_expected), rel=1e-15)


# ---- shape errors through the CLI ---------------------------------------------------------
def _error(*args: str, code: int = 2) -> str:
    result = invoke(*args)
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_matmul_shape_error_names_the_node_the_op_and_both_shapes():
    msg = _error("eval", "z = W@x; s = sum(z)", "W=[[1,2],[3,4],[5,6]]", "x=[1,2,3]")
    assert msg.startswith("gradcli:")
    for part in ("node z", "W @ x", "matmul", "(3, 2)", "(3,)"):
        assert part in msg, (part, msg)


def test_unnamed_matmul_shape_error():
    msg = _error("eval", "sum(W@x)", "W=[[1,2],[3,4],[5,6]]", "x=[1,2,3]")
    assert "matmul" in msg and "(3, 2)" in msg and "(3,)" in msg and "node " in msg


@pytest.mark.parametrize("program, bindings, parts", [
    ("sum(x + y)", ["x=[1,2]", "y=[1,2,3]"], ["add", "(2,)", "(3,)", "broadcast"]),
    ("sum(W * x)", ["W=[[1,2],[3,4]]", "x=[1,2,3]"], ["mul", "(2, 2)", "(3,)", "broadcast"]),
    ("sum(max(W, x))", ["W=[[1,2],[3,4]]", "x=[1,2,3]"], ["max", "(2, 2)", "(3,)"]),
    ("x[3]", ["x=[1,2,3]"], ["index", "out of range", "3"]),
    ("x[-4]", ["x=[1,2,3]"], ["index", "out of range"]),
    ("W[0, 2]", ["W=[[1,2],[3,4]]"], ["index", "out of range", "(2, 2)"]),
    ("W[0, 0, 0]", ["W=[[1,2],[3,4]]"], ["index", "(2, 2)"]),
    ("sum(x, 1)", ["x=[1,2]"], ["sum", "axis 1", "(2,)"]),
    ("sum([x, y])", ["x=[1,2]", "y=[1,2,3]"], ["stack", "(2,)", "(3,)"]),
    ("outer(W, x)", ["W=[[1,2],[3,4]]", "x=[1,2]"], ["outer", "(2, 2)", "(2,)"]),
    ("dot(x, y)", ["x=[1,2]", "y=[1,2,3]"], ["dot", "(2,)", "(3,)"]),
    ("sum(a@x)", ["a=[[1,2,3]]", "x=[1,2]"], ["matmul", "(1, 3)", "(2,)"]),
])
def test_shape_errors_exit_2_with_the_shapes(program, bindings, parts):
    msg = _error("eval", program, *bindings)
    assert "shape error" in msg
    for part in parts:
        assert part in msg, (part, msg)


def test_ragged_binding_exits_2():
    msg = _error("eval", "sum(x)", "x=[[1,2],[3]]")
    assert "x" in msg and "rectangular" in msg


def test_ragged_vars_file_exits_2(tmp_path):
    path = tmp_path / "v.json"
    path.write_text('{"x": [[1, 2], [3]]}')
    msg = _error("eval", "sum(x)", "--vars", str(path))
    assert "rows of different lengths" in msg


# ---- Hessians -----------------------------------------------------------------------------
def _sympy_sigmoid(t):
    return 1 / (1 + sp.exp(-t))


SCALAR_HESSIANS = [
    ("x^2*y + sin(x*y)", {"x": 1.0, "y": 2.0}, lambda x, y: x ** 2 * y + sp.sin(x * y)),
    ("exp(x*y)/(1 + y^2) + log(x)*y^3", {"x": 0.7, "y": -1.3},
     lambda x, y: sp.exp(x * y) / (1 + y ** 2) + sp.log(x) * y ** 3),
    ("sigmoid(x - y)*tanh(x*y) + softplus(x*z) - z/y", {"x": 0.4, "y": 1.1, "z": -0.6},
     lambda x, y, z: _sympy_sigmoid(x - y) * sp.tanh(x * y) + sp.log(1 + sp.exp(x * z)) - z / y),
    ("atan(x/y) + sqrt(x*y) + x^y", {"x": 1.5, "y": 0.8},
     lambda x, y: sp.atan(x / y) + sp.sqrt(x * y) + x ** y),
]


@pytest.mark.parametrize("case", SCALAR_HESSIANS, ids=[c[0] for c in SCALAR_HESSIANS])
def test_scalar_hessian_equals_sympy(case):
    program, values, build = case
    syms = sp.symbols(list(values))
    expr = build(*syms)
    expected = np.array(sp.hessian(expr, syms).subs(dict(zip(syms, values.values()))).evalf(30), dtype=float)
    ev = evaluate(program, **values)
    H = hessian(ev)
    assert H.rows == H.columns == list(values)
    np.testing.assert_allclose(H.data, expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(H.data, H.data.T, rtol=1e-13, atol=1e-15)


def _array_symbols(name: str, shape: tuple) -> np.ndarray:
    return np.array([sp.Symbol(f"{name}_{'_'.join(map(str, idx))}") for idx in np.ndindex(*shape)],
                    dtype=object).reshape(shape)


ARRAY_HESSIANS = [
    ("sum(W^3)*logsumexp(x) + norm(x)*mean(W@x)",
     {"W": [[0.3, -0.5, 0.8], [1.1, 0.2, -0.4]], "x": [0.6, -1.2, 0.9]},
     lambda W, x: (sum(w ** 3 for w in W.ravel()) * sp.log(sum(sp.exp(t) for t in x))
                   + sp.sqrt(sum(t ** 2 for t in x)) * sum((W @ x).ravel()) / W.shape[0])),
    ("dot(softmax(z), v)^2 + sum(outer(z, v) * M)",
     {"z": [0.5, -1.0, 2.0], "v": [1.0, 0.3, -0.7], "M": [[0.1, 0.2, 0.3], [0.0, -0.4, 0.5], [1.0, 0.0, -0.2]]},
     lambda z, v, M: (sum(sp.exp(zi) * vi for zi, vi in zip(z, v)) / sum(sp.exp(zi) for zi in z)) ** 2
     + sum(z[i] * v[j] * M[i, j] for i in range(3) for j in range(3))),
    ("sum(tanh(A @ B.T)[0]) * sum(A[:, 1] * B[1])",
     {"A": [[0.2, -0.3], [0.5, 0.1]], "B": [[0.4, 0.7], [-0.6, 0.9]]},
     lambda A, B: sum(sp.tanh(sum(A[0, k] * B[j, k] for k in range(2))) for j in range(2))
     * sum(A[i, 1] * B[1, i] for i in range(2))),
]


@pytest.mark.parametrize("case", ARRAY_HESSIANS, ids=[c[0] for c in ARRAY_HESSIANS])
def test_array_hessian_equals_sympy(case):
    program, raw, build = case
    values = {k: np.array(v, dtype=float) for k, v in raw.items()}
    syms = {k: _array_symbols(k, v.shape) for k, v in values.items()}
    expr = build(*syms.values())
    flat_syms = [s for k in values for s in syms[k].ravel()]
    point = {s: float(v) for k in values for s, v in zip(syms[k].ravel(), values[k].ravel())}
    expected = np.array(sp.hessian(expr, flat_syms).subs(point).evalf(30), dtype=float)
    ev = evaluate(program, **values)
    assert ev.inputs == list(values)
    H = hessian(ev)
    labels = [f"{k}[{','.join(map(str, idx))}]" for k, v in values.items() for idx in np.ndindex(*v.shape)]
    assert H.rows == H.columns == labels
    assert H.passes == len(labels)
    np.testing.assert_allclose(H.data, expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(H.data, H.data.T, rtol=1e-12, atol=1e-14)


def test_hessian_cli_check_all_exits_0():
    result = invoke("hessian", "x^2*y + sin(x*y)", "x=1", "y=2", "--check", "all")
    assert result.exit_code == 0, result.stdout + result.stderr
    result = invoke("hessian", "sum(W^3)*logsumexp(x) + norm(x)*mean(W@x)", "W=[[0.3,-0.5],[1.1,0.2]]",
                    "x=[0.6,-1.2]", "--check", "all", "--json")
    assert result.exit_code == 0, result.stdout + result.stderr
    doc = strict_json(result.stdout)
    assert doc["ok"] is True and set(doc["checks"]) == {"sympy", "fd"}
    for entry in doc["checks"].values():
        assert entry["status"] == "ok", entry
    H = np.array(doc["hessian"])
    assert H.shape == (6, 6)
    assert doc["rows"] == doc["columns"] == ["W[0,0]", "W[0,1]", "W[1,0]", "W[1,1]", "x[0]", "x[1]"]
    assert doc["asymmetry"] < 1e-12
    np.testing.assert_allclose(H, H.T, atol=1e-12)


def test_hessian_json_has_hessian_and_asymmetry():
    doc = strict_json(invoke("hessian", "x^2*y", "x=3", "y=2", "--json").stdout)
    assert doc["hessian"] == [[4.0, 6.0], [6.0, 0.0]]
    assert doc["rows"] == doc["columns"] == ["x", "y"]
    assert doc["asymmetry"] == 0.0


def test_hessian_of_a_vector_output_exits_2():
    msg = _error("hessian", "softmax(z)", "z=[1,2,3]")
    assert "scalar" in msg


# ---- jacobian command ---------------------------------------------------------------------
def test_jacobian_json_rows_columns_and_values():
    W = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])
    x = np.array([0.5, -1.0, 2.0])
    result = invoke("jacobian", "y = W@x", "W=[[1,2,3],[4,5,6]]", "x=[0.5,-1,2]", "--json")
    assert result.exit_code == 0, result.stderr
    doc = strict_json(result.stdout)
    assert doc["rows"] == ["y[0]", "y[1]"]
    assert doc["columns"] == ["W[0,0]", "W[0,1]", "W[0,2]", "W[1,0]", "W[1,1]", "W[1,2]", "x[0]", "x[1]", "x[2]"]
    expected = np.hstack([np.kron(np.eye(2), x), W])  # ∂y_i/∂W[j,k] = δij x_k; ∂y/∂x = W
    np.testing.assert_allclose(np.array(doc["jacobian"]), expected, rtol=0, atol=0)
    assert doc["mode"] == "reverse" and doc["passes"] == 2
    assert doc["value"] == (W @ x).tolist() and doc["shape"] == [2]


def test_jacobian_mode_both_reports_agreement():
    z = np.array([1.0, 2.0, 3.0])
    result = invoke("jacobian", "softmax(z)", "z=[1,2,3]", "--mode", "both", "--json")
    assert result.exit_code == 0, result.stderr
    doc = strict_json(result.stdout)
    assert doc["mode"] == "both"
    assert doc["forward_reverse_difference"] <= 1e-15
    p = softmax(z)
    np.testing.assert_allclose(np.array(doc["jacobian"]), np.diag(p) - np.outer(p, p), rtol=1e-14, atol=1e-16)
    table = invoke("jacobian", "softmax(z)", "z=[1,2,3]", "--mode", "both")
    assert table.exit_code == 0
    assert "largest difference" in table.stdout and "forward mode" in table.stdout


def test_jacobian_check_all_exits_0_on_a_layer():
    result = invoke("jacobian", "tanh(W@x + b)", "W=[[0.1,0.2],[-0.3,0.4],[0.5,-0.6]]", "x=[1,2]",
                    "b=[0,0.1,-0.1]", "--mode", "both", "--check", "all", "--json")
    assert result.exit_code == 0, result.stdout + result.stderr
    doc = strict_json(result.stdout)
    assert doc["ok"] is True
    assert {c["status"] for c in doc["checks"].values()} == {"ok"}


def test_jacobian_wrt_limits_the_columns():
    result = invoke("jacobian", "y = W@x", "W=[[1,2],[3,4]]", "x=[5,6]", "--wrt", "x", "--json")
    assert result.exit_code == 0, result.stderr
    doc = strict_json(result.stdout)
    assert doc["columns"] == ["x[0]", "x[1]"]
    assert doc["jacobian"] == [[1.0, 2.0], [3.0, 4.0]]


@pytest.mark.parametrize("command, program", [("jacobian", "y = W@x"), ("hessian", "sum(W@x)^2")])
def test_matrix_columns_follow_the_wrt_order(command, program):
    result = invoke(command, program, "W=[[1,2],[3,4]]", "x=[5,6]", "--wrt", "x,W", "--json")
    assert result.exit_code == 0, result.stderr
    doc = strict_json(result.stdout)
    assert doc["columns"] == ["x[0]", "x[1]", "W[0,0]", "W[0,1]", "W[1,0]", "W[1,1]"]


def test_table_shows_an_array_gradient_that_starts_with_inf():
    result = invoke("eval", "sum(sqrt(x))", "x=[0,1]")
    assert result.exit_code == 0, result.stderr
    assert "[0.5, inf]" not in result.stdout
    assert "[inf, 0.5]" in result.stdout


def test_table_shows_an_array_gradient_with_inf_after_a_number():
    result = invoke("eval", "sum(sqrt(x))", "x=[1,0]")
    assert result.exit_code == 0, result.stderr
    assert "[0.5, inf]" in result.stdout
    doc = strict_json(invoke("eval", "sum(sqrt(x))", "x=[0,1]", "--json").stdout)
    assert doc["gradient"]["x"] == ["inf", 0.5]


# ---- the tensor samples ----------------------------------------------------------------------
TENSOR_SAMPLES = ["layer", "mlp", "logreg_vec", "softmax_ce", "rnn", "relu_layer"]


def sample_spec(name: str) -> dict:
    path = SAMPLES / f"{name}.grad"
    spec: dict = {"grad": {}}
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("# ") and lines[1].startswith("# "), "describe the example first"
    for line in lines:
        if not line.startswith("#:"):
            continue
        key, _, rest = line[2:].strip().partition(" ")
        if key == "vars":
            spec["vars"] = path.parent / rest.strip()
        elif key == "value":
            spec["value"] = float(rest)
        elif key == "grad":
            n, eq, text = rest.partition("=")
            assert eq, line
            spec["grad"][n.strip()] = json.loads(text)
        else:
            raise AssertionError(f"{path.name}: unknown directive #: {key}")
    assert {"vars", "value"} <= set(spec) and spec["grad"], path.name
    return spec


@pytest.mark.parametrize("name", TENSOR_SAMPLES)
def test_tensor_sample_value_and_gradient(name):
    spec = sample_spec(name)
    result = invoke("eval", "-f", str(SAMPLES / f"{name}.grad"), "--vars", str(spec["vars"]), "--json")
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    doc = strict_json(result.stdout)
    assert doc["value"] == pytest.approx(spec["value"], rel=1e-9)
    inputs = json.loads(spec["vars"].read_text())
    assert set(doc["gradient"]) == set(spec["grad"]) == set(inputs)
    for n, expected in spec["grad"].items():
        got = np.array(doc["gradient"][n], dtype=float)
        assert got.shape == np.shape(inputs[n]) == np.shape(expected), n
        np.testing.assert_allclose(got, np.array(expected, dtype=float), rtol=1e-9, atol=1e-15, err_msg=n)


@pytest.mark.slow
@pytest.mark.parametrize("name", TENSOR_SAMPLES)
def test_tensor_sample_passes_all_checks(name):
    spec = sample_spec(name)
    result = invoke("eval", "-f", str(SAMPLES / f"{name}.grad"), "--vars", str(spec["vars"]),
                    "--check", "all", "--sympy-timeout", "30", "--json")
    assert result.exit_code == 0, result.stdout + result.stderr
    doc = strict_json(result.stdout)
    assert doc["ok"] is True and set(doc["checks"]) == {"sympy", "fd"}
    for n, entry in doc["checks"]["fd"].items():
        assert entry["status"] == "ok", (n, entry)
    for n, entry in doc["checks"]["sympy"].items():
        assert entry["status"] in ("ok", "skipped"), (n, entry)
        if entry["status"] == "ok":
            np.testing.assert_allclose(np.array(entry["estimate"]), np.array(spec["grad"][n]), rtol=1e-9,
                                       atol=1e-15)


def test_tensor_samples_are_listed_in_the_samples_readme():
    readme = (SAMPLES / "README.md").read_text(encoding="utf-8")
    assert "## Vectors and matrices" in readme
    for name in TENSOR_SAMPLES:
        assert f"`{name}.grad`" in readme and f"samples/{name}.json" in readme


def test_relu_sample_has_a_dead_unit_with_zero_gradient_row():
    spec = sample_spec("relu_layer")
    inputs = json.loads(spec["vars"].read_text())
    z = np.array(inputs["W"]) @ np.array(inputs["x"]) + np.array(inputs["b"])
    assert (z < 0).any() and (z > 0).any() and np.all(np.abs(z) > 1e-3)
    dW = np.array(spec["grad"]["W"])
    assert np.all(dW[z < 0] == 0) and np.all(dW[z > 0] != 0)


# ---- --seed-output ----------------------------------------------------------------------------
@pytest.mark.parametrize("k", [0, 1, 2])
def test_seed_output_gives_a_row_of_the_softmax_jacobian(k):
    seed = [0, 0, 0]
    seed[k] = 1
    result = invoke("eval", "softmax(z)", "z=[1,2,3]", "--seed-output", json.dumps(seed).replace(" ", ""), "--json")
    assert result.exit_code == 0, result.stderr
    doc = strict_json(result.stdout)
    p = softmax(np.array([1.0, 2.0, 3.0]))
    row = p[k] * (np.eye(3)[k] - p)
    np.testing.assert_allclose(doc["gradient"]["z"], row, rtol=1e-14, atol=1e-17)
    np.testing.assert_allclose(doc["value"], p, rtol=1e-15)


def test_seed_output_vector_jacobian_product_of_a_matrix_vector_product():
    result = invoke("eval", "W@x", "W=[[1,2],[3,4],[5,6]]", "x=[1,-1]", "--seed-output", "[1,2,-1]", "--json")
    assert result.exit_code == 0, result.stderr
    doc = strict_json(result.stdout)
    W, x, v = np.array([[1.0, 2], [3, 4], [5, 6]]), np.array([1.0, -1]), np.array([1.0, 2, -1])
    assert doc["gradient"]["W"] == np.outer(v, x).tolist()
    assert doc["gradient"]["x"] == (W.T @ v).tolist()


def test_seed_output_of_the_wrong_shape_exits_2():
    msg = _error("eval", "softmax(z)", "z=[1,2,3]", "--seed-output", "[1,0]")
    assert "seed-output" in msg and "(3,)" in msg and "(2,)" in msg


def test_vector_output_without_seed_has_null_gradient():
    doc = strict_json(invoke("eval", "softmax(z)", "z=[1,2,3]", "--json").stdout)
    assert doc["gradient"] is None and doc["shape"] == [3]

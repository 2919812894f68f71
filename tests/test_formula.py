"""The one formula tree: its renderers agree with its own evaluation.

`gradcli.core.formula.Expr` prints a rule as lecture text, LaTeX, gradcli syntax and
Python source, and evaluates it on a backend.  Here the gradcli syntax of each
structural op's adjoint rule is parsed back by gradcli and run, the Python source
is run on NumPy, and the tree is evaluated on dual numbers; each must give the
number the tree gives on NumPy (which `tests/test_rules.py` checks against the
engine).  Precedence is checked through a few canonical prints.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from gradcli.backends.dual import DUAL, Dual
from gradcli.core import rules
from gradcli.core.formula import ATOM, PREC, Expr, FormulaError, leaf
from gradcli.core.ops import OPS
from gradcli.run.bindings import Binding
from gradcli.run.evaluate import evaluate

A, B, C = leaf("a"), leaf("b"), leaf("c")
NAMES = {"a": "a", "b": "b", "c": "c"}


@pytest.mark.parametrize("expr, text, latex, code", [
    ((A - B) @ C.T, "(a − b) cᵀ", r"\left(a - b\right)\,c^\top", "(a - b) @ c.T"),
    (A - (B - C), "a − (b − c)", "a - \\left(b - c\\right)", "a - (b - c)"),
    ((A - B) - C, "a − b − c", "a - b - c", "a - b - c"),
    (Expr("neg", A * B), "−(a ∘ b)", r"-\left(a \circ b\right)", "-(a * b)"),
    ((A * B) @ C, "a ∘ b c", r"a \circ b\,c", "(a * b) @ c"),
    (A / (B * C), "a / (b ∘ c)", r"a / \left(b \circ c\right)", "a / (b * c)"),
    (Expr("invT", A - B), "(a − b)⁻ᵀ", r"\left(a - b\right)^{-\top}", "np.linalg.inv(a - b).T"),
])
def test_one_ladder_brackets_every_notation(expr, text, latex, code):
    shapes = {"a": (2, 2), "b": (2, 2), "c": (2, 2)}
    assert expr.text(NAMES) == text
    assert expr.text(NAMES, latex=True) == latex
    assert expr.python(NAMES, shapes=shapes) == code


def test_every_binary_kind_has_a_binding_power():
    for kind in ("mm", "had", "scale", "div", "kron", "sub", "add"):
        assert PREC[kind] < Expr("leaf").prec, kind


def test_vectors_are_written_as_the_vector_operations():
    shapes = {"a": (3,), "b": (2,), "c": (3, 2)}
    assert (A @ B.T).gradcli(NAMES, shapes) == "outer(a, b)"
    assert (A.T @ C).gradcli(NAMES, shapes) == "a @ c"
    assert rules.inner(A, A).gradcli(NAMES, shapes) == "dot(a, a)"
    assert (A @ B.T).python(NAMES, "torch", shapes) == "torch.outer(a, b)"
    assert (C.T @ A).python(NAMES, "jax", shapes) == "c.T @ a"


def test_a_node_without_a_form_is_refused_by_name():
    with pytest.raises(FormulaError, match="perm"):
        rules.PERM.gradcli({})
    with pytest.raises(FormulaError, match="eye"):
        rules.EYE.gradcli({})  # the size of I is not given


def _square(rng, n):
    return rng.normal(size=(n, n)) + 2.0 * n * np.eye(n)


def _cases(rng):
    """(op, arguments, param): ops whose adjoint rules all have a gradcli form."""
    n, m = 3, 2
    yield "matmul", [rng.normal(size=(n, m)), rng.normal(size=m)], None
    yield "matmul", [rng.normal(size=n), rng.normal(size=(n, m))], None
    yield "matmul", [rng.normal(size=(n, m)), rng.normal(size=(m, n))], None
    yield "dot", [rng.normal(size=n), rng.normal(size=n)], None
    yield "outer", [rng.normal(size=n), rng.normal(size=m)], None
    yield "transpose", [rng.normal(size=(n, m))], None
    yield "sum", [rng.normal(size=(n, m))], None
    yield "mean", [rng.normal(size=(n, m))], None
    yield "norm", [rng.normal(size=n)], None
    yield "softmax", [rng.normal(size=n)], -1
    yield "log_softmax", [rng.normal(size=n)], -1
    yield "logsumexp", [rng.normal(size=n)], None
    yield "trace", [rng.normal(size=(n, n))], None
    yield "det", [_square(rng, n)], None
    yield "inv", [_square(rng, n)], None
    yield "solve", [_square(rng, n), rng.normal(size=n)], None
    yield "solve", [_square(rng, n), rng.normal(size=(n, m))], None
    yield "diag", [rng.normal(size=n)], None
    yield "reshape", [rng.normal(size=(n, m))], (m, n)


def _forward(op, xs, param):
    from gradcli.backends.arrays import ARRAY

    f = getattr(ARRAY, op)
    return np.asarray(f(*xs) if param is None else f(*xs, param), dtype=float)


def _program_names(env, rule, k):
    names = {"g": "g", "x0": "x0", "x1": "x1", "out": "out", "n": repr(float(env.get("n", 1.0)))}
    names["eye"] = str(rules.eye_size(rule, env))
    names["ones"] = ", ".join(map(str, env["arg_shape"]))
    return names


def _bindings(env):
    return {key: Binding(key, np.asarray(env[key], dtype=float) if np.ndim(env[key]) else float(env[key]),
                         key, "argument") for key in ("g", "x0", "x1", "out")}


@pytest.mark.parametrize("trial", range(2))
def test_gradcli_syntax_parses_back_to_the_same_numbers(trial):
    rng = np.random.default_rng(20261205 + trial)
    for op, xs, param in _cases(rng):
        out = _forward(op, xs, param)
        g = rng.normal(size=out.shape)
        shapes = [x.shape for x in xs]
        for k, rule in enumerate(rules.rules_for(op, shapes, param)):
            env = rules.environment(op, k, xs, out, g, param)
            want = rules.adjoint_value(rule, env)
            leaf_shapes = {key: np.shape(env[key]) for key in ("g", "x0", "x1", "out")}
            source = rule.adjoint.gradcli(_program_names(env, rule, k), leaf_shapes)
            bindings = _bindings(env)
            used = {name: b for name, b in bindings.items() if re.search(rf"\b{name}\b", source)}
            got = np.reshape(evaluate(f"r = {source}", used, output="r").value, env["arg_shape"])
            assert np.allclose(got, want, rtol=1e-10, atol=1e-12), f"{op} {shapes} argument {k}: {source}"


@pytest.mark.parametrize("target", ["numpy"])
def test_python_source_runs_to_the_same_numbers(target):
    rng = np.random.default_rng(20261206)
    for op, xs, param in _cases(rng):
        out = _forward(op, xs, param)
        g = rng.normal(size=out.shape)
        for k, rule in enumerate(rules.rules_for(op, [x.shape for x in xs], param)):
            env = rules.environment(op, k, xs, out, g, param)
            leaf_shapes = {key: np.shape(env[key]) for key in ("g", "x0", "x1", "out")}
            source = rule.adjoint.python(_program_names(env, rule, k), target, leaf_shapes)
            scope = {"np": np, **{key: np.asarray(env[key], dtype=float) for key in ("g", "x0", "x1", "out")}}
            got = eval(source, scope)  # noqa: S307 - source generated by the renderer under test, not user text
            assert np.allclose(np.reshape(got, env["arg_shape"]), rules.adjoint_value(rule, env)), f"{op}: {source}"


@pytest.mark.parametrize("op, shapes, param", [
    ("matmul", [(3, 2), (2,)], None), ("matmul", [(3, 2), (2, 4)], None), ("softmax", [(4,)], -1),
    ("transpose", [(3, 2)], None), ("norm", [(3,)], None), ("inv", [(3, 3)], None), ("sum", [(2, 3)], 1),
])
def test_the_tree_evaluates_on_dual_numbers(op, shapes, param):
    """The adjoint rule evaluated on duals carries the derivative of the adjoint: the
    same numbers as the op row's VJP run on the dual backend (a Hessian-vector product)."""
    rng = np.random.default_rng(7)
    xs = [rng.normal(size=s) + (3.0 * np.eye(s[0]) if op == "inv" else 0.0) for s in shapes]
    ts = [rng.normal(size=s) for s in shapes]
    duals = [Dual(x, t) for x, t in zip(xs, ts)]
    out = getattr(DUAL, op)(*duals) if param is None else getattr(DUAL, op)(*duals, param)
    g = rng.normal(size=np.shape(out.v))
    row = OPS[op]
    for k, rule in enumerate(rules.rules_for(op, shapes, param)):
        env = rules.environment(op, k, [d.v for d in duals], out.v, g, param)
        env.update(x0=duals[0], x1=duals[1] if len(duals) > 1 else 0.0)
        if op != "sum":  # sum's rule does not read the output (read with the axis kept)
            env["out"] = out
        got = rule.adjoint.value(dict(env, eye=rules.eye_size(rule, env)), DUAL)
        want = row.vjp[k](DUAL, g, duals, out, param)  # type: ignore[index]
        assert np.allclose(np.reshape(np.asarray(got.v if isinstance(got, Dual) else got), np.shape(xs[k])),
                           np.asarray(want.v if isinstance(want, Dual) else want)), op
        if isinstance(want, Dual):
            assert isinstance(got, Dual), op
            assert np.allclose(np.reshape(got.t, np.shape(xs[k])), want.t), op


# ---- scalar formulas: the edges' partials, simplified as they are built ----------------------
def _scalars():
    from gradcli.core.formula import scalar

    return scalar, scalar.name("x"), scalar.name("y")


def test_scalar_partials_simplify_as_they_are_built():
    s, x, y = _scalars()
    assert (1 * x).text == "x" and (x * 0).text == "0" and (-1 * x).text == "-x"
    assert (x + x).text == "2*x" and (x * x).text == "x^2" and (x - x).text == "0"
    assert (x + -y).text == "x - y" and (x + (-2) * y).text == "x - 2*y" and (x + -y * x).text == "x - y*x"
    assert (s.lit(2) + 3).text == "5" and (x ** 1).text == "x" and (x ** 0).text == "1" and s.neg(s.neg(x)).text == "x"
    assert s.SymbolicText().step(x).text == "(x > 0)" and s.SymbolicText().step(s.lit(-1)).num == 0.0


@pytest.mark.parametrize("build, text", [
    (lambda s, x, y: (x + y) * (x - y), "(x + y)*(x - y)"),
    (lambda s, x, y: -x * y, "-x*y"),
    (lambda s, x, y: y * -x, "y*(-x)"),
    (lambda s, x, y: x / (y * x), "x/(y*x)"),
    (lambda s, x, y: (x + y) ** (x * y), "(x + y)^(x*y)"),
    (lambda s, x, y: x - (y - x), "x - (y - x)"),
    (lambda s, x, y: x + (y - x), "x + (y - x)"),
    (lambda s, x, y: -(x + y), "-(x + y)"),
    (lambda s, x, y: s.neg(s.neg(x + y)), "(x + y)"),
    (lambda s, x, y: s.SymbolicText().xlogy(y, x), "y*log(x)"),
    (lambda s, x, y: s.SymbolicText().eq(x, y) / s.SymbolicText().sqrt(1 - x * x), "(x == y)/sqrt(1 - x^2)"),
])
def test_scalar_formulas_render_with_the_compact_ladder(build, text):
    s, x, y = _scalars()
    e = build(s, x, y)
    assert isinstance(e, Expr) and e.text == text


# ---- Python source: the lines gradcli export writes ------------------------------------------
@pytest.mark.parametrize("build, text", [
    (lambda c, x, y: x * 1 + 0, "x"),
    (lambda c, x, y: -1 * (x - y), "-(x - y)"),
    (lambda c, x, y: x - (y - x), "x - (y - x)"),
    (lambda c, x, y: x / (y * x), "x / (y * x)"),
    (lambda c, x, y: c.power(x + y, c.number(2)), "(x + y) ** 2.0"),
    (lambda c, x, y: c.Code("mm", x, y - x) * 2, "x @ (y - x) * 2.0"),
    (lambda c, x, y: c.Code("T", x + y), "(x + y).T"),
    (lambda c, x, y: c.call("np.sum", x * y, extra=("axis=0",)), "np.sum(x * y, axis=0)"),
    (lambda c, x, y: c.form("{0}[{1}.astype(int)]", x + y, y, wraps=(ATOM, 0)), "(x + y)[y.astype(int)]"),
    (lambda c, x, y: c.number(2) * 3 - c.number(-1), "7.0"),
])
def test_python_code_folds_constants_and_brackets_by_the_ladder(build, text):
    from gradcli.core.formula import code as c

    e = build(c, c.source("x", (2,)), c.source("y", (2,)))
    assert isinstance(e, Expr) and e.text == text


def test_python_code_keeps_the_broadcast_shape():
    from gradcli.core.formula import code as c

    assert (c.source("W", (3, 2)) * c.source("b", (2,))).shape == (3, 2)


# ---- the reverse sweep's formulas: what gradcli diff prints for arrays -----------------------
def test_sweep_formulas_simplify_signs_and_render_as_gradcli_and_latex():
    from gradcli.core.formula.sweep import Derived, add, call, matmul, mul, name, neg, num, transpose

    a, b, x, w = name("a"), name("b"), name("x"), name("W")
    e = matmul(transpose(w), add(x, mul(a, neg(b))))
    assert isinstance(e, Expr)
    assert e.text() == "transpose(W) @ (x - a * b)"
    assert e.latex({"W": "W"}) == r"W^\top \, \left(x - a \circ b\right)"
    assert mul(num(1), call("outer", name("dz"), x)).text() == "outer(dz, x)" and mul(num(-1), a).text() == "-a"
    assert Derived("div", a, add(a, b)).text() == "a / (a + b)" and Derived("div", a, b).latex({}) == r"\frac{a}{b}"

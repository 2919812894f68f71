"""Every printed matrix rule is evaluated numerically against the op row's VJP.

`gradcli.core.rules` writes each structural op's rule (``W̄ += v̄ xᵀ``) as an
expression tree that both prints itself and evaluates itself.  Here each rule is
evaluated at random shapes and points (seeded) and compared with what the engine
computes from `gradcli.core.ops` (the op's ``vjp`` on the NumPy backend), and each
local Jacobian formula with the Jacobian built column by column from that VJP.  So
the words of ``--steps`` and ``--edges`` can never drift from the math.
"""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from gradcli.backends.arrays import ARRAY
from gradcli.core import rules
from gradcli.core.engine import safe_partials
from gradcli.core.ops import INTEGER_ARGS, OPS

RNG_SEED = 20261129


AXIS_OPS = ("sum", "mean", "softmax", "log_softmax", "logsumexp", "prod", "cumsum", "var", "std", "amax", "amin")
#: ops of square matrices, and which of their arguments is one
SQUARE = {"det": 0, "logdet": 0, "inv": 0, "solve": 0}


def _forward(name, xs, param):
    f = getattr(ARRAY, name)
    if name in AXIS_OPS:
        return np.asarray(f(xs[0], param), dtype=float) if param is not None else np.asarray(f(xs[0]), dtype=float)
    if name in ("index", "reshape", "onehot") or (name == "transpose" and param is not None):
        return np.asarray(f(xs[0], param), dtype=float)
    if name in ("conv2d", "conv1d", "maxpool2d", "avgpool2d"):  # param: (stride, pad) or (k, stride)
        return np.asarray(f(*xs, param), dtype=float)
    return np.asarray(f(*xs), dtype=float)


def _point(name, k, shape, rng):
    """A random argument; square matrices well conditioned (logdet: positive definite)."""
    x = rng.normal(size=shape)
    if SQUARE.get(name) == k:
        n = shape[0]
        if name == "logdet":
            return x @ x.T + n * np.eye(n)
        return x + 2.0 * n * np.eye(n)  # diagonally dominant: far from singular
    if name == "std":  # away from std = 0, where the rule's division has the engine's 0 instead
        return x + np.arange(x.size).reshape(shape) * 0.1
    return x


def _points(name, shapes, param, rng):
    """Random arguments; an integer argument (gather's idx, pick's and onehot's labels) holds
    whole numbers in range, repeats included."""
    tops = {"gather": lambda: shapes[0][0], "pick": lambda: shapes[0][1], "onehot": lambda: param}
    xs = []
    for k, s in enumerate(shapes):
        if k in INTEGER_ARGS.get(name, ()):
            xs.append(rng.integers(0, tops[name](), size=s).astype(float))
        else:
            xs.append(_point(name, k, s, rng))
    return xs


def _vjps(name, g, xs, out, param):
    op = OPS[name]
    if callable(op.vjp):
        return op.vjp(ARRAY, g, xs, out, param)
    return [v(ARRAY, g, xs, out, param) for v in op.vjp]


def _cases(rng):
    """(op, argument shapes, param) at random sizes: every structural op and every case."""
    n, m, k = (int(rng.integers(1, 5)) for _ in range(3))
    yield "matmul", [(n, m), (m,)], None
    yield "matmul", [(m,), (m, k)], None
    yield "matmul", [(n, m), (m, k)], None
    yield "matmul", [(m,), (m,)], None
    yield "dot", [(m,), (m,)], None
    yield "dot", [(n, m), (m,)], None
    yield "dot", [(), ()], None  # a scalar operand scales the other, as np.dot allows
    yield "dot", [(), (n, m)], None
    yield "matmul", [(m,), ()], None
    yield "outer", [(n,), (m,)], None
    yield "transpose", [(n, m)], None
    yield "transpose", [(m,)], None
    for op in ("sum", "mean", "logsumexp"):
        yield op, [(n,)], None
        yield op, [(n, m)], None
        yield op, [(n, m)], 0
        yield op, [(n, m)], 1
        yield op, [(n, m)], -1
    yield "norm", [(n,)], None
    yield "norm", [(n, m)], None
    for op in ("softmax", "log_softmax"):
        yield op, [(n,)], -1
        yield op, [(n, m)], -1
        yield op, [(n, m)], 0
    yield "amax", [(n, m)], None
    yield "amin", [(n,)], None
    # rank 3 and 4 (issue 23): axes in a new order, reductions and extremes along one axis
    yield "transpose", [(n, m, k)], (1, 0, 2)
    yield "transpose", [(n, m, k, 2)], (3, -4, 1, 2)
    yield "transpose", [(n, m, k)], None
    for op in ("amax", "amin", "sum", "mean", "logsumexp", "prod", "var", "std"):
        yield op, [(n + 1, m + 1, k + 1)], int(rng.integers(-3, 3))
    yield "amax", [(2, n, m, k)], None
    for op in ("softmax", "log_softmax"):
        yield op, [(2, n, m, k)], int(rng.integers(-4, 4))
    yield "reshape", [(n, m, k)], (k, -1, n)
    yield "index", [(n, m)], (int(rng.integers(0, n)),)
    yield "index", [(n, m)], (int(rng.integers(0, n)), int(rng.integers(0, m)))
    yield "index", [(n + 2,)], (("slice", 1, None, 2),)
    yield "stack", [(m,), (m,), (m,)], None
    for op in ("prod", "var", "std"):
        yield op, [(n + 1,)], None
        yield op, [(n, m + 1)], None
        yield op, [(n + 1, m + 1)], 0
        yield op, [(n + 1, m + 1)], -1
    yield "cumsum", [(n,)], None
    yield "cumsum", [(n,)], 0
    yield "cumsum", [(n, m)], None
    yield "cumsum", [(n, m)], 0
    yield "cumsum", [(n, m)], 1
    yield "reshape", [(n, m)], (m, n)
    yield "reshape", [(n * m,)], (n, m)
    yield "flatten", [(n, m)], None
    yield "flatten", [(k,)], None
    yield "hstack", [(n,), (), (m,)], None
    yield "hstack", [(n, m), (n, k), (n, 1)], None
    yield "vstack", [(n, m), (k, m), (m,)], None
    yield "vstack", [(m,), (m,)], None
    yield "vstack", [(), ()], None
    yield "diag", [(n,)], None
    yield "diag", [(n, n)], None
    yield "trace", [(n, n)], None
    for op in ("det", "logdet", "inv"):
        yield op, [(n, n)], None
    yield "solve", [(n, n), (n,)], None
    yield "solve", [(n, n), (n, k)], None
    yield "gather", [(n, m), (k + 2,)], None  # more picks than rows: indices repeat
    yield "gather", [(n,), (k,)], None
    yield "gather", [(n, m), ()], None
    yield "pick", [(n, m + 1), (n,)], None
    yield "onehot", [(n,)], m + 1
    yield "conv2d", [(n, 2, m + 2, k + 2), (2, 2, 3, 3)], (1, 0)
    yield "conv2d", [(2, 2 * m + 1, 2 * m + 1), (k, 2, 3, 3)], (2, 1)
    yield "conv1d", [(n, 2, m + 3), (k, 2, 2)], (1, 1)
    yield "maxpool2d", [(n, 2, 2 * m, 2 * k)], (2, 2)
    yield "avgpool2d", [(2, 2 * m + 1, 3)], (3, 2) if m > 1 else (1, 1)


#: ops with no array arguments (eye, zeros, ones): constants, no adjoint to pass on, so no rule
CONSTANT_OPS = {name for name, op in OPS.items() if op.partials is None and op.arity == 0}


def test_every_structural_op_has_a_rule():
    structural = {name for name, op in OPS.items() if op.partials is None} - CONSTANT_OPS
    assert structural <= set(rules.RULES), f"structural ops without a printed rule: {structural - set(rules.RULES)}"


def test_only_argumentless_constants_go_without_a_rule():
    """The exemption above is for ops that take no array at all: their VJP has no rows."""
    assert CONSTANT_OPS == {"eye", "zeros", "ones"}
    for name in CONSTANT_OPS:
        assert OPS[name].vjp == () and OPS[name].arity == 0, name
        assert name not in rules.RULES, f"{name} has no argument, so a rule for it says nothing"


def test_the_cases_cover_every_rule():
    covered = {op for op, _, _ in _cases(np.random.default_rng(0))}
    assert covered == set(rules.RULES)


@pytest.mark.parametrize("trial", range(12))
def test_printed_rules_equal_the_engine_vjp(trial):
    rng = np.random.default_rng(RNG_SEED + trial)
    for name, shapes, param in _cases(rng):
        xs = _points(name, shapes, param, rng)
        out = _forward(name, xs, param)
        g = rng.normal(size=out.shape)
        engine = _vjps(name, g, xs, out, param)
        for k, rule in enumerate(rules.rules_for(name, shapes, param)):
            env = rules.environment(name, k, xs, out, g, param)
            got = rules.adjoint_value(rule, env)
            assert np.allclose(got, engine[k], rtol=1e-10, atol=1e-12), (
                f"{name} {shapes} axis {param}, argument {k}: rule {rule.adjoint.text(_NAMES)} gives {got}, "
                f"the engine {engine[k]}")


def _jacobian_from_vjp(name, xs, out, param, k):
    rows = []
    for i in range(out.size):
        e = np.zeros(out.size)
        e[i] = 1.0
        rows.append(np.ravel(_vjps(name, e.reshape(out.shape), xs, out, param)[k]))
    return np.array(rows).reshape(out.size, xs[k].size)


@pytest.mark.parametrize("trial", range(6))
def test_printed_jacobians_equal_the_engine(trial):
    rng = np.random.default_rng(RNG_SEED + 100 + trial)
    seen = 0
    for name, shapes, param in _cases(rng):
        xs = _points(name, shapes, param, rng)
        out = _forward(name, xs, param)
        for k, rule in enumerate(rules.rules_for(name, shapes, param)):
            env = rules.environment(name, k, xs, out, None, param)
            got = rules.jacobian_value(rule, env)
            if got is None:
                continue
            seen += 1
            want = _jacobian_from_vjp(name, xs, out, param, k)
            assert np.allclose(got, want, rtol=1e-10, atol=1e-12), (
                f"{name} {shapes} axis {param}, argument {k}: Jacobian {rule.jacobian.text(_NAMES)}")
    assert seen > 20


_NAMES = {"g": "ḡ", "x0": "x", "x1": "y", "out": "s", "n": "n", "p0": "p", "p1": "q", "axes": "", "k": "k"}


ELEMENTWISE = [name for name, op in OPS.items() if op.partials is not None and op.user and not op.variadic]


def _domain(name, x):
    if name in ("log", "sqrt", "log2", "log10"):
        return np.abs(x) + 0.5
    if name == "acosh":
        return np.abs(x) + 1.5
    if name in ("asin", "acos"):
        return np.tanh(x) * 0.9
    return x


@pytest.mark.parametrize("name", ELEMENTWISE + ["max", "min"])
def test_elementwise_rules_with_broadcasting(name):
    """``x̄ += Σ_axes (ḡ ∘ ∂y/∂x)``: the axes summed over are the broadcast ones."""
    rng = np.random.default_rng(zlib.crc32(name.encode()))
    op = OPS[name]
    arity = 2 if op.variadic else op.arity
    cases = {1: [[(3,)]],
             2: [[(3,)] * 2, [(2, 3), (3,)], [(2, 3), ()], [(2, 1), (1, 3)], [(4,), ()]],
             3: [[(3,)] * 3, [(2, 3), (3,), ()], [(2, 1), (1, 3), (3,)], [(), (4,), ()]]}  # where, clip
    for shapes in cases[arity]:
        xs = [_domain(name, rng.normal(size=s)) for s in shapes]
        if name == "pow":
            xs[0] = np.abs(xs[0]) + 0.5
        out = np.asarray(getattr(ARRAY, name)(*xs), dtype=float)
        g = rng.normal(size=out.shape)
        kind = 0 if op.variadic else arity
        parts = safe_partials(ARRAY, kind, op.partials, xs, out)
        for k in range(arity):
            broadcast = tuple(np.shape(xs[k])) != out.shape
            rule = rules.elementwise_rule(k, broadcast)
            env = rules.environment(name, k, xs, out, g, None, parts)
            got = rules.adjoint_value(rule, env)
            want = ARRAY.unbroadcast(g * parts[k], np.shape(xs[k]))
            assert np.allclose(got, want), f"{name} {shapes} argument {k}"
            if not broadcast:
                jac = rules.jacobian_value(rule, env)
                assert np.allclose(jac, np.diag(np.ravel(np.broadcast_to(parts[k], out.shape))))
            if np.shape(xs[k]) == () and out.shape != ():  # a scalar spread over the output: a column
                column = rules.elementwise_rule(k, "scalar")
                want = np.ravel(np.broadcast_to(parts[k], out.shape)).reshape(-1, 1)
                assert np.allclose(rules.jacobian_value(column, env), want), f"{name} {shapes} argument {k}"
                for unit in (1.0, -1.0):
                    ones = rules.elementwise_rule(k, "scalar", unit)
                    assert np.allclose(rules.jacobian_value(ones, env), unit * np.ones((out.size, 1)))


def test_rules_print_the_lecture_notation():
    def text(op, shapes, k, param=None, names=None):
        return rules.rules_for(op, shapes, param)[k].adjoint.text(names or _NAMES)

    assert text("matmul", [(3, 2), (2,)], 0, names={**_NAMES, "g": "v̄", "x0": "W", "x1": "x"}) == "v̄ xᵀ"
    assert text("matmul", [(3, 2), (2,)], 1, names={**_NAMES, "g": "v̄", "x0": "W", "x1": "x"}) == "Wᵀ v̄"
    assert text("dot", [(3,), (3,)], 0, names={**_NAMES, "g": "s̄", "x1": "a"}) == "s̄ · a"
    assert text("softmax", [(3,)], 0, -1, names={**_NAMES, "g": "s̄"}) == "s ∘ (s̄ − ⟨s̄, s⟩)"
    latex = rules.rules_for("matmul", [(3, 2), (2,)], None)[0].adjoint.text(
        {**_NAMES, "g": r"\bar{v}", "x1": "x"}, latex=True)
    assert latex == r"\bar{v}\,x^\top"


# ---- tangent rules (forward mode in matrix form) ------------------------------------------
def test_every_structural_op_has_a_tangent_rule():
    assert set(rules.TANGENTS) | set(rules.JOINS) == set(rules.RULES)
    assert not set(rules.TANGENTS) & set(rules.JOINS)


def _live_subsets(n):
    """Every argument live, and each argument alone (the others' tangents 0)."""
    yield (True,) * n
    if n > 1:
        for k in range(n):
            yield tuple(j == k for j in range(n))


@pytest.mark.parametrize("trial", range(12))
def test_printed_tangents_equal_the_engine_jvp(trial):
    rng = np.random.default_rng(RNG_SEED + 200 + trial)
    seen = set()
    for name, shapes, param in _cases(rng):
        xs = _points(name, shapes, param, rng)
        out = _forward(name, xs, param)
        for live in _live_subsets(len(shapes)):
            ts = [rng.normal(size=s) if ok else np.zeros(s) for s, ok in zip(shapes, live)]
            want = np.asarray(OPS[name].jvp(ARRAY, ts, xs, out, param), dtype=float)
            terms = rules.tangent_terms(name, shapes, param, live)
            env = rules.tangent_environment(name, xs, out, ts, param)
            got = rules.tangent_value(rules.total_of(terms), env)
            text = rules.total_of(terms).text({**_NAMES, "t0": "ẋ", "t1": "ẏ", "t2": "ż"})
            assert got.shape == want.shape and np.allclose(got, want, rtol=1e-10, atol=1e-12), (
                f"{name} {shapes} axis {param}, live {live}: {text} gives {got}, the engine's jvp {want}")
            assert rules.tangent_shapes(terms, env).endswith(rules.shape_text(out.shape))
            seen.add(name)
    assert seen == set(rules.RULES)


@pytest.mark.parametrize("name", ELEMENTWISE + ["max", "min"])
def test_elementwise_tangents_with_broadcasting(name):
    """``ẏ = Σ_k ∂y/∂x_k ∘ ẋ_k``, a broadcast argument's tangent spread like its value."""
    rng = np.random.default_rng(zlib.crc32(name.encode()) + 1)
    op = OPS[name]
    arity = 2 if op.variadic else op.arity
    cases = {1: [[(3,)], [(2, 3)]],
             2: [[(3,)] * 2, [(2, 3), (3,)], [(2, 3), ()], [(2, 1), (1, 3)], [(), (4,)]],
             3: [[(3,)] * 3, [(2, 3), (3,), ()], [(), (4,), ()]]}
    for shapes in cases[arity]:
        xs = [_domain(name, rng.uniform(0.2, 0.9, size=s)) for s in shapes]  # inside every op's domain
        out = np.asarray(getattr(ARRAY, name)(*xs), dtype=float)
        kind = 0 if op.variadic else arity
        parts = safe_partials(ARRAY, kind, op.partials, xs, out)
        units = tuple(p if isinstance(p, float) and p in (1.0, -1.0) else 0.0 for p in parts)
        for live in _live_subsets(arity):
            ts = [rng.normal(size=s) if ok else np.zeros(s) for s, ok in zip(shapes, live)]
            want = sum(np.asarray(p, dtype=float) * t for p, t in zip(parts, ts)) + np.zeros(out.shape)
            terms = rules.elementwise_terms(units, live, scalar=False)
            env = rules.tangent_environment(name, xs, out, ts, None, parts)
            got = rules.tangent_value(rules.total_of(terms), env)
            assert np.allclose(got, want), f"{name} {shapes} live {live}"


def test_tangent_rules_print_the_lecture_notation():
    names = {**_NAMES, "x0": "W", "x1": "x", "t0": "Ẇ", "t1": "ẋ", "out": "s"}
    text = lambda op, shapes, p=None: rules.total_of(rules.tangent_terms(op, shapes, p, (True,) * len(shapes))).text(names)  # noqa: E731
    assert text("matmul", [(3, 2), (2,)]) == "Ẇ x + W ẋ"
    assert text("dot", [(3,), (3,)]) == "Ẇᵀ x + Wᵀ ẋ"
    assert text("softmax", [(3,)], -1) == "s ∘ (Ẇ − ⟨s, Ẇ⟩)"
    assert text("sum", [(3, 2)], 0) == "Σ₀ Ẇ"
    assert text("hstack", [(3,), (2,)]) == "hstack(Ẇ, ẋ)"
    assert rules.total_of(rules.tangent_terms("matmul", [(3, 2), (2,)], None, (True, False))).text(names) == "Ẇ x"
    env = rules.tangent_environment("matmul", [np.ones((3, 2)), np.ones(2)], np.ones(3), [np.ones((3, 2)), np.ones(2)], None)
    assert rules.tangent_shapes(rules.tangent_terms("matmul", [(3, 2), (2,)], None, (True, True)), env) == \
        "3×2 · 2 + 3×2 · 2 → 3"
    latex = rules.total_of(rules.tangent_terms("matmul", [(3, 2), (2,)], None, (True, True))).text(
        {**names, "t0": r"\dot{W}", "t1": r"\dot{x}"}, latex=True)
    assert latex == r"\dot{W}\,x + W\,\dot{x}"


# ---- the rule is the engine's source ------------------------------------------------------
def test_every_structural_row_points_to_its_rule_and_names_its_kernels():
    """A structural row holds its rule; its VJP and JVP come from that rule unless the row
    names a hand-tuned kernel (which the tests above compare with the rule)."""
    from_rules = []
    for name in rules.RULES:
        op = OPS[name]
        assert op.rule is rules.RULES[name], name
        if not op.kernel:
            from_rules.append(name)
    kernels = {name for name in rules.RULES if OPS[name].kernel}
    assert kernels == {"matmul", "dot", "outer", "norm", "var", "std", "det", "solve",
                       "conv2d", "conv1d", "maxpool2d", "avgpool2d"}, kernels
    assert len(from_rules) == 23, from_rules


def _numeric_vjp(name, g, xs, param, k, h=1e-6):
    """⟨g, ∂out/∂x_k⟩ by central differences of the forward op (an oracle independent of the rules)."""
    grad = np.zeros_like(xs[k])
    for i in np.ndindex(xs[k].shape):
        up, down = [x.copy() for x in xs], [x.copy() for x in xs]
        up[k][i] += h
        down[k][i] -= h
        grad[i] = np.sum(g * (_forward(name, up, param) - _forward(name, down, param))) / (2 * h)
    return grad


@pytest.mark.parametrize("trial", range(3))
def test_vjps_from_the_rules_equal_central_differences(trial):
    rng = np.random.default_rng(RNG_SEED + 300 + trial)
    seen = set()
    for name, shapes, param in _cases(rng):
        if OPS[name].kernel or name in ("amax", "amin"):  # amax: ties have no derivative to difference
            continue
        xs = _points(name, shapes, param, rng)
        out = _forward(name, xs, param)
        g = rng.normal(size=out.shape)
        for k, got in enumerate(_vjps(name, g, xs, out, param)):
            if k in INTEGER_ARGS.get(name, ()):  # integer data: no gradient, and no step to difference
                assert not np.any(got), name
                continue
            want = _numeric_vjp(name, g, xs, param, k)
            assert np.allclose(got, want, rtol=1e-5, atol=1e-6), f"{name} {shapes} axis {param}: {got} vs {want}"
        seen.add(name)
    assert len(seen) == 21


@pytest.mark.parametrize("trial", range(3))
def test_jvps_from_the_rules_equal_central_differences(trial):
    rng = np.random.default_rng(RNG_SEED + 400 + trial)
    h = 1e-6
    for name, shapes, param in _cases(rng):
        if OPS[name].kernel:
            continue
        xs = _points(name, shapes, param, rng)
        ts = [np.zeros(s) if k in INTEGER_ARGS.get(name, ()) else rng.normal(size=s) for k, s in enumerate(shapes)]
        out = _forward(name, xs, param)
        got = np.asarray(OPS[name].jvp(ARRAY, ts, xs, out, param), dtype=float)
        up = _forward(name, [x + h * t for x, t in zip(xs, ts)], param)
        down = _forward(name, [x - h * t for x, t in zip(xs, ts)], param)
        assert np.allclose(got, (up - down) / (2 * h), rtol=1e-5, atol=1e-6), f"{name} {shapes} axis {param}"

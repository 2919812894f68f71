"""The primitive rule table (`gradcli.core.ops`) against independent oracles.

* structure: every row has an arity and derivative rules of the right shape, and
  every backend implements every row it should;
* partials: each row's partials, evaluated with the float backend, agree with SymPy's
  own ``diff`` of the op's SymPy form and with central finite differences of the
  float forward, at many seeded random points inside each op's domain;
* forward values: the float forward of every op equals its SymPy form, including the
  overflow-free sigmoid/softplus at large |x|;
* kink conventions (PyTorch's): relu'(0) = abs'(0) = 0, ties in max/min share evenly.
"""

from __future__ import annotations

import math
import random

import pytest
import sympy as sp

from gradcli.backends.floats import IEEE, SCALAR
from gradcli.core.engine import Tape
from gradcli.core.errors import MathError
from gradcli.language.lower import lower
from gradcli.core.ops import BINARY_OPS, FUNCTIONS, OPS
from gradcli.language.parser import parse
from gradcli.backends.sympy import sympy_backend

SYM = sympy_backend()
HELPERS = {"step", "eq", "xlogy"}
EPS = 2.220446049250313e-16
N_POINTS = 60

#: ops with elementwise partials (scalar ops); the others are structural tensor ops
ELEMENTWISE = sorted(name for name, op in OPS.items() if op.partials is not None)
STRUCTURAL = sorted(name for name, op in OPS.items() if op.partials is None)

# ---- sampling domains ---------------------------------------------------------------
# Each argument: a list of intervals (sampled uniformly, weighted by length).  Domains
# stay inside where the op is defined and away from kinks, so both oracles apply.
ANY = [(-10.0, 10.0)]
AWAY0 = [(-5.0, -0.05), (0.05, 5.0)]
SMALL = [(-5.0, 5.0)]


class Case:
    def __init__(self, op: str, domains: list, distinct: bool = False, label: str = "",
                 wrt: tuple[int, ...] | None = None) -> None:
        self.op = op
        self.domains = domains
        self.nargs = len(domains)
        #: arguments must be pairwise apart (eq, max, min: away from ties)
        self.distinct = distinct
        self.label = label or op
        #: which arguments to differentiate (default: all)
        self.wrt = tuple(range(self.nargs)) if wrt is None else wrt

    def __repr__(self) -> str:
        return self.label


def _negint_pow_exponent(rng: random.Random) -> float:
    return float(rng.choice([-3, -2, -1, 1, 2, 3, 4]))


CASES = [
    Case("add", [ANY, ANY]),
    Case("sub", [ANY, ANY]),
    Case("mul", [ANY, ANY]),
    Case("div", [ANY, [(-10.0, -0.2), (0.2, 10.0)]]),
    Case("pow", [[(0.1, 5.0)], [(-3.0, 3.0)]]),
    # a negative base with an integer exponent: only d/dx is real
    Case("pow", [[(-5.0, -0.1)], "negint"], label="pow-negative-base", wrt=(0,)),
    Case("neg", [ANY]),
    Case("exp", [[(-20.0, 20.0)]]),
    Case("log", [[(0.01, 100.0)]]),
    Case("sqrt", [[(0.01, 100.0)]]),
    Case("sin", [ANY]),
    Case("cos", [ANY]),
    Case("tan", [[(-1.4, 1.4)]]),
    Case("asin", [[(-0.95, 0.95)]]),
    Case("acos", [[(-0.95, 0.95)]]),
    Case("atan", [ANY]),
    Case("sinh", [SMALL]),
    Case("cosh", [SMALL]),
    Case("tanh", [SMALL]),
    Case("sigmoid", [ANY]),
    Case("relu", [AWAY0]),
    Case("softplus", [[(-20.0, 20.0)]]),
    Case("abs", [AWAY0]),
    Case("max", [SMALL, SMALL], distinct=True, label="max-2"),
    Case("max", [SMALL, SMALL, SMALL], distinct=True, label="max-3"),
    Case("min", [SMALL, SMALL], distinct=True, label="min-2"),
    Case("min", [SMALL, SMALL, SMALL], distinct=True, label="min-3"),
    Case("step", [AWAY0]),
    Case("sign", [AWAY0]),
    Case("eq", [SMALL, SMALL], distinct=True),
    Case("xlogy", [AWAY0, [(0.05, 10.0)]]),
    # issue 11's operations (more, with hypothesis and on arrays, in test_new_ops.py)
    *[Case(name, [SMALL, SMALL], distinct=True) for name in ("lt", "le", "gt", "ge", "ne")],
    Case("where", [AWAY0, SMALL, SMALL]),
    Case("where", [[(0.0, 0.0)], SMALL, SMALL], label="where-false"),
    Case("log1p", [[(-0.95, 10.0)]]),
    Case("expm1", [[(-20.0, 20.0)]]),
    Case("log2", [[(0.01, 100.0)]]),
    Case("log10", [[(0.01, 100.0)]]),
    Case("erf", [[(-4.0, 4.0)]]),
    Case("asinh", [ANY]),
    Case("acosh", [[(1.05, 20.0)]]),
    Case("atanh", [[(-0.95, 0.95)]]),
    Case("cbrt", [AWAY0]),
    Case("atan2", [AWAY0, AWAY0]),
    Case("hypot", [AWAY0, AWAY0]),
    Case("logaddexp", [[(-30.0, 30.0)], [(-30.0, 30.0)]]),
    Case("sign", [AWAY0]),
    Case("floor", [[(0.1, 0.4), (1.1, 1.4), (-2.4, -2.1)]]),
    Case("ceil", [[(0.1, 0.4), (1.1, 1.4), (-2.4, -2.1)]]),
    Case("round", [[(0.1, 0.4), (0.6, 0.9), (-1.4, -1.1)]]),
    Case("clip", [SMALL, [(-4.0, -1.0)], [(1.0, 4.0)]], distinct=True),
    Case("leaky_relu", [AWAY0, [(0.01, 0.5)]]),
    Case("elu", [AWAY0, [(0.1, 2.0)]]),
    Case("gelu", [[(-6.0, 6.0)]]),
]


def _draw(rng: random.Random, domain) -> float:
    if domain == "negint":
        return _negint_pow_exponent(rng)
    total = sum(b - a for a, b in domain)
    u = rng.uniform(0.0, total)
    for a, b in domain:
        if u <= b - a:
            return a + u
        u -= b - a
    return domain[-1][1]


def points(case: Case, n: int = N_POINTS) -> list[list[float]]:
    rng = random.Random(f"gradcli-{case.label}")  # str seeds are deterministic
    out = []
    while len(out) < n:
        xs = [_draw(rng, d) for d in case.domains]
        if case.distinct and any(abs(a - b) < 0.1 for i, a in enumerate(xs) for b in xs[i + 1:]):
            continue
        out.append(xs)
    return out


def forward(name: str, xs: list[float]) -> float:
    return getattr(SCALAR, name)(*xs)


def row_partials(name: str, xs: list[float], wrt=None) -> list:
    """The row's partials evaluated on floats, as the engine does (None where not asked)."""
    op = OPS[name]
    out = forward(name, xs)
    if op.variadic:
        return [float(p) for p in op.partials(SCALAR, list(xs), out)]
    wrt = range(len(xs)) if wrt is None else wrt
    return [
        None if k not in wrt else (p if isinstance(p, float) else float(p(SCALAR, *xs, out)))
        for k, p in enumerate(op.partials)
    ]


_SYMBOLS = sp.symbols("s0 s1 s2", real=True)


def sympy_form(case: Case):
    syms = _SYMBOLS[: case.nargs]
    return syms, getattr(SYM, case.op)(*syms)


def sympy_value(expr, syms, xs) -> float:
    subs = {s: sp.Float(x, 30) for s, x in zip(syms, xs)}
    return float(expr.evalf(30, subs=subs))


def fd_partial(name: str, xs: list[float], k: int) -> tuple[float, float]:
    """Central differences with one Richardson step; returns (estimate, rounding floor)."""
    x = xs[k]
    h = 1e-3 * max(abs(x), 1e-2)

    def f(at: float) -> float:
        ys = list(xs)
        ys[k] = at
        return forward(name, ys)

    def central(step: float) -> tuple[float, float, float]:
        hi, lo = x + step, x - step
        fp, fm = f(hi), f(lo)
        return (fp - fm) / (hi - lo), max(abs(fp), abs(fm)), hi - lo

    d1, s1, _ = central(h)
    d2, s2, w2 = central(h / 2)
    floor = 10.0 * EPS * max(s1, s2) / (w2 / 2)
    return (4.0 * d2 - d1) / 3.0, floor


def close(a: float, b: float, rtol: float, atol: float = 0.0) -> bool:
    return abs(a - b) <= atol + rtol * max(abs(a), abs(b))


# ---- structure of the table ---------------------------------------------------------
def test_table_is_not_empty_and_names_match():
    assert len(OPS) >= 25
    for name, op in OPS.items():
        assert op.name == name


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_elementwise_row_shape(name):
    op = OPS[name]
    assert isinstance(op.arity, int) and op.arity != 0
    if op.variadic:
        assert op.arity == -1
        assert callable(op.partials), f"{name}: variadic partials must be one function"
    else:
        assert isinstance(op.partials, tuple), f"{name}: partials must be a tuple"
        assert len(op.partials) == op.arity
        for p in op.partials:
            # the engine tests ``p.__class__ is float`` for constants: an int 1 would be called
            assert type(p) is float or callable(p), f"{name}: partial {p!r} is neither a float nor callable"


@pytest.mark.parametrize("name", STRUCTURAL)
def test_structural_row_shape(name):
    """Tensor ops have no elementwise partials: they give VJPs, a JVP and a shape rule."""
    op = OPS[name]
    assert isinstance(op.arity, int)
    if op.arity == 0:  # eye, zeros, ones: constants with a shape, nothing to differentiate
        assert op.vjp == () and callable(op.shape)
        return
    if op.variadic:
        assert callable(op.vjp)
    else:
        assert isinstance(op.vjp, tuple) and len(op.vjp) == op.arity
        assert all(callable(v) for v in op.vjp)
    assert callable(op.jvp)
    assert callable(op.shape)


def test_constant_partials_are_floats():
    assert OPS["add"].partials == (1.0, 1.0)
    assert OPS["sub"].partials == (1.0, -1.0)
    assert OPS["neg"].partials == (-1.0,)
    for name in ("step", "sign", "eq"):
        assert all(type(p) is float and p == 0.0 for p in OPS[name].partials)


@pytest.mark.parametrize("backend", ["SCALAR", "IEEE", "SYMPY"])
def test_every_backend_implements_every_elementwise_op(backend):
    m = {"SCALAR": SCALAR, "IEEE": IEEE, "SYMPY": SYM}[backend]
    missing = [name for name in ELEMENTWISE if not callable(getattr(m, name, None))]
    assert not missing, f"{backend} lacks {missing}"


def test_array_backend_implements_every_op():
    from gradcli.backends.arrays import ARRAY

    missing = [name for name in OPS if not callable(getattr(ARRAY, name, None))]
    assert not missing, f"ARRAY lacks {missing}"


def test_functions_exclude_internal_helpers():
    for name in HELPERS:
        assert name in OPS
        assert OPS[name].user is False
        assert name not in FUNCTIONS
    for name, op in FUNCTIONS.items():
        assert OPS[op.name] is op
        assert op.user, f"{name} is callable but marked internal"
    # every user-facing, non-operator op is callable by name; operators are not
    for name, op in OPS.items():
        if op.user and op.infix is None and name != "neg":
            assert name in FUNCTIONS, name
    for name in ("add", "sub", "mul", "div", "neg"):
        assert name not in FUNCTIONS
    assert FUNCTIONS["pow"] is OPS["pow"]
    assert FUNCTIONS["max"].variadic and FUNCTIONS["min"].variadic
    assert {sym: op.name for sym, op in BINARY_OPS.items() if sym != "@"} == {
        "+": "add", "-": "sub", "*": "mul", "/": "div", "^": "pow",
        "<": "lt", "<=": "le", ">": "gt", ">=": "ge", "==": "eq", "!=": "ne",
    }


# ---- partials against SymPy and finite differences ---------------------------------
_DERIVATIVES: dict[str, tuple] = {}


def _sympy_derivatives(case: Case):
    if case.label not in _DERIVATIVES:
        syms, expr = sympy_form(case)
        _DERIVATIVES[case.label] = (syms, [sp.diff(expr, s) for s in syms])
    return _DERIVATIVES[case.label]


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_partials_match_sympy(case):
    syms, derivs = _sympy_derivatives(case)
    for xs in points(case):
        got = row_partials(case.op, xs, case.wrt)
        assert len(got) == case.nargs
        for k in case.wrt:
            exact = sympy_value(derivs[k], syms, xs)
            assert close(got[k], exact, 1e-9, 1e-300), (
                f"{case.op}{tuple(xs)}: partial {k} = {got[k]!r}, SymPy {exact!r}"
            )


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_partials_match_finite_differences(case):
    for xs in points(case):
        got = row_partials(case.op, xs, case.wrt)
        for k in case.wrt:
            estimate, floor = fd_partial(case.op, xs, k)
            assert close(got[k], estimate, 1e-6, floor + 1e-12), (
                f"{case.op}{tuple(xs)}: partial {k} = {got[k]!r}, finite differences {estimate!r}"
            )


def test_every_elementwise_op_has_a_partials_case():
    assert {c.op for c in CASES} == set(ELEMENTWISE)


# ---- forward values ---------------------------------------------------------------
@pytest.mark.parametrize("case", CASES, ids=repr)
def test_forward_matches_sympy_form(case):
    syms, expr = sympy_form(case)
    for xs in points(case):
        got = forward(case.op, xs)
        exact = sympy_value(expr, syms, xs)
        assert close(got, exact, 1e-12, 1e-300), f"{case.op}{tuple(xs)} = {got!r}, SymPy {exact!r}"


@pytest.mark.parametrize("case", CASES, ids=repr)
def test_ieee_and_array_backends_agree_with_scalar_inside_the_domain(case):
    from gradcli.backends.arrays import ARRAY

    for xs in points(case, 20):
        want = forward(case.op, xs)
        assert float(getattr(IEEE, case.op)(*xs)) == want
        assert close(float(getattr(ARRAY, case.op)(*xs)), want, 1e-13, 1e-300)


@pytest.mark.parametrize("x", [-700.0, -300.0, -100.0, -40.0, -20.0, 20.0, 40.0, 100.0, 300.0, 700.0])
def test_stable_sigmoid_softplus_at_large_magnitude(x):
    s = sp.Integer(int(x))
    sig = float((1 / (1 + sp.exp(-s))).evalf(30))
    # 1 + e^-700 needs ~320 digits before the log cancels: evaluate with plenty
    soft = float(sp.log(1 + sp.exp(s)).evalf(400))
    assert close(SCALAR.sigmoid(x), sig, 1e-12, 1e-300)
    assert close(SCALAR.softplus(x), soft, 1e-12, 1e-300)


def test_sigmoid_softplus_do_not_overflow():
    assert SCALAR.sigmoid(1000.0) == 1.0
    assert 0.0 <= SCALAR.sigmoid(-1000.0) < 1e-300
    assert SCALAR.softplus(1000.0) == 1000.0
    assert 0.0 <= SCALAR.softplus(-1000.0) < 1e-300
    assert SCALAR.sigmoid(0.0) == 0.5
    assert SCALAR.softplus(0.0) == math.log(2.0)
    # and through the engine: no MathError, finite gradients
    for src, x, value, grad in [
        ("sigmoid(x)", 1000.0, 1.0, 0.0),
        ("sigmoid(x)", -1000.0, 0.0, 0.0),
        ("softplus(x)", 1000.0, 1000.0, 1.0),
        ("softplus(x)", -1000.0, 0.0, 0.0),
    ]:
        v, g = run(src, x=x)
        assert v == pytest.approx(value, abs=1e-300)
        assert g["x"] == pytest.approx(grad, abs=1e-300)


def test_overflowing_forward_is_still_an_error():
    with pytest.raises(MathError):
        run("exp(x)", x=1000.0)


def test_helper_conventions_match_sympy_at_zero():
    """step(0) = 0 (Heaviside(0, 0)), sign(0) = 0, eq(x, x) = 1, xlogy(0, y) = 0."""
    z = sp.Integer(0)
    assert SCALAR.step(0.0) == 0.0 == float(SYM.step(z))
    assert SCALAR.sign(0.0) == 0.0 == float(SYM.sign(z))
    assert SCALAR.eq(1.5, 1.5) == 1.0 == float(SYM.eq(sp.Float(1.5), sp.Float(1.5)))
    assert SCALAR.xlogy(0.0, 0.0) == 0.0
    assert SCALAR.xlogy(0.0, 2.0) == 0.0


# ---- IEEE backend outside the domain --------------------------------------------------
def test_ieee_backend_returns_inf_nan_instead_of_raising():
    assert math.isnan(IEEE.log(-1.0))
    assert math.isnan(IEEE.sqrt(-1.0))
    assert IEEE.div(1.0, 0.0) == math.inf
    assert IEEE.div(-1.0, 0.0) == -math.inf
    assert math.isnan(IEEE.div(0.0, 0.0))
    assert IEEE.exp(1000.0) == math.inf
    assert IEEE.pow(0.0, -1.0) == math.inf
    # and its floats keep dividing by zero IEEE-style (the partial of sqrt at 0)
    assert 0.5 / IEEE.sqrt(0.0) == math.inf
    for name in ("log", "sqrt", "asin"):
        with pytest.raises(ValueError):
            getattr(SCALAR, name)(-2.0)


# ---- kink conventions, through the engine --------------------------------------------
def run(src: str, **env: float):
    g = lower(parse(src))
    tape = Tape(g)
    values = tape.forward(env)
    adjoints = tape.backward(values)
    return values[g.output], {name: adjoints[g.names[name]] for name in env}


@pytest.mark.parametrize(
    "src, env, value, grads",
    [
        ("relu(x)", {"x": 0.0}, 0.0, {"x": 0.0}),
        ("relu(x)", {"x": 2.0}, 2.0, {"x": 1.0}),
        ("relu(x)", {"x": -2.0}, 0.0, {"x": 0.0}),
        ("abs(x)", {"x": 0.0}, 0.0, {"x": 0.0}),
        ("abs(x)", {"x": -3.0}, 3.0, {"x": -1.0}),
        ("max(x, y)", {"x": 2.0, "y": 2.0}, 2.0, {"x": 0.5, "y": 0.5}),
        ("min(x, y)", {"x": 2.0, "y": 2.0}, 2.0, {"x": 0.5, "y": 0.5}),
        ("max(x, y, z)", {"x": 1.0, "y": 1.0, "z": 1.0}, 1.0, {"x": 1 / 3, "y": 1 / 3, "z": 1 / 3}),
        ("min(x, y, z)", {"x": 1.0, "y": 1.0, "z": 1.0}, 1.0, {"x": 1 / 3, "y": 1 / 3, "z": 1 / 3}),
        ("max(x, y, z)", {"x": 3.0, "y": 3.0, "z": 1.0}, 3.0, {"x": 0.5, "y": 0.5, "z": 0.0}),
        ("min(x, y, z)", {"x": 1.0, "y": 3.0, "z": 1.0}, 1.0, {"x": 0.5, "y": 0.0, "z": 0.5}),
        ("max(x, y)", {"x": 3.0, "y": 1.0}, 3.0, {"x": 1.0, "y": 0.0}),
        ("min(x, y)", {"x": 3.0, "y": 1.0}, 1.0, {"x": 0.0, "y": 1.0}),
        # the same input twice: both halves of the tie come back to it
        ("max(x, x)", {"x": 1.5}, 1.5, {"x": 1.0}),
        ("max(x, 2*y)", {"x": 2.0, "y": 1.0}, 2.0, {"x": 0.5, "y": 1.0}),
        ("min(x, y, x)", {"x": 1.0, "y": 2.0}, 1.0, {"x": 1.0, "y": 0.0}),
    ],
)
def test_kink_conventions(src, env, value, grads):
    v, g = run(src, **env)
    assert v == value
    assert g == pytest.approx(grads, rel=1e-15, abs=0.0)


def test_kink_predicates():
    assert OPS["relu"].kink(0.0) and not OPS["relu"].kink(1e-300)
    assert OPS["abs"].kink(0.0) and not OPS["abs"].kink(-1.0)
    assert OPS["max"].kink(1.0, 1.0, 0.0) and not OPS["max"].kink(1.0, 2.0, 0.0)
    assert OPS["min"].kink(0.0, 0.0, 1.0)
    assert OPS["sqrt"].kink(0.0) and not OPS["sqrt"].kink(4.0)
    assert OPS["pow"].kink(0.0, 0.5) and not OPS["pow"].kink(0.0, 2.0) and not OPS["pow"].kink(2.0, 0.5)


def test_max_min_kink_only_for_ties_at_the_extreme():
    from gradcli.run.bindings import Binding
    from gradcli.run.evaluate import evaluate

    assert not OPS["max"].kink(3.0, 1.0, 1.0)
    assert not OPS["min"].kink(1.0, 3.0, 3.0)
    env = {"x": 3.0, "y": 1.0, "z": 1.0}
    ev = evaluate("max(x, y, z)", {k: Binding(k, v, str(v), "argument") for k, v in env.items()})
    assert ev.gradient == {"x": 1.0, "y": 0.0, "z": 0.0}
    assert ev.kinks == []
    assert not any("not differentiable" in w for w in ev.warnings), ev.warnings


@pytest.mark.parametrize("src", ["max(x)", "min(x)"])
def test_max_of_one_scalar_is_itself(src):
    v, g = run(src, x=2.5)
    assert v == 2.5
    assert g == {"x": 1.0}


@pytest.mark.parametrize("a, b", [(0.5, -0.0), (-0.5, -0.0), (0.5, 0.0), (-0.5, 0.0), (0.0, -0.0), (math.nan, 0.0),
                                  (math.inf, -0.0)])
def test_ieee_division_by_a_signed_zero_is_numpys(a, b):
    """Off the domain, the IEEE backend gives what NumPy gives (the batch path's numbers): the
    sign of a zero divisor counts, and nan or 0 over 0 is nan."""
    import numpy as np

    from gradcli.backends.floats import ieee

    with np.errstate(all="ignore"):
        want = float(np.divide(a, b))
    for got in (IEEE.div(a, b), ieee(a) / b, a / ieee(b)):
        assert (math.isnan(got) and math.isnan(want)) or (got == want and math.copysign(1, got) == math.copysign(1, want))


@pytest.mark.parametrize("x, y", [(-0.0, -1.0), (0.0, -1.0), (-0.0, -2.0), (-0.0, -0.5), (0.0, -3.0), (-0.0, -3.0)])
def test_ieee_power_of_a_signed_zero_is_numpys(x, y):
    import numpy as np

    with np.errstate(all="ignore"):
        want = float(np.power(x, y))
    got = IEEE.pow(x, y)
    assert got == want and math.copysign(1, got) == math.copysign(1, want)

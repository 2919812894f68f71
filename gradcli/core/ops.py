r"""The primitives: a closed set, one rule row per operation.

A row says what an operation *is* for differentiation, independent of how numbers are
represented:

* ``partials`` -- one local derivative per argument, written against a *backend*
  namespace ``m`` (``m.cos(x)``, ``m.sigmoid(x)``).  The same row therefore gives
  float partials (`gradcli.backends.floats.SCALAR`), SymPy partials for edge labels and
  explanations (`gradcli.backends.sympy`), and NumPy partials for arrays.  Every function a
  partial uses is itself a primitive, so derivatives of derivatives stay in the set.
  ``1.0``/``-1.0`` stand for constant partials (``add``, ``sub``, ``neg``).
  Variadic ops (``max``/``min``) give one function returning all partials.
* ``kink`` -- true where the op is not differentiable (relu at 0, a tie in max):
  there gradcli follows PyTorch's convention and checks report "not differentiable
  here" instead of failing.
* ``domain`` -- the sentence shown when a forward value is undefined.

Elementwise ops (everything with ``partials``) broadcast like NumPy; their gradient
is ``partial * g`` summed back over broadcast axes.  *Structural* tensor ops
(``matmul``, ``sum``, ``softmax``, indexing, ...) have no elementwise partials;
their rows give instead

* ``rule`` -- the op's matrix rules in `gradcli.core.rules` (``W̄ += v̄ xᵀ``, ``v̇ = Ẇ x + W ẋ``):
  formulas that print themselves for the explanations and evaluate themselves;
* ``vjp`` -- per argument, ``f(m, g, xs, out, param)``: the cotangent of that
  argument given the output's cotangent ``g`` (a vector-Jacobian product);
* ``jvp`` -- ``f(m, ts, xs, out, param)``: the output's tangent given the arguments'
  tangents ``ts`` (forward mode);
* ``kernel`` -- empty when ``vjp`` and ``jvp`` evaluate the rule (`_structural` makes
  them), else what hand-tuned code replaces it and why (tests/test_rules.py compares it
  with the rule);
* ``shape`` -- ``f(shapes, param)``: the output shape, or `ValueError` with the reason.

``param`` is static data written in the program (an axis, an index).

The forward function of op ``name`` is ``backend.<name>`` in every backend;
``tests/test_ops.py`` asserts every backend implements every row.  A row may instead
carry its forward function itself, so that a backend needs no code for it (`Backend`,
`row_forward`):

* ``forward`` -- a composite definition against ``m`` (softsign:
  ``lambda m, x: x / (1.0 + m.abs(x))``), for an op made of other primitives;
* ``impl`` -- the library function of the same meaning per target: ``"math"``,
  ``"numpy"``, ``"sympy"`` (names in those modules), ``"torch"``, ``"jax"`` (dotted names
  as exported code writes them), ``"latex"`` (``\operatorname{erfc}``, ``\sigma``) and
  ``"text"`` (``σ``) for the names explanations print.  A NumPy backend without a
  ``"numpy"`` name maps the ``"math"`` function over the elements.

Facts the explanations need are in the row too: ``activation`` (a layer's nonlinearity,
whose pre-activation's adjoint the lecture calls δ = u ∘ σ'(z)), ``kink_kind`` (what
kind of point the kink is; see `KINK_KINDS`) and ``exact_digits`` (how exact results
grow).  `register` adds a row at run time: an elementwise op is one row.
"""

from __future__ import annotations

import math
from types import SimpleNamespace
from typing import Any, Callable, Mapping, Optional, Union

from .elements import permutation_axes
from . import windows
import functools

Partial = Union[float, Callable[..., object]]

#: the kinds of kink a row can have (`Op.kink_kind`), and what they mean
KINK_KINDS = {
    "": "none, or another kind: the sign of the first argument tracks the branch",
    "side": "the branch switches where the first argument crosses 0 (relu, abs, sign, step)",
    "extreme": "which argument (or element) is the largest or smallest (max, min)",
    "edge": "an edge of the domain, where the derivative is infinite or one-sided (sqrt, pow)",
    "whole": "the value jumps at whole numbers or halves (floor, ceil, round)",
}


class Op:
    """One primitive: its name, arity and derivative rules."""

    __slots__ = ("name", "arity", "partials", "kink", "domain", "infix", "user", "doc",
                 "vjp", "jvp", "shape", "convention", "side", "forward", "impl", "activation", "kink_kind",
                 "exact_digits", "_rule", "kernel")

    def __init__(
        self,
        name: str,
        arity: int,
        partials: Union[tuple[Partial, ...], Callable[..., list], None],
        *,
        kink: Optional[Callable[..., bool]] = None,
        domain: Optional[str] = None,
        infix: Optional[str] = None,
        user: bool = True,
        doc: str = "",
        vjp: Union[tuple[Callable[..., object], ...], Callable[..., list], None] = None,
        jvp: Optional[Callable[..., object]] = None,
        shape: Optional[Callable[..., tuple]] = None,
        convention: str = "",
        side: Optional[Callable[..., object]] = None,
        forward: Optional[Callable[..., object]] = None,
        impl: Optional[Mapping[str, str]] = None,
        activation: bool = False,
        kink_kind: str = "",
        exact_digits: str = "",
        rule: Optional[Callable[..., tuple]] = None,
        kernel: str = "",
    ) -> None:
        self.name = name
        #: number of arguments; -1 means one or more (max, min)
        self.arity = arity
        self.partials = partials
        self.vjp = vjp
        self.jvp = jvp
        self.shape = shape
        self.kink = kink
        self.domain = domain
        #: the operator symbol when the op is written infix (add -> "+")
        self.infix = infix
        #: callable by name from the language (internal helpers are not)
        self.user = user
        self.doc = doc
        #: what gradcli does where the op is not differentiable (its kink), in words
        self.convention = convention
        #: which piece of a piecewise op applies, elementwise, on NumPy arguments (relu: x > 0;
        #: max: the index of the largest argument): the grader tests formulas on every side
        self.side = side
        #: the forward function as a composite of other primitives, ``f(m, *xs)`` on backend `m`
        #: (for backends without a function of this name; see `row_forward`)
        self.forward = forward
        #: the library function of this meaning per target ("math", "numpy", "sympy", "torch",
        #: "jax"): backends and exported code use it where they have no own form; and the op's
        #: name in formulas ("latex": \sigma, "text": σ), by default its own name
        self.impl: dict[str, str] = dict(impl or {})
        #: a layer's nonlinearity: an affine step read by it is a pre-activation, its adjoint δ
        self.activation = activation
        if kink_kind not in KINK_KINDS:
            raise ValueError(f"{name}: kink_kind {kink_kind!r} is not one of {sorted(KINK_KINDS)}")
        #: what kind of point the kink is (a key of `KINK_KINDS`)
        self.kink_kind = kink_kind
        #: how an exact result's size in digits grows from its arguments' (for ``--exact``):
        #: "sum" (a product: their sum), "power" (the base's times the exponent), "" (one more
        #: than the largest; functions such as exp stay symbolic)
        self.exact_digits = exact_digits
        #: a structural op's matrix rules (the `rule` property), or `_IN_RULES` for the
        #: entry of `gradcli.core.rules.RULES` under this name, looked up at first use
        self._rule = rule
        #: the hand-tuned kernel that replaces the rule in ``vjp``/``jvp``, and why (a benchmark,
        #: or a convention at a kink the rule's formula does not carry); tested equal to the rule
        self.kernel = kernel

    @property
    def rule(self) -> Optional[Callable[..., tuple]]:
        """A structural op's matrix rules, ``(shapes, param) -> one Rule per argument``
        (`gradcli.core.rules`): what the explanations print and, unless a kernel is named,
        what ``vjp`` and ``jvp`` evaluate.  The rules and their formula trees are imported
        at the first use, so a plain scalar ``gradcli eval`` never loads them."""
        if self._rule is _IN_RULES:
            from .rules import RULES

            self._rule = RULES[self.name]
        return self._rule

    @property
    def variadic(self) -> bool:
        return self.arity < 0

    def partials_at(self, m: Any, xs: list, out: Any) -> list:
        """The local partials ∂out/∂x_k of an elementwise op on backend `m`, one per argument
        (a variadic row gives them all at once; a constant partial is a float)."""
        rule: Any = self.partials
        if self.variadic:
            return list(rule(m, xs, out))
        return [p if isinstance(p, float) else p(m, *xs, out) for p in rule]

    @property
    def elementwise(self) -> bool:
        return self.partials is not None

    def __repr__(self) -> str:
        return f"Op({self.name})"


def _max_partials(m, xs, out):
    """d max / d x_i: 1 for the maximum; ties share it evenly (PyTorch's max())."""
    hits = [m.eq(x, out) for x in xs]
    count = hits[0]
    for h in hits[1:]:
        count = count + h
    return [h / count for h in hits]


def _tie_at(extreme: str):
    """Kink test: more than one argument attains the max (or min), elementwise for arrays."""

    def tie(*xs):
        if all(isinstance(x, float) for x in xs):
            top = max(xs) if extreme == "max" else min(xs)
            return sum(1 for x in xs if x == top) > 1
        import numpy as np

        reduce = np.maximum.reduce if extreme == "max" else np.minimum.reduce
        top = reduce(np.broadcast_arrays(*xs))
        return sum((x == top).astype(int) for x in xs) > 1

    return tie


def _pow_kink(x, y):
    # x^0 is the constant 1: its derivatives are 0 at x = 0 too (as in PyTorch and JAX)
    if isinstance(y, float) and (y == 0 or (y.is_integer() and y >= 1)):
        return False  # x^2, x^3, x^0: no kink anywhere (the common case, decided without x)
    if isinstance(x, float) and isinstance(y, float):
        return x == 0 and y != 0 and not (y.is_integer() and y >= 1)
    import numpy as np

    return (x == 0) & (y != 0) & ~((np.mod(y, 1) == 0) & (y >= 1))


OPS: dict[str, Op] = {}


def _positive(x, *rest):
    """The side of a kink at 0 (relu, abs, leaky_relu, elu, step): x > 0."""
    import numpy as np

    return np.asarray(x) > 0


def _which(extreme: str):
    """The side of max/min of several arguments: the index of the one chosen, elementwise."""

    def side(*xs):
        import numpy as np

        stacked = np.stack(np.broadcast_arrays(*[np.asarray(x, dtype=float) for x in xs]))
        return np.argmax(stacked, axis=0) if extreme == "max" else np.argmin(stacked, axis=0)

    return side


def _index_of(extreme: str):
    """The side of amax/amin of one array: the (flat) index of the element chosen."""

    def side(x):
        import numpy as np

        return np.argmax(x) if extreme == "max" else np.argmin(x)

    return side


def _clip_side(x, lo, hi):
    import numpy as np

    x = np.asarray(x)
    return (x < lo) * 1 + (x > hi) * 2


def _compared(op):
    """The side of a comparison: its value."""

    def side(x, y):
        import numpy as np

        return op(np.asarray(x), np.asarray(y))

    return side


def _chosen(c, a, b):
    import numpy as np

    return np.asarray(c) != 0


def _row(*args, **kwargs) -> Op:
    op = Op(*args, **kwargs)
    OPS[op.name] = op
    return op


#: `Op.rule` of a structural row: its entry in `gradcli.core.rules.RULES`, looked up at first use
_IN_RULES: Any = object()


def _rule_vjp(name: str, k: int, m: Any, g, xs: list, out, param):
    """Argument `k`'s cotangent from the op's rule (the rules are imported at the first call)."""
    from .rules import adjoint

    return adjoint(name, k, m, g, xs, out, param)


def _rule_vjps(name: str, m: Any, g, xs: list, out, param) -> list:
    """Every argument's cotangent of a variadic op, from its rule."""
    from .rules import adjoint

    return [adjoint(name, k, m, g, xs, out, param) for k in range(len(xs))]


def _rule_jvp(name: str, m: Any, ts: list, xs: list, out, param):
    """The output's tangent from the op's tangent rule."""
    from .rules import tangent

    return tangent(name, m, ts, xs, out, param)


def _structural(name: str, arity: int, *, vjp=None, jvp=None, kernel: str = "", **kwargs) -> Op:
    """A structural op's row: its rule (`gradcli.core.rules`) is the source of its VJP and
    JVP.  A `vjp` or `jvp` given here is a hand-tuned kernel, which `kernel` names."""
    assert (vjp is None and jvp is None) or kernel, f"{name}: a kernel must say why it replaces the rule"
    if vjp is None:
        vjp = (functools.partial(_rule_vjps, name) if arity < 0
               else tuple(functools.partial(_rule_vjp, name, k) for k in range(arity)))
    return _row(name, arity, None, rule=_IN_RULES, kernel=kernel, vjp=vjp,
                jvp=jvp if jvp is not None else functools.partial(_rule_jvp, name), **kwargs)


# ---- arithmetic -------------------------------------------------------------------
ADD = _row("add", 2, (1.0, 1.0), infix="+", doc="x + y")
SUB = _row("sub", 2, (1.0, -1.0), infix="-", doc="x - y")
MUL = _row("mul", 2, (lambda m, x, y, o: y, lambda m, x, y, o: x), infix="*", doc="x * y", exact_digits="sum")
DIV = _row(
    "div", 2,
    (lambda m, x, y, o: 1.0 / y, lambda m, x, y, o: -o / y),
    infix="/", domain="division by zero", doc="x / y", exact_digits="sum",
)
POW = _row(
    "pow", 2,
    # y*x^(y-1) and x^y*log(x), exact where they meet 0*inf: `times` makes 0*x^-1 = 0 at
    # y = 0, and xlogy is 0 at x = 0, so 0^0 has both partials 0 (PyTorch, JAX, autograd)
    (lambda m, x, y, o: m.times(y, m.pow(x, y - 1.0)), lambda m, x, y, o: m.xlogy(o, x)),
    infix="^", kink=_pow_kink, kink_kind="edge",
    domain="a negative base needs an integer exponent, and 0 has no negative powers",
    doc="x ^ y (also x ** y and pow(x, y))", exact_digits="power",
    convention="0^y is one-sided in x for y not an integer (its derivative is infinite for 0 < y < 1)",
)
NEG = _row("neg", 1, (-1.0,), doc="minus x")

# ---- elementary functions ---------------------------------------------------------
EXP = _row("exp", 1, (lambda m, x, o: o,), doc="e^x",
           impl={"math": "exp", "numpy": "exp", "sympy": "exp", "torch": "torch.exp", "jax": "jnp.exp",
                 "latex": r"\exp"})
LOG = _row("log", 1, (lambda m, x, o: 1.0 / x,), domain="log needs a positive input", doc="natural logarithm",
           impl={"math": "log", "numpy": "log", "sympy": "log", "torch": "torch.log", "jax": "jnp.log",
                 "latex": r"\log"})
SQRT = _row(
    "sqrt", 1, (lambda m, x, o: 0.5 / o,),
    kink=lambda x: x == 0, kink_kind="edge", domain="sqrt needs a non-negative input", doc="square root",
    convention="the derivative of sqrt at 0 is infinite",
    impl={"math": "sqrt", "numpy": "sqrt", "sympy": "sqrt", "torch": "torch.sqrt", "jax": "jnp.sqrt"},
)
SIN = _row("sin", 1, (lambda m, x, o: m.cos(x),), doc="sine",
           impl={"math": "sin", "numpy": "sin", "sympy": "sin", "torch": "torch.sin", "jax": "jnp.sin",
                 "latex": r"\sin"})
COS = _row("cos", 1, (lambda m, x, o: -m.sin(x),), doc="cosine",
           impl={"math": "cos", "numpy": "cos", "sympy": "cos", "torch": "torch.cos", "jax": "jnp.cos",
                 "latex": r"\cos"})
TAN = _row("tan", 1, (lambda m, x, o: 1.0 + o * o,), doc="tangent",
           impl={"math": "tan", "numpy": "tan", "sympy": "tan", "torch": "torch.tan", "jax": "jnp.tan"})
ASIN = _row(
    "asin", 1, (lambda m, x, o: 1.0 / m.sqrt(1.0 - x * x),),
    kink=lambda x: (x == 1) | (x == -1), kink_kind="edge", domain="asin needs an input in [-1, 1]",
    doc="arcsine",
    convention="the derivative of asin at ±1 is infinite",
    impl={"math": "asin", "numpy": "arcsin", "sympy": "asin", "torch": "torch.asin", "jax": "jnp.arcsin"},
)
ACOS = _row(
    "acos", 1, (lambda m, x, o: -1.0 / m.sqrt(1.0 - x * x),),
    kink=lambda x: (x == 1) | (x == -1), kink_kind="edge", domain="acos needs an input in [-1, 1]",
    doc="arccosine",
    convention="the derivative of acos at ±1 is infinite",
    impl={"math": "acos", "numpy": "arccos", "sympy": "acos", "torch": "torch.acos", "jax": "jnp.arccos"},
)
ATAN = _row("atan", 1, (lambda m, x, o: 1.0 / (1.0 + x * x),), doc="arctangent",
            impl={"math": "atan", "numpy": "arctan", "sympy": "atan", "torch": "torch.atan",
                  "jax": "jnp.arctan"})
SINH = _row("sinh", 1, (lambda m, x, o: m.cosh(x),), doc="hyperbolic sine",
            impl={"math": "sinh", "numpy": "sinh", "sympy": "sinh", "torch": "torch.sinh", "jax": "jnp.sinh"})
COSH = _row("cosh", 1, (lambda m, x, o: m.sinh(x),), doc="hyperbolic cosine",
            impl={"math": "cosh", "numpy": "cosh", "sympy": "cosh", "torch": "torch.cosh", "jax": "jnp.cosh"})
TANH = _row("tanh", 1, (lambda m, x, o: 1.0 - o * o,), doc="hyperbolic tangent", activation=True,
            impl={"math": "tanh", "numpy": "tanh", "sympy": "tanh", "torch": "torch.tanh", "jax": "jnp.tanh",
                  "latex": r"\tanh"})
SIGMOID = _row("sigmoid", 1, (lambda m, x, o: o * (1.0 - o),), doc="1 / (1 + e^-x), overflow-free",
               activation=True,
                   impl={"torch": "torch.sigmoid", "jax": "jax.nn.sigmoid", "text": "σ", "latex": r"\sigma"})
RELU = _row("relu", 1, (lambda m, x, o: m.step(x),), kink=lambda x: x == 0, doc="max(x, 0); relu'(0) = 0",
           convention="relu'(0) = 0, as in PyTorch", side=_positive, kink_kind="side", activation=True,
           impl={"torch": "torch.relu", "jax": "jax.nn.relu"})
SOFTPLUS = _row("softplus", 1, (lambda m, x, o: m.sigmoid(x),), doc="log(1 + e^x), overflow-free",
                activation=True,
                impl={"torch": "torch.nn.functional.softplus", "jax": "jax.nn.softplus"})
ABS = _row("abs", 1, (lambda m, x, o: m.sign(x),), kink=lambda x: x == 0, doc="|x|; abs'(0) = 0",
          convention="abs'(0) = 0, as in PyTorch", side=_positive, kink_kind="side",
          impl={"math": "fabs", "numpy": "abs", "sympy": "Abs", "torch": "torch.abs", "jax": "jnp.abs"})
MAX = _row(
    "max", -1, _max_partials, kink=_tie_at("max"),
    doc="largest argument; tied arguments share the gradient evenly",
    convention="tied arguments share the gradient evenly, as in PyTorch", side=_which("max"),
    kink_kind="extreme")
MIN = _row(
    "min", -1, _max_partials, kink=_tie_at("min"),
    doc="smallest argument; tied arguments share the gradient evenly",
    convention="tied arguments share the gradient evenly, as in PyTorch", side=_which("min"),
    kink_kind="extreme")

# ---- comparisons and selection (zero gradient; a jump where the sides are equal) ------
_CMP = "zero gradient; flagged where x == y (the value jumps)"
LT = _row("lt", 2, (0.0, 0.0), infix="<", kink=lambda x, y: x == y, doc="1.0 if x < y else 0.0",
          convention=_CMP, side=_compared(lambda x, y: x < y))
LE = _row("le", 2, (0.0, 0.0), infix="<=", kink=lambda x, y: x == y, doc="1.0 if x <= y else 0.0",
          convention=_CMP, side=_compared(lambda x, y: x <= y))
GT = _row("gt", 2, (0.0, 0.0), infix=">", kink=lambda x, y: x == y, doc="1.0 if x > y else 0.0",
          convention=_CMP, side=_compared(lambda x, y: x > y))
GE = _row("ge", 2, (0.0, 0.0), infix=">=", kink=lambda x, y: x == y, doc="1.0 if x >= y else 0.0",
          convention=_CMP, side=_compared(lambda x, y: x >= y))
NE = _row("ne", 2, (0.0, 0.0), infix="!=", kink=lambda x, y: x == y, doc="1.0 if x != y else 0.0",
          convention=_CMP, side=_compared(lambda x, y: x != y))
WHERE = _row(
    "where", 3,
    (0.0, lambda m, c, a, b, o: m.ne(c, 0.0), lambda m, c, a, b, o: m.eq(c, 0.0)),
    doc="where(c, a, b): a where c is nonzero, else b",
    convention="the gradient flows to the chosen branch only (the other gets 0), as in PyTorch", side=_chosen,
    impl={"torch": "torch.where({0} != 0, {1}, {2})", "jax": "jnp.where({0} != 0, {1}, {2})"})

# ---- more elementary functions ---------------------------------------------------------
_LN2 = 0.6931471805599453
_LN10 = 2.302585092994046
_TWO_OVER_SQRT_PI = 1.1283791670955126
_INV_SQRT2 = 0.7071067811865476
_INV_SQRT_2PI = 0.3989422804014327


def _whole(x):
    """Kink test of floor/ceil: x is a whole number (the value jumps there)."""
    if isinstance(x, float):
        return x == math.floor(x)
    import numpy as np

    return np.floor(x) == x


def _half_way(x):
    """Kink test of round: x is halfway between two whole numbers."""
    if isinstance(x, float):
        return x - math.floor(x) == 0.5
    import numpy as np

    return x - np.floor(x) == 0.5


_JUMP = "zero gradient, as in PyTorch; flagged at the jumps"
LOG1P = _row("log1p", 1, (lambda m, x, o: 1.0 / (1.0 + x),),
             domain="log1p needs an input greater than -1", doc="log(1 + x), accurate near 0",
             impl={"math": "log1p", "numpy": "log1p", "torch": "torch.log1p", "jax": "jnp.log1p"})
EXPM1 = _row("expm1", 1, (lambda m, x, o: m.exp(x),), doc="e^x - 1, accurate near 0",
             impl={"math": "expm1", "numpy": "expm1", "torch": "torch.expm1", "jax": "jnp.expm1"})
LOG2 = _row("log2", 1, (lambda m, x, o: 1.0 / (x * _LN2),),
            domain="log2 needs a positive input", doc="base-2 logarithm",
            impl={"math": "log2", "numpy": "log2", "torch": "torch.log2", "jax": "jnp.log2"})
LOG10 = _row("log10", 1, (lambda m, x, o: 1.0 / (x * _LN10),),
             domain="log10 needs a positive input", doc="base-10 logarithm",
             impl={"math": "log10", "numpy": "log10", "torch": "torch.log10", "jax": "jnp.log10"})
ERF = _row("erf", 1, (lambda m, x, o: _TWO_OVER_SQRT_PI * m.exp(-(x * x)),), doc="error function",
           impl={"math": "erf", "sympy": "erf", "torch": "torch.erf", "jax": "jax.scipy.special.erf",
                 "latex": r"\operatorname{erf}"})
ASINH = _row("asinh", 1, (lambda m, x, o: 1.0 / m.sqrt(x * x + 1.0),), doc="inverse hyperbolic sine",
             impl={"math": "asinh", "numpy": "arcsinh", "sympy": "asinh", "torch": "torch.asinh",
                   "jax": "jnp.arcsinh"})
ACOSH = _row(
    "acosh", 1, (lambda m, x, o: 1.0 / m.sqrt(x * x - 1.0),),
    kink=lambda x: x == 1, domain="acosh needs an input >= 1", doc="inverse hyperbolic cosine",
    convention="the derivative of acosh at 1 is infinite",
    impl={"math": "acosh", "numpy": "arccosh", "sympy": "acosh", "torch": "torch.acosh",
          "jax": "jnp.arccosh"},
)
ATANH = _row("atanh", 1, (lambda m, x, o: 1.0 / (1.0 - x * x),),
             domain="atanh needs an input in (-1, 1)", doc="inverse hyperbolic tangent",
             impl={"math": "atanh", "numpy": "arctanh", "sympy": "atanh", "torch": "torch.atanh",
                   "jax": "jnp.arctanh"})
CBRT = _row(
    "cbrt", 1, (lambda m, x, o: 1.0 / (3.0 * o * o),), kink=lambda x: x == 0,
    doc="real cube root (negative for negative x)", convention="the derivative of cbrt at 0 is infinite",
    impl={"numpy": "cbrt", "torch": "(torch.sign({0}) * torch.abs({0}) ** (1.0 / 3.0))", "jax": "jnp.cbrt"},
)
ATAN2 = _row(
    "atan2", 2,
    (lambda m, y, x, o: x / (x * x + y * y), lambda m, y, x, o: -y / (x * x + y * y)),
    kink=lambda y, x: (y == 0) & (x == 0), doc="atan2(y, x): the angle of the point (x, y), in (-pi, pi]",
    convention="at (0, 0) the gradient is undefined (nan), as in PyTorch",
    impl={"math": "atan2", "numpy": "arctan2", "sympy": "atan2", "torch": "torch.atan2",
          "jax": "jnp.arctan2"},
)
HYPOT = _row(
    "hypot", 2, (lambda m, x, y, o: x / o, lambda m, x, y, o: y / o),
    kink=lambda x, y: (x == 0) & (y == 0), doc="hypot(x, y): sqrt(x^2 + y^2) without overflow",
    convention="at (0, 0) the gradient is undefined (nan), as in PyTorch",
    impl={"math": "hypot", "numpy": "hypot", "torch": "torch.hypot", "jax": "jnp.hypot"},
)
LOGADDEXP = _row(
    "logaddexp", 2, (lambda m, a, b, o: m.sigmoid(a - b), lambda m, a, b, o: m.sigmoid(b - a)),
    doc="logaddexp(a, b): log(e^a + e^b), stable",
    impl={"numpy": "logaddexp", "torch": "torch.logaddexp", "jax": "jnp.logaddexp"},
)
SIGN = _row("sign", 1, (0.0,), kink=lambda x: x == 0, doc="-1, 0 or 1", convention=_JUMP, side=_positive,
            kink_kind="side",
            impl={"numpy": "sign", "sympy": "sign", "torch": "torch.sign", "jax": "jnp.sign"})
FLOOR = _row("floor", 1, (0.0,), kink=_whole, doc="largest whole number <= x", convention=_JUMP,
             kink_kind="whole",
             impl={"numpy": "floor", "torch": "torch.floor", "jax": "jnp.floor"})
CEIL = _row("ceil", 1, (0.0,), kink=_whole, doc="smallest whole number >= x", convention=_JUMP,
            kink_kind="whole",
            impl={"numpy": "ceil", "torch": "torch.ceil", "jax": "jnp.ceil"})
ROUND = _row("round", 1, (0.0,), kink=_half_way, doc="nearest whole number, halves to even (NumPy)",
             convention=_JUMP, kink_kind="whole",
             impl={"numpy": "round", "torch": "torch.round", "jax": "jnp.round"})
CLIP = _row(
    "clip", 3,
    (lambda m, x, lo, hi, o: 1.0 - m.step(lo - x) - m.step(x - hi),
     lambda m, x, lo, hi, o: m.step(lo - x),
     lambda m, x, lo, hi, o: m.step(x - hi)),
    kink=lambda x, lo, hi: (x == lo) | (x == hi), doc="clip(x, lo, hi): min(max(x, lo), hi)",
    convention="gradient 1 to x when lo <= x <= hi (ends included), as PyTorch's clamp", side=_clip_side,
    impl={"torch": "torch.minimum(torch.maximum({0}, {1}), {2})",
          "jax": 'jnp.minimum(jnp.maximum({0}, {1}), {2})'})
LEAKY_RELU = _row(
    "leaky_relu", 2,
    (lambda m, x, s, o: m.step(x) + s * (1.0 - m.step(x)), lambda m, x, s, o: x - m.relu(x)),
    kink=lambda x, s: x == 0, doc="leaky_relu(x[, slope=0.01]): x if x > 0 else slope*x",
    convention="the derivative at 0 is the slope, as in PyTorch", side=_positive, kink_kind="side",
    activation=True,
    impl={"torch": "torch.where({0} > 0, {0}, {1} * {0})", "jax": "jnp.where({0} > 0, {0}, {1} * {0})"})
ELU = _row(
    "elu", 2,
    (lambda m, x, a, o: m.step(x) + (1.0 - m.step(x)) * (o + a),
     lambda m, x, a, o: m.expm1(-m.relu(-x))),
    kink=lambda x, a: x == 0, doc="elu(x[, alpha=1]): x if x > 0 else alpha*(e^x - 1)",
    convention="the derivative at 0 is alpha, as in PyTorch", side=_positive, kink_kind="side",
    activation=True,
    impl={"torch": "torch.where({0} > 0, {0}, {1} * torch.expm1(torch.clamp({0}, max=0.0)))",
          "jax": 'jnp.where({0} > 0, {0}, {1} * jnp.expm1(jnp.minimum({0}, 0.0)))'},
)
GELU = _row(
    "gelu", 1,
    (lambda m, x, o: 0.5 * (1.0 + m.erf(x * _INV_SQRT2)) + x * m.exp(-0.5 * (x * x)) * _INV_SQRT_2PI,),
    doc="x * Phi(x), the exact erf form: x/2 * (1 + erf(x/sqrt(2)))", activation=True,
    impl={"torch": "torch.nn.functional.gelu({0})", "jax": "jax.nn.gelu({0}, approximate=False)"},
)
#: a missing trailing argument takes this default (its source text)
DEFAULT_ARGS = {"leaky_relu": "0.01", "elu": "1"}

# ---- shape rules of tensor ops ------------------------------------------------------
def broadcast_shapes(shapes, param=None) -> tuple:
    """NumPy broadcasting of several shapes, or ValueError."""
    ndim = max((len(s) for s in shapes), default=0)
    out = []
    for k in range(ndim):
        size = 1
        for s in shapes:
            d = s[k - ndim + len(s)] if k - ndim + len(s) >= 0 else 1
            if d != 1:
                if size not in (1, d):
                    raise ValueError("shapes " + " and ".join(map(str, shapes)) + " do not broadcast")
                size = d
        out.append(size)
    return tuple(out)


def _matmul_shape(shapes, param=None) -> tuple:
    a, b = shapes
    if a == () or b == ():  # a scalar operand scales, as np.dot allows
        return a or b
    if len(a) > 2 or len(b) > 2:
        raise ValueError(f"{a} @ {b}: @ takes vectors and matrices, at most 2 dimensions")
    inner_b = b[0] if len(b) == 1 else b[-2]
    if a[-1] != inner_b:
        raise ValueError(f"{a} @ {b}: inner dimensions {a[-1]} and {inner_b} differ")
    return a[:-1] + (b[-1:] if len(b) == 2 else ())


def _outer_shape(shapes, param=None) -> tuple:
    a, b = shapes
    if len(a) != 1 or len(b) != 1:
        raise ValueError(f"outer takes two vectors, got shapes {a} and {b}")
    return (a[0], b[0])


def _axis(shape: tuple, axis) -> int:
    if axis is None:
        raise ValueError("no axis")
    if not -len(shape) <= axis < len(shape):
        raise ValueError(f"axis {axis} is out of range for shape {shape}")
    return axis % len(shape)


def _reduce_shape(shapes, axis) -> tuple:
    (s,) = shapes
    if axis is None:
        return ()
    k = _axis(s, axis)
    return s[:k] + s[k + 1:]


def _same_shape(shapes, axis=None) -> tuple:
    (s,) = shapes
    if axis is not None and s:
        _axis(s, axis)
    return s


def _index_shape(shapes, index) -> tuple:
    (s,) = shapes
    if len(index) > len(s):
        raise ValueError(f"{len(index)} indices for shape {s}")
    out = []
    for dim, item in zip(s, index):
        if isinstance(item, tuple):  # ("slice", start, stop, step)
            if item[3] == 0:
                raise ValueError("slice step cannot be 0")
            out.append(len(range(*slice(*item[1:]).indices(dim))))
        elif not -dim <= item < dim:
            raise ValueError(f"index {item} is out of range for a dimension of size {dim} (shape {s})")
    return tuple(out) + s[len(index):]


#: the most dimensions an array literal may nest (NumPy 1's limit; NumPy 2 stops at 64): deeper,
#: ``[[[…]]]`` 65 levels was NumPy's IndexError (exit 4), 10^5 levels shape tuples of 10^10 entries
MAX_DIMENSIONS = 32


def _stack_shape(shapes, param=None) -> tuple:
    first = shapes[0]
    for s in shapes[1:]:
        if s != first:
            raise ValueError("[...] needs elements of one shape, got " + ", ".join(map(str, shapes)))
    if len(first) >= MAX_DIMENSIONS:
        raise ValueError(f"[...] nested more than {MAX_DIMENSIONS} deep: an array has at most "
                         f"{MAX_DIMENSIONS} dimensions")
    return (len(shapes),) + first


def _transpose_shape(shapes, axes=None) -> tuple:
    (s,) = shapes
    return tuple(s[a] for a in permutation_axes(s, axes))


def _count(shape: tuple, axis) -> int:
    n = 1
    for d in shape if axis is None else (shape[axis],):
        n *= d
    return n


def _extreme_kink(extreme: str):
    """Kink test of amax/amin: the extreme is tied, in the whole array or in a slice along `axis`."""

    def tie(x, axis=None):
        if isinstance(x, float):
            return False
        import numpy as np

        top = np.max(x, axis=axis, keepdims=True) if extreme == "max" else np.min(x, axis=axis, keepdims=True)
        return bool(np.any(np.sum(x == top, axis=axis) > 1))

    return tie


_amax_kink, _amin_kink = _extreme_kink("max"), _extreme_kink("min")


# ---- tensor ops (structural: vector-Jacobian products instead of partials) -----------
MATMUL = _structural(
    "matmul", 2, infix="@", shape=_matmul_shape,
    vjp=(lambda m, g, xs, o, p: m.matmul_grad_a(g, xs[0], xs[1]),
         lambda m, g, xs, o, p: m.matmul_grad_b(g, xs[0], xs[1])),
    jvp=lambda m, ts, xs, o, p: m.matmul0(ts[0], xs[1]) + m.matmul0(xs[0], ts[1]),
    kernel="matmul_grad_a/b and matmul0: one BLAS product per argument, no transposed copies "
           "(benchmarks/mlp.py); 0 * inf = 0 in the products",
    doc="matrix product A @ B (matrix·vector, vector·matrix, matrix·matrix, vector·vector; "
        "a scalar operand scales, as np.dot)",
    exact_digits="sum",
)
DOT = _structural(
    "dot", 2, shape=_matmul_shape, vjp=MATMUL.vjp, jvp=MATMUL.jvp, kernel=MATMUL.kernel,
    doc="dot(u, v): inner product (same as u @ v; a scalar operand scales, as np.dot)",
    exact_digits="sum",
)
OUTER = _structural(
    "outer", 2, shape=_outer_shape,
    jvp=lambda m, ts, xs, o, p: m.outer0(ts[0], xs[1]) + m.outer0(xs[0], ts[1]),
    kernel="jvp: outer0, 0 * inf = 0 in the products (a zero tangent against an infinite value)",
    doc="outer(u, v): the matrix u vᵀ",
    exact_digits="sum",
)
TRANSPOSE = _structural(
    "transpose", 1, shape=_transpose_shape,
    doc="transpose(x[, a0, a1, ...]): x.T (the axes reversed), or the axes in the order a0, a1, ... "
        "(numpy.transpose)",
)
SUM = _structural(
    "sum", 1, shape=_reduce_shape,
    doc="sum(x) of all elements, sum(x, axis) along an axis",
)
MEAN = _structural(
    "mean", 1, shape=_reduce_shape,
    doc="mean(x) of all elements, mean(x, axis) along an axis",
)
NORM = _structural(
    "norm", 1, shape=lambda shapes, p=None: (),
    vjp=(lambda m, g, xs, o, p: m.times(g, m.safe_div(xs[0], o)),),
    jvp=lambda m, ts, xs, o, p: m.sum(m.times(m.safe_div(xs[0], o), ts[0]), None),
    kernel="safe_div: norm'(0) = 0 (the rule's x / ‖x‖ is undefined there)",
    kink=lambda x: not bool((x != 0).any()) if not isinstance(x, float) else x == 0,
    doc="Euclidean (L2, Frobenius) norm; norm'(0) = 0",
    convention="norm'(0) = 0, as in PyTorch",
)
SOFTMAX = _structural(
    "softmax", 1, shape=_same_shape,
    doc="softmax(z), softmax(z, axis): exp(z - max z) / sum, over the last axis by default",
)
LOG_SOFTMAX = _structural(
    "log_softmax", 1, shape=_same_shape,
    doc="log_softmax(z), log_softmax(z, axis): z - logsumexp(z), stable",
)
LOGSUMEXP = _structural(
    "logsumexp", 1, shape=_reduce_shape,
    doc="logsumexp(z), logsumexp(z, axis): log(sum(exp(z))), stable",
)
AMAX = _structural(
    "amax", 1, shape=_reduce_shape, kink=_amax_kink,
    doc="amax(x[, axis]): the largest element, or the largest along an axis (also max(x) of one array); "
        "ties share the gradient",
    side=_index_of("max"), kink_kind="extreme", convention="tied maxima share the gradient evenly, as torch.amax")
AMIN = _structural(
    "amin", 1, shape=_reduce_shape, kink=_amin_kink,
    doc="amin(x[, axis]): the smallest element, or the smallest along an axis (also min(x) of one array); "
        "ties share the gradient",
    side=_index_of("min"), kink_kind="extreme", convention="tied minima share the gradient evenly, as torch.amin")
INDEX = _structural(
    "index", 1, shape=_index_shape, user=False,
    doc="x[i], W[i, j], x[1:3], x[-1]",
)
STACK = _structural(
    "stack", -1, shape=_stack_shape, user=False,
    doc="[a, b, c]: a vector of scalars (or a matrix of vectors)",
)


# ---- integer indices: gathers, picks, one-hot (issue 23) --------------------------------------
# Their integer argument (idx, labels y) is data: it gets no gradient (its VJP is 0, and
# `INTEGER_ARGS` tells the bindings, tables and checks which inputs are such data).

def _gather_shape(shapes, param=None) -> tuple:
    x, idx = shapes
    if not x:
        raise ValueError("x[idx] needs an array x with rows, got a scalar")
    return (*idx, *x[1:])


def _pick_shape(shapes, param=None) -> tuple:
    s, y = shapes
    if len(s) != 2 or len(y) != 1 or y[0] != s[0]:
        raise ValueError(f"pick(S, y) takes S of shape (N, C) and labels y of shape (N,), got S {s} and y {y}")
    return (s[0],)


def _onehot_shape(shapes, classes) -> tuple:
    (y,) = shapes
    if len(y) != 1:
        raise ValueError(f"onehot(y, C) takes labels y of shape (N,), got {y}")
    if classes is None or classes < 1:
        raise ValueError(f"onehot(y, C) needs a number of classes C >= 1, got {classes}")
    return (y[0], classes)


GATHER = _structural(
    "gather", 2, shape=_gather_shape, user=False,
    doc="x[idx] with an integer array idx: the rows of x at idx (an embedding lookup); "
        "a repeated index's gradients add",
)
PICK = _structural(
    "pick", 2, shape=_pick_shape,
    doc="pick(S, y): the vector of S[i, y[i]] for S (N, C) and integer labels y (N,)",
)
ONEHOT = _structural(
    "onehot", 1, shape=_onehot_shape,
    doc="onehot(y, C): the (N, C) matrix with a 1 in column y[i] of row i (y integer labels; no gradient)",
)
#: op -> the positions of its integer arguments: data (indices, labels), never differentiated
INTEGER_ARGS = {"gather": (1,), "pick": (1,), "onehot": (0,)}


def integer_inputs(graph: Any) -> list[int]:
    """The ids of the input nodes `graph` reads as integers (an index or labels): data, which
    gets no gradient and is never perturbed (finite differences, the grader's points)."""
    found: list[int] = []
    nodes = graph.nodes
    for node in nodes:
        for k in INTEGER_ARGS.get(node.op, ()):
            a = node.args[k]
            if nodes[a].op == "input" and a not in found:
                found.append(a)
    return found


def _cumsum_shape(shapes, axis) -> tuple:
    (s,) = shapes
    if axis is None:
        return (_count(s, None),)
    _axis(s, axis)
    return s


def _reshape_shape(shapes, target) -> tuple:
    (s,) = shapes
    size = _count(s, None)
    if sum(1 for d in target if d == -1) > 1 or any(d < -1 for d in target):
        raise ValueError(f"reshape to {target}: at most one size may be -1 and none other negative")
    known = 1
    for d in target:
        known *= d if d != -1 else 1
    if -1 in target:
        if known == 0 or size % known:
            raise ValueError(f"cannot reshape {size} elements into {target}")
        return tuple(size // known if d == -1 else d for d in target)
    if known != size:
        raise ValueError(f"cannot reshape {size} elements into {target}")
    return tuple(target)


def _hstack_shape(shapes, param=None) -> tuple:
    """NumPy's hstack: 1-D pieces (scalars count as 1-D) join end to end, else along columns."""
    shapes = [s or (1,) for s in shapes]
    if all(len(s) == 1 for s in shapes):
        return (sum(s[0] for s in shapes),)
    if any(len(s) != 2 for s in shapes) or len({s[0] for s in shapes}) > 1:
        raise ValueError("hstack needs all vectors, or matrices with the same number of rows, got "
                         + ", ".join(map(str, shapes)))
    return (shapes[0][0], sum(s[1] for s in shapes))


def _as_row(s: tuple) -> tuple:
    return (1, 1) if s == () else ((1,) + s if len(s) == 1 else s)


def _vstack_shape(shapes, param=None) -> tuple:
    """NumPy's vstack: a vector (n,) is the row (1, n); pieces join along rows."""
    rows = [_as_row(s) for s in shapes]
    if any(len(s) != 2 for s in rows) or len({s[1] for s in rows}) > 1:
        raise ValueError("vstack needs pieces with the same number of columns, got "
                         + ", ".join(map(str, shapes)))
    return (sum(s[0] for s in rows), rows[0][1])


def _square(shapes, param=None) -> tuple:
    s = shapes[0]
    if len(s) != 2 or s[0] != s[1]:
        raise ValueError(f"needs a square matrix, got shape {s}")
    return s


def _square_to_scalar(shapes, param=None) -> tuple:
    _square(shapes)
    return ()


def _diag_shape(shapes, param=None) -> tuple:
    (s,) = shapes
    if len(s) == 1:
        return (s[0], s[0])
    if len(s) == 2 and s[0] == s[1]:
        return (s[0],)
    raise ValueError(f"diag takes a vector or a square matrix, got shape {s}")


def _solve_shape(shapes, param=None) -> tuple:
    a, b = shapes
    _square([a])
    if len(b) not in (1, 2) or b[0] != a[0]:
        raise ValueError(f"solve(A, b) needs b of shape ({a[0]},) or ({a[0]}, k) for A of shape {a}, got {b}")
    return b


def _solve_grad_a(m, g, xs, out, param):
    gb = m.solve(m.transpose(xs[0]), g)
    return -(m.outer(gb, out) if len(m.shape(out)) == 1 else m.matmul(gb, m.transpose(out)))


def _std_zero(x, axis=None) -> bool:
    if isinstance(x, float):
        return True
    import numpy as np

    return bool(np.any(np.std(x, axis=axis) == 0))


PROD = _structural(
    "prod", 1, shape=_reduce_shape,
    doc="prod(x[, axis]): product of the elements (gradient exact with zeros in x)",
)
CUMSUM = _structural(
    "cumsum", 1, shape=_cumsum_shape,
    doc="cumsum(x[, axis]): running sums (of the flattened x when no axis)",
)


def _centred(m, x, p):
    return x - m.expand_to(m.mean(x, p), m.shape(x), p)


VAR = _structural(
    "var", 1, shape=_reduce_shape,
    vjp=(lambda m, g, xs, o, p: m.expand_to(g, m.shape(xs[0]), p) * _centred(m, xs[0], p)
         * (2.0 / _count(m.shape(xs[0]), p)),),
    jvp=lambda m, ts, xs, o, p: m.mean(_centred(m, xs[0], p) * ts[0], p) * 2.0,
    kernel="the products in the order the released versions rounded them (the rule divides by n last)",
    doc="var(x[, axis]): population variance (ddof 0)",
)
STD = _structural(
    "std", 1, shape=_reduce_shape, kink=_std_zero,
    vjp=(lambda m, g, xs, o, p: m.expand_to(m.safe_div(g, o), m.shape(xs[0]), p) * _centred(m, xs[0], p)
         / _count(m.shape(xs[0]), p),),
    jvp=lambda m, ts, xs, o, p: m.safe_div(m.mean(_centred(m, xs[0], p) * ts[0], p), o),
    kernel="safe_div: 0 where the std is 0 (the rule's division by it is undefined there)",
    doc="std(x[, axis]): population standard deviation (ddof 0)",
    convention="gradient 0 where all elements are equal (PyTorch gives nan there)",
)
RESHAPE = _structural(
    "reshape", 1, shape=_reshape_shape,
    doc="reshape(x, d0[, d1, d2, d3]): the same elements in row-major order, any rank up to 4; one size may be -1",
)
FLATTEN = _structural(
    "flatten", 1, shape=lambda shapes, p=None: (_count(shapes[0], None),),
    doc="flatten(x): the elements as a vector, row by row",
)
HSTACK = _structural(
    "hstack", -1, shape=_hstack_shape,
    doc="hstack(a, b, ...): join vectors end to end, matrices side by side (NumPy's rules)",
)
VSTACK = _structural(
    "vstack", -1, shape=_vstack_shape,
    doc="vstack(a, b, ...): stack rows; a vector is one row (NumPy's rules)",
)
TRACE = _structural(
    "trace", 1, shape=_square_to_scalar,
    doc="trace(X): sum of the diagonal of a square matrix",
)
DET = _structural(
    "det", 1, shape=_square_to_scalar,
    vjp=(lambda m, g, xs, o, p: g * m.cofactor(xs[0]),),
    jvp=lambda m, ts, xs, o, p: m.sum(m.cofactor(xs[0]) * ts[0], None),
    kernel="cofactor: exact at a singular X too (the rule's det(X) X⁻ᵀ needs the inverse)",
    doc="det(X): determinant of a square matrix",
    convention="exact at singular X too (the gradient is the cofactor matrix)",
)
LOGDET = _structural(
    "logdet", 1, shape=_square_to_scalar,
    domain="logdet needs a matrix with a positive determinant",
    doc="logdet(X): log det X, for det X > 0",
)
INV = _structural(
    "inv", 1, shape=_square,
    domain="inv needs a non-singular matrix", doc="inv(X): inverse of a square matrix",
)
SOLVE = _structural(
    "solve", 2, shape=_solve_shape,
    vjp=(_solve_grad_a, lambda m, g, xs, o, p: m.solve(m.transpose(xs[0]), g)),
    jvp=lambda m, ts, xs, o, p: m.solve(xs[0], ts[1] - m.matmul(ts[0], o)),
    kernel="solve: one LU solve with Aᵀ (the rule writes A⁻ᵀ ḡ, which would form the inverse)",
    domain="solve needs a non-singular matrix A", doc="solve(A, b): x with A x = b (b a vector or a matrix)",
)
DIAG = _structural(
    "diag", 1, shape=_diag_shape,
    doc="diag(v): the diagonal matrix of a vector; diag(X): the diagonal of a square matrix",
)
# ---- convolution and pooling (issue 23): the tensor kernels of gradcli.backends.tensor_kernels ----
# ``param`` is (stride, pad) for a convolution and (k, stride) for pooling, the integer
# literals written in the program (`INT_ARG_OPS`); the shape rules are `gradcli.core.windows`.
# The VJPs and JVPs call the backend's kernels (im2col, offset loops: ``m.conv2d_grad_x``);
# tests/test_conv.py compares them with the printed rules.
def _conv_shape(rank: int):
    def shape(shapes, p) -> tuple:
        f = windows.conv2d_shape if rank == 2 else windows.conv1d_shape
        return f(tuple(shapes[0]), tuple(shapes[1]), *p)

    return shape


def _pool_shape(shapes, p) -> tuple:
    return windows.pool2d_shape(tuple(shapes[0]), *p)


def _maxpool_ties(x, p) -> bool:
    """Does any window have its maximum more than once (the kink of maxpool2d)?"""
    if isinstance(x, float):
        return False
    import numpy as np

    from .rules import _windows_of

    x = np.asarray(x, dtype=float)
    win = _windows_of(x if x.ndim == 4 else x[None], *p)
    return bool(((win == win.max(axis=-1, keepdims=True)).sum(axis=-1) > 1).any())


_CONV_KERNEL = "im2col: one matrix product with the windows' column matrix (the rule's correlations loop)"
CONV2D = _structural(
    "conv2d", 2, shape=_conv_shape(2),
    vjp=(lambda m, g, xs, o, p: m.conv2d_grad_x(g, xs[0], xs[1], p),
         lambda m, g, xs, o, p: m.conv2d_grad_w(g, xs[0], xs[1], p)),
    jvp=lambda m, ts, xs, o, p: m.conv2d(ts[0], xs[1], p) + m.conv2d(xs[0], ts[1], p),
    kernel=_CONV_KERNEL,
    doc="conv2d(x, w[, stride[, pad]]): cross-correlation of x (N, C, H, W) or (C, H, W) with kernels "
        "w (F, C, KH, KW), zero padding pad; stride 1, pad 0 by default",
)
CONV1D = _structural(
    "conv1d", 2, shape=_conv_shape(1),
    vjp=(lambda m, g, xs, o, p: m.conv1d_grad_x(g, xs[0], xs[1], p),
         lambda m, g, xs, o, p: m.conv1d_grad_w(g, xs[0], xs[1], p)),
    jvp=lambda m, ts, xs, o, p: m.conv1d(ts[0], xs[1], p) + m.conv1d(xs[0], ts[1], p),
    kernel=_CONV_KERNEL,
    doc="conv1d(x, w[, stride[, pad]]): cross-correlation of x (N, C, L) or (C, L) with kernels "
        "w (F, C, K), zero padding pad; stride 1, pad 0 by default",
)
MAXPOOL2D = _structural(
    "maxpool2d", 1, shape=_pool_shape,
    vjp=(lambda m, g, xs, o, p: m.maxpool2d_grad(g, xs[0], p),),
    jvp=lambda m, ts, xs, o, p: m.maxpool2d_tangent(ts[0], xs[0], p),
    kernel="offset loops over the k·k window positions (the rule's one-hot routing builds every window)",
    kink=_maxpool_ties, kink_kind="extreme",
    doc="maxpool2d(x, k[, stride]): the largest element of each k×k window of x (N, C, H, W) or "
        "(C, H, W); stride k by default",
    convention="a tie inside a window: the window's gradient goes to its first maximum (row-major), "
               "as PyTorch's max_pool2d",
)
AVGPOOL2D = _structural(
    "avgpool2d", 1, shape=_pool_shape,
    vjp=(lambda m, g, xs, o, p: m.avgpool2d_grad(g, xs[0], p),),
    jvp=lambda m, ts, xs, o, p: m.avgpool2d(ts[0], p),
    kernel="offset loops over the k·k window positions (the rule spreads each window separately)",
    doc="avgpool2d(x, k[, stride]): the mean of each k×k window of x (N, C, H, W) or (C, H, W); "
        "stride k by default",
)


def _constant_shape(shapes, p) -> tuple:
    return tuple(p)


EYE = _row("eye", 0, None, shape=lambda shapes, p: (p[0], p[0]), vjp=(), jvp=None,
           doc="eye(n): the n x n identity matrix")
ZEROS = _row("zeros", 0, None, shape=_constant_shape, vjp=(), jvp=None,
             doc="zeros(d0[, d1, d2, d3]): an array of zeros of that shape (rank 1 to 4)")
ONES = _row("ones", 0, None, shape=_constant_shape, vjp=(), jvp=None,
            doc="ones(d0[, d1, d2, d3]): an array of ones of that shape (rank 1 to 4)")

#: ops whose optional last argument is an axis (a literal integer)
AXIS_OPS = {"sum", "mean", "softmax", "log_softmax", "logsumexp", "prod", "cumsum", "var", "std", "amax", "amin"}
#: ops whose trailing arguments are integer literals making a shape: name -> number of value arguments
SHAPE_ARG_OPS = {"reshape": 1, "eye": 0, "zeros": 0, "ones": 0}
#: ops whose trailing arguments are integer literals naming axes (an order of them)
AXES_ARG_OPS = {"transpose"}
#: the most sizes zeros, ones and reshape take, and axes transpose takes (inputs bind deeper lists)
MAX_RANK = 4
#: ops that take a static parameter (the engine passes it after the arguments)
#: ops whose trailing arguments are integer literals with defaults (issue 23): name ->
#: (number of array arguments, the literals' names, how many are required); the param is the
#: full tuple, defaults filled in by `int_params`
INT_ARG_OPS = {"conv2d": (2, ("stride", "pad"), 0), "conv1d": (2, ("stride", "pad"), 0),
               "maxpool2d": (1, ("k", "stride"), 1), "avgpool2d": (1, ("k", "stride"), 1)}
PARAM_OPS = AXIS_OPS | set(SHAPE_ARG_OPS) | AXES_ARG_OPS | set(INT_ARG_OPS) | {"index", "onehot"}


def int_params(name: str, given: tuple) -> tuple:
    """The param of an `INT_ARG_OPS` call from the literals written: conv (stride, pad) with
    defaults 1 and 0; pooling (k, stride) with the stride defaulting to k."""
    if name in ("conv2d", "conv1d"):
        return (given + (1, 0)[len(given):])[:2]
    return (given[0], given[1] if len(given) > 1 else given[0])
#: default axis when none is written
DEFAULT_AXIS = {"softmax": -1, "log_softmax": -1}

# ---- helpers that derivatives are made of (not callable from programs) ---------------
STEP = _row("step", 1, (0.0,), kink=lambda x: x == 0, user=False, doc="1 if x > 0 else 0", side=_positive,
            kink_kind="side")
EQ = _row("eq", 2, (0.0, 0.0), infix="==", kink=lambda x, y: x == y, user=False, doc="1.0 if x == y else 0.0",
          convention=_CMP, side=_compared(lambda x, y: x == y))
XLOGY = _row(
    "xlogy", 2,
    (lambda m, x, y, o: m.log(y), lambda m, x, y, o: x / y),
    kink=lambda x, y: x == 0, domain="log needs a positive input", user=False,
    doc="x * log(y), and 0 where x == 0 or y == 0 (pow's ∂y at 0^0)",
)

#: functions a program may call, with how many arguments (-1: one or more)
FUNCTIONS: dict[str, Op] = {
    name: op for name, op in OPS.items() if op.user and op.infix is None and name != "neg"
}
FUNCTIONS["pow"] = POW
FUNCTIONS["matmul"] = MATMUL

#: named constants of the language (there is no ``e``: it is a variable in the lectures)
CONSTANTS = {"pi": 3.141592653589793}

#: binary operator text -> op
BINARY_OPS = {"+": ADD, "-": SUB, "*": MUL, "/": DIV, "^": POW, "@": MATMUL,
              "<": LT, "<=": LE, ">": GT, ">=": GE, "==": EQ, "!=": NE}


# ---- the catalogue: what `gradcli functions` and the README list ----------------------
_ARG_NAMES = {0: "", 1: "x", 2: "x, y", 3: "x, y, z", -1: "a, b, ..."}


def _entry(name: str, op: Op, usage: str = "") -> dict[str, object]:
    meaning = op.doc
    head, sep, rest = op.doc.partition(": ")
    if not usage and sep and head.startswith(name + "("):
        usage, meaning = head, rest
    if not usage:
        usage = f"{name}({_ARG_NAMES[op.arity]}{'[, axis]' if name in AXIS_OPS else ''})"
    return {"name": name, "usage": usage, "arity": op.arity, "meaning": meaning, "kink": op.convention}


def catalogue() -> list[dict[str, object]]:
    """Every operation a program can write, straight from the rule rows: operators
    first, then functions in alphabetical order.  Keys: name, usage, arity
    (-1: one or more), meaning, kink (PyTorch's convention where the op is not
    differentiable, or where gradcli departs from it)."""
    rows = [_entry(op.infix, op, "A @ B" if op.infix == "@" else f"x {op.infix} y")
            for op in OPS.values() if op.infix]
    rows.insert(0, _entry("-", OPS["neg"], "-x"))
    rows += [_entry(name, FUNCTIONS[name]) for name in sorted(FUNCTIONS)]
    return rows


# ---- adding a row at run time, and the backends' fallback to the rows ---------------------
def register(op: Op) -> Op:
    """Add the operation `op` (a new name) to the table, callable from programs by its name
    and listed by `catalogue` when it is a user op.  An elementwise op is one row: its
    ``partials``, and its forward function as a composite ``forward`` or as ``impl`` names
    (at least ``"math"``, or ``"numpy"`` and ``"sympy"``), since the backends fall back to
    those (`row_forward`).  Returns `op`; `unregister` takes it out again::

        register(Op("softsign", 1, (lambda m, x, o: 1.0 / ((1.0 + m.abs(x)) * (1.0 + m.abs(x))),),
                    forward=lambda m, x: x / (1.0 + m.abs(x)), doc="x / (1 + |x|)"))
    """
    if op.name in OPS or op.name in CONSTANTS or not op.name.isidentifier():
        raise ValueError(f"cannot register {op.name!r}: the name is taken or not a name")
    if not op.elementwise:
        raise ValueError(f"cannot register {op.name!r}: only elementwise rows (with partials) are registered; "
                         "a structural op needs its rule in gradcli.core.rules as well")
    if op.forward is None and not op.impl:
        raise ValueError(f"cannot register {op.name!r}: the row needs a composite `forward` or `impl` names")
    OPS[op.name] = op
    if op.user and op.infix is None:
        FUNCTIONS[op.name] = op
    _CHANGES[0] += 1
    return op


def unregister(name: str) -> Op:
    """Take a `register`ed operation out of the table again (tests clean up with it)."""
    op = OPS.pop(name)
    FUNCTIONS.pop(name, None)
    _CHANGES[0] += 1
    return op


#: how many times `register` and `unregister` changed the table (`table_changes`)
_CHANGES = [0]


def table_changes() -> int:
    """A count that changes whenever `register` or `unregister` changes the op table: what a
    cache of facts read from it (the fast lane's) compares to know it is still true."""
    return _CHANGES[0]


def library_functions(target: str, module: Any) -> dict[str, Any]:
    """{op name: its function in `module`} for every row naming one for `target` in ``impl``
    ("math" with the math module, "numpy" with NumPy...): a backend's table of library
    functions, read from the rows when the backend is built."""
    return {name: getattr(module, op.impl[target]) for name, op in OPS.items()
            if target in op.impl and hasattr(module, op.impl[target])}


def row_forward(m: Any, name: str, library: Optional[Callable[[Op], Optional[Callable[..., Any]]]] = None) -> Any:
    """The forward function of op `name` on backend `m` when `m` has no function of that name:
    ``library(op)`` (the backend's form of the library function the row names in ``impl``)
    if it gives one, else the row's composite ``forward`` evaluated on `m` itself.
    AttributeError when `name` is no op or the row has neither."""
    op = OPS.get(name)
    if op is None or name.startswith("_"):
        raise AttributeError(name)
    f = library(op) if library is not None else None
    if f is not None:
        return f
    forward = op.forward
    if forward is None:
        raise AttributeError(f"{name}: this backend has no form of it, and its row no composite `forward`")
    return lambda *xs: forward(m, *xs)


class Backend(SimpleNamespace):
    """A backend namespace: one forward function per primitive name.  A name it does not
    define (a row added by `register`) comes from the row (`row_forward`): the function
    `library` makes of the row's ``impl`` names, else the row's composite ``forward``."""

    def library(self, op: Op) -> Optional[Callable[..., Any]]:
        """This backend's function for the library name the row gives in ``impl`` (None: none)."""
        return None

    def __getattr__(self, name: str) -> Any:
        return row_forward(self, name, self.library)

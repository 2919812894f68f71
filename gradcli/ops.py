"""The primitives: a closed set, one rule row per operation.

A row says what an operation *is* for differentiation, independent of how numbers are
represented:

* ``partials`` -- one local derivative per argument, written against a *backend*
  namespace ``m`` (``m.cos(x)``, ``m.sigmoid(x)``).  The same row therefore gives
  float partials (`gradcli.backends.SCALAR`), SymPy partials for edge labels and
  explanations (`gradcli.symbolic`), and NumPy partials for arrays.  Every function a
  partial uses is itself a primitive, so derivatives of derivatives stay in the set.
  ``1.0``/``-1.0`` stand for constant partials (``add``, ``sub``, ``neg``).
  Variadic ops (``max``/``min``) give one function returning all partials.
* ``kink`` -- true where the op is not differentiable (relu at 0, a tie in max):
  there gradcli follows PyTorch's convention and checks report "not differentiable
  here" instead of failing.
* ``domain`` -- the sentence shown when a forward value is undefined.

The forward function of op ``name`` is ``backend.<name>`` in every backend;
``tests/test_ops.py`` asserts every backend implements every row.
"""

from __future__ import annotations

from typing import Callable, Optional, Union

Partial = Union[float, Callable[..., object]]


class Op:
    """One primitive: its name, arity and derivative rules."""

    __slots__ = ("name", "arity", "partials", "kink", "domain", "infix", "user", "doc")

    def __init__(
        self,
        name: str,
        arity: int,
        partials: Union[tuple[Partial, ...], Callable[..., list]],
        *,
        kink: Optional[Callable[..., bool]] = None,
        domain: Optional[str] = None,
        infix: Optional[str] = None,
        user: bool = True,
        doc: str = "",
    ) -> None:
        self.name = name
        #: number of arguments; -1 means one or more (max, min)
        self.arity = arity
        self.partials = partials
        self.kink = kink
        self.domain = domain
        #: the operator symbol when the op is written infix (add -> "+")
        self.infix = infix
        #: callable by name from the language (internal helpers are not)
        self.user = user
        self.doc = doc

    @property
    def variadic(self) -> bool:
        return self.arity < 0

    def __repr__(self) -> str:
        return f"Op({self.name})"


def _max_partials(m, xs, out):
    """d max / d x_i: 1 for the maximum; ties share it evenly (PyTorch's max())."""
    hits = [m.eq(x, out) for x in xs]
    count = hits[0]
    for h in hits[1:]:
        count = count + h
    return [h / count for h in hits]


def _tie(*xs) -> bool:
    return len(set(xs)) < len(xs)


def _pow_kink(x, y) -> bool:
    return x == 0 and not (float(y).is_integer() and y >= 1)


OPS: dict[str, Op] = {}


def _row(*args, **kwargs) -> Op:
    op = Op(*args, **kwargs)
    OPS[op.name] = op
    return op


# ---- arithmetic -------------------------------------------------------------------
ADD = _row("add", 2, (1.0, 1.0), infix="+", doc="x + y")
SUB = _row("sub", 2, (1.0, -1.0), infix="-", doc="x - y")
MUL = _row("mul", 2, (lambda m, x, y, o: y, lambda m, x, y, o: x), infix="*", doc="x * y")
DIV = _row(
    "div", 2,
    (lambda m, x, y, o: 1.0 / y, lambda m, x, y, o: -o / y),
    infix="/", domain="division by zero", doc="x / y",
)
POW = _row(
    "pow", 2,
    (lambda m, x, y, o: y * m.pow(x, y - 1.0), lambda m, x, y, o: m.xlogy(o, x)),
    infix="^", kink=_pow_kink,
    domain="a negative base needs an integer exponent, and 0 has no negative powers",
    doc="x ^ y (also x ** y and pow(x, y))",
)
NEG = _row("neg", 1, (-1.0,), doc="-x")

# ---- elementary functions ---------------------------------------------------------
EXP = _row("exp", 1, (lambda m, x, o: o,), doc="e^x")
LOG = _row("log", 1, (lambda m, x, o: 1.0 / x,), domain="log needs a positive input", doc="natural logarithm")
SQRT = _row(
    "sqrt", 1, (lambda m, x, o: 0.5 / o,),
    kink=lambda x: x == 0, domain="sqrt needs a non-negative input", doc="square root",
)
SIN = _row("sin", 1, (lambda m, x, o: m.cos(x),), doc="sine")
COS = _row("cos", 1, (lambda m, x, o: -m.sin(x),), doc="cosine")
TAN = _row("tan", 1, (lambda m, x, o: 1.0 + o * o,), doc="tangent")
ASIN = _row(
    "asin", 1, (lambda m, x, o: 1.0 / m.sqrt(1.0 - x * x),),
    kink=lambda x: abs(x) == 1, domain="asin needs an input in [-1, 1]", doc="arcsine",
)
ACOS = _row(
    "acos", 1, (lambda m, x, o: -1.0 / m.sqrt(1.0 - x * x),),
    kink=lambda x: abs(x) == 1, domain="acos needs an input in [-1, 1]", doc="arccosine",
)
ATAN = _row("atan", 1, (lambda m, x, o: 1.0 / (1.0 + x * x),), doc="arctangent")
SINH = _row("sinh", 1, (lambda m, x, o: m.cosh(x),), doc="hyperbolic sine")
COSH = _row("cosh", 1, (lambda m, x, o: m.sinh(x),), doc="hyperbolic cosine")
TANH = _row("tanh", 1, (lambda m, x, o: 1.0 - o * o,), doc="hyperbolic tangent")
SIGMOID = _row("sigmoid", 1, (lambda m, x, o: o * (1.0 - o),), doc="1 / (1 + e^-x), overflow-free")
RELU = _row("relu", 1, (lambda m, x, o: m.step(x),), kink=lambda x: x == 0, doc="max(x, 0); relu'(0) = 0")
SOFTPLUS = _row("softplus", 1, (lambda m, x, o: m.sigmoid(x),), doc="log(1 + e^x), overflow-free")
ABS = _row("abs", 1, (lambda m, x, o: m.sign(x),), kink=lambda x: x == 0, doc="|x|; abs'(0) = 0")
MAX = _row(
    "max", -1, _max_partials, kink=_tie,
    doc="largest argument; tied arguments share the gradient evenly",
)
MIN = _row(
    "min", -1, _max_partials, kink=_tie,
    doc="smallest argument; tied arguments share the gradient evenly",
)

# ---- helpers that derivatives are made of (not callable from programs) ---------------
STEP = _row("step", 1, (0.0,), kink=lambda x: x == 0, user=False, doc="1 if x > 0 else 0")
SIGN = _row("sign", 1, (0.0,), kink=lambda x: x == 0, user=False, doc="-1, 0 or 1")
EQ = _row("eq", 2, (0.0, 0.0), kink=lambda x, y: x == y, user=False, doc="1 if x == y else 0")
XLOGY = _row(
    "xlogy", 2,
    (lambda m, x, y, o: m.log(y), lambda m, x, y, o: x / y),
    kink=lambda x, y: x == 0, domain="log needs a positive input", user=False,
    doc="x * log(y), and 0 where x == 0",
)

#: functions a program may call, with how many arguments (-1: one or more)
FUNCTIONS: dict[str, Op] = {
    name: op for name, op in OPS.items() if op.user and op.infix is None and name != "neg"
}
FUNCTIONS["pow"] = POW

#: named constants of the language (there is no ``e``: it is a variable in the lectures)
CONSTANTS = {"pi": 3.141592653589793}

#: binary operator text -> op
BINARY_OPS = {"+": ADD, "-": SUB, "*": MUL, "/": DIV, "^": POW}

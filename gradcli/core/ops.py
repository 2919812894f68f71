"""The primitives: a closed set, one rule row per operation.

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

* ``vjp`` -- per argument, ``f(m, g, xs, out, param)``: the cotangent of that
  argument given the output's cotangent ``g`` (a vector-Jacobian product);
* ``jvp`` -- ``f(m, ts, xs, out, param)``: the output's tangent given the arguments'
  tangents ``ts`` (forward mode);
* ``shape`` -- ``f(shapes, param)``: the output shape, or `ValueError` with the reason.

``param`` is static data written in the program (an axis, an index).

The forward function of op ``name`` is ``backend.<name>`` in every backend;
``tests/test_ops.py`` asserts every backend implements every row.
"""

from __future__ import annotations

from typing import Callable, Optional, Union

Partial = Union[float, Callable[..., object]]


class Op:
    """One primitive: its name, arity and derivative rules."""

    __slots__ = ("name", "arity", "partials", "kink", "domain", "infix", "user", "doc",
                 "vjp", "jvp", "shape")

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

    @property
    def variadic(self) -> bool:
        return self.arity < 0

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
    if isinstance(x, float) and isinstance(y, float):
        return x == 0 and y != 0 and not (y.is_integer() and y >= 1)
    import numpy as np

    return (x == 0) & (y != 0) & ~((np.mod(y, 1) == 0) & (y >= 1))


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
    # y*x^(y-1) and x^y*log(x), exact where they meet 0*inf: `times` makes 0*x^-1 = 0 at
    # y = 0, and xlogy is 0 at x = 0, so 0^0 has both partials 0 (PyTorch, JAX, autograd)
    (lambda m, x, y, o: m.times(y, m.pow(x, y - 1.0)), lambda m, x, y, o: m.xlogy(o, x)),
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
    kink=lambda x: (x == 1) | (x == -1), domain="asin needs an input in [-1, 1]", doc="arcsine",
)
ACOS = _row(
    "acos", 1, (lambda m, x, o: -1.0 / m.sqrt(1.0 - x * x),),
    kink=lambda x: (x == 1) | (x == -1), domain="acos needs an input in [-1, 1]", doc="arccosine",
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
    "max", -1, _max_partials, kink=_tie_at("max"),
    doc="largest argument; tied arguments share the gradient evenly",
)
MIN = _row(
    "min", -1, _max_partials, kink=_tie_at("min"),
    doc="smallest argument; tied arguments share the gradient evenly",
)

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
    if a == () or b == ():
        raise ValueError(f"{a} @ {b}: @ needs vectors or matrices (use * with a scalar)")
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


def _stack_shape(shapes, param=None) -> tuple:
    first = shapes[0]
    for s in shapes[1:]:
        if s != first:
            raise ValueError("[...] needs elements of one shape, got " + ", ".join(map(str, shapes)))
    return (len(shapes),) + first


def _count(shape: tuple, axis) -> int:
    n = 1
    for d in shape if axis is None else (shape[axis],):
        n *= d
    return n


def _stack_vjp(m, g, xs, out, param) -> list:
    return [m.index(g, (k,)) for k in range(len(xs))]


def _amax_kink(x):
    if isinstance(x, float):
        return False
    import numpy as np

    return int(np.sum(x == np.max(x))) > 1


def _amin_kink(x):
    if isinstance(x, float):
        return False
    import numpy as np

    return int(np.sum(x == np.min(x))) > 1


# ---- tensor ops (structural: vector-Jacobian products instead of partials) -----------
MATMUL = _row(
    "matmul", 2, None, infix="@", shape=_matmul_shape,
    vjp=(lambda m, g, xs, o, p: m.matmul_grad_a(g, xs[0], xs[1]),
         lambda m, g, xs, o, p: m.matmul_grad_b(g, xs[0], xs[1])),
    jvp=lambda m, ts, xs, o, p: m.matmul0(ts[0], xs[1]) + m.matmul0(xs[0], ts[1]),
    doc="matrix product A @ B (matrix·vector, vector·matrix, matrix·matrix, vector·vector)",
)
DOT = _row(
    "dot", 2, None, shape=_matmul_shape, vjp=MATMUL.vjp,
    jvp=lambda m, ts, xs, o, p: m.matmul0(ts[0], xs[1]) + m.matmul0(xs[0], ts[1]),
    doc="dot(u, v): inner product (same as u @ v)",
)
OUTER = _row(
    "outer", 2, None, shape=_outer_shape,
    vjp=(lambda m, g, xs, o, p: m.matmul(g, xs[1]),
         lambda m, g, xs, o, p: m.matmul(m.transpose(g), xs[0])),
    jvp=lambda m, ts, xs, o, p: m.outer0(ts[0], xs[1]) + m.outer0(xs[0], ts[1]),
    doc="outer(u, v): the matrix u vᵀ",
)
TRANSPOSE = _row(
    "transpose", 1, None, shape=lambda shapes, p=None: tuple(reversed(shapes[0])),
    vjp=(lambda m, g, xs, o, p: m.transpose(g),),
    jvp=lambda m, ts, xs, o, p: m.transpose(ts[0]),
    doc="transpose(x), also x.T",
)
SUM = _row(
    "sum", 1, None, shape=_reduce_shape,
    vjp=(lambda m, g, xs, o, p: m.expand_to(g, m.shape(xs[0]), p),),
    jvp=lambda m, ts, xs, o, p: m.sum(ts[0], p),
    doc="sum(x) of all elements, sum(x, axis) along an axis",
)
MEAN = _row(
    "mean", 1, None, shape=_reduce_shape,
    vjp=(lambda m, g, xs, o, p: m.expand_to(g, m.shape(xs[0]), p) / _count(m.shape(xs[0]), p),),
    jvp=lambda m, ts, xs, o, p: m.mean(ts[0], p),
    doc="mean(x) of all elements, mean(x, axis) along an axis",
)
NORM = _row(
    "norm", 1, None, shape=lambda shapes, p=None: (),
    vjp=(lambda m, g, xs, o, p: m.times(g, m.safe_div(xs[0], o)),),
    jvp=lambda m, ts, xs, o, p: m.sum(m.times(m.safe_div(xs[0], o), ts[0]), None),
    kink=lambda x: not bool((x != 0).any()) if not isinstance(x, float) else x == 0,
    doc="Euclidean (L2, Frobenius) norm; norm'(0) = 0",
)
SOFTMAX = _row(
    "softmax", 1, None, shape=_same_shape,
    vjp=(lambda m, g, xs, o, p: o * (g - m.sum_keep(g * o, p)),),
    jvp=lambda m, ts, xs, o, p: o * (ts[0] - m.sum_keep(o * ts[0], p)),
    doc="softmax(z), softmax(z, axis): exp(z - max z) / sum, over the last axis by default",
)
LOG_SOFTMAX = _row(
    "log_softmax", 1, None, shape=_same_shape,
    vjp=(lambda m, g, xs, o, p: g - m.exp(o) * m.sum_keep(g, p),),
    jvp=lambda m, ts, xs, o, p: ts[0] - m.sum_keep(m.exp(o) * ts[0], p),
    doc="log_softmax(z), log_softmax(z, axis): z - logsumexp(z), stable",
)
LOGSUMEXP = _row(
    "logsumexp", 1, None, shape=_reduce_shape,
    vjp=(lambda m, g, xs, o, p: m.times(m.expand_to(g, m.shape(xs[0]), p),
                                         m.exp(xs[0] - m.expand_to(o, m.shape(xs[0]), p))),),
    jvp=lambda m, ts, xs, o, p: m.sum(m.times(m.exp(xs[0] - m.expand_to(o, m.shape(xs[0]), p)), ts[0]), p),
    doc="logsumexp(z), logsumexp(z, axis): log(sum(exp(z))), stable",
)
AMAX = _row(
    "amax", 1, None, shape=lambda shapes, p=None: (), user=False, kink=_amax_kink,
    vjp=(lambda m, g, xs, o, p: m.times(g, m.eq(xs[0], o)) / m.sum(m.eq(xs[0], o), None),),
    jvp=lambda m, ts, xs, o, p: m.sum(m.times(m.eq(xs[0], o), ts[0]), None) / m.sum(m.eq(xs[0], o), None),
    doc="max(x) with one array argument: the largest element; ties share the gradient",
)
AMIN = _row(
    "amin", 1, None, shape=lambda shapes, p=None: (), user=False, kink=_amin_kink,
    vjp=AMAX.vjp, jvp=AMAX.jvp,
    doc="min(x) with one array argument: the smallest element; ties share the gradient",
)
INDEX = _row(
    "index", 1, None, shape=_index_shape, user=False,
    vjp=(lambda m, g, xs, o, p: m.scatter(g, m.shape(xs[0]), p),),
    jvp=lambda m, ts, xs, o, p: m.index(ts[0], p),
    doc="x[i], W[i, j], x[1:3], x[-1]",
)
STACK = _row(
    "stack", -1, None, shape=_stack_shape, user=False, vjp=_stack_vjp,
    jvp=lambda m, ts, xs, o, p: m.stack(*ts),
    doc="[a, b, c]: a vector of scalars (or a matrix of vectors)",
)
#: ops whose optional last argument is an axis (a literal integer)
AXIS_OPS = {"sum", "mean", "softmax", "log_softmax", "logsumexp"}
#: default axis when none is written
DEFAULT_AXIS = {"softmax": -1, "log_softmax": -1}

# ---- helpers that derivatives are made of (not callable from programs) ---------------
STEP = _row("step", 1, (0.0,), kink=lambda x: x == 0, user=False, doc="1 if x > 0 else 0")
SIGN = _row("sign", 1, (0.0,), kink=lambda x: x == 0, user=False, doc="-1, 0 or 1")
EQ = _row("eq", 2, (0.0, 0.0), kink=lambda x, y: x == y, user=False, doc="1 if x == y else 0")
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
BINARY_OPS = {"+": ADD, "-": SUB, "*": MUL, "/": DIV, "^": POW, "@": MATMUL}

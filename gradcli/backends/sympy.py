"""The SymPy backend: every primitive as a SymPy expression, built from our graph.

`to_sympy` translates a graph node by node (a loop in evaluation order) with the
SymPy backend, whose entry for each primitive is that primitive's SymPy form; the
helpers here make input symbols, points and 30-digit values.  The oracle that
differentiates with SymPy is `gradcli.oracles.sympy_check`.

SymPy is imported only when a symbolic form is asked for.
"""

from __future__ import annotations

import math
import operator
from fractions import Fraction
from types import SimpleNamespace
from typing import Any

from ..core.fmt import shorten
from ..core.graph import CONST, INPUT, Graph
from ..core.ops import Backend, Op, library_functions

#: formulas longer than this are shortened in the output
FORMULA_LIMIT = 400


class _LazyNumpy:
    """NumPy, imported on first use (a scalar check never uses it)."""

    def __getattr__(self, name: str):
        import numpy

        return getattr(numpy, name)


_LAZY_NUMPY = _LazyNumpy()


def _each(f):
    def g(*xs):
        if any(hasattr(x, "shape") for x in xs):
            import numpy as np

            return np.vectorize(f, otypes=[object])(*xs)
        return f(*xs)

    return g


def _np_call(name):
    def g(*xs, **kw):
        import numpy as np

        return getattr(np, name)(*xs, **kw)

    return g


def _np_sum(x, axis=None, keepdims=False):
    import numpy as np

    return np.sum(x, axis=axis, keepdims=keepdims)


def _extreme(f, x, axis):
    """SymPy's Max or Min of all elements, or of each slice along `axis` (an object array)."""
    if axis is None:
        return f(*_ravel(x))
    import numpy as np

    moved = np.moveaxis(np.asarray(x, dtype=object), axis, -1)
    out = np.empty(moved.shape[:-1], dtype=object)
    for where in np.ndindex(out.shape):
        out[where] = f(*moved[where])
    return out


def _ravel(x):
    import numpy as np

    return np.ravel(x)


#: the most terms (output elements × window size) a convolution or pooling is written out with
WINDOW_TERMS = 20_000


def _helpers(sp: Any) -> SimpleNamespace:
    """The SymPy forms that need more than one line (softmax, solve, reductions...)."""
    np = _LAZY_NUMPY

    def exp_all(x):
        return _each(sp.exp)(x)

    def softmax(x, axis=-1):
        e = exp_all(x)
        return e / _np_sum(e, axis=axis, keepdims=True)

    def log_softmax(x, axis=-1):
        return x - _each(sp.log)(_np_sum(exp_all(x), axis=axis, keepdims=True))

    def logsumexp(x, axis=None):
        return _each(sp.log)(_np_sum(exp_all(x), axis=axis)) if axis is not None else sp.log(_np_sum(exp_all(x)))

    def index(x, idx):
        from .arrays import _np_index

        return x[_np_index(idx)]

    def indicator(test):
        return _each(lambda x, y: sp.Piecewise((1, test(x, y)), (0, True)))

    def reduce_each(f, x, axis):
        """f over each slice along `axis` (a SymPy function of a list), or over all of x."""
        if axis is None:
            return f(list(np.ravel(x)))
        moved = np.moveaxis(x, axis, -1)
        out = np.empty(moved.shape[:-1], dtype=object)
        for index in np.ndindex(*out.shape):
            out[index] = f(list(moved[index]))
        return out

    def mean_of(xs):
        return sp.Add(*xs) / len(xs)

    def var_of(xs):
        mu = mean_of(xs)
        return sp.Add(*[(v - mu) ** 2 for v in xs]) / len(xs)

    def matrix(x):
        return sp.Matrix(x.tolist())

    def array(mat, shape):
        return np.array(mat.tolist(), dtype=object).reshape(shape)

    def logdet(x):
        return sp.log(matrix(x).det())

    def solve(a, b):
        return array(matrix(a).LUsolve(sp.Matrix(np.reshape(b, (np.shape(b)[0], -1)).tolist())), np.shape(b))

    def cumsum(x, axis=None):
        flat = np.ravel(x) if axis is None else x
        return np.cumsum(flat, axis=0 if axis is None else axis).astype(object)

    def constant(value):
        return np.vectorize(sp.Integer, otypes=[object])(value.astype(int))

    def windowed(x, shape_of, kh, kw, stride, reduce):
        """reduce(window) for each kh×kw window of x (N, C, H, W) or (C, H, W): one
        expression per output element (conv2d, maxpool2d, avgpool2d on symbols)."""
        x = np.asarray(x, dtype=object)
        single = x.ndim == 3
        x4 = x[None] if single else x
        n, c, hh, ww = x4.shape
        ho, wo = (hh - kh) // stride + 1, (ww - kw) // stride + 1
        out = np.empty(shape_of(n, c, ho, wo), dtype=object)
        if out.size * c * kh * kw > WINDOW_TERMS:
            raise ValueError(f"{out.size * c * kh * kw:,} terms of windows are too many for a symbolic form "
                             f"(at most {WINDOW_TERMS:,})")
        for idx in np.ndindex(*out.shape):
            i, j = idx[2] * stride, idx[3] * stride
            out[idx] = reduce(idx, x4[idx[0], :, i:i + kh, j:j + kw])
        return out[0] if single else out

    def padded(x, pad, axes):
        x = np.asarray(x, dtype=object)
        widths = [(0, 0)] * x.ndim
        for a in axes:
            widths[a] = (pad, pad)
        return np.pad(x, widths, constant_values=sp.Integer(0)) if pad else x

    def conv2d(x, w, p):
        stride, pad = p
        w = np.asarray(w, dtype=object)
        xp = padded(x, pad, (-2, -1))
        f = w.shape[0]
        return windowed(xp, lambda n, c, ho, wo: (n, f, ho, wo), w.shape[2], w.shape[3], stride,
                        lambda idx, win: sp.Add(*np.ravel(win * w[idx[1]])))

    def conv1d(x, w, p):
        stride, pad = p
        xp = padded(x, pad, (-1,))[..., None, :]
        return conv2d(xp, np.asarray(w, dtype=object)[..., None, :], (stride, 0))[..., 0, :]

    def pool(x, p, reduce):
        k, stride = p
        return windowed(x, lambda n, c, ho, wo: (n, c, ho, wo), k, k, stride,
                        lambda idx, win: reduce(list(np.ravel(win[idx[1]]))))

    def maxpool2d(x, p):
        return pool(x, p, lambda xs: sp.Max(*xs))

    def avgpool2d(x, p):
        return pool(x, p, lambda xs: sp.Add(*xs) / len(xs))

    return SimpleNamespace(softmax=softmax, log_softmax=log_softmax, logsumexp=logsumexp, index=index,
                           indicator=indicator, reduce_each=reduce_each, var_of=var_of, matrix=matrix,
                           array=array, logdet=logdet, solve=solve, cumsum=cumsum, constant=constant,
                           conv2d=conv2d, conv1d=conv1d, maxpool2d=maxpool2d, avgpool2d=avgpool2d)


#: the backend class per symbolic library (sympy, symengine), made once
_SYMBOLIC: dict[str, type] = {}


def _symbolic(sp: Any) -> type:
    """The backend class for the library `sp`: a row's library function is
    ``sp.<impl["sympy"]>``, mapped over the elements of an array; a row's composite
    ``forward`` has its float constants made exact in SymPy (``1.0`` is 1, as
    `exact_rational` does for the partials), so ``--exact`` stays exact."""
    if sp.__name__ not in _SYMBOLIC:
        def library(self: Backend, op: Op) -> Any:
            name = op.impl.get("sympy")
            f = getattr(sp, name, None) if name else None
            if f is not None:
                return _each(f)
            if op.forward is None or sp.__name__ != "sympy":
                return None
            forward = op.forward
            return lambda *xs: _each(exact_rational)(forward(self, *xs))

        _SYMBOLIC[sp.__name__] = type("Symbolic", (Backend,), {"library": library})
    return _SYMBOLIC[sp.__name__]


def _same(op):
    return op


def _scalar_beside_array(op):
    """`op` for SymEngine, with a scalar on the left of an array made a 0-d object array
    first, so NumPy maps `op` over the elements at once: SymEngine's own operator would
    first try to convert the array, importing all of SymPy (0.2 s) to fail at it."""
    def apply(a, b):
        if getattr(b, "ndim", 0) and not hasattr(a, "shape"):
            import numpy as np

            scalar = np.empty((), dtype=object)
            scalar[()] = a
            return op(scalar, b)
        return op(a, b)

    return apply


def sympy_backend(sp: Any = None) -> SimpleNamespace:
    """The SymPy form of every primitive (same names as `gradcli.backends.floats.SCALAR`).

    Arrays are NumPy object arrays of SymPy expressions, so a matrix program becomes
    one expression per element; elementwise functions are mapped over them.  `sp` is
    the symbolic library (default SymPy); `gradcli.backends.symengine` passes SymEngine,
    whose names are the same.  NumPy is imported only when an array shows up, so a
    scalar check does not pay for it.
    """
    if sp is None:
        import sympy

        sp = sympy
    h = _helpers(sp)
    np = _LAZY_NUMPY
    arithmetic = _scalar_beside_array if getattr(sp, "__name__", "") == "symengine" else _same
    m = _symbolic(sp)(
        # exp, log, sin, ..., Abs, erf: the rows' "sympy" names, mapped over arrays
        **{name: _each(f) for name, f in library_functions("sympy", sp).items()},
        lt=h.indicator(lambda x, y: x < y),
        le=h.indicator(lambda x, y: x <= y),
        gt=h.indicator(lambda x, y: x > y),
        ge=h.indicator(lambda x, y: x >= y),
        ne=h.indicator(lambda x, y: sp.Ne(x, y)),
        where=_each(lambda c, a, b: sp.Piecewise((a, sp.Ne(c, 0)), (b, True))),
        log1p=_each(lambda x: sp.log(1 + x)),
        expm1=_each(lambda x: sp.exp(x) - 1),
        log2=_each(lambda x: sp.log(x, 2)),
        log10=_each(lambda x: sp.log(x, 10)),
        cbrt=_each(lambda x: sp.sign(x) * sp.Abs(x) ** sp.Rational(1, 3)),
        hypot=_each(lambda x, y: sp.sqrt(x * x + y * y)),
        logaddexp=_each(lambda a, b: sp.log(sp.exp(a) + sp.exp(b))),
        floor=_each(flat(sp.floor)),
        ceil=_each(flat(sp.ceiling)),
        round=_each(round_half_even),
        clip=_each(lambda x, lo, hi: sp.Min(sp.Max(x, lo), hi)),
        leaky_relu=_each(lambda x, s: sp.Piecewise((x, x > 0), (s * x, True))),
        elu=_each(lambda x, a: sp.Piecewise((x, x > 0), (a * (sp.exp(x) - 1), True))),
        gelu=_each(lambda x: x * (1 + sp.erf(x / sp.sqrt(2))) / 2),
        prod=lambda x, axis=None: h.reduce_each(lambda xs: sp.Mul(*xs), x, axis),
        cumsum=h.cumsum,
        var=lambda x, axis=None: h.reduce_each(h.var_of, x, axis),
        std=lambda x, axis=None: h.reduce_each(lambda xs: sp.sqrt(h.var_of(xs)), x, axis),
        reshape=lambda x, shape: np.reshape(x, shape),
        flatten=lambda x: np.ravel(x),
        hstack=lambda *xs: np.hstack([np.array(x, dtype=object) for x in xs]),
        vstack=lambda *xs: np.vstack([np.array(x, dtype=object) for x in xs]),
        trace=lambda x: sp.Add(*np.diagonal(x)),
        det=lambda x: h.matrix(x).det(),
        logdet=h.logdet,
        inv=lambda x: h.array(h.matrix(x).inv(), np.shape(x)),
        solve=h.solve,
        diag=lambda x: np.diag(x),
        eye=lambda shape: h.constant(np.eye(shape[0])),
        zeros=lambda shape: h.constant(np.zeros(shape)),
        ones=lambda shape: h.constant(np.ones(shape)),
        add=arithmetic(operator.add),
        sub=arithmetic(operator.sub),
        mul=arithmetic(operator.mul),
        div=arithmetic(operator.truediv),
        pow=_each(operator.pow),
        neg=operator.neg,
        sigmoid=_each(lambda x: 1 / (1 + sp.exp(-x))),
        relu=_each(lambda x: sp.Max(0, x)),
        softplus=_each(lambda x: sp.log(1 + sp.exp(x))),
        max=_each(lambda *xs: sp.Max(*xs)),
        min=_each(lambda *xs: sp.Min(*xs)),
        step=_each(lambda x: sp.Heaviside(x, 0)),
        eq=_each(lambda x, y: sp.Piecewise((1, sp.Eq(x, y)), (0, True))),
        xlogy=_each(lambda x, y: x * sp.log(y)),
        times=arithmetic(operator.mul),
        matmul=_np_call("dot"),
        dot=_np_call("dot"),
        outer=_np_call("outer"),
        transpose=_np_call("transpose"),
        sum=lambda x, axis=None: _np_sum(x, axis=axis) if axis is not None else sp.Add(*_ravel(x)),
        mean=lambda x, axis=None: (_np_sum(x, axis=axis) / x.shape[axis]) if axis is not None
        else sp.Add(*_ravel(x)) / _ravel(x).size,
        norm=lambda x: sp.sqrt(sp.Add(*[e * e for e in _ravel(x)])),
        softmax=h.softmax,
        log_softmax=h.log_softmax,
        logsumexp=h.logsumexp,
        amax=lambda x, axis=None: _extreme(sp.Max, x, axis),
        amin=lambda x, axis=None: _extreme(sp.Min, x, axis),
        index=h.index,
        stack=lambda *xs: _np_call("array")(list(xs), dtype=object),
        # integer data (`input_symbols` keeps it numeric): rows, picks and one-hot rows by value
        gather=lambda x, idx: np.asarray(x, dtype=object)[_whole(idx)],
        pick=lambda s, y: np.asarray(s, dtype=object)[np.arange(np.size(y)), _whole(y)],
        onehot=lambda y, classes: h.constant(np.eye(classes)[_whole(y)]),
        conv2d=h.conv2d,
        conv1d=h.conv1d,
        maxpool2d=h.maxpool2d,
        avgpool2d=h.avgpool2d,
    )
    return m


_FLAT: dict = {}


def flat(base):
    """`base` (SymPy's floor or ceiling) with derivative 0, so diff() evaluates."""
    if base not in _FLAT:
        _FLAT[base] = type(base.__name__, (base,), {"fdiff": lambda self, argindex=1: base(0) * 0})
    return _FLAT[base]


_ROUND = None


def round_half_even(x):
    """SymPy's form of NumPy's round (halves to even), derivative 0 (made once, lazily)."""
    global _ROUND
    if _ROUND is None:
        import sympy as sp

        class round(sp.Function):  # noqa: A001 - printed as round(x)
            @classmethod
            def eval(cls, arg):
                if arg.is_Rational:
                    down = sp.floor(arg)
                    rest = arg - down
                    if rest == sp.Rational(1, 2):
                        return down if down % 2 == 0 else down + 1
                    return down if rest < sp.Rational(1, 2) else down + 1
                if arg.is_Float:
                    return sp.Integer(float(arg).__round__())
                return None

            def fdiff(self, argindex=1):
                return sp.S.Zero

        _ROUND = round
    return _ROUND(x)


def exact_constant(text: str, sp: Any = None) -> Any:
    """A constant's source text as an exact SymPy number: "0.1" -> 1/10, "pi" -> pi."""
    if sp is None:
        import sympy

        sp = sympy

    negative = text.startswith("-")
    body = text[1:] if negative else text
    value = sp.pi if body == "pi" else sp.Rational(*_exact_fraction(body).as_integer_ratio())
    return -value if negative else value


#: literal exponents beyond this are not built exactly (Fraction("1e-999999999") would
#: build 10^999999999): the value is then the float the program computed with
MAX_EXACT_EXPONENT = 1000


def _exact_fraction(body: str) -> Fraction:
    """The decimal literal as a fraction, with absurd exponents normalised: ``0e999999999``
    is 0, and ``1e-999999999`` is the float it rounds to (0)."""
    mantissa, _, exponent = body.lower().partition("e")
    if exponent and abs(int(exponent)) > MAX_EXACT_EXPONENT:
        if not mantissa.strip("0.+-"):
            return Fraction(0)
        return Fraction(float(body))
    return Fraction(body)


def _whole(idx):
    import numpy as np

    return np.asarray(idx, dtype=float).astype(np.int64)


def input_symbols(graph: Graph, env: dict, symbol=None) -> dict[str, object]:
    """A real SymPy symbol per input, or an object array of ``W[0,1]`` symbols; an input that
    is integer data (an index, labels) stays its values, an int64 array (no symbol: data).

    `symbol(label)` makes one symbol (default: a real SymPy symbol)."""
    if symbol is None:
        import sympy as sp

        def symbol(label):
            return sp.Symbol(label, real=True)

    from ..core.elements import elements

    from ..core.ops import integer_inputs

    data = set(integer_inputs(graph))
    symbols: dict[str, object] = {}
    for i in graph.inputs:
        name = graph.nodes[i].name
        value = env[name]
        if i in data:
            symbols[name] = _whole(value)  # type: ignore[index]
            continue
        if getattr(value, "shape", ()):
            import numpy as np

            arr = np.empty(value.shape, dtype=object)
            for label, index in elements(name or "", value):
                arr[index] = symbol(label)
            symbols[name] = arr  # type: ignore[index]
        else:
            symbols[name] = symbol(name)  # type: ignore[index]
    return symbols


def to_sympy(graph: Graph, symbols: dict[str, object], sp=None) -> list:
    """SymPy expressions of every node, in evaluation order (no recursion on our side).

    With `sp` = the symengine module, SymEngine expressions of the same forms."""
    m = sympy_backend(sp)
    exprs: list = [None] * len(graph.nodes)
    for node in graph.nodes:
        if node.op == INPUT:
            exprs[node.id] = symbols[node.name]  # type: ignore[index]
        elif node.op == CONST:
            exprs[node.id] = exact_constant(node.text, sp)
        else:
            f = getattr(m, node.op)
            args = [exprs[a] for a in node.args]
            exprs[node.id] = f(*args) if node.param is None else f(*args, node.param)
    return exprs


def is_data(sym: object) -> bool:
    """An `input_symbols` entry that is integer data (its values), not symbols."""
    dtype = getattr(sym, "dtype", None)
    return dtype is not None and dtype.kind in "iu"


def point_of(symbols: dict, env: dict) -> dict:
    """{symbol: Float} for every input element, at 30 digits."""
    import sympy as sp

    point = {}
    for name, sym in symbols.items():
        if is_data(sym):
            continue
        if hasattr(sym, "shape"):
            import numpy as np

            for index in np.ndindex(*sym.shape):
                point[sym[index]] = sp.Float(float(env[name][index]), 30)
        else:
            point[sym] = sp.Float(float(env[name]), 30)
    return point


def flat_symbols(symbols: dict, names: list[str]) -> list:
    import numpy as np

    out: list = []
    for name in names:
        sym = symbols[name]
        out.extend(np.ravel(sym) if isinstance(sym, np.ndarray) else [sym])
    return out


def value_at(expr, point: dict, digits: int = 30):
    """Evaluate `expr` at `point` via CSE: linear in the number of distinct subterms."""
    return values_at([expr], point, digits)[0]


def values_at(exprs: list, point: dict, digits: int = 30) -> list:
    """Evaluate several expressions at `point`, sharing their common subexpressions."""
    import sympy as sp

    replacements, reduced = sp.cse(exprs)
    env = dict(point)
    for sym, sub in replacements:
        env[sym] = _evalf(sub.xreplace(env), digits)
    return [_evalf(r.xreplace(env), digits) for r in reduced]


def _evalf(expr, digits: int):
    """evalf, except for truth values (a comparison's condition that cse pulled out)."""
    return expr.evalf(digits) if hasattr(expr, "evalf") else expr


def to_float(value) -> float:
    """A SymPy number as a float; oo/zoo/nan/complex become inf/nan."""
    import sympy as sp

    if value is sp.zoo or value is sp.oo:
        return math.inf
    if value is sp.S.NegativeInfinity:
        return -math.inf
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def short(text: str, limit: int = FORMULA_LIMIT) -> str:
    return shorten(text, limit)


def exact_rational(expr: Any) -> Any:
    """`expr` with its floats made exact: the irrational constants the op rows write as floats
    (``1/(x*ln 10)``, ``2/√π``, ``1/√2``, ``1/√(2π)``) become ``log(10)``, ``2/sqrt(pi)``...,
    every other float its shortest fraction (``0.5`` is ``1/2``).  Without the first step
    ``log10(x)'`` would print as ``108573620475813/(250000000000000*x)``."""
    import sympy as sp

    from ..core import ops

    known = {
        ops._LN2: sp.log(2), ops._LN10: sp.log(10), ops._TWO_OVER_SQRT_PI: 2 / sp.sqrt(sp.pi),
        ops._INV_SQRT2: 1 / sp.sqrt(2), ops._INV_SQRT_2PI: 1 / sp.sqrt(2 * sp.pi), math.pi: sp.pi, math.e: sp.E,
    }
    known.update({1 / value: 1 / exact for value, exact in list(known.items())})  # 1.0/(x*ln 10) folds
    known.update({-value: -exact for value, exact in list(known.items())})
    if isinstance(expr, (int, float)):
        expr = sp.Float(expr) if isinstance(expr, float) else sp.Integer(expr)
    expr = expr.replace(lambda e: e.is_Float and float(e) in known, lambda e: known[float(e)])
    return sp.nsimplify(expr, rational=True)

"""A program as the code a student would write: NumPy with backprop written out, or
framework code (PyTorch, JAX) that lets autograd do it.

``gradcli export PROGRAM BINDINGS --to numpy`` writes a standalone script: the point,
the forward pass one line per node, then the backward pass one line per adjoint
(``dz = a - y``, ``dW = np.outer(dz, x)``, ``db = dz``), summing where a node feeds
several others, and finally the value and gradient as JSON.

The backward lines are not templates of our own: they come from the op table's rows
(`gradcli.core.ops`), the very partials and vector-Jacobian products the engine
runs, evaluated on a backend whose "numbers" are NumPy source (`NumpyCode`, building
`gradcli.core.formula.code.Code` nodes that the formula module renders).  So an
exported script and the engine can only disagree if NumPy does, and a test runs the
script of every sample against gradcli's gradient at 1e-12.
"""

from __future__ import annotations

import json
import keyword
import re
from typing import Any, Optional

from ..core.elements import permutation_axes
from ..core.errors import UsageError
from ..core.formula import ATOM, PROD, SUM
from ..core.formula.code import Code, broadcast, call, code, form, number, power, source, verbatim
from ..core.graph import CONST, INPUT, index_text
from ..core.ops import OPS
from ..run.evaluate import Evaluation

# a line's expression is a `gradcli.core.formula.code.Code` node, rendered by the formula module


def _where_text(where: Any) -> str:
    """A NumPy index as source: ``2``, ``1:3``, ``:, 0:2``."""
    def one(w: Any) -> str:
        if isinstance(w, slice):
            text = ("" if w.start is None else str(w.start)) + ":" + ("" if w.stop is None else str(w.stop))
            return text + ("" if w.step is None else f":{w.step}")
        return str(w)

    return ", ".join(one(w) for w in where) if isinstance(where, tuple) else one(where)


def _compare(x: Code, op: str, y: Code, written: str = "") -> Code:
    """A comparison as 0.0/1.0: ``1.0 * (x > y)`` (NumPy adds booleans as "or")."""
    return form("1.0 * ({0} " + op + " " + (written or "{1}") + ")", x, y, shape=broadcast(x.shape, y.shape), prec=PROD)


def _listed(name: str, xs: tuple, shape: tuple = ()) -> Code:
    """``name([x, y, ...])``."""
    places = ", ".join(f"{{{k}}}" for k in range(len(xs)))
    return form(name + "([" + places + "])", *map(code, xs), shape=shape)


class NumpyCode:
    """The backend namespace the op rows are evaluated on: every operation returns `Code`.

    `helpers` collects the helper functions the script must define.
    """

    def __init__(self) -> None:
        self.helpers: set[str] = set()

    # elementwise
    def add(self, a: Code, b: Code) -> Code:
        return a + b

    def sub(self, a: Code, b: Code) -> Code:
        return a - b

    def mul(self, a: Code, b: Code) -> Code:
        return a * b

    def div(self, a: Code, b: Code) -> Code:
        return a / b

    def pow(self, a: Code, b: Code) -> Code:
        return power(code(a), code(b))

    def neg(self, a: Code) -> Code:
        return -a

    def __getattr__(self, name: str) -> Any:
        comparisons = {"lt": "<", "le": "<=", "gt": ">", "ge": ">=", "ne": "!="}
        if name in comparisons:
            return lambda x, y: _compare(code(x), comparisons[name], code(y))
        op = OPS.get(name)
        if op is not None and ("numpy" in op.impl or "math" in op.impl):
            return self._library_call(name, op.impl)
        if op is not None and op.forward is not None:
            return lambda *xs: op.forward(self, *[code(x) for x in xs])  # type: ignore[misc]
        raise UsageError(f"gradcli export cannot write the operation {name!r} as NumPy code yet")

    def _library_call(self, name: str, impl: dict[str, str]) -> Any:
        """A row's library function: ``np.<impl["numpy"]>``, else a helper mapping the
        ``impl["math"]`` function over the elements (`_helper_text`)."""
        if "numpy" in impl:
            f = f"np.{impl['numpy']}"
        else:
            self.helpers.add(name)
            f = name
        return lambda *xs: call(f, *map(code, xs), shape=broadcast(*(code(x).shape for x in xs)))

    def sigmoid(self, x: Code) -> Code:
        self.helpers.add("sigmoid")
        return call("sigmoid", x, shape=x.shape)

    def softplus(self, x: Code) -> Code:
        return call("np.logaddexp", number(0.0), x, shape=x.shape)

    def relu(self, x: Code) -> Code:
        return call("np.maximum", x, number(0.0), shape=x.shape)

    def max(self, *xs: Code) -> Code:
        out = xs[0]
        for x in xs[1:]:
            out = call("np.maximum", out, x, shape=broadcast(out.shape, x.shape))
        return out

    def min(self, *xs: Code) -> Code:
        out = xs[0]
        for x in xs[1:]:
            out = call("np.minimum", out, x, shape=broadcast(out.shape, x.shape))
        return out

    # comparisons as 0.0/1.0 (NumPy adds booleans as "or", so never leave them bare)
    def step(self, x: Code) -> Code:
        return _compare(code(x), ">", number(0.0), "0")

    def eq(self, x: Code, y: Code) -> Code:
        return _compare(code(x), "==", code(y))

    def where(self, c: Code, a: Code, b: Code) -> Code:
        c, a, b = code(c), code(a), code(b)
        return form("np.where({0} != 0, {1}, {2})", c, a, b, shape=broadcast(c.shape, a.shape, b.shape))

    def clip(self, x: Code, lo: Code, hi: Code) -> Code:
        return call("np.clip", code(x), code(lo), code(hi), shape=broadcast(code(x).shape, code(lo).shape,
                                                                       code(hi).shape))

    def leaky_relu(self, x: Code, slope: Code) -> Code:
        x, slope = code(x), code(slope)
        return form("np.where({0} > 0, {0}, {1})", x, slope * x, shape=broadcast(x.shape, slope.shape))

    def xlogy(self, x: Code, y: Code) -> Code:
        self.helpers.add("xlogy")
        return call("xlogy", code(x), code(y), shape=broadcast(code(x).shape, code(y).shape))

    # structural
    def matmul(self, a: Code, b: Code) -> Code:
        from ..core.ops import _matmul_shape

        if a.shape == () or b.shape == ():  # a scalar operand scales, as np.dot (`@` refuses it)
            return code(a) * code(b)
        return Code("mm", a, b, shape=_matmul_shape([a.shape, b.shape]))

    def dot(self, a: Code, b: Code) -> Code:
        from ..core.ops import _matmul_shape

        if a.shape == () or b.shape == ():
            return code(a) * code(b)
        return call("np.dot", a, b, shape=_matmul_shape([a.shape, b.shape]))

    def outer(self, a: Code, b: Code) -> Code:
        return call("np.outer", a, b, shape=(a.shape[0], b.shape[0]))

    def transpose(self, x: Code, axes: Optional[tuple] = None) -> Code:
        if axes is None:
            return Code("T", x, shape=tuple(reversed(x.shape)))
        order = permutation_axes(tuple(x.shape), tuple(axes))
        return call("np.transpose", x, shape=tuple(x.shape[a] for a in order), extra=(repr(order),))

    def _reduce(self, name: str, x: Code, axis: Optional[int]) -> Code:
        if axis is None:
            return call(f"np.{name}", x, shape=())
        k = axis % len(x.shape)
        return call(f"np.{name}", x, shape=x.shape[:k] + x.shape[k + 1:], extra=(f"axis={axis}",))

    def sum(self, x: Code, axis: Optional[int] = None) -> Code:
        return self._reduce("sum", x, axis)

    def mean(self, x: Code, axis: Optional[int] = None) -> Code:
        return self._reduce("mean", x, axis)

    def norm(self, x: Code) -> Code:
        return call("np.linalg.norm", x, shape=())

    def _helper(self, name: str, x: Code, axis: Optional[int], shape: tuple) -> Code:
        self.helpers.add(name)
        return call(name, x, shape=shape, extra=(f"axis={axis}",))

    def softmax(self, x: Code, axis: int = -1) -> Code:
        return self._helper("softmax", x, axis, x.shape)

    def log_softmax(self, x: Code, axis: int = -1) -> Code:
        return self._helper("log_softmax", x, axis, x.shape)

    def logsumexp(self, x: Code, axis: Optional[int] = None) -> Code:
        shape = () if axis is None else x.shape[:axis % len(x.shape)] + x.shape[axis % len(x.shape) + 1:]
        return self._helper("logsumexp", x, axis, shape)

    def amax(self, x: Code, axis: Optional[int] = None) -> Code:
        return self._reduce("max", x, axis)

    def amin(self, x: Code, axis: Optional[int] = None) -> Code:
        return self._reduce("min", x, axis)

    def index(self, x: Code, index: tuple) -> Code:
        from ..core.ops import _index_shape

        return form("{0}[" + verbatim(index_text(index)) + "]", x, shape=tuple(_index_shape([x.shape], index)),
                    wraps=(ATOM,))

    def stack(self, *xs: Code) -> Code:
        return _listed("np.array", xs, (len(xs),) + code(xs[0]).shape)

    def gelu(self, x: Code) -> Code:
        self.helpers.add("gelu")
        return call("gelu", code(x), shape=code(x).shape)

    def elu(self, x: Code, alpha: Code) -> Code:
        x, alpha = code(x), code(alpha)
        below = call("np.expm1", call("np.minimum", x, number(0.0), shape=x.shape), shape=x.shape)
        return form("np.where({0} > 0, {0}, {1})", x, alpha * below, shape=broadcast(x.shape, alpha.shape))

    # the other array operations: NumPy's function of the same meaning, the shape from the op row
    def _row_call(self, op: str, written: Code, args: tuple, param: Any = None) -> Code:
        """`written` with the shape the op row gives."""
        rule = OPS[op].shape
        assert rule is not None, op  # every array op has a shape rule
        written.shape = tuple(rule([code(a).shape for a in args], param))
        return written

    def _axis_call(self, op: str, x: Code, axis: Optional[int]) -> Code:
        name = {"prod": "np.prod", "cumsum": "np.cumsum", "var": "np.var", "std": "np.std"}[op]
        return self._row_call(op, call(name, x, extra=(f"axis={axis}",) if axis is not None else ()), (x,), axis)

    def prod(self, x: Code, axis: Optional[int] = None) -> Code:
        return self._axis_call("prod", x, axis)

    def cumsum(self, x: Code, axis: Optional[int] = None) -> Code:
        return self._axis_call("cumsum", x, axis)

    def var(self, x: Code, axis: Optional[int] = None) -> Code:
        return self._axis_call("var", x, axis)

    def std(self, x: Code, axis: Optional[int] = None) -> Code:
        return self._axis_call("std", x, axis)

    def reshape(self, x: Code, shape: tuple) -> Code:
        shape = tuple(shape)
        return self._row_call("reshape", call("np.reshape", x, extra=(repr(shape),)), (x,), shape)

    def flatten(self, x: Code) -> Code:
        return self._row_call("flatten", call("np.ravel", x), (x,))

    def hstack(self, *xs: Code) -> Code:
        return self._row_call("hstack", _listed("np.hstack", xs), xs)

    def vstack(self, *xs: Code) -> Code:
        return self._row_call("vstack", _listed("np.vstack", xs), xs)

    def trace(self, x: Code) -> Code:
        return call("np.trace", x, shape=())

    def det(self, x: Code) -> Code:
        return call("np.linalg.det", x, shape=())

    def logdet(self, x: Code) -> Code:
        return form("np.linalg.slogdet({0})[1]", x)

    def inv(self, x: Code) -> Code:
        return call("np.linalg.inv", x, shape=x.shape)

    def solve(self, a: Code, b: Code) -> Code:
        return call("np.linalg.solve", a, b, shape=b.shape)

    def diag(self, x: Code) -> Code:
        return self._row_call("diag", call("np.diag", x), (x,))

    def eye(self, shape: tuple) -> Code:
        return call("np.eye", shape=(shape[0], shape[0]), extra=(str(shape[0]),))

    def zeros(self, shape: tuple) -> Code:
        return call("np.zeros", shape=tuple(shape), extra=(repr(tuple(shape)),))

    def ones(self, shape: tuple) -> Code:
        return call("np.ones", shape=tuple(shape), extra=(repr(tuple(shape)),))

    # convolution and pooling (issue 23): helpers written in the script (as_strided windows,
    # the CS231n names); p is (stride, pad) or (k, stride)
    def _window_op(self, name: str, op: str, args: tuple, p: tuple, shape: Optional[tuple] = None) -> Code:
        self.helpers.update(_WINDOW_HELPERS[name])
        written = call(name, *map(code, args), shape=tuple(shape or ()), extra=(str(p[0]), str(p[1])))
        return self._row_call(op, written, args, p) if shape is None else written

    def conv2d(self, x: Code, w: Code, p: tuple) -> Code:
        return self._window_op("conv2d", "conv2d", (x, w), p)

    def conv1d(self, x: Code, w: Code, p: tuple) -> Code:
        return self._window_op("conv1d", "conv1d", (x, w), p)

    def maxpool2d(self, x: Code, p: tuple) -> Code:
        return self._window_op("maxpool2d", "maxpool2d", (x,), p)

    def avgpool2d(self, x: Code, p: tuple) -> Code:
        return self._window_op("avgpool2d", "avgpool2d", (x,), p)

    def conv2d_grad_x(self, g: Code, x: Code, w: Code, p: tuple) -> Code:
        return self._window_op("conv2d_grad_x", "", (g, x, w), p, x.shape)

    def conv2d_grad_w(self, g: Code, x: Code, w: Code, p: tuple) -> Code:
        return self._window_op("conv2d_grad_w", "", (g, x, w), p, w.shape)

    def conv1d_grad_x(self, g: Code, x: Code, w: Code, p: tuple) -> Code:
        return self._window_op("conv1d_grad_x", "", (g, x, w), p, x.shape)

    def conv1d_grad_w(self, g: Code, x: Code, w: Code, p: tuple) -> Code:
        return self._window_op("conv1d_grad_w", "", (g, x, w), p, w.shape)

    def maxpool2d_grad(self, g: Code, x: Code, p: tuple) -> Code:
        return self._window_op("maxpool2d_grad", "", (g, x), p, x.shape)

    def avgpool2d_grad(self, g: Code, x: Code, p: tuple) -> Code:
        return self._window_op("avgpool2d_grad", "", (g, x), p, x.shape)

    # what the vector-Jacobian products are made of
    def prod_others(self, x: Code, axis: Optional[int]) -> Code:
        self.helpers.add("prod_others")
        return call("prod_others", x, shape=x.shape, extra=(f"axis={axis}",))

    def rcumsum(self, g: Code, shape: tuple, axis: Optional[int]) -> Code:
        self.helpers.add("rcumsum")
        return call("rcumsum", g, shape=tuple(shape), extra=(repr(tuple(shape)), f"axis={axis}"))

    def cofactor(self, x: Code) -> Code:
        self.helpers.add("cofactor")
        return call("cofactor", x, shape=x.shape)

    def matmul_grad_a(self, g: Code, a: Code, b: Code) -> Code:
        if a.shape == ():  # a scalar that scaled b
            return call("np.sum", g * b, shape=())
        if b.shape == ():
            return g * b
        if len(a.shape) == 1 and len(b.shape) == 1:
            return g * b
        if len(a.shape) == 1:
            return self.matmul(b, g)
        if len(b.shape) == 1:
            return self.outer(g, b)
        return self.matmul(g, self.transpose(b))

    def matmul_grad_b(self, g: Code, a: Code, b: Code) -> Code:
        if b.shape == ():
            return call("np.sum", g * a, shape=())
        if a.shape == ():
            return g * a
        if len(a.shape) == 1 and len(b.shape) == 1:
            return g * a
        if len(a.shape) == 1:
            return self.outer(a, g)
        return self.matmul(self.transpose(a), g)

    def shape(self, x: Code) -> tuple:
        return x.shape

    def expand_to(self, g: Code, shape: tuple, axis: Optional[int]) -> Code:
        if axis is not None:
            g = call("np.expand_dims", g, shape=g.shape, extra=(str(axis % len(shape)),))
        return call("np.broadcast_to", g, shape=tuple(shape), extra=(repr(shape),))

    def sum_keep(self, x: Code, axis: Optional[int]) -> Code:
        n = len(x.shape)
        kept = tuple(1 if axis is None or k == axis % n else d for k, d in enumerate(x.shape))
        return call("np.sum", x, shape=kept, extra=(f"axis={axis}", "keepdims=True"))

    # what a rule (`gradcli.core.formula`) is evaluated with, beyond the ops
    def asarray(self, x: object) -> Code:
        return code(x)

    def take_at(self, x: Code, where: Any) -> Code:
        """x[where] for a NumPy index (an int, a slice, or a tuple of them)."""
        if where == ():
            return x
        import numpy as np

        shape = np.empty(x.shape)[where].shape
        return form("{0}[" + verbatim(_where_text(where)) + "]", x, shape=tuple(shape), wraps=(ATOM,))

    def scatter_into(self, g: Code, shape: tuple, where: Any) -> Code:
        self.helpers.add("scatter")
        return call("scatter", g, shape=tuple(shape), extra=(repr(tuple(shape)), f"np.s_[{_where_text(where)}]"))

    def scatter(self, g: Code, shape: tuple, index: tuple) -> Code:
        self.helpers.add("scatter")
        return call("scatter", g, shape=tuple(shape), extra=(repr(shape), f"np.s_[{index_text(index)}]"))

    def unbroadcast(self, g: Code, shape: tuple) -> Code:
        if tuple(g.shape) == tuple(shape):
            return g
        if shape == ():
            return call("np.sum", g, shape=())
        self.helpers.add("unbroadcast")
        return call("unbroadcast", g, shape=tuple(shape), extra=(repr(shape),))

    # `times` (0 * inf = 0 in gradcli) is written as a plain product: the script reads
    # like the textbook; it differs from gradcli only where a zero meets an inf or nan
    def times(self, a: Code, b: Code) -> Code:
        return code(a) * code(b)

    def matmul0(self, a: Code, b: Code) -> Code:
        return self.matmul(a, b) if len(a.shape) > 1 or len(b.shape) > 1 else self.dot(a, b)

    def outer0(self, a: Code, b: Code) -> Code:
        return self.outer(a, b)

    def safe_div(self, x: Code, y: Code) -> Code:
        self.helpers.add("safe_div")
        return call("safe_div", x, y, shape=broadcast(x.shape, y.shape))

    # integer data (issue 23): indices and labels arrive as floats, read as integers
    def gather(self, x: Code, idx: Code) -> Code:
        return form("{0}[{1}.astype(int)]", x, idx, shape=(*idx.shape, *x.shape[1:]), wraps=(ATOM, ATOM))

    def pick(self, s: Code, y: Code) -> Code:
        n = s.shape[0] if s.shape else 0
        return form(f"{{0}}[np.arange({n}), {{1}}.astype(int)]", s, y, shape=(n,), wraps=(ATOM, ATOM))

    def onehot(self, y: Code, classes: int) -> Code:
        return form(f"np.eye({classes})[{{0}}.astype(int)]", y, shape=(*y.shape, classes), wraps=(ATOM,))

    def scatter_add_rows(self, g: Code, shape: tuple, idx: Code) -> Code:
        self.helpers.add("scatter_add_rows")
        return form("scatter_add_rows({0}, " + repr(tuple(shape)) + ", {1})", g, idx, shape=tuple(shape))


_HELPERS = {
    "sigmoid": '''def sigmoid(x):
    """1 / (1 + e^-x), without overflow."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))''',
    "xlogy": '''def xlogy(x, y):
    """x * log(y), and 0 where x == 0 or y == 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        zero = (x == 0) | (y == 0)
        return np.where(zero, 0.0, x * np.log(np.where(zero, 1.0, y)))''',
    "softmax": '''def softmax(z, axis=-1):
    e = np.exp(z - np.max(z, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)''',
    "log_softmax": '''def log_softmax(z, axis=-1):
    shifted = z - np.max(z, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))''',
    "logsumexp": '''def logsumexp(z, axis=None):
    top = np.max(z, axis=axis, keepdims=True)
    out = np.log(np.sum(np.exp(z - top), axis=axis, keepdims=True)) + top
    return out.reshape(()) if axis is None else np.squeeze(out, axis=axis)''',
    "scatter": '''def scatter(g, shape, index):
    """The adjoint of indexing: g put back where it came from, zeros elsewhere."""
    out = np.zeros(shape)
    out[index] += g
    return out''',
    "scatter_add_rows": '''def scatter_add_rows(g, shape, idx):
    """The adjoint of x[idx]: each row of g added into the row it came from (repeats add)."""
    out = np.zeros(shape)
    np.add.at(out, idx.astype(int).ravel(), g.reshape(idx.size, *shape[1:]))
    return out''',
    "unbroadcast": '''def unbroadcast(g, shape):
    """Sum g over the axes broadcasting added or stretched, back to shape."""
    while g.ndim > len(shape):
        g = g.sum(axis=0)
    for k, d in enumerate(shape):
        if d == 1 and g.shape[k] != 1:
            g = g.sum(axis=k, keepdims=True)
    return g''',
    "gelu": '''def gelu(x):
    """x * Phi(x) = x/2 * erfc(-x/sqrt(2))."""
    return 0.5 * x * np.vectorize(math.erfc, otypes=[float])(-x * 0.7071067811865476)''',
    "prod_others": '''def prod_others(x, axis=None):
    """Each element's product of all other elements (along axis): no division, so zeros are exact."""
    v = x.reshape(-1) if axis is None else np.moveaxis(x, axis, -1)
    ones = np.ones(v.shape[:-1] + (1,))
    left = np.cumprod(np.concatenate([ones, v[..., :-1]], axis=-1), axis=-1)
    right = np.flip(np.cumprod(np.concatenate([ones, np.flip(v, -1)[..., :-1]], axis=-1), axis=-1), -1)
    out = left * right
    return out.reshape(x.shape) if axis is None else np.moveaxis(out, -1, axis)''',
    "rcumsum": '''def rcumsum(g, shape, axis=None):
    """The adjoint of cumsum: running sums from the end."""
    if axis is None:
        return np.flip(np.cumsum(np.flip(g.reshape(-1)))).reshape(shape)
    return np.flip(np.cumsum(np.flip(g, axis), axis=axis), axis)''',
    "cofactor": '''def cofactor(x):
    """The cofactor matrix, d det(X)/dX, exact also for a singular X (through the SVD)."""
    u, s, vt = np.linalg.svd(x)
    return (np.linalg.det(u) * np.linalg.det(vt) * (vt.T * prod_others(s)) @ u.T).T''',
    "safe_div": '''def safe_div(x, y):
    """x / y, and 0 where y == 0 (the derivative of a norm at 0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(y == 0, 0.0, x / np.where(y == 0, 1.0, y))''',
}

_HELPERS.update({
    "windows": '''def windows(x, kh, kw, stride):
    """Every kh x kw window of x (N, C, H, W): an (N, C, H', W', kh, kw) view, no copy."""
    n, c, h, w = x.shape
    sn, sc, sh, sw = x.strides
    ho, wo = (h - kh) // stride + 1, (w - kw) // stride + 1
    return np.lib.stride_tricks.as_strided(x, (n, c, ho, wo, kh, kw), (sn, sc, sh * stride, sw * stride, sh, sw),
                                           writeable=False)''',
    "conv2d": '''def conv2d(x, w, stride=1, pad=0):
    """Cross-correlation of x (N, C, H, W) or (C, H, W) with w (F, C, KH, KW), as CS231n's conv_forward."""
    if x.ndim == 3:
        return conv2d(x[None], w, stride, pad)[0]
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    return np.einsum("ncijpq,fcpq->nfij", windows(xp, w.shape[2], w.shape[3], stride), w, optimize=True)''',
    "conv2d_grad_x": '''def conv2d_grad_x(g, x, w, stride=1, pad=0):
    """dx: each output's gradient times the kernel, added into the window it read (the full
    cross-correlation of g with the flipped kernel), the padding cut off."""
    if x.ndim == 3:
        return conv2d_grad_x(g[None], x[None], w, stride, pad)[0]
    n, c, h, wd = x.shape
    ho, wo = g.shape[2:]
    dxp = np.zeros((n, c, h + 2 * pad, wd + 2 * pad))
    for p in range(w.shape[2]):
        for q in range(w.shape[3]):
            rows, cols = slice(p, p + stride * (ho - 1) + 1, stride), slice(q, q + stride * (wo - 1) + 1, stride)
            dxp[:, :, rows, cols] += np.einsum("nfij,fc->ncij", g, w[:, :, p, q])
    return dxp[:, :, pad:pad + h, pad:pad + wd]''',
    "conv2d_grad_w": '''def conv2d_grad_w(g, x, w, stride=1, pad=0):
    """dw: the cross-correlation of the padded x with g, summed over the batch."""
    if x.ndim == 3:
        x, g = x[None], g[None]
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    return np.einsum("ncijpq,nfij->fcpq", windows(xp, w.shape[2], w.shape[3], stride), g, optimize=True)''',
    "conv1d": '''def conv1d(x, w, stride=1, pad=0):
    """conv2d on rows of height 1: x (N, C, L) or (C, L), w (F, C, K)."""
    xp = np.pad(x, [(0, 0)] * (x.ndim - 1) + [(pad, pad)])
    return conv2d(xp[..., None, :], w[..., None, :], stride, 0)[..., 0, :]''',
    "conv1d_grad_x": '''def conv1d_grad_x(g, x, w, stride=1, pad=0):
    """dx of conv1d: conv2d's on rows of height 1, the padding cut off."""
    xp = np.pad(x, [(0, 0)] * (x.ndim - 1) + [(pad, pad)])
    dxp = conv2d_grad_x(g[..., None, :], xp[..., None, :], w[..., None, :], stride, 0)[..., 0, :]
    return dxp[..., pad:pad + x.shape[-1]]''',
    "conv1d_grad_w": '''def conv1d_grad_w(g, x, w, stride=1, pad=0):
    """dw of conv1d: conv2d's on rows of height 1."""
    xp = np.pad(x, [(0, 0)] * (x.ndim - 1) + [(pad, pad)])
    return conv2d_grad_w(g[..., None, :], xp[..., None, :], w[..., None, :], stride, 0)[..., 0, :]''',
    "maxpool2d": '''def maxpool2d(x, k, stride):
    """The largest element of each k x k window of x (N, C, H, W) or (C, H, W)."""
    if x.ndim == 3:
        return maxpool2d(x[None], k, stride)[0]
    return windows(x, k, k, stride).max(axis=(4, 5))''',
    "maxpool2d_grad": '''def maxpool2d_grad(g, x, k, stride):
    """dx: each window's gradient goes to its maximum (the first one on a tie, as PyTorch)."""
    if x.ndim == 3:
        return maxpool2d_grad(g[None], x[None], k, stride)[0]
    n, c, ho, wo = g.shape
    first = windows(x, k, k, stride).reshape(n, c, ho, wo, k * k).argmax(axis=-1)
    dx = np.zeros(x.shape)
    for p in range(k):
        for q in range(k):
            rows, cols = slice(p, p + stride * (ho - 1) + 1, stride), slice(q, q + stride * (wo - 1) + 1, stride)
            dx[:, :, rows, cols] += g * (first == p * k + q)
    return dx''',
    "avgpool2d": '''def avgpool2d(x, k, stride):
    """The mean of each k x k window of x (N, C, H, W) or (C, H, W)."""
    if x.ndim == 3:
        return avgpool2d(x[None], k, stride)[0]
    return windows(x, k, k, stride).mean(axis=(4, 5))''',
    "avgpool2d_grad": '''def avgpool2d_grad(g, x, k, stride):
    """dx: each window's gradient spread evenly, 1/k^2 to each of its elements."""
    if x.ndim == 3:
        return avgpool2d_grad(g[None], x[None], k, stride)[0]
    ho, wo = g.shape[2:]
    dx = np.zeros(x.shape)
    for p in range(k):
        for q in range(k):
            rows, cols = slice(p, p + stride * (ho - 1) + 1, stride), slice(q, q + stride * (wo - 1) + 1, stride)
            dx[:, :, rows, cols] += g / (k * k)
    return dx''',
})

#: the helpers each convolution or pooling function of a script needs
_WINDOW_HELPERS = {
    "conv2d": {"conv2d", "windows"}, "conv2d_grad_x": {"conv2d_grad_x"}, "conv2d_grad_w": {"conv2d_grad_w", "windows"},
    "conv1d": {"conv1d", "conv2d", "windows"}, "conv1d_grad_x": {"conv1d_grad_x", "conv2d_grad_x"},
    "conv1d_grad_w": {"conv1d_grad_w", "conv2d_grad_w", "windows"},
    "maxpool2d": {"maxpool2d", "windows"}, "maxpool2d_grad": {"maxpool2d_grad", "windows"},
    "avgpool2d": {"avgpool2d", "windows"}, "avgpool2d_grad": {"avgpool2d_grad"},
}

_RESERVED = set(keyword.kwlist) | {"np", "json", "torch", "jax", "jnp", "print", "sum", "max", "min", "abs",
                                   "value", "gradient", "main"} | set(_HELPERS)


def _key(name: str) -> str:
    """What Python makes of an identifier: it reads them NFKC-normalised, so ``ｘ`` is ``x``,
    ``ª`` is ``a`` and a full-width ``ｎｐ`` would be NumPy."""
    import unicodedata

    return unicodedata.normalize("NFKC", name)


def _names(ev: Evaluation) -> tuple[dict[int, str], dict[int, str]]:
    """Python names for every non-constant node, and for its adjoint (``dW`` for ``W``); no two
    the same to Python and none a name the script itself uses."""
    graph = ev.graph
    taken: set[str] = set()
    names: dict[int, str] = {}
    for node in graph.nodes:
        if node.op == CONST and node.id != graph.output:  # a constant output still gets a name
            continue
        label = "out" if node.op == CONST else graph.label(node.id)
        name = re.sub(r"\W", "_", label) or f"t{node.id}"  # cell#2.a -> cell_2_a
        if name[0].isdigit() or not _key(name).isidentifier():
            name = "t" + name
        while _key(name) in _RESERVED or _key(name) in taken:
            name += "_"
        taken.add(_key(name))
        names[node.id] = name
    adjoints: dict[int, str] = {}
    for i, name in names.items():
        d = "d" + name
        while _key(d) in taken or _key(d) in _RESERVED:
            d = "d" + d
        taken.add(_key(d))
        adjoints[i] = d
    return names, adjoints


def _docstring(text: str) -> str:
    """`text` safe inside a triple-quoted docstring: backslashes doubled (``C:\\Users`` is no
    escape), triple quotes broken."""
    return text.replace("\\", "\\\\").replace('"""', "'''")


def _literal(x: Any) -> str:
    """An input's value as NumPy source.  A scalar is a NumPy float too: Python's own floats
    raise ZeroDivisionError at 0.0 ** -0.5 (a partial of x^0.5 or x^y at x = 0), where NumPy
    gives inf, as gradcli does."""
    if getattr(x, "shape", ()):
        return f"np.array({json.dumps(x.tolist())})"
    return f"np.float64({float(x)!r})"


def _const_code(ev: Evaluation, i: int) -> Code:
    node = ev.graph.nodes[i]
    value = ev.values[i]
    if getattr(value, "shape", ()):
        return source(_literal(value), tuple(value.shape))
    if node.text == "pi":
        return source("np.pi", (), float(value))
    return number(float(value))


def to_numpy(ev: Evaluation) -> str:
    """A standalone NumPy script: the point, the forward pass, the backward pass written out."""
    if not ev.adjoints:
        raise UsageError("gradcli export writes backprop for a scalar output (a loss)")
    graph, live = ev.graph, ev.tape.live
    m = NumpyCode()
    names, dnames = _names(ev)
    var: dict[int, Code] = {}
    lines_point, lines_forward, lines_backward = [], [], []
    for node in graph.nodes:
        i = node.id
        if node.op == CONST:
            var[i] = _const_code(ev, i)
            continue
        shape = tuple(getattr(ev.values[i], "shape", ()))
        var[i] = source(names[i], shape)
        if node.op == INPUT:
            lines_point.append(f"{names[i]} = {_literal(ev.env[node.name or ''])}")
            continue
        f = getattr(m, node.op)
        args = [var[a] for a in node.args]
        expr = f(*args) if node.param is None else f(*args, node.param)
        lines_forward.append(f"{names[i]} = {expr.text}")
    out = graph.output
    if graph.nodes[out].op == CONST:  # a constant output: no input reaches it, every derivative is 0
        lines_forward.append(f"{names[out]} = {var[out].text}")
        var[out] = source(names[out], var[out].shape)
    lines_backward.append(f"{dnames[out]} = {'1.0' if not var[out].shape else f'np.ones({var[out].shape!r})'}")
    assigned = {out}
    adjoint_names = set(dnames.values())  # a set: dnames.values() is a linear scan per node (10^5 terms: minutes)
    for node in reversed(graph.nodes):
        i = node.id
        if node.op in (INPUT, CONST) or not live[i] or i not in assigned:
            continue
        op = OPS[node.op]
        xs = [var[a] for a in node.args]
        g = source(dnames[i], var[i].shape)
        if op.partials is not None:
            partials = op.partials_at(m, xs, var[i])
            terms = [None if not live[a] else m.unbroadcast(g * code(p), var[a].shape)
                     for a, p in zip(node.args, partials)]
        else:
            terms = [None if not live[a] else rule(m, g, xs, var[i], node.param)
                     for a, rule in zip(node.args, _vjps(op, len(xs)))]
        for a, term in zip(node.args, terms):
            if term is None or graph.nodes[a].op == CONST:
                continue
            if a in assigned:
                lines_backward.append(f"{dnames[a]} = {dnames[a]} + {term.wrap(SUM + 1)}")
            else:
                text = term.text
                if term.prec == ATOM and term.text in adjoint_names:  # a bare adjoint: copy, no alias
                    text = f"np.copy({term.text})" if term.shape else term.text
                lines_backward.append(f"{dnames[a]} = {text}")
                assigned.add(a)
    inputs = [graph.names[name] for name in ev.wrt]
    gradient = ", ".join(
        f'"{graph.nodes[i].name}": ' + (f"np.asarray({dnames[i]}).tolist()" if i in assigned else "0.0")
        for i in inputs
    )
    if "cofactor" in m.helpers:
        m.helpers.add("prod_others")
    helpers = "\n\n\n".join(_helper_text(h) for h in sorted(m.helpers))
    needs_math = "math." in helpers
    title = _docstring(ev.source.strip())
    return "\n".join([
        '"""Backprop written out in NumPy, by gradcli export.\n\nProgram:\n\n    '
        + title.replace("\n", "\n    ") + '\n\nd<name> is the adjoint ∂' + names[out] + '/∂<name>.\n"""',
        "",
        "import json",
        *(["import math"] if needs_math else []),
        "",
        "import numpy as np",
        *(["", "", helpers] if helpers else []),
        "",
        "",
        "def main():",
        "    # the point",
        *(f"    {line}" for line in lines_point),
        "",
        "    # forward pass, in evaluation order",
        *(f"    {line}" for line in lines_forward),
        "",
        f"    # backward pass, in reverse order: d{names[out]} = 1, then downstream = upstream x local",
        *(f"    {line}" for line in lines_backward),
        "",
        f"    return {names[out]}, {{{gradient}}}",
        "",
        "",
        'if __name__ == "__main__":',
        "    value, gradient = main()",
        '    print(json.dumps({"value": float(value), "gradient": gradient}))',
        "",
    ])


def _helper_text(name: str) -> str:
    """The source of helper `name`: one of `_HELPERS`, or an op whose row names a `math`
    function NumPy lacks (erf), mapped over the elements."""
    if name in _HELPERS:
        return _HELPERS[name]
    op = OPS[name]
    args = ", ".join("xyz"[:op.arity]) if 0 < op.arity <= 3 else "x"
    return (f'def {name}({args}):\n    """The {op.doc}, element by element (NumPy has none)."""\n'
            f'    return np.vectorize(math.{op.impl["math"]}, otypes=[float])({args})')


def _vjps(op: Any, n: int) -> list:
    """One VJP rule per argument (a variadic row gives all at once)."""
    if callable(op.vjp):  # variadic structural ops give all their VJPs at once
        return [lambda m, g, xs, o, p, k=k: op.vjp(m, g, xs, o, p)[k] for k in range(n)]
    return list(op.vjp)


# ---- frameworks: the forward pass, autograd does the rest ---------------------------------
#: the tensor ops' functions; an elementwise op's are its row's ``impl`` names (`_row_line`)
_TORCH = {
    "transpose": "{0}.T", "norm": "torch.linalg.norm", "outer": "torch.outer", "dot": "torch.dot",
    "amax": "torch.max", "amin": "torch.min",
}
_JAX = {
    "transpose": "{0}.T", "norm": "jnp.linalg.norm", "outer": "jnp.outer", "dot": "jnp.dot",
    "amax": "jnp.max", "amin": "jnp.min",
}
_INFIX = {"add": "+", "sub": "-", "mul": "*", "div": "/", "pow": "**", "matmul": "@"}
_COMPARE = {"lt": "<", "le": "<=", "gt": ">", "ge": ">=", "ne": "!=", "eq": "=="}
#: functions of the same name and meaning in both frameworks' numpy-like namespaces
_SAME = ("trace", "diag")
#: op -> (PyTorch, JAX) templates: {0}, {1}, ... the arguments, {p} the parameter
_TEMPLATES = {
    "prod": ("torch.prod({0})", "jnp.prod({0})"),
    "prod@": ("torch.prod({0}, dim={p})", "jnp.prod({0}, axis={p})"),
    "cumsum": ("torch.cumsum({0}.flatten(), dim=0)", "jnp.cumsum({0})"),
    "cumsum@": ("torch.cumsum({0}, dim={p})", "jnp.cumsum({0}, axis={p})"),
    "var": ("torch.var({0}, correction=0)", "jnp.var({0})"),
    "var@": ("torch.var({0}, dim={p}, correction=0)", "jnp.var({0}, axis={p})"),
    "std": ("torch.std({0}, correction=0)", "jnp.std({0})"),
    "std@": ("torch.std({0}, dim={p}, correction=0)", "jnp.std({0}, axis={p})"),
    "reshape": ("{0}.reshape({p})", "jnp.reshape({0}, {p})"),
    "transpose@": ("{0}.permute({p})", "jnp.transpose({0}, {p})"),
    "amax@": ("torch.amax({0}, dim={p})", "jnp.max({0}, axis={p})"),
    "amin@": ("torch.amin({0}, dim={p})", "jnp.min({0}, axis={p})"),
    "flatten": ("{0}.flatten()", "jnp.ravel({0})"),
    "det": ("torch.linalg.det({0})", "jnp.linalg.det({0})"),
    "logdet": ("torch.logdet({0})", "jnp.linalg.slogdet({0})[1]"),
    "inv": ("torch.linalg.inv({0})", "jnp.linalg.inv({0})"),
    "solve": ("torch.linalg.solve({0}, {1})", "jnp.linalg.solve({0}, {1})"),
    "eye": ("torch.eye({p[0]})", "jnp.eye({p[0]})"),
    "zeros": ("torch.zeros({p})", "jnp.zeros({p})"),
    "ones": ("torch.ones({p})", "jnp.ones({p})"),
}


def _framework_line(ev: Evaluation, i: int, names: dict[int, str], target: str) -> str:
    graph = ev.graph
    node = graph.nodes[i]
    xp = "torch" if target == "torch" else "jnp"

    def arg(a: int) -> str:
        if graph.nodes[a].op == CONST:
            value = ev.values[a]
            if getattr(value, "shape", ()):
                return f"{xp}.tensor({json.dumps(value.tolist())}, dtype=torch.float64)" if target == "torch" \
                    else f"jnp.array({json.dumps(value.tolist())})"
            return "math.pi" if graph.nodes[a].text == "pi" else repr(float(value))
        return names[a]

    args = [arg(a) for a in node.args]
    if node.op in ("matmul", "dot") and any(not getattr(ev.values[a], "shape", ()) for a in node.args):
        return f"({args[0]} * {args[1]})"  # a scalar operand scales, as np.dot (`@` refuses it)
    if node.op == "dot" and target == "torch" and any(len(getattr(ev.values[a], "shape", ())) != 1
                                                      for a in node.args):
        return f"({args[0]} @ {args[1]})"
    param = node.param
    if node.op in ("conv2d", "conv1d", "maxpool2d", "avgpool2d"):
        return _window_framework(node.op, args, param, target, len(getattr(ev.values[node.args[0]], "shape", ())))
    if node.op == "transpose":  # the axes' order written out (.T of a tensor of rank 3 or 4 is not PyTorch's)
        shape = tuple(getattr(ev.values[node.args[0]], "shape", ()))
        param = permutation_axes(shape, param) if param is not None or len(shape) > 2 else None
    return _framework_call(node.op, args, param, target)


def _window_framework(op: str, args: list[str], p: tuple, target: str, ndim: int) -> str:
    """conv2d, conv1d, maxpool2d, avgpool2d in PyTorch (torch.nn.functional, which takes one
    image too) or JAX (jax.lax, which wants a batch: one image gets a batch axis and loses it)."""
    if target == "torch":
        if op in ("conv2d", "conv1d"):
            return f"torch.nn.functional.{op}({args[0]}, {args[1]}, stride={p[0]}, padding={p[1]})"
        return f"torch.nn.functional.{op[:3]}_pool2d({args[0]}, {p[0]}, {p[1]})"
    batched = ndim == (3 if op == "conv1d" else 4)
    x = args[0] if batched else f"{args[0]}[None]"
    if op in ("conv2d", "conv1d"):
        spatial = 2 if op == "conv2d" else 1
        text = (f"jax.lax.conv_general_dilated({x}, {args[1]}, {(p[0],) * spatial}, {[(p[1], p[1])] * spatial}, "
                f"precision=jax.lax.Precision.HIGHEST)")
    else:
        k, s = p
        init, fn = ("-jnp.inf", "jax.lax.max") if op == "maxpool2d" else ("0.0", "jax.lax.add")
        text = f"jax.lax.reduce_window({x}, {init}, {fn}, (1, 1, {k}, {k}), (1, 1, {s}, {s}), 'VALID')"
        if op == "avgpool2d":
            text = f"({text} / {k * k})"
    return text if batched else f"{text}[0]"


def _framework_call(op: str, args: list[str], p: Any, target: str) -> str:
    """Op `op` of the arguments' texts `args` (and parameter `p`) as `target` code."""
    table = _TORCH if target == "torch" else _JAX
    xp = "torch" if target == "torch" else "jnp"
    if op in _INFIX:
        return f"({args[0]} {_INFIX[op]} {args[1]})"
    if op == "neg":
        return f"(-{args[0]})"
    if op in ("max", "min"):
        f = f"{xp}.maximum" if op == "max" else f"{xp}.minimum"
        text = args[0]
        for a in args[1:]:
            text = f"{f}({_as_tensor(text, target)}, {_as_tensor(a, target)})"
        return text
    if op in ("sum", "mean"):
        key = "dim" if target == "torch" else "axis"
        return f"{xp}.{op}({args[0]})" if p is None else f"{xp}.{op}({args[0]}, {key}={p})"
    if op in ("softmax", "log_softmax"):
        if target == "torch":
            return f"torch.{op}({args[0]}, dim={p})"
        return f"jax.nn.{op}({args[0]}, axis={p})"
    if op == "logsumexp":
        if target == "torch":
            return f"torch.logsumexp({args[0]}.flatten(), dim=0)" if p is None else \
                f"torch.logsumexp({args[0]}, dim={p})"
        return f"jax.scipy.special.logsumexp({args[0]}, axis={p})"
    if op == "index":
        return f"{args[0]}[{index_text(tuple(p))}]"  # type: ignore[arg-type]
    if op == "gather":  # x[idx]: the indices arrive as floats
        return f"{args[0]}[{args[1]}.long()]" if target == "torch" else f"{args[0]}[{args[1]}.astype(int)]"
    if op == "pick":
        if target == "torch":
            return f"{args[0]}[torch.arange({args[0]}.shape[0]), {args[1]}.long()]"
        return f"{args[0]}[jnp.arange({args[0]}.shape[0]), {args[1]}.astype(int)]"
    if op == "onehot":
        if target == "torch":
            return f"torch.nn.functional.one_hot({args[0]}.long(), {p}).double()"
        return f"jax.nn.one_hot({args[0]}, {p}, dtype=jnp.float64)"
    if op == "stack":
        return f"{xp}.stack([{', '.join(_as_tensor(a, target) for a in args)}])"
    if op in ("hstack", "vstack"):
        return f"{xp}.{op}([{', '.join(_as_tensor(a, target) for a in args)}])"
    if op in _COMPARE:  # 0.0 or 1.0, as gradcli's comparisons (no gradient flows through them)
        compared = f"({_as_tensor(args[0], target)} {_COMPARE[op]} {args[1]})"
        return f"{compared}.double()" if target == "torch" else f"({compared} * 1.0)"
    if op in _SAME:
        return f"{xp}.{op}({', '.join(_as_tensor(a, target) for a in args)})"
    key = f"{op}@" if p is not None and f"{op}@" in _TEMPLATES else op
    if key in _TEMPLATES:
        template = _TEMPLATES[key][target != "torch"]
        shape = tuple(p) if isinstance(p, (tuple, list)) else p
        return template.format(*(_as_tensor(a, target) for a in args), p=shape)
    if op in table:
        f = table[op]
        return f.format(*args) if "{0}" in f else f"{f}({', '.join(_as_tensor(a, target) for a in args)})"
    return _row_line(op, args, target)


def _row_line(op: str, args: list[str], target: str) -> str:
    """An elementwise op, from its row: the ``impl`` function (or template) of `target`, or
    the composite ``forward`` written with the framework's functions of its primitives."""
    row = OPS.get(op)
    if row is not None and target in row.impl:
        f = row.impl[target]  # a function's name, or a template of the arguments {0}, {1}, ...
        tensors = [_as_tensor(a, target) for a in args]
        return f.format(*tensors) if "{0}" in f else f"{f}({', '.join(tensors)})"
    if row is not None and row.forward is not None:
        return code(row.forward(_FrameworkText(target), *[_arg_code(a) for a in args])).text
    raise UsageError(f"gradcli export --to {target} cannot write the operation {op!r} yet")


def _arg_code(text: str) -> Code:
    try:
        return number(float(text))
    except ValueError:
        return source(text)


class _FrameworkText:
    """The backend a row's composite ``forward`` is written on for PyTorch or JAX: each
    primitive is the framework's call (`_framework_call`), arithmetic is Python's."""

    def __init__(self, target: str) -> None:
        self.target = target

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return lambda *xs: source(_framework_call(name, [code(x).text for x in xs], None, self.target))


def _as_tensor(text: str, target: str) -> str:
    try:
        float(text)
    except ValueError:
        return text
    return f"torch.tensor({text}, dtype=torch.float64)" if target == "torch" else text


def to_framework(ev: Evaluation, target: str) -> str:
    """The program as PyTorch or JAX code whose autograd gives the gradient."""
    if not ev.adjoints:
        raise UsageError("gradcli export writes backprop for a scalar output (a loss)")
    graph = ev.graph
    names, _ = _names(ev)
    inputs = [graph.names[name] for name in ev.inputs]
    params = ", ".join(names[i] for i in inputs)
    body = [f"    {names[n.id]} = {_framework_line(ev, n.id, names, target)}"
            for n in graph.nodes if n.op not in (INPUT, CONST)]
    if graph.nodes[graph.output].op == CONST:  # a constant output: its gradient is 0
        constant = float(ev.values[graph.output])
        body.append(f"    {names[graph.output]} = " + (f"torch.tensor({constant!r}, requires_grad=True)"
                                                       if target == "torch" else f"jnp.asarray({constant!r})"))
    out = names[graph.output]
    title = _docstring(ev.source.strip()).replace("\n", "\n    ")
    point = []
    for i in inputs:
        value: Any = ev.env[graph.nodes[i].name or ""]
        literal = json.dumps(value.tolist()) if getattr(value, "shape", ()) else repr(float(value))
        if target == "torch":
            point.append(f"    {names[i]} = torch.tensor({literal}, dtype=torch.float64, requires_grad=True)")
        else:
            point.append(f"    {names[i]} = jnp.array({literal}, dtype=jnp.float64)")
    wrt = [graph.names[name] for name in ev.wrt]
    if target == "torch":
        header = ["import json", "import math", "", "import torch", "", "torch.set_default_dtype(torch.float64)"]
        run = [*point, f"    value = forward({params})", "    value.backward()",
               "    gradient = {" + ", ".join(
                   f'"{graph.nodes[i].name}": ({names[i]}.grad.tolist() if {names[i]}.grad is not None else 0.0)'
                   for i in wrt) + "}",
               '    print(json.dumps({"value": value.item(), "gradient": gradient}))']
    else:
        header = ["import json", "import math", "", "import jax", "", 'jax.config.update("jax_enable_x64", True)',
                  "import jax.numpy as jnp  # noqa: E402", "import jax.scipy.special  # noqa: E402"]
        argnums = ", ".join(str(inputs.index(i)) for i in wrt)
        run = [*point, f"    value = forward({params})",
               f"    grads = jax.grad(forward, argnums=({argnums},))({params})",
               "    gradient = {" + ", ".join(
                   f'"{graph.nodes[i].name}": jnp.asarray(grads[{k}]).tolist()' for k, i in enumerate(wrt)) + "}",
               '    print(json.dumps({"value": float(value), "gradient": gradient}))']
    return "\n".join([
        f'"""The program in {"PyTorch" if target == "torch" else "JAX"}, by gradcli export: the forward pass '
        f'written out,\nthe gradient from {"autograd (.backward())" if target == "torch" else "jax.grad"}.\n\n'
        f"Program:\n\n    {title}\n" + '"""',
        "",
        *header,
        "",
        "",
        f"def forward({params}):",
        *body,
        f"    return {out}",
        "",
        "",
        "def main():",  # the point in a function: no module-level names for forward() to pick up
        *run,
        "",
        "",
        'if __name__ == "__main__":',
        "    main()",
        "",
    ])

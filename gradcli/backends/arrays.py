"""The NumPy backend: every primitive on float64 arrays, plus the helpers VJPs use.

Imported only when a program has vectors or matrices, so plain scalar runs never pay
for NumPy.  Elementwise functions broadcast; the numerically delicate ones are
written in their stable forms (sigmoid and softplus never overflow, softmax and
logsumexp subtract the maximum).  Index parameters come from the program as tuples:
an int, or ``("slice", start, stop, step)``.
"""

from __future__ import annotations

import functools
import math
from typing import Any, Callable, Optional

import numpy as np

from ..core.elements import unbroadcast
from ..core.ops import OPS, Backend, Op, library_functions
from . import tensor_kernels


def _sigmoid(x):
    """1/(1 + e) where x ≥ 0 and e/(1 + e) elsewhere, with e = exp(-|x|): one division
    of the chosen numerator, in place in arrays of our own (two new arrays in all)."""
    e = np.abs(x)
    if e.__class__ is not np.ndarray or e.dtype != np.float64:  # a scalar, or not float64
        e = np.exp(-e)
        return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
    np.negative(e, out=e)
    np.exp(e, out=e)
    denominator = np.add(e, 1.0)
    np.copyto(e, 1.0, where=x >= 0)  # e becomes the numerator
    return np.divide(e, denominator, out=e)


def all_finite(x) -> bool:
    """Is every element of `x` finite?  A broadcast view (a stride of 0, as `_expand_to`
    gives) is checked on the elements it holds, not on every repetition of them."""
    if x.__class__ is float:
        return math.isfinite(x)
    if x.__class__ is np.ndarray:
        if 0 in x.strides:
            x = x[tuple(slice(None) if stride else slice(0, 1) for stride in x.strides)]
        if x.dtype.kind == "f":
            with np.errstate(over="ignore", invalid="ignore"):  # 1e308 + 1e308, inf - inf
                total = x.sum()
            if math.isfinite(total):
                return True  # a finite sum has no inf or nan in it (an overflow falls through)
        return bool(np.isfinite(x).all())
    return bool(np.all(np.isfinite(x)))


def _softplus(x):
    return np.maximum(x, 0.0) + np.log1p(np.exp(-np.abs(x)))


def _index(x, index):
    return np.asarray(x)[_np_index(index)]


def _np_index(index) -> tuple:
    return tuple(slice(*item[1:]) if isinstance(item, tuple) else item for item in index)


def _scatter(g, shape, index):
    out = np.zeros(shape)
    out[_np_index(index)] += g
    return out


def _scatter_into(g, shape, where):
    """g added into zeros of `shape` at a NumPy index (slices, not the program's tuples)."""
    out = np.zeros(shape)
    out[where] += g
    return out


def _expand_to(g, shape, axis):
    """Broadcast a reduced array back over the reduced axis (or all axes): a read-only
    view, not a copy (the engine gives callers writable arrays, `Tape.backward`)."""
    g = np.asarray(g)
    if axis is not None:
        g = np.expand_dims(g, axis % len(shape))
    return np.broadcast_to(g, shape)


def _sum_keep(x, axis):
    return np.sum(x, axis=axis, keepdims=True)


def times(a, b):
    """a * b, except that a zero factor gives 0 even against inf or NaN.

    A partial multiplied by a zero tangent (or cotangent) contributes nothing: an
    unused partial that is undefined (log of a negative base in ``x^y``), or an
    infinite one (sqrt at 0) met by a zero weight, must not turn a derivative that
    exists into NaN.  Finite products (the usual case) cost one check.
    """
    c = a * b
    if c.__class__ is float or np.ndim(c) == 0:
        if math.isfinite(c):
            return c
        return 0.0 if (a == 0 or b == 0) else c
    if all_finite(c):
        return c
    return np.where((np.asarray(a) == 0) | (np.asarray(b) == 0), 0.0, c)


def _matmul0(a, b):
    """a @ b with `times` semantics in the products (for cotangents that may be inf)."""
    if np.ndim(a) == 0 or np.ndim(b) == 0:  # a scalar operand scales, as np.dot
        return times(a, b)
    r = np.matmul(a, b)
    if all_finite(r):
        return r
    a, b = np.asarray(a), np.asarray(b)
    if a.ndim == 1 and b.ndim == 1:
        return np.sum(times(a, b))
    if a.ndim == 1:
        return np.sum(times(a[:, None], b), axis=0)
    if b.ndim == 1:
        return np.sum(times(a, b[None, :]), axis=1)
    return np.sum(times(a[:, :, None], b[None, :, :]), axis=1)


def _matmul_grad_a(g, a, b):
    """∂(a @ b)/∂a contracted with g, for every vector/matrix combination."""
    if np.ndim(a) == 0:
        return np.sum(np.multiply(g, b))
    if np.ndim(b) == 0:
        return np.multiply(g, b)
    if np.ndim(a) == 1 and np.ndim(b) == 1:
        return times(g, b)
    if np.ndim(a) == 1:  # (m,) @ (m, k) -> (k,)
        return _matmul0(b, g)
    if np.ndim(b) == 1:  # (n, m) @ (m,) -> (n,)
        return times(np.asarray(g)[:, None], np.asarray(b)[None, :])
    return _matmul0(g, np.transpose(b))


def _matmul_grad_b(g, a, b):
    if np.ndim(b) == 0:
        return np.sum(np.multiply(g, a))
    if np.ndim(a) == 0:
        return np.multiply(g, a)
    if np.ndim(a) == 1 and np.ndim(b) == 1:
        return times(g, a)
    if np.ndim(a) == 1:
        return times(np.asarray(a)[:, None], np.asarray(g)[None, :])
    if np.ndim(b) == 1:
        return _matmul0(np.transpose(a), g)
    return _matmul0(np.transpose(a), g)


def _mean(x, axis=None):
    """np.mean, without NumPy's Python-level "Mean of empty slice" warning (the empty
    mean is nan, which the engine reports as a math error naming the node)."""
    x = np.asarray(x)
    if x.size and (axis is None or x.shape[axis]):
        return np.mean(x, axis=axis)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.mean(x, axis=axis)


def _logsumexp(x, axis):
    x = np.asarray(x)
    top = np.max(x, axis=axis, keepdims=True)
    top = np.where(np.isfinite(top), top, 0.0)
    out = np.log(np.sum(np.exp(x - top), axis=axis, keepdims=True)) + top
    return out.reshape(()) if axis is None else np.squeeze(out, axis=axis)


def _softmax(x, axis):
    shifted = x - np.max(x, axis=axis, keepdims=True)
    e = np.exp(shifted)
    return e / np.sum(e, axis=axis, keepdims=True)


def _log_softmax(x, axis):
    shifted = x - np.max(x, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def _safe_div(x, y):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(y == 0, 0.0, np.divide(x, np.where(y == 0, 1.0, y)))


def _xlogy(x, y):
    with np.errstate(divide="ignore", invalid="ignore"):
        zero = (x == 0) | (y == 0)
        return np.where(zero, 0.0, x * np.log(np.where(zero, 1.0, y)))


_erfc_each = np.frompyfunc(math.erfc, 1, 1)


def each_element(f: Callable[..., float], nin: int = 1) -> Callable[..., Any]:
    """A float function of `math` of `nin` arguments mapped over the elements (broadcasting):
    what NumPy has no function for (erf), exact to the last bit like C's."""
    mapped = np.frompyfunc(f, nin, 1)

    def g(*xs: Any) -> Any:
        return np.asarray(mapped(*[np.asarray(x, dtype=float) for x in xs]), dtype=float)

    return g


def _gelu(x):
    x = np.asarray(x, dtype=float)
    return 0.5 * x * np.asarray(_erfc_each(-x * 0.7071067811865476), dtype=float)


def _where(c, a, b):
    return np.where(np.asarray(c) != 0, a, b).astype(float)


def _logdet(x):
    sign, logabs = np.linalg.slogdet(x)
    if sign <= 0:
        raise ValueError("logdet needs a matrix with a positive determinant")
    return logabs


def along_last(x, axis):
    """x with `axis` moved last (all of x flattened when axis is None)."""
    x = np.asarray(x, dtype=float)
    return x.reshape(-1) if axis is None else np.moveaxis(x, axis, -1)


def from_last(y, shape, axis):
    return y.reshape(shape) if axis is None else np.moveaxis(y, -1, axis)


def _prod_others(x, axis):
    """Each element's product of all *other* elements along `axis` (or of all of x):
    exclusive products from the left times from the right, so zeros need no division."""
    x = np.asarray(x, dtype=float)
    v = along_last(x, axis)
    ones = np.ones(v.shape[:-1] + (1,))
    left = np.cumprod(np.concatenate([ones, v[..., :-1]], axis=-1), axis=-1)
    right = np.flip(np.cumprod(np.concatenate([ones, np.flip(v, -1)[..., :-1]], axis=-1), axis=-1), -1)
    return from_last(left * right, x.shape, axis)


def _cumsum(x, axis=None):
    return np.cumsum(x, axis=axis)


def _rcumsum(g, shape, axis):
    """The VJP of cumsum: sums from the end, back in x's shape."""
    g = np.asarray(g, dtype=float)
    if axis is None:
        return np.flip(np.cumsum(np.flip(g.reshape(-1)))).reshape(shape)
    return np.flip(np.cumsum(np.flip(g, axis), axis=axis), axis)


def _cofactor(x):
    """The cofactor matrix of a square matrix, ∂det X/∂X = adj(X)ᵀ, also when X is singular:
    with X = U S Vᵀ, adj(X) = det(U) det(V) V diag(prod of the other s) Uᵀ."""
    x = np.asarray(x, dtype=float)
    u, sv, vt = np.linalg.svd(x)
    adj = np.linalg.det(u) * np.linalg.det(vt) * (vt.T * _prod_others(sv, None)) @ u.T
    return adj.T


def _matmul(a, b):
    if np.ndim(a) == 0 or np.ndim(b) == 0:  # a scalar operand scales, as np.dot does
        return np.multiply(a, b)
    return np.matmul(a, b)


def _mapped_math() -> dict[str, Any]:
    """{op name: its "math" function over the elements} for the rows without a "numpy" name."""
    return {name: each_element(getattr(math, op.impl["math"]), max(op.arity, 1)) for name, op in OPS.items()
            if "math" in op.impl and "numpy" not in op.impl}


def _maxpool2d_tangent(t, x, p):
    """ẏ of maxpool2d: each window's tangent is ẋ at its first maximum (the kernel's routing)."""
    k, stride = p
    x4 = np.asarray(x, dtype=float)
    t4 = np.asarray(t, dtype=float)
    single = x4.ndim == 3
    if single:
        x4, t4 = x4[None], t4[None]
    n, c, h, w = x4.shape
    ho, wo = (h - k) // stride + 1, (w - k) // stride + 1
    best = np.full((n, c, ho, wo), -np.inf)
    out = np.zeros((n, c, ho, wo))
    for i in range(k):
        for j in range(k):
            sl = (slice(None), slice(None), slice(i, i + (ho - 1) * stride + 1, stride),
                  slice(j, j + (wo - 1) * stride + 1, stride))
            better = x4[sl] > best  # strictly larger: the first maximum stays, as PyTorch
            best = np.where(better, x4[sl], best)
            out = np.where(better, t4[sl], out)
    return out[0] if single else out


class _Arrays(Backend):
    """NumPy: a row's library function is ``np.<impl["numpy"]>``, else its ``impl["math"]``
    function mapped over the elements."""

    def library(self, op: Op) -> Optional[Callable[..., Any]]:
        if "numpy" in op.impl:
            return getattr(np, op.impl["numpy"])  # type: ignore[no-any-return]
        if "math" in op.impl:
            return each_element(getattr(math, op.impl["math"]), max(op.arity, 1))
        return None


ARRAY = _Arrays(
    **library_functions("numpy", np),  # exp, log, sin, arcsin, ..., floor: the rows' "numpy" names
    **_mapped_math(),  # erf: the rows' "math" functions NumPy lacks
    add=np.add,
    sub=np.subtract,
    mul=np.multiply,
    div=np.true_divide,
    pow=np.power,
    neg=np.negative,
    sigmoid=_sigmoid,
    relu=lambda x: np.where(x > 0, x, 0.0),
    softplus=_softplus,
    max=lambda *xs: functools.reduce(np.maximum, xs),
    min=lambda *xs: functools.reduce(np.minimum, xs),
    step=lambda x: (np.asarray(x) > 0).astype(float),
    eq=lambda x, y: (np.asarray(x) == y).astype(float),
    xlogy=_xlogy,
    lt=lambda x, y: np.less(x, y).astype(float),
    le=lambda x, y: np.less_equal(x, y).astype(float),
    gt=lambda x, y: np.greater(x, y).astype(float),
    ge=lambda x, y: np.greater_equal(x, y).astype(float),
    ne=lambda x, y: np.not_equal(x, y).astype(float),
    where=_where,
    clip=lambda x, lo, hi: np.minimum(np.maximum(x, lo), hi),
    leaky_relu=lambda x, slope: np.where(np.asarray(x) > 0, x, np.multiply(slope, x)),
    elu=lambda x, alpha: np.where(np.asarray(x) > 0, x, np.multiply(alpha, np.expm1(np.minimum(x, 0.0)))),
    gelu=_gelu,
    # tensor ops
    matmul=_matmul,
    dot=np.dot,
    outer=np.outer,
    transpose=np.transpose,
    sum=lambda x, axis=None: np.sum(x, axis=axis),
    mean=lambda x, axis=None: _mean(x, axis),
    norm=lambda x: np.sqrt(np.sum(np.square(x))),
    softmax=lambda x, axis=-1: _softmax(x, axis),
    log_softmax=lambda x, axis=-1: _log_softmax(x, axis),
    logsumexp=lambda x, axis=None: _logsumexp(x, axis),
    amax=lambda x, axis=None: np.max(x, axis=axis),
    amin=lambda x, axis=None: np.min(x, axis=axis),
    index=_index,
    stack=lambda *xs: np.stack([np.asarray(x, dtype=float) for x in xs]),
    prod=lambda x, axis=None: np.prod(x, axis=axis),
    cumsum=_cumsum,
    var=lambda x, axis=None: np.var(x, axis=axis),
    std=lambda x, axis=None: np.std(x, axis=axis),
    reshape=lambda x, shape: np.reshape(x, shape),
    flatten=lambda x: np.ravel(x).astype(float),
    hstack=lambda *xs: np.hstack([np.asarray(x, dtype=float) for x in xs]),
    vstack=lambda *xs: np.vstack([np.asarray(x, dtype=float) for x in xs]),
    trace=np.trace,
    det=np.linalg.det,
    logdet=_logdet,
    inv=np.linalg.inv,
    solve=np.linalg.solve,
    diag=np.diag,
    eye=lambda shape: np.eye(shape[0]),
    zeros=lambda shape: np.zeros(shape),
    ones=lambda shape: np.ones(shape),
    # convolution and pooling (issue 23): p is (stride, pad) or (k, stride)
    conv2d=lambda x, w, p: tensor_kernels.conv2d(x, w, *p),
    conv2d_grad_x=lambda g, x, w, p: tensor_kernels.conv2d_grad_x(g, x, w, *p),
    conv2d_grad_w=lambda g, x, w, p: tensor_kernels.conv2d_grad_w(g, x, w, *p),
    conv1d=lambda x, w, p: tensor_kernels.conv1d(x, w, *p),
    conv1d_grad_x=lambda g, x, w, p: tensor_kernels.conv1d_grad_x(g, x, w, *p),
    conv1d_grad_w=lambda g, x, w, p: tensor_kernels.conv1d_grad_w(g, x, w, *p),
    maxpool2d=lambda x, p: tensor_kernels.maxpool2d(x, *p),
    maxpool2d_grad=lambda g, x, p: tensor_kernels.maxpool2d_grad(g, x, *p),
    maxpool2d_tangent=_maxpool2d_tangent,
    avgpool2d=lambda x, p: tensor_kernels.avgpool2d(x, *p),
    avgpool2d_grad=lambda g, x, p: tensor_kernels.avgpool2d_grad(g, x, *p),
    # helpers of the VJP rules
    matmul_grad_a=_matmul_grad_a,
    matmul_grad_b=_matmul_grad_b,
    expand_to=_expand_to,
    sum_keep=_sum_keep,
    scatter=_scatter,
    unbroadcast=unbroadcast,
    safe_div=_safe_div,
    times=times,
    all_finite=all_finite,
    matmul0=_matmul0,
    outer0=lambda a, b: times(np.asarray(a)[:, None], np.asarray(b)[None, :]),
    prod_others=_prod_others,
    rcumsum=_rcumsum,
    cofactor=_cofactor,
    shape=np.shape,
    # what a formula (`gradcli.core.formula`) evaluates with, beyond the ops
    asarray=lambda x: np.asarray(x, dtype=float),
    zeros_like=np.zeros_like,
    ones_like=np.ones_like,
    mean_keep=lambda x, axis: np.mean(x, axis=axis, keepdims=True),
    scatter_into=_scatter_into,
    take_at=lambda x, where: np.asarray(x)[where],
    kron=np.kron,
    # integer indices (issue 23): the kernels check whole numbers and ranges
    gather=lambda x, idx: _kernels().gather_rows(x, idx),
    pick=lambda S, y: _kernels().pick(S, y),
    onehot=lambda y, classes: _kernels().onehot(y, classes),
    scatter_add_rows=lambda g, shape, idx: _kernels().scatter_add_rows(g, shape, idx),
)


def _kernels():
    from . import tensor_kernels

    return tensor_kernels

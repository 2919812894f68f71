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
from types import SimpleNamespace

import numpy as np


def _sigmoid(x):
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


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


def _expand_to(g, shape, axis):
    """Broadcast a reduced array back over the reduced axis (or all axes)."""
    g = np.asarray(g)
    if axis is not None:
        g = np.expand_dims(g, axis % len(shape))
    return np.broadcast_to(g, shape).copy()


def _sum_keep(x, axis):
    return np.sum(x, axis=axis, keepdims=True)


def unbroadcast(g, shape):
    """Sum `g` over the axes that broadcasting added or stretched, back to `shape`."""
    g = np.asarray(g)
    if g.shape == tuple(shape):
        return g
    while g.ndim > len(shape):
        g = g.sum(axis=0)
    for k, d in enumerate(shape):
        if d == 1 and g.shape[k] != 1:
            g = g.sum(axis=k, keepdims=True)
    return g


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
    if np.all(np.isfinite(c)):
        return c
    return np.where((np.asarray(a) == 0) | (np.asarray(b) == 0), 0.0, c)


def _matmul0(a, b):
    """a @ b with `times` semantics in the products (for cotangents that may be inf)."""
    r = np.matmul(a, b)
    if np.all(np.isfinite(r)):
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
    if np.ndim(a) == 1 and np.ndim(b) == 1:
        return times(g, b)
    if np.ndim(a) == 1:  # (m,) @ (m, k) -> (k,)
        return _matmul0(b, g)
    if np.ndim(b) == 1:  # (n, m) @ (m,) -> (n,)
        return times(np.asarray(g)[:, None], np.asarray(b)[None, :])
    return _matmul0(g, np.transpose(b))


def _matmul_grad_b(g, a, b):
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


ARRAY = SimpleNamespace(
    add=np.add,
    sub=np.subtract,
    mul=np.multiply,
    div=np.true_divide,
    pow=np.power,
    neg=np.negative,
    exp=np.exp,
    log=np.log,
    sqrt=np.sqrt,
    sin=np.sin,
    cos=np.cos,
    tan=np.tan,
    asin=np.arcsin,
    acos=np.arccos,
    atan=np.arctan,
    sinh=np.sinh,
    cosh=np.cosh,
    tanh=np.tanh,
    sigmoid=_sigmoid,
    relu=lambda x: np.where(x > 0, x, 0.0),
    softplus=_softplus,
    abs=np.abs,
    max=lambda *xs: functools.reduce(np.maximum, xs),
    min=lambda *xs: functools.reduce(np.minimum, xs),
    step=lambda x: (np.asarray(x) > 0).astype(float),
    sign=np.sign,
    eq=lambda x, y: (np.asarray(x) == y).astype(float),
    xlogy=_xlogy,
    # tensor ops
    matmul=np.matmul,
    dot=np.dot,
    outer=np.outer,
    transpose=np.transpose,
    sum=lambda x, axis=None: np.sum(x, axis=axis),
    mean=lambda x, axis=None: _mean(x, axis),
    norm=lambda x: np.sqrt(np.sum(np.square(x))),
    softmax=lambda x, axis=-1: _softmax(x, axis),
    log_softmax=lambda x, axis=-1: _log_softmax(x, axis),
    logsumexp=lambda x, axis=None: _logsumexp(x, axis),
    amax=lambda x: np.max(x),
    amin=lambda x: np.min(x),
    index=_index,
    stack=lambda *xs: np.stack([np.asarray(x, dtype=float) for x in xs]),
    # helpers of the VJP rules
    matmul_grad_a=_matmul_grad_a,
    matmul_grad_b=_matmul_grad_b,
    expand_to=_expand_to,
    sum_keep=_sum_keep,
    scatter=_scatter,
    unbroadcast=unbroadcast,
    safe_div=_safe_div,
    times=times,
    matmul0=_matmul0,
    outer0=lambda a, b: times(np.asarray(a)[:, None], np.asarray(b)[None, :]),
    shape=np.shape,
    zeros=np.zeros,
)

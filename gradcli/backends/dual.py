"""Dual numbers: forward mode, and derivatives of derivatives, from the same rule rows.

A `Dual` carries a value and a tangent (its derivative along one chosen direction).
`DUAL` is a backend built *from the rule table*: for an elementwise op the tangent is
``Σ partial_k · tangent_k``; for a structural op it is the row's ``jvp``; the
helpers that VJP rules use (``matmul_grad_a``, ``expand_to``, ...) are linear or
bilinear, so their tangents follow from the product rule.

Run the forward walk on duals and you get forward mode (one column of a Jacobian per
pass).  Run the backward walk on duals as well and the adjoints' tangents are the
derivatives of the gradient along the seeded direction: one row of the Hessian per
pass (forward-over-reverse).  Nothing here is a finite difference.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np

from .arrays import ARRAY, along_last, from_last, times
from ..core.ops import OPS, PARAM_OPS


class Dual:
    """value + ε·tangent with ε² = 0."""

    __slots__ = ("v", "t")
    __array_ufunc__ = None  # make NumPy defer to our reflected operators

    def __init__(self, v, t) -> None:
        self.v = v
        self.t = t

    @property
    def shape(self) -> tuple:
        return np.shape(self.v)

    def __repr__(self) -> str:
        return f"Dual({self.v!r}, {self.t!r})"

    def __add__(self, other):
        ov, ot = parts(other)
        return Dual(self.v + ov, self.t + ot)

    __radd__ = __add__

    def __sub__(self, other):
        ov, ot = parts(other)
        return Dual(self.v - ov, self.t - ot)

    def __rsub__(self, other):
        ov, ot = parts(other)
        return Dual(ov - self.v, ot - self.t)

    def __mul__(self, other):
        ov, ot = parts(other)
        return Dual(times(self.v, ov), times(self.t, ov) + times(self.v, ot))

    __rmul__ = __mul__

    def __truediv__(self, other):
        ov, ot = parts(other)
        q = self.v / ov
        return Dual(q, (self.t - q * ot) / ov)

    def __rtruediv__(self, other):
        ov, ot = parts(other)
        q = ov / self.v
        return Dual(q, (ot - q * self.t) / self.v)

    def __neg__(self):
        return Dual(-self.v, -self.t)


def parts(x) -> tuple:
    """(value, tangent) of a dual or of a plain number (tangent 0)."""
    if isinstance(x, Dual):
        return x.v, x.t
    return x, 0.0


def value(x):
    return x.v if isinstance(x, Dual) else x


def tangent(x):
    """The tangent, as an array of the value's shape (zeros for plain numbers)."""
    if isinstance(x, Dual):
        t = x.t
        shape = np.shape(x.v)
        return np.broadcast_to(t, shape).astype(float) if np.shape(t) != shape else t
    return np.zeros(np.shape(x)) if np.shape(x) else 0.0


def _elementwise(name: str):
    op = OPS[name]
    f = getattr(ARRAY, name)

    def dual_f(*xs):
        vs = [value(x) for x in xs]
        out = f(*vs)
        if not any(isinstance(x, Dual) for x in xs):
            return out
        if op.variadic:
            local = op.partials(ARRAY, vs, out)  # type: ignore[operator]
        else:
            local = [p if p.__class__ is float else p(ARRAY, *vs, out) for p in op.partials]  # type: ignore[union-attr]
        t = 0.0
        for x, p in zip(xs, local):
            if isinstance(x, Dual):
                t = t + times(p, x.t)
        return Dual(out, t)

    return dual_f


def _structural(name: str):
    op = OPS[name]
    f = getattr(ARRAY, name)
    takes_param = name in PARAM_OPS
    arity = op.arity

    def dual_f(*args):
        if takes_param:
            xs, param = list(args[:arity]), (args[arity] if len(args) > arity else None)
        else:
            xs, param = list(args), None
        vs = [value(x) for x in xs]
        out = f(*vs) if param is None else f(*vs, param)
        if not any(isinstance(x, Dual) for x in xs):
            return out
        ts = [tangent(x) for x in xs]
        return Dual(out, op.jvp(ARRAY, ts, vs, out, param))  # type: ignore[misc]

    return dual_f


def _linear(f):
    """A helper linear in its first argument (expand_to, scatter, ...)."""

    def dual_f(x, *rest):
        if not isinstance(x, Dual):
            return f(x, *rest)
        return Dual(f(x.v, *rest), f(tangent(x), *rest))

    return dual_f


def _bilinear(f, first: int, second: int):
    """A helper bilinear in two of its arguments (the product rule)."""

    def dual_f(*args):
        vs = [value(a) for a in args]
        out = f(*vs)
        if not (isinstance(args[first], Dual) or isinstance(args[second], Dual)):
            return out
        t1 = list(vs)
        t1[first] = tangent(args[first])
        t2 = list(vs)
        t2[second] = tangent(args[second])
        return Dual(out, f(*t1) + f(*t2))

    return dual_f


def _safe_div(x, y):
    xv, xt = parts(x)
    yv, yt = parts(y)
    q = ARRAY.safe_div(xv, yv)
    if not (isinstance(x, Dual) or isinstance(y, Dual)):
        return q
    return Dual(q, ARRAY.safe_div(xt - q * yt, yv))


def _prod_others(x, axis):
    """Products of the other elements; the tangent of P_i = prod_{j != i} x_j is
    sum_k P_i(x with x_k replaced by t_k) - P_i(x) (the k = i term is P_i itself)."""
    if not isinstance(x, Dual):
        return ARRAY.prod_others(x, axis)
    xv = np.asarray(x.v, dtype=float)
    out = ARRAY.prod_others(xv, axis)
    v, t = along_last(xv, axis), along_last(tangent(x), axis)
    total = -along_last(out, axis)
    for k in range(v.shape[-1]):
        swapped = v.copy()
        swapped[..., k] = t[..., k]
        total = total + ARRAY.prod_others(swapped, -1)
    return Dual(out, from_last(total, xv.shape, axis))


def _cofactor(x):
    """The cofactor matrix C (C_ij = (-1)^(i+j) det of X without row i and column j), whose
    tangent is, entry by entry, d det(minor) = sum(cofactor(minor) * minor of T): exact,
    singular X included (no inverse is formed)."""
    if not isinstance(x, Dual):
        return ARRAY.cofactor(x)
    xv, t = np.asarray(x.v, dtype=float), tangent(x)
    n = xv.shape[0]
    out = ARRAY.cofactor(xv)
    dt = np.zeros((n, n))
    if n > 1:
        for i in range(n):
            for j in range(n):
                keep_r = [k for k in range(n) if k != i]
                keep_c = [k for k in range(n) if k != j]
                minor = xv[np.ix_(keep_r, keep_c)]
                dt[i, j] = (-1) ** (i + j) * np.sum(ARRAY.cofactor(minor) * t[np.ix_(keep_r, keep_c)])
    return Dual(out, dt)


def _eq(x, y):
    return ARRAY.eq(value(x), value(y))


class _Duals(SimpleNamespace):
    """The dual backend; a row registered after it was built is made from its row on first use."""

    def __getattr__(self, name: str) -> Any:
        op = OPS.get(name)
        if op is None or not op.elementwise:
            raise AttributeError(name)
        return _elementwise(name)


def _build() -> SimpleNamespace:
    funcs = {}
    for name, op in OPS.items():
        funcs[name] = _elementwise(name) if op.elementwise else _structural(name)
    funcs.update(
        eq=_eq,
        step=lambda x: ARRAY.step(value(x)),
        sign=lambda x: ARRAY.sign(value(x)),
        prod_others=_prod_others,
        cofactor=_cofactor,
        rcumsum=_linear(ARRAY.rcumsum),
        matmul_grad_a=_bilinear(ARRAY.matmul_grad_a, 0, 2),
        matmul_grad_b=_bilinear(ARRAY.matmul_grad_b, 0, 1),
        expand_to=_linear(ARRAY.expand_to),
        sum_keep=_linear(ARRAY.sum_keep),
        scatter=_linear(ARRAY.scatter),
        unbroadcast=_linear(ARRAY.unbroadcast),
        safe_div=_safe_div,
        times=_bilinear(times, 0, 1),
        matmul0=_bilinear(ARRAY.matmul0, 0, 1),
        outer0=_bilinear(ARRAY.outer0, 0, 1),
        shape=lambda x: np.shape(value(x)),
        # what a formula (`gradcli.core.formula`) evaluates with, beyond the ops
        asarray=lambda x: x if isinstance(x, Dual) else np.asarray(x, dtype=float),
        zeros=np.zeros,
        ones=np.ones,
        zeros_like=lambda x: np.zeros(np.shape(value(x))),
        ones_like=lambda x: np.ones(np.shape(value(x))),
        mean_keep=_linear(lambda x, axis: np.mean(x, axis=axis, keepdims=True)),
        scatter_into=_linear(ARRAY.scatter_into),
        take_at=_linear(ARRAY.take_at),
        scatter_add_rows=lambda g, shape, idx: _linear(ARRAY.scatter_add_rows)(g, shape, value(idx)),
        # convolution and pooling: the VJPs are bilinear in (ḡ, w) or (ḡ, x); pooling's routing
        # is piecewise constant in x, so its tangent is the routing of ḡ's tangent
        conv2d_grad_x=_bilinear(ARRAY.conv2d_grad_x, 0, 2),
        conv2d_grad_w=_bilinear(ARRAY.conv2d_grad_w, 0, 1),
        conv1d_grad_x=_bilinear(ARRAY.conv1d_grad_x, 0, 2),
        conv1d_grad_w=_bilinear(ARRAY.conv1d_grad_w, 0, 1),
        maxpool2d_grad=lambda g, x, p: _linear(ARRAY.maxpool2d_grad)(g, value(x), p),
        avgpool2d_grad=lambda g, x, p: _linear(ARRAY.avgpool2d_grad)(g, value(x), p),
    )
    return _Duals(**funcs)


DUAL = _build()

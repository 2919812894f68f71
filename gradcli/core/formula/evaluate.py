"""Formulas as numbers: evaluation on a backend namespace (NumPy arrays, dual numbers, source code)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, Callable

from .tree import Node


class Evaluate:
    """Evaluates a formula on backend `m`: a namespace with NumPy's array helpers
    (`numpy_backend`), or ``gradcli.backends.dual.DUAL`` for dual numbers."""

    def __init__(self, env: dict, m: Any) -> None:
        self.env, self.m = env, m

    def run(self, e: Node):
        rule = _VALUE.get(e.kind)
        if rule is None:
            raise ValueError(f"no value for rule node {e.kind}")
        return rule(self, e)

    def args(self, e: Node) -> list:
        return [self.run(a) for a in e.args]

    def column(self, x):
        return self.m.reshape(x, (-1, 1)) if len(self.m.shape(x)) == 1 else x

    def aligned(self, x, y):
        """x and y where one side is a vector and the other the same vector as a column
        (``ḃ − Ȧ x``: products read vectors as columns)."""
        sx, sy = self.m.shape(x), self.m.shape(y)
        if len(sx) == 1 and sy == (sx[0], 1):
            x = self.m.reshape(x, (-1, 1))
        elif len(sy) == 1 and sx == (sy[0], 1):
            y = self.m.reshape(y, (-1, 1))
        return x, y

    def product(self, e: Node):
        """``a ∘ b``, ``a · b``; a factor 𝟏 (``ḡ · 𝟏``: the adjoint spread over the argument)
        is a broadcast, not a product (no array of ones is made)."""
        a, b = e.args
        if b.kind == "ones":
            return self.m.expand_to(self.run(a), self.env["arg_shape"], None)
        if e.kind == "scale":  # a weight times a factor: a zero weight gives 0 even against inf
            return self.m.times(self.run(a), self.run(b))
        return self.run(a) * self.run(b)

    def matmul(self, e: Node):
        """A product with vectors read as columns; a matrix times a vector is left as it is
        (the same numbers, as one matrix-vector product)."""
        x, y = self.args(e)
        if len(self.m.shape(x)) == 2 and len(self.m.shape(y)) == 1:
            return self.m.matmul(x, y)
        return self.m.matmul(self.column(x), self.column(y))

    def inverse(self, e: Node):
        x = self.run(e.args[0])
        if self.env.get("shapes_only"):  # the shapes note reads shapes only (at a singular point too)
            return self.m.zeros_like(x)
        y = self.m.inv(x)
        return y if e.kind == "inv" else self.m.transpose(y)


def _leaf_value(v: Evaluate, e: Node):
    x = v.env[e.key]
    return x if hasattr(x, "t") else v.m.asarray(x)  # a dual number stays one


def _t_value(v: Evaluate, e: Node):
    x = v.run(e.args[0])
    return v.m.reshape(x, (1, -1)) if len(v.m.shape(x)) == 1 else v.m.transpose(x)


def _sub_value(v: Evaluate, e: Node):
    x, y = v.aligned(*v.args(e))
    return x - y


def _add_value(v: Evaluate, e: Node):
    x, y = v.aligned(*v.args(e))
    return x + y


def _col_value(v: Evaluate, e: Node):
    if e.args[0].kind == "ones":
        size = 1
        for d in v.env["out_shape"]:
            size *= d
        return v.m.ones((size, 1))
    return v.m.reshape(v.run(e.args[0]), (-1, 1))


def _call_value(v: Evaluate, e: Node):
    fn: Callable = e.data[0]  # type: ignore[index]
    return fn(v.m, *v.args(e))


def _others_value(v: Evaluate, e: Node):
    x = v.run(e.args[0])
    return v.m.ones_like(x) if v.env.get("shapes_only") else v.m.prod_others(x, v.env.get("axis"))


def _rcumsum_value(v: Evaluate, e: Node):
    return v.m.rcumsum(v.run(e.args[0]), v.env["arg_shape"], v.env.get("axis"))


_VALUE: dict[str, Callable[[Evaluate, Node], Any]] = {
    "leaf": _leaf_value,
    "T": _t_value,
    "mm": lambda v, e: v.matmul(e),
    "kron": lambda v, e: v.m.kron(*(v.column(x) for x in v.args(e))),
    "had": lambda v, e: v.product(e),
    "scale": lambda v, e: v.product(e),
    "sub": _sub_value,
    "add": _add_value,
    "div": lambda v, e: v.run(e.args[0]) / v.run(e.args[1]),
    "neg": lambda v, e: -v.run(e.args[0]),
    "rsum": lambda v, e: v.m.sum_keep(v.run(e.args[0]), e.data),
    "call": _call_value,
    "list": lambda v, e: v.m.stack(*v.args(e)),
    "zero": lambda v, e: v.m.zeros(e.data),
    "inner": lambda v, e: v.m.sum_keep(v.run(e.args[0]) * v.run(e.args[1]), v.env.get("axis")),
    "total": lambda v, e: v.m.sum_keep(v.run(e.args[0]), v.env.get("axis")),
    "sumto": lambda v, e: v.m.unbroadcast(v.run(e.args[0]), v.env["arg_shape"]),
    "func": lambda v, e: getattr(v.m, e.key)(v.run(e.args[0])),
    "diag": lambda v, e: v.m.diag(v.m.reshape(v.run(e.args[0]), (-1,))),
    "ones": lambda v, e: v.m.ones(v.env["arg_shape"]),
    "eye": lambda v, e: v.m.eye((v.env["eye"],)),
    "eq": lambda v, e: v.m.eq(v.run(e.args[0]), v.run(e.args[1])),
    "pick": lambda v, e: v.m.take_at(v.run(e.args[0]), v.env["k"]),
    "col": _col_value,
    "scatter": lambda v, e: v.m.scatter_into(v.run(e.args[0]), v.env["arg_shape"], v.env["index"]),
    "row": lambda v, e: v.m.reshape(v.run(e.args[0]), (1, -1)),
    "perm": lambda v, e: v.m.permutation(v.env["arg_shape"]),
    "select": lambda v, e: v.m.selection(v.env["arg_shape"], v.env["index"]),
    "inv": lambda v, e: v.inverse(e),
    "invT": lambda v, e: v.inverse(e),
    "part": lambda v, e: v.m.take_at(v.run(e.args[0]), e.data),
    "embed": lambda v, e: e.data(v.env),  # type: ignore[misc,operator]
    "num": lambda v, e: v.m.asarray(e.data),
    "diagof": lambda v, e: v.m.diag(v.run(e.args[0])),
    "vec": lambda v, e: v.m.reshape(v.run(e.args[0]), (1, -1)),
    "mean": lambda v, e: v.m.mean_keep(v.run(e.args[0]), v.env.get("axis")),
    "others": _others_value,
    "rcumsum": _rcumsum_value,
    "reshape": lambda v, e: v.m.reshape(v.run(e.args[0]), e.data),
}


_NUMPY: list = []


def numpy_backend() -> SimpleNamespace:
    """The NumPy namespace a formula evaluates on by default (built on first use)."""
    if not _NUMPY:
        _NUMPY.append(_build_numpy())
    return _NUMPY[0]


def _others(x, axis):
    """Each element's product of the *other* elements (along `axis`, or of all of x),
    written as the definition reads: the product with that element replaced by 1."""
    import numpy as np

    v = np.ravel(x) if axis is None else np.moveaxis(x, axis, -1)
    n = v.shape[-1]
    spread = np.where(np.eye(n, dtype=bool), 1.0, v[..., None, :])  # [..., i, j]: xⱼ, or 1 where j = i
    others = np.prod(spread, axis=-1)
    return others.reshape(np.shape(x)) if axis is None else np.moveaxis(others, -1, axis)


def _build_numpy() -> SimpleNamespace:
    import numpy as np

    from ..elements import unbroadcast

    def scatter_into(g, shape, index):
        out = np.zeros(shape)
        out[index] += g
        return out

    def permutation(shape):
        n = int(np.prod(shape))
        return np.eye(n)[np.arange(n).reshape(shape).T.ravel()]

    def selection(shape, index):
        n = int(np.prod(shape))
        return np.eye(n)[np.ravel(np.arange(n).reshape(shape)[index])]

    def rcumsum(x, shape, axis):
        if axis is None:
            return np.flip(np.cumsum(np.flip(np.ravel(x)))).reshape(shape)
        return np.flip(np.cumsum(np.flip(x, axis), axis=axis), axis)

    return SimpleNamespace(
        asarray=lambda x: np.asarray(x, dtype=float), shape=np.shape, reshape=np.reshape, transpose=np.transpose,
        matmul=np.matmul, kron=np.kron, sum_keep=lambda x, axis: np.sum(x, axis=axis, keepdims=True),
        mean_keep=lambda x, axis: np.mean(x, axis=axis, keepdims=True),
        stack=lambda *xs: np.stack([np.asarray(x, dtype=float) for x in xs]), zeros=np.zeros, ones=np.ones,
        zeros_like=np.zeros_like, ones_like=np.ones_like, unbroadcast=unbroadcast, exp=np.exp, diag=np.diag,
        eye=lambda shape: np.eye(shape[0]), eq=lambda x, y: (x == y).astype(float), scatter_into=scatter_into,
        permutation=permutation, selection=selection, inv=np.linalg.inv, prod_others=_others, rcumsum=rcumsum,
        trace=np.trace, flatten=np.ravel, cumsum=lambda x, axis=None: np.cumsum(x) if axis is None else np.cumsum(x, axis),
        hstack=lambda *xs: np.hstack(list(xs)), vstack=lambda *xs: np.vstack(list(xs)),
        expand_to=lambda g, shape, axis: np.broadcast_to(g, shape), take_at=lambda x, where: x[where],
        times=lambda a, b: a * b,
        gather=lambda x, idx: _kernels().gather_rows(x, idx), pick=lambda s, y: _kernels().pick(s, y),
        onehot=lambda y, c: _kernels().onehot(y, c),
        scatter_add_rows=lambda g, shape, idx: _kernels().scatter_add_rows(g, shape, idx),
    )


def _kernels():
    from ...backends import tensor_kernels

    return tensor_kernels

"""The matrix rules of the structural ops: what the engine runs and the explanations print.

Each structural op (``matmul``, ``softmax``, ``index``, ...) has its rule here, as the
lecture writes it -- ``W̄ += v̄ xᵀ``, ``z̄ = s ∘ (s̄ − ⟨s̄, s⟩)`` -- with its local
Jacobian and structure (``diag(σ'(z))``, ``I ⊗ xᵀ``) and its tangent rule (``v̇ = Ẇ x + W ẋ``).
The op's row in `gradcli.core.ops` points to it: the row's VJP and JVP evaluate the rule
(`adjoint`, `tangent`; imported at their first call) unless the row names a hand-tuned kernel.  Each
rule is a small expression tree (`gradcli.core.formula.Expr`) that renders itself as
text, LaTeX, gradcli syntax and Python *and evaluates itself on a backend*;
``tests/test_rules.py`` evaluates every printed rule at random shapes and points against
the op row's VJP and JVP (so a kernel cannot drift from its rule) and the rule-made ones
against central differences.  `--steps`, `--edges`, `--paths` and ``diff`` print them.

Leaves of a rule: ``G`` (the output's adjoint, printed ``v̄``), ``X0``/``X1`` (the
arguments, printed by their labels), ``OUT`` (the output), ``P0``/``P1`` (an
elementwise op's partials, printed from the op row's partials), ``N`` (an element
count).  In a product, a vector is a column (``v̄ xᵀ`` is 3×1 · 1×2 → 3×2); a
reduction's adjoint and output are read with the reduced axis kept, so they broadcast
back.  NumPy is imported only when a rule is evaluated.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, NamedTuple, Optional

from .elements import index_text, permutation_axes
from .formula import Expr, call, numpy_backend


def _column(x):
    return x.reshape(-1, 1) if x.ndim == 1 else x


def _leaf(key: str) -> Expr:
    return Expr("leaf", key=key)


G, X0, X1, OUT, N, P0, P1 = (_leaf(k) for k in ("g", "x0", "x1", "out", "n", "p0", "p1"))
ONES, EYE, PERM, SELECT = Expr("ones"), Expr("eye"), Expr("perm"), Expr("select")


def scale(a: Expr, b: Expr) -> Expr:
    return Expr("scale", a, b)


def kron(a: Expr, b: Expr) -> Expr:
    return Expr("kron", a, b)


def inner(a: Expr, b: Expr) -> Expr:
    return Expr("inner", a, b)


def total(a: Expr) -> Expr:
    return Expr("total", a)


def exp(a: Expr) -> Expr:
    return Expr("func", a, key="exp")


def row(a: Expr) -> Expr:
    """aᵀ for an argument of any shape: its elements, row-major, as one row."""
    return Expr("row", a)


def diag(a: Expr) -> Expr:
    return Expr("diag", a)


def indicator(a: Expr, b: Expr) -> Expr:
    return Expr("eq", a, b)


class Rule(NamedTuple):
    """One argument's rule: its adjoint contribution, its local Jacobian, and words.

    ``jacobian`` is ∂out/∂arg as a matrix (output elements × argument elements, both
    read row-major); ``eye`` says which identity ``I`` it uses (0: the output's
    length, 1: the argument's, or a fixed axis length); ``structure`` says what the
    Jacobian looks like; ``note`` is printed after the rule.
    """

    adjoint: Expr
    jacobian: Optional[Expr]
    structure: str
    note: str = ""
    #: the adjoint is written into part of the argument: ``x̄[i] += ḡ``
    scatter: bool = False
    #: which dimension the I of the Jacobian has: ("out", k) or ("arg", k) -> shape[k]
    eye: tuple = ()


# ---- the table: op -> case -> one Rule per argument -------------------------------------
# cases of matmul/dot by the arguments' ranks
_MATMUL = {
    (2, 1): (Rule(G @ X1.T, kron(EYE, X1.T), "sparse: {x0} read as a vector (row-major), row i holds {x1}ᵀ in block i",
                  eye=("out", 0)),
             Rule(X0.T @ G, X0, "dense")),
    (1, 2): (Rule(X1 @ G, X1.T, "dense"),
             Rule(X0 @ G.T, kron(X0.T, EYE), "sparse: row j holds {x0}ᵀ spread with stride {n_out} ({x1} read row-major)",
                  eye=("out", 0))),
    (2, 2): (Rule(G @ X1.T, kron(EYE, X1.T), "sparse: block diagonal, one {x1}ᵀ block per row of {x0}",
                  eye=("arg", 0)),
             Rule(X0.T @ G, kron(X0, EYE), "sparse: {x0} ⊗ I", eye=("out", 1))),
    (1, 1): (Rule(scale(G, X1), X1.T, "dense row"),
             Rule(scale(G, X0), X0.T, "dense row")),
}
_MATMUL[(0, 0)] = (Rule(scale(G, X1), X1, "scalars"), Rule(scale(G, X0), X0, "scalars"))  # dot(3, 3) = 9


def _matmul_rules(shapes: tuple) -> tuple:
    """matmul/dot by the arguments' ranks; a scalar operand scales the other (as np.dot allows)."""
    r0, r1 = len(shapes[0]), len(shapes[1])
    if r0 == 0 and r1:  # s · X
        return (Rule(inner(G, X1), Expr("col", X1), "dense column", "summed over every element"),
                Rule(scale(X0, G), scale(X0, EYE), "{x0} times the identity", eye=("arg", -1)))
    if r1 == 0 and r0:  # X · s
        return (Rule(scale(X1, G), scale(X1, EYE), "{x1} times the identity", eye=("arg", -1)),
                Rule(inner(G, X0), Expr("col", X0), "dense column", "summed over every element"))
    return _MATMUL[(r0, r1)]

_REDUCE_NOTE = "broadcast back to the shape of {arg}"


def _blocks(shape: tuple, axis) -> str:
    """The Jacobian of a softmax along `axis`: one dense block per slice along it."""
    if len(shape) < 2:  # a scalar (a vector is written by the caller)
        return "dense"
    k = (-1 if axis is None else axis) % len(shape)
    if len(shape) == 2 and k == 1:
        return "block diagonal, one block per row"
    return f"sparse: one dense block per slice along axis {k}"


def _along(shape: tuple, axis, what: str, sep: str = "") -> str:
    """``⟨ , ⟩ along axis 1``: where a rule's inner product or sum runs, for arrays of rank ≥ 2
    (a vector has one axis: nothing to say)."""
    if len(shape) < 2:
        return ""
    return f"{sep}{what} along axis {(-1 if axis is None else axis) % len(shape)}, kept to broadcast back"


def _reduced_along(shape: tuple, axis) -> str:
    """`` (along axis 1, as mean(x))``: where var/std average, when an axis is written."""
    if axis is None or len(shape) < 2:
        return ""
    return f" (along axis {axis % len(shape)}, as mean({{arg}}) is)"


def _extreme_rule(which: str, shape: tuple, axis) -> tuple:
    """amax/amin: the adjoint goes to the extreme element (of all, or of each slice along the
    axis); tied extremes share it evenly."""
    hits = indicator(X0, OUT)
    if axis is not None and shape:
        axis %= len(shape)
    if axis is None or not shape:
        return (Rule(scale(G, hits) / total(hits), row(hits) / total(hits), f"sparse row: 1 at the {which} element",
                     "tied elements share it evenly"),)
    return (Rule(scale(G, hits) / total(hits), None, f"sparse: one 1 per slice along axis {axis}, at its {which} element",
                 f"Σ along axis {axis}, {{out}} and the adjoint read with that axis kept, broadcast back to the "
                 "shape of {arg}; tied elements of a slice share it evenly"),)

RULES: dict[str, Callable[[tuple, object], tuple]] = {
    "matmul": lambda shapes, p: _matmul_rules(shapes),
    "dot": lambda shapes, p: _matmul_rules(shapes),
    "outer": lambda shapes, p: (
        Rule(G @ X1, kron(EYE, X1), "sparse: block i is the column {x1}", eye=("arg", 0)),
        Rule(G.T @ X0, kron(X0, EYE), "sparse: {x0} ⊗ I", eye=("arg", 0)),
    ),
    "transpose": lambda shapes, p: _transpose_rules(shapes, p),
    "sum": lambda shapes, p: (
        Rule(scale(G, ONES), row(ONES) if p is None else None, "dense row of ones" if p is None else "sparse: 0/1",
             _REDUCE_NOTE),),
    "mean": lambda shapes, p: (
        Rule(scale(G, ONES) / N, row(ONES) / N if p is None else None,
             "dense row, every entry 1/n" if p is None else "sparse: 0 or 1/n", _REDUCE_NOTE + ", ÷ n"),),
    "norm": lambda shapes, p: (Rule(scale(G, X0 / OUT), row(X0 / OUT), "dense row"),),
    "softmax": lambda shapes, p: (
        Rule(OUT * (G - inner(G, OUT)), diag(OUT) - OUT @ OUT.T if len(shapes[0]) == 1 else None,
             "dense, symmetric" if len(shapes[0]) == 1 else _blocks(shapes[0], p), _along(shapes[0], p, "⟨ , ⟩")),),
    "log_softmax": lambda shapes, p: (
        Rule(G - scale(exp(OUT), total(G)), EYE - ONES @ exp(OUT).T if len(shapes[0]) == 1 else None,
             "dense" if len(shapes[0]) == 1 else _blocks(shapes[0], p),
             "exp({out}) = softmax({arg})" + _along(shapes[0], p, "Σ", "; "), eye=("arg", 0)),),
    "logsumexp": lambda shapes, p: (
        Rule(scale(G, exp(X0 - OUT)), row(exp(X0 - OUT)) if p is None else None,
             "dense row: softmax(z)ᵀ" if p is None else "sparse: one softmax row per reduced slice",
             "exp(z − s) = softmax"),),
    "amax": lambda shapes, p: _extreme_rule("largest", shapes[0], p),
    "amin": lambda shapes, p: _extreme_rule("smallest", shapes[0], p),
    "index": lambda shapes, p: (
        Rule(Expr("scatter", G), SELECT, "sparse: the rows of I at [{index}] (a selection)", "the rest gets 0: scatter into zeros",
             scatter=True),),
    "stack": lambda shapes, p: tuple(
        Rule(Expr("pick", G), None, "sparse: a block of I") for _ in shapes),
}


def _permuted(a: Expr, axes: tuple) -> Expr:
    """``transpose(a, 1, 0, 2)``: a with its axes in the order `axes` (numpy.transpose)."""
    return call("transpose", lambda m, x: m.transpose(x, axes), a, extra=", ".join(map(str, axes)))


def _permutation_matrix(axes: tuple) -> Callable:
    """The 0/1 Jacobian of ``transpose(x, *axes)``: row i has its 1 at the element of x that
    output element i is (both read row-major)."""

    def build(env: dict):
        import numpy as np

        n = int(np.prod(env["arg_shape"]))
        return np.eye(n)[np.arange(n).reshape(env["arg_shape"]).transpose(axes).ravel()]

    return build


def _transpose_rules(shapes: tuple, axes) -> tuple:
    """x.T, transpose(x): reverse the axes, and the adjoint reversed back; transpose(x, a0, a1, ...):
    the adjoint is put back by the inverse order (argsort of the axes)."""
    if axes is None:
        return (Rule(G.T, PERM, "permutation", "" if len(shapes[0]) <= 2 else "ᵀ reverses the order of all the axes, as NumPy's .T"),)
    order = permutation_axes(tuple(shapes[0]), axes)
    back = tuple(sorted(range(len(order)), key=order.__getitem__))
    return (Rule(_permuted(G, back), Expr("embed", key="P", data=_permutation_matrix(order)),
                 "permutation", f"the inverse order ({', '.join(map(str, back))}) puts each axis back"),)


def elementwise_rule(k: int, broadcast: object, unit: float = 0.0) -> Rule:
    """Argument `k` of an elementwise op: ``x̄ += ḡ ∘ ∂y/∂x``, summed over broadcast axes.

    `broadcast` is false, true, or ``"scalar"`` (a scalar argument spread over an array).

    `unit` is a constant partial of +1 or -1 (add, sub, neg): then just ``ḡ`` or ``−ḡ``.
    """
    p = _leaf(f"p{k}")  # where(c, a, b) and clip(x, lo, hi) have a third argument
    adjoint = G if unit == 1.0 else Expr("neg", G) if unit == -1.0 else G * p
    if broadcast == "scalar":  # a scalar spread over the whole output: a column
        column = Expr("col", Expr("ones") if unit else p)
        return Rule(Expr("sumto", adjoint), Expr("neg", column) if unit == -1.0 else column, "dense column",
                    "summed over the broadcast axes")
    if broadcast:
        return Rule(Expr("sumto", adjoint), None, "sparse: one entry per broadcast copy",
                    "summed over the broadcast axes")
    if unit:
        return Rule(adjoint, EYE if unit == 1.0 else Expr("neg", EYE), "identity" if unit == 1.0 else "minus the identity",
                    eye=("arg", -1))
    return Rule(adjoint, diag(p), "diagonal")


# ---- the rules of the shape and linear-algebra ops ----------------------------------------
INV, INVT = Expr("inv", X0), Expr("invT", X0)


def _slice_text(start: int, stop: int) -> str:
    return str(start) if stop == start + 1 else f"{start}:{stop}"


def _embedding(where: tuple) -> Callable:
    """The 0/1 Jacobian of an argument copied into ``out[where]``: one 1 per argument element."""

    def build(env: dict):
        import numpy as np

        rows = int(np.prod(env["out_shape"]))
        cols = int(np.prod(env["arg_shape"]))
        j = np.zeros((rows, cols))
        j[np.ravel(np.arange(rows).reshape(env["out_shape"])[where]), np.arange(cols)] = 1.0
        return j

    return build


def _join_rules(shapes: tuple, rows: bool) -> tuple:
    """hstack (rows=False) and vstack (rows=True): each argument gets its slice of ȳ."""
    flat = not rows and all(len(s) <= 1 for s in shapes)
    out, start = [], 0
    for s in shapes:
        if flat:  # vectors (and scalars) end to end: ȳ[2:5]
            width = (s or (1,))[0]
            where: tuple = (slice(start, start + width),)
            text = f"[{_slice_text(start, start + width)}]"
        elif not rows:  # matrices side by side: ȳ[:, 2:5]
            width = s[1]
            where = (slice(None), slice(start, start + width))
            text = f"[:, {_slice_text(start, start + width)}]"
        elif len(s) == 2:  # matrices on top of each other: ȳ[2:4]
            width = s[0]
            where = (slice(start, start + width),)
            text = f"[{_slice_text(start, start + width)}]"
        else:  # a vector is one row of the result, a scalar one element: ȳ[2], ȳ[2, 0]
            width = 1
            where = (start,) if s else (start, 0)
            text = f"[{start}]" if s else f"[{start}, 0]"
        out.append(Rule(Expr("part", G, key=text, data=where), Expr("embed", key="E", data=_embedding(where)),
                        f"sparse: 0/1, the argument placed at {text} of the result",
                        "each argument gets its own slice of the adjoint"))
        start += width
    return tuple(out)


def _reshape_rule(shapes: tuple) -> tuple:
    shape = tuple(shapes[0])
    back = Expr("reshape", G, key=shape_text(shape), data=shape)
    return (Rule(back, EYE, "identity: the same elements in the same row-major order",
                 "the adjoint read back in the shape of {arg}", eye=("arg", -1)),)


def _diag_rules(shapes: tuple) -> tuple:
    n = shapes[0][0]
    on_diagonal = (tuple(range(n)), tuple(range(n)))
    if len(shapes[0]) == 1:  # Y = diag(v): v̄ gets the diagonal of Ȳ
        return (Rule(Expr("diagof", G), Expr("embed", key="E", data=_embedding(on_diagonal)),
                     "sparse: 0/1, column i has its 1 at element [i, i] of the result (read row-major)", "the diagonal of the adjoint"),)
    # y = diag(X): X̄ gets the diagonal matrix of ȳ
    pick = Expr("embed", key="E", data=lambda env: _embedding(on_diagonal)(
        dict(env, out_shape=env["arg_shape"], arg_shape=env["out_shape"])).T)
    return (Rule(diag(G), pick, "sparse: 0/1, row i has its 1 at {x0}[i, i] (read row-major)",
                 "off the diagonal {arg} gets 0"),)


def _lower_ones(env: dict):
    import numpy as np

    n = int(np.prod(env["arg_shape"]))
    return np.tril(np.ones((n, n)))


def _cumsum_rule(shapes: tuple, axis) -> tuple:
    whole = axis is None or len(shapes[0]) == 1
    return (Rule(Expr("rcumsum", G), Expr("embed", key="L", data=_lower_ones) if whole else None,
                 "lower triangular, all ones (L)" if whole else f"sparse: a lower triangle of ones along axis {axis}",
                 "sums from the end: element i gets the adjoint's elements i, i+1, … added up" + ("" if axis is None or len(shapes[0]) == 1 else f" along axis {axis}")
                 + (", over {arg} read row-major" if axis is None and len(shapes[0]) > 1 else "")),)


_MEANX = Expr("mean", X0)
_TWO = Expr("num", key="2", data=2.0)


def _solve_rules(shapes: tuple) -> tuple:
    matrix = len(shapes[1]) == 2
    return (
        Rule(Expr("neg", INVT @ G) @ OUT.T, kron(Expr("neg", INV), OUT.T),
             "dense ({x0} read row-major)"),
        Rule(INVT @ G, kron(INV, EYE) if matrix else INV, "sparse: {x0}⁻¹ ⊗ I" if matrix else "dense",
             eye=("arg", 1) if matrix else ()),
    )


RULES.update({
    "reshape": lambda shapes, p: _reshape_rule(shapes),
    "flatten": lambda shapes, p: _reshape_rule(shapes),
    "hstack": lambda shapes, p: _join_rules(shapes, rows=False),
    "vstack": lambda shapes, p: _join_rules(shapes, rows=True),
    "diag": lambda shapes, p: _diag_rules(shapes),
    "cumsum": lambda shapes, p: _cumsum_rule(shapes, p),
    "prod": lambda shapes, p: (
        Rule(scale(G, Expr("others", X0)), row(Expr("others", X0)) if p is None else None,
             "dense row" if p is None else "sparse: one dense row per reduced slice",
             "the product of the other elements (the product ÷ {arg}ᵢ where {arg}ᵢ ≠ 0)"),),
    "var": lambda shapes, p: (
        Rule(scale(scale(G, _TWO), X0 - _MEANX) / N, row(scale(_TWO, X0 - _MEANX) / N) if p is None else None,
             "dense row" if p is None else "sparse: one dense row per reduced slice",
             "n = the number averaged over" + _reduced_along(shapes[0], p)),),
    "std": lambda shapes, p: (
        Rule(scale(G, X0 - _MEANX) / scale(N, OUT), row((X0 - _MEANX) / scale(N, OUT)) if p is None else None,
             "dense row" if p is None else "sparse: one dense row per reduced slice",
             "n = the number averaged over" + _reduced_along(shapes[0], p) + "; 0 where the std is 0"),),
    "trace": lambda shapes, p: (
        Rule(scale(G, EYE), Expr("vec", EYE), "sparse row: 1 at each diagonal element (read row-major)",
             eye=("arg", 0)),),
    "det": lambda shapes, p: (
        Rule(scale(scale(G, OUT), INVT), scale(OUT, Expr("vec", INVT)), "dense row ({x0} read row-major)",
             "det({arg}) {arg}⁻ᵀ = the cofactor matrix of {arg} (gradcli's, exact when {arg} is singular too)"),),
    "logdet": lambda shapes, p: (
        Rule(scale(G, INVT), Expr("vec", INVT), "dense row ({x0} read row-major)"),),
    "inv": lambda shapes, p: (
        Rule(Expr("neg", OUT.T) @ G @ OUT.T, kron(Expr("neg", OUT), OUT.T),
             "dense ({x0} read row-major)", "the output is {arg}⁻¹"),),
    "solve": lambda shapes, p: _solve_rules(shapes),
})


# ---- integer indices: gather (x[idx]), pick, onehot -----------------------------------------------
# The integer argument is data: its rule is 0 ("no gradient"), and the tables say so.

def _no_gradient(shape: tuple, what: str) -> Rule:
    return Rule(Expr("zero", data=tuple(shape)), None, f"none: {what} is data (integers)",
                "no gradient flows to integer data")


def _gather_selection(env: dict):
    """∂x[idx]/∂x: row k·D + d has its 1 at element idx[k]·D + d of x (a selection; rows repeat)."""
    import numpy as np

    shape = tuple(env["arg_shape"])
    rows = np.asarray(env["x1"], dtype=float).astype(np.int64).ravel()
    width = _size(shape[1:])
    return np.kron(np.eye(shape[0])[rows], np.eye(width))


def _gather_rules(shapes: tuple) -> tuple:
    x, idx = (tuple(s) for s in shapes)
    return (Rule(call("scatter_add", lambda m, g, i: m.scatter_add_rows(g, x, i), G, X1),
                 Expr("embed", key="S", data=_gather_selection),
                 "sparse: 0/1, the rows of I at [{x1}] (a selection; a repeated index repeats a row)",
                 "a scatter-add: ḡ[k] is added into row idx[k] of the adjoint of {arg}, so a repeated index sums"),
            _no_gradient(idx, "{x1}"))


def _pick_jacobian(env: dict):
    """∂pick(S, y)/∂S: row i has its 1 at element (i, y[i]) of S (read row-major)."""
    import numpy as np

    n, c = env["arg_shape"]
    labels = np.asarray(env["x1"], dtype=float).astype(np.int64).ravel()
    j = np.zeros((n, n * c))
    j[np.arange(n), np.arange(n) * c + labels] = 1.0
    return j


def _pick_rules(shapes: tuple) -> tuple:
    s, y = (tuple(v) for v in shapes)
    classes = s[1] if len(s) == 2 else 1
    hot = call("onehot", lambda m, labels: m.onehot(labels, classes), X1, extra=str(classes))
    return (Rule(hot * Expr("col", G), Expr("embed", key="E", data=_pick_jacobian),
                 "sparse: row i has one 1, at {x0}[i, {x1}[i]] (read row-major)",
                 "a one-hot scatter: ḡᵢ goes to column yᵢ of row i of the adjoint of {arg}, the rest gets 0"),
            _no_gradient(y, "{x1}"))


RULES.update({
    "gather": lambda shapes, p: _gather_rules(shapes),
    "pick": lambda shapes, p: _pick_rules(shapes),
    "onehot": lambda shapes, p: (_no_gradient(tuple(shapes[0]), "{x0}"),),
})


# ---- convolution and pooling (issue 23) ---------------------------------------------------
# The rules as the lecture states them, each evaluated by a direct NumPy reading of its words
# (`_full_corr`, `_corr_batch`, `_to_max`, `_spread`), independent of the row's kernels
# (gradcli.backends.tensor_kernels, im2col): tests/test_conv.py checks kernel == rule.

def _strided_text(stride: int, pad: int, what: str = "pad") -> str:
    """``stride 2, pad 1``: the literals the rule needs, the defaults left out."""
    words = ([f"stride {stride}"] if stride != 1 else []) + ([f"{what} {pad}"] if pad else [])
    return ", ".join(words)


def _as_2d(x, rank: int):
    """A conv1d array (…, L) read as a conv2d one (…, 1, L)."""
    return x if rank == 2 else x[..., None, :]


def _full_corr(stride: int, pad: int, rank: int) -> Callable:
    """x̄ = the full cross-correlation of ȳ with the flipped kernel, cropped by `pad`: ȳ
    dilated by the stride, padded by K − 1 on each side, correlated with flip(w) (channels
    swapped), and the padding cut off again."""
    def value(m, g, wf):
        import numpy as np

        g, wf = np.asarray(g, dtype=float), np.asarray(wf, dtype=float)
        batched = g.ndim == rank + 2
        g4 = _as_2d(g if batched else g[None], rank)
        w4 = _as_2d(wf, rank)
        n, f, ho, wo = g4.shape
        kh, kw = w4.shape[2:]
        dil = np.zeros((n, f, (ho - 1) * stride + 1, (wo - 1) * stride + 1))
        dil[:, :, ::stride, ::stride] = g4
        full = np.pad(dil, ((0, 0), (0, 0), (kh - 1, kh - 1), (kw - 1, kw - 1)))
        c = w4.shape[1]
        hp, wp = full.shape[2] - kh + 1, full.shape[3] - kw + 1
        x = np.zeros((n, c, hp, wp))
        for p in range(kh):  # Σ over the kernel's offsets (p, q): the correlation
            for q in range(kw):
                x += np.einsum("nfij,fc->ncij", full[:, :, p:p + hp, q:q + wp], w4[:, :, p, q])
        ph = pad if rank == 2 else 0
        x = x[:, :, ph:hp - ph, pad:wp - pad]
        x = x if rank == 2 else x[:, :, 0, :]
        return x if batched else x[0]

    return value


def _flip(m, w):
    """The kernel turned by 180° in its spatial axes: w[f, c, KH−1−p, KW−1−q]."""
    import numpy as np

    w = np.asarray(w, dtype=float)
    return w[..., ::-1, ::-1] if w.ndim == 4 else w[..., ::-1]


def _corr_batch(stride: int, pad: int, rank: int) -> Callable:
    """w̄ = Σₙ the cross-correlation of the padded x with ȳ: w̄[f,c,p,q] = Σ_{n,i,j}
    x̃[n, c, i·s + p, j·s + q] ȳ[n, f, i, j]."""
    def value(m, x, g):
        import numpy as np

        x, g = np.asarray(x, dtype=float), np.asarray(g, dtype=float)
        if x.ndim == rank + 1:
            x, g = x[None], g[None]
        x4, g4 = _as_2d(x, rank), _as_2d(g, rank)
        ph = pad if rank == 2 else 0
        xp = np.pad(x4, ((0, 0), (0, 0), (ph, ph), (pad, pad)))
        ho, wo = g4.shape[2:]
        kh = xp.shape[2] - (ho - 1) * stride
        kw = xp.shape[3] - (wo - 1) * stride
        w = np.zeros((g4.shape[1], x4.shape[1], kh, kw))
        for p in range(kh):
            for q in range(kw):
                window = xp[:, :, p:p + (ho - 1) * stride + 1:stride, q:q + (wo - 1) * stride + 1:stride]
                w[:, :, p, q] = np.einsum("ncij,nfij->fc", window, g4)
        return w if rank == 2 else w[:, :, 0, :]

    return value


def _conv_of(stride: int, pad: int, rank: int) -> Callable:
    """The convolution itself, read off its definition: y[n,f,i,j] = Σ_{c,p,q} x̃[n,c,i·s+p,j·s+q]
    w[f,c,p,q], one sum per kernel offset (p, q) (its tangent is linear in each argument)."""
    def value(m, x, w):
        import numpy as np

        x, w = np.asarray(x, dtype=float), np.asarray(w, dtype=float)
        batched = x.ndim == rank + 2
        x4, w4 = _as_2d(x if batched else x[None], rank), _as_2d(w, rank)
        ph = pad if rank == 2 else 0
        xp = np.pad(x4, ((0, 0), (0, 0), (ph, ph), (pad, pad)))
        kh, kw = w4.shape[2:]
        ho, wo = (xp.shape[2] - kh) // stride + 1, (xp.shape[3] - kw) // stride + 1
        y = np.zeros((x4.shape[0], w4.shape[0], ho, wo))
        for p in range(kh):
            for q in range(kw):
                window = xp[:, :, p:p + (ho - 1) * stride + 1:stride, q:q + (wo - 1) * stride + 1:stride]
                y += np.einsum("ncij,fc->nfij", window, w4[:, :, p, q])
        y = y if rank == 2 else y[:, :, 0, :]
        return y if batched else y[0]

    return value


def _windows_of(x, k: int, stride: int):
    """(N, C, H', W', k·k): every window of an (N, C, H, W) array, flattened row-major."""
    import numpy as np

    n, c, h, w = x.shape
    ho, wo = (h - k) // stride + 1, (w - k) // stride + 1
    out = np.empty((n, c, ho, wo, k * k))
    for p in range(k):
        for q in range(k):
            out[..., p * k + q] = x[:, :, p:p + (ho - 1) * stride + 1:stride, q:q + (wo - 1) * stride + 1:stride]
    return out


def _scatter_windows(parts, shape: tuple, k: int, stride: int):
    """The inverse of `_windows_of`: each window's k·k values added back where they came from."""
    import numpy as np

    x = np.zeros(shape)
    ho, wo = parts.shape[2:4]
    for p in range(k):
        for q in range(k):
            x[:, :, p:p + (ho - 1) * stride + 1:stride, q:q + (wo - 1) * stride + 1:stride] += parts[..., p * k + q]
    return x


def _batched(f: Callable) -> Callable:
    """Run a pooling rule on (N, C, H, W), accepting (C, H, W) too."""
    def value(m, *xs):
        import numpy as np

        xs = [np.asarray(x, dtype=float) for x in xs]
        single = xs[-1].ndim == 3
        out = f(*[x[None] for x in xs] if single else xs)
        return out[0] if single else out

    return value


def _to_max(k: int, stride: int) -> Callable:
    """x̄: each window's ȳ goes to its (first) maximum: a one-hot per window, scattered back."""
    def value(g, x):
        import numpy as np

        win = _windows_of(x, k, stride)
        hot = np.eye(k * k)[np.argmax(win, axis=-1)]  # argmax: the first maximum, row-major
        return _scatter_windows(hot * g[..., None], x.shape, k, stride)

    return _batched(value)


def _at_max(k: int, stride: int) -> Callable:
    """ẏ: each window's tangent is ẋ at its (first) maximum."""
    def value(t, x):
        import numpy as np

        first = np.argmax(_windows_of(x, k, stride), axis=-1)[..., None]
        return np.take_along_axis(_windows_of(t, k, stride), first, axis=-1)[..., 0]

    return _batched(value)


def _spread(k: int, stride: int, shape_of_x: tuple) -> Callable:
    """x̄: each window's ȳ spread evenly, 1/k² to each of its k·k elements."""
    def value(m, g):
        import numpy as np

        g = np.asarray(g, dtype=float)
        single = g.ndim == 3
        g4 = g[None] if single else g
        x4 = (1, *shape_of_x) if single else shape_of_x
        parts = np.repeat(g4[..., None], k * k, axis=-1) / (k * k)
        x = _scatter_windows(parts, x4, k, stride)
        return x[0] if single else x

    return value


def _window_mean(k: int, stride: int) -> Callable:
    return _batched(lambda t: _windows_of(t, k, stride).mean(axis=-1))


def _conv_rules(shapes: tuple, p, rank: int) -> tuple:
    stride, pad = p
    extra = _strided_text(stride, pad)
    flipped = call("flip", _flip, X1)
    kernel = "KH×KW" if rank == 2 else "K"
    return (
        Rule(call("full_corr", _full_corr(stride, pad, rank), G, flipped, extra=extra), None,
             "sparse: banded, each output element reads one window of {x0}",
             "the full cross-correlation of the adjoint with the flipped kernel (a full convolution with the kernel)"
             + (", the adjoint dilated by the stride" if stride > 1 else "") + (", cropped by the padding" if pad else "")),
        Rule(call("corr", _corr_batch(stride, pad, rank), X0, G, extra=extra), None,
             f"dense: each {kernel} weight reads every window of {{x0}}",
             "the cross-correlation of the input" + (" (zero-padded)" if pad else "")
             + " with the adjoint, summed over the batch"),
    )


def _pool_rules(op: str, shapes: tuple, p) -> tuple:
    k, stride = p
    extra = f"{k}×{k}" + (f", stride {stride}" if stride != k else "")
    if op == "maxpool2d":
        return (Rule(call("to_max", lambda m, g, x: _to_max(k, stride)(m, g, x), G, X0, extra=extra), None,
                     "sparse: one 1 per window, at its maximum",
                     "each window's gradient goes to its maximum (the first one on a tie, as PyTorch)"),)
    return (Rule(call("spread", _spread(k, stride, tuple(shapes[0])), G, extra=extra), None,
                 f"sparse: 1/{k * k} at each element of the window",
                 f"average pooling spreads each window's gradient evenly, 1/{k * k} to each element"),)


RULES.update({
    "conv2d": lambda shapes, p: _conv_rules(shapes, p, 2),
    "conv1d": lambda shapes, p: _conv_rules(shapes, p, 1),
    "maxpool2d": lambda shapes, p: _pool_rules("maxpool2d", shapes, p),
    "avgpool2d": lambda shapes, p: _pool_rules("avgpool2d", shapes, p),
})


def rules_for(op: str, shapes: tuple, param: object) -> Optional[tuple]:
    """The rules of a structural op's arguments at these argument shapes, or None."""
    make = RULES.get(op)
    return None if make is None else make(tuple(shapes), param)


REDUCTIONS_WITH_AXIS = {"sum", "mean", "logsumexp", "prod", "var", "std", "amax", "amin"}


def environment(op: str, k: int, xs: list, out, g, param, partials: Optional[list] = None, m: Any = None) -> dict:
    """The values a rule of argument `k` reads: ``g``, ``x0``, ``x1``, ``out``, ``p0``...

    `m` is the backend the values live on (NumPy when None; dual numbers, source code)."""
    if m is None:
        m = numpy_backend()
    arg_shape = tuple(m.shape(xs[k]))
    out_shape = tuple(m.shape(out))
    env: dict = {"x0": xs[0], "x1": xs[1] if len(xs) > 1 else 0.0, "out": out,
                 "g": 0.0 if g is None else g, "arg_shape": arg_shape, "out_shape": out_shape, "k": k}
    if op in REDUCTIONS_WITH_AXIS and param is not None:
        axis = param % len(arg_shape)
        kept = out_shape[:axis] + (1,) + out_shape[axis:]  # the reduced axis kept: it broadcasts back
        env["out"] = m.reshape(out, kept)
        if g is not None:
            env["g"] = m.reshape(g, kept)
    if op in ("softmax", "log_softmax"):
        env["axis"] = param
    if op in ("prod", "var", "std", "cumsum", "amax", "amin") and param is not None:
        env["axis"] = param % len(arg_shape)
    if op in ("mean", "var", "std"):
        env["n"] = float(_size(arg_shape) if param is None else arg_shape[param])
    if op == "index":
        env["index"] = tuple(slice(*i[1:]) if isinstance(i, tuple) else i for i in param)  # type: ignore[union-attr]
    if partials:
        import numpy as np

        for j, p in enumerate(partials):
            if p is not None:
                env[f"p{j}"] = np.broadcast_to(p, out_shape)
    return env


def _size(shape: tuple) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


# ---- the rules as the engine's source ---------------------------------------------------------
# An op row without a hand-tuned kernel gets its VJP and JVP from here: they evaluate the
# rule (the same tree `--steps` prints) on the backend the engine runs (NumPy arrays, dual
# numbers for Hessians, source code for `gradcli export`).  The rules of one op at one set
# of argument shapes are built once and kept.

@functools.lru_cache(maxsize=1024)
def _cached_rules(op: str, shapes: tuple, param: object) -> tuple:
    return rules_for(op, shapes, param) or ()


def _rules_at(op: str, shapes: tuple, param: object) -> tuple:
    try:
        return _cached_rules(op, shapes, param)
    except TypeError:  # a parameter that cannot be a key (a list): build the rules afresh
        return rules_for(op, shapes, param) or ()


def adjoint(op: str, k: int, m: Any, g, xs: list, out, param):
    """Argument `k`'s cotangent of `op` given the output's ``g``, from the op's rule evaluated
    on backend `m` (NumPy, dual numbers, export's source text): a structural row's ``vjp``."""
    shapes = tuple(tuple(m.shape(x)) for x in xs)
    rule = _rules_at(op, shapes, param)[k]
    env = environment(op, k, xs, out, g, param, m=m)
    env["eye"] = eye_size(rule, env)
    c = rule.adjoint.value(env, m)
    if tuple(m.shape(c)) != env["arg_shape"]:
        c = m.reshape(c, env["arg_shape"])
    return m.take_at(c, ()) if not env["arg_shape"] else c  # a scalar argument gets a scalar


@functools.lru_cache(maxsize=1024)
def _cached_tangent(op: str, shapes: tuple, param: object) -> Expr:
    return total_of(tangent_terms(op, shapes, param, (True,) * len(shapes)) or [])


def tangent(op: str, m: Any, ts: list, xs: list, out, param):
    """The output's tangent of `op` given its arguments' tangents ``ts``, from the op's tangent
    rule evaluated on backend `m`: a structural row's ``jvp``."""
    shapes = tuple(tuple(m.shape(x)) for x in xs)
    try:
        expr = _cached_tangent(op, shapes, param)
    except TypeError:
        expr = total_of(tangent_terms(op, shapes, param, (True,) * len(shapes)) or [])
    env = tangent_environment(op, xs, out, ts, param, m=m)
    return m.reshape(expr.value(env, m), env["out_shape"])


def eye_size(rule: Rule, env: dict) -> int:
    if not rule.eye:
        return 0
    where, k = rule.eye
    shape = env["out_shape"] if where == "out" else env["arg_shape"]
    if k < 0:
        n = 1
        for d in shape:
            n *= d
        return n
    return int(shape[k]) if shape else 1


def adjoint_value(rule: Rule, env: dict):
    """The rule's adjoint contribution at these values, in the argument's shape."""
    import numpy as np

    v = rule.adjoint.value(dict(env, eye=eye_size(rule, env)))
    return np.reshape(v, env["arg_shape"])


def jacobian_value(rule: Rule, env: dict):
    """The rule's local Jacobian (output elements × argument elements), or None."""
    import numpy as np

    if rule.jacobian is None:
        return None
    env = dict(env, eye=eye_size(rule, env), arg_shape=env["arg_shape"])
    rows = int(np.prod(env["out_shape"]))
    cols = int(np.prod(env["arg_shape"]))
    return np.reshape(rule.jacobian.value(env), (rows, cols))


def shape_text(shape: tuple) -> str:
    return "scalar" if not shape else "×".join(map(str, shape))


def shapes_note(rule: Rule, env: dict) -> str:
    """``3×1 · 1×2 → 3×2``: the shapes a rule's top product multiplies, and the result."""
    import numpy as np

    top = rule.adjoint
    env = dict(env, eye=eye_size(rule, env), shapes_only=True)
    result = shape_text(env["arg_shape"])
    if top.kind == "mm":
        left, right = (np.shape(_column(e.value(env))) for e in top.args)
        return f"{shape_text(left)} · {shape_text(right)} → {result}"
    if top.kind in ("had", "scale"):
        sym = " ∘ " if top.kind == "had" else " · "
        return sym.join(shape_text(np.shape(e.value(env))) for e in top.args) + f" → {result}"
    if top.kind == "call" and top.key in _SHAPED_CALLS:  # full_corr(ȳ, flip(w)): ȳ's and w's shapes
        return ", ".join(shape_text(np.shape(e.value(env))) for e in top.args) + f" → {result}"
    return f"→ {result}"


#: the calls of the convolution and pooling rules, whose arguments' shapes the note shows
_SHAPED_CALLS = {"full_corr", "corr", "to_max", "spread", "conv2d", "conv1d", "at_max", "avgpool2d"}


# ---- tangent rules: forward mode in matrix form ---------------------------------------------
# The JVP of a structural op, one term per argument, as the lecture writes forward mode:
# ``v̇ = Ẇ x + W ẋ``.  Leaves ``t0``, ``t1``, ... are the arguments' tangents (printed ``Ẇ``,
# ``ẋ``); the other leaves are those of the adjoint rules.  ``tests/test_rules.py`` evaluates
# every tangent rule at random shapes and points against the op row's ``jvp``.

def tangent_leaf(k: int) -> Expr:
    return _leaf(f"t{k}")


T0, T1 = tangent_leaf(0), tangent_leaf(1)


_call = call


def _rsum(a: Expr, axis) -> Expr:
    return Expr("rsum", a, data=axis)


def _np(name: str) -> Callable:
    """The backend's function `name`, looked up when the rule is evaluated."""
    return lambda m, *xs: getattr(m, name)(*xs)


def _cumsum(axis) -> Callable:
    return lambda m, x: m.cumsum(x, axis)


def _matmul_tangent(shapes: tuple, p) -> tuple:
    r0, r1 = len(shapes[0]), len(shapes[1])
    if r0 == 0 or r1 == 0:  # a scalar operand scales (np.dot)
        return (scale(T0, X1), scale(X0, T1))
    if r0 == 1:  # a row on the left: ẋᵀ W + xᵀ Ẇ (and u̇ᵀ v + uᵀ v̇ for two vectors)
        return (T0.T @ X1, X0.T @ T1)
    return (T0 @ X1, X0 @ T1)


def _index_tangent(shapes: tuple, p) -> tuple:
    where = tuple(slice(*i[1:]) if isinstance(i, tuple) else i for i in p)
    return (Expr("part", T0, key=f"[{index_text(p)}]", data=where),)


def _reshape_tangent(shapes: tuple, p) -> tuple:
    size = 1
    for d in shapes[0]:
        size *= d
    known = 1
    for d in p:
        known *= d if d != -1 else 1
    shape = tuple(size // known if d == -1 else d for d in p)
    return (Expr("reshape", T0, key=shape_text(shape), data=shape),)


def _solve_tangent(shapes: tuple, p) -> tuple:
    return (Expr("neg", INV @ T0 @ OUT), INV @ T1)


#: op -> (argument shapes, param) -> one term per argument: what that argument's tangent adds
#: to the output's.  Ops whose terms are not a sum (stack, hstack, vstack) are in `JOINS`.
TANGENTS: dict[str, Callable[[tuple, object], tuple]] = {
    "matmul": _matmul_tangent,
    "dot": _matmul_tangent,
    "outer": lambda shapes, p: (T0 @ X1.T, X0 @ T1.T),
    "transpose": lambda shapes, p: (T0.T if p is None else _permuted(T0, permutation_axes(tuple(shapes[0]), p)),),
    "sum": lambda shapes, p: (_rsum(T0, p),),
    "mean": lambda shapes, p: (_rsum(T0, p) / N,),
    "norm": lambda shapes, p: (inner(X0, T0) / OUT,),
    "softmax": lambda shapes, p: (OUT * (T0 - inner(OUT, T0)),),
    "log_softmax": lambda shapes, p: (T0 - inner(exp(OUT), T0),),
    "logsumexp": lambda shapes, p: (inner(exp(X0 - OUT), T0),),
    "amax": lambda shapes, p: (inner(indicator(X0, OUT), T0) / total(indicator(X0, OUT)),),
    "amin": lambda shapes, p: (inner(indicator(X0, OUT), T0) / total(indicator(X0, OUT)),),
    "index": _index_tangent,
    "reshape": _reshape_tangent,
    "flatten": lambda shapes, p: (_call("flatten", _np("flatten"), T0),),
    "diag": lambda shapes, p: (_call("diag", _np("diag"), T0),),
    "trace": lambda shapes, p: (_call("tr", _np("trace"), T0),),
    "cumsum": lambda shapes, p: (_call("cumsum", _cumsum(p), T0, extra="" if p is None else str(p)),),
    "prod": lambda shapes, p: (inner(Expr("others", X0), T0),),
    "var": lambda shapes, p: (scale(_TWO, inner(X0 - _MEANX, T0)) / N,),
    "std": lambda shapes, p: (inner(X0 - _MEANX, T0) / scale(N, OUT),),
    "det": lambda shapes, p: (scale(OUT, _call("tr", _np("trace"), INV @ T0)),),
    "logdet": lambda shapes, p: (_call("tr", _np("trace"), INV @ T0),),
    "inv": lambda shapes, p: (Expr("neg", OUT @ T0 @ OUT),),
    "solve": _solve_tangent,
    "gather": lambda shapes, p: (_call("gather", _np("gather"), T0, X1),
                                 Expr("zero", data=(*shapes[1], *shapes[0][1:]))),
    "pick": lambda shapes, p: (_call("pick", _np("pick"), T0, X1), Expr("zero", data=(shapes[0][0],))),
    "onehot": lambda shapes, p: (Expr("zero", data=(shapes[0][0], p)),),
}



def _conv_tangent(shapes: tuple, p, rank: int) -> tuple:
    stride, pad = p
    extra = _strided_text(stride, pad)
    name = "conv2d" if rank == 2 else "conv1d"
    f = _conv_of(stride, pad, rank)
    return (_call(name, f, T0, X1, extra=extra), _call(name, f, X0, T1, extra=extra))


def _pool_tangent(op: str, shapes: tuple, p) -> tuple:
    k, stride = p
    extra = f"{k}×{k}" + (f", stride {stride}" if stride != k else "")
    if op == "maxpool2d":
        return (_call("at_max", lambda m, t, x: _at_max(k, stride)(m, t, x), T0, X0, extra=extra),)
    return (_call("avgpool2d", lambda m, t: _window_mean(k, stride)(m, t), T0, extra=extra),)


TANGENTS.update({
    "conv2d": lambda shapes, p: _conv_tangent(shapes, p, 2),
    "conv1d": lambda shapes, p: _conv_tangent(shapes, p, 1),
    "maxpool2d": lambda shapes, p: _pool_tangent("maxpool2d", shapes, p),
    "avgpool2d": lambda shapes, p: _pool_tangent("avgpool2d", shapes, p),
})

#: linear ops of several arguments: the output's tangent is the op applied to the tangents
JOINS = {"stack": "list", "hstack": "hstack", "vstack": "vstack"}


def _join_tangent(op: str, shapes: tuple, live: tuple) -> Expr:
    parts = [tangent_leaf(k) if ok else Expr("zero", data=tuple(s)) for k, (s, ok) in enumerate(zip(shapes, live))]
    if op == "stack":
        return Expr("list", *parts)
    return _call(op, _joined(op), *parts)


def _joined(op: str) -> Callable:
    return lambda m, *xs: getattr(m, op)(*xs)


def tangent_terms(op: str, shapes: tuple, param: object, live: tuple) -> Optional[list]:
    """A structural op's tangent as terms to add, one per live argument (a join: one term),
    or None when the op has no tangent rule."""
    if op in JOINS:
        return [_join_tangent(op, tuple(shapes), tuple(live))]
    make = TANGENTS.get(op)
    if make is None:
        return None
    return [t for t, ok in zip(make(tuple(shapes), param), live) if ok]


def elementwise_terms(units: tuple, live: tuple, scalar: bool) -> list:
    """An elementwise op's tangent: ``σ'(z) ∘ ż``; ``v̇ + ḃ``; ``b ∘ ȧ + a ∘ ḃ``.

    `units` holds each argument's constant partial (+1, -1) or 0 for a partial that
    varies (printed from the op row's partials, leaf ``p<k>``); `scalar` writes ``·`` for ``∘``.
    """
    terms = []
    for k, (unit, ok) in enumerate(zip(units, live)):
        if not ok:
            continue
        t = tangent_leaf(k)
        if unit == 1.0:
            terms.append(t)
        elif unit == -1.0:
            terms.append(Expr("neg", t))
        else:
            terms.append(scale(_leaf(f"p{k}"), t) if scalar else _leaf(f"p{k}") * t)
    return terms


def total_of(terms: list) -> Expr:
    """The terms added up (``a − b`` where a term is a negation)."""
    if not terms:
        return Expr("zero", data=())
    e = terms[0]
    for t in terms[1:]:
        e = Expr("sub", e, t.args[0]) if t.kind == "neg" else Expr("add", e, t)
    return e


def tangent_environment(op: str, xs: list, out, ts: list, param, partials: Optional[list] = None,
                        m: Any = None) -> dict:
    """The values a tangent rule reads: the adjoint rules' leaves plus ``t0``, ``t1``, ..."""
    if m is None:
        m = numpy_backend()
    env = environment(op, 0, xs, out, None, param, partials, m=m)
    if op in REDUCTIONS_WITH_AXIS and param is not None:
        env["axis"] = param % len(m.shape(xs[0]))
    for k, t in enumerate(ts):
        env[f"t{k}"] = m.asarray(t)
    return env


def tangent_value(expr: Expr, env: dict):
    """A tangent rule evaluated, in the output's shape."""
    import numpy as np

    with np.errstate(all="ignore"):
        v = np.asarray(expr.value(env), dtype=float)
    shape = tuple(env["out_shape"])
    size = 1
    for d in shape:
        size *= d
    return np.reshape(v, shape) if v.size == size else np.broadcast_to(v, shape).copy()


def _leaves(e: Expr, prefix: str) -> list:
    found, stack = [], [e]
    while stack:
        x = stack.pop()
        if x.kind == "leaf" and x.key.startswith(prefix):
            found.append(x)
        stack.extend(reversed(x.args))
    return found


def tangent_shapes(terms: list, env: dict) -> str:
    """``3×2 · 2 + 3×2 · 2 → 3``: each term's factors' shapes (or its tangent's), and the result."""
    import numpy as np

    env = dict(env, shapes_only=True)

    def shape(e: Expr) -> str:
        with np.errstate(all="ignore"):
            return shape_text(np.shape(e.value(env)))

    parts = []
    for j, t in enumerate(terms):
        sign = " − " if t.kind == "neg" else " + "
        while t.kind == "neg":
            t = t.args[0]
        if j:
            parts.append(sign)
        if t.kind in ("mm", "had", "scale"):
            sym = {"mm": " · ", "had": " ∘ ", "scale": " · "}[t.kind]
            parts.append(sym.join(shape(e) for e in t.args))
        elif t.kind == "leaf":
            parts.append(shape(t))
        else:
            leaves = list({x.key: x for x in _leaves(t, "t")}.values())  # ż − ⟨s, ż⟩ reads ż once
            parts.append(", ".join(shape(x) for x in leaves) if leaves else shape(t))
    return "".join(parts) + f" → {shape_text(tuple(env['out_shape']))}"


__all__ = ["Expr", "Rule", "RULES", "rules_for", "elementwise_rule", "environment", "adjoint_value",
           "jacobian_value", "shapes_note", "shape_text", "TANGENTS", "JOINS", "tangent_terms", "elementwise_terms",
           "total_of", "tangent_environment", "tangent_value", "tangent_shapes", "tangent_leaf", "adjoint", "tangent"]

"""The matrix rules of the structural ops: what `--steps`, `--edges` and `--paths` print.

`gradcli.core.ops` gives each structural op (``matmul``, ``softmax``, ``index``, ...) a
VJP that the engine runs.  This table, keyed by the same op names, gives the *same*
rule as the lecture writes it -- ``W̄ += v̄ xᵀ``, ``z̄ = s ∘ (s̄ − ⟨s̄, s⟩)`` -- and the
local Jacobian with its structure (``diag(σ'(z))``, ``I ⊗ xᵀ``).  Each rule is a small
expression tree (`Expr`) that renders itself as text and as LaTeX *and evaluates
itself on NumPy*; ``tests/test_rules.py`` evaluates every printed rule at random
shapes and points and compares it with the op row's VJP, so the words cannot drift
from the math.

Leaves of a rule: ``G`` (the output's adjoint, printed ``v̄``), ``X0``/``X1`` (the
arguments, printed by their labels), ``OUT`` (the output), ``P0``/``P1`` (an
elementwise op's partials, printed from the op row's partials), ``N`` (an element
count).  In a product, a vector is a column (``v̄ xᵀ`` is 3×1 · 1×2 → 3×2); a
reduction's adjoint and output are read with the reduced axis kept, so they broadcast
back.  NumPy is imported only when a rule is evaluated.
"""

from __future__ import annotations

from typing import Callable, NamedTuple, Optional

# precedence of an expression's top operator (for brackets)
_SUM, _PROD, _UNARY, _ATOM = 1, 2, 3, 4


class Expr:
    """A node of a rule: its kind, children, and (for leaves) the key it reads."""

    __slots__ = ("kind", "args", "key")

    def __init__(self, kind: str, *args: "Expr", key: str = "") -> None:
        self.kind = kind
        self.args = args
        self.key = key

    # building rules reads like the math
    def __matmul__(self, other: "Expr") -> "Expr":
        return Expr("mm", self, other)

    def __mul__(self, other: "Expr") -> "Expr":
        return Expr("had", self, other)

    def __sub__(self, other: "Expr") -> "Expr":
        return Expr("sub", self, other)

    def __truediv__(self, other: "Expr") -> "Expr":
        return Expr("div", self, other)

    @property
    def T(self) -> "Expr":  # noqa: N802 - the math's name
        return Expr("T", self)

    @property
    def prec(self) -> int:
        return {"sub": _SUM, "mm": _PROD, "had": _PROD, "scale": _PROD, "div": _PROD, "kron": _PROD,
                "sumto": _UNARY, "total": _UNARY, "neg": _UNARY, "T": _ATOM}.get(self.kind, _ATOM)

    # ---- text -------------------------------------------------------------------
    def text(self, names: dict, latex: bool = False) -> str:
        """The rule in the lecture's notation; `names` maps leaf keys to labels."""
        k, a = self.kind, self.args

        def sub(e: "Expr", below: int) -> str:
            t = e.text(names, latex)
            return (r"\left(" + t + r"\right)" if latex else f"({t})") if e.prec < below else t

        if k == "leaf":
            return names[self.key]
        if k == "T":
            return sub(a[0], _ATOM) + (r"^\top" if latex else "ᵀ")
        if k == "mm":
            return sub(a[0], _PROD) + (r"\," if latex else " ") + sub(a[1], _PROD + 1)
        if k in ("had", "scale", "kron"):
            sym = {"had": (" ∘ ", r" \circ "), "scale": (" · ", r" \cdot "), "kron": (" ⊗ ", r" \otimes ")}[k]
            return sub(a[0], _PROD) + sym[latex] + sub(a[1], _PROD + 1)
        if k == "sub":
            return sub(a[0], _SUM) + (" - " if latex else " − ") + sub(a[1], _SUM + 1)
        if k == "div":
            return sub(a[0], _PROD) + " / " + sub(a[1], _PROD + 1)
        if k == "inner":
            x, y = a[0].text(names, latex), a[1].text(names, latex)
            return rf"\langle {x}, {y} \rangle" if latex else f"⟨{x}, {y}⟩"
        if k == "total":
            return (r"\textstyle\sum " if latex else "Σ ") + sub(a[0], _UNARY)
        if k == "sumto":
            axes = names.get("axes", "")
            return (rf"\textstyle\sum_{{{axes}}} " if latex else f"Σ{axes} ") + sub(a[0], _UNARY)
        if k == "func":
            return (rf"\{self.key}" if latex else self.key) + "(" + a[0].text(names, latex) + ")"
        if k == "diag":
            return (r"\operatorname{diag}" if latex else "diag") + "(" + a[0].text(names, latex) + ")"
        if k == "ones":
            return r"\mathbf{1}" if latex else "𝟏"
        if k == "eye":
            return "I"
        if k == "eq":
            x, y = a[0].text(names, latex), a[1].text(names, latex)
            return f"[{x} = {y}]"
        if k == "pick":
            return sub(a[0], _ATOM) + f"[{names['k']}]"
        if k == "col":
            return a[0].text(names, latex)
        if k == "scatter":
            return a[0].text(names, latex)
        if k == "neg":
            return "-" + sub(a[0], _UNARY) if latex else "−" + sub(a[0], _UNARY)
        if k == "row":
            return sub(a[0], _ATOM) + (r"^\top" if latex else "ᵀ")
        if k == "perm":
            return "P"
        if k == "select":
            return "E"
        raise ValueError(f"no text for rule node {k}")

    # ---- numbers ----------------------------------------------------------------
    def value(self, env: dict):
        """The rule evaluated on NumPy (vectors are columns inside products)."""
        import numpy as np

        k, a = self.kind, self.args
        if k == "leaf":
            return np.asarray(env[self.key], dtype=float)
        if k == "T":
            x = a[0].value(env)
            return x.reshape(1, -1) if x.ndim == 1 else x.T
        if k == "mm":
            x, y = (_column(e.value(env)) for e in a)
            return x @ y
        if k == "kron":
            return np.kron(_column(a[0].value(env)), _column(a[1].value(env)))
        if k in ("had", "scale"):
            return a[0].value(env) * a[1].value(env)
        if k == "sub":
            return a[0].value(env) - a[1].value(env)
        if k == "div":
            return a[0].value(env) / a[1].value(env)
        if k == "inner":
            return np.sum(a[0].value(env) * a[1].value(env), axis=env.get("axis"), keepdims=True)
        if k == "total":
            return np.sum(a[0].value(env), axis=env.get("axis"), keepdims=True)
        if k == "sumto":
            return _sum_to(a[0].value(env), env["arg_shape"])
        if k == "func":
            return getattr(np, self.key)(a[0].value(env))
        if k == "diag":
            return np.diag(np.ravel(a[0].value(env)))
        if k == "ones":
            return np.ones(env["arg_shape"])
        if k == "eye":
            return np.eye(env["eye"])
        if k == "eq":
            return (a[0].value(env) == a[1].value(env)).astype(float)
        if k == "pick":
            return a[0].value(env)[env["k"]]
        if k == "col":
            if a[0].kind == "ones":
                return np.ones((int(np.prod(env["out_shape"])), 1))
            return np.reshape(a[0].value(env), (-1, 1))
        if k == "scatter":
            out = np.zeros(env["arg_shape"])
            out[env["index"]] += a[0].value(env)
            return out
        if k == "neg":
            return -a[0].value(env)
        if k == "row":
            return a[0].value(env).reshape(1, -1)
        if k == "perm":
            shape = env["arg_shape"]
            n = int(np.prod(shape))
            return np.eye(n)[np.arange(n).reshape(shape).T.ravel()]
        if k == "select":
            shape = env["arg_shape"]
            n = int(np.prod(shape))
            return np.eye(n)[np.ravel(np.arange(n).reshape(shape)[env["index"]])]
        raise ValueError(f"no value for rule node {k}")

    def operands(self) -> tuple:
        """The factors of a top-level product (for the shapes note ``3×1 · 1×2 → 3×2``)."""
        return self.args if self.kind in ("mm", "kron") else ()


def _column(x):
    return x.reshape(-1, 1) if x.ndim == 1 else x


def _sum_to(x, shape: tuple):
    import numpy as np

    x = np.asarray(x)
    while x.ndim > len(shape):
        x = x.sum(axis=0)
    for k, d in enumerate(shape):
        if d == 1 and x.shape[k] != 1:
            x = x.sum(axis=k, keepdims=True)
    return x


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

_REDUCE_NOTE = "broadcast back to the shape of {arg}"

RULES: dict[str, Callable[[tuple, object], tuple]] = {
    "matmul": lambda shapes, p: _MATMUL[(len(shapes[0]), len(shapes[1]))],
    "dot": lambda shapes, p: _MATMUL[(len(shapes[0]), len(shapes[1]))],
    "outer": lambda shapes, p: (
        Rule(G @ X1, kron(EYE, X1), "sparse: block i is the column {x1}", eye=("arg", 0)),
        Rule(G.T @ X0, kron(X0, EYE), "sparse: {x0} ⊗ I", eye=("arg", 0)),
    ),
    "transpose": lambda shapes, p: (Rule(G.T, PERM, "permutation"),),
    "sum": lambda shapes, p: (
        Rule(scale(G, ONES), row(ONES) if p is None else None, "dense row of ones" if p is None else "sparse: 0/1",
             _REDUCE_NOTE),),
    "mean": lambda shapes, p: (
        Rule(scale(G, ONES) / N, row(ONES) / N if p is None else None,
             "dense row, every entry 1/n" if p is None else "sparse: 0 or 1/n", _REDUCE_NOTE + ", ÷ n"),),
    "norm": lambda shapes, p: (Rule(scale(G, X0 / OUT), row(X0 / OUT), "dense row"),),
    "softmax": lambda shapes, p: (
        Rule(OUT * (G - inner(G, OUT)), diag(OUT) - OUT @ OUT.T if len(shapes[0]) == 1 else None,
             "dense, symmetric" if len(shapes[0]) == 1 else "block diagonal, one block per row"),),
    "log_softmax": lambda shapes, p: (
        Rule(G - scale(exp(OUT), total(G)), EYE - ONES @ exp(OUT).T if len(shapes[0]) == 1 else None,
             "dense" if len(shapes[0]) == 1 else "block diagonal, one block per row", "exp(s) = softmax",
             eye=("arg", 0)),),
    "logsumexp": lambda shapes, p: (
        Rule(scale(G, exp(X0 - OUT)), row(exp(X0 - OUT)) if p is None else None,
             "dense row: softmax(z)ᵀ" if p is None else "sparse: one softmax row per reduced slice",
             "exp(z − s) = softmax"),),
    "amax": lambda shapes, p: (
        Rule(scale(G, indicator(X0, OUT)) / total(indicator(X0, OUT)),
             row(indicator(X0, OUT)) / total(indicator(X0, OUT)), "sparse row: 1 at the largest element"),),
    "amin": lambda shapes, p: (
        Rule(scale(G, indicator(X0, OUT)) / total(indicator(X0, OUT)),
             row(indicator(X0, OUT)) / total(indicator(X0, OUT)), "sparse row: 1 at the smallest element"),),
    "index": lambda shapes, p: (
        Rule(Expr("scatter", G), SELECT, "sparse: the rows of I at [{index}] (a selection)", "the rest gets 0: scatter into zeros",
             scatter=True),),
    "stack": lambda shapes, p: tuple(
        Rule(Expr("pick", G), None, "sparse: a block of I") for _ in shapes),
}


def elementwise_rule(k: int, broadcast: object, unit: float = 0.0) -> Rule:
    """Argument `k` of an elementwise op: ``x̄ += ḡ ∘ ∂y/∂x``, summed over broadcast axes.

    `broadcast` is false, true, or ``"scalar"`` (a scalar argument spread over an array).

    `unit` is a constant partial of +1 or -1 (add, sub, neg): then just ``ḡ`` or ``−ḡ``.
    """
    p = _leaf(f"p{k}")  # ∂y/∂x_k, for any argument (where has three)
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


def rules_for(op: str, shapes: tuple, param: object) -> Optional[tuple]:
    """The rules of a structural op's arguments at these argument shapes, or None."""
    make = RULES.get(op)
    return None if make is None else make(tuple(shapes), param)


REDUCTIONS_WITH_AXIS = {"sum", "mean", "logsumexp"}


def environment(op: str, k: int, xs: list, out, g, param, partials: Optional[list] = None) -> dict:
    """The values a rule of argument `k` reads: ``g``, ``x0``, ``x1``, ``out``, ``p0``..."""
    import numpy as np

    arg_shape = tuple(np.shape(xs[k]))
    out_shape = tuple(np.shape(out))
    env: dict = {"x0": xs[0], "x1": xs[1] if len(xs) > 1 else 0.0, "out": out,
                 "g": 0.0 if g is None else g, "arg_shape": arg_shape, "out_shape": out_shape, "k": k}
    if op in REDUCTIONS_WITH_AXIS and param is not None:
        axis = param % len(arg_shape)
        env["out"] = np.expand_dims(out, axis)
        if g is not None:
            env["g"] = np.expand_dims(g, axis)
    if op in ("softmax", "log_softmax"):
        env["axis"] = param
    if op == "mean":
        env["n"] = float(np.prod(arg_shape) if param is None else arg_shape[param])
    if op == "index":
        env["index"] = tuple(slice(*i[1:]) if isinstance(i, tuple) else i for i in param)  # type: ignore[union-attr]
    for j, p in enumerate(partials or ()):
        if p is not None:
            env[f"p{j}"] = np.broadcast_to(p, out_shape)
    return env


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

    v = rule.adjoint.value(env)
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
    result = shape_text(env["arg_shape"])
    if top.kind == "mm":
        left, right = (np.shape(_column(e.value(env))) for e in top.args)
        return f"{shape_text(left)} · {shape_text(right)} → {result}"
    if top.kind in ("had", "scale"):
        sym = " ∘ " if top.kind == "had" else " · "
        return sym.join(shape_text(np.shape(e.value(env))) for e in top.args) + f" → {result}"
    return f"→ {result}"


__all__ = ["Expr", "Rule", "RULES", "rules_for", "elementwise_rule", "environment", "adjoint_value",
           "jacobian_value", "shapes_note", "shape_text"]

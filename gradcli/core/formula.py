"""One expression tree for formulas, with its renderers and its evaluator.

A `Expr` is a small tree of matrix calculus -- ``W̄ += v̄ xᵀ``, ``z̄ = s ∘ (s̄ − ⟨s̄, s⟩)``,
``v̇ = Ẇ x + W ẋ`` -- built with Python's operators (``G @ X1.T``, ``OUT * (G - ...)``).
The same tree

* renders as the lecture's Unicode text and as LaTeX (`Expr.text`),
* renders as gradcli syntax (`Expr.gradcli`), which gradcli's own parser reads back,
* renders as Python source for NumPy, PyTorch or JAX (`Expr.python`, via a name table),
* evaluates on a backend namespace `m` (`Expr.value`): NumPy arrays by default, or any
  namespace with the same helper names (``gradcli.backends.arrays.ARRAY``,
  ``gradcli.backends.dual.DUAL``'s dual numbers).

Precedence is handled once, here: `PREC` gives each node kind its binding power and
every renderer brackets a child by comparing powers (`Render.wrap`).

Leaves read an environment: ``G`` (the output's adjoint), ``X0``/``X1`` (the arguments),
``OUT`` (the output), ``P0``/``P1`` (an elementwise op's partials), ``N`` (an element
count), ``T0``/``T1`` (tangents).  In a product a vector is a column (``v̄ xᵀ`` is
3×1 · 1×2 → 3×2); a reduction's adjoint and output are read with the reduced axis
kept, so they broadcast back.  NumPy is imported only when a formula is evaluated.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, Callable, Optional

_SUBSCRIPT = str.maketrans("0123456789-", "₀₁₂₃₄₅₆₇₈₉₋")

#: binding powers, lowest first: the one precedence ladder of every notation gradcli writes
#: (the lecture's text and LaTeX here, gradcli syntax in `teach.derive_arrays` and
#: `teach.edges`, Python in `teach.export`).  The notations place one operator differently:
#: a leading minus binds tighter than a product in the lecture and in Python (UNARY), but
#: looser in gradcli's language, where ``-x*y`` is ``-(x*y)`` (SIGN).  COMPARE is Python's
#: ``<``, ``==``.
COMPARE, SUM, SIGN, PROD, UNARY, POW, ATOM = 1, 2, 3, 4, 5, 6, 7

#: node kind -> binding power of its top operator (kinds not listed are atoms)
PREC: dict[str, int] = {
    "sub": SUM, "add": SUM, "mm": PROD, "had": PROD, "scale": PROD, "div": PROD, "kron": PROD,
    "sumto": UNARY, "total": UNARY, "neg": UNARY, "others": UNARY, "inv": UNARY, "invT": UNARY, "rsum": UNARY,
}


class FormulaError(ValueError):
    """A formula has no form in the requested notation (or no value on that backend)."""


class Expr:
    """A node of a formula: its kind, children, and (for leaves) the key it reads."""

    __slots__ = ("kind", "args", "key", "data")

    def __init__(self, kind: str, *args: "Expr", key: str = "", data: object = None) -> None:
        self.kind = kind
        self.args = args
        self.key = key
        #: what a leaf of fixed shape needs to evaluate (a slice, a shape, a matrix builder)
        self.data = data

    # building formulas reads like the math
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
        return PREC.get(self.kind, ATOM)

    def __repr__(self) -> str:
        return f"Expr({self.kind}{', ' + self.key if self.key else ''}{''.join(', ' + repr(a) for a in self.args)})"

    # ---- renderers --------------------------------------------------------------
    def text(self, names: dict, latex: bool = False) -> str:
        """The formula in the lecture's notation (or LaTeX); `names` maps leaf keys to labels."""
        return Render(names, latex).show(self)

    def gradcli(self, names: dict, shapes: Optional[dict] = None) -> str:
        """The formula in gradcli's language (what ``gradcli diff`` prints; it parses back).

        `shapes` maps leaf keys to shapes, so that a vector times a transposed vector
        is written ``outer(a, b)``; a node with no gradcli form raises `FormulaError`."""
        return Syntax(GRADCLI, names, shapes or {}).show(self)

    def python(self, names: dict, target: str = "numpy", shapes: Optional[dict] = None) -> str:
        """The formula as Python source for `target` (``numpy``, ``torch`` or ``jax``)."""
        return Syntax(PYTHON[target], names, shapes or {}).show(self)

    # ---- numbers ----------------------------------------------------------------
    def value(self, env: dict, m: Any = None):
        """The formula evaluated on backend `m` (NumPy when None); vectors are columns inside products."""
        return Evaluate(env, numpy_backend() if m is None else m).run(self)

    def operands(self) -> tuple:
        """The factors of a top-level product (for the shapes note ``3×1 · 1×2 → 3×2``)."""
        return self.args if self.kind in ("mm", "kron") else ()


# ---- Unicode text and LaTeX ---------------------------------------------------------------
class Render:
    """Renders a formula as Unicode text or LaTeX; `names` maps leaf keys (and a few
    fixed words: ``axes``, ``k``, ``select``) to labels."""

    def __init__(self, names: dict, latex: bool) -> None:
        self.names, self.latex = names, latex

    def show(self, e: Expr) -> str:
        rule = _TEXT.get(e.kind)
        if rule is None:
            raise ValueError(f"no text for rule node {e.kind}")
        return rule(self, e, *e.args)

    def wrap(self, e: Expr, below: int) -> str:
        t = self.show(e)
        return (r"\left(" + t + r"\right)" if self.latex else f"({t})") if e.prec < below else t

    def pick(self, text: str, tex: str) -> str:
        return tex if self.latex else text

    def fn(self, name: str, *args: Expr) -> str:
        head = rf"\operatorname{{{name}}}" if self.latex else name
        return head + "(" + ", ".join(self.show(a) for a in args) + ")"

    def infix(self, a: Expr, b: Expr, text: str, tex: str, level: int) -> str:
        return self.wrap(a, level) + self.pick(text, tex) + self.wrap(b, level + 1)


def _rsum_text(r: Render, e: Expr, a: Expr) -> str:  # Σ ẋ, Σ₀ ẋ: over all elements or along one axis
    axis = "" if e.data is None else str(e.data)
    if r.latex:
        return (rf"\textstyle\sum_{{{axis}}} " if axis else r"\textstyle\sum ") + r.wrap(a, UNARY)
    return f"Σ{axis.translate(_SUBSCRIPT)} " + r.wrap(a, UNARY)


def _call_text(r: Render, e: Expr, *a: Expr) -> str:  # tr(Ẋ), hstack(ȧ, ḃ), cumsum(ẋ, 0)
    extra: str = e.data[1]  # type: ignore[index]
    inside = ", ".join([r.show(x) for x in a] + ([extra] if extra else []))
    return r.pick(e.key, rf"\operatorname{{{e.key}}}") + f"({inside})"


def _sumto_text(r: Render, e: Expr, a: Expr) -> str:
    axes = r.names.get("axes", "")
    return r.pick(f"Σ{axes} ", rf"\textstyle\sum_{{{axes}}} ") + r.wrap(a, UNARY)


def _others_text(r: Render, e: Expr, a: Expr) -> str:  # ∏ⱼ≠ᵢ xⱼ
    x = r.show(a)
    return rf"\textstyle\prod_{{j \ne i}} {{{x}}}_j" if r.latex else f"∏ⱼ≠ᵢ {x}ⱼ"


def _rcumsum_text(r: Render, e: Expr, a: Expr) -> str:
    inside = r.show(a)
    if r.latex:
        return rf"\operatorname{{flip}}(\operatorname{{cumsum}}(\operatorname{{flip}}({inside})))"
    return f"flip(cumsum(flip({inside})))"


def _reshape_text(r: Render, e: Expr, a: Expr) -> str:
    shape = e.key.replace("×", r"\times ") if r.latex else e.key
    return r.pick("reshape", r"\operatorname{reshape}") + f"({r.show(a)}, {shape})"


def _inverse_text(r: Render, e: Expr, a: Expr) -> str:
    sup = {("inv", False): "⁻¹", ("invT", False): "⁻ᵀ", ("inv", True): "^{-1}", ("invT", True): r"^{-\top}"}
    return r.wrap(a, ATOM) + sup[e.kind, r.latex]


def _list_text(r: Render, e: Expr, *a: Expr) -> str:  # [ȧ, ḃ, ċ]
    inside = ", ".join(r.show(x) for x in a)
    return rf"\left[{inside}\right]" if r.latex else f"[{inside}]"


def _transposed(r: Render, e: Expr, a: Expr) -> str:
    return r.wrap(a, ATOM) + r.pick("ᵀ", r"^\top")


_TEXT: dict[str, Callable[..., str]] = {
    "leaf": lambda r, e: r.names[e.key],
    "T": _transposed,
    "row": _transposed,
    "mm": lambda r, e, a, b: r.infix(a, b, " ", r"\,", PROD),
    "had": lambda r, e, a, b: r.infix(a, b, " ∘ ", r" \circ ", PROD),
    "scale": lambda r, e, a, b: r.infix(a, b, " · ", r" \cdot ", PROD),
    "kron": lambda r, e, a, b: r.infix(a, b, " ⊗ ", r" \otimes ", PROD),
    "div": lambda r, e, a, b: r.infix(a, b, " / ", " / ", PROD),
    "sub": lambda r, e, a, b: r.infix(a, b, " − ", " - ", SUM),
    "add": lambda r, e, a, b: r.infix(a, b, " + ", " + ", SUM),
    "neg": lambda r, e, a: r.pick("−", "-") + r.wrap(a, UNARY),
    "rsum": _rsum_text,
    "call": _call_text,
    "list": _list_text,
    "zero": lambda r, e: "0",
    "inner": lambda r, e, a, b: r.pick(f"⟨{r.show(a)}, {r.show(b)}⟩", rf"\langle {r.show(a)}, {r.show(b)} \rangle"),
    "total": lambda r, e, a: r.pick("Σ ", r"\textstyle\sum ") + r.wrap(a, UNARY),
    "sumto": _sumto_text,
    "func": lambda r, e, a: r.pick(e.key, rf"\{e.key}") + "(" + r.show(a) + ")",
    "diag": lambda r, e, a: r.fn("diag", a) if r.latex else f"diag({r.show(a)})",
    "diagof": lambda r, e, a: r.fn("diag", a) if r.latex else f"diag({r.show(a)})",
    "mean": lambda r, e, a: r.fn("mean", a) if r.latex else f"mean({r.show(a)})",
    "ones": lambda r, e: r.pick("𝟏", r"\mathbf{1}"),
    "eye": lambda r, e: "I",
    "eq": lambda r, e, a, b: f"[{r.show(a)} = {r.show(b)}]",
    "pick": lambda r, e, a: r.wrap(a, ATOM) + f"[{r.names['k']}]",
    "col": lambda r, e, a: r.show(a),
    "scatter": lambda r, e, a: r.show(a),
    "perm": lambda r, e: "P",
    "select": lambda r, e: r.names.get("select", r"I_{[\cdot]}" if r.latex else "I[·]"),  # the rows of I picked
    "inv": _inverse_text,
    "invT": _inverse_text,
    "part": lambda r, e, a: r.wrap(a, ATOM) + e.key,  # ȳ[:, 2:5]
    "embed": lambda r, e: e.key,
    "num": lambda r, e: e.key,
    "vec": lambda r, e, a: rf"\operatorname{{vec}}({r.show(a)})^\top" if r.latex else f"vec({r.show(a)})ᵀ",
    "others": _others_text,
    "rcumsum": _rcumsum_text,
    "reshape": _reshape_text,
}


# ---- gradcli syntax and Python source -------------------------------------------------------
#: how each notation writes the operations a formula uses ({} are the operands)
GRADCLI: dict[str, str] = {
    "T": "transpose({})", "outer": "outer({}, {})", "dot": "dot({}, {})", "sum": "sum({})",
    "sum_axis": "sum({}, {})", "mean": "mean({})", "inv": "inv({})", "diag": "diag({})", "eye": "eye({})",
    "ones": "ones({})", "reshape": "reshape({}, {})", "trace": "trace({})", "exp": "exp({})",
    "eq": "{} == {}", "list": "[{}]", "hstack": "hstack({})", "vstack": "vstack({})", "flatten": "flatten({})",
    "cumsum": "cumsum({})", "solve": "solve({}, {})",
}


def _python_table(np: str, linalg: str, **different: str) -> dict[str, str]:
    table = {
        "T": "{}.T", "outer": np + ".outer({}, {})", "dot": np + ".dot({}, {})", "sum": np + ".sum({})",
        "sum_axis": np + ".sum({}, {})", "mean": np + ".mean({})", "inv": linalg + ".inv({})",
        "diag": np + ".diag({})", "eye": np + ".eye({})", "ones": np + ".ones(({},))", "reshape": np + ".reshape({}, ({},))",
        "trace": np + ".trace({})", "exp": np + ".exp({})", "eq": "(({}) == ({})).astype(float)",
        "list": np + ".stack([{}])", "hstack": np + ".hstack([{}])", "vstack": np + ".vstack([{}])",
        "flatten": np + ".ravel({})", "cumsum": np + ".cumsum({})", "solve": linalg + ".solve({}, {})",
    }
    table.update(different)
    return table


#: target -> name table of the Python renderer
PYTHON: dict[str, dict[str, str]] = {
    "numpy": _python_table("np", "np.linalg"),
    "jax": _python_table("jnp", "jnp.linalg"),
    "torch": _python_table("torch", "torch.linalg", T="{}.mT", eq="(({}) == ({})).double()",
                           ones="torch.ones(({},), dtype=torch.float64)", reshape="torch.reshape({}, ({},))",
                           eye="torch.eye({}, dtype=torch.float64)", flatten="torch.ravel({})",
                           hstack="torch.hstack([{}])", vstack="torch.vstack([{}])"),
}


#: kinds the lecture writes as prefix or postfix operators (Σ x, X⁻¹) and code as calls
_WRITTEN_AS_CALLS = frozenset({"total", "rsum", "inv", "invT", "others", "sumto"})


class Syntax:
    """Renders a formula in a programming notation: gradcli's language or Python.

    Vectors are 1-D there, so a product whose operand is a transposed vector is written
    as the matching vector operation (``v̄ xᵀ`` → ``outer(g, x)``, ``xᵀ W`` → ``x @ W``);
    `shapes` gives the leaves' shapes for that.  ``@`` is never mixed with ``*`` or ``/``
    without brackets (gradcli and Python agree on the rest of the ladder)."""

    def __init__(self, table: dict[str, str], names: dict, shapes: dict) -> None:
        self.table, self.names, self.shapes = table, names, shapes

    def show(self, e: Expr) -> str:
        rule = _SYNTAX.get(e.kind)
        if rule is None:
            raise FormulaError(f"the rule node {e.kind} has no form in this notation")
        return rule(self, e, *e.args)

    def fmt(self, what: str, *parts: str) -> str:
        return self.table[what].format(*parts)

    def wrap(self, e: Expr, below: int, avoid: tuple = ()) -> str:
        t = self.show(e)
        prec = ATOM if e.kind in _WRITTEN_AS_CALLS else e.prec
        return f"({t})" if prec < below or e.kind in avoid else t

    def infix(self, a: Expr, b: Expr, sym: str, level: int) -> str:
        avoid = ("mm",) if sym != " @ " else ("had", "scale", "div", "kron")
        return self.wrap(a, level, avoid) + sym + self.wrap(b, level + 1, avoid)

    def rank(self, e: Expr) -> int:
        """The number of axes `e` has in this notation (vectors are 1-D)."""
        k, a = e.kind, e.args
        if k == "leaf":
            return len(self.shapes.get(e.key, ()))
        if k in ("T", "neg", "func", "row", "col", "reshape", "part", "diag", "diagof"):
            return self.rank(a[0]) if k not in ("reshape", "diag", "diagof") else 2 - (k != "diagof")
        if k in ("had", "scale", "sub", "add", "div"):
            return max(self.rank(a[0]), self.rank(a[1]))
        if k == "mm":
            return self._product(a[0], a[1])[1]
        if k in ("inv", "invT", "eye"):
            return 2
        return 0

    def _product(self, a: Expr, b: Expr) -> tuple[str, int]:
        """A matrix product in 1-D-vector notation, and its rank."""
        ra, rb = self.rank(a), self.rank(b)
        if b.kind == "T" and ra <= 1 and self.rank(b.args[0]) == 1:  # a bᵀ: an outer product
            return self.fmt("outer", self.show(a), self.show(b.args[0])), 2
        if a.kind == "T" and self.rank(a.args[0]) == 1:  # aᵀ B: the vector times B
            return self.infix(a.args[0], b, " @ ", PROD), rb - 1
        return self.infix(a, b, " @ ", PROD), max(ra + rb - 2, 0)

    def leaf(self, e: Expr) -> str:
        return str(self.names[e.key])

    def size(self, key: str) -> str:
        if key not in self.names:
            raise FormulaError(f"the size {key} of this formula is not given")
        return str(self.names[key])


def _syntax_call(s: Syntax, e: Expr, *a: Expr) -> str:
    name = {"tr": "trace"}.get(e.key, e.key)
    if name in ("hstack", "vstack"):
        return s.fmt(name, ", ".join(s.show(x) for x in a))
    if name not in s.table or (e.data and e.data[1]):  # type: ignore[index]
        raise FormulaError(f"{e.key} with these arguments has no form in this notation")
    return s.fmt(name, *(s.show(x) for x in a))


def _syntax_inner(s: Syntax, e: Expr, a: Expr, b: Expr) -> str:
    if s.rank(a) == 1 and s.rank(b) == 1:
        return s.fmt("dot", s.show(a), s.show(b))
    return s.fmt("sum", s.infix(a, b, " * ", PROD))


def _syntax_rsum(s: Syntax, e: Expr, a: Expr) -> str:
    return s.fmt("sum", s.show(a)) if e.data is None else s.fmt("sum_axis", s.show(a), str(e.data))


def _syntax_transpose(s: Syntax, e: Expr, a: Expr) -> str:
    return s.fmt("T", s.wrap(a, ATOM) if s.table["T"].startswith("{}") else s.show(a))


_SYNTAX: dict[str, Callable[..., str]] = {
    "leaf": lambda s, e: s.leaf(e),
    "num": lambda s, e: e.key,
    "zero": lambda s, e: "0",
    "T": _syntax_transpose,
    "mm": lambda s, e, a, b: s._product(a, b)[0],
    "had": lambda s, e, a, b: s.infix(a, b, " * ", PROD),
    "scale": lambda s, e, a, b: s.infix(a, b, " * ", PROD),
    "div": lambda s, e, a, b: s.infix(a, b, " / ", PROD),
    "sub": lambda s, e, a, b: s.infix(a, b, " - ", SUM),
    "add": lambda s, e, a, b: s.infix(a, b, " + ", SUM),
    "neg": lambda s, e, a: "-" + s.wrap(a, UNARY),
    "func": lambda s, e, a: s.fmt(e.key, s.show(a)),
    "inner": _syntax_inner,
    "total": lambda s, e, a: s.fmt("sum", s.show(a)),
    "rsum": _syntax_rsum,
    "mean": lambda s, e, a: s.fmt("mean", s.show(a)),
    "inv": lambda s, e, a: s.fmt("inv", s.show(a)),
    "invT": lambda s, e, a: _syntax_transpose(s, e, Expr("inv", a)),
    "diag": lambda s, e, a: s.fmt("diag", s.show(a)),
    "diagof": lambda s, e, a: s.fmt("diag", s.show(a)),
    "eye": lambda s, e: s.fmt("eye", s.size("eye")),
    "ones": lambda s, e: s.fmt("ones", s.size("ones")),
    "eq": lambda s, e, a, b: "(" + s.fmt("eq", s.show(a), s.show(b)) + ")",
    "call": _syntax_call,
    "list": lambda s, e, *a: s.fmt("list", ", ".join(s.show(x) for x in a)),
    "reshape": lambda s, e, a: s.fmt("reshape", s.show(a), e.key.replace("×", ", ")),
    "part": lambda s, e, a: s.wrap(a, ATOM) + e.key,
    "col": lambda s, e, a: s.show(a),
    "row": lambda s, e, a: s.show(a),
}


# ---- evaluation on a backend ---------------------------------------------------------------
class Evaluate:
    """Evaluates a formula on backend `m`: a namespace with NumPy's array helpers
    (`numpy_backend`), or ``gradcli.backends.dual.DUAL`` for dual numbers."""

    def __init__(self, env: dict, m: Any) -> None:
        self.env, self.m = env, m

    def run(self, e: Expr):
        rule = _VALUE.get(e.kind)
        if rule is None:
            raise ValueError(f"no value for rule node {e.kind}")
        return rule(self, e)

    def args(self, e: Expr) -> list:
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

    def product(self, e: Expr):
        """``a ∘ b``, ``a · b``; a factor 𝟏 (``ḡ · 𝟏``: the adjoint spread over the argument)
        is a broadcast, not a product (no array of ones is made)."""
        a, b = e.args
        if b.kind == "ones":
            return self.m.expand_to(self.run(a), self.env["arg_shape"], None)
        if e.kind == "scale":  # a weight times a factor: a zero weight gives 0 even against inf
            return self.m.times(self.run(a), self.run(b))
        return self.run(a) * self.run(b)

    def matmul(self, e: Expr):
        """A product with vectors read as columns; a matrix times a vector is left as it is
        (the same numbers, as one matrix-vector product)."""
        x, y = self.args(e)
        if len(self.m.shape(x)) == 2 and len(self.m.shape(y)) == 1:
            return self.m.matmul(x, y)
        return self.m.matmul(self.column(x), self.column(y))

    def inverse(self, e: Expr):
        x = self.run(e.args[0])
        if self.env.get("shapes_only"):  # the shapes note reads shapes only (at a singular point too)
            return self.m.zeros_like(x)
        y = self.m.inv(x)
        return y if e.kind == "inv" else self.m.transpose(y)


def _leaf_value(v: Evaluate, e: Expr):
    x = v.env[e.key]
    return x if hasattr(x, "t") else v.m.asarray(x)  # a dual number stays one


def _t_value(v: Evaluate, e: Expr):
    x = v.run(e.args[0])
    return v.m.reshape(x, (1, -1)) if len(v.m.shape(x)) == 1 else v.m.transpose(x)


def _sub_value(v: Evaluate, e: Expr):
    x, y = v.aligned(*v.args(e))
    return x - y


def _add_value(v: Evaluate, e: Expr):
    x, y = v.aligned(*v.args(e))
    return x + y


def _col_value(v: Evaluate, e: Expr):
    if e.args[0].kind == "ones":
        size = 1
        for d in v.env["out_shape"]:
            size *= d
        return v.m.ones((size, 1))
    return v.m.reshape(v.run(e.args[0]), (-1, 1))


def _call_value(v: Evaluate, e: Expr):
    fn: Callable = e.data[0]  # type: ignore[index]
    return fn(v.m, *v.args(e))


def _others_value(v: Evaluate, e: Expr):
    x = v.run(e.args[0])
    return v.m.ones_like(x) if v.env.get("shapes_only") else v.m.prod_others(x, v.env.get("axis"))


def _rcumsum_value(v: Evaluate, e: Expr):
    return v.m.rcumsum(v.run(e.args[0]), v.env["arg_shape"], v.env.get("axis"))


_VALUE: dict[str, Callable[[Evaluate, Expr], Any]] = {
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

    from .elements import unbroadcast

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
    )


def leaf(key: str) -> Expr:
    return Expr("leaf", key=key)


def call(name: str, fn: Callable, *args: Expr, extra: str = "") -> Expr:
    """``name(args)``; `fn(m, *values)` evaluates it on backend `m`."""
    return Expr("call", *args, key=name, data=(fn, extra))


__all__ = ["Expr", "FormulaError", "PREC", "Render", "Syntax", "Evaluate", "GRADCLI", "PYTHON", "numpy_backend",
           "leaf", "call", "COMPARE", "SUM", "SIGN", "PROD", "UNARY", "POW", "ATOM"]

"""Formulas as code: gradcli's language (it parses back) and Python for NumPy, PyTorch, JAX."""

from __future__ import annotations

from typing import Callable

from .tree import ATOM, PROD, SUM, UNARY, FormulaError, Node


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

    def show(self, e: Node) -> str:
        rule = _SYNTAX.get(e.kind)
        if rule is None:
            raise FormulaError(f"the rule node {e.kind} has no form in this notation")
        return rule(self, e, *e.args)

    def fmt(self, what: str, *parts: str) -> str:
        return self.table[what].format(*parts)

    def wrap(self, e: Node, below: int, avoid: tuple = ()) -> str:
        t = self.show(e)
        prec = ATOM if e.kind in _WRITTEN_AS_CALLS else e.prec
        return f"({t})" if prec < below or e.kind in avoid else t

    def infix(self, a: Node, b: Node, sym: str, level: int) -> str:
        avoid = ("mm",) if sym != " @ " else ("had", "scale", "div", "kron")
        return self.wrap(a, level, avoid) + sym + self.wrap(b, level + 1, avoid)

    def rank(self, e: Node) -> int:
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

    def _product(self, a: Node, b: Node) -> tuple[str, int]:
        """A matrix product in 1-D-vector notation, and its rank."""
        ra, rb = self.rank(a), self.rank(b)
        if b.kind == "T" and ra <= 1 and self.rank(b.args[0]) == 1:  # a bᵀ: an outer product
            return self.fmt("outer", self.show(a), self.show(b.args[0])), 2
        if a.kind == "T" and self.rank(a.args[0]) == 1:  # aᵀ B: the vector times B
            return self.infix(a.args[0], b, " @ ", PROD), rb - 1
        return self.infix(a, b, " @ ", PROD), max(ra + rb - 2, 0)

    def leaf(self, e: Node) -> str:
        return str(self.names[e.key])

    def size(self, key: str) -> str:
        if key not in self.names:
            raise FormulaError(f"the size {key} of this formula is not given")
        return str(self.names[key])


def _syntax_call(s: Syntax, e: Node, *a: Node) -> str:
    name = {"tr": "trace"}.get(e.key, e.key)
    if name in ("hstack", "vstack"):
        return s.fmt(name, ", ".join(s.show(x) for x in a))
    if name not in s.table or (e.data and e.data[1]):  # type: ignore[index]
        raise FormulaError(f"{e.key} with these arguments has no form in this notation")
    return s.fmt(name, *(s.show(x) for x in a))


def _syntax_inner(s: Syntax, e: Node, a: Node, b: Node) -> str:
    if s.rank(a) == 1 and s.rank(b) == 1:
        return s.fmt("dot", s.show(a), s.show(b))
    return s.fmt("sum", s.infix(a, b, " * ", PROD))


def _syntax_rsum(s: Syntax, e: Node, a: Node) -> str:
    return s.fmt("sum", s.show(a)) if e.data is None else s.fmt("sum_axis", s.show(a), str(e.data))


def _syntax_transpose(s: Syntax, e: Node, a: Node) -> str:
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
    "invT": lambda s, e, a: _syntax_transpose(s, e, type(e)("inv", a)),
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

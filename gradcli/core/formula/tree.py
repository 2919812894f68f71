"""The formula tree's nodes (`Node`) and their binding powers (`PREC`, the one ladder)."""

from __future__ import annotations

from typing import TypeVar


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


_N = TypeVar("_N", bound="Node")


class Node:
    """A node of a formula: its kind, children, and (for leaves) the key it reads.

    `gradcli.core.formula.Expr` adds the renderers and the evaluator."""

    __slots__ = ("kind", "args", "key", "data")

    def __init__(self, kind: str, *args: "Node", key: str = "", data: object = None) -> None:
        self.kind = kind
        self.args: tuple = args  # of the same class as this node (an Expr's children are Exprs)
        self.key = key
        #: what a leaf of fixed shape needs to evaluate (a slice, a shape, a matrix builder)
        self.data = data

    # building formulas reads like the math
    def __matmul__(self: _N, other: "Node") -> _N:
        return type(self)("mm", self, other)

    def __mul__(self: _N, other: "Node") -> _N:
        return type(self)("had", self, other)

    def __sub__(self: _N, other: "Node") -> _N:
        return type(self)("sub", self, other)

    def __truediv__(self: _N, other: "Node") -> _N:
        return type(self)("div", self, other)

    @property
    def T(self: _N) -> _N:  # noqa: N802 - the math's name
        return type(self)("T", self)

    @property
    def prec(self) -> int:
        return PREC.get(self.kind, ATOM)

    def __repr__(self) -> str:
        return f"Expr({self.kind}{', ' + self.key if self.key else ''}{''.join(', ' + repr(a) for a in self.args)})"

    def operands(self) -> tuple:
        """The factors of a top-level product (for the shapes note ``3×1 · 1×2 → 3×2``)."""
        return self.args if self.kind in ("mm", "kron") else ()

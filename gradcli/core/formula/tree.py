"""The formula tree: `Expr`, its node kinds' binding powers (`PREC`, the one ladder) and builders."""

from __future__ import annotations

from typing import Any, Callable, Optional

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
        from .text import Render

        return Render(names, latex).show(self)

    def gradcli(self, names: dict, shapes: Optional[dict] = None) -> str:
        """The formula in gradcli's language (what ``gradcli diff`` prints; it parses back).

        `shapes` maps leaf keys to shapes, so that a vector times a transposed vector
        is written ``outer(a, b)``; a node with no gradcli form raises `FormulaError`."""
        from .syntax import GRADCLI, Syntax

        return Syntax(GRADCLI, names, shapes or {}).show(self)

    def python(self, names: dict, target: str = "numpy", shapes: Optional[dict] = None) -> str:
        """The formula as Python source for `target` (``numpy``, ``torch`` or ``jax``)."""
        from .syntax import PYTHON, Syntax

        return Syntax(PYTHON[target], names, shapes or {}).show(self)

    # ---- numbers ----------------------------------------------------------------
    def value(self, env: dict, m: Any = None):
        """The formula evaluated on backend `m` (NumPy when None); vectors are columns inside products."""
        from .evaluate import Evaluate, numpy_backend

        return Evaluate(env, numpy_backend() if m is None else m).run(self)

    def operands(self) -> tuple:
        """The factors of a top-level product (for the shapes note ``3×1 · 1×2 → 3×2``)."""
        return self.args if self.kind in ("mm", "kron") else ()


def leaf(key: str) -> Expr:
    return Expr("leaf", key=key)


def call(name: str, fn: Callable, *args: Expr, extra: str = "") -> Expr:
    """``name(args)``; `fn(m, *values)` evaluates it on backend `m`."""
    return Expr("call", *args, key=name, data=(fn, extra))

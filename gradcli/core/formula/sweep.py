"""The reverse sweep's formulas: what ``gradcli diff`` prints for array programs.

`Derived` is a node of the one formula tree (`gradcli.core.formula.Expr`) built by
constructors that simplify signs and units as they build (``1 * x`` is ``x``,
``a + -b`` is ``a - b``, ``x * -y`` is ``-(x * y)``), and renders itself in gradcli's
language (``outer(dz, x)``, ``transpose(W) @ dz``: it parses back) and as LaTeX
(``\\bar{z}\\, x^\\top``), with the one ladder of `gradcli.core.formula.tree`.
`gradcli.teach.derive_arrays` builds them; SymPy pieces arrive as ``raw`` nodes.
"""

from __future__ import annotations

from typing import Any, Optional

from ..fmt import tex_name
from . import Expr
from .tree import ATOM, POW, PROD, SUM, UNARY


class Derived(Expr):
    """A formula: `kind` is name, num, call, add, sub, mul, div, matmul, neg or raw.

    `value` (the node's `data`) is the name, the number, the function's name, or a raw
    piece's (text, binding power); `latex_text` (its `key`) is a raw piece's LaTeX."""

    __slots__ = ("_text",)

    def __init__(self, kind: str, *args: "Derived", value: Any = None, latex_text: str = "") -> None:
        super().__init__(kind, *args, key=latex_text, data=value)
        self._text: Optional[str] = None

    @property
    def value(self) -> Any:
        return self.data

    @property
    def latex_text(self) -> str:
        return self.key

    @property
    def prec(self) -> int:
        if self.kind == "raw":
            return self.value[1]
        return {"add": SUM, "sub": SUM, "mul": PROD, "div": PROD, "matmul": PROD,
                "neg": UNARY}.get(self.kind, ATOM)

    @property
    def leaf(self) -> bool:
        return self.kind in ("name", "num")

    def is_num(self, v: float) -> bool:
        return self.kind == "num" and self.value == v

    def text(self) -> str:  # type: ignore[override]
        """The formula in gradcli's language (it parses back); rendered once, children first
        (a loop, no recursion)."""
        stack = [self]
        while stack:
            e = stack[-1]
            todo = [a for a in e.args if a._text is None]
            if todo:
                stack.extend(todo)
                continue
            stack.pop()
            if e._text is None:
                e._text = e._own_text()
        return self._text  # type: ignore[return-value]

    def _own_text(self) -> str:
        """This node's text from its children's (already rendered)."""
        k, a = self.kind, self.args
        if k == "name":
            return self.value
        if k == "num":
            return _number(self.value)
        if k == "raw":
            return self.value[0]
        if k == "call":
            return f"{self.value}({', '.join(x.text() for x in a)})"
        if k == "neg":
            return "-" + _wrap(a[0], a[0].prec < PROD)
        x, y = a
        product_like = x.prec == PROD and x.kind != "matmul"
        if k == "add":
            left, right = False, False
        elif k == "sub":
            left, right = False, y.prec <= SUM
        elif k == "mul":
            left, right = x.prec < PROD or x.kind == "matmul", y.prec < PROD or y.kind == "matmul"
        elif k == "div":
            left, right = x.prec < PROD or x.kind == "matmul", y.prec < POW
        else:  # matmul: never mixed with * or / without brackets
            left, right = x.prec < PROD or product_like, y.prec < POW
        sym = {"add": " + ", "sub": " - ", "mul": " * ", "div": " / ", "matmul": " @ "}[k]
        return _wrap(x, left) + sym + _wrap(y, right)

    def latex(self, names: dict[str, str]) -> str:
        """The formula as LaTeX; `names` maps names to their LaTeX.  Children first, in a
        loop (no recursion); a shared subformula is rendered once."""
        done: dict[int, str] = {}
        stack = [self]
        while stack:
            e = stack[-1]
            todo = [a for a in e.args if id(a) not in done]
            if todo:
                stack.extend(todo)
                continue
            stack.pop()
            if id(e) not in done:
                done[id(e)] = e._own_latex(names, done)
        return done[id(self)]

    def _own_latex(self, names: dict[str, str], done: dict[int, str]) -> str:
        """This node's LaTeX from its children's (`done`, by id)."""
        k, a = self.kind, self.args
        if k == "name":
            return names.get(self.value, tex_name(self.value))
        if k == "num":
            return _number(self.value)
        if k == "raw":
            return self.latex_text
        inner = [done[id(x)] for x in a]
        if k == "call":
            if self.value == "transpose" and len(a) == 1:  # with axes (rank 3, 4) it stays a call
                return _lwrap(inner[0], a[0].prec < ATOM) + r"^\top"
            if self.value == "outer":
                return inner[0] + " " + _lwrap(inner[1], a[1].prec < ATOM) + r"^\top"
            if self.value == "dot":
                return rf"\langle {inner[0]}, {inner[1]} \rangle"
            if self.value == "sum":
                return r"\textstyle\sum " + _lwrap(inner[0], a[0].prec < ATOM) + \
                    (f"_{{[{inner[1]}]}}" if len(a) > 1 else "")
            return rf"\operatorname{{{self.value}}}\left({', '.join(inner)}\right)"
        if k == "neg":
            return "-" + _lwrap(inner[0], a[0].prec <= UNARY)
        if k == "div":
            return rf"\frac{{{inner[0]}}}{{{inner[1]}}}"
        sym = {"add": " + ", "sub": " - ", "mul": r" \circ ", "matmul": r" \, "}[k]
        return _lwrap(inner[0], a[0].prec < self.prec) + sym + \
            _lwrap(inner[1], a[1].prec < self.prec or (a[1].prec == self.prec and k == "sub"))


def _wrap(f: Derived, paren: bool) -> str:
    t = f.text()
    return f"({t})" if paren else t


def _lwrap(t: str, paren: bool) -> str:
    return rf"\left({t}\right)" if paren else t


def _number(v: Any) -> str:
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    return repr(v) if isinstance(v, float) else str(v)


def name(n: str) -> Derived:
    return Derived("name", value=n)


def num(v: Any) -> Derived:
    return Derived("num", value=v)


def call(fn: str, *args: Derived) -> Derived:
    return Derived("call", *args, value=fn)


def mul(a: Derived, b: Derived) -> Derived:
    if a.is_num(0) or b.is_num(0):
        return num(0)
    if a.is_num(1):
        return b
    if b.is_num(1):
        return a
    if a.is_num(-1):
        return neg(b)
    if b.is_num(-1):
        return neg(a)
    if b.kind == "neg":
        return neg(mul(a, b.args[0]))
    if a.kind == "neg":
        return neg(mul(a.args[0], b))
    return Derived("mul", a, b)


def neg(a: Derived) -> Derived:
    if a.kind == "neg":
        return a.args[0]
    if a.kind == "num":
        return num(-a.value)
    return Derived("neg", a)


def add(a: Optional[Derived], b: Derived) -> Derived:
    if a is None or a.is_num(0):
        return b
    if b.is_num(0):
        return a
    if b.kind == "neg":
        return Derived("sub", a, b.args[0])
    return Derived("add", a, b)


def sub(a: Derived, b: Derived) -> Derived:
    return add(a, neg(b))


def matmul(a: Derived, b: Derived) -> Derived:
    return Derived("matmul", a, b)


def transpose(a: Derived) -> Derived:
    return call("transpose", a)

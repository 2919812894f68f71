"""Scalar formulas in gradcli's compact text: the local partials an edge carries (``c*(1 - c)``).

`Scalar` is a node of the one formula tree (`gradcli.core.formula.Expr`) built by smart
constructors that simplify as they build, the way a person writes a partial: ``1*x`` is
``x``, ``x + x`` is ``2*x``, ``x*x`` is ``x^2``, ``a + -b`` is ``a - b``, two literal
numbers fold into one.  Python's operators build them, and `SymbolicText` is a backend
namespace of them: the partials of `gradcli.core.ops`, called with it instead of numbers,
return their own formula (``m.cos(a)`` is ``cos(a)``) -- no SymPy needed.

`Compact` renders the tree as gradcli's language writes a scalar: ``x*y``, ``x/y``,
``x^2``, ``(z > 0)``, with the one ladder of `gradcli.core.formula.tree`, a leading
minus at SIGN (``-x*y`` is ``-(x*y)``).
"""

from __future__ import annotations

import math
from typing import Callable, Optional

from ..fmt import number
from . import Expr
from .tree import ATOM, POW, PROD, SIGN, SUM

#: node kind -> binding power in the compact notation (kinds not listed are atoms)
_PREC: dict[str, int] = {"add": SUM, "sub": SUM, "neg": SIGN, "mul": PROD, "div": PROD, "pow": POW}
#: kinds whose text is their key
_WORDS = frozenset({"leaf", "num", "text"})


class Scalar(Expr):
    """A scalar formula; ``num`` is set for literal numbers (folded when both sides are literal).

    Kinds: ``leaf`` (a name), ``num`` (a literal, `key` as written), ``text`` (words the
    notation has no node for, with their binding power in `data`), ``add``, ``sub``,
    ``neg``, ``mul``, ``div``, ``pow``, ``call`` (``name(args)``), ``cmp`` (``(a > b)``,
    the operator in `key`) and ``paren`` (a bracketed whole)."""

    __slots__ = ("num", "_text", "_prec")

    def __init__(self, kind: str, *args: "Scalar", key: str = "", data: object = None,
                 num: Optional[float] = None) -> None:
        self.kind, self.args, self.key, self.data, self.num = kind, args, key, data, num  # as `Node` sets them
        if kind == "num":
            self._prec = SIGN if num is not None and num < 0 else ATOM
        else:
            self._prec = data if kind == "text" else _PREC.get(kind, ATOM)  # type: ignore[assignment]
        # rendered once, now: the children's text is already there, so no deep recursion
        self._text: Optional[str] = key if kind in _WORDS else None
        if self._text is None:
            self._text = _COMPACT[kind](_RENDER, self, *args)

    @property
    def prec(self) -> int:
        return self._prec

    @property
    def text(self) -> str:  # type: ignore[override]
        """The formula in gradcli's compact scalar text (rendered when the node is built)."""
        return self._text  # type: ignore[return-value]

    def __repr__(self) -> str:
        return f"Scalar({self.text!r})"

    def __str__(self) -> str:
        return self.text

    # arithmetic builds simplified formulas (a plain number is a literal)
    def __add__(self, other: object) -> "Scalar":
        return add(self, scalar(other))

    def __radd__(self, other: object) -> "Scalar":
        return add(scalar(other), self)

    def __sub__(self, other: object) -> "Scalar":  # type: ignore[override]
        return sub(self, scalar(other))

    def __rsub__(self, other: object) -> "Scalar":
        return sub(scalar(other), self)

    def __mul__(self, other: object) -> "Scalar":  # type: ignore[override]
        return mul(self, scalar(other))

    def __rmul__(self, other: object) -> "Scalar":
        return mul(scalar(other), self)

    def __truediv__(self, other: object) -> "Scalar":  # type: ignore[override]
        return div(self, scalar(other))

    def __rtruediv__(self, other: object) -> "Scalar":
        return div(scalar(other), self)

    def __pow__(self, other: object) -> "Scalar":
        return power(self, scalar(other))

    def __rpow__(self, other: object) -> "Scalar":
        return power(scalar(other), self)

    def __neg__(self) -> "Scalar":
        return neg(self)


# ---- leaves -------------------------------------------------------------------------
def lit(x: float, written: str = "") -> Scalar:
    """A literal number, written as `written` (by default as a person writes it: ``2``, ``0.5``)."""
    x = float(x)
    return Scalar("num", key=written or number(x), num=x)


def name(label: str) -> Scalar:
    return Scalar("leaf", key=label)


def words(text: str, prec: int = ATOM) -> Scalar:
    """Text the tree has no node for (``1 where x is the max, else 0``), binding at `prec`."""
    return Scalar("text", key=text, data=prec)


def scalar(x: object) -> Scalar:
    return x if isinstance(x, Scalar) else lit(x)  # type: ignore[arg-type]


# ---- smart constructors: they simplify as they build --------------------------------
def add(a: Scalar, b: Scalar) -> Scalar:
    if a.num is not None and b.num is not None:
        return lit(a.num + b.num)
    if a.num == 0:
        return b
    if b.num == 0:
        return a
    if a.text == b.text:
        return mul(lit(2.0), a)
    if b.text.startswith("-") and b.prec in (SIGN, PROD):  # a + -b/c is a - b/c
        return sub(a, neg(b) if b.prec == SIGN else _unsigned(b))
    return Scalar("add", a, b)


def sub(a: Scalar, b: Scalar) -> Scalar:
    if a.num is not None and b.num is not None:
        return lit(a.num - b.num)
    if b.num == 0:
        return a
    if a.num == 0:
        return neg(b)
    if a.text == b.text:
        return lit(0.0)
    return Scalar("sub", a, b)


def neg(a: Scalar) -> Scalar:
    if a.num is not None:
        return lit(-a.num)
    if a.kind == "neg":  # --x is x
        x = a.args[0]
        return x if x.prec >= PROD else Scalar("paren", x)
    return Scalar("neg", a)


def mul(a: Scalar, b: Scalar) -> Scalar:
    if a.num is not None and b.num is not None:
        return lit(a.num * b.num)
    for x, y in ((a, b), (b, a)):
        if x.num == 0:
            return lit(0.0)
        if x.num == 1:
            return y
        if x.num == -1:
            return neg(y)
    if a.text == b.text:
        return power(a, lit(2.0))
    return Scalar("mul", a, b)


def div(a: Scalar, b: Scalar) -> Scalar:
    if a.num is not None and b.num is not None and b.num != 0:
        return lit(a.num / b.num)
    if b.num == 1:
        return a
    if a.num == 0:
        return lit(0.0)
    return Scalar("div", a, b)


def power(a: Scalar, b: Scalar) -> Scalar:
    if a.num is not None and b.num is not None:
        try:
            return lit(math.pow(a.num, b.num))
        except (ValueError, OverflowError, ZeroDivisionError):
            pass
    if b.num == 1:
        return a
    if b.num == 0:
        return lit(1.0)
    return Scalar("pow", a, b)


def call(fn: str, *args: object) -> Scalar:
    return Scalar("call", *(scalar(a) for a in args), key=fn)


def compare(a: Scalar, op: str, b: Scalar) -> Scalar:
    """``(a op b)``, a 0/1 indicator as gradcli's language writes it."""
    return Scalar("cmp", a, b, key=op)


def _unsigned(e: Scalar) -> Scalar:
    """A product whose text starts with a minus, without it: ``-x*y`` → ``x*y``."""
    if e.kind in ("mul", "div"):
        return Scalar(e.kind, _unsigned(e.args[0]), e.args[1])
    if e.kind == "neg":
        return e.args[0]
    if e.kind == "num":
        return Scalar("num", key=e.key[1:], num=-e.num)  # type: ignore[operator]
    return words(e.text[1:], PROD)


# ---- the backend namespace ----------------------------------------------------------
class SymbolicText:
    """A backend namespace whose 'numbers' are `Scalar` formulas: ``m.cos(a)`` is ``cos(a)``.

    Any primitive without a rule here is written as a call, ``name(args)``.
    """

    add = staticmethod(lambda a, b: scalar(a) + b)
    sub = staticmethod(lambda a, b: scalar(a) - b)
    mul = staticmethod(lambda a, b: scalar(a) * b)
    div = staticmethod(lambda a, b: scalar(a) / b)
    neg = staticmethod(lambda a: -scalar(a))
    pow = staticmethod(lambda a, b: power(scalar(a), scalar(b)))
    times = mul  # 0 * inf = 0 is a numeric detail; the text is the product

    @staticmethod
    def xlogy(a: object, b: object) -> Scalar:
        return mul(scalar(a), call("log", b))

    @staticmethod
    def eq(a: object, b: object) -> Scalar:
        return _indicator(scalar(a), "==", scalar(b), lambda x, y: x == y)

    @staticmethod
    def ne(a: object, b: object) -> Scalar:
        return _indicator(scalar(a), "!=", scalar(b), lambda x, y: x != y)

    @staticmethod
    def step(a: object) -> Scalar:
        """relu's derivative, as the language writes it: ``(x > 0)`` (there is no ``step``)."""
        return _indicator(scalar(a), ">", lit(0.0), lambda x, y: x > y)

    def __getattr__(self, fn: str):
        if fn.startswith("_"):
            raise AttributeError(fn)
        return lambda *args: call(fn, *args)


def _indicator(a: Scalar, op: str, b: Scalar, test: Callable[[float, float], bool]) -> Scalar:
    if a.num is not None and b.num is not None:
        return lit(1.0 if test(a.num, b.num) else 0.0)
    return compare(a, op, b)


# ---- the renderer -------------------------------------------------------------------
class Compact:
    """Renders a `Scalar` as gradcli's compact scalar text (a node is rendered when it is
    built, so its children's text is already there)."""

    def show(self, e: Scalar) -> str:
        return e._text if e._text is not None else _COMPACT[e.kind](self, e, *e.args)

    def wrap(self, e: Scalar, below: int) -> str:
        return f"({self.show(e)})" if e._prec < below else self.show(e)

    def left(self, e: Scalar) -> str:
        """A product's left factor: a leading minus needs no brackets (``-x*y``)."""
        return self.show(e) if e._prec >= PROD or e._prec == SIGN else f"({self.show(e)})"


_COMPACT: dict[str, Callable[..., str]] = {
    "leaf": lambda c, e: e.key,
    "num": lambda c, e: e.key,
    "text": lambda c, e: e.key,
    "add": lambda c, e, a, b: f"{c.show(a)} + {c.wrap(b, SIGN)}",
    "sub": lambda c, e, a, b: f"{c.show(a)} - {c.wrap(b, PROD)}",
    "neg": lambda c, e, a: f"-{c.wrap(a, PROD)}",
    "mul": lambda c, e, a, b: f"{c.left(a)}*{c.wrap(b, PROD)}",
    "div": lambda c, e, a, b: f"{c.left(a)}/{c.wrap(b, POW)}",
    "pow": lambda c, e, a, b: f"{c.wrap(a, ATOM)}^{c.wrap(b, POW)}",
    "call": lambda c, e, *a: f"{e.key}({', '.join(c.show(x) for x in a)})",
    "cmp": lambda c, e, a, b: f"({c.show(a)} {e.key} {c.show(b)})",
    "paren": lambda c, e, a: f"({c.show(a)})",
}

_RENDER = Compact()

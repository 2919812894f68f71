"""The local derivative on every edge of the DAG, as text and as a number.

Each edge ``arg -> node`` carries ∂node/∂arg, written in terms of the nodes' labels
and evaluated at the point::

    ∂e/∂c = d = 3

The symbolic text comes from the very partials of `gradcli.core.ops`, called with a
tiny string-building namespace (`SymbolicText`) instead of numbers -- no SymPy
needed; the numbers come from the same partials on `gradcli.backends.floats.SCALAR`.
`--steps`, `--paths`, `--edges` and the pictures all read these edges.
"""

from __future__ import annotations

import math
from typing import NamedTuple, Optional

from ..backends.floats import SCALAR
from ..core.engine import safe_partials
from ..core.fmt import number
from ..core.graph import CONST, INPUT
from ..core.ops import OPS

_MACRON = "\u0304"


# ---- symbolic partials as text ------------------------------------------------------
_ATOM, _POW, _MUL, _NEG, _ADD = 5, 4, 3, 2, 1


class Sym:
    """An expression as text, with the precedence of its top operator.

    ``num`` is set for literal numbers (folded when both sides are literal); ``val``
    is the point's value of a leaf (lets ``eq`` fold, as max/min partials need).
    """

    __slots__ = ("text", "prec", "num", "val")

    def __init__(self, text: str, prec: int = _ATOM, num: Optional[float] = None,
                 val: Optional[float] = None) -> None:
        self.text = text
        self.prec = prec
        self.num = num
        self.val = val

    def __repr__(self) -> str:
        return f"Sym({self.text!r})"

    def __str__(self) -> str:
        return self.text

    __add__ = lambda self, other: _add(self, _sym(other))  # noqa: E731
    __radd__ = lambda self, other: _add(_sym(other), self)  # noqa: E731
    __sub__ = lambda self, other: _sub(self, _sym(other))  # noqa: E731
    __rsub__ = lambda self, other: _sub(_sym(other), self)  # noqa: E731
    __mul__ = lambda self, other: _mul(self, _sym(other))  # noqa: E731
    __rmul__ = lambda self, other: _mul(_sym(other), self)  # noqa: E731
    __truediv__ = lambda self, other: _div(self, _sym(other))  # noqa: E731
    __rtruediv__ = lambda self, other: _div(_sym(other), self)  # noqa: E731
    __pow__ = lambda self, other: _pow(self, _sym(other))  # noqa: E731
    __rpow__ = lambda self, other: _pow(_sym(other), self)  # noqa: E731
    __neg__ = lambda self: _neg(self)  # noqa: E731


def _lit(x: float) -> Sym:
    x = float(x)
    return Sym(number(x), _NEG if x < 0 else _ATOM, num=x, val=x)


def _sym(x: object) -> Sym:
    return x if isinstance(x, Sym) else _lit(x)  # type: ignore[arg-type]


def _wrap(s: Sym, below: int) -> str:
    return f"({s.text})" if s.prec < below else s.text


def _add(a: Sym, b: Sym) -> Sym:
    if a.num is not None and b.num is not None:
        return _lit(a.num + b.num)
    if a.num == 0:
        return b
    if b.num == 0:
        return a
    if a.text == b.text:
        return _mul(_lit(2.0), a)
    if b.text.startswith("-") and b.prec in (_NEG, _MUL):  # a + -b/c is a - b/c
        return _sub(a, _neg(b) if b.prec == _NEG else Sym(b.text[1:], _MUL))
    return Sym(f"{a.text} + {_wrap(b, _NEG)}", _ADD)


def _sub(a: Sym, b: Sym) -> Sym:
    if a.num is not None and b.num is not None:
        return _lit(a.num - b.num)
    if b.num == 0:
        return a
    if a.num == 0:
        return _neg(b)
    if a.text == b.text:
        return _lit(0.0)
    return Sym(f"{a.text} - {_wrap(b, _MUL)}", _ADD)


def _neg(a: Sym) -> Sym:
    if a.num is not None:
        return _lit(-a.num)
    if a.prec == _NEG:  # --x is x
        return Sym(a.text[1:], _MUL if a.text[1:2] != "(" else _ATOM)
    return Sym(f"-{_wrap(a, _MUL)}", _NEG)


def _mul(a: Sym, b: Sym) -> Sym:
    if a.num is not None and b.num is not None:
        return _lit(a.num * b.num)
    for x, y in ((a, b), (b, a)):
        if x.num == 0:
            return _lit(0.0)
        if x.num == 1:
            return y
        if x.num == -1:
            return _neg(y)
    if a.text == b.text:
        return _pow(a, _lit(2.0))
    left = a.text if a.prec >= _MUL or a.prec == _NEG else f"({a.text})"
    return Sym(f"{left}*{_wrap(b, _MUL)}", _MUL)


def _div(a: Sym, b: Sym) -> Sym:
    if a.num is not None and b.num is not None and b.num != 0:
        return _lit(a.num / b.num)
    if b.num == 1:
        return a
    if a.num == 0:
        return _lit(0.0)
    left = a.text if a.prec >= _MUL or a.prec == _NEG else f"({a.text})"
    return Sym(f"{left}/{_wrap(b, _POW)}", _MUL)


def _pow(a: Sym, b: Sym) -> Sym:
    if a.num is not None and b.num is not None:
        try:
            return _lit(math.pow(a.num, b.num))
        except (ValueError, OverflowError, ZeroDivisionError):
            pass
    if b.num == 1:
        return a
    if b.num == 0:
        return _lit(1.0)
    return Sym(f"{_wrap(a, _ATOM)}^{_wrap(b, _POW)}", _POW)


def _call(name: str):
    def f(*args: object) -> Sym:
        return Sym(f"{name}({', '.join(_sym(a).text for a in args)})")

    return f


class SymbolicText:
    """A backend namespace whose 'numbers' are `Sym` texts: ``m.cos(a)`` is ``cos(a)``.

    Any primitive without a rule here is written as a call, ``name(args)``.
    """

    add = staticmethod(lambda a, b: _sym(a) + b)
    sub = staticmethod(lambda a, b: _sym(a) - b)
    mul = staticmethod(lambda a, b: _sym(a) * b)
    div = staticmethod(lambda a, b: _sym(a) / b)
    neg = staticmethod(lambda a: -_sym(a))
    pow = staticmethod(lambda a, b: _pow(_sym(a), _sym(b)))
    times = mul  # 0 * inf = 0 is a numeric detail; the text is the product

    @staticmethod
    def xlogy(a: object, b: object) -> Sym:
        return _mul(_sym(a), _call("log")(b))

    @staticmethod
    def eq(a: object, b: object) -> Sym:
        a, b = _sym(a), _sym(b)
        if a.val is not None and b.val is not None:
            return _lit(1.0 if a.val == b.val else 0.0)
        return _call("eq")(a, b)

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        return _call(name)


_SYMBOLIC = SymbolicText()


# ---- edges --------------------------------------------------------------------------
class Edge(NamedTuple):
    """One DAG edge ``source -> target`` with its local derivative ∂target/∂source."""

    source: int
    target: int
    source_label: str
    target_label: str
    #: the partial in terms of node labels ("d", "1", "c*(1 - c)"), or "vjp"
    symbolic: str
    #: its value at the point; None for array nodes and structural ops
    value: Optional[float]
    #: "scalar", "elementwise" (array node, elementwise op) or "vjp" (structural op)
    kind: str = "scalar"

    @property
    def name(self) -> str:
        return f"∂{self.target_label}/∂{self.source_label}"

    def label(self, digits: int = 6) -> str:
        """``∂e/∂c = d = 3``; ``∂c/∂a = 1``; ``∂v/∂W: vjp``; ``∂a/∂w = a*(1 - a), elementwise``."""
        if self.kind == "vjp":
            return f"{self.name}: {self.symbolic}"
        if self.value is None:
            return f"{self.name} = {self.symbolic}, elementwise"
        shown = number(self.value, digits)
        if shown == self.symbolic or is_number(self.symbolic):
            return f"{self.name} = {shown}"
        return f"{self.name} = {self.symbolic} = {shown}"


def is_number(text: str) -> bool:
    """Is a symbolic partial just a number (a folded constant such as 1/3)?"""
    try:
        float(text)
    except ValueError:
        return False
    return True


def _leaf(ev, i: int) -> Sym:
    """Node `i` as a symbol: its label (a literal number for numeric constants)."""
    graph = ev.graph
    node = graph.nodes[i]
    value = ev.values[i] if ev.values else None
    val = value if isinstance(value, float) else None
    if node.op == CONST and isinstance(node.param, (int, float)):
        try:
            float(node.text)
        except ValueError:
            pass
        else:
            x = float(node.param)
            return Sym(node.text, _NEG if x < 0 else _ATOM, num=x, val=x)
    return Sym(graph.label(i), _ATOM, val=val)


def _numeric_partials(op, xs: list, out: float, live: list) -> list:
    kind = 0 if op.variadic else len(xs)
    parts = op.partials if op.variadic else tuple(p if ok else None for p, ok in zip(op.partials, live))
    local = safe_partials(SCALAR, kind, parts, xs, out)
    return [None if p is None else float(p) for p in local]


def _symbolic_partials(ev, node, op) -> list[Sym]:
    graph = ev.graph
    xs = [_leaf(ev, a) for a in node.args]
    out = _leaf(ev, node.id)
    if op.variadic:
        if node.shape != ():
            word = "max" if node.op == "max" else "min"
            return [Sym(f"1 where {graph.label(a)} is the {word}, else 0", _ADD) for a in node.args]
        result = op.partials(_SYMBOLIC, xs, out)
    else:
        result = [p if isinstance(p, float) else p(_SYMBOLIC, *xs, out) for p in op.partials]
    syms = []
    own = graph.label(node.id)
    for r in result:
        s = _sym(r)
        if s.text == own:  # ∂e/∂x of e = exp(x) reads better as exp(x) than as e
            text = graph.definition(node.id)
            s = Sym(text, _ADD if " " in text else _ATOM)
        syms.append(s)
    return syms


def edge_partials(ev) -> list[Edge]:
    """Every edge ``arg -> node`` of the DAG for args an input reaches, in evaluation order.

    An argument used twice by one node (``x*x``) is one edge with the summed partial.
    """
    graph, values, live = ev.graph, ev.values, ev.tape.live
    edges: list[Edge] = []
    for node in graph.nodes:
        if node.op in (INPUT, CONST) or not live[node.id]:
            continue
        op = OPS[node.op]
        labels = [graph.label(a) for a in node.args]
        target = graph.label(node.id)
        arg_live = [live[a] for a in node.args]
        if op.partials is None:
            seen: set[int] = set()
            for a, label, ok in zip(node.args, labels, arg_live):
                if ok and a not in seen:
                    seen.add(a)
                    edges.append(Edge(a, node.id, label, target, "vjp", None, "vjp"))
            continue
        scalar = node.shape == () and all(graph.nodes[a].shape == () for a in node.args)
        try:
            syms = _symbolic_partials(ev, node, op)
        except Exception:  # a partial the text builder cannot follow: say so, do not fail
            syms = [Sym(f"{node.op}'") for _ in node.args]
        nums: list = [None] * len(node.args)
        if scalar and values:
            nums = _numeric_partials(op, [values[a] for a in node.args], values[node.id], arg_live)
        merged: dict[int, list] = {}
        for a, sym, num, ok in zip(node.args, syms, nums, arg_live):
            if not ok:
                continue
            if a in merged:  # the same argument twice: partials add up
                entry = merged[a]
                entry[0] = _add(entry[0], sym)
                entry[1] = None if entry[1] is None or num is None else entry[1] + num
            else:
                merged[a] = [sym, num]
        for a, (sym, num) in merged.items():
            edges.append(Edge(a, node.id, graph.label(a), target, sym.text, num,
                              "scalar" if scalar else "elementwise"))
    return edges


def _bar(label: str) -> str:
    """The lecture's adjoint notation: ē for e (one precomposed character where one exists)."""
    import unicodedata

    return unicodedata.normalize("NFC", label + _MACRON)

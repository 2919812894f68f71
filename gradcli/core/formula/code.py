"""Python source as a formula tree: what ``gradcli export`` writes, one line per node.

`Code` is a node of the one formula tree (`gradcli.core.formula.Expr`) that also knows
its array shape.  Python's operators build it with simplifying constructors (constants
``0`` and ``±1`` fold away, so the lines read as written by hand); the library calls of
a script are ``call`` nodes (``np.outer(dz, x)``) or, for the rest of NumPy's spelling
(``x[np.arange(3), y.astype(int)]``), ``form`` nodes: a template with the arguments' places.

`Python` renders the tree with the one ladder of `gradcli.core.formula.tree` (a unary
minus at UNARY), bracketing a child by comparing powers.  A node is rendered when it is
built, from its children's text, so rendering never recurses deeply.
"""

from __future__ import annotations

from typing import Callable, Optional

from . import Expr
from .tree import ATOM, POW, PROD, SUM, UNARY

#: node kind -> binding power in Python (kinds not listed are atoms)
_PREC: dict[str, int] = {"add": SUM, "sub": SUM, "mul": PROD, "div": PROD, "mm": PROD, "neg": UNARY, "pow": POW}
_OPERATORS = {"+": "add", "-": "sub", "*": "mul", "/": "div"}


class Code(Expr):
    """A Python expression: a formula node with its array `shape`; `const` is set for literal numbers.

    Kinds: ``num`` and ``src`` (source text as is, binding at the power in `data`),
    ``add``, ``sub``, ``mul``, ``div``, ``neg``, ``pow``, ``mm`` (``@``), ``T`` (``x.T``),
    ``call`` (``key(args, *data)``) and ``form`` (`key` a template, ``{0}`` the first
    argument; `data` the powers each argument is bracketed below, and the node's own)."""

    __slots__ = ("shape", "const", "_text", "_prec")

    def __init__(self, kind: str, *args: "Code", key: str = "", data: object = None, shape: tuple = (),
                 const: Optional[float] = None) -> None:
        self.kind, self.args, self.key, self.data = kind, args, key, data  # as `Node` sets them
        self.shape, self.const = shape, const
        if kind == "num":
            self._prec = ATOM if const is None or const >= 0 else UNARY
        elif kind in ("src", "form"):
            self._prec = data if kind == "src" else data[-1]  # type: ignore[assignment,index]
        else:
            self._prec = _PREC.get(kind, ATOM)
        self._text: str = _PYTHON[kind](self, *args)

    @property
    def prec(self) -> int:
        return self._prec

    @property
    def text(self) -> str:  # type: ignore[override]
        """The Python source (rendered when the node is built)."""
        return self._text

    def wrap(self, below: int) -> str:
        """The source, bracketed if it binds looser than `below`."""
        return f"({self._text})" if self._prec < below else self._text

    def __repr__(self) -> str:
        return f"Code({self._text!r})"

    # arithmetic builds source; constants 0 and ±1 fold away so the lines read as written by hand
    def __add__(self, other: object) -> "Code":
        return binary(self, code(other), "+")

    def __radd__(self, other: object) -> "Code":
        return binary(code(other), self, "+")

    def __sub__(self, other: object) -> "Code":  # type: ignore[override]
        return binary(self, code(other), "-")

    def __rsub__(self, other: object) -> "Code":
        return binary(code(other), self, "-")

    def __mul__(self, other: object) -> "Code":  # type: ignore[override]
        return binary(self, code(other), "*")

    def __rmul__(self, other: object) -> "Code":
        return binary(code(other), self, "*")

    def __truediv__(self, other: object) -> "Code":  # type: ignore[override]
        return binary(self, code(other), "/")

    def __rtruediv__(self, other: object) -> "Code":
        return binary(code(other), self, "/")

    def __neg__(self) -> "Code":
        if self.const is not None:
            return number(-self.const)
        return Code("neg", self, shape=self.shape)


# ---- leaves -------------------------------------------------------------------------
def number(x: float) -> Code:
    x = float(x)
    text = repr(int(x)) + ".0" if x.is_integer() and abs(x) < 1e15 else repr(x)
    return Code("num", key=text, shape=(), const=x)


def source(text: str, shape: tuple = (), const: Optional[float] = None, prec: int = ATOM) -> Code:
    """Source text as is: a variable's name, ``np.pi``, a literal array."""
    return Code("src", key=text, data=prec, shape=shape, const=const)


def code(x: object) -> Code:
    if isinstance(x, Code):
        return x
    if isinstance(x, (int, float)):
        return number(x)
    raise TypeError(f"cannot write {x!r} as code")


# ---- constructors -------------------------------------------------------------------
def broadcast(*shapes: tuple) -> tuple:
    """The shape NumPy broadcasts `shapes` to (the first, if they do not broadcast)."""
    from ..ops import broadcast_shapes

    try:
        return tuple(broadcast_shapes(list(shapes)))
    except ValueError:
        return shapes[0]


def binary(a: Code, b: Code, op: str) -> Code:
    """``a op b`` for op in ``+ - * /``, with constants 0 and ±1 folded away."""
    if op == "+":
        if a.const == 0:
            return b
        if b.const == 0:
            return a
    if op == "-" and b.const == 0:
        return a
    if op == "*":
        if a.const == 1:
            return b
        if b.const == 1:
            return a
        if a.const == -1:
            return -b
        if b.const == -1:
            return -a
    if op == "/" and b.const == 1:
        return a
    if a.const is not None and b.const is not None:
        value = {"+": a.const + b.const, "-": a.const - b.const, "*": a.const * b.const,
                 "/": a.const / b.const if b.const else float("nan")}[op]
        return number(value)
    return Code(_OPERATORS[op], a, b, shape=broadcast(a.shape, b.shape))


def power(a: Code, b: Code) -> Code:
    return a if b.const == 1 else Code("pow", a, b, shape=broadcast(a.shape, b.shape))


def call(name: str, *args: Code, shape: tuple = (), extra: tuple = ()) -> Code:
    """``name(args, extra)``; `extra` are further arguments as source (``axis=0``)."""
    return Code("call", *args, key=name, data=tuple(extra), shape=shape)


def form(template: str, *args: Code, shape: tuple = (), wraps: tuple = (), prec: int = ATOM) -> Code:
    """NumPy's spelling with the arguments' places: ``form("{0}[{1}.astype(int)]", x, i, wraps=(ATOM, ATOM))``.

    `wraps` gives the power each argument is bracketed below (none by default); the
    template's other braces are doubled, as `str.format` reads them."""
    return Code("form", *args, key=template, data=tuple(wraps or (0,) * len(args)) + (prec,), shape=shape)


def verbatim(text: str) -> str:
    """`text` for a `form` template: its braces doubled."""
    return text.replace("{", "{{").replace("}", "}}")


# ---- the renderer -------------------------------------------------------------------
def _binary_text(e: Code, a: Code, b: Code) -> str:
    prec = e._prec
    right = prec + 1 if e.kind in ("sub", "div") else prec
    return f"{a.wrap(prec)} {_SYMBOL[e.kind]} {b.wrap(right)}"


_SYMBOL = {"add": "+", "sub": "-", "mul": "*", "div": "/"}

_PYTHON: dict[str, Callable[..., str]] = {
    "num": lambda e: e.key,
    "src": lambda e: e.key,
    "add": _binary_text,
    "sub": _binary_text,
    "mul": _binary_text,
    "div": _binary_text,
    "neg": lambda e, a: f"-{a.wrap(UNARY)}",
    "pow": lambda e, a, b: f"{a.wrap(POW + 1)} ** {b.wrap(POW)}",
    "mm": lambda e, a, b: f"{a.wrap(PROD)} @ {b.wrap(PROD + 1)}",
    "T": lambda e, a: f"{a.wrap(ATOM)}.T",
    "call": lambda e, *a: f"{e.key}({', '.join([x.text for x in a] + list(e.data))})",
    "form": lambda e, *a: e.key.format(*(x.wrap(w) for x, w in zip(a, e.data))),
}

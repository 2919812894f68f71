"""Backends: the forward function of every primitive, for one kind of number.

A backend is a namespace with one attribute per primitive name (``SCALAR.sin``,
``SCALAR.add``); the rule rows in `gradcli.core.ops` call the same names to build their
partials.  `SCALAR` works on Python floats with the C functions of `math`, which
raise on domain errors (``log(-1)``) instead of quietly giving NaN: the engine turns
those into math errors that name the node.  `IEEE` is its forgiving twin: the same
functions but returning inf/nan like IEEE 754, used only on the rare slow path where a
*derivative* is infinite (sqrt at 0) so the gradient can still be reported.

An op without a function here (a row added by `gradcli.core.ops.register`) is its row's
``impl["math"]`` function, or its composite ``forward`` (`gradcli.core.ops.Backend`).

The SymPy backend lives in `gradcli.backends.sympy` (SymPy is imported only for checks).
"""

from __future__ import annotations

import math
import operator
from typing import Any, Callable, Optional

from ..core.ops import Backend, Op, library_functions

_exp = math.exp
_log1p = math.log1p


def _sigmoid(x: float) -> float:
    if x >= 0.0:
        return 1.0 / (1.0 + _exp(-x))
    z = _exp(x)
    return z / (1.0 + z)


def _softplus(x: float) -> float:
    return (x if x > 0.0 else 0.0) + _log1p(_exp(-abs(x)))


def _relu(x: float) -> float:
    return x if x > 0.0 else 0.0


def _step(x: float) -> float:
    return 1.0 if x > 0.0 else 0.0


def _sign(x: float) -> float:
    return 1.0 if x > 0.0 else (-1.0 if x < 0.0 else 0.0)


def _eq(x: float, y: float) -> float:
    return 1.0 if x == y else 0.0


def _xlogy(x: float, y: float) -> float:
    return 0.0 if x == 0.0 or y == 0.0 else x * math.log(y)


def _times(x: float, y: float) -> float:
    """x * y, and 0 when either is 0 (even against inf or nan: a zero weight wins)."""
    return 0.0 if x == 0.0 or y == 0.0 else x * y


def _cbrt(x: float) -> float:
    root = abs(x) ** (1.0 / 3.0)
    if root:  # one Newton step makes perfect cubes exact (27 -> 3.0)
        root -= (root * root * root - abs(x)) / (3.0 * root * root)
    return math.copysign(root, x)


def _logaddexp(a: float, b: float) -> float:
    top = a if a > b else b
    return top + _log1p(_exp(-abs(a - b)))


def _elu(x: float, alpha: float) -> float:
    return x if x > 0.0 else alpha * math.expm1(x)


def _gelu(x: float) -> float:
    return 0.5 * x * math.erfc(-x * 0.7071067811865476)


def _clip(x: float, lo: float, hi: float) -> float:
    return min(max(x, lo), hi)


class _Floats(Backend):
    """Floats: a row's library function is its ``impl["math"]``."""

    def library(self, op: Op) -> Optional[Callable[..., Any]]:
        name = op.impl.get("math")
        return getattr(math, name) if name else None


SCALAR = _Floats(
    **library_functions("math", math),  # exp, log, sin, ..., abs (fabs), erf: the rows' "math" names
    add=operator.add,
    sub=operator.sub,
    mul=operator.mul,
    div=operator.truediv,
    pow=math.pow,
    neg=operator.neg,
    sigmoid=_sigmoid,
    relu=_relu,
    softplus=_softplus,
    max=max,
    min=min,
    step=_step,
    sign=_sign,
    eq=_eq,
    xlogy=_xlogy,
    times=_times,
    lt=lambda x, y: 1.0 if x < y else 0.0,
    le=lambda x, y: 1.0 if x <= y else 0.0,
    gt=lambda x, y: 1.0 if x > y else 0.0,
    ge=lambda x, y: 1.0 if x >= y else 0.0,
    ne=lambda x, y: 1.0 if x != y else 0.0,
    where=lambda c, a, b: a if c != 0.0 else b,
    cbrt=getattr(math, "cbrt", _cbrt),
    logaddexp=_logaddexp,
    floor=lambda x: float(math.floor(x)),
    ceil=lambda x: float(math.ceil(x)),
    round=lambda x: float(round(x)),
    clip=_clip,
    leaky_relu=lambda x, slope: x if x > 0.0 else slope * x,
    elu=_elu,
    gelu=_gelu,
)


def _ieee(f):
    def g(*args: float) -> float:
        try:
            return _IEEEFloat(f(*args))
        except ZeroDivisionError:
            num = args[0] if len(args) > 1 else 1.0
            if num != num or not num:  # nan / 0 and 0 / 0
                return _IEEEFloat(math.nan)
            den = args[1] if f is operator.truediv else 1.0  # the sign of the zero divided by counts too
            return _IEEEFloat(math.copysign(math.inf, num) * math.copysign(1.0, den))
        except OverflowError:
            return _IEEEFloat(math.inf)
        except ValueError:
            if f is math.pow and args[0] == 0.0:  # 0 to a negative power: -0.0 to an odd one is -inf
                odd = float(args[1]).is_integer() and abs(args[1]) % 2 == 1
                return _IEEEFloat(math.copysign(math.inf, args[0]) if odd else math.inf)
            return _IEEEFloat(math.nan)

    return g


def _ieee_method(name: str) -> Any:
    """float's arithmetic method `name`, returning an _IEEEFloat."""
    base = getattr(float, name)

    def method(self: float, other: object) -> Any:
        result = base(self, other)
        if result is NotImplemented:  # an array operand: NumPy's IEEE arithmetic takes over
            return result
        return _IEEEFloat(result)

    return method


class _IEEEFloat(float):
    """A float whose division by zero gives inf/nan instead of raising."""

    __slots__ = ()

    def __truediv__(self, other):  # type: ignore[override]
        if not isinstance(other, (float, int)):
            return NotImplemented
        return _IEEEFloat(_ieee(operator.truediv)(float(self), float(other)))

    def __rtruediv__(self, other):  # type: ignore[override]
        if not isinstance(other, (float, int)):
            return NotImplemented
        return _IEEEFloat(_ieee(operator.truediv)(float(other), float(self)))

    __add__ = _ieee_method("__add__")
    __radd__ = _ieee_method("__radd__")
    __sub__ = _ieee_method("__sub__")
    __rsub__ = _ieee_method("__rsub__")
    __mul__ = _ieee_method("__mul__")
    __rmul__ = _ieee_method("__rmul__")
    __neg__ = lambda self: _IEEEFloat(-float(self))  # noqa: E731


def ieee(x: float) -> float:
    """`x` as a float whose arithmetic follows IEEE 754 (1/0 = inf) instead of raising."""
    return _IEEEFloat(x)


class _IEEEFloats(Backend):
    """`SCALAR`'s functions with IEEE results; a row's ``impl["math"]`` likewise."""

    def library(self, op: Op) -> Optional[Callable[..., Any]]:
        f = SCALAR.library(op)
        return _ieee(f) if f is not None else None


IEEE = _IEEEFloats(**{name: _ieee(f) for name, f in vars(SCALAR).items()})
IEEE.times = lambda x, y: _IEEEFloat(_times(float(x), float(y)))

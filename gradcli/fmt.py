"""Number formatting shared by tables, CSV and messages (JSON keeps full precision)."""

from __future__ import annotations

import math


def number(x: object, digits: int = 10) -> str:
    """A float as a person writes it: ``15``, ``0.3``, ``1.5e-07``, ``inf``, ``nan``."""
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return str(x)
    x = float(x)
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    if x == 0:
        return "0"
    text = format(x, f".{digits}g")
    if "e" in text:
        mantissa, exp = text.split("e")
        return f"{mantissa}e{int(exp):+03d}"
    return text


def json_number(x: float) -> object:
    """A float for strict JSON: non-finite numbers become "nan", "inf", "-inf"."""
    if math.isfinite(x):
        return x
    return number(x)

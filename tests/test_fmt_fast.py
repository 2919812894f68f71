"""The fast paths of number formatting give the same text as the formatting they replaced.

`gradcli.core.fmt.number` writes floats with one ``format`` call and `number_formatter`
remembers what it wrote; both are held here to `reference_number`, the function as it was
before (which rewrote every exponent by hand), over all floats -- subnormals, ±0, inf and
nan included -- ints, and every number of digits.
"""

from __future__ import annotations

import math
import struct

from hypothesis import given, settings
from hypothesis import strategies as st

from gradcli.core.fmt import FORMATTER_LIMIT, number, number_formatter


def reference_number(x: object, digits: int = 10) -> str:
    """`number` as it was, for scalars: every case through the checks, exponents rebuilt."""
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        try:
            x = float(x)  # type: ignore[arg-type]
        except (TypeError, ValueError):
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


DIGITS = st.integers(min_value=1, max_value=40)
#: every bit pattern is a float: subnormals, signed zeros, infinities, NaNs with payloads
BITS = st.integers(min_value=0, max_value=2**64 - 1).map(lambda n: struct.unpack("<d", struct.pack("<Q", n))[0])
FLOATS = st.one_of(st.floats(allow_nan=True, allow_infinity=True, allow_subnormal=True), BITS,
                   st.sampled_from([0.0, -0.0, math.inf, -math.inf, math.nan, -math.nan, 5e-324, -5e-324,
                                    2.2250738585072014e-308, 1.7976931348623157e308, 1e16, 1e-5, 1e-4,
                                    0.1, 1.0, 123456789.0, 1e21, 9.999999999e-5]))


@settings(max_examples=2000, deadline=None)
@given(FLOATS, DIGITS)
def test_number_formats_floats_as_before(x, digits):
    assert number(x, digits) == reference_number(x, digits)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.integers(min_value=-10**30, max_value=10**30), st.booleans()), DIGITS)
def test_number_formats_ints_as_before(x, digits):
    assert number(x, digits) == reference_number(x, digits)


@settings(max_examples=300, deadline=None)
@given(st.lists(FLOATS, max_size=40), DIGITS)
def test_the_formatter_remembers_what_number_writes(xs, digits):
    fmt = number_formatter(digits)
    for x in xs + xs[::-1]:  # every value twice: the second time from the memory
        assert fmt(x) == number(x, digits)


def test_the_formatter_keeps_zero_and_minus_zero_apart_only_where_number_does():
    fmt = number_formatter(10)
    assert fmt(-0.0) == "0" and fmt(0.0) == "0"
    assert fmt(1) == "1" and fmt(True) == "1"  # not floats: formatted, never remembered
    assert fmt(None) == "None"


def test_the_formatter_stops_remembering_at_its_limit():
    fmt = number_formatter(3)
    for k in range(FORMATTER_LIMIT + 10):
        x = 1.0 + k
        assert fmt(x) == number(x, 3)
    cells = fmt.__closure__  # the cache is the closure's dict: it holds no more than the limit
    assert cells is not None
    sizes = [len(c.cell_contents) for c in cells if isinstance(c.cell_contents, dict)]
    assert sizes == [FORMATTER_LIMIT]


def test_number_of_a_numpy_scalar_and_text():
    import numpy as np

    assert number(np.float64(0.1), 10) == "0.1"
    assert number(np.float32(0.5), 10) == "0.5"
    assert number("pi", 10) == "pi"
    assert number(np.array([1.0, 2.0]), 10) == "[1, 2]"

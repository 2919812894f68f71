"""Bulk float-to-text of --points output is byte-identical to ``repr`` of every value.

`gradcli.run.batch.float_rows` writes rows through orjson (a regular dependency) and
through ``repr`` when it cannot be imported; both must give exactly the text of
``"%r"`` per value, including nan, ±inf, -0.0, subnormals and exponent forms.
"""

from __future__ import annotations

import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from clitools import examples
from gradcli.run.batch import float_rows

EDGES = [0.0, -0.0, 1e-4, -1e-4, 9.999999999999999e-05, 1e16, 9999999999999998.0, 1e-5, 5e-324,
         1.7976931348623157e308, float("nan"), float("inf"), -float("inf"), 0.1, 123.0]


def _reference(table: np.ndarray, sep: str) -> str:
    row_format = sep.join(["%r"] * table.shape[1])
    return "".join(row_format % tuple(row) + "\n" for row in table.tolist())


@pytest.fixture(params=["orjson", "plain"])
def writer(request, monkeypatch):
    if request.param == "plain":
        monkeypatch.setitem(sys.modules, "orjson", None)
    elif request.param == "orjson":
        pytest.importorskip("orjson")
    return float_rows


@pytest.mark.parametrize("sep", [",", "\t"])
def test_edge_values_print_as_repr(writer, sep):
    table = np.array([[x, y] for x in EDGES for y in (1.5, -2.25, x)])
    assert writer(table, sep) == _reference(table, sep)


def test_all_special_and_one_column(writer):
    for table in (np.full((3, 2), np.nan), np.array([[1.0], [1e-7], [2.0]]), np.array([[np.inf, 1.0]])):
        assert writer(table, ",") == _reference(table, ",")


@settings(max_examples=examples(60), deadline=None)
@given(hnp.arrays(np.float64, st.tuples(st.integers(1, 40), st.integers(1, 5)),
                  elements=st.floats(allow_nan=True, allow_infinity=True, width=64)))
def test_random_tables_print_as_repr(table):
    assert float_rows(table, ",") == _reference(table, ",")
    assert float_rows(table, "\t") == _reference(table, "\t")


# ---- reading: the bulk reader's numbers are float()'s numbers ---------------------------------
def _decimal_texts():
    digits = st.text("0123456789", min_size=1, max_size=25)
    mantissa = st.one_of(digits, st.builds(lambda a, b: f"{a}.{b}", digits, digits))
    exponent = st.one_of(st.just(""), st.builds(lambda e, x: f"{e}{x}", st.sampled_from(["e", "E", "e-", "e+"]),
                                                st.integers(0, 330)))
    sign = st.sampled_from(["", "-"])
    return st.builds(lambda s, m, e: f"{s}{m.lstrip('0') or '0' if '.' not in m else m}{e}", sign, mantissa,
                     exponent)


@settings(max_examples=examples(200), deadline=None)
@given(st.lists(st.lists(st.one_of(_decimal_texts(), st.floats(allow_nan=False, allow_infinity=False).map(repr)),
                         min_size=2, max_size=2), min_size=1, max_size=20))
def test_bulk_reader_gives_float_of_every_cell(rows):
    """The bulk reader's numbers are ``float`` of each cell, bit for bit (-0.0 included)."""
    from gradcli.run.batch import _parse_bulk

    text = "a,b\n" + "".join(",".join(r) + "\n" for r in rows)
    expected = np.array([[float(c) for c in r] for r in rows])
    got = _parse_bulk(text)
    if not np.isfinite(expected).all():
        assert got is None
        return
    assert got is not None
    assert got[1].tobytes() == expected.tobytes(), (rows, got[1], expected)


@pytest.mark.parametrize("cells", [["-0", "1"], ["-00", "2"], ["1", "-0"], ["-0.0", "-0e3"]])
def test_negative_zero_cells_stay_negative(cells):
    from gradcli.run.batch import _parse_bulk

    got = _parse_bulk("a,b\n" + ",".join(cells) + "\n")
    assert got is not None
    assert np.signbit(got[1][0]).tolist() == [c.startswith("-") for c in cells]


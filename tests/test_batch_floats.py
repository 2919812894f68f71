"""Bulk float-to-text of --points output is byte-identical to ``repr`` of every value.

`gradcli.run.batch.float_rows` writes rows through orjson when it is installed (an
optional extra) and through ``repr`` otherwise; both must give exactly the text of
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

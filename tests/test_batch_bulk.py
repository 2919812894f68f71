"""The bulk --points reader agrees with the row-by-row reader.

`gradcli.run.batch._parse_bulk` reads plain files (numbers, commas, newlines) in bulk
and returns None for anything else; `_parse_rows` reads every file row by row with the
csv module and names the first bad line.  Wherever the bulk parse answers, its answer
must be exactly the row reader's (names, values to the bit, line numbers); wherever a
file is malformed, the message must be the row reader's.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gradcli.core.errors import UsageError
from gradcli.run import batch


def _rows(text: str):
    return batch._parse_rows(text, "--points p.csv")


def _same(text: str) -> bool:
    """Assert the bulk parse, where it answers, equals the row reader; True if it answered."""
    bulk = batch._parse_bulk(text)
    if bulk is None:
        return False
    names, data, lines = _rows(text)
    assert bulk[0] == names
    assert bulk[1].shape == data.shape
    assert bulk[1].tobytes() == data.tobytes()  # bit for bit, -0.0 included
    assert bulk[2].tolist() == lines.tolist()
    return True


@pytest.mark.parametrize("text", [
    "a,b\n1,2\n3,4\n",
    "a,b\n1,2\n3,4",  # no final newline
    "a,b\r\n1,2\r\n-0.0,4e-300\r\n",
    " a , b \n 1 , 2 \n",  # spaces around names and numbers
    "x\n1\n2.5\n-3e5\n",
    "a,b,c\n1,2,3\n1e308,-1e-320,0.1\n",
    "a,b\n1_000,2\n",  # float() reads underscores: so do both readers
])
def test_plain_files_are_read_in_bulk_and_agree(text):
    assert _same(text)


@pytest.mark.parametrize("text", [
    '"a","b"\n1,2\n',  # quotes: the csv module's rules
    "a,b\n1,2\n\n3,4\n",  # a blank line is skipped, and shifts the line numbers
    "a,b\n1,2\n , \n3,4\n",  # an all-blank row is skipped too
    "a,b\n1,2\r3,4\n",  # a lone \r ends a row
    "a,b\n1,2\n3\n",  # a short row
    "a,b\n1,2,3\n",  # a long row
    "a,b\n1,x\n",  # not a number
    "a,b\n1,nan\n",  # not finite
    "a,b\n1,inf\n",
    "a,b\n1,\n",  # an empty cell
    "a,b\n",  # no rows
    "a,a\n1,2\n",  # a name twice
    "a,,b\n1,2,3\n",  # an empty name
    "",
    "a,b\n1,2\x00\n",
    "a\n" + "1" * 200_000 + "\n",  # over the csv module's field limit
])
def test_other_files_are_left_to_the_row_reader(text):
    assert batch._parse_bulk(text) is None


@pytest.mark.parametrize("text, fragment", [
    ("a,b\n1,2\n3\n", "line 3: 1 value in the row but 2 column names"),
    ("a,b\n1,2\n3,4,5\n", "line 3: 3 values in the row"),
    ("a,b\n1,2\n3,x\n", "line 3: 'x' is not a number"),
    ("a,b\n1,2\n\n3,inf\n", "line 4: every value must be a finite number"),
    ("a,b\n1,2\n3,1e999\n", "line 3: every value must be a finite number"),
    ("a\n" + "1" * 200_000 + "\n", "field larger than field limit"),
])
def test_malformed_rows_get_the_row_readers_message(tmp_path, text, fragment):
    path = tmp_path / "p.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(UsageError) as info:
        batch.read_points_lines(str(path))
    assert fragment in info.value.message
    with pytest.raises(UsageError) as slow:
        _rows(text)
    assert info.value.message.replace(str(path), "p.csv") == slow.value.message


def test_a_large_plain_file_is_read_in_bulk(tmp_path):
    rng = np.random.default_rng(3)
    points = rng.uniform(-10, 10, size=(5000, 3)) * 10.0 ** rng.integers(-300, 300, size=(5000, 3))
    text = "a,b,c\n" + "".join(f"{a!r},{b!r},{c!r}\n" for a, b, c in points.tolist())
    assert _same(text)
    path = tmp_path / "p.csv"
    path.write_text(text, encoding="utf-8")
    names, data, lines = batch.read_points_lines(str(path))
    assert names == ["a", "b", "c"] and data.tobytes() == points.tobytes()
    assert lines.tolist() == list(range(2, 5002))


CELL = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.integers(-10**6, 10**6).map(str),
    st.text(alphabet="0123456789.-+eE _xn", max_size=6),
)


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 3).flatmap(lambda k: st.tuples(
    st.just(k),
    st.lists(st.lists(CELL, min_size=max(1, k - 1), max_size=k + 1), max_size=6),
    st.sampled_from(["\n", "\r\n"]),
    st.booleans(),
)))
def test_random_files_agree_with_the_row_reader(case):
    k, rows, newline, final = case
    text = ",".join("abc"[:k]) + newline + newline.join(",".join(r) for r in rows) + (newline if final else "")
    try:
        expected = _rows(text)
    except UsageError:
        assert batch._parse_bulk(text) is None  # a file the row reader refuses is never accepted in bulk
        return
    bulk = batch._parse_bulk(text)
    if bulk is not None:
        assert bulk[0] == expected[0]
        assert bulk[1].tobytes() == expected[1].tobytes()
        assert bulk[2].tolist() == expected[2].tolist()

"""A long program's compact forms (issue 24: the 10^6-statement chain in ≤ 400 MiB).

From `gradcli.core.engine.COMPACT_FROM` nodes on, a tape keeps its `live` flags and backward
kinds as bytes and a scalar graph's values and adjoints as C doubles.  Here the threshold is
lowered to 0, so small programs take that path: every value, adjoint, error and JSON byte is the
one the list path gives.  And a long program text is JSON-encoded a piece at a time
(`gradcli.output.documents._chunks`), byte for byte as a whole.
"""

from __future__ import annotations

import io
from array import array

import pytest

from gradcli import api
from gradcli.core import engine
from gradcli.core.errors import MathError
from gradcli.output import documents
from gradcli.output.documents import write_json

PROGRAMS = [
    ("x1 = sin(x0)\nx2 = sin(x1)\nx3 = sin(x2)", {"x0": 0.5}),
    ("x*x + x", {"x": -3.0}),
    ("(a+b)*(b+1)", {"a": 2.0, "b": 1.0}),
    ("f = tanh(a) - sigmoid(b) + exp(-a) * a / b + a^2 + max(a, b, 2)", {"a": 0.3, "b": -1.5}),
    ("y = 2*3 + x\nz = y - -0.0", {"x": -0.0}),  # a node no input reaches, and a negative zero
    ("sqrt(x) + x", {"x": 0.0}),  # an infinite derivative: the careful walk
]


def _both(monkeypatch, source: str, values: dict):
    """(list path, compact path) evaluations of `source`."""
    plain = api.evaluate(source, **values)
    monkeypatch.setattr(engine, "COMPACT_FROM", 0)
    compact = api.evaluate(source, **values)
    monkeypatch.undo()
    return plain, compact


def _bits(xs) -> list[str]:
    return [float(x).hex() for x in xs]


@pytest.mark.parametrize("source, values", PROGRAMS)
def test_compact_values_and_adjoints_are_the_lists_to_the_bit(monkeypatch, source, values):
    plain, compact = _both(monkeypatch, source, values)
    p, c = plain._report().evaluation, compact._report().evaluation
    assert isinstance(p.values, list) and not p.tape.compact
    assert isinstance(c.values, array) and c.tape.compact and isinstance(c.tape.live, bytearray)
    assert _bits(c.values) == _bits(p.values)
    assert _bits(c.adjoints) == _bits(p.adjoints)
    assert list(map(bool, c.tape.live)) == list(map(bool, p.tape.live))
    assert list(c.tape.reverse_code) == list(p.tape.reverse_code)
    assert list(c.tape.code) == list(p.tape.code)


def test_a_chain_of_statements_keeps_its_node_ids_as_a_range(monkeypatch):
    plain, compact = _both(monkeypatch, *PROGRAMS[0])
    tape = compact._report().evaluation.tape
    assert tape._ids == range(1, 4) and tape._rev_ids is tape._ids
    assert list(tape._ids) == plain._report().evaluation.tape._ids


@pytest.mark.parametrize("source, values", PROGRAMS)
def test_compact_json_is_the_same_document(monkeypatch, source, values):
    plain, compact = _both(monkeypatch, source, values)
    texts = []
    for result in (plain, compact):
        out = io.StringIO()
        write_json(result._report(), out.write)
        texts.append(out.getvalue())
    assert texts[0] == texts[1]
    assert '"adjoint"' in texts[0]


def test_compact_domain_error_is_the_same_message(monkeypatch):
    messages = []
    for threshold in (engine.COMPACT_FROM, 0):
        monkeypatch.setattr(engine, "COMPACT_FROM", threshold)
        with pytest.raises(MathError) as info:
            api.evaluate("y = x - 3\nz = log(y) * x", x=1.0)
        messages.append(str(info.value))
    assert messages[0] == messages[1]
    assert "log" in messages[0]


def test_a_long_program_text_is_encoded_in_pieces_as_a_whole(monkeypatch):
    source = 'a = "x\\\\ y\n\t\u202e b\x7f \x85 é \u2028 ' * 50
    doc = {"schema": 1, "program": source, "nodes": [], "ok": True}
    whole = "".join(documents._chunks(doc, iter(())))
    monkeypatch.setattr(documents, "_PIECE", 7)
    pieces = list(documents._chunks(doc, iter(())))
    assert "".join(pieces) == whole
    assert len(pieces) > len(source) // 7
    assert "\\u202e" in whole and "\\n" in whole

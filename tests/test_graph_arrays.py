"""The structure-of-arrays graph and the pieces that keep a long program's memory small:
`Node` views, the chunked lexer, the two-pass `lower_source`, the streamed JSON writer."""

from __future__ import annotations

import copy
import io

import pytest

from gradcli.core.errors import ParseError
from gradcli.core.graph import CONST, INPUT, Graph, Node
from gradcli.language import lexer
from gradcli.language import lower as lowering
from gradcli.language.lower import lower, lower_source
from gradcli.language.parser import parse
from gradcli.oracles.checks import finite_differences
from gradcli.output.documents import dumps, to_json, write_json
from gradcli.run.bindings import parse_argument
from gradcli.run.evaluate import evaluate
from gradcli.run.reports import EvalReport


def _dump(graph: Graph) -> list[tuple]:
    return [(n.id, n.op, n.args, n.name, n.param, n.text, n.pos, n.shape, n.call) for n in graph.nodes]


def test_nodes_are_views_of_the_arrays():
    g = lower(parse("c = a + b; d = b + 1; e = c * d"))
    assert len(g.nodes) == len(g) == len(g.ops)
    e = g.nodes[g.output]
    assert (e.op, e.args, e.name) == ("mul", (g.names["c"], g.names["d"]), "e")
    assert g.nodes[-1] == e and g.nodes[len(g) - 1] == e and hash(g.nodes[-1]) == hash(e)
    assert [n.id for n in g.nodes[1:3]] == [1, 2]
    assert [n.id for n in reversed(g.nodes)] == list(range(len(g) - 1, -1, -1))
    e.name = "out"  # a write goes to the graph
    assert g.names_of[g.output] == "out" and g.label(g.output) == "out"
    e.shape = (2,)
    assert g.shapes[g.output] == (2,)
    with pytest.raises(IndexError):
        g.nodes[len(g)]  # noqa: B018


def test_a_deep_copy_has_its_own_arrays():
    g = lower(parse("y = sin(x) * 2"))
    other = copy.deepcopy(g)
    for node in other.nodes:
        node.name = "renamed"
    assert _dump(g) != _dump(other)
    assert all(name != "renamed" for name in g.names_of)


def test_hash_consing_keys_of_one_and_two_arguments_never_collide():
    g = Graph()
    x, y = g.input("x"), g.input("y")
    nodes = {g.add(op, args) for op in ("add", "mul", "sub", "sin", "neg") for args in ((x, y), (y, x), (x,), (y,))
             if (op in ("sin", "neg")) == (len(args) == 1)}
    assert len(nodes) == 3 * 2 + 2 * 2
    assert g.add("add", (x, y)) == g.add("add", (x, y))
    assert g.add("sum", (x,), param=0) != g.add("sum", (x,), param=1)
    assert [g.ops[i] for i in g.inputs] == [INPUT, INPUT]
    c = g.const(2.0, "2")
    assert g.const(2.0, "2.0") == c and g.ops[c] == CONST and g.texts[c] == "2"


def test_pruning_keeps_every_array_in_step():
    g = lower(parse("u = sin(x); v = exp(x) + u; w = u * 2"), output="u")
    assert str(g) == "x = input\nu = sin(x)    # output"
    assert [n.call for n in g.nodes] == [-1, -1]
    assert isinstance(g.nodes[1], Node) and g.nodes[1].pos == 4  # where sin( starts


def test_the_lexer_reads_a_long_program_in_chunks_as_one(monkeypatch):
    source = "".join(f"v{k} = tanh(v{k - 1} * 0.5) + 1e-3  # step {k}\n" for k in range(1, 400)) + "v399^2"
    whole = list(lexer.tokenize(source))
    monkeypatch.setattr(lexer, "_CHUNK", 7)
    assert list(lexer.tokenize(source)) == whole
    shared = list(lexer.tokenize(source, share_names=True))
    assert shared == whole
    v5 = [text for kind, text, _ in shared if text == "v5"]
    assert len(v5) == 2 and v5[0] is v5[1]
    assert [t[1] for t in whole if t[0] not in ("nl", "eof")] == [t for t in lexer._TOKEN.findall(source)
                                                      if t.strip() and not t.startswith("#")]


PROGRAMS = [
    "c = a + b; d = b + 1; e = c * d",
    "def f(p, q) = p * sin(q)\nh = f(x, y) + f(y, x)\nout = h^2 + log(1 + x^2)",
    "W = [[1, 2], [3, 4]]\ns = sum(W @ v)",
    "t = sigmoid(x)\nz = t * (1 - t)",
]


@pytest.mark.parametrize("source", PROGRAMS)
def test_two_pass_lowering_builds_the_same_graph(monkeypatch, source):
    one = lower(parse(source))
    monkeypatch.setattr(lowering, "STREAM_CHARS", 1)
    monkeypatch.setattr(lowering, "FAST_LANE_CHARS", 10**9)  # the two passes, not the fast lane
    two = lower_source(source)
    assert _dump(two) == _dump(one)
    assert (two.names, two.inputs, two.output, two.output_name, two.calls) == (
        one.names, one.inputs, one.output, one.output_name, one.calls)


@pytest.mark.parametrize("source", [
    "y = x + z\nz = 2",  # used before it is assigned
    "y = 1\ny = 2",  # assigned twice
    "y = foo(x)\nz = (",  # a parse error after a lowering error: the parse error comes first
    "def f(a) = a\n",  # only functions
    "",
])
def test_two_pass_lowering_reports_the_same_first_error(monkeypatch, source):
    with pytest.raises(ParseError) as one:
        lower(parse(source))
    monkeypatch.setattr(lowering, "STREAM_CHARS", 1)
    monkeypatch.setattr(lowering, "FAST_LANE_CHARS", 10**9)
    with pytest.raises(ParseError) as two:
        lower_source(source)
    assert (str(two.value), two.value.pos) == (str(one.value), one.value.pos)


def _evaluation(source: str, **values: str):
    return evaluate(source, {k: parse_argument(f"{k}={v}") for k, v in values.items()})


@pytest.mark.parametrize("source, values, checks", [
    ("c = a + b; d = b + 1; e = c * d", {"a": "3", "b": "2"}, True),
    ("y = sqrt(x) + x", {"x": "0"}, False),  # an infinite adjoint: "inf" strings
    ("s = sum(sigmoid(W @ v))", {"W": "[[1,2],[3,4]]", "v": "[0.5,-1]"}, True),
])
def test_the_streamed_document_is_dumps_of_to_json(monkeypatch, source, values, checks):
    ev = _evaluation(source, **values)
    found = [finite_differences(ev, 1e-6, 1e-9)] if checks else []
    monkeypatch.setattr("gradcli.output.documents._BATCH", 2)  # several batches even on a small graph
    monkeypatch.setattr("gradcli.output.json_text.BATCH", 2)
    for with_nodes in (True, False):
        out = io.StringIO()
        report = EvalReport(evaluation=ev, checks=found)
        write_json(report, out.write, with_nodes=with_nodes)
        assert out.getvalue() == dumps(to_json(report, with_nodes=with_nodes)) + "\n"
        assert out.getvalue().count('"id": ') == (len(ev.graph) if with_nodes else 0)

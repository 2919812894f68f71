"""The eval document's node table, written from the graph's columns (`gradcli.output.json_text`),
is byte for byte what ``json.dumps`` makes of the node dicts (`to_json` + `dumps`, the API's path).

Random programs mix scalars and arrays of rank 1 to 4, named, auto-named and unnamed nodes,
non-ASCII names, constants whose values print with exponents, infinite and NaN adjoints, and
outputs with and without a gradient; each document is written in batches of several sizes,
with orjson and without it.
"""

from __future__ import annotations

import io
import json
import math
import sys

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from clitools import examples, run_cli
from gradcli import api
from gradcli.core.errors import GradcliError
from gradcli.core.fmt import json_number
from gradcli.output import json_text
from gradcli.output.documents import dumps, to_json, write_json
from gradcli.output.json_text import encode
from gradcli.output.terminal import json_visible


def _written(report, with_nodes: bool = True) -> str:
    out = io.StringIO()
    write_json(report, out.write, with_nodes=with_nodes)
    return out.getvalue()


def _report(source: str, mode: str = "reverse", **values):
    return api.evaluate(source, mode=mode, **values)._report()


@pytest.fixture(params=["orjson", "plain"])
def orjson_or_not(request, monkeypatch):
    """Each test twice: with orjson (for any count of numbers, however few), and as if it were
    not installed."""
    if request.param == "plain":
        monkeypatch.setitem(sys.modules, "orjson", None)
    else:
        pytest.importorskip("orjson")
        monkeypatch.setattr(json_text, "ORJSON_FROM", 0)
    return request.param


# ---- numbers ------------------------------------------------------------------------------
EDGES = [0.0, -0.0, 1e-4, -1e-4, 9.999999999999999e-05, 1e-5, 1.5e-5, 99e-6, 1e-6, 4.6e-6, 1e-9, 1e-10,
         2.5e-300, 5e-324, 1e16, -1e16, 9999999999999998.0, 1e22, 1.7976931348623157e308, 10.00001,
         100.00002, 1.00001, 0.1, 123.0, math.nan, math.inf, -math.inf]


def _reference_number(x) -> str:
    """What the eval document has for a scalar node's value or adjoint (`node_entries`)."""
    if isinstance(x, float) and not math.isfinite(x):
        x = json_number(x)
    return json.dumps(x, ensure_ascii=False)


def test_edge_numbers_are_written_as_json_dumps_writes_them(orjson_or_not):
    xs = EDGES + [-x for x in EDGES] + [None, 3, True]
    assert json_text.scalars_text(xs) == [_reference_number(x) for x in xs]


@settings(max_examples=examples(200), deadline=None)
@given(st.lists(st.one_of(st.floats(width=64), st.floats(-1e-3, 1e-3), st.floats(1e15, 1e17), st.none(),
                          st.integers(-2**70, 2**70)), max_size=60))
def test_random_numbers_are_written_as_json_dumps_writes_them(xs):
    expected = [_reference_number(x) for x in xs]
    for orjson in (True, False):  # (the `orjson_or_not` fixture, inside: Hypothesis runs the body many times)
        with pytest.MonkeyPatch.context() as patch:
            if orjson:
                patch.setattr(json_text, "ORJSON_FROM", 0)
            else:
                patch.setitem(sys.modules, "orjson", None)
            assert json_text.scalars_text(xs) == expected


# ---- random programs ----------------------------------------------------------------------
SCALAR_FORMS = ["{x} + {y}", "{x} - {y}", "{x} * {y}", "{x} / (1 + {y}^2)", "-{x}", "sin({x})", "tanh({x})",
                "sigmoid({x})", "exp(-{x}^2)", "sqrt({x}^2)", "max({x}, {y})", "{x}^2", "abs({x})",
                "3e-5 * {x}", "2.5e-7 * {x} + 1e-12", "{x} * 1e17", "sin({x}) * cos({y})", "{x} * {x} + {x}"]
ARRAY_FORMS = ["sum(T * T)", "T[0, 1, 1] * {x}", "sum(Q[1, :, 0, 1:2]) + {x}", "sum(softmax(v, 0) * v)",
               "sum([{x}, {y}] * v)", "sum(M @ v)", "sum(sum(T, 0))", "sum(reshape(Q, 4, 4))",
               "sum(transpose(M)) * {y}", "max(v)", "sum(T[1])"]
NAMES = ["n", "ä", "θ", "x_", "Ω"]
ARRAYS = {"v": [0.5, -1.25], "M": [[1.0, 2.0], [-3.0, 0.25]],
          "T": [[[1.0, -2.0], [3e-5, 4.0]], [[5.0, 6e20], [-7.0, 8.0]]],
          "Q": [[[[1.0, 2.0], [3.0, 4.0]], [[5.0, 6.0], [7.0, 1e-7]]]] * 2}


@st.composite
def programs(draw):
    """(source, values): scalar inputs a, b, arrays when used, 1-5 statements, a scalar or array output."""
    scalars = ["a", "b"]
    lines = []
    for k in range(draw(st.integers(1, 5))):
        forms = SCALAR_FORMS + ARRAY_FORMS if draw(st.booleans()) else SCALAR_FORMS
        form = draw(st.sampled_from(forms))
        text = form.format(x=draw(st.sampled_from(scalars)), y=draw(st.sampled_from(scalars)))
        name = f"{draw(st.sampled_from(NAMES))}{k}"
        lines.append(f"{name} = {text}")
        scalars.append(name)
    if draw(st.booleans()):
        lines.append("out = " + " + ".join(scalars[2:]))
    elif draw(st.booleans()):
        lines.append(f"out = [{scalars[-1]}, {scalars[0]}] * 2")  # an array output: no gradient
    source = draw(st.sampled_from(["; ", "\n"])).join(lines)
    special = st.sampled_from([0.0, -0.0, 1e-5, 3e-6, 1e17, 0.5])
    values = {"a": draw(st.one_of(special, st.floats(-3, 3))), "b": draw(st.one_of(special, st.floats(-3, 3)))}
    values.update({name: array for name, array in ARRAYS.items() if name in source})
    return source, values


@settings(max_examples=examples(120), deadline=None)
@given(programs(), st.sampled_from(["reverse", "forward"]), st.sampled_from([None, 1, 2, 3]))
def test_written_document_is_dumps_of_to_json(program, mode, batch):
    source, values = program
    try:
        report = _report(source, mode=mode, **values)
    except GradcliError:  # an overflow, a domain error: no document
        assume(False)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(json_text, "BATCH", batch or json_text.BATCH)
        text = _written(report)
    assert text == dumps(to_json(report)) + "\n"
    graph = report.evaluation.graph
    assert json_text.expressions(graph) == [graph.names_of[i] if graph.ops[i] == "input" else graph.definition(i)
                                            for i in range(len(graph))]
    doc = json.loads(text)
    assert [n["id"] for n in doc["nodes"]] == list(range(len(graph)))


@pytest.mark.parametrize("source, values, mode", [
    ("y = sqrt(x) + x", {"x": 0.0}, "reverse"),  # an infinite adjoint
    ("y = sqrt(x) * 0 + x", {"x": 0.0}, "reverse"),  # a NaN one
    ("s = sum(T * T) + T[0, 1, 1]", {"T": ARRAYS["T"]}, "reverse"),  # rank 3
    ("s = sum(Q[1, :, 0, 1:2]) + sum(reshape(Q, 4, 4))", {"Q": ARRAYS["Q"]}, "reverse"),  # rank 4
    ("v2 = [a, b] * 2", {"a": 1.0, "b": 2.0}, "reverse"),  # no gradient: every adjoint null
    ("y = a * b + sin(a)", {"a": 1e-5, "b": 3e17}, "forward"),  # tangents
    ("c = a + b; d = b + 1; e = c * d", {"a": 3.0, "b": 2.0}, "reverse"),
    # three arguments (clip, where), any number (max), comparisons, a power
    ("y = clip(x, 0, 1) + where(x > 0, x, -x) + max(x, 2, x*x) + x^2", {"x": 0.5}, "reverse"),
])
def test_examples_are_dumps_of_to_json(orjson_or_not, source, values, mode):
    report = _report(source, mode=mode, **values)
    for with_nodes in (True, False):
        assert _written(report, with_nodes) == dumps(to_json(report, with_nodes=with_nodes)) + "\n"


def test_the_columns_write_a_regular_graph_without_the_node_dicts(monkeypatch):
    report = _report("c = a + b; d = max(c, 2) * [a, b][1]; e = d / 3", a=1.0, b=2.0)
    expected = dumps(to_json(report)) + "\n"

    def no_dicts(*args):
        raise AssertionError("the node dicts were made")

    monkeypatch.setattr(json_text, "node_entries", no_dicts)
    assert _written(report) == expected


def test_a_batch_the_columns_cannot_write_is_written_from_its_dicts(monkeypatch):
    report = _report("c = a + b; d = c * sin(b); e = d / 3", a=1.0, b=2.0)
    expected = dumps(to_json(report)) + "\n"

    def irregular(self, start, stop):
        raise json_text._Irregular(start)

    monkeypatch.setattr(json_text._Columns, "expressions", irregular)
    monkeypatch.setattr(json_text, "BATCH", 2)
    assert _written(report) == expected


@pytest.mark.parametrize("name", ['q"uote', "back\\slash", "tab\there", "new\nline", "per%cent%s", "%(x)s",
                                  "esc\x1b[31m", "del\x7f", "c1\x85", "bidi\u202e", "nul\x00", "ünï", "}, {"])
def test_any_name_is_escaped_as_json_dumps_and_json_visible_escape_it(orjson_or_not, name):
    """Names come from the parser's identifiers; the writer does not rely on it."""
    report = _report("c = a + b; d = c * 2; e = d / 3", a=1.0, b=2.0)
    graph = report.evaluation.graph
    graph.names_of[graph.names["c"]] = name
    graph.names_of[graph.names["a"]] = name + "2"
    const = graph.ops.index("const")
    graph.texts[const] = name + "3"
    graph.names_of[graph.names["d"]] = None  # unnamed: labelled %i
    reference = dumps(to_json(report)) + "\n"
    text = _written(report)
    assert text == reference
    assert not any(c in text for c in "\x00\x1b\x7f\x85\u202e")  # escaped: \u001b, \u007f ...
    assert json.loads(text)["nodes"][graph.names["a"]]["name"] == json.loads(json.dumps(name + "2"))


def test_the_expressions_column_is_the_graphs_definitions():
    report = _report("s = sum(softmax(v, 0)) + sum([a, b] * v) + max(v) + v[1] + max(a, b, 2)",
                     v=[1.0, 2.0], a=1.0, b=2.0)
    graph = report.evaluation.graph
    expected = [graph.names_of[i] if graph.ops[i] == "input" else graph.definition(i) for i in range(len(graph))]
    assert json_text.expressions(graph) == expected
    assert json_text.expressions(graph, 2, 5) == expected[2:5]
    assert json_text.expressions(graph, 3, 3) == []


# ---- the command line ---------------------------------------------------------------------------
@pytest.mark.parametrize("argv", [
    ["c = a + b; d = b + 1; e = c * d", "a=3", "b=2"],
    ["s = sum(T * T) + T[0, 1, 1]", "T=[[[1,2],[3,4]],[[5,6],[7,8]]]"],
    ["y = sqrt(x) + 3e-5 * x", "x=0"],
])
@pytest.mark.parametrize("lean", [False, True])
def test_eval_json_prints_the_apis_document(argv, lean):
    result = run_cli(["eval", *argv, "--json", *(["--no-nodes"] if lean else [])])
    assert result.exit_code == 0, result.stderr
    values = {k: json.loads(v) for k, v in (a.split("=", 1) for a in argv[1:])}
    report = _report(argv[0], **values)
    assert result.stdout == dumps(to_json(report, with_nodes=not lean)) + "\n"


def test_a_node_with_another_argument_count_than_its_op_is_written_from_its_dict():
    """Two nodes whose argument counts are off by one each way would still fill one batch
    template: the column writer checks every count, and writes such a batch from its dicts."""
    report = _report("c = a + b; d = sin(c); e = d * c", a=1.0, b=2.0)
    graph = report.evaluation.graph
    c, d = graph.names["c"], graph.names["d"]
    assert graph.arg_end[c] - graph.arg_end[c - 1] == 2 and graph.arg_end[d] - graph.arg_end[d - 1] == 1
    graph.arg_end[c] -= 1  # c = add(a), d = sin(b, c): the same arguments end to end
    assert graph.args(c) == (graph.names["a"],) and graph.args(d) == (graph.names["b"], c)
    rows = json.loads("[" + "".join(json_text.node_rows(report.evaluation)) + "]")
    assert [rows[c]["expr"], rows[d]["expr"]] == [graph.definition(c), graph.definition(d)] == ["add(a)", "sin(b, c)"]
    assert json_text.expressions(graph) == [graph.names_of[i] if graph.ops[i] == "input" else graph.definition(i)
                                            for i in range(len(graph))]


# ---- strings --------------------------------------------------------------------------------
@settings(max_examples=examples(300), deadline=None)
@given(st.one_of(st.text(), st.text(alphabet=st.sampled_from('ab1 =+*()\n\t"\\\x00\x1f\x7f\x85\u202e θ')),
                 st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7e))))
def test_a_strings_inside_is_json_visible_of_json_dumps(text):
    reference = json_visible(encode(text))[1:-1]
    assert json_text.string_inside(text) == reference
    assert json_text.printable_ascii(text) == (reference == text and text.isascii())


def test_a_programs_text_is_written_with_its_newlines_escaped():
    program = "c = a + b\nd = c * 2\n" * 3
    assert json_text.string_inside(program) == program.replace("\n", "\\n")
    assert json_text.string_inside('y = "x"\t\x7f') == 'y = \\"x\\"\\t\\u007f'
    assert json_text.printable_ascii("c = a + b") and not json_text.printable_ascii("c\n")


def test_labels_and_op_text_with_a_percent_sign_survive_both_fills():
    """A node's template is filled twice (labels, then argument ids): a % in a label, in a
    node's own expression or in an op's text must come out as one %."""
    report = _report("c = a + b; d = c * 2; e = sin(d) / 3", a=1.0, b=2.0)
    graph = report.evaluation.graph
    graph.names_of[graph.names["c"]] = "p%d"
    graph.names_of[graph.names["a"]] = "%%s"
    graph.texts[graph.ops.index("const")] = "2%"
    expected = dumps(to_json(report)) + "\n"
    assert _written(report) == expected
    assert '"expr": "p%d * 2%"' in expected and '"expr": "%%s + b"' in expected
    # an op's own text with a % in it: doubled once for each fill
    assert json_text._template("add", lambda t: t + "%", "%%%%") == "%s +%%%% %s"
    assert json_text._template("add", lambda t: t + "%") % ("a", "b") == "a +% b"


def test_orjson_is_weighed_by_the_node_count(monkeypatch):
    """Values and adjoints are one orjson text, but the import (`ORJSON_FROM`) is weighed as
    before: by how many nodes the table has, not how many numbers."""
    asked = []
    real = json_text._orjson
    monkeypatch.setattr(json_text, "_orjson", lambda count: asked.append(count) or real(count))
    report = _report("c = a + b; d = c * 2; e = d / 3", a=1.0, b=2.0)
    assert _written(report) == dumps(to_json(report)) + "\n"
    assert asked and max(asked) == len(report.evaluation.graph)


@pytest.mark.parametrize("batch", [1, 2, 3, 5, 512])
def test_unnamed_nodes_at_a_batchs_edges_are_written_null(monkeypatch, batch):
    """A row's start is one piece with the previous row's end, and a node without a name is
    null without quotes (its pieces replaced after the rows are placed): such a node, first or
    last in its batch, is written as json.dumps writes it."""
    report = _report("e = (a + 2) * (b + 3) - sin(a * b); f = e * (a - 1)", a=1.5, b=-2.0)
    graph = report.evaluation.graph
    assert graph.names_of.count(None) >= 3  # several unnamed nodes (a + 2, b + 3, ...)
    monkeypatch.setattr(json_text, "BATCH", batch)
    text = _written(report)
    assert text == dumps(to_json(report)) + "\n"
    rows = [json.loads(line.rstrip(",")) for line in text.splitlines() if line.startswith('    {"id": ')]
    assert [row["id"] for row in rows] == list(range(len(graph)))
    assert [row["name"] for row in rows] == graph.names_of

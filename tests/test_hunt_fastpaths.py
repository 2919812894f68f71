"""Differential tests of the fast paths of issue 24 against the general paths they stand in for,
aimed at their corners (the bug hunt of the "huntlang" slice):

* the fast lane of parsing and lowering (`gradcli.language.fastlane`: `lower_fast`, its line
  templates `_lower_lines` and its token lane `_lower`) against ``lower(parse(source))``: the
  same graph, table for table, or a step aside where the general path reports an error;
* the node table's writer (`gradcli.output.json_text.node_rows`, `scalars_text`) against
  ``json.dumps`` of the node dicts and ``repr``: numbers of every decade, tables around the
  batch and orjson bounds;
* ``gradcli eval ... --json`` through the click-free entry point (`gradcli.cli.main.run`)
  against the click command: the same stdout, stderr and exit status, on good and bad input.
"""

from __future__ import annotations

import gc
import io
import json
import math
import random
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clitools import examples, invoke
from gradcli import api
from gradcli.core.engine import Tape
from gradcli.core.errors import GradcliError
from gradcli.core.shapes import infer_shapes
from gradcli.language import fastlane
from gradcli.language.fastlane import lower_fast
from gradcli.language.lower import lower
from gradcli.language.parser import parse
from gradcli.output import json_text
from gradcli.output.documents import dumps, to_json, write_json
from test_fastlane import _general, _tables, _through_lower_source


def _lane(lane, source: str, output=None):
    """One lane's graph, or None where it steps aside (the lanes signal that by raising)."""
    try:
        return lane(source, output)
    except Exception:  # noqa: BLE001 - any error: `lower_fast` turns it into None
        return None


def _assert_lanes_agree(source: str, output=None):
    """Every lane that takes `source` builds the general path's graph, and `lower_source` gives
    what the general path gives (its graph or its error); the general path's answer."""
    general = _general(source, output)
    for lane in (lower_fast, fastlane._lower_lines, fastlane._lower):
        graph = _lane(lane, source, output)
        if graph is not None:
            assert general == ("ok", _tables(graph)), (lane.__name__, source, output)
    assert _through_lower_source(source, output) == general, (source, output)
    return general


# ---- the language's corners: programs the lane must take, and build as the general path does ----
VALID = [
    # unary minus chains, folded into one constant only when the operand is a literal
    "y = --x", "y = - - x", "y = -2^2 * x", "y = -(-3) * x", "y = --3 + x", "y = -(-(-3)) * x", "y = -+-x",
    "y = x ^ -2 ^ 3", "y = 2^-x^2", "y = - -0 * x + -0", "y = -pi * x", "y = --pi + x",
    # exponents, and names ending in e followed by + or -
    "y = 1e-3*x + 2E+5*x", "y = e+1", "y = be-1", "y = e-1", "y = E+1*x", "y = x1e-1", "y=e+e-e", "y = 1.e5*x",
    "y = .5e-1*x", "y = 0e0 + 00.00*x", "y = 4.9e-324*x", "y = 1e-400 * x - 0", "y = x*2.; z = y*.5",
    # constants, and e as a name
    "y = pi*x", "e = x\ny = e*2", "y = pi + 3.141592653589793 * x", "y = 3.141592653589793 + pi * x",
    # names that are also functions, used as names only
    "sin = x\ny = sin*2", "max = x\ny = max*3", "y = mean + 1", "mse = x\ny = mse",
    # calls: one, two, three arguments, variadic max/min, default arguments, axes
    "y = max(x)", "y = max(x, 1)", "y = max(x, 1, 2)", "y = min(x, x, x)", "y = pow(x, 2) + matmul(x, x)",
    "y = leaky_relu(x) + leaky_relu(x, 0.01) + 0.01", "y = elu(x) + elu(x, 1.0) + 1", "y = clip(x, 0, 1)",
    "y = where(x > 0, x, -x)", "y = softmax(x) + softmax(x, -1)", "y = sum(x, 0) + sum(x)",
    # repeated subexpressions (hash-consing), aliases, name reuse across statements
    "y = sin(x) + sin(x)", "y = (x+1)*(x+1)", "a = x*x\nb = x*x\ny = a+b", "a = x; b = a; a", "y = x; y",
    "y = x\ny2 = y\ny3 = y2", "z = x\ny = z + x", "c = 0.5\ny = c * x + 0.5",
    # separators, blanks, comments, empty lines
    "y = x\n\n\n", "\n\ny = x", "y = x # c\n# only\n\n z = y", "y = x;;z = y", ";y = x", "y = x;\r\nz=y",
    "y = x\r\nz = y\r\n", "y\t=\tx\t*\t2", "y = x\f+ 1", "y = x\v", "y = x ; # c ; z",
    # statements spanning lines (the token lane)
    "y = (x +\n 1)", "y = x +\n 1", "y = sin(\nx)", "y = max(x,\n 1,\n\n 2) # c\nz = y",
    # comparisons, powers, matrix products
    "y = x < 1", "y = (x < 1) < 2", "y = x<=-1", "y = x ** 2 ** 3", "y = x@x", "y = x != -x",
]


@pytest.mark.parametrize("source", VALID)
def test_the_lane_takes_the_corners_and_builds_the_general_graph(source):
    assert lower_fast(source) is not None, source
    assert _assert_lanes_agree(source)[0] == "ok"
    for output in ("x", "y", "z", "a", "pi"):  # output selection: a step, an input, no such name
        _assert_lanes_agree(source, output)


INVALID = [
    "x = 1\ny = x + x\nx = 2",  # a statement assigns a name the program used as an input
    "y = x\nx = 2", "y = y + 1", "a = 1\na = 2", "pi = 3", "y = pi * 2\npi = 3",
    "y = sin(x)\nsin = 2", "sin = 2\ny = sin(x)", "y = mean(x) + mean",  # a function that is a step or an input
    "y = sin()", "y = sin(x, x)", "y = pow(x)", "y = clip(x, 0)", "y = nope(x)", "y = pi(2)",
    "y = x = 2", "y == x = 1", "(y) = x", "y = x,", "y = (x, 1)", "y = sin(x)(2)", "y = x +", "y = (x",
    "y = x)", "y = 2 x", "y = x\n= 3", "y = a < b < c", "y = a < -b < c", "y = 1e400", "y = x ! 2", "y = !x",
    "y = x ; (z", "", "# only", ";", "\n;\n", "y = x\\\n+1", "y = x $ 2",
    "y = (sin\n(x))", "y = x\rz = y",
]


@pytest.mark.parametrize("source", INVALID)
def test_the_lane_steps_aside_where_the_general_path_reports_an_error(source):
    assert _general(source)[0] == "error"
    assert lower_fast(source) is None, source
    _assert_lanes_agree(source)


def test_a_long_line_and_a_chunk_boundary_inside_a_statement():
    """A program over the lexer's chunk size (65,536 characters) with lines the templates take,
    lines longer than `_LONGEST_TEMPLATE` and statements that go on past a line end, some of
    them across the boundary: the token lane reads it all, as the general path does."""
    rng = random.Random(3)
    lines = ["s0 = x"]
    while sum(map(len, lines)) < 70_000:
        k = len(lines)
        lines.append(rng.choice([
            f"s{k} = (x +\n  s{k - 1} * 2 # c\n) - 1",
            f"s{k} = tanh(x) # " + "c" * rng.randint(0, 300),
            f"s{k} = x * " + " + ".join(["x"] * rng.randint(400, 900)),
            f"s{k} = sin(\n\n x)",
            f"s{k} = s{k - 1} * 1.5e-3 + x",
        ]))
    for separator in ("\n", "\r\n"):
        source = separator.join(lines)
        assert lower_fast(source) is not None and fastlane._lower(source, None) is not None
        assert _assert_lanes_agree(source)[0] == "ok"


def test_a_registered_op_in_both_lanes_and_after_it_is_taken_out():
    """A row added with `register` is called by its name in the template lane (one argument:
    its fused instruction; two: the general call) and in the token lane, with the graph the
    general path builds; taken out again, every lane steps aside and the general path's error
    is reported (the lane's cache of function facts follows the op table)."""
    from gradcli.core.ops import Op, register, unregister

    lines = [f"s{k} = softsign(x) + softsign(s{k - 1} * 2) + mulsign(s{k - 1}, x)" if k else "s0 = softsign(x)"
             for k in range(40)]
    source = "\n".join(lines) + "\ny = (softsign(\n s39) + s38)\n"  # the last statement: the token lane's
    for _ in range(2):
        register(Op("softsign", 1, (lambda m, x, o: 1.0 / ((1.0 + m.abs(x)) * (1.0 + m.abs(x))),),
                    forward=lambda m, x: x / (1.0 + m.abs(x)), doc="x / (1 + |x|)"))
        register(Op("mulsign", 2, (lambda m, x, y, o: y, lambda m, x, y, o: x), forward=lambda m, x, y: x * y,
                    doc="x * y"))
        try:
            assert lower_fast(source) is not None and fastlane._lower(source, None) is not None
            assert fastlane._lower_lines("\n".join(lines), None) is not None
            assert _assert_lanes_agree(source)[0] == "ok"
            assert _assert_lanes_agree("\n".join(lines))[0] == "ok"
        finally:
            unregister("softsign")
            unregister("mulsign")
        assert lower_fast(source) is None
        assert _assert_lanes_agree(source)[0] == "error"


# ---- random programs of the corners' pieces ------------------------------------------------------
_ATOMS = ["x", "y", "e", "be", "x1e", "E", "ee", "pi", "def", "sin", "0", "2", "0.5", ".5", "2.", "1e-3", "2E+5",
          "1e5", "007", "1.e2", "0.0", "1e-400", "4.9e-324", "3.141592653589793", "0.01", "1e400"]
_BINARY = ["+", "-", "*", "/", "^", "**", "@", "<", "<=", ">", ">=", "==", "!="]
_CALLS = [("sin", 1), ("exp", 1), ("max", 1), ("max", 2), ("max", 3), ("min", 1), ("min", 2), ("leaky_relu", 1),
          ("leaky_relu", 2), ("elu", 1), ("elu", 2), ("sum", 1), ("sum", 2), ("softmax", 1), ("softmax", 2),
          ("relu", 1), ("pow", 2), ("clip", 3), ("where", 3), ("mse", 2), ("nope", 1), ("sin", 0), ("sin", 2)]
_BLANKS = ["", "", " ", "  ", "\t", " \t"]


@st.composite
def _expression(draw, depth: int = 0) -> str:
    blank = draw(st.sampled_from(_BLANKS))
    choice = draw(st.integers(0, 8 if depth < 4 else 1))
    if choice <= 1:
        return draw(st.sampled_from(_ATOMS))
    if choice <= 4:
        a, b = draw(_expression(depth + 1)), draw(_expression(depth + 1))
        wrap = draw(st.sampled_from(["", "", "", "\n"]))  # an operator at a line's end: the statement goes on
        return f"{a}{blank}{draw(st.sampled_from(_BINARY))}{wrap}{draw(st.sampled_from(_BLANKS))}{b}"
    if choice == 5:
        return draw(st.sampled_from(["-", "--", "- -", "+", "-+", "+-"])) + blank + draw(_expression(depth + 1))
    if choice == 6:
        wrap = draw(st.sampled_from(["", "", "\n", " # c\n"]))
        return f"({wrap}{draw(_expression(depth + 1))}{wrap})"
    name, n = draw(st.sampled_from(_CALLS))
    separator = draw(st.sampled_from(["," + blank, ",\n"]))
    return f"{name}{draw(st.sampled_from(['', ' ']))}({separator.join(draw(_expression(depth + 1)) for _ in range(n))})"


@st.composite
def _program(draw) -> str:
    lines = []
    for k in range(draw(st.integers(1, 6))):
        expression = draw(_expression())
        target = draw(st.sampled_from([None, f"s{k + 1}", f"s{k + 1}", f"s{k + 1}", "y", "x", "e", "pi", "def", "T"]))
        if target is not None:
            expression = f"{target}{draw(st.sampled_from(_BLANKS))}={draw(st.sampled_from(_BLANKS))}{expression}"
        lines.append(expression + draw(st.sampled_from(["", "", " # note", "#x", "  ", " ;", ";"])))
        if draw(st.integers(0, 7)) == 0:
            lines.append(draw(st.sampled_from(["", "# only", "  ", "\t#c", ";"])))
    separator = draw(st.sampled_from(["\n", "\n", ";", "; ", "\r\n", "\n\n", " ;\n"]))
    return separator.join(lines) + draw(st.sampled_from(["", "\n", ";", "\r\n", " # end"]))


@pytest.mark.slow
@settings(max_examples=examples(800), deadline=None)
@given(_program(), st.sampled_from([None, None, None, "s1", "s2", "y", "x", "pi"]))
def test_random_corner_programs_build_the_general_graph_and_compute_the_same(source, output):
    """Each lane against the general path, and the lane's graph (with what it keeps for
    compiling, `Graph.kept`) evaluated forward and backward as the general graph is."""
    general = _assert_lanes_agree(source, output)
    fast = lower_fast(source, output)
    if fast is None or general[0] != "ok":
        return
    reference = lower(parse(source), output)
    env = {fast.names_of[i]: 0.25 + 0.5 * k for k, i in enumerate(fast.inputs)}
    try:
        infer_shapes(fast, env)
    except GradcliError:  # (an axis out of range, say): the general graph's own
        with pytest.raises(GradcliError):
            infer_shapes(reference, env)
        return
    infer_shapes(reference, env)
    try:
        tape, other = Tape(fast), Tape(reference)
        values = tape.forward(env)
    except GradcliError:  # a shape or math error: the general graph's own
        with pytest.raises(GradcliError):
            Tape(reference).forward(env)
        return
    expected = other.forward(env)
    assert repr(list(values)) == repr(list(expected)) and tape.live == other.live
    try:
        adjoints = tape.backward(values)
    except GradcliError:
        with pytest.raises(GradcliError):
            other.backward(expected)
        return
    assert repr(list(adjoints)) == repr(list(other.backward(expected)))


# ---- the node table: numbers of every decade, tables around the batch and orjson bounds ----------
def _decades() -> list[float]:
    """Numbers of every decade from 1e-330 (subnormal, then 0) to 1e308, the neighbours of the
    bounds where repr's layout changes (1e-5, 1e-4, 1e16), both signs, -0.0, nan and infinities."""
    xs = []
    for d in range(-330, 309):
        for mantissa in ("1", "1.5", "9.999999999999999", "1.2345678901234567"):
            x = float(f"{mantissa}e{d}")
            if math.isfinite(x):
                xs += [x, -x]
    for bound in (1e-5, 1e-4, 1e16):
        for k in range(-3, 4):
            x = bound
            for _ in range(abs(k)):
                x = math.nextafter(x, math.inf if k > 0 else 0.0)
            xs.append(x)
    return xs + [0.0, -0.0, 5e-324, 2.2250738585072014e-308, 10.00001, 100.00001, 0.000012, 1.00001e-5, math.nan,
                 math.inf, -math.inf]


def _reference_number(x: float) -> str:
    return json.dumps(x if math.isfinite(x) else json_text.json_number(x), ensure_ascii=False)


@pytest.mark.parametrize("orjson", [True, False])
def test_numbers_of_every_decade_are_written_as_repr_writes_them(monkeypatch, orjson):
    if orjson:
        pytest.importorskip("orjson")
        monkeypatch.setattr(json_text, "ORJSON_FROM", 0)
    else:
        monkeypatch.setitem(sys.modules, "orjson", None)
    xs = _decades()
    assert json_text.scalars_text(xs) == [_reference_number(x) for x in xs]
    for k in range(0, len(xs), 7):  # short lists too: a number first, last or alone in orjson's text
        assert json_text.scalars_text(xs[k:k + 3]) == [_reference_number(x) for x in xs[k:k + 3]]


def _sum_program(nodes: int) -> tuple[str, dict[str, float]]:
    """A program whose graph has exactly `nodes` nodes (inputs x0, x1, ... summed; a sin for an even
    count), with the inputs' values spread over the decades."""
    inputs = (nodes + 1) // 2
    terms = [f"x{k}" for k in range(inputs)]
    if nodes % 2 == 0:
        terms[0] = "sin(x0)"
    values = {f"x{k}": float(f"{-1 if k % 3 else 1}.{k % 97}e{(k * 37) % 630 - 330}") for k in range(inputs)}
    return "y = " + " + ".join(terms), values


@pytest.mark.parametrize("nodes", [1, 2, 511, 512, 513, 2047, 2048, 2049])
@pytest.mark.parametrize("orjson", ["fresh", "absent"])
def test_node_tables_around_the_batch_and_orjson_bounds_are_dumps_of_the_dicts(monkeypatch, nodes, orjson):
    """Tables of 1 node, of a batch (`BATCH`) and one more or less, and of `ORJSON_FROM` and one more
    or less, written in a process that has not imported orjson yet (the writer imports it from
    `ORJSON_FROM` nodes on) or that cannot: byte for byte what ``json.dumps`` makes of the dicts,
    names with quotes, backslashes, %, non-ASCII and bidi characters included."""
    assert json_text.BATCH == 512 and json_text.ORJSON_FROM == 2048  # the bounds the counts are chosen around
    if orjson == "absent":
        monkeypatch.setitem(sys.modules, "orjson", None)
    else:
        pytest.importorskip("orjson")
        monkeypatch.delitem(sys.modules, "orjson")
    source, values = _sum_program(nodes)
    report = api.evaluate(source, **values)._report()
    graph = report.evaluation.graph
    assert len(graph) == nodes
    odd = ['q"uote', "back\\slash", "per%cent%s", "ünï", "bidi\u202e", "c1\x85", "}, {"]
    edges = sorted({i for i in (0, 511, 512, 1023, 1024, 2047, 2048, nodes - 1) if i < nodes})
    for k, i in enumerate(edges):  # first and last in their batch
        graph.names_of[i] = odd[k % len(odd)] + str(k)
    written = io.StringIO()
    write_json(report, written.write)
    if orjson == "fresh":
        assert ("orjson" in sys.modules) == (nodes >= json_text.ORJSON_FROM)
    assert written.getvalue() == dumps(to_json(report)) + "\n"


# ---- the command line: the click-free entry point against the click command ---------------------
def _fast_run(argv: list[str], monkeypatch, capsys) -> tuple[int, str, str]:
    """``gradcli ARGV`` through `gradcli.cli.main.run`, in this process: what a real process does
    but for the process-wide settings it makes (warnings filters, signal handlers, the collector)."""
    from gradcli.cli import failures, main

    assert main.fast_eval_args(argv) is not None, argv  # the fast path takes the line
    monkeypatch.setattr(sys, "argv", ["gradcli", *argv])
    monkeypatch.setattr(main, "silence_warnings", lambda: None)
    monkeypatch.setattr(failures, "install_signal_handlers", lambda: None)
    monkeypatch.setenv("COLUMNS", "100")
    for name in ("NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "GRADCLI_DEBUG"):
        monkeypatch.delenv(name, raising=False)
    capsys.readouterr()
    try:
        with pytest.raises(SystemExit) as exited:
            main.run()
    finally:
        gc.enable()
    out, err = capsys.readouterr()
    return exited.value.code, out, err


LONG = "".join(f"s{k} = sin(a) * s{k - 1} + b\n" if k else "s0 = a\n" for k in range(120))  # the fast lane's size

CLI_CASES = [
    ["x*y", "x=2", "y=3"], ["x*y", "x=2", "y=1e999"], ["x*y", "x=2", "y=nan"], ["x*y", "x=2", "y=inf"],
    ["x*y", "x=2", "y=-0"], ["x*y", "x=2", "y=1e-400"], ["x*y", "x=2", "y=abc"], ["x*y", "x=2", "y=2*x"],
    ["x*y", "x=2", "y=pi"], ["x*y", "x=2", "y=(1"], ["x*y", "x=2", "y=1 2"], ["x*y", "x=2", "y=[1,2"],
    ["x*y", "x=2", "x=3", "y=1"], ["x*y", "x=2", "z=3", "y=1"], ["x*y", "x=2"], ["y = a", "a=--1"],
    ["y = a", "a=1_000"], ["y = a", "a=0x10"], ["y = a", "a=True"], ["y = a", "a=\uff11"], ["y = a", "pi=1", "a=1"],
    ["y = a", "y=1", "a=1"], ["y = a", "sin=1", "a=1"], ["y = a*a", "a=1e200"], ["y = a*1e-320", "a=5e-4"],
    ["x +", "x=1"], ["y = x +\n 2 *", "x=1"], ["y = (x", "x=1"], ["y = x)", "x=1"], ["y = 2x", "x=1"],
    ["y = é + 1", "é=1"], ["y = foo(x)", "x=1"], ["y = log(x)", "x=-1"], ["y = 1/x", "x=0"], ["y = exp(x)", "x=1000"],
    ["y = sqrt(x)", "x=0"], ["y = x"], ["# c"], [";"], ["y = 2"], ["y = x * 1e400", "x=1"], ["y = x²", "x=1"],
    ["y = a < b < c", "a=1", "b=2", "c=3"], ["y = a\u202e*b", "a=1", "b=2"], ["y = a*b # \u202e", "a=1", "b=2"],
    ["y = a % b", "a=1", "b=2"], ["y = a[0]", "a=3"], ["y = a*b", "a=[1,nan]", "b=2"], ["y = a*b", "a=[]", "b=2"],
    ["y = a*b", "a=[[1],[2,3]]", "b=2"], ["y = a; z = y*2", "a=1", "--output", "y"],
    ["y = a; z = y*2", "a=1", "--output", "q"], ["y = a; z = y*2", "a=1", "--output", "a"],
    ["y = a*b", "a=1", "b=2", "--wrt", "c"], ["y = a*b", "a=1", "b=2", "--wrt", "b,a"],
    ["y = a*b", "a=1", "b=2", "--mode", "forward"], ["y = a*b", "a=[1,2]", "b=2", "--mode", "forward"],
    [LONG, "a=0.5", "b=2"], [LONG + "t = (s119", "a=0.5", "b=2"], [LONG + "t = s119 +\n", "a=0.5", "b=2"],
    [LONG + "s3 = a", "a=0.5", "b=2"], [LONG, "a=0.5", "b=2", "--output", "s7"], [LONG, "a=0.5"],
    [LONG.replace("sin(a)", "log(a - 1)"), "a=0.5", "b=2"],
]


@pytest.mark.parametrize("argv", CLI_CASES, ids=lambda a: " ".join(a)[:40])
@pytest.mark.parametrize("fmt", [["--json"], ["--json", "--no-nodes"], ["--format", "json", "--json"]])
def test_eval_json_through_the_fast_path_prints_what_click_prints(monkeypatch, capsys, argv, fmt):
    argv = ["eval", *argv, *fmt]
    clicked = invoke(argv)
    assert _fast_run(argv, monkeypatch, capsys) == (clicked.exit_code, clicked.stdout, clicked.stderr)

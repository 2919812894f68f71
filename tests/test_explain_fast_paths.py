"""The short roads of the explanations give exactly what the general ones give.

A long chain's ``--steps`` is written by roads that skip per-line objects: scalar edges from
their op's template (`edges.edge_partials`), the backward steps straight from the edges
(`explain._scalar_steps_lines`), the tangent passes straight from the edges
(`forward.forward_steps_text`), and wrapping that counts columns only where a line may be too
long (`terminal.wrap_text`).  Each is held here to the road it replaced -- the general edge
builder, the step-data renderer, the forward renderer over `forward_steps`' data as it was,
the wrapping as it was -- on random scalar programs (ties, repeated arguments, constants,
names beyond ASCII) and random texts (wide characters, combining bars, long words).
"""

from __future__ import annotations

import math
import re
import unicodedata

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from clitools import examples
from gradcli.cli.program import read_point
from gradcli.core.errors import GradcliError
from gradcli.core.graph import CONST, INPUT
from gradcli.core.ops import OPS
from gradcli.output import terminal
from gradcli.output.terminal import _char_cells, hanging_indent, wrap_text
from gradcli.run import pipeline
from gradcli.run.requests import EvaluateRequest
from gradcli.teach import explain, forward
from gradcli.teach.edges import _general_edges, edge_partials, is_number

INPUTS = ("x", "θ", "y")
UNARY = ("sin", "cos", "exp", "tanh", "sigmoid", "relu", "abs", "log", "sqrt", "-")
BINARY = ("+", "-", "*", "/", "^", "max", "min", "atan2")
CONSTANTS = ("0.5", "2", "pi", "1e-3", "3")


@st.composite
def programs(draw) -> tuple[str, list[str]]:
    """A program of 1-8 statements over x, θ, y (each used or not), and a point."""
    names = list(INPUTS)
    statements = []
    for k in range(draw(st.integers(1, 8))):
        operand = st.one_of(st.sampled_from(names), st.sampled_from(CONSTANTS))
        if draw(st.booleans()):
            op, a = draw(st.sampled_from(UNARY)), draw(operand)
            expr = f"-{a}" if op == "-" else f"{op}({a})"
        else:
            op, a, b = draw(st.sampled_from(BINARY)), draw(st.sampled_from(names)), draw(operand)
            expr = f"{op}({a}, {b})" if op in ("max", "min", "atan2") else f"{a} {op} {b}"
        name = f"v{k}"
        statements.append(f"{name} = {expr}")
        names.append(name)
    values = st.sampled_from([0.0, 1.0, -1.0, 0.5, 2.0, -0.3, 1e-7, 3.0])
    point = [f"{n}={draw(values)}" for n in INPUTS]
    return "; ".join(statements), point


def evaluate(program: str, point: list[str], mode=None):
    try:
        return pipeline.differentiate(EvaluateRequest(point=read_point((program, *point), None, (), None, None),
                                                      mode=mode))
    except GradcliError:
        assume(False)  # a domain or usage error: nothing to explain


def general_edges(ev) -> list:
    out: list = []
    for i, op in enumerate(ev.graph.ops):
        if op not in (INPUT, CONST) and ev.tape.live[i]:
            _general_edges(ev, i, OPS[op], ev.graph.args(i), out)
    return out


def comparable(edges: list) -> list[tuple]:
    return [(e.source, e.target, e.source_label, e.target_label, e.symbolic, repr(e.value), e.kind, e.tensor)
            for e in edges]


@settings(max_examples=examples(300), deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(programs())
def test_edges_are_the_general_paths(case):
    ev = evaluate(*case)
    assert comparable(edge_partials(ev)) == comparable(general_edges(ev))


@settings(max_examples=examples(300), deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(programs(), st.sampled_from([3, 10, 17]))
def test_scalar_steps_are_the_step_data_rendered(case, digits):
    ev = evaluate(*case)
    edges = edge_partials(ev)
    assert all(e.tensor is None for e in edges)
    short: list[str] = []
    general: list[str] = []
    received = explain._scalar_steps_lines(ev, edges, digits, short)
    as_lists = {name: [parts] if isinstance(parts, str) else parts for name, parts in received.items()}
    assert as_lists == explain._steps_lines(ev, edges, [], digits, False, general)
    assert list(as_lists) == list(explain._steps_lines(ev, edges, [], digits, False, []))  # the sums' order
    assert short == general


def reference_forward_text(ev, digits: int = 10) -> str:
    """`forward_steps_text` as it was: rendered from `forward_steps`' data."""
    from gradcli.core.fmt import number
    from gradcli.teach.forward_arrays import PASS_LIMIT, dot

    def factor(text: str) -> str:
        return text if is_number(text) or all(ch.isalnum() or ch in "_." for ch in text) else f"({text})"

    graph = ev.graph
    out = graph.label(graph.output)
    lines = []
    data = forward.forward_steps(ev)
    for k, p in enumerate(data[:PASS_LIMIT], 1):
        seed = p["seed"]
        others = ", ".join(f"{dot(n)} = 0" for n in p["seeds"] if n != seed)
        lines.append(f"Forward pass {k} of {len(data)}: start with {dot(seed)} = 1"
                     + (f", {others}" if others else "") + ":")
        width = max((len(n["node"]) for n in p["nodes"]), default=1)
        for n in p["nodes"]:
            names = " + ".join(f"∂{n['node']}/∂{t['from']} · {dot(t['from'])}" for t in n["terms"])
            symbolic = " + ".join(f"{factor(t['partial'])} · {number(t['tangent'], digits)}" for t in n["terms"])
            numeric = " + ".join(f"{number(t['partial_value'], digits)} · {number(t['tangent'], digits)}"
                                 for t in n["terms"])
            chain = [f"{dot(n['node']):<{width}} = {names}"]
            if symbolic != numeric:
                chain.append(symbolic)
            chain.append(numeric)
            chain.append(number(n["tangent"], digits))
            lines.append("  " + " = ".join(chain))
        lines.append(f"  so ∂{out}/∂{seed} = {dot(out)} = {number(p['derivative'], digits)}")
    if len(data) > PASS_LIMIT:
        lines.append(f"({len(data) - PASS_LIMIT} more passes not shown; --seed NAME shows one)")
    lines.append(f"Forward mode took {len(data)} pass{'es' if len(data) != 1 else ''}, one per input; "
                 "reverse mode gets every input's derivative in one backward pass.")
    return "\n".join(lines)


@settings(max_examples=examples(300), deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(programs(), st.sampled_from([3, 10, 17]))
def test_forward_text_is_the_forward_data_rendered(case, digits):
    ev = evaluate(*case, mode="forward")
    try:
        expected = reference_forward_text(ev, digits)
    except GradcliError as error:  # no input reaches the output: both refuse it alike
        with pytest.raises(type(error), match=re.escape(str(error))):
            forward.forward_steps_text(ev, digits)
        return
    assert forward.forward_steps_text(ev, digits) == expected


def test_forward_steps_refuse_a_reverse_evaluation_before_printing():
    ev = evaluate("x*y", ["x=1", "y=2"])
    with pytest.raises(GradcliError, match="--mode forward"):
        forward.check_forward_steps(ev)
    with pytest.raises(GradcliError, match="--mode forward"):
        forward.forward_steps_text(ev)


def test_a_scalar_program_is_checked_not_built_before_printing():
    ev = evaluate("x*y", ["x=1", "y=2"], mode="forward")
    forward.check_forward_steps(ev)
    assert ev not in forward._CHECKED  # its text is written from the edges, its data built when asked
    assert forward.forward_steps(ev)[0]["derivative"] == 2.0


# ---- wrapping ------------------------------------------------------------------------
def reference_wrap(text: str, width: int) -> str:
    """`wrap_text` as it was: every line's columns counted from a set of the text's characters."""
    if width <= 0:
        return text
    uneven = [(c, _char_cells(c) - 1) for c in set(text) if c >= "\x80" and _char_cells(c) != 1]
    out: list[str] = []
    for line in text.split("\n"):
        n = len(line)
        for c, extra in uneven:
            n += extra * line.count(c)
        if n <= width:
            out.append(line)
            continue
        indent = hanging_indent(line, width)
        current, first = line, True
        while terminal._cells(current) > width:
            floor = 0 if first else indent + 1
            cut = terminal._break_at(current, width, floor)
            out.append(current[:cut].rstrip())
            current = " " * indent + current[cut:].lstrip(" ")
            first = False
        out.append(current)
    return "\n".join(out)


#: the characters of explanations and of names users write: bars, dots, ∂ · → ∘, wide CJK
PIECES = st.sampled_from(["a", "x1", " ", "  ", "=", "+", "·", "∂", "→", "∘", "x\u0304", "ē", "ẋ", "变量", "한",
                          "0.5", "-1.25e-07", "cos(x)", "\n", "…", "—", "θ", "\U0001f600", "ǎ"])
TEXTS = st.lists(PIECES, max_size=120).map("".join)


@settings(max_examples=examples(1000), deadline=None)
@given(TEXTS, st.integers(min_value=1, max_value=60))
def test_wrap_text_is_the_wrapping_it_replaced(text, width):
    assert wrap_text(text, width) == reference_wrap(text, width)


@settings(max_examples=examples(1000), deadline=None)
@given(st.text(max_size=80) | TEXTS)
def test_wide_characters_are_found_as_a_set_finds_them(text):
    assert terminal._has_wide(text) == any(_char_cells(c) == 2 for c in set(text))


def test_many_distinct_candidates_fall_back_to_one_pass():
    narrow = "".join(chr(0x2200 + k) for k in range(60))  # mathematical operators: one column each
    assert not terminal._has_wide(narrow * 3)
    assert terminal._has_wide(narrow + "变")


# ---- small predicates ----------------------------------------------------------------
def reference_is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


@settings(max_examples=examples(2000), deadline=None)
@given(st.text(max_size=12) | st.from_regex(r"\s*[+-]?(\d[\d_]*\.?\d*(e[+-]?\d+)?|inf|nan|infinity)\s*", fullmatch=True)
       | st.sampled_from(["cos(x)", "(1)", "t3", "%5", "1e-3", "-inf", " 1 ", "\x1c2", "١٢", "1_000", "NaN"]))
def test_is_number_is_float_accepting_it(text):
    assert is_number(text) == reference_is_number(text)


@settings(max_examples=examples(2000), deadline=None)
@given(st.text(max_size=12))
def test_a_bare_factor_is_letters_digits_underscores_and_dots(text):
    bare = is_number(text) or all(ch.isalnum() or ch in "_." for ch in text)
    assert forward._factor(text) == (text if bare else f"({text})")


@settings(max_examples=examples(500), deadline=None)
@given(st.text(max_size=6), st.text(max_size=6))
def test_a_text_with_a_bracket_is_a_bracketed_factor(before, after):
    # forward_steps_text brackets such a partial without asking `_factor`
    text = f"{before}({after}"
    assert forward._factor(text) == f"({text})"


def test_every_single_character_is_bare_as_isalnum_says():
    bare = re.compile(r"[\w.]*")
    for code in range(0x110000):
        c = chr(code)
        assert bool(bare.fullmatch(c)) == (c.isalnum() or c in "_."), hex(code)
    assert unicodedata.combining("\u0304") and not forward._BARE.fullmatch("x\u0304")
    assert math.isnan(float("nan"))


@settings(max_examples=examples(2000), deadline=None)
@given(st.text(min_size=1, max_size=8) | st.from_regex(r"[A-Za-z_%][A-Za-z0-9_.#]{0,6}", fullmatch=True))
def test_a_bar_is_the_macron_composed(label):
    from gradcli.teach.edges import _bar

    assert _bar(label) == unicodedata.normalize("NFC", label + "\u0304")


def test_every_ascii_character_takes_its_bar_as_nfc_composes_it():
    from gradcli.teach.edges import _bar

    for code in range(1, 128):
        label = "x" + chr(code)
        assert _bar(label) == unicodedata.normalize("NFC", label + "\u0304"), code


@settings(max_examples=examples(2000), deadline=None)
@given(st.text(min_size=1, max_size=8) | st.from_regex(r"[A-Za-z_%][A-Za-z0-9_.#]{0,6}", fullmatch=True))
def test_a_dot_is_the_dot_above_composed(label):
    assert forward._dot(label) == unicodedata.normalize("NFC", label + "\u0307")
    assert forward._dot("x" + label[-1]) == unicodedata.normalize("NFC", "x" + label[-1] + "\u0307")

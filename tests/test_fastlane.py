"""The fast lane of parsing and lowering (`gradcli.language.fastlane`) against the general
path: on random programs it builds the very same graph (every table: ids, ops, arguments,
names, constants' texts, positions) or steps aside, and it never accepts a program the
general path rejects.  Also the pieces that keep a long program small: the
hash-consing tables by argument tuple, the tape's lists, the look-alike letters."""

from __future__ import annotations

import copy
import math
import random
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gradcli.core.engine import Tape
from gradcli.core.errors import GradcliError
from gradcli.core.graph import _LETTERS, Graph, _avoided_letters, _look_alikes
from gradcli.core.ops import FUNCTIONS
from gradcli.core.shapes import infer_shapes
from gradcli.language import fastlane
from gradcli.language import lower as lowering
from gradcli.language.fastlane import _plain_call, lower_fast
from gradcli.language.calls import call as _call
from gradcli.language.lower import lower, lower_source
from gradcli.language.parser import parse
from gradcli.run.bindings import parse_argument
from gradcli.run.evaluate import evaluate

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))


def _tables(g: Graph) -> tuple:
    return (g.ops, list(g.argv), list(g.arg_end), g.params, g.names_of, g.texts, list(g.positions), g.shapes,
            list(g.call_of), g.names, g.inputs, g.output, g.output_name, g.calls)


def _general(source: str, output=None):
    """The general path's graph tables, or its error (type, message, position)."""
    try:
        return "ok", _tables(lower(parse(source), output))
    except GradcliError as exc:
        return "error", (type(exc).__name__, str(exc), getattr(exc, "pos", None))


def _through_lower_source(source: str, output=None):
    """`lower_source`'s graph tables or error, with the fast lane tried at any length."""
    saved = lowering.FAST_LANE_CHARS
    lowering.FAST_LANE_CHARS = 0
    try:
        return "ok", _tables(lower_source(source, output))
    except GradcliError as exc:
        return "error", (type(exc).__name__, str(exc), getattr(exc, "pos", None))
    finally:
        lowering.FAST_LANE_CHARS = saved


# ---- random programs: mostly the fast lane's language, sometimes anything else -------------
_NAMES = ["a", "b", "c", "x1", "y_2", "pi", "sin", "out", "v", "def", "mse", "T"]
_NUMBERS = ["0", "1", "2", "0.5", ".5", "2.", "1e3", "3E-2", "1e400", "007"]
_BINARY = ["+", "-", "*", "/", "^", "**", "@", "<", "<=", "==", "!="]
_CALLS = ["sin", "exp", "tanh", "sigmoid", "max", "min", "sum", "leaky_relu", "relu", "nope", "mse", "log"]
_ODD = ["[", "]", ".", "!", ":", "ü", "·", "#c", ")", "(", ",", "=", ";", "\n"]
_BLANKS = ["", " ", "  ", "\t"]


_CLEAN_NAMES = ["a", "b", "x1", "y_2", "pi", "v"]
_CLEAN_NUMBERS = ["0", "1", "0.5", ".5", "2.", "1e3", "3E-2"]


@st.composite
def _expression(draw, depth: int = 0, clean: bool = False) -> str:
    blank = draw(st.sampled_from(_BLANKS))
    choice = draw(st.integers(0, (8 if clean else 9) if depth < 4 else 2))
    if choice <= 1:
        return draw(st.sampled_from(_CLEAN_NAMES if clean else _NAMES))
    if choice == 2:
        return draw(st.sampled_from(_CLEAN_NUMBERS if clean else _NUMBERS))
    if choice <= 5:
        a, b = draw(_expression(depth + 1, clean)), draw(_expression(depth + 1, clean))
        return f"{a}{blank}{draw(st.sampled_from(_BINARY[:6] if clean else _BINARY))}{blank}{b}"
    if choice == 6:
        return f"{draw(st.sampled_from(['-', '+', '- ']))}{draw(_expression(depth + 1, clean))}"
    if choice == 7:
        inner = draw(_expression(depth + 1, clean))
        wrap = draw(st.sampled_from(["", "\n"]))
        return f"({wrap}{inner}{wrap})"
    if choice == 8:
        if clean:
            name, n = draw(st.sampled_from([("sin", 1), ("exp", 1), ("tanh", 1), ("max", 2), ("min", 3), ("relu", 1)]))
        else:
            name, n = draw(st.sampled_from(_CALLS)), draw(st.integers(0, 3))
        args = [draw(_expression(depth + 1, clean)) for _ in range(n)]
        return f"{name}({(',' + blank).join(args)})"
    return draw(st.sampled_from(_ODD))


@st.composite
def _program(draw, clean: bool = False) -> str:
    lines = []
    for k in range(draw(st.integers(1, 6))):
        expr = draw(_expression(0, clean))
        if draw(st.integers(0, 4)):
            target = f"s{k + 1}" if clean else draw(st.sampled_from(_NAMES + ["s1", "s2", "s3", "s4"]))
            expr = f"{target}{draw(st.sampled_from(_BLANKS))}={draw(st.sampled_from(_BLANKS))}{expr}"
        lines.append(expr + draw(st.sampled_from(["", " # note", "  "])))
    sep = draw(st.sampled_from(["\n", "\n", ";", "; ", "\n\n", "\r\n"]))
    return sep.join(lines) + draw(st.sampled_from(["", "\n", ";"]))


@settings(max_examples=600, deadline=None)
@given(_program(), st.sampled_from([None, None, "s1", "a", "nope"]))
def test_fast_lane_builds_the_general_graph_or_steps_aside(source, output):
    general = _general(source, output)
    fast = lower_fast(source, output)
    if fast is not None:
        assert general == ("ok", _tables(fast)), source
    assert _through_lower_source(source, output) == general, source


@settings(max_examples=400, deadline=None)
@given(_program(clean=True), st.sampled_from([None, "s1"]))
def test_fast_lane_on_valid_programs(source, output):
    general = _general(source, output)
    fast = lower_fast(source, output)
    if general[0] == "ok":
        assert fast is not None, source  # the fast lane's own language: it takes them all
        assert general == ("ok", _tables(fast)), source
        _assert_kept_is_the_graph_s(fast)
        _assert_same_tape(Tape(fast), Tape(lower(parse(source), output)))
    else:
        assert fast is None, source


def _assert_kept_is_the_graph_s(g: Graph) -> None:
    """What the fast lane keeps for compiling (`Graph.kept`) is what the columns say."""
    kept = g.kept_for_compiling()
    if kept is None:  # pruned to a new graph: nothing kept
        assert g.kept is None
        return
    g.kept = None
    try:
        args, reached = g.all_args(), g.depends_on_input()
    finally:
        g.kept = kept
    assert kept.args == args and kept.reached == reached
    assert all(type(a) is bool for a in kept.reached)
    assert kept.half_reached == [i for i, a in enumerate(args) if len(a) == 2 and reached[a[0]] != reached[a[1]]]


def _assert_same_tape(a: Tape, b: Tape) -> None:
    """Two tapes with the same forward and backward instructions (the partials by identity)."""
    assert list(a.code) == list(b.code) and a.live == b.live
    assert [(i, k, args, [id(p) for p in (parts if isinstance(parts, tuple) else (parts,))])
            for i, k, args, parts in a._reverse()] == \
        [(i, k, args, [id(p) for p in (parts if isinstance(parts, tuple) else (parts,))])
         for i, k, args, parts in b._reverse()]


def test_the_backward_lists_made_in_bulk_are_the_loop_s(monkeypatch):
    """`Tape._reverse_in_bulk` (with the lane's kept lists, and from the columns alone) makes the
    instructions the node-by-node loop makes, dead arguments (constants) and all."""
    from dag import random_program

    source, _ = random_program(3000, seed=3)
    source += "c = 2\nk = c * out + 0.5 * (pi - out) + leaky_relu(out) + out ^ 2 + exp(-out)\n"
    bulk = []
    real = Tape._reverse_in_bulk

    def spy(*args):
        bulk.append(real(*args))
        return bulk[-1]

    with monkeypatch.context() as m:
        m.setattr(Tape, "_reverse_in_bulk", lambda *args: False)
        loop = Tape(lower(parse(source)))
    monkeypatch.setattr(Tape, "_reverse_in_bulk", spy)
    fast = lower_fast(source)
    assert fast is not None and fast.kept_for_compiling() is not None
    _assert_same_tape(Tape(fast), loop)
    assert fast.kept is None  # the tape took it
    _assert_same_tape(Tape(fast), loop)  # and compiles again without it, from the columns
    _assert_same_tape(Tape(lower(parse(source))), loop)
    assert bulk == [True, True, True]
    Tape(lower(parse("y = max(x, 1) * x")))  # a variadic op: the loop's
    Tape(lower(parse("c = 2 * 3\ny = c * x")))  # a computed node no input reaches: the loop's
    assert bulk[3:] == [False, False]


def test_the_lane_s_constants_and_calls_share_the_graph_s_hash_consing():
    """Nodes the lane makes and nodes `calls.call` makes the general way (a default argument's
    constant) are one table: equal nodes are one node, whoever made them."""
    source = ("a = leaky_relu(x) + 0.01 * leaky_relu(x, 0.01)\nb = 0.01 + elu(x) * elu(x, 1) - 1\n"
              "c = -0.01 + max(x, 0.01) + leaky_relu(a)\nd = a * b * c\n")
    fast = lower_fast(source)
    assert fast is not None and _tables(fast) == _tables(lower(parse(source)))
    assert fast.ops.count("const") == len(set(fast.params[i] for i, op in enumerate(fast.ops) if op == "const"))


@pytest.mark.parametrize("source", [
    "y = 1e-3 * x + 2.5E+2 * x\nz = y - .5e-1",  # signed exponents: the runs by the regular expression
    "v1e = x\ny = v1e-2*x",  # a name ending in e, then minus: the same
    "y = x\t*\t2.\nz = y*.5 # 1e-3\nw = z*007",
])
def test_runs_of_lines_with_signed_exponents_and_odd_numbers(source):
    fast = lower_fast(source)
    assert fast is not None and _tables(fast) == _tables(lower(parse(source)))


def test_the_fast_lane_takes_plain_programs():
    from dag import random_program

    source, _ = random_program(3000, seed=5)
    fast = lower_fast(source)
    assert fast is not None
    assert _tables(fast) == _tables(lower(parse(source)))
    program = "y = -2*x + 3 ;  z = -(y - -1.5e2) ^ 2 ** -x\t# c\nw = max(z, y, 1) + leaky_relu(x) + pi\n" \
              "q = (w +\n   z) * sum(x, 0) * exp(y)\nq < w\n"
    fast = lower_fast(program)
    assert fast is not None and _tables(fast) == _tables(lower(parse(program)))


@pytest.mark.parametrize("source", [
    "a = b + 1\nb = 2",  # used before it is assigned
    "a = 1\na = 2",  # assigned twice
    "pi = 3",  # a constant assigned
    "sin = x\ny = sin(x)",  # a step that is also a called function
    "y = sin(x) + sin",  # an input that is also a called function
    "y = mse(a, b)",  # a prelude function: inlined by the general path
    "def f(x) = x^2\ny = f(3)",
    "y = x[0]", "y = x.T", "y = (x", "y = x)", "y = x +", "y = 2 x", "y = a < b < c", "y = 1e400",
    "y = f()", "y = sin(,)", "", "\n;\n", "y = é", "y = \x00",
])
def test_programs_the_fast_lane_leaves_to_the_general_path(source):
    assert lower_fast(source) is None
    assert _through_lower_source(source) == _general(source)


def test_plain_calls_are_the_general_calls():
    """Every built-in function and argument count: where the fast lane adds the node itself,
    `_call` adds the same node and nothing else."""
    for name in FUNCTIONS:
        for nargs in range(5):
            plain = _plain_call(name, nargs)
            if plain is None:
                continue
            general, fast = Graph(), Graph()
            for g in (general, fast):
                for k in range(nargs):
                    g.input(f"x{k}")
            args = tuple(range(nargs))
            _call(general, name, args, 7, lambda message, pos: ValueError(message), {})
            fast.add(plain[0], args, plain[1], 7)
            assert _tables(general) == _tables(fast), (name, nargs)


# ---- the graph's hash-consing tables (one an op, by argument tuple) -------------------------
@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["add", "mul", "sin", "neg", "sum", "index"]),
                          st.lists(st.integers(0, 40), min_size=1, max_size=3),
                          st.sampled_from([None, None, None, 0, (1,)])), max_size=60))
def test_hash_consing_merges_exactly_the_equal_nodes(calls):
    g = Graph()
    for k in range(41):
        g.input(f"x{k}")
    seen: dict = {}
    for op, args, param in calls:
        node = g.add(op, tuple(args), param)
        key = (op, tuple(args), param)
        assert node == seen.setdefault(key, node)
    assert len(g) == 41 + len(seen)


def test_hash_consing_takes_the_arguments_in_any_sequence():
    """`Graph.add`'s table is keyed by the argument tuple: a list of the same ids is the same node."""
    g = Graph()
    x, y = g.input("x"), g.input("y")
    node = g.add("mul", [x, y])
    assert g.add("mul", (x, y)) == node and g.add("mul", (y, x)) != node
    assert g.add("max", [x, y]) != node and g.add("max", (x, y, x)) != g.add("max", (x, y))


def test_hash_consing_keys_of_large_ids_stay_apart():
    g = Graph()
    g.input("x")
    ids = [(2**31 - 1, 0), (0, 2**31 - 1), (2**30, 2**30), (1, 2**20)]
    nodes = [g.add("add", pair) for pair in ids] + [g.add("sin", (a,)) for a, _ in ids]
    assert len(set(nodes)) == 2 * len(ids)  # no two keys alike
    assert [g.add("add", pair) for pair in ids] + [g.add("sin", (a,)) for a, _ in ids] == nodes


# ---- the tape's backward instructions -------------------------------------------------------
def test_reverse_code_is_made_on_demand_and_can_be_replaced():
    g = lower(parse("y = a*b + sin(a) - exp(b) / a; z = y * (b > 0.5)"))
    tape = Tape(g)
    env = {"a": 0.7, "b": 1.3}
    values = tape.forward(env)
    before = tape.backward(values)
    assert tape._reverse_code is None
    assert tape.reverse_length == len(tape.reverse_code) > 0
    assert [entry[0] for entry in tape.reverse_code] == sorted((entry[0] for entry in tape.reverse_code),
                                                                reverse=True)
    assert tape.backward(values) == before  # the same walk over the tuples
    other = copy.copy(tape)
    other.reverse_code = [entry for entry in other.reverse_code if g.ops[entry[0]] != "sin"]
    assert other.backward(values) != before and tape.backward(values) == before
    assert tape.jvp(values, {g.names["a"]: 1.0})[g.output] == pytest.approx(before[g.names["a"]])


def test_a_dead_branch_keeps_its_own_reverse_lists():
    g = lower(parse("c = 2 * 3\ny = a * c + sin(c)"))
    tape = Tape(g)
    values = tape.forward({"a": 0.25})
    assert tape._rev_ids is not tape._ids  # the constant's nodes have no backward instruction
    assert tape.backward(values)[g.names["a"]] == 6.0


# ---- evaluation shortcuts ---------------------------------------------------------------------
@settings(max_examples=100, deadline=None)
@given(_program())
def test_scalar_programs_skip_shape_inference_with_the_same_shapes(source):
    try:
        g = lower(parse(source))
    except GradcliError:
        return
    env = {g.names_of[i]: 0.5 for i in g.inputs}
    shapes = list(g.shapes)
    try:
        infer_shapes(g, env)
    except GradcliError:
        return
    assert g.shapes == shapes


def test_evaluate_on_the_fast_lane_matches_the_general_path():
    from dag import random_program

    source, env = random_program(2000, seed=9)
    bindings = {name: parse_argument(f"{name}={value!r}") for name, value in env.items()}
    ev = evaluate(source, bindings)
    g = lower(parse(source))
    tape = Tape(g)
    values = tape.forward(env)
    adjoints = tape.backward(values)
    assert ev.values == values and ev.adjoints == adjoints and ev.operations == tape.reverse_length
    assert all(math.isfinite(v) for v in adjoints)


@settings(max_examples=300, deadline=None)
@given(st.sets(st.text(alphabet="abvwWAKB_19ſé", min_size=1, max_size=3), max_size=8))
def test_look_alike_letters_from_first_two_characters(used):
    assert _avoided_letters(used) == _look_alikes(used) & _LETTERS


def test_fallback_is_taken_on_any_internal_error(monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(fastlane, "_lower_lines", broken)
    monkeypatch.setattr(fastlane, "_lower", broken)
    source = "y = a * b\n"
    assert lower_fast(source) is None
    assert _through_lower_source(source) == _general(source)


def test_random_spacing_and_separators_agree():
    rng = random.Random(4)
    for _ in range(200):
        parts = []
        for k in range(5):
            a, b = rng.choice(["x", "y", f"s{k - 1}" if k else "x", "2.5"]), rng.choice(["x", "y", "1"])
            sp = lambda: rng.choice(["", " ", "\t", "  "])  # noqa: E731
            parts.append(f"{sp()}s{k}{sp()}={sp()}{rng.choice(['', '-'])}tanh({a}{sp()}{rng.choice('+-*/^')}{sp()}{b}){sp()}")
        source = rng.choice(["\n", ";", "\n\n"]).join(parts)
        fast = lower_fast(source)
        assert fast is not None, source
        assert ("ok", _tables(fast)) == _general(source), source


# ---- line templates ------------------------------------------------------------------------
def _both_lanes(source: str):
    """The template lane's and the token lane's graphs (each None where it steps aside)."""
    def run(lane):
        try:
            return lane(source, None)
        except Exception:  # noqa: BLE001 - the lanes signal "not mine" by raising
            return None
    return run(fastlane._lower_lines), run(fastlane._lower)


def test_lines_with_one_skeleton_share_a_template_and_keep_their_own_names_and_positions():
    rng = random.Random(11)
    lines = []
    for k in range(12000):
        a, b = rng.choice(["x1", "x22", "y"] + [f"s{j}" for j in range(max(0, k - 5), k)]), rng.choice(["x1", "y"])
        number = rng.choice(["1", "2.5", "1e-3", "7E2", ".5"])
        lines.append(rng.choice([f"s{k} = tanh({a} + {b})", f"s{k} = {number} * ({a} - {b})",
                                 f"s{k} = -{a} ^ 2 # c{k}", f"s{k}={a}*{b};t{k} = -{number}",
                                 f"s{k} = max({a}, {b}, {number})\r"]))
    source = "\n".join(lines) + "\n\n  \nout = s11999 + s11998 + x1"
    assert len(source) > 3 * 65536  # several chunks of the lexer
    by_lines, by_tokens = _both_lanes(source)
    assert by_lines is not None and by_tokens is not None
    general = _general(source)
    assert general == ("ok", _tables(by_lines)) == ("ok", _tables(by_tokens))


@pytest.mark.parametrize("source", [
    "y = a +\n b",  # a statement that goes on past its line: the token lane reads it
    "y = (a\n + b)",
    "y = sin(\na)",
])
def test_lines_that_are_not_whole_statements_go_to_the_token_lane(source):
    by_lines, by_tokens = _both_lanes(source)
    assert by_lines is None and by_tokens is not None
    assert ("ok", _tables(by_tokens)) == _general(source)


@pytest.mark.parametrize("source", [
    "y = 1e5 * a\nz = x1e5 * a",  # e in a number and in a name: different skeletons
    "y = 1x", "y = x1 + 1e-5\nz = ab-c", "dex = 1\ndef = 2", "y = a.T", "y = .5 + 5.", "y = 1e5e",
    "a = 1; b = a; c = b; a", "y = x # sin(\nz = y",
])
def test_template_lane_agrees_with_the_general_path(source):
    by_lines, _ = _both_lanes(source)
    general = _general(source)
    if by_lines is not None:
        assert general == ("ok", _tables(by_lines)), source
    assert _through_lower_source(source) == general


@settings(max_examples=300, deadline=None)
@given(st.lists(_program(clean=True), min_size=1, max_size=4))
def test_template_lane_on_repeated_shapes(programs):
    """Programs made of a few shapes, renamed: the templates are shared and reused."""
    source = "\n".join(p.replace("s", f"r{k}_") for k, p in enumerate(programs))
    source = source + "\n" + source.replace("r", "q")
    by_lines, by_tokens = _both_lanes(source)
    general = _general(source)
    for lane in (by_lines, by_tokens):
        if lane is not None:
            assert general == ("ok", _tables(lane)), source


def test_a_long_line_is_read_by_the_token_lane():
    source = "y = " + " + ".join(f"x{k % 7}" for k in range(1000))
    by_lines, by_tokens = _both_lanes(source)
    assert by_lines is None and by_tokens is not None
    assert ("ok", _tables(by_tokens)) == _general(source)


def test_short_programs_skip_the_fast_lane_and_long_ones_take_it(monkeypatch):
    calls = []
    real = fastlane.lower_fast
    monkeypatch.setattr(fastlane, "lower_fast", lambda source, output=None: calls.append(source) or real(source, output))
    short = "y = a * b\n"
    long = "".join(f"s{k} = sin(a) * s{k - 1}\n" if k else "s0 = a\n" for k in range(200))
    assert len(short) < lowering.FAST_LANE_CHARS <= len(long)
    assert _tables(lower_source(short)) == _tables(lower(parse(short)))
    assert _tables(lower_source(long)) == _tables(lower(parse(long)))
    assert calls == [long]


# ---- bindings: a plain number needs no graph ---------------------------------------------------
@settings(max_examples=300, deadline=None)
@given(st.from_regex(r"[ \t]?[-+]?(?:[0-9]{1,4}(?:\.[0-9]{0,3})?|\.[0-9]{1,3})(?:[eE][-+]?[0-9]{1,3})?[ \t]?",
                     fullmatch=True))
def test_a_plain_number_binding_is_the_expression_s_value(text):
    from gradcli.run.bindings import constant_value, graph_value

    try:
        general = graph_value(text, "binding x")
    except GradcliError as exc:  # 1e999: the general path's own message, which the shortcut leaves to it
        with pytest.raises(type(exc)) as raised:
            constant_value(text, "binding x")
        assert str(raised.value) == str(exc)
        return
    value = constant_value(text, "binding x")
    assert value.__class__ is float and math.copysign(1.0, value) == math.copysign(1.0, general)
    assert value == general, text


def test_op_names_follow_the_nodes_added():
    g = Graph()
    assert g.op_names() == frozenset()
    x = g.input("x")
    assert g.op_names() == {"input"}
    g.add("sin", (x,))
    g.const(2.0, "2")
    assert g.op_names() == {"input", "sin", "const"}
    assert g.op_names() is g.op_names()  # kept while no node is added

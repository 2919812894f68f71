"""Differential hunt on the --points fast paths (issue 24): each fast lane against the
general path it replaced, in the corners the existing property tests do not reach.

- The bulk reader (`gradcli.run.batch._parse_bulk`, orjson) against ``float`` of every
  cell and the row reader: numbers of hundreds of digits, exactly halfway between two
  doubles; integers past 2**53; bytes put anywhere that the csv module, ``str.strip``
  or UTF-8 read their own way (Unicode blanks and line ends, NUL, quotes, a BOM), under
  any csv field limit.
- `gradcli.core.fmt.number` of NumPy scalars of every kind against its definition.
- ``gradcli eval … --points`` on both entry paths (the click-free fast path and click):
  a fixed binding beside the file is warned about as a plain evaluation warns about it;
  a row fails where evaluating it alone fails (a nan or inf inside, made finite again
  later); an unused column's refusal names the inputs, or none; a reduction of a scalar
  column is refused for what it is.
- `evaluate_points` against an evaluation of each row alone, over every scalar op.
- Forward mode over every scalar op (the partials `Tape.jvp` writes out against
  `safe_partials`, to the bit; the gradient against reverse mode's), and its steps on a
  program no input reaches.
"""

from __future__ import annotations

import json
import math
from decimal import Decimal, localcontext

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from clitools import examples, invoke
from gradcli.cli.main import fast_eval_args
from gradcli.cli.program import read_point
from gradcli.core.errors import MathError
from gradcli.core.fmt import number
from gradcli.run import batch, pipeline
from gradcli.run.bindings import Binding
from gradcli.run.evaluate import prepare
from gradcli.run.requests import EvaluateRequest
from test_explain_fast_paths import evaluate
from test_fmt_fast import reference_number
from test_jvp_partials import check_passes
from test_points_blocks import _row_reader
from test_points_fast import run_entry_point


def _halfway(x: float, zeros: int = 0, tail: str = "") -> str:
    """The exact decimal text of the point halfway between `x` and the next double up,
    then `zeros` zeros and `tail` after the digits (a decimal point first if it has none)."""
    with localcontext() as ctx:
        ctx.prec = 2000
        text = format((Decimal(x) + Decimal(float(np.nextafter(x, np.inf)))) / 2, "f")
    return text + ("" if "." in text or not zeros + len(tail) else ".") + "0" * zeros + tail


# ---- the reader: long numbers --------------------------------------------------------------------
@pytest.mark.parametrize("x", [1.0, 0.1, 3.0e300, 5e-324, 2.2250738585072014e-308])
@pytest.mark.parametrize("zeros", [0, 700, 714, 715, 716, 2000])
@pytest.mark.parametrize("tail", ["", "1"])
def test_long_numbers_read_as_float_reads_them(x, zeros, tail):
    """orjson reads a number of over 768 significant digits as if the digits it drops
    were not all zeros (1.000000000000000111…03125, halfway between 1 and the next double,
    then 715 zeros, became 1.0000000000000002 where ``float`` rounds to even, 1.0): the
    bulk reader must still give ``float``'s value."""
    cell = _halfway(x, zeros, tail)
    raw = f"a,b\n{cell},1\n2,{cell}\n".encode("ascii")
    bulk = batch._parse_bulk(raw)
    assert bulk is not None
    assert bulk[1].tolist() == [[float(cell), 1.0], [2.0, float(cell)]]
    assert bulk[1].tobytes() == batch._parse_rows(raw.decode("ascii"), "--points p.csv")[1].tobytes()


def test_a_long_cell_among_many_short_ones():
    """One long cell anywhere in a large file (any stretch, either column) is found."""
    cell = _halfway(1.0, 1000)
    rng = np.random.default_rng(11)
    body = [f"{a!r},{b!r}" for a, b in rng.uniform(-1, 1, (30_000, 2)).tolist()]
    for at in (0, 12_345, len(body) - 1):
        rows = list(body)
        rows[at] = f"{cell},0.5" if at % 2 else f"0.5,{cell}"
        raw = ("a,b\n" + "\n".join(rows)).encode("ascii")
        bulk = batch._parse_bulk(raw)
        assert bulk is not None
        assert bulk[1][at].tolist() == ([1.0, 0.5] if at % 2 else [0.5, 1.0])



@pytest.mark.parametrize("cell", [
    "9007199254740993", "-9007199254740993",  # 2**53 + 1: halfway, to even
    "9223372036854775807", "-9223372036854775808", "9223372036854776833",  # int64's ends; past them
    "18446744073709551615", "18446744073709551616", "36893488147419103231",  # uint64's end; past it
    "123456789012345678901234567890", "-0000", "00012", "1" + "0" * 308,
])
def test_integer_cells_read_as_float_reads_them(cell):
    """orjson reads integers as ints (exact to 64 bits), then floats: the double must be
    ``float``'s of the text, halfway cases rounded to even."""
    raw = f"a,b\n{cell},1\n".encode("ascii")
    bulk = batch._parse_bulk(raw)
    assert bulk is not None and bulk[1].tobytes() == np.array([[float(cell), 1.0]]).tobytes()


#: bytes each of which some reader reads its own way: line ends (csv: \r; str.splitlines:
#: \x0b \x0c \x1c-\x1e \x85 \u2028), blanks for ``str.strip`` (\xa0), NUL, a quote, a BOM,
#: bytes that are not UTF-8, and number characters that are not JSON
ODD_BYTES = [b"\r", b"\n", b"\r\n", b",", b" ", b"\t", b"\x00", b'"', b"\xef\xbb\xbf", b"\xff", b"\xc2\x85",
             b"\xc2\xa0", b"\xe2\x80\xa8", b"\x0b", b"\x0c", b"\x1c", b"\x1e", b"_", b"-", b"+", b".", b"e", b"-0"]


@settings(max_examples=examples(1200), deadline=None)
@given(st.integers(1, 3).flatmap(lambda k: st.tuples(
    st.permutations(["a", "b", "c", "θ"]).map(lambda names: ",".join(names[:k])),
    st.lists(st.lists(st.one_of(st.floats(allow_nan=False, allow_infinity=False).map(repr),
                                st.integers(-10**20, 10**20).map(str),
                                st.sampled_from(["-0", "0", "-0.0", "1e-0", " 2 "])),
                      min_size=k, max_size=k).map(",".join), min_size=1, max_size=5),
    st.sampled_from(["\n", "\r\n"]), st.booleans(),
    st.lists(st.tuples(st.floats(0, 1), st.sampled_from(ODD_BYTES)), max_size=3),
    st.sampled_from([131072, 131072, 4, 9, 24]),
)))
def test_odd_bytes_anywhere_read_as_the_row_reader_reads_them(case):
    """Wherever the bulk reader answers, it answers what the row reader does, under the
    csv module's default field limit and under small ones (a header or cell longer
    than the limit is the row reader's to refuse)."""
    import csv

    header, rows, newline, ended, inserts, limit = case
    raw = (header + newline + newline.join(rows) + (newline if ended else "")).encode("utf-8")
    for at, odd in inserts:
        cut = int(at * len(raw))
        raw = raw[:cut] + odd + raw[cut:]
    saved = csv.field_size_limit(limit)
    try:
        bulk = batch._parse_bulk(raw)
        expected = _row_reader(raw)
    finally:
        csv.field_size_limit(saved)
    if bulk is not None:
        assert (bulk[0], bulk[1].tobytes(), bulk[2].tolist()) == expected


# ---- the command line: fixed bindings beside the file --------------------------------------------
@pytest.mark.parametrize("program, bindings, warning, rows", [
    ("x = 1; a*x", ["x=2"], "gradcli: warning: x is computed by the program; the value x=2 is ignored\n",
     ["1.0,1.0,1.0", "-2.0,-2.0,1.0"]),
    ("a*2", ["c=5"], "gradcli: warning: c=5 is not used by the program (a typo?)\n", ["1.0,2.0,2.0", "-2.0,-4.0,2.0"]),
    ("a*c", ["c=5"], "", ["1.0,5.0,5.0,1.0", "-2.0,-10.0,5.0,-2.0"]),
])
def test_fixed_bindings_are_warned_about_as_in_a_plain_evaluation(tmp_path, program, bindings, warning, rows):
    """A binding the program computes itself, or does not use, is ignored with a warning,
    with --points as without (it was ignored silently)."""
    path = tmp_path / "p.csv"
    path.write_text("a\n1\n-2\n", encoding="ascii")
    plain = invoke(["eval", program, "a=1", *bindings, "--format", "csv"])
    assert plain.exit_code == 0 and warning in plain.stderr  # the plain evaluation's words
    argv = ["eval", program, "--points", str(path), *bindings]
    assert fast_eval_args(argv) is not None
    fast = run_entry_point(argv)
    clicked = invoke(argv)
    assert fast == (clicked.exit_code, clicked.stdout, clicked.stderr)
    assert fast[0] == 0 and fast[2] == warning
    assert fast[1].splitlines()[1:] == rows



@pytest.mark.parametrize("program, bindings, message", [
    ("sum(a)", [], "--points evaluates scalar programs a row at a time; sum is for vectors and matrices"),
    ("mean(a) * logsumexp(a)", [], "a row at a time; logsumexp, mean are for vectors and matrices"),
    ("[a, a]", [], "--points evaluates scalar programs; this one has vectors or matrices"),
    ("a * c", ["c=[1,2]"], "--points evaluates scalar programs; this one has vectors or matrices"),
])
def test_a_program_that_is_not_elementwise_is_refused_in_one_true_line(tmp_path, program, bindings, message):
    """A reduction of a scalar column would run across the rows: refused, saying so (it
    said "this one has vectors or matrices" of a program with neither)."""
    path = tmp_path / "p.csv"
    path.write_text("a\n1\n2\n", encoding="ascii")
    argv = ["eval", program, "--points", str(path), *bindings]
    fast = run_entry_point(argv)
    clicked = invoke(argv)
    assert fast == (clicked.exit_code, clicked.stdout, clicked.stderr)
    assert fast[0] == 2 and fast[1] == ""
    assert fast[2].count("\n") == 1 and fast[2].startswith("gradcli: error: ") and message in fast[2]


# ---- forward mode: a program no input reaches ------------------------------------------------------
@pytest.mark.parametrize("tail", [[], ["--json"]])
@pytest.mark.parametrize("program", ["v0 = exp(0.5)", "relu(0) + 2"])
def test_forward_steps_of_a_program_without_inputs_take_no_pass(program, tail):
    """--mode forward --steps on a program of constants: no tangent pass, exit 0, as
    --steps in reverse mode and as forward steps of a program of arrays (it said
    "forward-mode steps need --mode forward" though --mode forward was given)."""
    argv = ["eval", program, "x=1", "--mode", "forward", "--steps", *tail]
    assert fast_eval_args(argv) is not None
    fast = run_entry_point(argv)
    clicked = invoke(argv)
    assert fast == (clicked.exit_code, clicked.stdout, clicked.stderr)
    assert fast[0] == invoke(["eval", program, "x=1", "--steps", *tail]).exit_code == 0
    assert fast[2] == "gradcli: warning: x=1 is not used by the program (a typo?)\n"
    if tail:
        document = json.loads(fast[1])
        assert document["forward_steps"] == [] and document["gradient"] == {}
        assert document["passes"]["forward"] == 0
    else:
        assert "Forward mode took 0 passes, one per input;" in fast[1]



@pytest.mark.parametrize("program, cells, failed, message", [
    ("tanh(log(x))", ["0", "2", "-1"], [True, False, True], "line 2 (row 1): node a = log(x) (log) with x = 0: log needs a positive input"),
    ("v = x*x; atan(1/(v - v))", ["1", "3"], [True, True], "line 2 (row 1): node b = 1 / a (div) with 1, a = 0: division by zero"),
    ("clip(-1, x^y, -1)", ["-2,1e300", "2,3"], [True, False], "line 2 (row 1): node a = x ^ y (pow)"),
    ("exp(-exp(x))", ["1000", "1"], [True, False], "line 2 (row 1): node a = exp(x) (exp)"),
    ("v0 = log(x); x*2", ["-1", "2"], [False, False], ""),  # a statement the output does not use
])
def test_a_row_fails_where_evaluating_it_alone_fails(tmp_path, program, cells, failed, message):
    """A row where some node the output uses is undefined or overflows is a failed row
    (nan, counted, exit 3), as ``gradcli eval`` of that row alone is a math error, even
    where a later node maps the nan or inf back to a finite number (``tanh(-inf)`` is -1:
    the row was written as a value)."""
    names = "x" if program.count("y") == 0 else "x,y"
    path = tmp_path / "p.csv"
    path.write_text(names + "\n" + "\n".join(cells) + "\n", encoding="ascii")
    for cell, bad in zip(cells, failed):
        point = [f"{n}={v}" for n, v in zip(names.split(","), cell.split(","))]
        assert invoke(["eval", program, *point, "--format", "csv"]).exit_code == (3 if bad else 0)
    argv = ["eval", program, "--points", str(path)]
    fast = run_entry_point(argv)
    clicked = invoke(argv)
    assert fast == (clicked.exit_code, clicked.stdout, clicked.stderr)
    rows = [line.split(",") for line in fast[1].splitlines()[1:]]
    assert [row[len(names.split(","))] == "nan" for row in rows] == failed
    assert all(set(row[len(names.split(",")):]) == {"nan"} for row, bad in zip(rows, failed) if bad)
    assert fast[0] == (3 if any(failed) else 0)
    assert message in fast[2] and (fast[2] == "") == (not any(failed))


@pytest.mark.parametrize("program, inputs", [("2", "none"), ("exp(1) + 3", "none"), ("c*2", "c")])
def test_an_unused_column_names_the_inputs_or_none(tmp_path, program, inputs):
    """The refusal lists the program's inputs as --wrt's does, "none" where it has none
    (it printed "(inputs: )")."""
    path = tmp_path / "p.csv"
    path.write_text("a\n1\n", encoding="ascii")
    argv = ["eval", program, "--points", str(path), "c=1"]
    fast = run_entry_point(argv)
    clicked = invoke(argv)
    assert fast == (clicked.exit_code, clicked.stdout, clicked.stderr)
    assert fast[0] == 2 and fast[1] == ""
    assert fast[2].endswith(f"gradcli: error: --points: column a is not an input of the program (inputs: {inputs})\n")


# ---- forward mode over every scalar op ---------------------------------------------------------------
#: the elementwise ops as the language spells them (the comparisons and `where` take the
#: partials' zero roads; tan, acosh, the roundings and the rest the general `safe_partials` one)
UNARY = ("-", "exp", "log", "sqrt", "sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "tanh",
         "sigmoid", "relu", "softplus", "abs", "log1p", "expm1", "log2", "log10", "erf", "asinh", "acosh",
         "atanh", "cbrt", "sign", "floor", "ceil", "round", "gelu")
BINARY = ("+", "-", "*", "/", "^", "<", "<=", ">", ">=", "!=", "==",
          "atan2", "hypot", "logaddexp", "leaky_relu", "elu", "max", "min")
TERNARY = ("where", "clip", "max", "min")


@st.composite
def every_op_programs(draw) -> tuple[str, list[str]]:
    """A program of 1-6 statements over x, y, z drawing from every scalar op, repeated
    arguments and kinks included, and a point on the ops' edges (0, ±1, tiny, huge)."""
    names = ["x", "y", "z"]
    statements = []
    for k in range(draw(st.integers(1, 6))):
        arg = st.one_of(st.sampled_from(names), st.sampled_from(["0", "1", "-1", "0.5", "2"]))
        arity = draw(st.sampled_from([1, 1, 2, 2, 3]))
        if arity == 1:
            op, a = draw(st.sampled_from(UNARY)), draw(arg)
            expr = f"-{a}" if op == "-" else f"{op}({a})"
        elif arity == 2:
            op, a = draw(st.sampled_from(BINARY)), draw(st.sampled_from(names))
            b = a if draw(st.integers(0, 5)) == 0 else draw(arg)
            expr = f"{op}({a}, {b})" if op[0].isalpha() else f"{a} {op} {b}"
        else:
            op, a, b, c = draw(st.sampled_from(TERNARY)), draw(arg), draw(arg), draw(arg)
            expr = f"where({a} > {b}, {b}, {c})" if op == "where" else f"{op}({a}, {b}, {c})"
        statements.append(f"v{k} = {expr}")
        names.append(f"v{k}")
    point = [f"{n}={draw(st.sampled_from(['0', '1', '-1', '0.5', '2', '-0.3', '1e-300', '1e300']))}"
             for n in ("x", "y", "z")]
    return "; ".join(statements), point


SETTINGS = settings(max_examples=examples(400), deadline=None,
                    suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])


@SETTINGS
@given(every_op_programs())
def test_forward_passes_over_every_op_are_the_general_walk(case):
    """Every input's pass (alone, and sharing one list of partials) is `safe_partials`'
    walk to the bit, whichever road `Tape.jvp` takes for the op."""
    check_passes(evaluate(*case, mode="forward"))


@SETTINGS
@given(every_op_programs())
def test_forward_gradients_over_every_op_are_reverse_modes(case):
    """Forward mode's gradient is reverse mode's, to rounding, but where the two walks
    part by design: each skips a zero (0 · nan and 0 · inf contribute nothing), and a
    sum of two paths that cancel is zero in one walk only.  ``sqrt(x - x)``: the tangent
    of x - x is 0, so forward mode gives 0 while reverse mode's inf - inf gives nan;
    ``atan2(c, c)`` after a nan partial: its adjoints cancel to 0 in reverse mode while
    the nan tangent goes on.  Both happen only at a point that is not differentiable,
    which both modes report (a kink)."""
    forward_ev = evaluate(*case, mode="forward")
    forward, reverse = forward_ev.gradient, evaluate(*case).gradient
    assert forward.keys() == reverse.keys()
    for name, r in reverse.items():
        f = forward[name]
        if math.isclose(f, r, rel_tol=1e-9, abs_tol=1e-12) or (math.isnan(f) and math.isnan(r)):
            continue
        assert sorted(map(repr, (f, r))) == ["0.0", "nan"] and forward_ev.kinks, (name, f, r)




@settings(SETTINGS, max_examples=examples(1600))  # a gradient that is not finite: one program in a few hundred
@given(every_op_programs())
def test_forward_mode_warns_as_reverse_mode_does(case):
    """The warnings (unused values, kinks, a gradient that is not finite and the node that
    made it so) are reverse mode's wherever the two gradients agree; forward mode said
    nothing about a nan or inf gradient."""
    forward, reverse = evaluate(*case, mode="forward"), evaluate(*case)
    if all(repr(forward.gradient[n]) == repr(reverse.gradient[n]) or math.isclose(forward.gradient[n], reverse.gradient[n])
           for n in reverse.gradient):
        assert forward.warnings == reverse.warnings
    assert any("is not finite" in w for w in forward.warnings) == (
        not all(math.isfinite(g) for g in forward.gradient.values()))


@pytest.mark.parametrize("program, point, warning", [
    ("v2 = x ^ z; v2 / (-x)", ["x=-1", "z=0"],
     "∂b/∂z = nan: the derivative of pow at node v2 = x ^ z is not finite (x = -1, z = 0)"),
    ("sqrt(x) * y", ["x=0", "y=2"], "∂b/∂x = inf: the derivative of sqrt at node a = sqrt(x) is not finite (x = 0)"),
])
def test_forward_mode_names_the_node_of_a_gradient_that_is_not_finite(program, point, warning):
    for tail in ([], ["--json"]):
        argv = ["eval", program, *point, "--mode", "forward", *tail]
        fast = run_entry_point(argv)
        clicked = invoke(argv)
        assert fast == (clicked.exit_code, clicked.stdout, clicked.stderr)
        assert fast[0] == 0 and f"gradcli: warning: {warning}\n" in fast[2]
        assert invoke(["eval", program, *point, *tail]).stderr == fast[2]



# ---- a batch against an evaluation per row ------------------------------------------------------------
@settings(SETTINGS, max_examples=examples(400))
@given(every_op_programs(), st.lists(st.tuples(*[st.sampled_from(
    [0.0, 1.0, -1.0, 0.5, 2.0, -0.3, 1e-300, 1e300, -2.0, 3.0, 710.0, -745.0, 1e-8])] * 3), min_size=2, max_size=6))
def test_a_batch_is_an_evaluation_per_row(case, rows):
    """Every row of `evaluate_points` is what evaluating that row alone gives: failed
    exactly where the evaluation is a math error, else the same value and gradient (to
    rounding: NumPy's functions against ``math``'s)."""
    program, _ = case
    inputs = prepare(program, {name: Binding(name, 1.0, "1", "--points") for name in "xyz"}).inputs
    used = [k for k, name in enumerate("xyz") if name in inputs]
    names = ["xyz"[k] for k in used]
    result = batch.evaluate_points(program, names, np.array(rows)[:, used], {}, None, None)
    event(f"{int(result.failed.sum())} of {len(rows)} rows failed")
    for k, row in enumerate(rows):
        try:
            ev = pipeline.differentiate(EvaluateRequest(point=read_point(
                (program, *(f"{n}={row[j]!r}" for n, j in zip(names, used))), None, (), None, None)))
        except MathError:
            assert result.failed[k], (k, row)
            continue
        assert not result.failed[k], (k, row, result.first_error)
        assert math.isclose(result.value[k], ev.values[ev.graph.output], rel_tol=1e-12)
        for name, g in ev.gradient.items():
            b = float(result.gradient[name][k])
            assert repr(b) == repr(float(g)) or math.isclose(b, g, rel_tol=1e-9, abs_tol=1e-300), (name, b, g)


# ---- number formatting -----------------------------------------------------------------------------
@settings(max_examples=examples(800), deadline=None)
@given(st.one_of(
    st.floats().map(np.float64), st.floats(width=32).map(np.float32), st.floats(width=16).map(np.float16),
    st.floats().map(np.longdouble),
    st.integers(-2**63, 2**63 - 1).flatmap(lambda n: st.sampled_from([np.int64(n), np.int32(n & 0x7FFFFFFF)])),
    st.integers(0, 2**64 - 1).map(np.uint64),
    st.booleans().map(np.bool_),
), st.integers(1, 40))
def test_number_of_any_numpy_scalar_is_its_definition(x, digits):
    """`number` of a NumPy scalar takes its float's case (float16 and float32 widened
    exactly, longdouble rounded, integers and booleans converted): as the definition."""
    with np.errstate(all="ignore"):
        assert number(x, digits) == reference_number(x, digits)

"""Property-based robustness tests (hypothesis).

1. Random *valid* scalar programs, built from a small grammar and rendered to text
   (fully parenthesised or with the fewest parentheses the precedence rules allow),
   are evaluated at random points through `gradcli.run.evaluate`.  Either gradcli reports
   a math error (exit 3), or its value agrees with an independent evaluator written
   here and its reverse-mode gradient agrees with central finite differences of that
   evaluator (rel 1e-5 / abs 1e-7).  Points on a kink (``ev.kinks``) or where the
   finite differences are unstable (two step sizes disagree) are skipped with
   `assume`.  Where AD agrees, gradcli's own ``--check fd`` and ``--check sympy``
   must not report a failure.  Forward-over-reverse Hessians are compared with
   finite differences of the AD gradient the same way.
2. Random garbage programs, mutations of valid programs and random combinations of
   the commands' real options (read from click, so new options are fuzzed too) go
   through ``CliRunner(main)``: never a traceback, exit status 0-3, errors only on
   stderr, one line each except parse errors (message, source line, caret).  A
   failed check (exit 1) prints its verdict on stdout and need not write to stderr.
   Plain ``eval`` lines also go through the real entry point (`gradcli.cli.main.run`,
   which skips click for them) and must print exactly what the click path prints.

Bounded for CI: modest ``max_examples``, of which CI draws a quarter (`clitools.examples`;
``GRADCLI_FUZZ_FULL=1`` draws them all), ``derandomize=True``, no example database.
``GRADCLI_FUZZ_EXAMPLES=N`` raises every test's ``max_examples`` to at least N, and
``GRADCLI_FUZZ_RANDOM=1`` draws new examples each run (Hypothesis prints the seed of a failure).
Bugs found by these tests are pinned at the end of the file: strict xfails while
open (the fuzzers step over their signatures, `KNOWN_BUGS`, to keep looking for new
ones), plain regression tests once fixed.
"""

from __future__ import annotations

import json
import math
import os
import re
import string
import tempfile
from contextlib import contextmanager
from typing import Optional

import click
import pytest
from click.testing import Result
from hypothesis import HealthCheck, assume, event, given, note, settings
from hypothesis import strategies as st

from clitools import FUZZ_EXTRA as EXTRA, examples, invoke as invoke_cli, watchdog
from gradcli.run.bindings import parse_argument
from gradcli.cli.commands import main
from gradcli.core.errors import ExitStatus, GradcliError, MathError
from gradcli.run.evaluate import prepare, run

def fuzz(max_examples: int):
    """Hypothesis settings for a fuzz test, which is also marked slow: `pytest -m "not slow"`
    (the quick loop, README) leaves the fuzzers out; CI runs them."""
    configured = settings(
        max_examples=examples(max_examples),
        deadline=None,
        derandomize=os.environ.get("GRADCLI_FUZZ_RANDOM") != "1",
        database=None,
        suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow, HealthCheck.data_too_large],
    )

    def apply(test):
        return pytest.mark.slow(configured(test))

    return apply


# --------------------------------------------------------------------------------------
# A grammar of scalar programs, an independent evaluator, and two renderers
# --------------------------------------------------------------------------------------
#   ("num", value, text) | ("var", name) | ("neg", a) | ("bin", op, a, b)
#   ("pow", a, n, "^" or "**") | ("call", f, (args...))

INPUTS = ("x", "y", "z")
UNARY = ("exp", "log", "sqrt", "sin", "cos", "tan", "tanh", "sigmoid", "softplus", "atan",
         "sinh", "cosh", "relu", "abs")
NUMBERS = ("0", "1", "2", "3", "10", "0.5", ".5", "1.5", "0.1", "2.5E1", "1e-3", "3.25")


class Undefined(Exception):
    """The reference evaluator left the domain or overflowed."""


def _sigmoid(v: float) -> float:
    if v >= 0:
        return 1.0 / (1.0 + math.exp(-v))
    e = math.exp(v)
    return e / (1.0 + e)


REFERENCE = {
    "exp": math.exp, "log": math.log, "sqrt": math.sqrt, "sin": math.sin, "cos": math.cos,
    "tan": math.tan, "tanh": math.tanh, "atan": math.atan, "sinh": math.sinh, "cosh": math.cosh,
    "sigmoid": _sigmoid, "softplus": lambda v: max(v, 0.0) + math.log1p(math.exp(-abs(v))),
    "relu": lambda v: v if v > 0 else 0.0, "abs": abs, "max": max, "min": min,
}


KINKED = ("relu", "abs", "max", "min")


def ref_eval(node, env: dict, margins: Optional[list] = None) -> float:
    """The value of an expression; `margins` collects each kinked node's distance to
    its kink (relu/abs: |argument|; max/min: the gap between the two extreme arguments)."""
    kind = node[0]
    try:
        if kind == "num":
            v = node[1]
        elif kind == "var":
            v = env[node[1]]
        elif kind == "neg":
            v = -ref_eval(node[1], env, margins)
        elif kind == "bin":
            a, b = ref_eval(node[2], env, margins), ref_eval(node[3], env, margins)
            v = {"+": a + b, "-": a - b, "*": a * b}[node[1]] if node[1] != "/" else a / b
        elif kind == "pow":
            v = math.pow(ref_eval(node[1], env, margins), node[2])
        else:
            args = [ref_eval(a, env, margins) for a in node[2]]
            v = REFERENCE[node[1]](*args)
            if margins is not None and node[1] in KINKED:
                ranked = sorted(args, reverse=node[1] == "max")
                margins.append(abs(args[0]) if len(args) == 1 else abs(ranked[1] - ranked[0]))
    except (ValueError, OverflowError, ZeroDivisionError):
        raise Undefined from None
    if not math.isfinite(v):
        raise Undefined
    return float(v)


def ref_program(statements, env: dict, margins: Optional[list] = None) -> float:
    env = dict(env)
    value = math.nan
    for target, expr in statements:
        value = ref_eval(expr, env, margins)
        if target:
            env[target] = value
    return value


# precedence for the minimal renderer: + - 10, * / 20, unary minus 30, ^ 40, atoms 100
def render(node, minimal: bool) -> str:
    return _render(node, minimal)[0]


def _render(node, minimal: bool) -> tuple[str, int]:
    kind = node[0]
    if kind == "num":
        return node[2], 100
    if kind == "var":
        return node[1], 100
    if kind == "call":
        return f"{node[1]}({', '.join(_render(a, minimal)[0] for a in node[2])})", 100
    if kind == "neg":
        text, p = _render(node[1], minimal)
        if not minimal or p < 30 or text.startswith("-"):
            text = f"({text})"
        return ("-" + text if minimal else f"(-{text})"), 30
    if kind == "pow":
        text, p = _render(node[1], minimal)
        if not minimal or p <= 40:
            text = f"({text})"
        expo = str(node[2])
        out = f"{text}{node[3]}{expo}"
        return (out if minimal else f"({out})"), 40
    op = node[1]
    power = 10 if op in "+-" else 20
    left, lp = _render(node[2], minimal)
    right, rp = _render(node[3], minimal)
    if not minimal or lp < power:
        left = f"({left})"
    if not minimal or rp <= power:
        right = f"({right})"
    out = f"{left} {op} {right}"
    return (out if minimal else f"({out})"), power


def expressions(names: tuple[str, ...]):
    # about two leaves in three are variables
    variables = [("var", n) for n in names] * (2 * len(NUMBERS) // len(names))
    leaves = st.sampled_from(variables + [("num", float(t), t) for t in NUMBERS])

    def extend(children):
        return st.one_of(
            children.map(lambda a: ("neg", a)),
            st.tuples(st.sampled_from("+-*/"), children, children).map(lambda t: ("bin", *t)),
            st.tuples(children, st.integers(-3, 4), st.sampled_from(["^", "**"])).map(lambda t: ("pow", *t)),
            st.tuples(st.sampled_from(UNARY), children).map(lambda t: ("call", t[0], (t[1],))),
            st.tuples(st.sampled_from(["max", "min"]), st.lists(children, min_size=2, max_size=3)).map(
                lambda t: ("call", t[0], tuple(t[1]))),
        )

    return st.recursive(leaves, extend, max_leaves=10)


@st.composite
def programs(draw):
    """(source text, [(target or None, expression)]): 1-3 statements, later ones may use earlier."""
    minimal = draw(st.booleans())
    separator = draw(st.sampled_from(["; ", "\n", ";\n"]))
    count = draw(st.integers(1, 3))
    names = list(INPUTS)
    statements = []
    for i in range(count):
        expr = draw(expressions(tuple(names)))
        last = i == count - 1
        target = None if last and draw(st.booleans()) else f"t{i}"
        statements.append((target, expr))
        names.append(f"t{i}")
    source = separator.join(
        (f"{t} = " if t else "") + render(e, minimal) for t, e in statements
    )
    return source, statements


coordinates = st.one_of(
    st.sampled_from([0.0, 1.0, -1.0, 0.5, -0.5, 2.0, 1e-3]),
    st.floats(-3.0, 3.0, allow_nan=False, allow_infinity=False, allow_subnormal=False),
)
points = st.fixed_dictionaries({name: coordinates for name in INPUTS})


def bind(point: dict) -> dict:
    return {name: parse_argument(f"{name}={value!r}") for name, value in point.items()}


def richardson(f, x: float, h: float) -> float:
    d1 = (f(x + h) - f(x - h)) / (2 * h)
    d2 = (f(x + h / 2) - f(x - h / 2)) / h
    return (4 * d2 - d1) / 3


def stable_derivative(f, x: float, rtol: float = 1e-5, atol: float = 1e-7) -> Optional[float]:
    """Richardson-extrapolated central differences at two step sizes, or None when the
    function is undefined nearby, the rounding floor is above the tolerance, or the two
    step sizes disagree (a kink or a domain edge close by)."""
    h = 1e-4 * max(1.0, abs(x))
    try:
        scale = max(abs(f(x + s)) for s in (-h, 0.0, h))
        coarse, fine = richardson(f, x, h), richardson(f, x, h / 4)
    except Undefined:
        return None
    if 1e-15 * scale / (h / 8) > atol / 10:
        return None
    if not (math.isfinite(coarse) and math.isfinite(fine)):
        return None
    if abs(coarse - fine) > (atol + rtol * max(abs(coarse), abs(fine))) / 4:
        return None
    return fine


def close(a: float, b: float, rtol: float, atol: float) -> bool:
    return abs(a - b) <= atol + rtol * max(abs(a), abs(b))


# --------------------------------------------------------------------------------------
# 1. AD against finite differences on random valid programs
# --------------------------------------------------------------------------------------


def test_renderers_agree_with_the_parser():
    """The minimal renderer is only useful if it means what the full one means."""
    from gradcli.language.parser import parse, program_sexpr

    expr = ("bin", "-", ("neg", ("pow", ("var", "x"), -2, "^")),
            ("bin", "/", ("var", "y"), ("bin", "*", ("var", "z"), ("num", 2.0, "2"))))
    full, minimal = render(expr, False), render(expr, True)
    assert minimal == "-x^-2 - y / (z * 2)"
    assert program_sexpr(parse(full)) == program_sexpr(parse(minimal))


@fuzz(250)
@given(program=programs(), point=points)
def test_gradient_matches_finite_differences(program, point):
    source, statements = program
    note(f"gradcli eval {source!r} " + " ".join(f"{k}={v!r}" for k, v in point.items()))
    try:
        ev = prepare(source, bind(point))
    except GradcliError as exc:  # every generated program is valid
        pytest.fail(f"valid program rejected: {exc.render()}")
    margins: list[float] = []
    try:
        expected: Optional[float] = ref_program(statements, point, margins)
    except Undefined:
        expected = None
    try:
        run(ev)
    except MathError as exc:
        assert exc.exit_status == ExitStatus.MATH_ERROR
        assert exc.render().startswith("gradcli: math error: ") and "\n" not in exc.render()
        event("math error (exit 3)")
        return
    value = float(ev.value)
    assume(expected is not None)  # the reference overflowed where gradcli did not (e.g. ulp-level)
    assert close(value, expected, 1e-6, 1e-9), (value, expected)
    assume(not ev.kinks)
    assume(min(margins, default=1.0) > 1e-2)  # finite differences would straddle a kink
    for name in ev.wrt:
        ad = float(ev.gradient[name])
        assume(math.isfinite(ad))
        fd = stable_derivative(lambda v: ref_program(statements, {**point, name: v}), point[name])  # noqa: B023
        assume(fd is not None)
        assert close(ad, fd, 1e-5, 1e-7), f"∂/∂{name}: AD {ad!r}, finite differences {fd!r}"
    event(f"compared {len(ev.wrt)} gradient(s)")
    # AD is right here, so gradcli's own --check fd must not report a failure (exit 1)
    from gradcli.oracles.checks import finite_differences

    check = finite_differences(ev)
    assert not check.failed, {n: (r.estimate, r.error, r.note) for n, r in check.results.items()}


@fuzz(15)
@given(program=programs(), point=points)
def test_sympy_check_agrees_at_smooth_points(program, point):
    """gradcli's --check sympy: never a failure where AD agrees with finite differences."""
    from gradcli.oracles.sympy_check import sympy_check

    source, statements = program
    note(f"gradcli eval {source!r} " + " ".join(f"{k}={v!r}" for k, v in point.items()) + " --check sympy")
    try:
        ev = run(prepare(source, bind(point)))
    except MathError:
        return
    margins: list[float] = []
    try:
        ref_program(statements, point, margins)
    except Undefined:  # a dead statement is undefined here; gradcli does not evaluate it
        return
    assume(not ev.kinks and min(margins, default=1.0) > 1e-2)
    for name in ev.wrt:
        ad = float(ev.gradient[name])
        assume(math.isfinite(ad))
        fd = stable_derivative(lambda v: ref_program(statements, {**point, name: v}), point[name])  # noqa: B023
        assume(fd is not None and close(ad, fd, 1e-5, 1e-7))
    check = sympy_check(ev, seconds=1.0)
    assert not check.failed, {n: (r.estimate, r.error, r.note) for n, r in check.results.items()}
    event("skipped (budget)" if any(r.status == "skipped" for r in check.results.values()) else "checked")


@fuzz(100)
@given(program=programs(), point=points)
def test_hessian_matches_finite_differences_of_the_gradient(program, point):
    from gradcli.run.derivatives import hessian

    source, statements = program
    note(f"gradcli hessian {source!r} " + " ".join(f"{k}={v!r}" for k, v in point.items()))
    try:
        ev = run(prepare(source, bind(point)))
    except MathError:
        return
    assume(not ev.kinks and ev.wrt)
    margins: list[float] = []
    try:
        ref_program(statements, point, margins)
    except Undefined:
        return
    assume(min(margins, default=1.0) > 1e-2)
    matrix = hessian(ev)
    names = list(ev.wrt)
    assert matrix.data.shape == (len(names), len(names))

    def grad(at: dict, wrt: str) -> float:
        try:
            e = run(prepare(source, bind(at)))
        except MathError:
            raise Undefined from None
        if e.kinks:
            raise Undefined
        return float(e.gradient[wrt])

    for i, a in enumerate(names):
        for j, b in enumerate(names):
            h_ad = float(matrix.data[i, j])
            assume(math.isfinite(h_ad))
            fd = stable_derivative(lambda v: grad({**point, a: v}, b), point[a], rtol=1e-4, atol=1e-6)  # noqa: B023
            assume(fd is not None)
            assert close(h_ad, fd, 1e-4, 1e-6), f"∂²/∂{a}∂{b}: Hessian {h_ad!r}, FD of gradient {fd!r}"
    event(f"compared {len(names)}x{len(names)} Hessian")


# --------------------------------------------------------------------------------------
# 2. Garbage and mutated programs, random options, through the command line
# --------------------------------------------------------------------------------------

COMMANDS = ("eval", "jacobian", "hessian")
SPECIAL = ("变量名δé\u0301\u200d\u200f\u202e😀²−×÷·\u00a0\u2028\ufeff\x00\x7f\t"
           "()[]()[],,;;==^^**@@..::##--++//__")
GARBAGE_ALPHABET = st.one_of(
    st.sampled_from(string.printable),
    st.sampled_from(SPECIAL),
    st.characters(exclude_categories=("Cs",)),  # no lone surrogates: CliRunner cannot encode them
)
LINE_ALPHABET = GARBAGE_ALPHABET  # option values and bindings may hold newlines too

SCALAR_PROGRAMS = (
    "(a+b)*(b+1)", "c = a + b; d = b + 1; e = c * d", "x*exp(x^2)", "max(x, y, 0) + relu(x - y)",
    "sqrt(x)", "log(x) - 1/y", "2^-x^2 + x**3", "asin(x) + acos(y)", "tanh(sigmoid(softplus(x)))",
    "s = x*y\nt = sin(s)\nt^2 + s", "pow(x, y) + abs(x)", "-x^2", "pi*x", "e = x; e*2",
)
ARRAY_PROGRAMS = (
    "sum(u*v)", "softmax(u)[1]", "W@u", "dot(v, sigmoid(W@u + b))", "norm(u) + max(u)", "u[0] + sum(u[1:])",
    "-log(softmax(u)[2])", "logsumexp(u) - mean(v)", "W.T@v", "outer(u, v)", "sum(W, 0)", "u[::2]",
    "log_softmax(u)", "transpose(W)@v + u",
)
SCALAR_BINDINGS = ("x=0.5", "y=2", "z=1.5", "a=3", "b=2")
ARRAY_BINDINGS = ("u=[1,2,3]", "v=[0.5,-1,2]", "W=[[1,2,3],[4,5,6],[7,8,9]]", "b=[0,0.1,-0.1]")
GOOD_BINDINGS = ("x=0.5", "y=2", "a=3", "b=2", "u=[1,2,3]", "v=[0.5,-1,2]", "W=[[1,2,3],[4,5,6],[7,8,9]]",
                 "b=[0,0.1,-0.1]", "x=1/3", "y=-2.5e-3", "x=pi/4", "x=0", "y=-1", "u=[1,2]", "W=[[1,2],[3,4]]")
BAD_BINDINGS = ("x", "=3", "1x=3", "x=", "x==3", "x=y", "x=1+", "pi=3", "exp=1", "x y=3", "x=[1,", "x=[[1],[2,3]]",
                "x=1/0", "x=log(0)", "x=1e999", "x=9^9^9", "x=[]", "变量=1", "x=\x00", "y=--1", "u=[1,[2]]")


@st.composite
def mutated(draw, base):
    text = draw(base)
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(text)))
        how = draw(st.sampled_from(["delete", "insert", "duplicate", "swap"]))
        if how == "delete" and text:
            i = min(i, len(text) - 1)
            text = text[:i] + text[i + 1:]
        elif how == "insert":
            text = text[:i] + draw(GARBAGE_ALPHABET) + text[i:]
        elif how == "duplicate":
            j = draw(st.integers(i, min(len(text), i + 8)))
            text = text[:j] + text[i:j] + text[j:]
        elif how == "swap" and len(text) > 1:
            i = min(i, len(text) - 2)
            text = text[:i] + text[i + 1] + text[i] + text[i + 2:]
    return text


valid_texts = st.one_of(st.sampled_from(SCALAR_PROGRAMS + ARRAY_PROGRAMS), programs().map(lambda p: p[0]))
program_texts = st.one_of(
    st.text(GARBAGE_ALPHABET, max_size=40),
    mutated(valid_texts),
    valid_texts,
)
binding_args = st.one_of(
    st.sampled_from(GOOD_BINDINGS),
    st.sampled_from(BAD_BINDINGS),
    st.tuples(st.sampled_from(["x", "y", "u", "q", "变量"]), st.text(LINE_ALPHABET, max_size=12)).map("=".join),
    st.text(LINE_ALPHABET, max_size=15),
)


@pytest.fixture(scope="module")
def fuzz_files(tmp_path_factory) -> dict[str, str]:
    """Files the -f, --vars and --points options get (absolute paths)."""
    d = tmp_path_factory.mktemp("fuzz")
    contents = {
        "prog.grad": "y = x*a + sin(x)\n# a comment\ny^2\n",
        "prog_latin1.grad": "x + \xe9\n".encode("latin-1"),
        "prog_empty.grad": "",
        "prog_bom.grad": "\ufeffx*2\n".encode("utf-8"),
        "vars.json": json.dumps({"x": 0.5, "a": "1/3", "u": [1, 2, 3]}),
        "vars_matrix.json": json.dumps({"W": [[1, 2], [3, 4]], "v": [1, -1]}),
        "vars_broken.json": "{\"x\": ",
        "vars_deep.json": '{"x": ' + "[" * 5000 + "1" + "]" * 5000 + "}",
        "vars_null.json": '{"x": null, "y": true}',
        "vars_list.json": "[1, 2]",
        "vars_nan.json": '{"x": NaN}',
        "points.csv": "x,a\n1,2\n0.5,-1\n0,0\n",
        "points_bad.csv": "x\nabc\n",
        "points_neg.csv": "x\n-1\n4\n",
    }
    paths = {}
    for name, content in contents.items():
        p = d / name
        if isinstance(content, bytes):
            p.write_bytes(content)
        else:
            p.write_text(content, encoding="utf-8")
        paths[name] = str(p)
    paths["missing"] = str(d / "does-not-exist")
    paths["directory"] = str(d)
    return paths


NAMES = ("x", "y", "a", "u", "t0", "t1", "q", "", "1", "变量", "x,y")
NUMBER_VALUES = {
    "int": ("0", "1", "3", "10", "17", "18", "-2", "x", "1.5", ""),
    "float": ("0", "1e-6", "1e-3", "0.5", "1", "1e9", "-1", "nan", "inf", "x", ""),
    # the SymPy budget stays small so that the fuzzer stays fast
    "timeout": ("0.1", "0.2", "0.05", "0", "-1", "inf", "nan", "1e10", "x"),
}


def option_strategy(param: click.Option, files: dict[str, str]):
    name = max(param.opts, key=len)
    if param.is_flag:
        return st.sampled_from([[o] for o in (*param.opts, *param.secondary_opts)])
    ptype = param.type
    if isinstance(ptype, click.Choice):
        values = st.sampled_from([*map(str, ptype.choices), "bogus", ""])
    elif name == "--sympy-timeout":
        values = st.sampled_from(NUMBER_VALUES["timeout"])
    elif isinstance(ptype, click.types.IntParamType):
        values = st.sampled_from(NUMBER_VALUES["int"])
    elif isinstance(ptype, click.types.FloatParamType):
        values = st.sampled_from(NUMBER_VALUES["float"])
    elif name == "--vars":
        values = st.sampled_from([files[k] for k in files if k.startswith("vars")] + [files["missing"]])
    elif name == "--file":
        values = st.sampled_from([files[k] for k in files if k.startswith("prog")] + [files["missing"], "-"])
    elif name == "--points":
        values = st.sampled_from([files[k] for k in files if k.startswith("points")] + [files["directory"]])
    elif name in ("--wrt",):
        values = st.lists(st.sampled_from(NAMES), max_size=3).map(",".join)
    elif name in ("--output", "--seed"):
        values = st.sampled_from(NAMES)
    elif name == "--seed-output":
        values = st.sampled_from(["1", "0.5", "[1,0]", "[1,0,0]", "[[1,0],[0,1]]", "2*x", "[1,", "1/0", "[]"])
    else:  # an option added later: plain text
        values = st.text(LINE_ALPHABET, max_size=12)

    return st.tuples(st.just(name), values, st.booleans()).map(
        lambda t: [f"{t[0]}={t[1]}"] if t[2] else [t[0], t[1]])


@st.composite
def command_lines(draw, files: dict[str, str]):
    command = draw(st.sampled_from(COMMANDS))
    options = [p for p in main.commands[command].params if isinstance(p, click.Option)]
    chosen = draw(st.lists(st.sampled_from(options), max_size=4))
    opt_args = [a for p in chosen for a in draw(option_strategy(p, files))]
    kind = draw(st.sampled_from(["valid", "valid", "mutated", "garbage"]))
    if kind == "garbage":
        program = draw(st.text(GARBAGE_ALPHABET, max_size=40))
    else:
        base = draw(st.sampled_from(["scalar", "array", "generated"]))
        program = draw(st.sampled_from(ARRAY_PROGRAMS) if base == "array" else
                       st.sampled_from(SCALAR_PROGRAMS) if base == "scalar" else programs().map(lambda p: p[0]))
        if kind == "mutated":
            program = draw(mutated(st.just(program)))
    # (hypothesis favours small integers: the rare branches are the largest values)
    arrays = any(program.startswith(p) for p in ARRAY_PROGRAMS) != (draw(st.integers(0, 9)) == 9)
    bindings = [b for b in (ARRAY_BINDINGS if arrays else SCALAR_BINDINGS) if draw(st.integers(0, 24)) != 24]
    bindings += draw(st.lists(binding_args, max_size=2)) if draw(st.integers(0, 2)) == 2 else []
    stdin = None
    if draw(st.integers(0, 9)) == 9:
        stdin, program = program, "-"
    rest = draw(st.permutations(bindings + opt_args)) if bindings or opt_args else []
    names = [p.name for p in options]
    head = ["--sympy-timeout=0.2"] if "sympy_timeout" in names else []  # a later one overrides it
    if draw(st.integers(0, 9)) == 9:
        rest = ["--", *rest]
    return [command, *head, program, *rest], stdin




@contextmanager
def scratch_directory():
    """Run in an empty temporary directory: an option that writes files writes them there."""
    old = os.getcwd()
    with tempfile.TemporaryDirectory() as d:
        os.chdir(d)
        try:
            yield
        finally:
            os.chdir(old)


#: in-process invocations so far (printed at the end of a long local run)
INVOCATIONS = [0]


@pytest.fixture(scope="module", autouse=True)
def report_invocations():
    yield
    if EXTRA:
        print(f"\n{INVOCATIONS[0]} in-process gradcli invocations")


#: a long local run can write its running count to this file (GRADCLI_FUZZ_PROGRESS)
PROGRESS = os.environ.get("GRADCLI_FUZZ_PROGRESS")


def count_invocation() -> None:
    INVOCATIONS[0] += 1
    if PROGRESS and INVOCATIONS[0] % 100 == 0:
        with open(PROGRESS, "w") as f:
            f.write(f"{INVOCATIONS[0]}\n")


def invoke(args: list[str], stdin=None) -> Result:
    count_invocation()
    with watchdog(30):
        return invoke_cli(args, input=stdin)


#: stderr signatures of known bugs (each pinned by an xfail below); the fuzzers step over
#: them with `assume` and keep looking for new ones
KNOWN_BUGS: dict[str, str] = {
    # "signature in stderr": "the xfail test that pins it" (none open at the moment; fixed
    # ones: test_sympy_timeout_nan, test_points_with_a_constant_output, ...)
}


#: Python's own warning lines ("...py:12: RuntimeWarning: ..."); gradcli's are "gradcli: warning: "
PYTHON_WARNING = re.compile(r"\b[A-Z]\w*Warning: ")


def not_a_known_bug(result: Result) -> None:
    if result.exit_code == ExitStatus.INTERNAL_ERROR:
        assume(not any(signature in result.stderr for signature in KNOWN_BUGS))


def assert_well_behaved(result: Result, args: list[str]) -> None:
    """The contract of README "Exit codes" and "Errors are one line on stderr"."""
    out, err, code = result.stdout, result.stderr, result.exit_code
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in err and "Traceback" not in out
    assert not PYTHON_WARNING.search(err), f"a Python warning leaked: {err[-600:]!r}"
    assert code in (0, 1, 2, 3), f"exit {code}: {err[-500:]}"
    assert "gradcli:" not in out
    if code in (2, 3):
        assert err and err.startswith("gradcli:"), err
        if code == 2 or "--points" not in args:  # --points prints the good rows before exit 3
            assert out == "", out[:300]
    if code == 1:
        assert out, "a failed check prints its verdict"
    if not err:
        return
    assert err.endswith("\n")
    lines = err[:-1].split("\n")
    messages = []
    i = 0
    while i < len(lines):
        line = lines[i]
        assert line.startswith("gradcli: "), f"stray stderr line {line!r} in {err[-600:]!r}"
        if line.startswith("gradcli: parse error"):
            assert len(lines) >= i + 3, f"parse error without source line and caret: {err!r}"
            source, caret = lines[i + 1], lines[i + 2]
            assert source.startswith("  ") and caret.startswith("  ") and caret.strip() == "^", err
            i += 3
        else:
            i += 1
        messages.append(line)
    errors = [m for m in messages if not m.startswith("gradcli: warning: ")]
    if code in (2, 3):
        assert errors and messages[-1] is errors[-1], f"the error must come last: {err[-600:]!r}"
        if "--points" not in args:
            assert len(errors) == 1, err
    if code in (0, 1):
        assert not [m for m in errors if " error" in m.split(":")[1]], err


@fuzz(200)
@given(data=st.data())
def test_cli_never_crashes(fuzz_files, data):
    args, stdin = data.draw(command_lines(fuzz_files))
    note(f"args={args!r} stdin={stdin!r}")
    with scratch_directory():
        result = invoke(args, stdin)
    note(f"exit {result.exit_code}\nstdout={result.stdout[:400]!r}\nstderr={result.stderr[:800]!r}")
    not_a_known_bug(result)
    assert_well_behaved(result, args)
    event(f"exit {result.exit_code}")


@fuzz(150)
@given(program=st.text(GARBAGE_ALPHABET, max_size=60), command=st.sampled_from(COMMANDS))
def test_garbage_program_alone(program, command):
    args = [command, program, "x=1", "y=2", "u=[1,2,3]"]
    result = invoke(args)
    note(f"{args!r} -> {result.exit_code} {result.stderr!r}")
    not_a_known_bug(result)
    assert_well_behaved(result, args)
    event(f"exit {result.exit_code}")


@fuzz(150)
@given(program=mutated(valid_texts), command=st.sampled_from(COMMANDS),
       fmt=st.sampled_from(["table", "json", "csv", "tsv"]))
def test_mutated_program(program, command, fmt):
    args = [command, program, "x=0.5", "y=2", "z=1.5", "a=3", "b=2", "u=[1,2,3]", "v=[0.5,-1,2]",
            "W=[[1,2,3],[4,5,6],[7,8,9]]", "--format", fmt]
    result = invoke(args)
    note(f"{args!r} -> {result.exit_code} {result.stderr!r}")
    not_a_known_bug(result)
    assert_well_behaved(result, args)
    event(f"exit {result.exit_code}")
    if result.exit_code == 0 and fmt == "json":
        json.loads(result.stdout, parse_constant=lambda c: pytest.fail(f"non-standard JSON {c}"))


def run_fast_path(argv: list[str]) -> tuple[int, str, str]:
    """The real entry point (`gradcli.cli.main.run`, which skips click for plain eval lines),
    in-process: (exit status, stdout, stderr)."""
    import gc
    import io
    import signal
    import sys

    from gradcli.cli.main import run as entry_point

    streams = [io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors=e) for e in ("strict", "backslashreplace")]
    saved = sys.argv, sys.stdout, sys.stderr, os.environ.get("COLUMNS"), gc.isenabled()
    handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGTERM, signal.SIGHUP)}
    sys.argv, sys.stdout, sys.stderr = ["gradcli", *argv], streams[0], streams[1]
    os.environ["COLUMNS"] = "100"
    code = 0
    count_invocation()
    try:
        with watchdog(30):
            entry_point()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    finally:
        sys.argv, sys.stdout, sys.stderr = saved[:3]
        if saved[3] is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = saved[3]
        if saved[4]:
            gc.enable()  # the entry point turns the collector off for its short-lived process
        for signum, handler in handlers.items():  # the program's handlers are not the test run's
            signal.signal(signum, handler)
    texts = []
    for stream in streams:
        stream.flush()
        texts.append(stream.buffer.getvalue().decode("utf-8"))
    return code, texts[0], texts[1]


@st.composite
def plain_eval_lines(draw):
    """Command lines of the form the fast path takes: eval PROGRAM NAME=VALUE... [--json|--format F]
    [--steps|--paths|--mode M]."""
    program = draw(st.one_of(valid_texts, mutated(valid_texts), st.text(GARBAGE_ALPHABET, min_size=1, max_size=30)))
    arrays = any(program.startswith(p) for p in ARRAY_PROGRAMS)
    bindings = [b for b in (ARRAY_BINDINGS if arrays else SCALAR_BINDINGS) if draw(st.integers(0, 24)) != 24]
    if draw(st.integers(0, 3)) == 3:
        bindings.append(draw(st.one_of(st.sampled_from(BAD_BINDINGS), binding_args)))
    fmt = draw(st.sampled_from([[], ["--json"], ["--format", "csv"], ["--format=tsv"], ["--format", "table"]]))
    explain = draw(st.sampled_from([[], [], ["--steps"], ["--paths"], ["--mode", "forward"], ["--mode=reverse"],
                                    ["--mode", "forward", "--steps"], ["--no-nodes", "--steps"]]))
    return ["eval", program, *bindings, *fmt, *explain]


@fuzz(120)
@given(argv=plain_eval_lines())
def test_fast_path_matches_click(argv):
    pytest.importorskip("gradcli.cli.main")
    from gradcli.cli.main import fast_eval_args

    assume(fast_eval_args(argv) is not None)
    note(f"argv={argv!r}")
    code, out, err = run_fast_path(argv)
    note(f"fast path: exit {code}\nstdout={out[:400]!r}\nstderr={err[:600]!r}")
    clicked = invoke(argv)
    not_a_known_bug(clicked)
    assert_well_behaved(clicked, argv)
    assert (code, out, err) == (clicked.exit_code, clicked.stdout, clicked.stderr)
    event(f"exit {code}")


def _gradient_elements(doc: dict) -> dict[str, list[float]]:
    """The JSON gradient as flat float lists per input ("nan"/"inf" strings included)."""
    out = {}
    for name, g in doc["gradient"].items():
        flat, stack = [], [g]
        while stack:
            item = stack.pop()
            if isinstance(item, list):
                stack.extend(reversed(item))
            else:
                flat.append(float(item))
        out[name] = flat
    return out


def _modes_agree(reverse: list[float], forward: list[float], what: str) -> None:
    """Per element: wherever either mode is finite, both are and they are close."""
    assert len(reverse) == len(forward), what
    for k, (r, f) in enumerate(zip(reverse, forward)):
        if math.isfinite(r) or math.isfinite(f):
            assert math.isfinite(r) and math.isfinite(f) and close(r, f, 1e-7, 1e-9), (
                f"{what}[{k}]: reverse {r!r}, forward {f!r}")


@st.composite
def mode_lines(draw):
    """A valid program with its bindings (scalar or array) for eval/jacobian in both modes."""
    base = draw(st.sampled_from(["scalar", "array", "generated"]))
    program = draw(st.sampled_from(ARRAY_PROGRAMS) if base == "array" else
                   st.sampled_from(SCALAR_PROGRAMS) if base == "scalar" else programs().map(lambda p: p[0]))
    arrays = base == "array"
    if arrays:
        bindings = [f"u={draw(st.lists(coordinates, min_size=3, max_size=3))!r}",
                    f"v={draw(st.lists(coordinates, min_size=3, max_size=3))!r}",
                    f"W={draw(st.lists(st.lists(coordinates, min_size=3, max_size=3), min_size=3, max_size=3))!r}",
                    f"b={draw(st.lists(coordinates, min_size=3, max_size=3))!r}"]
    else:
        bindings = [f"{name}={draw(coordinates)!r}" for name in ("x", "y", "z", "a", "b")]
    return program, bindings


@fuzz(150)
@given(line=mode_lines(), command=st.sampled_from(["eval", "jacobian"]))
def test_forward_and_reverse_modes_agree(line, command):
    """Both modes through the command line, per element, wherever either is finite."""
    program, bindings = line
    docs = {}
    for mode in ("reverse", "forward"):
        args = [command, program, *bindings, "--mode", mode, "--json"]
        result = invoke(args)
        note(f"{args!r} -> {result.exit_code}\n{result.stderr[:600]}")
        not_a_known_bug(result)
        assert_well_behaved(result, args)
        if result.exit_code != 0:
            # eval's forward mode needs a scalar output; a math error is the same in both modes
            assume(False)
        docs[mode] = json.loads(result.stdout)
    if command == "eval":
        reverse, forward = _gradient_elements(docs["reverse"]), _gradient_elements(docs["forward"])
        assert reverse.keys() == forward.keys()
        for name in reverse:
            _modes_agree(reverse[name], forward[name], f"{program}: ∂/∂{name}")
    else:
        flat = [_gradient_elements({"gradient": {"J": docs[m]["jacobian"]}})["J"] for m in ("reverse", "forward")]
        _modes_agree(flat[0], flat[1], f"{program}: J")
    event(f"{command} agreed")


# --------------------------------------------------------------------------------------
# Bugs the fuzzers found: fixed ones stay as regression tests, open ones are strict
# xfails (they start failing when the bug is fixed) with their signature in KNOWN_BUGS
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("budget", ["inf", "1e10", "0", "-1"])
def test_sympy_timeout_out_of_range_is_bad_usage(budget):
    args = ["eval", "x^2", "x=1", "--check", "sympy", f"--sympy-timeout={budget}"]
    result = invoke(args)
    assert_well_behaved(result, args)
    assert result.exit_code == 2 and "--sympy-timeout" in result.stderr


@pytest.mark.parametrize("command", ["eval", "jacobian"])
def test_sympy_timeout_nan(command):
    """Was a bug: nan passed the range check and crashed in the budget (ValueError, exit 4)."""
    args = [command, "x^2", "x=1", "--check", "sympy", "--sympy-timeout", "nan"]
    result = invoke(args)
    assert_well_behaved(result, args)
    assert result.exit_code == 2


@pytest.mark.parametrize("args, code", [
    (["eval", "x^2", "x=3", "--seed-output", "-1", "--format", "csv"], 0),
    (["eval", "x^2", "x=3", "--check", "fd", "--rtol", "-1"], 2),
    (["eval", "x^2", "x=3", "--digits", "-3"], 2),
])
def test_negative_option_value_as_separate_argument(args, code):
    """Was a bug: the value reached click as the placeholder '\\x00gradcli-arg-0'."""
    result = invoke(args)
    assert_well_behaved(result, args)
    assert "gradcli-arg" not in result.stderr and "\\x00" not in result.stderr, result.stderr
    assert result.exit_code == code, result.stderr
    if "--seed-output" in args:
        assert result.stdout.splitlines()[1] == "x,3.0,-6.0"


@pytest.mark.parametrize("args", [
    ["eval", "x", "x=1", "--wrt", "x\ny"],
    ["eval", "x", "x=1", "--output", "x\ny"],
    ["eval", "x", "x=1", "--foo\nbar"],
    ["eval", "x", "x=1", "v=(1\n+1)"],
    ["jacobian", "x", "x=1", "x\ny=2"],
])
def test_newline_in_user_text_stays_one_line(args):
    """Was a bug: user text was echoed raw, so a newline split the one-line message."""
    result = invoke(args)
    assert_well_behaved(result, args)


@pytest.mark.parametrize("args, code", [
    (["eval", "--format", "csv", "--", "--x", "x=2"], 0),
    (["eval", "--format", "csv", "--", "---x", "x=2"], 0),
    (["eval", "--x", "x=2"], 0),  # a program over the bound names, though it starts with '--'
    (["eval", "--y", "x=2"], 2),  # an unknown option (a program would need y): '--' before it
])
def test_double_minus_program(args, code):
    result = invoke(args)
    assert_well_behaved(result, args)
    assert result.exit_code == code, result.stderr


@pytest.mark.parametrize("args", [["jacobian", "1"], ["jacobian", "t = 2*3", "x=1"], ["hessian", "2"]])
def test_derivatives_without_inputs(args):
    """Was a bug for jacobian: ValueError: need at least one array to concatenate, exit 4."""
    result = invoke(args)
    assert_well_behaved(result, args)


def test_points_with_a_constant_output(tmp_path):
    """Was a bug: the output did not depend on the input column (used only by a dead
    statement): TypeError in engine._backward_general, exit 4."""
    points = tmp_path / "points.csv"
    points.write_text("x\n-1\n4\n")
    args = ["eval", "t = x; 3", "--points", str(points)]
    result = invoke(args)
    assert_well_behaved(result, args)
    assert result.exit_code == 0
    assert result.stdout.split("\n")[1:3] == ["-1.0,3.0,0.0", "4.0,3.0,0.0"]


@pytest.mark.parametrize("option", ["--rtol", "--atol"])
def test_nan_tolerance(option):
    args = ["eval", "x^2", "x=1", "--check", "fd", option, "nan", "--format", "csv"]
    result = invoke(args)
    assert_well_behaved(result, args)
    assert result.exit_code == 2, result.stdout


#: the explanations of issue 15 and the commands around them, on mutated programs
EXPLAIN_COMMANDS = [
    ["diff"], ["diff", "--steps"], ["diff", "--latex", "--json"],
    ["eval", "--mode", "forward", "--steps"], ["eval", "--mode", "forward", "--steps", "--json"],
    ["eval", "--mode", "forward", "--steps", "--latex"], ["eval", "--steps", "--paths", "--edges"],
    ["export"], ["export", "--to", "torch"], ["graph", "--format", "text"],
]


@fuzz(120)
@given(program=mutated(valid_texts), command=st.sampled_from(EXPLAIN_COMMANDS),
       arrays=st.booleans())
def test_explanations_never_crash(program, command, arrays):
    """diff (scalar and array paths), forward steps, the reverse explanations, export and
    the text picture: one line and an exit status for anything they cannot do."""
    point = ["x=0.5", "y=2", "z=1.5", "a=3", "b=2"]
    if arrays:
        point += ["u=[1,2,3]", "v=[0.5,-1,2]", "W=[[1,2,3],[4,5,6],[7,8,9]]"]
    args = [command[0], program, *point, *command[1:]]
    if command[0] == "diff":
        args += ["--sympy-timeout", "2"]
    result = invoke(args)
    note(f"{args!r} -> {result.exit_code} {result.stderr!r}")
    not_a_known_bug(result)
    assert_well_behaved(result, args)
    event(f"{command[0]}: exit {result.exit_code}")


_LAYER = "z = W@x + b; h = sigmoid(z); s = dot(u, h)"
_LAYER_POINT = ["W=[[0.1,0.2],[-0.3,0.4],[0.5,-0.6]]", "x=[1,2]", "b=[0,0.1,-0.1]", "u=[0.3,-0.2,0.5]"]
_ANSWERS = st.sampled_from(["outer(u*h*(1-h), x)", "W.T @ (u*h*(1-h))", "u*h*(1-h)", "h", "u", "x.T",
                            "outer(x, u)", "u*sigmoid(z)", "sum(u*h)", "dot(u, h)*x"])


@fuzz(100)
@given(name=st.sampled_from(["W", "x", "b", "u", "z", "h", "s", "q"]), answer=mutated(_ANSWERS),
       reveal=st.booleans())
def test_checking_array_formulas_never_crashes(name, answer, reveal):
    """A student's (mutated) formula for a layer's derivative: judged, never a crash;
    --reveal answers with the matrix formula."""
    args = ["check", _LAYER, *_LAYER_POINT, "--expect-formula", f"{name}={answer}", "--sympy-timeout", "2"]
    if reveal:
        args.append("--reveal")
    result = invoke(args)
    note(f"{args!r} -> {result.exit_code} {result.stdout[-400:]!r} {result.stderr!r}")
    not_a_known_bug(result)
    assert_well_behaved(result, args)
    event(f"exit {result.exit_code}")

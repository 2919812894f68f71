"""The parser (`gradcli.language.parser`) and lowering (`gradcli.language.lower`): what is accepted, how
it is read (canonical S-expressions), and what is rejected, where, and with which
message (the cases in ``tests/rejected.txt``).
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

from gradcli.core.engine import Tape
from gradcli.core.errors import ExitStatus, ParseError
from gradcli.core.graph import CONST, INPUT
from gradcli.language.lower import lower
from gradcli.language.parser import parse, program_sexpr

REJECTED = Path(__file__).with_name("rejected.txt")


def sx(src: str) -> str:
    return program_sexpr(parse(src))


# ---- canonical S-expressions ------------------------------------------------------------
ACCEPTED = [
    # precedence
    ("1+2*3", "(+ 1 (* 2 3))"),
    ("1*2+3", "(+ (* 1 2) 3)"),
    ("(1+2)*3", "(* (+ 1 2) 3)"),
    ("a*b^c", "(* a (^ b c))"),
    ("a^b*c", "(* (^ a b) c)"),
    ("a+b/c-d", "(- (+ a (/ b c)) d)"),
    ("a*b**c", "(* a (^ b c))"),
    ("a**b", "(^ a b)"),
    # left associativity of - and /, mixing with + and *
    ("a-b-c", "(- (- a b) c)"),
    ("a/b/c", "(/ (/ a b) c)"),
    ("a-b+c", "(+ (- a b) c)"),
    ("a/b*c", "(* (/ a b) c)"),
    ("a*b/c", "(/ (* a b) c)"),
    # right associativity of ^ and **
    ("2^3^2", "(^ 2 (^ 3 2))"),
    ("a^b^c^d", "(^ a (^ b (^ c d)))"),
    ("a**b**c", "(^ a (^ b c))"),
    ("a^b**c", "(^ a (^ b c))"),
    # unary minus: looser than ^, tighter than * and /
    ("-x^2", "(neg (^ x 2))"),
    ("-2^2", "(neg (^ 2 2))"),
    ("-a*b", "(* (neg a) b)"),
    ("a*-b", "(* a (neg b))"),
    ("a*-b*c", "(* (* a (neg b)) c)"),
    ("a - -b", "(- a (neg b))"),
    ("--a", "(neg (neg a))"),
    ("-(a+b)", "(neg (+ a b))"),
    ("+a", "a"),
    ("-+a", "(neg a)"),
    ("2^-3", "(^ 2 (neg 3))"),
    ("2^-x^2", "(^ 2 (neg (^ x 2)))"),
    ("a^-b*c", "(* (^ a (neg b)) c)"),
    ("a**-b", "(^ a (neg b))"),
    ("-sin(x)^2", "(neg (^ (sin x) 2))"),
    # function calls with 0..n arguments
    ("f()", "(f)"),
    ("sin(x)", "(sin x)"),
    ("h(x, y)", "(h x y)"),
    ("max(a, b, c, d)", "(max a b c d)"),
    ("sin(cos(x))", "(sin (cos x))"),
    ("max(a+b, c*d)", "(max (+ a b) (* c d))"),
    ("sin(x)^2", "(^ (sin x) 2)"),
    ("max(-a, b)", "(max (neg a) b)"),
    # assignments; statements separated by ; and newlines
    ("x = 1", "(= x 1)"),
    ("x = 1; y = x", "(= x 1); (= y x)"),
    ("x = 1\ny = 2\nx*y", "(= x 1); (= y 2); (* x y)"),
    ("a;b;c", "a; b; c"),
    ("x=1;", "(= x 1)"),
    ("a=1;;b=a", "(= a 1); (= b a)"),
    ("a\n\n\nb", "a; b"),
    ("a = 1\r\nb = a", "(= a 1); (= b a)"),
    ("\n\n  x = 2\n\n", "(= x 2)"),
    # comments
    ("# c\nx # d\n# e", "x"),
    ("x = 1 # one\ny = x # copy", "(= x 1); (= y x)"),
    # newlines inside brackets are white space
    ("(a\n+\nb)", "(+ a b)"),
    ("max(a,\n b)", "(max a b)"),
    ("[a,\n b]", "(list a b)"),
    # a line ending in a binary operator continues on the next line
    ("x = a +\n b", "(= x (+ a b))"),
    ("a *\n\n b", "(* a b)"),
    ("a + # comment\n b", "(+ a b)"),
    ("a ^\n -b", "(^ a (neg b))"),
    # numbers keep their source text
    ("3", "3"),
    ("2.5", "2.5"),
    (".5", ".5"),
    ("1e-3", "1e-3"),
    ("2.5E2", "2.5E2"),
    ("1.", "1."),
    ("0.1e+2", "0.1e+2"),
    ("3 + 2.5 + .5 + 1e-3 + 2.5E2", "(+ (+ (+ (+ 3 2.5) .5) 1e-3) 2.5E2)"),
    # names: e is a name like any other; pi is a name the lowering makes a constant
    ("e^x", "(^ e x)"),
    ("2*pi", "(* 2 pi)"),
    ("x_1 + x__2", "(+ x_1 x__2)"),
    # indexing, slices, vector literals, transposes, @ (parsed only)
    ("x[1]", "(index x 1)"),
    ("x[-1]", "(index x (neg 1))"),
    ("x[1:2]", "(index x (slice 1 2))"),
    ("x[:2]", "(index x (slice _ 2))"),
    ("x[1:]", "(index x (slice 1 _))"),
    ("x[:]", "(index x (slice _ _))"),
    ("x[::2]", "(index x (slice _ _ 2))"),
    ("x[1:2:3]", "(index x (slice 1 2 3))"),
    ("x[::-1]", "(index x (slice _ _ (neg 1)))"),
    ("W[:, 0]", "(index W (slice _ _) 0)"),
    ("W[1:, :2]", "(index W (slice 1 _) (slice _ 2))"),
    ("x[0][1]", "(index (index x 0) 1)"),
    ("x.T[0]", "(index (T x) 0)"),
    ("W[i, j]", "(index W i j)"),
    ("W[0, 1:3]", "(index W 0 (slice 1 3))"),
    ("f(x)[1]", "(index (f x) 1)"),
    ("(a+b)[0]", "(index (+ a b) 0)"),
    ("[a, b]", "(list a b)"),
    ("[[1, 2], [3, 4]]", "(list (list 1 2) (list 3 4))"),
    ("x.T", "(T x)"),
    ("x.T.T", "(T (T x))"),
    ("-x.T", "(neg (T x))"),
    ("x.T^2", "(^ (T x) 2)"),
    ("a@b+c", "(+ (@ a b) c)"),
    ("A@x.T", "(@ A (T x))"),
]


@pytest.mark.parametrize("src, expected", ACCEPTED)
def test_canonical_sexpr(src, expected):
    assert sx(src) == expected


def test_statement_targets_and_positions():
    program = parse("x = 1\n  y = x*2")
    assert [st.target for st in program.statements] == ["x", "y"]
    assert program.statements[1].target_pos == program.source.index("y")
    assert program.source == "x = 1\n  y = x*2"


# ---- names, constants and lowering ---------------------------------------------------------
def evaluate(src: str, **env: float):
    g = lower(parse(src))
    tape = Tape(g)
    values = tape.forward(env)
    adjoints = tape.backward(values)
    inputs = [g.nodes[i].name for i in g.inputs]
    return values[g.output], inputs, {name: adjoints[g.names[name]] for name in env}


def test_pi_is_a_constant():
    value, inputs, _ = evaluate("2*pi")
    assert value == 2 * math.pi
    assert inputs == []
    g = lower(parse("pi"))
    assert [n.op for n in g.nodes] == [CONST]


def test_e_is_an_ordinary_variable():
    value, inputs, grads = evaluate("e^x", e=2.0, x=3.0)
    assert inputs == ["e", "x"]
    assert value == 8.0
    assert grads == pytest.approx({"e": 12.0, "x": 8.0 * math.log(2.0)}, rel=1e-15)
    # ... which a program may assign
    value, inputs, _ = evaluate("e = 2; e*x", x=5.0)
    assert (value, inputs) == (10.0, ["x"])
    g = lower(parse("e"))
    assert g.nodes[g.output].op == INPUT


def test_negative_literals_fold_other_constant_arithmetic_does_not():
    g = lower(parse("-2"))
    assert [(n.op, n.param) for n in g.nodes] == [(CONST, -2.0)]
    g = lower(parse("2^-3 + x"))
    assert sum(1 for n in g.nodes if n.op == CONST and n.param == -3.0) == 1
    assert sum(1 for n in g.nodes if n.op == "neg") == 0
    g = lower(parse("2*3"))
    assert [n.op for n in g.nodes].count("mul") == 1


def test_unicode_letters_are_names():
    value, inputs, grads = evaluate("λ = 2*ü; λ*ü", ü=3.0)
    assert (value, inputs, grads) == (18.0, ["ü"], {"ü": 12.0})


def test_output_is_the_last_statement_and_unused_statements_are_pruned():
    # the dead statement's node is gone, but every name the program reads stays an
    # input (its gradient is 0), so --output and dead code never hide an input
    g = lower(parse("a = x*2\nb = y*3\nc = a + 1"))
    assert [n.op for n in g.nodes].count("mul") == 1
    value, inputs, grads = evaluate("a = x*2\nb = y*3\nc = a + 1", x=1.0, y=5.0)
    assert (value, inputs, grads) == (3.0, ["x", "y"], {"x": 2.0, "y": 0.0})


# ---- rejected programs --------------------------------------------------------------------
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", "\\": "\\"}


def unescape(text: str) -> str:
    out, i = [], 0
    while i < len(text):
        ch = text[i]
        if ch != "\\":
            out.append(ch)
            i += 1
            continue
        nxt = text[i + 1]
        if nxt == "u":
            out.append(chr(int(text[i + 2 : i + 6], 16)))
            i += 6
        else:
            out.append(_ESCAPES[nxt])
            i += 2
    return "".join(out)


def load_rejected() -> list:
    cases = []
    for number, line in enumerate(REJECTED.read_text(encoding="utf-8").splitlines(), 1):
        if "\t" not in line:
            continue  # a comment
        program, where, needle = line.split("\t")
        if ":" in where:
            row, col = (int(p) for p in where.split(":"))
        else:
            row, col = 1, int(where)
        cases.append(pytest.param(unescape(program), (row, col), needle, id=f"L{number}:{program[:30]}"))
    return cases


REJECTED_CASES = load_rejected()


def test_rejected_file_has_enough_cases():
    assert len(REJECTED_CASES) >= 40
    sources = [c.values[0] for c in REJECTED_CASES]
    assert len(set(sources)) == len(sources), "duplicate programs in rejected.txt"


@pytest.mark.parametrize("src, line_col, needle", REJECTED_CASES)
def test_rejected(src, line_col, needle):
    with pytest.raises(ParseError) as info:
        lower(parse(src))
    err = info.value
    assert err.line_col == line_col, err.render()
    assert needle in err.message, err.render()
    assert err.exit_status == ExitStatus.BAD_INPUT == 2


# ---- rendering --------------------------------------------------------------------------
def error_of(src: str) -> ParseError:
    with pytest.raises(ParseError) as info:
        lower(parse(src))
    return info.value


def test_render_one_line():
    assert error_of("2x").render() == (
        "gradcli: parse error at column 2: expected an operator before the name 'x' "
        "(write * for multiplication)\n"
        "  2x\n"
        "   ^"
    )


def test_render_shows_the_line_of_the_error():
    assert error_of("x = 1\ny = x +* 2\nz = y").render() == (
        "gradcli: parse error at line 2, column 8: expected an expression, found '*'\n"
        "  y = x +* 2\n"
        "         ^"
    )


def test_render_lowering_error():
    assert error_of("a = 1\nb = sine(a)").render() == (
        "gradcli: parse error at line 2, column 5: unknown function 'sine'; did you mean sin or sinh or sign?\n"
        "  b = sine(a)\n"
        "      ^"
    )


def test_render_replaces_unprintable_characters_keeping_the_caret_aligned():
    assert error_of("a\tb").render().splitlines()[1:] == ["  a?b", "    ^"]
    assert error_of("x\u200by").render().splitlines()[1:] == ["  x?y", "   ^"]


@pytest.mark.parametrize("at", [5, 150, 290])
def test_render_long_line_keeps_the_caret_under_the_error(at):
    # a 300-character line with a '$' at offset `at`
    src = "".join("$" if k == at else ("x" if k % 2 == 0 else "+") for k in range(300))
    err = error_of(src)
    assert err.line_col == (1, at + 1)
    _, shown, caret = err.render().splitlines()
    assert len(shown) <= 2 + 100 + 2  # indent, window, ellipses
    assert re.fullmatch(r" *\^", caret)
    assert shown[caret.index("^")] == "$"

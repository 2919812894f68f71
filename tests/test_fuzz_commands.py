"""A fuzzer over every command that is not eval/jacobian/hessian (those are in test_fuzz.py):
diff, plot, descend, export, graph (html), and check with a class gradebook and `in:` inputs.

Programs are drawn from pieces that reached exit 4 before (constants outside their domain,
comparisons with them, overflowing factors, zero gradients, vectors), joined by operators
and named steps; options, ranges, data files and gradebook cells are drawn alongside.  The
contract is `assert_well_behaved` of test_fuzz.py: no traceback, no Python warning, exit
0-3, errors one line on stderr.  Small counts in CI (derandomized); GRADCLI_FUZZ_EXAMPLES=N
raises them, GRADCLI_FUZZ_RANDOM=1 draws new examples (see test_fuzz.py).
"""

from __future__ import annotations

from hypothesis import assume, event, given, note
from hypothesis import strategies as st

from test_fuzz import PYTHON_WARNING, assert_well_behaved, fuzz, invoke, not_a_known_bug, scratch_directory

#: pieces of scalar programs in x and y (u is a vector of 2 where a piece uses it)
PIECES = ("x", "y", "x*y", "log(x)", "sqrt(y)", "log(-1)", "sqrt(-1)", "1/0", "a < log(-1)", "(x < y)",
          "exp(1000*x)", "1e200*x", "x*0 + y*0", "max(x, y)", "relu(x - y)", "tanh(x)*y", "abs(x)",
          "(x-1)^2 + 10*(y-x^2)^2", "x^2 + y^2", "sigmoid(x)", "log2(x)", "asin(2)", "1e308*1e308",
          "sum(u*x)", "dot(u, u)*y", "x^-1", "0^x", "floor(x)", "where(x > 0, x, y)", "erf(x)")
NUMBERS = ("0", "1", "-1", "0.5", "2", "-3", "1e-300", "1e300", "-1e308", "1e308", "pi", "1/3", "1e400")
OPERATORS = (" + ", " - ", " * ", " / ", " ^ ")


@st.composite
def programs(draw) -> str:
    count = draw(st.integers(1, 3))
    expr = draw(st.sampled_from(PIECES))
    for _ in range(count - 1):
        expr = f"({expr}){draw(st.sampled_from(OPERATORS))}({draw(st.sampled_from(PIECES))})"
    if draw(st.booleans()):  # named steps, as the lecture writes them
        return f"s1 = {expr}; s2 = s1 * {draw(st.sampled_from(PIECES))}; s2 + x"
    return expr


@st.composite
def bindings(draw) -> list[str]:
    found = [f"x={draw(st.sampled_from(NUMBERS))}", f"y={draw(st.sampled_from(NUMBERS))}"]
    if draw(st.booleans()):
        found.append(draw(st.sampled_from(["u=[1,2]", "u=[0.5,-1]", "u=3", "u=[3]", "u=[1e308,1e308]"])))
    if draw(st.booleans()):
        found.append(f"a={draw(st.sampled_from(NUMBERS))}")
    return found


@st.composite
def ranges(draw, name: str) -> str:
    low = draw(st.sampled_from(NUMBERS[:9] + ("-1e308", "-2")))
    high = draw(st.sampled_from(NUMBERS[:9] + ("1e308", "3")))
    count = draw(st.sampled_from(["", ":2", ":7", ":50", ":1001", ":0"]))
    return f"{name}={low}:{high}{count}"


def _diff(draw, program: str) -> list[str]:
    args = ["diff", program]
    args += draw(st.lists(st.sampled_from(["--steps", "--latex", "--json"]), max_size=2, unique=True))
    if draw(st.booleans()):
        args += ["--shape", draw(st.sampled_from(["u=2", "u=2x3", "x=2"]))]
    return args + ["--sympy-timeout", draw(st.sampled_from(["0.3", "2"]))]


def _plot(draw, program: str) -> list[str]:
    args = ["plot", program, draw(ranges("x"))]
    args.append(draw(ranges("y")) if draw(st.booleans()) else f"y={draw(st.sampled_from(NUMBERS))}")
    args += draw(st.lists(st.sampled_from(["u=[1,2]", "a=1"]), max_size=2, unique=True))
    kind = draw(st.sampled_from(["csv", "text", "svg"]))
    args += ["--format", kind] + (["-o", "f.svg"] if kind == "svg" else [])
    if draw(st.booleans()):
        args += ["--check", "fd"]
    return args


def _descend(draw, program: str) -> list[str]:
    args = ["descend", program, *draw(bindings()), "--updates", draw(st.sampled_from(["0", "3", "20"]))]
    args += ["--lr", draw(st.sampled_from(["0.1", "1e300", "-1", "0"]))]
    if draw(st.booleans()):
        args += ["--points", "data.csv", "--wrt", "y", "--batch", draw(st.sampled_from(["1", "2", "9"])),
                 "--seed", draw(st.sampled_from(["0", "7", "-1", "99999999999999999999"]))]
    if draw(st.booleans()):
        args += ["--momentum", draw(st.sampled_from(["0.9", "1.5"])), "--every", draw(st.sampled_from(["1", "5"]))]
    args += draw(st.sampled_from([[], ["--json"], ["--format", "csv"], ["--plot", "loss.svg"]]))
    return args


def _export(draw, program: str) -> list[str]:
    args = ["export", program, *draw(bindings()), "--to", draw(st.sampled_from(["numpy", "torch", "jax"]))]
    return args + (["-o", "out.py"] if draw(st.booleans()) else [])


def _graph(draw, program: str) -> list[str]:
    args = ["graph", program, *draw(bindings()), "--format", "html"]
    return args + (["-o", "g.html"] if draw(st.booleans()) else [])


CELLS = ("1", "0", "-2", "[1,2]", "[[1,2]]", "abc", "", "nan", "1e400", "x", "2*x", "log(-1)", '"1,2"')


def _check(draw, program: str) -> list[str]:
    columns = draw(st.lists(st.sampled_from(["in:x", "in:u", "in:y", "d/dx", "d/dy", "d/du", "value:s1",
                                             "formula:d/dx", "d/dq"]), min_size=1, max_size=4, unique=True))
    rows = ["id," + ",".join(columns)]
    for k in range(draw(st.integers(1, 3))):
        cells = [draw(st.sampled_from(CELLS)) for _ in columns]
        rows.append(f"s{k}," + ",".join(f'"{c}"' if "," in c and not c.startswith('"') else c for c in cells))
    with open("answers.csv", "w", encoding="utf-8") as fh:
        fh.write("\n".join(rows) + "\n")
    args = ["check", program, *draw(bindings()), "--answers", "answers.csv"]
    return args + draw(st.sampled_from([[], ["--out", "grades.csv"], ["--json"], ["--strict"]]))


#: stderr signatures of bugs another part of issue 22 fixes (output hygiene): stepped over here
#: until that branch is merged, so the fuzzer keeps looking for new ones
OTHERS_BUGS = ("overflow encountered in square",)  # descend "1e200*x": the gradient norm overflows


BUILDERS = {"diff": _diff, "plot": _plot, "descend": _descend, "export": _export, "graph": _graph,
            "check": _check}


@fuzz(60)
@given(data=st.data(), command=st.sampled_from(sorted(BUILDERS)), program=programs())
def test_every_command_keeps_the_exit_code_contract(data, command, program):
    with scratch_directory():
        with open("data.csv", "w", encoding="utf-8") as fh:
            fh.write("x,y\n1,2\n2,3\n-1,0.5\n")
        args = BUILDERS[command](data.draw, program)
        note(f"args={args!r}")
        result = invoke(args)
    note(f"exit {result.exit_code}\nstdout={result.stdout[:400]!r}\nstderr={result.stderr[:800]!r}")
    not_a_known_bug(result)
    assume(not any(signature in result.stderr for signature in OTHERS_BUGS))
    if command == "check" and result.exit_code in (0, 1):
        _gradebook_well_behaved(result)  # its class summary goes to stderr beside the CSV on stdout
    else:
        assert_well_behaved(result, args)
    event(f"{command}: exit {result.exit_code}")


def _gradebook_well_behaved(result) -> None:
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    assert not PYTHON_WARNING.search(result.stderr), result.stderr[-600:]
    assert result.stdout, "a gradebook was written"

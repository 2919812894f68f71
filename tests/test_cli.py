"""The command line, through click's CliRunner: outputs, formats, options, every error path.

Every test checks the exit status, stdout and stderr separately.  `invoke` also
asserts what must never happen: a traceback, an uncaught exception, an internal error.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
import unicodedata
from typing import Optional

import pytest
from click.testing import Result

from clitools import run_cli

LECTURE = "(a+b)*(b+1)"
LECTURE_STATEMENTS = "c = a + b; d = b + 1; e = c * d"

ANSI = re.compile(r"\x1b\[")


def invoke(*args: str, input=None, env: Optional[dict] = None) -> Result:
    """Run ``gradcli ARGS`` in-process; never a traceback, never an internal error."""
    return run_cli(args, input=input, env=env)


def strict_json(text: str) -> dict:
    """json.loads that refuses the non-standard NaN/Infinity literals."""

    def reject(name: str) -> None:
        raise AssertionError(f"non-standard JSON constant {name} in output")

    return json.loads(text, parse_constant=reject)


def run_json(*args: str, code: int = 0) -> dict:
    result = invoke(*args, "--json")
    assert result.exit_code == code, result.stderr
    return strict_json(result.stdout)


def split_row(line: str) -> list[str]:
    marker = "\x00"
    line = line.rstrip().replace("|Δ|", marker)
    return [c.strip().replace(marker, "|Δ|") for c in line.strip("|").split("|")]


def table(text: str, title: str) -> list[dict[str, str]]:
    """The rows of the ASCII table titled `title`, as dicts keyed by the header.

    The first column (id, input) is never empty, so a row starting with an empty cell is
    the continuation of a cell that rich wrapped.
    """
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(title))
    rows: list[list[str]] = []
    header: list[str] = []
    in_header = True
    for line in lines[start + 1:]:
        if not line.startswith(("|", "+")):
            break
        if line.startswith("+"):
            continue
        if set(line.rstrip()) <= set("|-+"):  # the rule under the header
            in_header = False
            continue
        cells = split_row(line)
        if in_header:  # a header that rich wrapped over several lines
            header = [f"{a} {b}".strip() for a, b in zip(header, cells)] if header else cells
        elif rows and cells[0] == "":  # a wrapped cell continues on the next line
            rows[-1] = [f"{a} {b}".strip() for a, b in zip(rows[-1], cells)]
        else:
            rows.append(cells)
    body = rows
    return [dict(zip(header, r)) for r in body]


def one_line(stderr: str) -> str:
    lines = stderr.splitlines()
    assert len(lines) == 1, stderr
    return lines[0]


# ---- the headline -------------------------------------------------------------------

def test_headline_table():
    result = invoke("eval", LECTURE, "a=3", "b=2")
    assert result.exit_code == 0
    assert result.stderr == ""
    assert "output   e = 15" in result.stdout
    nodes = {r["name"]: r for r in table(result.stdout, "Computational graph") if r["name"]}
    assert {n: nodes[n]["value"] for n in "abcde"} == {"a": "3", "b": "2", "c": "5", "d": "3", "e": "15"}
    assert {n: nodes[n]["adjoint ∂e/∂node"] for n in "abcde"} == {"a": "3", "b": "8", "c": "3", "d": "5", "e": "1"}
    assert (nodes["c"]["op"], nodes["c"]["inputs"]) == ("add", "a, b")
    assert (nodes["d"]["op"], nodes["d"]["inputs"]) == ("add", "b, 1")
    assert (nodes["e"]["op"], nodes["e"]["inputs"]) == ("mul", "c, d")
    grads = {r["input"]: (r["value"], r["∂e/∂input"]) for r in table(result.stdout, "Gradient of e")}
    assert grads == {"a": ("3", "3"), "b": ("2", "8")}


def test_headline_check_all():
    result = invoke("eval", LECTURE, "a=3", "b=2", "--check", "all")
    assert result.exit_code == 0, result.stdout
    assert result.stderr == ""
    rows = table(result.stdout, "Gradient of e")
    assert [(r["input"], r["∂e/∂input"], r["SymPy"], r["finite diff."], r["check"]) for r in rows] == [
        ("a", "3", "3", "3", "✓"), ("b", "8", "8", "8", "✓")]
    assert "✓ all checks passed" in result.stdout
    assert "✗" not in result.stdout
    assert "SymPy  ∂e/∂a = b + 1" in result.stdout


def test_headline_json():
    doc = run_json("eval", LECTURE, "a=3", "b=2")
    assert doc["value"] == 15
    assert doc["gradient"] == {"a": 3, "b": 8}
    assert doc["output"] == "e"
    assert doc["program"] == LECTURE


@pytest.mark.parametrize("program", [
    LECTURE_STATEMENTS,
    "c = a + b\nd = b + 1\ne = c * d\n",
    "# the lecture example\nc = a + b   # first sum\n\nd = b + 1;\ne = c * d",
])
def test_statement_form_gives_the_same_graph(program):
    doc = run_json("eval", program, "a=3", "b=2")
    assert doc["value"] == 15 and doc["gradient"] == {"a": 3, "b": 8}
    named = {n["name"]: n for n in doc["nodes"] if n["name"]}
    assert {k: (named[k]["value"], named[k]["adjoint"]) for k in "abcde"} == {
        "a": (3, 3), "b": (2, 8), "c": (5, 3), "d": (3, 5), "e": (15, 1)}


# ---- the JSON contract ----------------------------------------------------------------

def test_json_contract():
    doc = run_json("eval", LECTURE_STATEMENTS, "a=3", "b=2", "--check", "all")
    for key in ("program", "output", "value", "inputs", "gradient", "nodes", "checks", "ok"):
        assert key in doc, key
    assert doc["program"] == LECTURE_STATEMENTS
    assert doc["inputs"] == {"a": 3, "b": 2}
    assert doc["ok"] is True
    ids = [n["id"] for n in doc["nodes"]]
    assert ids == list(range(len(ids)))
    for node in doc["nodes"]:
        assert {"id", "name", "op", "inputs", "value", "adjoint"} <= set(node)
        assert all(isinstance(a, int) and a < node["id"] for a in node["inputs"])  # topological
    out = next(n for n in doc["nodes"] if n["name"] == doc["output"])
    assert out["value"] == doc["value"] and out["adjoint"] == 1
    assert set(doc["checks"]) == {"sympy", "fd"}
    for entries in doc["checks"].values():
        assert set(entries) == {"a", "b"}
        for name, entry in entries.items():
            assert {"estimate", "error", "ok", "status"} <= set(entry)
            assert entry["ok"] is True and entry["status"] == "ok"
            assert entry["estimate"] == pytest.approx(doc["gradient"][name], rel=1e-6)
            assert 0 <= entry["error"] < 1e-6


def test_json_equals_format_json():
    a = invoke("eval", LECTURE, "a=3", "b=2", "--json")
    b = invoke("eval", LECTURE, "a=3", "b=2", "--format", "json")
    assert a.exit_code == b.exit_code == 0
    assert a.stdout == b.stdout and a.stdout.startswith("{")
    assert a.stderr == b.stderr == ""


def test_json_infinite_gradient_is_a_string():
    result = invoke("eval", "sqrt(x)", "x=0", "--json")
    assert result.exit_code == 0
    assert "not finite" in result.stderr  # a warning says why
    doc = strict_json(result.stdout)
    assert doc["value"] == 0
    assert doc["gradient"] == {"x": "inf"}
    assert '"inf"' in result.stdout and "Infinity" not in result.stdout


def test_json_negative_infinite_gradient():
    result = invoke("eval", "1/x", "x=1e-200", "--json")
    assert result.exit_code == 0
    assert "not finite" in result.stderr
    doc = strict_json(result.stdout)
    assert doc["value"] == pytest.approx(1e200)
    assert doc["gradient"] == {"x": "-inf"}


def test_json_reports_a_failed_check():
    result = invoke("eval", "0.1*x + 0.2*x", "x=1", "--check", "sympy", "--rtol", "0", "--atol", "0", "--json")
    assert result.exit_code == 1
    assert result.stderr == ""
    doc = strict_json(result.stdout)
    assert doc["ok"] is False
    entry = doc["checks"]["sympy"]["x"]
    assert entry["status"] == "fail" and entry["ok"] is False
    assert entry["estimate"] == 0.3 and doc["gradient"]["x"] == 0.1 + 0.2


# ---- CSV and TSV --------------------------------------------------------------------------

@pytest.mark.parametrize("fmt, delimiter", [("csv", ","), ("tsv", "\t")])
def test_csv_and_tsv(fmt, delimiter):
    result = invoke("eval", LECTURE, "a=3", "b=2", "--format", fmt)
    assert result.exit_code == 0
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert lines[0] == delimiter.join(["input", "value", "gradient"])
    rows = list(csv.reader(io.StringIO(result.stdout), delimiter=delimiter))
    assert [(r[0], float(r[1]), float(r[2])) for r in rows[1:]] == [("a", 3.0, 3.0), ("b", 2.0, 8.0)]


@pytest.mark.parametrize("fmt, delimiter", [("csv", ","), ("tsv", "\t")])
def test_csv_and_tsv_with_checks(fmt, delimiter):
    result = invoke("eval", LECTURE, "a=3", "b=2", "--format", fmt, "--check", "all")
    assert result.exit_code == 0
    assert result.stderr == ""
    rows = list(csv.DictReader(io.StringIO(result.stdout), delimiter=delimiter))
    assert [r["input"] for r in rows] == ["a", "b"]
    for r in rows:
        assert r["sympy_status"] == r["fd_status"] == "ok"
        assert float(r["sympy"]) == float(r["gradient"])
        assert float(r["fd"]) == pytest.approx(float(r["gradient"]), rel=1e-8)


def test_json_and_a_different_format_disagree():
    result = invoke("eval", LECTURE, "a=3", "b=2", "--json", "--format", "csv")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "--json" in one_line(result.stderr) and "csv" in result.stderr


# ---- options ------------------------------------------------------------------------------

def test_wrt_limits_the_gradient():
    doc = run_json("eval", LECTURE, "a=3", "b=2", "--wrt", "a")
    assert doc["gradient"] == {"a": 3}
    assert doc["value"] == 15
    result = invoke("eval", LECTURE, "a=3", "b=2", "--wrt", "b", "--format", "csv")
    assert result.exit_code == 0 and result.stderr == ""
    assert result.stdout.splitlines() == ["input,value,gradient", "b,2.0,8.0"]


def test_wrt_unknown_input():
    result = invoke("eval", LECTURE, "a=3", "b=2", "--wrt", "a,zz")
    assert result.exit_code == 2
    assert result.stdout == ""
    line = one_line(result.stderr)
    assert "zz" in line and "a, b" in line  # names the culprit and lists the inputs
    assert "--wrt" in line


@pytest.mark.parametrize("output, value, grad", [("c", 5, {"a": 1, "b": 1}), ("e", 15, {"a": 3, "b": 8})])
def test_output_differentiates_an_intermediate_step(output, value, grad):
    result = invoke("eval", LECTURE_STATEMENTS, "a=3", "b=2", "--output", output, "--json")
    assert result.exit_code == 0
    assert result.stderr == ""
    doc = strict_json(result.stdout)
    assert doc["output"] == output
    assert doc["value"] == value
    assert doc["gradient"] == grad


def test_output_that_does_not_use_every_input():
    doc = run_json("eval", LECTURE_STATEMENTS, "a=3", "b=2", "--output", "d")
    assert doc["output"] == "d" and doc["value"] == 3
    assert doc["gradient"]["b"] == 1
    assert doc["gradient"].get("a", 0) == 0


def test_output_does_not_call_other_inputs_typos():
    result = invoke("eval", LECTURE_STATEMENTS, "a=3", "b=2", "--output", "d")
    assert result.exit_code == 0
    assert "typo" not in result.stderr


def test_output_unknown_name_is_bad_usage():
    result = invoke("eval", LECTURE_STATEMENTS, "a=3", "b=2", "--output", "zz")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "zz" in result.stderr.splitlines()[0]


def test_output_unknown_name_is_not_a_parse_error():
    result = invoke("eval", LECTURE_STATEMENTS, "a=3", "b=2", "--output", "zz")
    assert result.exit_code == 2
    assert one_line(result.stderr).startswith("gradcli: error: --output zz")


def test_vars_file(tmp_path):
    path = tmp_path / "point.json"
    path.write_text(json.dumps({"a": 3, "b": "1/3", "c": "pi/4"}), encoding="utf-8")
    doc = run_json("eval", "a*b + c", "--vars", str(path))
    assert doc["inputs"] == {"a": 3, "b": 1 / 3, "c": math.pi / 4}
    assert doc["value"] == pytest.approx(1 + math.pi / 4, rel=1e-15)
    assert doc["gradient"] == {"a": pytest.approx(1 / 3, rel=1e-15), "b": 3, "c": 1}


def test_command_line_overrides_vars(tmp_path):
    path = tmp_path / "point.json"
    path.write_text('{"a": 1, "b": 2}', encoding="utf-8")
    doc = run_json("eval", LECTURE, "--vars", str(path), "a=3")
    assert doc["inputs"] == {"a": 3, "b": 2}
    assert doc["value"] == 15
    assert doc["gradient"] == {"a": 3, "b": 8}


@pytest.mark.parametrize("content, words", [
    ("{bad", ["not valid JSON"]),
    ("[1, 2]", ["JSON object"]),
    ('{"a": true}', ["a"]),
    ('{"a": "b + 1"}', ["a", "b"]),
    ('{"1a": 3}', ["1a"]),
])
def test_vars_file_errors(tmp_path, content, words):
    path = tmp_path / "bad.json"
    path.write_text(content, encoding="utf-8")
    result = invoke("eval", "a*2", "--vars", str(path))
    assert result.exit_code == 2
    assert result.stdout == ""
    line = one_line(result.stderr)
    assert line.startswith("gradcli: error: --vars ") and str(path) in line
    for word in words:
        assert word in line


def test_vars_file_missing(tmp_path):
    result = invoke("eval", "a*2", "--vars", str(tmp_path / "nope.json"))
    assert result.exit_code == 2 and result.stdout == ""
    assert "nope.json" in one_line(result.stderr)


def test_constant_expression_bindings():
    doc = run_json("eval", "a*b*c", "a=1/3", "b=-2.5e-3", "c=pi/4")
    assert doc["inputs"] == {"a": 1 / 3, "b": -2.5e-3, "c": math.pi / 4}
    assert doc["value"] == pytest.approx(1 / 3 * -2.5e-3 * math.pi / 4, rel=1e-15)
    assert doc["gradient"]["a"] == pytest.approx(-2.5e-3 * math.pi / 4, rel=1e-15)
    assert doc["gradient"]["b"] == pytest.approx(math.pi / 12, rel=1e-15)
    assert doc["gradient"]["c"] == pytest.approx(-2.5e-3 / 3, rel=1e-15)


def test_more_constant_expression_bindings():
    doc = run_json("eval", "x + y + z", "x=-pi", "y=2^10", "z=sqrt(2)/2")
    assert doc["inputs"] == {"x": -math.pi, "y": 1024, "z": pytest.approx(math.sqrt(0.5), rel=1e-15)}


@pytest.mark.parametrize("args", [["-"], ["-f", "-"]])
def test_program_from_stdin(args):
    result = invoke("eval", *args, "x=3", "--json", input="# from stdin\ny = x^2\n")
    assert result.exit_code == 0 and result.stderr == ""
    doc = strict_json(result.stdout)
    assert doc["output"] == "y" and doc["value"] == 9 and doc["gradient"] == {"x": 6}


def test_program_from_file(tmp_path):
    path = tmp_path / "prog.grad"
    path.write_text("# lecture example\nc = a + b\nd = b + 1\ne = c * d  # output\n", encoding="utf-8")
    result = invoke("eval", "-f", str(path), "a=3", "b=2", "--json")
    assert result.exit_code == 0 and result.stderr == ""
    doc = strict_json(result.stdout)
    assert doc["value"] == 15 and doc["gradient"] == {"a": 3, "b": 8}


def test_program_file_with_byte_order_mark(tmp_path):
    path = tmp_path / "bom.grad"
    path.write_bytes("\ufeffy = 2*x".encode("utf-8"))
    doc = run_json("eval", "-f", str(path), "x=1")
    assert doc["value"] == 2 and doc["gradient"] == {"x": 2}


@pytest.mark.parametrize("program, x, value, grad", [
    ("-x^2", "3", -9, -6),
    ("-2*x", "3", -6, -2),
    ("-x", "2", -2, -1),
    ("-exp(x)", "0", -1, -1),
    ("-(x+1)*x", "2", -6, -5),
])
def test_program_starting_with_minus(program, x, value, grad):
    result = invoke("eval", program, f"x={x}", "--json")
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    doc = strict_json(result.stdout)
    assert doc["program"] == program
    assert doc["value"] == value and doc["gradient"] == {"x": grad}


def test_program_starting_with_minus_after_options():
    result = invoke("eval", "--format", "csv", "--", "-x^2", "x=3")
    assert result.exit_code == 0 and result.stderr == ""
    assert result.stdout.splitlines() == ["input,value,gradient", "x,3.0,-6.0"]


def test_digits():
    short = invoke("eval", "x/3", "x=1", "--digits", "3")
    assert short.exit_code == 0 and short.stderr == ""
    assert "output   a = 0.333\n" in short.stdout
    assert "0.3333" not in short.stdout
    default = invoke("eval", "x/3", "x=1")
    assert default.exit_code == 0 and default.stderr == ""
    assert "output   a = 0.3333333333\n" in default.stdout
    assert "0.33333333333" not in default.stdout


@pytest.mark.parametrize("digits", ["0", "18", "x"])
def test_digits_out_of_range(digits):
    result = invoke("eval", "x/3", "x=1", "--digits", digits)
    assert result.exit_code == 2 and result.stdout == ""
    assert "--digits" in one_line(result.stderr)


def test_no_nodes_hides_the_graph():
    result = invoke("eval", LECTURE, "a=3", "b=2", "--no-nodes")
    assert result.exit_code == 0 and result.stderr == ""
    assert "Computational graph" not in result.stdout
    assert [r["∂e/∂input"] for r in table(result.stdout, "Gradient of e")] == ["3", "8"]


def test_version_and_help():
    version = invoke("--version")
    assert version.exit_code == 0 and version.stderr == ""
    assert version.stdout.startswith("gradcli")
    helped = invoke("eval", "--help")
    assert helped.exit_code == 0 and helped.stderr == ""
    for option in ("--check", "--json", "--format", "--wrt", "--output", "--vars", "--digits"):
        assert option in helped.stdout


# ---- bindings: errors and warnings --------------------------------------------------------

def test_missing_bindings_are_all_listed():
    result = invoke("eval", "a*b + c*d", "a=1")
    assert result.exit_code == 2
    assert result.stdout == ""
    line = one_line(result.stderr)
    assert line.startswith("gradcli: error: ")
    for name in ("b", "c", "d"):
        assert re.search(rf"\b{name}\b", line), name
    assert "b=" in line  # shows how to give them


def test_missing_single_binding():
    result = invoke("eval", LECTURE)
    assert result.exit_code == 2 and result.stdout == ""
    line = one_line(result.stderr)
    assert "a, b" in line


def test_unused_binding_warns():
    result = invoke("eval", "a*b", "a=1", "b=2", "zz=3")
    assert result.exit_code == 0
    assert "output   c = 2" in result.stdout
    line = one_line(result.stderr)
    assert line.startswith("gradcli: warning: ") and "zz" in line


def test_unused_binding_warns_in_json_too():
    result = invoke("eval", "a*b", "a=1", "b=2", "zz=3", "--json")
    assert result.exit_code == 0
    assert "zz" in one_line(result.stderr)
    doc = strict_json(result.stdout)
    assert any("zz" in w for w in doc["warnings"])
    assert doc["gradient"] == {"a": 2, "b": 1}


def test_binding_to_an_assigned_name_warns():
    result = invoke("eval", "c = a + b; d = c*2", "a=1", "b=2", "c=5", "--json")
    assert result.exit_code == 0
    line = one_line(result.stderr)
    assert line.startswith("gradcli: warning: ") and "c" in line and "ignored" in line
    doc = strict_json(result.stdout)
    assert doc["value"] == 6  # the computed c = 3, not the bound 5
    assert doc["gradient"] == {"a": 2, "b": 2}


@pytest.mark.parametrize("arg", ["x", "=3", "1x=3", "x=", "x==3", "x=y", "x=1+", "pi=3", "x y=3"])
def test_bad_binding_syntax(arg):
    result = invoke("eval", "x*2", arg)
    assert result.exit_code == 2, result.stdout
    assert result.stdout == ""
    line = one_line(result.stderr)
    assert line.startswith("gradcli: error: ")
    assert arg.partition("=")[0].strip() in line or arg in line


def test_binding_twice():
    result = invoke("eval", "x*2", "x=1", "x=2")
    assert result.exit_code == 2 and result.stdout == ""
    assert "twice" in one_line(result.stderr)


def test_binding_value_with_math_error():
    result = invoke("eval", "x*2", "x=1/0")
    assert result.exit_code == 3 and result.stdout == ""
    line = one_line(result.stderr)
    assert line.startswith("gradcli: math error: ") and "binding x" in line and "division by zero" in line


def test_binding_too_large():
    result = invoke("eval", "x*2", "x=1e400")
    assert result.exit_code == 2 and result.stdout == ""
    assert "too large" in one_line(result.stderr)


# ---- parse errors ------------------------------------------------------------------------

@pytest.mark.parametrize("program, line, col, words", [
    ("a+*b", 1, 3, ["expected an expression"]),
    ("c = a + b\nd = c ** / 2", 2, 10, ["expected an expression"]),
    ("(x", 1, 1, ["never closed"]),
    ("x)", 1, 2, ["unmatched"]),
    ("2x", 1, 2, ["*"]),
    ("x y", 1, 3, ["*"]),
    ("a = 1; a = 2", 1, 8, ["twice"]),
    ("b = a; a = 1", 1, 5, ["before"]),
    ("x² + 1", 1, 2, ["x^2"]),
    ("x % 2", 1, 3, ["modulo"]),
    ("y = x +\n  3 $ 4", 2, 5, ["'$'"]),
    ("exp(1)\nexp = 2", 1, 1, ["also the built-in function exp(...)"]),
    ("sin(x, y)", 1, 1, ["argument"]),
    ("pi = 3", 1, 1, ["built-in"]),
])
def test_parse_error_shows_line_and_caret(program, line, col, words):
    result = invoke("eval", program, "x=1", "y=1", "a=1", "b=1")
    assert result.exit_code == 2
    assert result.stdout == ""
    first, shown, caret = result.stderr.rstrip("\n").split("\n")
    where = f"line {line}, column {col}" if "\n" in program else f"column {col}"
    assert first.startswith(f"gradcli: parse error at {where}: "), first
    for word in words:
        assert word in first
    source_line = program.split("\n")[line - 1]
    assert shown == "  " + source_line
    assert caret.rstrip() == " " * (2 + col - 1) + "^"


def test_parse_error_caret_after_wide_characters():
    result = invoke("eval", "变量 +* 2", "变量=1")
    assert result.exit_code == 2
    _, shown, caret = result.stderr.rstrip("\n").split("\n")

    def width(s: str) -> int:
        return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in s)

    assert width(caret[: caret.index("^")]) == width(shown[: shown.index("*")])


def test_parse_error_in_a_file_names_the_line(tmp_path):
    path = tmp_path / "prog.grad"
    path.write_text("# comment\nc = a + b\nd = (c * 2\n", encoding="utf-8")
    result = invoke("eval", "-f", str(path), "a=1", "b=1")
    assert result.exit_code == 2 and result.stdout == ""
    first, shown, caret = result.stderr.rstrip("\n").split("\n")
    assert first.startswith("gradcli: parse error at line 3, column 5: ")
    assert shown == "  d = (c * 2"
    assert caret == "      ^"


@pytest.mark.parametrize("program, suggestion", [
    ("expp(x)", "exp"), ("sigmod(x)", "sigmoid"), ("sqr(x)", "sqrt"), ("tanhh(x)", "tanh"),
])
def test_unknown_function_did_you_mean(program, suggestion):
    result = invoke("eval", program, "x=1")
    assert result.exit_code == 2 and result.stdout == ""
    first = result.stderr.splitlines()[0]
    assert "unknown function" in first and program.split("(")[0] in first
    assert f"did you mean {suggestion}" in first


def test_unknown_function_without_a_close_match_lists_the_functions():
    result = invoke("eval", "frobnicate(x)", "x=1")
    assert result.exit_code == 2 and result.stdout == ""
    first = result.stderr.splitlines()[0]
    assert "frobnicate" in first and "sigmoid" in first and "softplus" in first


@pytest.mark.parametrize("program", ["", "   ", "# only a comment", "\n\n", " ; ;\n"])
def test_empty_program(program):
    result = invoke("eval", program)
    assert result.exit_code == 2 and result.stdout == ""
    assert "empty" in result.stderr.splitlines()[0]


def test_no_program():
    result = invoke("eval")
    assert result.exit_code == 2 and result.stdout == ""
    assert "no program" in one_line(result.stderr)


# ---- options: errors -----------------------------------------------------------------------

@pytest.mark.parametrize("args", [
    ["eval", LECTURE, "a=3", "b=2", "--chekc", "all"],
    ["eval", LECTURE, "a=3", "b=2", "--chekc=all"],
    ["eval", LECTURE, "a=3", "b=2", "--jsno"],
])
def test_unknown_option(args):
    result = invoke(*args)
    assert result.exit_code == 2
    assert result.stdout == ""
    line = one_line(result.stderr)
    assert line.startswith("gradcli: error: no such option: ")
    assert args[4].split("=")[0] in line


def test_unknown_option_suggests_the_right_one():
    result = invoke("eval", LECTURE, "a=3", "b=2", "--chekc", "all")
    assert result.exit_code == 2
    assert "--check" in one_line(result.stderr)


def test_unknown_option_before_the_program():
    result = invoke("eval", "--chekc", "all", LECTURE, "a=3", "b=2")
    assert result.exit_code == 2
    assert "--chekc" in one_line(result.stderr)


def test_option_after_double_dash():
    result = invoke("eval", "--", "-x", "x=2", "--format", "csv")
    assert result.exit_code == 2
    assert "no such option" not in result.stderr


@pytest.mark.parametrize("args, word", [
    (["--check", "bogus"], "--check"),
    (["--format", "xml"], "--format"),
    (["--rtol", "abc"], "--rtol"),
    (["--sympy-timeout", "0.01"], "--sympy-timeout"),
])
def test_bad_option_values(args, word):
    result = invoke("eval", LECTURE, "a=3", "b=2", *args)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert word in one_line(result.stderr)


def test_missing_program_file(tmp_path):
    missing = tmp_path / "nope.grad"
    result = invoke("eval", "-f", str(missing), "x=1")
    assert result.exit_code == 2 and result.stdout == ""
    line = one_line(result.stderr)
    assert str(missing) in line and "cannot read" in line


def test_program_file_is_a_directory(tmp_path):
    result = invoke("eval", "-f", str(tmp_path), "x=1")
    assert result.exit_code == 2 and result.stdout == ""
    assert str(tmp_path) in one_line(result.stderr)


def test_program_file_not_utf8(tmp_path):
    path = tmp_path / "latin1.grad"
    path.write_bytes("y = x * 2  # caf\xe9\n".encode("latin-1"))
    result = invoke("eval", "-f", str(path), "x=1")
    assert result.exit_code == 2 and result.stdout == ""
    line = one_line(result.stderr)
    assert "UTF-8" in line and str(path) in line


def test_program_from_stdin_without_deprecation_warnings():
    result = invoke("eval", "-", "x=3", "--format", "csv", input="y = x^2\n")
    assert result.exit_code == 0
    assert result.stdout.splitlines() == ["input,value,gradient", "x,3.0,6.0"]


def test_stdin_not_utf8():
    result = invoke("eval", "-", "x=1", input=b"y = x\xff")
    assert result.exit_code == 2 and result.stdout == ""
    assert "stdin" in one_line(result.stderr) and "UTF-8" in result.stderr


# ---- math errors ------------------------------------------------------------------------------

@pytest.mark.parametrize("program, bindings, words", [
    ("log(x)", ["x=-1"], ["log(x)", "(log)", "x = -1", "positive"]),
    ("1/x", ["x=0"], ["1 / x", "(div)", "x = 0", "division by zero"]),
    ("sqrt(x)", ["x=-1"], ["sqrt(x)", "(sqrt)", "x = -1", "non-negative"]),
    ("asin(x)", ["x=2"], ["asin(x)", "(asin)", "x = 2", "[-1, 1]"]),
    ("acos(x)", ["x=-1.5"], ["acos(x)", "(acos)", "x = -1.5"]),
    ("exp(x)", ["x=1000"], ["exp(x)", "(exp)", "x = 1000", "overflow"]),
    ("9^9^9^9", [], ["(pow)", "387420489", "overflow"]),
    ("x^0.5", ["x=-1"], ["(pow)", "x = -1", "negative base"]),
    ("y = x*x; z = log(y - 4)", ["x=2"], ["log", "= 0"]),
])
def test_math_errors(program, bindings, words):
    result = invoke("eval", program, *bindings)
    assert result.exit_code == 3, result.stdout + result.stderr
    assert result.stdout == ""
    line = one_line(result.stderr)
    assert line.startswith("gradcli: math error: node ")
    for word in words:
        assert word in line, (word, line)


def test_math_error_also_exits_3_in_json_mode():
    result = invoke("eval", "log(x)", "x=0", "--json")
    assert result.exit_code == 3
    assert result.stdout == ""
    assert one_line(result.stderr).startswith("gradcli: math error: ")


# ---- checks ------------------------------------------------------------------------------

SMOOTH = [
    ("sin(x)*exp(x)", ["x=0.7"]),
    ("tanh(x)*softplus(y) + atan(x/y) - cos(x*y)^2 + log(1+x^2)/sqrt(y)", ["x=0.4", "y=1.7"]),
    ("sigmoid(w*x + b)", ["w=-0.3", "x=2", "b=0.5"]),
    ("max(x, y) * relu(x - 1) + abs(y) + min(x, 3)", ["x=2.5", "y=-1.25"]),
    ("sinh(x)/cosh(x) - tan(x/4) + pow(x, 3) + pi*x", ["x=0.9"]),
]


@pytest.mark.parametrize("kind", ["fd", pytest.param("sympy", marks=pytest.mark.slow),
                                  pytest.param("all", marks=pytest.mark.slow)])
@pytest.mark.parametrize("program, bindings", SMOOTH, ids=[p for p, _ in SMOOTH])
def test_checks_pass(program, bindings, kind):
    # a budget, not a speed limit: the check ends when SymPy is done, and a loaded machine must not skip it
    result = invoke("eval", program, *bindings, "--check", kind, "--no-nodes", "--sympy-timeout", "60")
    assert result.exit_code == 0, result.stdout
    assert result.stderr == ""
    assert "✓ all checks passed" in result.stdout
    assert "✗" not in result.stdout
    rows = table(result.stdout, "Gradient of")
    assert len(rows) == len(bindings)
    assert all(r["check"] == "✓" for r in rows)
    columns = set(rows[0])
    assert ("SymPy" in columns) == (kind in ("sympy", "all"))
    assert ("finite diff." in columns) == (kind in ("fd", "all"))


@pytest.mark.parametrize("program, bindings, op", [
    ("relu(x)", ["x=0"], "relu"),
    ("abs(x)", ["x=0"], "abs"),
    ("max(x, y)", ["x=1", "y=1"], "max"),
    ("min(x, y) * 2", ["x=-3", "y=-3"], "min"),
])
def test_kinks_are_reported_not_failed(program, bindings, op):
    result = invoke("eval", program, *bindings, "--check", "all")
    assert result.exit_code == 0, result.stdout
    assert "✗" not in result.stdout
    assert "✓ all checks passed" in result.stdout
    line = one_line(result.stderr)
    assert line.startswith("gradcli: warning: ") and "not differentiable here" in line and op in line


def test_kink_where_the_checks_disagree_is_marked_in_the_table():
    result = invoke("eval", "relu(x)", "x=0", "--check", "all")
    assert result.exit_code == 0
    assert "not differentiable here" in result.stderr
    rows = table(result.stdout, "Gradient of a")
    assert rows[0]["∂a/∂input"] == "0"  # relu'(0) = 0, as in PyTorch
    assert rows[0]["check"] == "~ not differentiable here"
    assert "(some at points that are not differentiable)" in result.stdout
    doc = run_json("eval", "relu(x)", "x=0", "--check", "all")
    assert doc["ok"] is True
    assert {c: e["x"]["status"] for c, e in doc["checks"].items()} == {"sympy": "kink", "fd": "kink"}
    assert "not differentiable here" in doc["checks"]["fd"]["x"]["note"]


def test_max_tie_shares_the_gradient():
    doc = run_json("eval", "max(x, y)", "x=1", "y=1", "--check", "all")
    assert doc["gradient"] == {"x": 0.5, "y": 0.5}
    assert doc["ok"] is True


def test_a_check_fails_with_zero_tolerance():
    # 0.1 + 0.2 != 0.3 in floating point: AD says 0.30000000000000004, SymPy exactly 3/10
    result = invoke("eval", "0.1*x + 0.2*x", "x=1", "--check", "sympy", "--rtol", "0", "--atol", "0")
    assert result.exit_code == 1
    assert result.stderr == ""
    rows = table(result.stdout, "Gradient of c")
    assert rows[0]["check"] == "✗"
    assert "✗ check failed: ∂/∂x (sympy)" in result.stdout
    assert "sympy rtol 0, atol 0" in result.stdout
    ok = invoke("eval", "0.1*x + 0.2*x", "x=1", "--check", "sympy")  # default tolerances accept it
    assert ok.exit_code == 0 and ok.stderr == ""
    assert "✓ all checks passed" in ok.stdout


def test_finite_differences_fail_on_a_fast_oscillation():
    # AD is right; no finite-difference step (all >= 1e-12 here) can follow sin(1e12 x), whose
    # period is 6e-12: a genuine disagreement, reported as a failure with exit status 1
    result = invoke("eval", "sin(1e12*x)", "x=0.3", "--check", "fd", "--format", "csv")
    assert result.exit_code == 1
    assert result.stderr == ""
    (row,) = csv.DictReader(io.StringIO(result.stdout))
    assert row["fd_status"] == "fail"
    assert float(row["gradient"]) == pytest.approx(1e12 * math.cos(1e12 * 0.3), rel=1e-3)
    assert abs(float(row["gradient"]) - float(row["fd"])) > 1e6


def test_fd_with_zero_tolerance_still_allows_the_rounding_floor():
    # --rtol 0 --atol 0 does NOT make finite differences fail on a smooth function: the check
    # always adds the rounding floor 10·ε·max|f(x±h)|/h (gradcli/checks.py).  Pin that down.
    doc = run_json("eval", "sin(x)*exp(x)", "x=0.7", "--check", "fd", "--rtol", "0", "--atol", "0")
    entry = doc["checks"]["fd"]["x"]
    assert doc["tolerances"]["fd"] == {"rtol": 0, "atol": 0}
    assert entry["error"] > 0  # not an exact match ...
    assert entry["status"] == "ok" and doc["ok"] is True  # ... but within the rounding floor


def test_custom_tolerance_is_shown():
    result = invoke("eval", LECTURE, "a=3", "b=2", "--check", "fd", "--rtol", "1e-3", "--atol", "1e-4")
    assert result.exit_code == 0 and result.stderr == ""
    assert "tolerances: fd rtol 0.001, atol 0.0001" in result.stdout


def _big_program(terms: int = 400) -> str:
    return " + ".join(f"sin(x*{i})*exp(cos(x+{i}))*atan(x^{i % 5 + 1})" for i in range(1, terms + 1))


def test_sympy_timeout_skips_without_failing():
    result = invoke("eval", _big_program(), "x=0.3", "--check", "all", "--sympy-timeout", "0.1", "--no-nodes")
    assert result.exit_code == 0, result.stdout
    assert result.stderr == ""
    rows = table(result.stdout, "Gradient of")
    assert len(rows) == 1 and rows[0]["input"] == "x"
    assert rows[0]["SymPy"] == "—"
    assert rows[0]["finite diff."] == rows[0][next(k for k in rows[0] if k.startswith("∂"))]
    assert "time budget" in result.stdout and "--sympy-timeout" in result.stdout
    assert "✓ all checks that ran passed (1 of 2 ran; 1 skipped)" in result.stdout


def test_sympy_timeout_in_json():
    doc = run_json("eval", _big_program(), "x=0.3", "--check", "all", "--sympy-timeout", "0.1")
    assert doc["ok"] is True
    assert doc["checks"]["sympy"]["x"]["status"] == "skipped"
    assert doc["checks"]["sympy"]["x"]["ok"] is None
    assert doc["checks"]["fd"]["x"]["status"] == "ok"
    assert isinstance(doc["gradient"]["x"], float)


# ---- colour ----------------------------------------------------------------------------------

@pytest.mark.parametrize("env", [{}, {"NO_COLOR": "1"}, {"TERM": "xterm-256color", "NO_COLOR": "1"}])
def test_no_ansi_codes_when_not_a_terminal(env):
    result = invoke("eval", "relu(x) + y", "x=0", "y=2", "--check", "all", env=env)
    assert result.exit_code == 0
    assert "not differentiable here" in result.stderr
    assert not ANSI.search(result.stdout) and not ANSI.search(result.stderr)
    assert "\x1b" not in result.stdout + result.stderr
    assert "+-" in result.stdout  # plain ASCII boxes, not box-drawing characters
    assert "╭" not in result.stdout


def test_no_color_on_a_forced_terminal_has_no_colours():
    result = invoke("eval", LECTURE, "a=3", "b=2", "--check", "all",
                    env={"FORCE_COLOR": "1", "NO_COLOR": "1"})
    assert result.exit_code == 0
    colours = re.findall(r"\x1b\[([0-9;]*)m", result.stdout)
    for sgr in colours:
        for code in sgr.split(";"):
            assert not (code.isdigit() and (30 <= int(code) <= 49 or 90 <= int(code) <= 107)), sgr

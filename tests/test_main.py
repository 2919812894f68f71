"""The entry point's fast path: plain ``eval`` command lines skip importing click.

`gradcli.cli.main.fast_eval_args` must accept only the plain form and hand everything
else to click; and for the lines it accepts, a real process must print exactly what
the click command prints (same stdout, stderr and exit status).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from clitools import invoke
from gradcli.cli.main import fast_eval_args


@pytest.mark.parametrize("argv, expected", [
    (["eval", "(a+b)*(b+1)", "a=3", "b=2"], {"args": ("(a+b)*(b+1)", "a=3", "b=2"), "fmt": "table"}),
    (["eval", "x^2", "x=1", "--json"], {"args": ("x^2", "x=1"), "fmt": "json"}),
    (["eval", "x^2", "--format", "csv", "x=1"], {"args": ("x^2", "x=1"), "fmt": "csv"}),
    (["eval", "x^2", "x=1", "--format=tsv"], {"args": ("x^2", "x=1"), "fmt": "tsv"}),
    (["eval", "x", "x=[1, 2]"], {"args": ("x", "x=[1, 2]"), "fmt": "table"}),
    (["eval", "x^2", "x=1", "--json", "--no-nodes"], {"args": ("x^2", "x=1"), "fmt": "json", "show_nodes": False}),
    (["eval", "-f", "p.grad", "x=1", "--steps"], {"program_file": "p.grad", "args": ("x=1",), "fmt": "table",
                                                  "steps": True}),
    (["eval", "x^2", "x=1", "--mode", "forward", "--steps"], {"args": ("x^2", "x=1"), "fmt": "table",
                                                              "mode": "forward", "steps": True}),
    (["eval", "x^2", "x=1", "--paths", "--mode=reverse"], {"args": ("x^2", "x=1"), "fmt": "table",
                                                           "paths": True, "mode": "reverse"}),
])
def test_plain_lines_take_the_fast_path(argv, expected):
    assert fast_eval_args(argv) == expected


@pytest.mark.parametrize("argv", [
    [],
    ["eval"],
    ["--help"],
    ["eval", "--help"],
    ["eval", "-x^2", "x=1"],            # program starting with '-': click's protection
    ["eval", "-f", "-", "x=1"],          # the program from stdin
    ["eval", "x=1", "-f", "prog.grad"],  # -f anywhere but first
    ["eval", "-f", "prog.grad", "x"],    # with -f every argument is a binding
    ["eval", "x", "x=1", "--mode", "both"],
    ["eval", "x", "x=1", "--steps", "--steps"],
    ["eval", "x", "x=1", "--paths", "--mode", "forward"],   # they refuse each other: click says why
    ["eval", "x", "x=1", "--steps", "--points", "p.csv"],
    ["eval", "-", "x=1"],
    ["eval", "x", "x=1", "--check", "all"],
    ["eval", "x", "x=1", "--json", "--format", "csv"],
    ["eval", "x", "x=1", "--format", "xml"],
    ["eval", "x", "x=1", "--chekc"],
    ["eval", "x", "1x=2"],
    ["eval", "x", "x="],
    ["eval", "x", "x"],
    ["jacobian", "x", "x=1"],
    ["eval", "x", "--", "x=1"],
    ["eval", "x", "x=1", "--no-nodes", "--no-nodes"],
])
def test_everything_else_goes_to_click(argv):
    assert fast_eval_args(argv) is None


LECTURE_E = str(Path(__file__).resolve().parent.parent / "samples" / "lecture_e.grad")

CASES = [
    ["eval", "(a+b)*(b+1)", "a=3", "b=2"],
    ["eval", "(a+b)*(b+1)", "a=3", "b=2", "--json"],
    ["eval", "(a+b)*(b+1)", "a=3", "b=2", "--json", "--no-nodes"],
    ["eval", "c = a + b; d = b + 1; e = c * d", "a=3", "b=2", "--format", "csv"],
    ["eval", "s = dot(u, sigmoid(W@x + b))", "u=[0.3,-0.2,0.5]", "W=[[0.1,0.2],[-0.3,0.4],[0.5,-0.6]]",
     "x=[1,2]", "b=[0,0.1,-0.1]", "--json"],
    ["eval", "log(x)", "x=-1"],           # math error, exit 3
    ["eval", "x +", "x=1"],               # parse error, exit 2
    ["eval", "x*y", "x=1"],               # missing binding, exit 2
    ["eval", "x", "x=1", "y=2"],          # unused binding warning
    ["eval", "sqrt(x)", "x=0", "--json"],  # infinite gradient warning
    ["eval", "-f", LECTURE_E, "a=3", "b=2", "--steps"],
    ["eval", "-f", LECTURE_E, "a=3", "b=2", "--steps", "--json"],
    ["eval", "-f", LECTURE_E, "a=3", "--paths"],               # missing binding, exit 2
    ["eval", "-f", LECTURE_E + ".missing", "a=3", "b=2"],       # no such file, exit 2
    ["eval", "(a+b)*(b+1)", "a=3", "b=2", "--paths", "--no-nodes"],
    ["eval", "(a+b)*(b+1)", "a=3", "b=2", "--mode", "forward", "--steps"],
    ["eval", "(x+y)*max(y,z)", "x=1", "y=2", "z=2", "--steps"],  # a tie: the kink's warning
    ["eval", "c = a + b; e = c*c", "a=1", "b=2", "--mode=forward", "--format", "csv"],
]


@pytest.mark.parametrize("argv", CASES, ids=lambda a: " ".join(a[1:3])[:40])
def test_fast_path_prints_what_click_prints(argv):
    assert fast_eval_args(argv) is not None
    env = {**os.environ, "COLUMNS": "100", "GRADCLI_DEBUG": ""}
    env.pop("NO_COLOR", None)
    proc = subprocess.run([sys.executable, "-m", "gradcli", *argv], capture_output=True, text=True,
                          env=env, timeout=60)
    clicked = invoke(argv)
    assert proc.returncode == clicked.exit_code
    assert proc.stdout == clicked.stdout
    assert proc.stderr == clicked.stderr
    assert "Traceback" not in proc.stderr


def _run_and_list_modules(argv: list[str], modules: list[str]) -> tuple[str, str]:
    """Run ``gradcli ARGV`` through the console entry point in a fresh interpreter: its stdout,
    and one line saying which of `modules` it imported (True/False each) and its exit status."""
    code = (f"import sys; sys.argv = ['gradcli', *{argv!r}]\n"
            "from gradcli.cli.main import run\n"
            "try:\n    run()\nexcept SystemExit as e:\n    code = e.code\n"
            f"print(*(m in sys.modules for m in {modules!r}), code, file=sys.stderr)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    return proc.stdout, proc.stderr.strip().splitlines()[-1]


def test_fast_path_does_not_import_click():
    stdout, imported = _run_and_list_modules(["eval", "x*y", "x=2", "y=3", "--json"],
                                             ["click", "rich", "numpy", "sympy"])
    assert imported == "False False False False 0"
    assert '"value": 6.0' in stdout


def test_a_small_json_document_does_not_import_orjson():
    """orjson imports dataclasses, uuid, pathlib, … (about 10 ms, half of Python's own start):
    only a node table of `json_text.ORJSON_FROM` numbers or more is worth it."""
    stdout, imported = _run_and_list_modules(["eval", "c = a + b; c*c", "a=2", "b=3", "--json"], ["orjson"])
    assert imported == "False 0"
    assert '"value": 25.0' in stdout

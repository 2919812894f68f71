"""The default `gradcli eval` view drawn without rich (`gradcli.output.plain`) is rich's, byte for byte.

Each program runs twice through the command line at several widths: as it comes (the plain
writer draws what it can) and with the plain writer switched off (rich draws everything).
The two outputs must be identical, and the plain writer must have drawn the cases it is
meant for (so a writer that always declined could not pass).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from clitools import run_cli
from gradcli.output import plain

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
#: (argv, whether the plain writer is meant to draw it at width 100)
CASES = [
    (["eval", "(a+b)*(b+1)", "a=3", "b=2"], True),
    (["eval", "c = a + b; d = b + 1; e = c * d", "a=3", "b=2"], True),
    (["eval", "q = x + y; m = max(y, z); f = q * m", "x=1", "y=2", "z=0"], True),
    (["eval", "x*exp(x^2)", "x=0.5"], True),
    (["eval", "log(x) + 1/x - x^3", "x=1e-7"], True),
    (["eval", "relu(x) * y + 2.5", "x=-1", "y=1e300"], True),
    (["eval", "θ = w*x + b; loss = (sigmoid(θ) - t)^2", "w=0.3", "x=-2", "b=0.1", "t=1"], True),
    (["eval", "(a+b)*(b+1)", "a=3", "b=2", "--no-nodes"], True),
    (["eval", "(a+b)*(b+1)", "a=3", "b=2", "--nodes", "--digits", "3"], True),
    (["eval", "(a+b)*(b+1)", "a=3", "b=2", "--wrt", "a"], True),
    (["eval", "-f", str(SAMPLES / "lecture_e.grad")], True),
    (["eval", "y = a\t+ b; z = y*y", "a=1", "b=2"], False),                 # a tab: rich expands it
    (["eval", "sum(x*x)", "x=[1,2,3]"], False),                          # arrays: rich
    (["eval", "(a+b)*(b+1)", "a=3", "b=2", "--check", "fd"], False),      # checks: rich
    (["eval", "(a+b)*(b+1)", "a=3", "b=2", "--mode", "forward"], True),
    (["eval", "(a+b)*(b+1)", "a=3", "b=2", "--steps"], True),
    (["eval", "(a+b)*(b+1)", "a=3", "b=2", "--steps", "--paths", "--no-nodes"], True),
    (["eval", "(a+b)*(b+1)", "a=3", "b=2", "--steps", "--mode", "forward"], True),
    (["eval", "(a+b)*(b+1)", "a=3", "b=2", "--edges"], False),            # a table of edges: rich
    (["eval", "(a+b)*(b+1)", "a=3", "b=2", "--latex"], False),            # LaTeX: rich
    (["eval", " + ".join(f"x{i}" for i in range(70)), *[f"x{i}={i}" for i in range(70)]], False),  # cut gradient
    (["eval", "; ".join(f"x{i} = sin(x{i - 1})*0.5 + x{i - 1}" for i in range(1, 40)), "x0=1", "--digits", "4"],
     True),  # a cut node table
]
WIDTHS = [20, 40, 60, 80, 100, 120]
REAL = plain.evaluation_text


def _both(argv: list[str], columns: int, monkeypatch, env: dict | None = None) -> tuple[str, str, int]:
    drawn = []

    def spy(*args, **kwargs):
        text = REAL(*args, **kwargs)
        drawn.append(text is not None)
        return text

    monkeypatch.setattr(plain, "evaluation_text", spy)
    mine = run_cli(argv, columns=columns, env=env)
    monkeypatch.setattr(plain, "evaluation_text", lambda *a, **k: None)
    theirs = run_cli(argv, columns=columns, env=env)
    assert mine.exit_code == theirs.exit_code == 0, (mine.stderr, theirs.stderr)
    return mine.stdout, theirs.stdout, sum(drawn)


@pytest.mark.parametrize("argv, drawn_here", CASES, ids=[" ".join(a)[:40] for a, _ in CASES])
def test_plain_view_is_rich_byte_for_byte(argv, drawn_here, monkeypatch):
    for columns in WIDTHS:
        mine, theirs, drawn = _both(argv, columns, monkeypatch)
        assert mine == theirs, (columns, mine, theirs)
        if columns == 100:
            assert drawn == int(drawn_here), (argv, drawn)


def test_narrow_console_leaves_it_to_rich(monkeypatch):
    _, _, drawn = _both(["eval", "(a+b)*(b+1)", "a=3", "b=2"], 20, monkeypatch)
    assert drawn == 0  # the node table is wider than 20 columns: rich stacks it


def test_forced_colours_leave_it_to_rich(monkeypatch):
    mine, theirs, drawn = _both(["eval", "(a+b)*(b+1)", "a=3", "b=2"], 100, monkeypatch, env={"FORCE_COLOR": "1"})
    assert mine == theirs and "\x1b[" in mine  # rich's colour codes
    assert drawn == 0


def test_wide_characters_leave_it_to_rich(monkeypatch):
    mine, theirs, drawn = _both(["eval", "变量 = x*2; y = 变量 + 1", "x=1"], 100, monkeypatch)
    assert mine == theirs and "变量" in mine
    assert drawn == 0


#: a long program (its header wraps), many nodes (the node table is cut), forward and reverse
#: steps, names beyond ASCII, 17 digits, a word longer than the console (rich folds it)
CHAIN = "; ".join(f"θ{i} = sin(θ{i - 1})*0.5 + θ{i - 1}/3 - 1e-300" for i in range(1, 30))
LONG_NAME = "a_name_much_longer_than_forty_columns_of_any_console_at_all"
#: (drawn here at every width from 40, since its tables are narrow: the header and steps wrap)
NARROW = ["eval", CHAIN, "θ0=0.3", "--steps", "--no-nodes"]
WIDE_CASES = [
    NARROW,
    ["eval", CHAIN, "θ0=0.3", "--steps"],
    ["eval", CHAIN, "θ0=0.3", "--steps", "--mode", "forward", "--digits", "17"],
    ["eval", CHAIN, "θ0=0.3", "--nodes", "--steps", "--paths"],
    ["eval", f"{LONG_NAME} = x*y; z = {LONG_NAME}^2 + y", "x=1.5", "y=-2", "--steps"],
    ["eval", "ǎ = x*y; b = ǎ*ǎ + max(x, y) + w + v + u", "x=1", "y=1", "w=2", "v=3", "u=4", "--mode", "forward",
     "--steps"],
    ["eval", "x*y*z + exp(x)*1e200", "x=100", "y=1e-300", "z=-0.0", "--steps", "--digits", "17"],
]


@pytest.mark.parametrize("argv", WIDE_CASES, ids=[" ".join(a)[:40] for a in WIDE_CASES])
def test_explanations_and_long_views_are_rich_byte_for_byte(argv, monkeypatch):
    for columns in (40, 47, 61, 80, 99, 120, 157, 200):
        mine, theirs, drawn = _both(argv, columns, monkeypatch)
        assert mine == theirs, (columns, mine, theirs)
        if columns == 200 or argv is NARROW:  # else a table may be too wide: then rich draws it all
            assert drawn == 1, (argv, columns)


def test_a_header_wraps_as_rich_wraps_it():
    lines = ["program  " + "; ".join(f"x{i} = sin(x{i - 1})" for i in range(1, 12)), "output   y = 1"]
    folded = ["program  " + "a" * 130 + " b  c", "output"]
    from rich.console import Console
    from rich.text import Text

    for width in range(20, 140, 3):
        for text in (lines, folded):
            console = Console(width=width, file=__import__("io").StringIO(), color_system=None, highlight=False)
            console.print(Text("\n".join(text)))
            theirs = "\n".join(line.rstrip(" ") for line in console.file.getvalue().rstrip("\n").split("\n"))
            assert plain._rich_lines(text, width) == theirs, width


def test_a_long_node_table_is_rich_byte_for_byte(monkeypatch):
    """--nodes on a few hundred nodes (rich takes seconds for 10^4 rows; the writer is linear)."""
    program = "; ".join(f"v{i} = tanh(v{i - 1})*w + 1e-{i % 300 + 1}" for i in range(1, 101))
    for columns in (80, 200):
        mine, theirs, drawn = _both(["eval", program, "v0=0.25", "w=-1.5", "--nodes", "--steps"], columns,
                                    monkeypatch)
        assert mine == theirs, columns
        assert drawn == 1 and "| 400 |" in mine

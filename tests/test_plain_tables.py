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
    (["eval", "(a+b)*(b+1)", "a=3", "b=2", "--mode", "forward"], False),  # forward mode: rich
    (["eval", "(a+b)*(b+1)", "a=3", "b=2", "--steps"], False),            # explanations: rich
    (["eval", " + ".join(f"x{i}" for i in range(70)), *[f"x{i}={i}" for i in range(70)]], False),  # cut tables
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

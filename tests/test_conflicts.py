"""Flag conflicts live in one table (gradcli/cli/conflicts.py): each row is refused with its
message, on one line and exit 2, and every row names parameters its commands really have."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from clitools import invoke
from gradcli.cli.commands import main
from gradcli.cli.conflicts import CONFLICTS, holds, refuse_conflicts
from gradcli.core.errors import UsageError

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
E = ["eval", "(a+b)*(b+1)", "a=3", "b=2"]
C = ["check", "(a+b)*(b+1)", "a=3", "b=2"]
D = ["descend", "(x-1)^2", "x=0"]

#: one command line per row of the table, in its order
CASES = [
    (E + ["--json", "--format", "csv"], "--json and --format csv disagree: choose one"),
    (D + ["--json", "--format", "csv"], "--json and --format csv disagree: choose one"),
    (E + ["--points", "p.csv", "--check", "fd"], "--points runs plain reverse mode"),
    (E + ["--points", "p.csv", "--latex"], "--points prints values and gradients only"),
    (E + ["--seed", "a", "--mode", "reverse"], "--seed NAME starts a forward-mode tangent pass"),
    (E + ["--seed-output", "1", "--mode", "forward"], "--seed-output is for reverse mode"),
    (E + ["--paths", "--seed", "a"], "--steps, --paths and --edges explain reverse mode"),
    (C + ["--out", "g.csv", "--expect", "a=3"], "--out writes the gradebook of --answers"),
    (C + ["--answers", "a.csv", "--out", "-", "--json"], "--out - and --json would both write to stdout"),
    (C + ["--answers", "a.csv", "--prove"], "--prove asks SymPy about one student's formulas"),
    (C + ["--answers", "a.csv", "--expect", "a=3"], "--answers grades a whole class"),
    (C + ["--expect", "a=3", "--strict"], "--out, --strict and --format go with --answers"),
    (C + ["--answers", "a.csv", "--format", "gradescope", "--json"], "--format gradescope writes Gradescope's JSON"),
    (D + ["--batch", "2"], "--batch takes minibatches of --examples data"),
]


def test_every_row_has_a_case():
    assert len(CASES) == len(CONFLICTS)
    for (_, expected), row in zip(CASES, CONFLICTS):
        assert row.message.format_map({"fmt": "csv"}).startswith(expected)


@pytest.mark.parametrize("argv, expected", CASES, ids=[" ".join(a[4:]) for a, _ in CASES])
def test_each_conflict_is_refused_on_one_line(argv, expected, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the files named are never read: the conflict comes first
    result = invoke(argv)
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert result.stdout == ""
    assert result.stderr.startswith(f"gradcli: error: {expected}")
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("row", CONFLICTS, ids=[row.message[:40] for row in CONFLICTS])
def test_rows_name_real_parameters(row):
    for command in row.commands:
        names = {p.name for p in main.commands[command].params}
        for test in row.when:
            for alternative in test.split("|"):
                name = re.split(r"!?=", alternative.lstrip("!"))[0]
                assert name in names, (command, alternative)


def test_the_tests_of_a_row():
    params = {"fmt": "text", "as_json": False, "answers": None, "check": (), "mode": "forward"}
    assert holds("fmt=text", params) and not holds("fmt!=text", params)
    assert holds("!answers", params) and not holds("answers", params) and not holds("check", params)
    assert holds("check|mode=forward", params) and not holds("check|mode=reverse", params)


def test_compatible_flags_pass():
    refuse_conflicts("eval", {"as_json": True, "fmt": "json", "points_file": None, "seed_input": "a",
                              "mode": "forward"})
    refuse_conflicts("descend", {"as_json": True, "fmt": "table", "batch": None, "examples_file": None})
    with pytest.raises(UsageError, match="--batch takes"):
        refuse_conflicts("descend", {"as_json": False, "fmt": "table", "batch": 2, "examples_file": None})

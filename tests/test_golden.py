"""Golden outputs: the exact tables `gradcli eval` prints for the lecture examples.

The output is not a terminal (CliRunner), so tables are plain ASCII; COLUMNS=100 fixes
the width.  Lines are compared with trailing whitespace stripped.

What is stable across machines?  Everything printed to 10 significant digits, and
SymPy's estimates.  Not the |Δ| columns: they show rounding noise (~1e-11 for finite
differences, 0 or 2.2e-16 for SymPy depending on the C library's exp), and their width
changes the table's width.  So for the goldens with checks, table rows are compared
cell by cell with the |Δ| cells masked and rule lines reduced to "<rule>"; everything
else is compared exactly.

GRADCLI_UPDATE_GOLDEN=1 rewrites the golden files from the current output instead.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from clitools import assert_golden, invoke

GOLDEN = Path(__file__).resolve().parent / "golden"

LECTURE_E = ["eval", "c = a + b; d = b + 1; e = c * d", "a=3", "b=2"]
LECTURE_MAX = ["eval", "q = x + y; m = max(y, z); f = q * m", "x=1", "y=2", "z=0"]
SHARING = ["eval", "x*exp(x^2)", "x=0.5"]
CHECK = ["--check", "all"]

CASES = {
    "lecture_e": LECTURE_E,
    "lecture_e_check": LECTURE_E + CHECK,
    "lecture_max": LECTURE_MAX,
    "lecture_max_check": LECTURE_MAX + CHECK,
    "sharing": SHARING,
    "sharing_check": SHARING + CHECK,
}


def run(args: list[str]) -> str:
    result = invoke(args)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    return result.stdout


def _cells(line: str) -> list[str]:
    line = line.replace("|Δ|", "\x00")
    return [c.strip().replace("\x00", "|Δ|") for c in line.strip("|").split("|")]


def comparable(text: str, mask: bool) -> list[str]:
    """The lines to compare: trailing blanks stripped; with `mask`, table rows as cells
    with the |Δ| columns masked."""
    lines = [line.rstrip() for line in text.splitlines()]
    if not mask:
        return lines
    out = []
    masked: list[int] = []
    for line in lines:
        if not line.startswith(("+", "|")):
            masked = []
            out.append(line)
        elif line.startswith("+") or set(line) <= set("|-+"):
            out.append("<rule>")
        else:
            cells = _cells(line)
            if "|Δ|" in cells:
                masked = [i for i, c in enumerate(cells) if c == "|Δ|"]
            else:
                cells = ["*" if i in masked else c for i, c in enumerate(cells)]
            out.append(" | ".join(cells))
    return out


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden(name: str):
    mask = "--check" in CASES[name]
    assert_golden(GOLDEN / f"{name}.txt", run(CASES[name]), comparable=lambda text: comparable(text, mask))


def test_no_stale_golden_files():
    assert {p.stem for p in GOLDEN.glob("*.txt")} == set(CASES)


def test_masking_only_hides_the_delta_columns():
    text = (GOLDEN / "lecture_e_check.txt").read_text(encoding="utf-8")
    changed = text.replace("2.4e-11", "9.9e-12").replace("|     |Δ| |", "| |Δ| |")
    assert comparable(changed, True) == comparable(text, True)
    assert comparable(text.replace("| ✓", "| ✗"), True) != comparable(text, True)
    assert comparable(text.replace(" 15", " 16"), True) != comparable(text, True)


def _table(text: str, title: str) -> dict[str, list[str]]:
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(title))
    rows = []
    for line in lines[start + 1:]:
        if not line.startswith(("|", "+")):
            break
        if line.startswith("|") and not set(line.rstrip()) <= set("|-+"):
            rows.append(_cells(line))
    header, *body = rows
    return {r[header.index("name")]: r for r in body}


def test_golden_lecture_e_has_the_lecture_numbers():
    text = (GOLDEN / "lecture_e.txt").read_text(encoding="utf-8")
    assert "output   e = 15" in text
    nodes = _table(text, "Computational graph")
    # name: (value, adjoint) -- c = 5, d = 3, e = 15; ē = 1, c̄ = 3, d̄ = 5, ā = 3, b̄ = 8
    assert {n: (nodes[n][-2], nodes[n][-1]) for n in "abcde"} == {
        "a": ("3", "3"), "b": ("2", "8"), "c": ("5", "3"), "d": ("3", "5"), "e": ("15", "1")}


def test_golden_lecture_max_has_the_lecture_numbers():
    text = (GOLDEN / "lecture_max_check.txt").read_text(encoding="utf-8")
    assert "output   f = 6" in text
    nodes = _table(text, "Computational graph")
    assert {n: (nodes[n][-2], nodes[n][-1]) for n in ("x", "y", "z", "q", "m", "f")} == {
        "x": ("1", "2"), "y": ("2", "5"), "z": ("0", "0"), "q": ("3", "2"), "m": ("2", "3"), "f": ("6", "1")}
    assert "✓ all checks passed" in text

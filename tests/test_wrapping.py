"""At 80 columns, wrapped explanation lines go on under their column instead of at column 0,
and the text `graph` honours COLUMNS (issue 22)."""

from __future__ import annotations

from clitools import run_cli
from gradcli.output.terminal import _cells, hanging_indent, wrap_text

HEADINGS = ("Backward pass", "Gradient", "The chain rule", "program", "output", "Computational", "+", "|")


def test_wrap_text_indents_continuations_under_the_column():
    line = "  2. b = a[2]   ā[2] += b̄  (→ 4)   the rest gets 0: scatter into zeros and more words here"
    wrapped = wrap_text(line, 40).split("\n")
    assert len(wrapped) > 1
    assert all(_cells(w) <= 40 for w in wrapped)
    column = hanging_indent(line, 40)
    assert column == len("  2. b = a[2]   ")
    assert all(w.startswith(" " * column) and w[column] != " " for w in wrapped[1:])


def test_wrap_text_folds_a_word_wider_than_the_room():
    wrapped = wrap_text("  x = " + "a" * 100, 40).split("\n")
    assert all(_cells(w) <= 40 for w in wrapped)
    assert "".join(w.strip() for w in wrapped).endswith("a" * 100)


def test_steps_at_80_columns_never_restart_at_column_0():
    result = run_cli(["eval", "L = cross_entropy(z, 2)", "z=[1,2,0.5,-1]", "--steps", "--paths", "--no-nodes"],
                     env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert any(len(line) > 60 for line in lines)
    for line in lines:
        assert _cells(line) <= 80, line
        assert not line or line.startswith(" ") or line.startswith(HEADINGS), line


def test_text_graph_honours_columns():
    result = run_cli(["graph", "(a+b)*(b+1)", "a=3", "b=2"], env={"COLUMNS": "40"})
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert all(_cells(line) <= 40 for line in lines), result.stdout
    assert "← an" in result.stdout


# ---- the fast column counting and breaking agree with the character-by-character reference ----
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


def _reference_cells(text: str) -> int:
    import unicodedata

    return sum(0 if unicodedata.combining(c) else (2 if unicodedata.east_asian_width(c) in "WF" else 1)
               for c in text)


def _reference_break(line: str, width: int, floor: int) -> int:
    used, last_space, fold = 0, -1, len(line)
    for k, c in enumerate(line):
        used += _reference_cells(c)
        if used > width:
            fold = max(k, floor + 1)
            break
        if c == " " and k > floor and line[:k].strip():
            last_space = k
    return last_space if last_space > 0 else fold


_PIECES = st.sampled_from(["a", "b", " ", "  ", "x\u0304", "\u0307", "δ", "中", "1", "=", "·", "\t", "ē̄"])


@settings(max_examples=400, deadline=None)
@given(line=st.lists(_PIECES, max_size=60).map("".join), width=st.integers(1, 60), floor=st.integers(0, 30))
def test_break_and_cells_agree_with_the_reference(line, width, floor):
    from gradcli.output.terminal import _break_at, _cells

    assert _cells(line) == _reference_cells(line)
    assert _break_at(line, width, floor) == _reference_break(line, width, floor)


@settings(max_examples=400, deadline=None)
@given(text=st.lists(st.sampled_from(["a", " ", "  ", "\n", " \n", "\x1b[1m", "\x1b[0m", "x"]), max_size=40)
       .map("".join))
def test_tidy_agrees_with_the_trailing_space_pattern(text):
    from gradcli.output import terminal

    assert terminal.tidy(text) == terminal._TRAILING.sub(r"\1", text)

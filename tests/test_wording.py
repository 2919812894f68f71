"""One consistent voice (issue 22, "Wording"): plurals, article and format names, no
constant shown as a binding, the tolerance line only where numbers were judged, one
wording of a SymPy timeout, sums in the same order in every view, no output called d,
bars over the letter in LaTeX, negative factors in parentheses, an invalid gradebook
row's reason once."""

from __future__ import annotations

import json

import pytest

from clitools import run_cli
from gradcli.core.fmt import a_format, plural, tex_bar
from gradcli.oracles.budget import ran_out


@pytest.mark.parametrize("count, word, expected", [(1, "pass", "1 pass"), (2, "pass", "2 passes"),
                                                   (1, "wrong element", "1 wrong element"), (0, "step", "0 steps")])
def test_plural(count, word, expected):
    assert plural(count, word) == expected


@pytest.mark.parametrize("fmt, noun, expected", [("svg", "plot", "an SVG plot"), ("png", "plot", "a PNG plot"),
                                                 ("html", "picture", "an HTML picture"),
                                                 ("numpy", "script", "a NumPy script")])
def test_format_names_with_their_article(fmt, noun, expected):
    assert a_format(fmt, noun) == expected


def test_jacobian_counts_passes_without_parenthesised_plurals():
    result = run_cli(["jacobian", "[x*y]", "x=1", "y=2", "--mode", "both"])
    assert result.exit_code == 0, result.stderr
    assert "(es)" not in result.stdout
    assert "1 backward pass;" in result.stdout and "2 tangent passes" in result.stdout


def test_graph_says_an_html_picture(tmp_path):
    out = tmp_path / "g.html"
    result = run_cli(["graph", "(a+b)*(b+1)", "a=3", "b=2", "-o", str(out)])
    assert result.exit_code == 0, result.stderr
    assert f"wrote an HTML picture to {out}" in result.stderr
    page = out.read_text(encoding="utf-8")
    assert "1 = 1" not in page  # a constant is not a binding
    assert "b̄ = 3 + 5 = 8" in page and "5 + 3" not in page  # the order the text steps and paths use


def test_formula_only_check_says_nothing_about_number_tolerances():
    result = run_cli(["check", "x^2", "x=3", "--expect-formula", "x=2*x"])
    assert result.exit_code == 0, result.stderr
    assert "rtol" not in result.stdout
    numbers = run_cli(["check", "x^2", "x=3", "--expect", "x=6"])
    assert "numbers are right to the digits written (at least 3) or within rtol" in numbers.stdout


def test_one_wording_of_a_sympy_timeout():
    assert ran_out(3) == "SymPy's time budget of 3 s ran out (--sympy-timeout)"


def test_an_unnamed_output_is_not_called_d():
    result = run_cli(["eval", "x*y + y*z + z", "x=1", "y=2", "z=3", "--json"])
    assert json.loads(result.stdout)["output"] != "d"
    csv = run_cli(["plot", "x*y + y*z + z", "x=0:1:3", "y=2", "z=3", "--format", "csv"])
    assert "dd/dx" not in csv.stdout


def test_latex_bars_the_letter_and_parenthesises_negative_factors():
    assert tex_bar("z2") == r"\bar{z}_{2}"
    result = run_cli(["eval", "b2 = 3*z2; L = -b2", "z2=1", "--latex", "--steps"])
    assert result.exit_code == 0, result.stderr
    assert r"\bar{z}_{2}" in result.stdout and r"\bar{z_{2}}" not in result.stdout
    assert r"1 \cdot (-1)" in result.stdout and r"\cdot -" not in result.stdout


def test_an_invalid_gradebook_row_gives_its_reason_once(tmp_path):
    answers = tmp_path / "answers.csv"
    answers.write_text("student,x,y\nann,2,1\ncat,1,2,3,4\n")
    result = run_cli(["check", "x*y", "x=1", "y=2", "--answers", str(answers)])
    assert result.exit_code == 0, result.stderr
    row = [line for line in result.stdout.splitlines() if line.startswith("cat,")][0]
    assert row.count("fields where the header has") == 1
    assert "invalid row (see x)" in row


def test_descend_counts_one_step():
    result = run_cli(["descend", "x^2", "x=1", "--updates", "1"])
    assert "1 step (" in result.stdout


@pytest.mark.parametrize("program, value, gradient", [("--x", 2.0, 1.0), ("---x", -2.0, -1.0), ("--x^2", 4.0, 4.0),
                                                     ("--(x+1)", 3.0, 1.0)])
def test_a_chain_of_negations_is_a_program_not_an_option(program, value, gradient):
    result = run_cli(["eval", program, "x=2", "--exact", "--json"])
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert (doc["value"], doc["gradient"]["x"]) == (value, gradient)


def test_an_unknown_option_is_still_an_unknown_option():
    result = run_cli(["eval", "x", "x=2", "--jsn"])
    assert result.exit_code == 2 and "did you mean --json" in result.stderr

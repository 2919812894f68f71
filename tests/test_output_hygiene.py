"""Output hygiene (issue 22): no Python warning reaches stderr, big outputs notice a closed
pipe, tables are plain ASCII when piped, CSV cells cannot run as formulas, an ASCII
terminal gets an ASCII spelling of every symbol, and descend shows what it reached."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

from clitools import run_cli
from gradcli.output.documents import safe_cell
from gradcli.run import descend as descend_mod
from gradcli.run.bindings import Binding


def _gradcli(*argv: str, env: dict | None = None, cwd=None) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "PYTHONWARNINGS": "error", **(env or {})}
    full_env.pop("GRADCLI_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "gradcli", *argv], capture_output=True, text=True,
                          env=full_env, cwd=cwd, timeout=120)


# ---- Python warnings ------------------------------------------------------------------------
@pytest.mark.parametrize("argv", [
    ["plot", "x*0+y*0", "x=-1:1", "y=-1:1", "-o", "f.svg"],  # a zero gradient field
    ["plot", "x*y", "x=-1e308:1e308", "y=0:1", "-o", "g.svg"],  # an overflowing range
    ["descend", "1e200*x", "x=1", "--updates", "3"],
])
def test_no_python_warning_reaches_stderr_even_as_errors(argv, tmp_path):
    pytest.importorskip("matplotlib")
    done = _gradcli(*argv, cwd=tmp_path)
    assert "Warning" not in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    assert "RuntimeWarning" not in done.stderr


def test_zero_gradient_field_draws_without_warnings():
    pytest.importorskip("matplotlib")
    from gradcli.output.plots import figure_field
    from gradcli.run.sample import Field

    x = y = np.linspace(-1, 1, 5)
    zero = np.zeros((5, 5))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        data = figure_field(Field(("x", "y"), "f", x, y, zero, zero, zero), "svg")
    assert data.startswith(b"<?xml")


def test_arrow_colour_scale_is_clipped_to_finite_nonzero_sizes():
    from gradcli.output.plots import _arrow_colours

    colours, span = _arrow_colours(np.array([[0.0, 1.0], [10.0, 100.0]]))  # a stationary point at [0, 0]
    assert span == (0.0, 2.0)
    assert colours.min() == 0.0
    assert _arrow_colours(np.zeros((2, 2)))[1] is None


def test_contour_levels_show_a_narrow_valley():
    from gradcli.output.plots import _levels

    x, y = np.meshgrid(np.linspace(-2, 2, 81), np.linspace(-1, 3, 81))
    rosenbrock = (1 - x) ** 2 + 100 * (y - x ** 2) ** 2
    levels = _levels(rosenbrock)
    assert levels is not None
    # at least a quarter of the levels lie in the lowest 5% of the range: the valley has colours
    assert np.mean(levels < 0.05 * rosenbrock.max()) >= 0.25
    assert _levels(np.ones((3, 3))) is None


def test_descent_gradient_norm_does_not_overflow():
    assert descend_mod._norm({"x": np.float64(1e200), "y": np.array([1e200, 0.0])}) == pytest.approx(
        np.sqrt(2) * 1e200)
    assert descend_mod._norm({"x": 0.0}) == 0.0
    assert descend_mod._norm({"x": np.inf}) == np.inf


# ---- descend shows what it reached -----------------------------------------------------------
def test_descend_prints_the_rows_reached_before_a_divergence():
    result = run_cli(["descend", "x^2", "x=1", "--lr", "1.5", "--updates", "30", "--every", "5"])
    assert result.exit_code == 3
    assert "diverged at step 10" in result.stderr
    lines = result.stdout.splitlines()
    assert any(line.split("|")[1].strip() == "0" for line in lines if line.startswith("|"))
    assert any("1048576" in line for line in lines), result.stdout  # the diverging step itself


def test_descend_overflow_after_the_start_is_a_divergence_with_rows():
    result = run_cli(["descend", "1e200*x", "x=1", "--updates", "3", "--format", "csv"])
    assert result.exit_code == 3
    assert "step 1" in result.stderr and "step 0" not in result.stderr
    assert result.stdout.splitlines()[1].startswith("0,1e+200,1e+200,")


def test_descend_keeps_every_loss_for_the_curve():
    run_ = descend_mod.descend("x^2", {"x": Binding("x", 1.0, "1", "test")}, lr=0.1, steps=40, every=20)
    assert [r.step for r in run_.records] == [0, 20, 40]
    assert [k for k, _ in run_.losses] == list(range(41))
    assert run_.losses[1][1] == pytest.approx(0.64)


def test_descend_table_is_plain_ascii_when_piped():
    result = run_cli(["descend", "(x-1)^2", "x=0", "--updates", "2"])
    assert result.exit_code == 0
    assert result.stdout.isascii(), result.stdout
    assert "+---" in result.stdout


# ---- CSV cells ---------------------------------------------------------------------------------
@pytest.mark.parametrize("cell", ["\t3", "\t=1+1", "\r=1", "\uff1d1+1", "\uff0b1", "\uff0d1", "\uff20SUM(A1)",
                                  "=1", "+x", "-x", "@x"])
def test_csv_cells_that_a_spreadsheet_would_run_are_neutralised(cell):
    assert safe_cell(cell) == "'" + cell


@pytest.mark.parametrize("cell", ["-3", "+1e-5", "-inf", "3", "abc", "1.5e+10"])
def test_plain_numbers_and_text_stay(cell):
    assert safe_cell(cell) == cell


# ---- broken pipes --------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["table", "csv", "json"])
def test_points_output_into_a_closed_pipe_exits_141(fmt, tmp_path):
    points = tmp_path / "big.csv"
    points.write_text("x\n" + "".join(f"{k * 0.001}\n" for k in range(60_000)))
    env = {**os.environ}
    env.pop("GRADCLI_DEBUG", None)
    proc = subprocess.Popen([sys.executable, "-m", "gradcli", "eval", "x^2", "--points", str(points),
                             "--format", fmt], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.readline()
    proc.stdout.readline()
    proc.stdout.close()  # as `| head -2` does
    assert proc.wait(timeout=120) == 141
    assert proc.stderr.read() == b""
    proc.stderr.close()


# ---- ASCII fallback ----------------------------------------------------------------------------------
@pytest.mark.parametrize("symbol, spelled", [
    ("\u0113", "e_bar"), ("a\u0304", "a_bar"), ("\u03b4", "delta"), ("\u2218", "*"), ("W\u1d40", "W^T"),
    ("(2,) \u2192 (3,)", "(2,) -> (3,)"), ("\u1e8b", "x_dot"), ("\u2202", "d"),
])
def test_ascii_fallback_spells_every_symbol(symbol, spelled):
    import gradcli.output.terminal  # noqa: F401 - registers the error handler

    assert symbol.encode("ascii", "gradcli-ascii").decode() == spelled


def test_ascii_terminal_gets_words_not_escapes(tmp_path):
    done = _gradcli("eval", "W@x", "W=[[1,2],[3,4]]", "x=[1,1]", "--seed-output", "[1,1]", "--steps",
                    env={"PYTHONIOENCODING": "ascii"})
    assert done.returncode == 0, done.stderr
    assert "\\u" not in done.stdout and "\\x" not in done.stdout, done.stdout
    assert "a_bar x^T" in done.stdout
    assert "->" in done.stdout


# ---- terminal escapes in diff -------------------------------------------------------------------
def test_diff_json_escapes_c1_bidi_and_del():
    result = run_cli(["diff", "x^2 # \u009b\u202e\u007f", "--json"])
    assert result.exit_code == 0, result.stderr
    assert not any(c in result.stdout for c in "\u009b\u202e\u007f"), repr(result.stdout)
    assert "\\u202e" in result.stdout
    import json

    assert json.loads(result.stdout)["program"].endswith("\u009b\u202e\u007f")


@pytest.mark.parametrize("mark", ["\u200e", "\u200f", "\u061c"])
def test_the_implicit_bidi_marks_are_escaped_in_json_and_on_a_terminal(mark):
    """Left-to-right, right-to-left and Arabic letter marks reorder what a reader sees as the
    overrides do: a comment holding one is shown escaped, in the JSON document and on a terminal."""
    import json

    source = f"y = x * 2 # a{mark}b"
    result = run_cli(["eval", source, "x=1", "--json"])
    assert result.exit_code == 0, result.stderr
    assert mark not in result.stdout and f"\\u{ord(mark):04x}" in result.stdout
    assert json.loads(result.stdout)["program"] == source
    from gradcli.output.terminal import visible

    assert visible(source) == source.replace(mark, f"\\u{ord(mark):04x}")


def test_diff_vars_file_name_is_shown_escaped(tmp_path):
    vars_file = tmp_path / "w\x1b[31m.json"
    vars_file.write_text('{"x": [1, 2]}')
    result = run_cli(["diff", "sum(x^2)", "--vars", str(vars_file)])
    assert result.exit_code == 0, result.stderr
    assert "\x1b" not in result.stdout
    assert "w\\x1b[31m.json" in result.stdout


@pytest.mark.parametrize("symbol, spelled", [("e\u2082", "e_2"), ("\U0001d7cf", "ones"), ("\u00b1", "+-")])
def test_ascii_fallback_spells_subscripts_and_the_ones_vector(symbol, spelled):
    import gradcli.output.terminal  # noqa: F401 - registers the error handler

    assert symbol.encode("ascii", "gradcli-ascii").decode() == spelled


def test_descent_path_has_start_and_end_markers_and_a_clipped_colour_scale(tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "d.svg"
    result = run_cli(["descend", "x^2 + y^2", "x=1", "y=1", "--updates", "10", "--plot", str(out)])
    assert result.exit_code == 0, result.stderr
    svg = out.read_text(encoding="utf-8")
    assert "<!-- start -->" in svg and "<!-- end -->" in svg and "#22c55e" in svg and "#f97316" in svg
    assert "<!-- \u2212300 -->" not in svg and "<!-- -300 -->" not in svg  # the minimum (size 0) is not -300

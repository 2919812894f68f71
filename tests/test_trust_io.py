"""Issue 10 ("Trust"), the input/output half: numbers on screen are never cut, a user's file
is never lost, every read is bounded, the environment and the output stream cannot produce
exit 4, -h is help, signals stop the SymPy child, user text cannot drive the terminal.

Each test keeps one reproduction from the issue.  Tests that need a real process (signals,
/dev/full, environment variables read at start-up, encodings) run gradcli in a subprocess.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from clitools import run_cli, strict_json, usage_error

PYTHON = sys.executable
ROOT = Path(__file__).resolve().parent.parent


def cli(*argv: str, input=None, env=None):
    return run_cli(list(argv), input=input, env=env)


def process(*argv: str, env=None, stdin=None, stdout=subprocess.PIPE, timeout=120, input=None):
    """gradcli in its own process (the console-script entry point, fast path included)."""
    full_env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "GRADCLI_DEBUG", "NO_COLOR")}
    full_env.update({"PYTHONPATH": str(ROOT)})
    full_env.update(env or {})
    return subprocess.run([PYTHON, "-c", "from gradcli.cli.main import run; run()", *argv],
                          env=full_env, stdin=stdin, stdout=stdout, stderr=subprocess.PIPE,
                          timeout=timeout, input=input)


# ---- numbers on screen ---------------------------------------------------------------------------
NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:e[+-]\d+)?")


def _numbers_of(doc) -> list[float]:
    if isinstance(doc, dict):
        return [n for v in doc.values() for n in _numbers_of(v)]
    if isinstance(doc, list):
        return [n for v in doc for n in _numbers_of(v)]
    if isinstance(doc, float) and doc == doc and abs(doc) != float("inf"):
        return [doc]
    return []


def _shown(x: float, digits: int) -> str:
    from gradcli.core.fmt import number

    return number(x, digits)


@pytest.mark.slow
@pytest.mark.parametrize("columns", ["40", "60", "80", "120"])
@pytest.mark.parametrize("argv", [
    ["y = x*exp(x^2)", "x=0.5", "--check", "all", "--no-nodes"],
    ["-log(softmax(z)[2])", "z=[1,2,0.5,-1]", "--check", "all"],
    ["sigmoid(w*x + b)", "w=-0.3", "x=2", "b=0.5", "--check", "all"],
])
def test_tables_never_cut_a_number(argv, columns):
    """Every gradient and value the JSON reports appears whole in the table, at any width."""
    table = cli("eval", *argv, "--sympy-timeout", "20", env={"COLUMNS": columns})
    assert table.exit_code == 0, table.stderr
    doc = strict_json(cli("eval", *argv, "--json", "--sympy-timeout", "20").stdout)
    for line in table.stdout.splitlines():
        assert len(line) <= max(int(columns), 20), line
        assert not line.endswith(" "), repr(line)
    text = table.stdout
    assert not re.search(r"\d…", text), text  # no number ends in an ellipsis
    expected = [*_numbers_of(doc.get("gradient", {})), *_numbers_of(doc.get("value"))]
    assert expected
    for x in expected:
        token = _shown(x, 6 if isinstance(doc.get("gradient", {}).get("z"), list) else 10)
        assert re.search(rf"(?<![\d.]){re.escape(token)}(?![\d])", text) or _shown(x, 10) in text, (token, text)


def test_array_cells_show_every_element_whole():
    result = cli("eval", "-log(softmax(z)[2])", "z=[1,2,0.5,-1]", "--check", "all", env={"COLUMNS": "60"})
    assert "0.224208" in result.stdout and "0.60946" in result.stdout
    assert "[0.2…" not in result.stdout and "0.60…" not in result.stdout


def test_digits_apply_to_array_elements_in_tables_and_graph():
    short = cli("eval", "softmax(z)[0]", "z=[1,2,0.5]", "--no-nodes")
    assert "0.177759," in short.stdout  # the default: 6 digits for array elements
    long = cli("eval", "softmax(z)[0]", "z=[1,2,0.5]", "--no-nodes", "--digits", "12")
    assert "0.177759406791" in long.stdout
    picture = cli("graph", "softmax(z)[0]", "z=[1,2,0.5]", "--digits", "12")
    assert picture.exit_code == 0
    assert "0.177759406791" in picture.stdout
    default_picture = cli("graph", "softmax(z)[0]", "z=[1,2,0.5]")
    assert "0.1778" in default_picture.stdout and "0.17776" not in default_picture.stdout


def test_no_trailing_spaces_after_titles():
    result = cli("eval", "(a+b)*(b+1)", "a=3", "b=2", "--check", "fd")
    titles = [line for line in result.stdout.splitlines() if line.startswith(("Computational", "Gradient"))]
    assert len(titles) == 2
    assert all(line == line.rstrip() for line in titles)


def test_stacked_table_keeps_every_cell():
    result = cli("eval", "y = x*exp(x^2)", "x=0.5", "--check", "all", "--no-nodes", env={"COLUMNS": "40"})
    assert "1.926038125" in result.stdout and "finite diff." in result.stdout


# ---- files -----------------------------------------------------------------------------------------
def _answers(tmp_path: Path) -> Path:
    path = tmp_path / "a.csv"
    path.write_text("id,d/dx\nann,2\nbob,3\n", encoding="utf-8")
    return path


def test_out_onto_answers_is_refused(tmp_path):
    answers = _answers(tmp_path)
    before = answers.read_bytes()
    result = cli("check", "x^2", "x=1", "--answers", str(answers), "--out", str(answers))
    usage_error(result, "--out", "same file", "--answers")
    assert answers.read_bytes() == before


def test_out_onto_program_or_vars_is_refused(tmp_path):
    answers = _answers(tmp_path)
    program = tmp_path / "p.grad"
    program.write_text("x^2", encoding="utf-8")
    usage_error(cli("check", "-f", str(program), "x=1", "--answers", str(answers), "--out", str(program)),
                "-f", "same file")
    assert program.read_text() == "x^2"
    values = tmp_path / "v.json"
    values.write_text('{"x": 1}', encoding="utf-8")
    usage_error(cli("check", "x^2", "--vars", str(values), "--answers", str(answers), "--out", str(values)),
                "--vars", "same file")
    assert values.read_text() == '{"x": 1}'


def test_out_through_a_symlink_onto_an_input_is_refused(tmp_path):
    answers = _answers(tmp_path)
    link = tmp_path / "link.csv"
    link.symlink_to(answers)
    usage_error(cli("check", "x^2", "x=1", "--answers", str(answers), "--out", str(link)), "same file")


def test_graph_onto_its_program_is_refused(tmp_path):
    program = tmp_path / "p.grad"
    program.write_text("x^2", encoding="utf-8")
    usage_error(cli("graph", "-f", str(program), "x=1", "-o", str(program), "--format", "text"), "same file")
    usage_error(cli("graph", "-f", str(program), "x=1", "-o", str(program)), "format")
    assert program.read_text() == "x^2"


def test_graph_format_from_extension(tmp_path):
    dot = tmp_path / "pic.dot"
    result = cli("graph", "x*2", "x=1", "-o", str(dot))
    assert result.exit_code == 0
    assert dot.read_text().startswith("digraph")
    mermaid = tmp_path / "pic.mmd"
    assert cli("graph", "x*2", "x=1", "-o", str(mermaid)).exit_code == 0
    assert not mermaid.read_text().startswith("digraph")
    usage_error(cli("graph", "x*2", "x=1", "-o", str(tmp_path / "pic.jpg")), "'.jpg'", "--format")
    assert not (tmp_path / "pic.jpg").exists()


def test_png_by_extension_is_a_png(tmp_path):
    from gradcli.teach.pictures import graphviz

    if graphviz() is None:
        pytest.skip("Graphviz's dot program is not installed")
    png = tmp_path / "pic.png"
    assert cli("graph", "x*2", "x=1", "-o", str(png)).exit_code == 0
    assert png.read_bytes().startswith(b"\x89PNG")


def test_writes_are_atomic_and_keep_no_temporary_files(tmp_path):
    answers = _answers(tmp_path)
    book = tmp_path / "book.csv"
    book.write_text("old gradebook\n", encoding="utf-8")
    book.chmod(0o640)
    result = cli("check", "x^2", "x=1", "--answers", str(answers), "--out", str(book))
    assert result.exit_code == 0, result.stderr
    assert book.read_text().startswith("id,")
    assert (book.stat().st_mode & 0o777) == 0o640  # the old file's permissions are kept
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.csv", "book.csv"]


def test_write_failure_keeps_the_old_file(tmp_path, monkeypatch):
    from gradcli.cli import files

    book = tmp_path / "book.csv"
    book.write_text("old gradebook\n", encoding="utf-8")

    def full_disk(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files.os, "fsync", full_disk)
    result = cli("check", "x^2", "x=1", "--answers", str(_answers(tmp_path)), "--out", str(book))
    usage_error(result, "--out", "No space left on device")
    assert book.read_text() == "old gradebook\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.csv", "book.csv"]


def test_dash_means_stdin_and_stdout(tmp_path):
    result = cli("eval", "x*y", "--vars", "-", "y=3", "--json", input='{"x": 2}')
    assert result.exit_code == 0, result.stderr
    assert strict_json(result.stdout)["gradient"] == {"x": 3.0, "y": 2.0}
    book = cli("check", "x^2", "x=1", "--answers", "-", "--out", "-", input="id,d/dx\nann,2\nbob,3\n")
    assert book.exit_code == 0, book.stderr
    assert book.stdout.startswith("id,") and "ann,2,right" in book.stdout
    assert "2 students" in book.stderr
    picture = cli("graph", "x*2", "x=1", "-o", "-", "--format", "dot")
    assert picture.stdout.startswith("digraph") and not (Path("-")).exists()


def test_two_stdin_readers_are_refused():
    usage_error(cli("eval", "-", "--vars", "-", input="x"), "stdin")
    usage_error(cli("eval", "-f", "-", "--vars", "-", input="x"), "stdin")
    usage_error(cli("check", "x^2", "--vars", "-", "--answers", "-", input="{}"), "stdin")
    usage_error(cli("eval", "x", "--vars", "-", "--points", "-", input="{}"), "stdin")


# ---- bounded reads ---------------------------------------------------------------------------------
@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
@pytest.mark.parametrize("argv", [
    ["eval", "-f", "/dev/zero"],
    ["eval", "x", "--vars", "/dev/zero"],
    ["check", "x", "x=1", "--answers", "/dev/zero"],
    ["eval", "x", "--points", "/dev/zero"],
])
def test_dev_zero_is_refused_at_the_limit(argv):
    result = cli(*argv, env={"GRADCLI_MAX_PROGRAM_BYTES": "100000"})
    usage_error(result, "MB")


def test_endless_stdin_program_is_refused_while_reading():
    yes = subprocess.Popen(["yes"], stdout=subprocess.PIPE)
    try:
        result = process("eval", "-", stdin=yes.stdout, env={"GRADCLI_MAX_PROGRAM_BYTES": "100000"})
    finally:
        yes.kill()
        yes.wait()
        yes.stdout.close()
    assert result.returncode == 2
    assert b"stdin is over 0.1 MB" in result.stderr


def test_vars_arrays_are_capped(monkeypatch, tmp_path):
    from gradcli.run import bindings

    monkeypatch.setattr(bindings, "MAX_ARRAY_ELEMENTS", 10)
    values = tmp_path / "v.json"
    values.write_text(json.dumps({"v": list(range(11))}), encoding="utf-8")
    usage_error(cli("eval", "sum(v)", "--vars", str(values)), "10 elements")


@pytest.mark.parametrize("command, program", [("jacobian", "v*2"), ("hessian", "sum(v*v)")])
def test_matrices_that_cannot_fit_are_refused_up_front(command, program, monkeypatch):
    from gradcli.run import derivatives, evaluate

    monkeypatch.setattr(derivatives, "MAX_MATRIX_ENTRIES", 100)

    def no_run(*args, **kwargs):
        raise AssertionError("the forward pass ran before the size check")

    monkeypatch.setattr(evaluate, "run", no_run)
    usage_error(cli(command, program, "v=[1,2,3,4,5,6,7,8,9,10,11]"), "121 entries", "at most 100")


def test_vars_expression_strings_inside_lists(tmp_path):
    values = tmp_path / "v.json"
    values.write_text('{"W": [[1, "1/2"], [0, 1]]}', encoding="utf-8")
    result = cli("eval", "sum(W)", "--vars", str(values), "--json")
    assert result.exit_code == 0, result.stderr
    assert strict_json(result.stdout)["value"] == 2.5
    values.write_text('{"W": [[1, "[1,2]"], [0, 1]]}', encoding="utf-8")
    usage_error(cli("eval", "sum(W)", "--vars", str(values)), "single number")


# ---- environment and output ----------------------------------------------------------------------
@pytest.mark.parametrize("value", ["abc", "-1", "0", "1.5"])
def test_bad_program_limit_is_ignored_with_a_warning(value):
    result = process("eval", "x*2", "x=1", "--json", env={"GRADCLI_MAX_PROGRAM_BYTES": value})
    assert result.returncode == 0, result.stderr
    lines = result.stderr.decode().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gradcli: warning: GRADCLI_MAX_PROGRAM_BYTES")


def test_program_limit_in_exponent_notation():
    result = process("eval", "x*2", "x=1", "--json", env={"GRADCLI_MAX_PROGRAM_BYTES": "1e9"})
    assert result.returncode == 0 and result.stderr == b""
    small = process("eval", "x*2 + x*3 + x*4", "x=1", env={"GRADCLI_MAX_PROGRAM_BYTES": "1e1"})
    assert small.returncode == 2 and b"up to 0.0 MB" in small.stderr


@pytest.mark.parametrize("columns", ["abc", "-1", "0", "3"])
def test_odd_columns_never_lose_the_verdict(columns):
    result = cli("check", "x^2", "x=1", "--expect", "x=2", env={"COLUMNS": columns})
    assert result.exit_code == 0
    assert "1 of 1 right" in result.stdout
    if columns in ("abc", "-1", "0"):
        assert result.stderr.startswith("gradcli: warning: COLUMNS=")


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
@pytest.mark.parametrize("argv", [
    ["eval", "x^2", "x=1", "--json"],  # the fast path
    ["eval", "x^2", "x=1", "--check", "fd"],  # click and rich
    ["graph", "x^2", "x=1"],
])
def test_full_disk_is_one_line_and_not_exit_4(argv):
    with open("/dev/full", "w") as full:
        result = process(*argv, stdout=full)
    assert result.returncode == 2
    assert result.stderr.decode().splitlines() == ["gradcli: error: cannot write the output: No space left on device"]


@pytest.mark.slow
@pytest.mark.parametrize("encoding", ["ascii", "cp1252", "latin-1"])
def test_narrow_encodings_fall_back_to_ascii(encoding):
    result = process("eval", "x^2", "x=1", "--check", "fd", env={"PYTHONIOENCODING": encoding, "COLUMNS": "100"})
    assert result.returncode == 0, result.stderr
    out = result.stdout.decode(encoding)
    assert "all checks passed" in out and "da/dinput" in out
    if encoding == "ascii":
        assert out.isascii()


@pytest.mark.parametrize("argv, status", [(["eval", "x^2", "x=1"], 0), (["eval", "x^2", "x=1", "--json"], 0),
                                          (["functions"], 0), (["eval", "log(x)", "x=-1"], 3)])
def test_an_encoding_that_refuses_everything_falls_back_to_ascii(argv, status):
    """regression: PYTHONIOENCODING=undefined (a codec that refuses every character, ASCII
    too) was exit 4 with no message; now the streams write ASCII and the status is the run's."""
    result = process(*argv, env={"PYTHONIOENCODING": "undefined", "COLUMNS": "100"})
    assert result.returncode == status, result.stderr
    out = result.stdout.decode("ascii") + result.stderr.decode("ascii")
    assert "Traceback" not in out and "internal error" not in out
    assert ("log needs a positive input" in out) if status else ("x" in result.stdout.decode("ascii"))


_BROKEN = """
import io, os, sys
class Broken(io.TextIOWrapper):
    def write(self, s):
        raise BrokenPipeError(32, "Broken pipe")
sys.stdout = Broken(open(os.devnull, "wb"), encoding="utf-8")
sys.argv = ["gradcli", *sys.argv[1:]]
from gradcli.cli.main import run
run()
"""


@pytest.mark.parametrize("argv", [
    ["eval", "x*2", "x=1", "--json"],  # the fast path
    ["eval", "x*2", "x=1", "--check", "fd"],  # click, rich's console
    ["check", "x*2", "x=1", "--expect", "x=3"],  # a failing check must not say 1
    ["graph", "x*2", "x=1"],
    # the plain writer (no rich): ``gradcli eval … --steps | head``, docs/reference/exit-codes.md's 141
    ["eval", "(a+b)*(b+1)", "a=3", "b=2", "--steps"],
    ["eval", "(a+b)*(b+1)", "a=3", "b=2", "--steps", "--mode", "forward"],
    ["eval", "(a+b)*(b+1)", "a=3", "b=2", "--nodes"],
])
def test_broken_pipe_is_silent_with_141(argv):
    """The reader of stdout went away (`gradcli ... | head`).

    Simulated with a stdout whose writes fail, because pipes in some sandboxes never
    report EPIPE; the mapping is the same."""
    env = {k: v for k, v in os.environ.items() if k != "GRADCLI_DEBUG"}
    env["PYTHONPATH"] = str(ROOT)
    result = subprocess.run([PYTHON, "-c", _BROKEN, *argv], env=env, capture_output=True, timeout=120)
    assert result.returncode == 141, result.stderr
    assert result.stderr == b""


# ---- help --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("command", ["eval", "jacobian", "hessian", "check", "graph"])
@pytest.mark.parametrize("flag", ["-h", "--help"])
def test_h_is_help_everywhere(command, flag):
    result = cli(command, flag)
    assert result.exit_code == 0
    first = result.stdout.splitlines()[0]
    assert first.startswith("Usage: ") and f" {command} [OPTIONS]" in first
    assert result.stderr == ""


def test_bare_gradcli_prints_usage_with_exit_0():
    result = cli()
    assert result.exit_code == 0
    assert result.stdout.startswith("Usage: ") and "COMMAND" in result.stdout.splitlines()[0]
    assert "error" not in result.stdout + result.stderr


# ---- signals and the shared SymPy budget ------------------------------------------------------------
def _big_program(terms: int = 300) -> str:
    return " + ".join(f"sin(x*{i})*exp(cos(x+{i}))*atan(x^{i % 5 + 1})" for i in range(1, terms + 1))


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(c) for c in text.split()]


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/task").exists() or not hasattr(os, "fork"), reason="Linux /proc")
@pytest.mark.parametrize("signum, status", [(signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_signal_during_sympy_kills_the_child(signum, status):
    env = {k: v for k, v in os.environ.items() if k != "GRADCLI_DEBUG"}
    env["PYTHONPATH"] = str(ROOT)
    proc = subprocess.Popen(
        [PYTHON, "-c", "from gradcli.cli.main import run; run()", "eval", _big_program(), "x=0.3",
         "--check", "sympy", "--sympy-timeout", "120", "--no-nodes"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    children: list[int] = []
    for _ in range(600):  # wait (up to a minute) for the SymPy child
        children = _children(proc.pid)
        if children or proc.poll() is not None:
            break
        time.sleep(0.1)
    assert children, "the SymPy child never started"
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == status
    assert err.decode().strip().splitlines() == [f"gradcli: stopped by {signal.Signals(signum).name}"]
    for child in children:
        for _ in range(50):
            if not Path(f"/proc/{child}").exists() or "Z" in _state(child):
                break
            time.sleep(0.1)
        assert not Path(f"/proc/{child}").exists() or "Z" in _state(child), "the SymPy child outlived gradcli"


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return "Z"


def test_sympy_budget_is_shared_across_features(monkeypatch):
    """--check sympy --exact --latex share one deadline: the second job gets what is left."""
    from gradcli.oracles import budget

    starts: list[float] = []
    real_run = budget.run

    def spy(job, seconds, patience=float("inf")):
        starts.append(budget._shared_deadline(seconds))
        return real_run(job, seconds, patience)

    monkeypatch.setattr(budget, "run", spy)  # every feature calls budget.run through the module
    result = cli("eval", "x*exp(x^2)", "x=0.5", "--check", "sympy", "--exact", "--latex",
                 "--sympy-timeout", "30", "--no-nodes")
    assert result.exit_code == 0, result.stderr
    assert len(starts) >= 3 and len(set(starts)) == 1  # one deadline for every job


def test_budget_outside_a_command_is_per_job():
    from gradcli.oracles import budget

    budget.end_command()
    first = budget._shared_deadline(5)
    time.sleep(0.01)
    assert budget._shared_deadline(5) > first
    budget.new_command()
    try:
        a = budget._shared_deadline(5)
        assert budget._shared_deadline(50) == a
    finally:
        budget.end_command()


def test_spent_budget_skips_later_jobs():
    from gradcli.oracles import budget

    budget.new_command()
    try:
        budget._shared_deadline(0.0)
        outcome = budget.run(lambda send: send(("x",)), 10)
        assert outcome.timed_out and outcome.messages == []
    finally:
        budget.end_command()


# ---- terminal hygiene --------------------------------------------------------------------------------
def test_escape_sequences_in_graph_titles_are_shown_escaped():
    result = cli("graph", "x # \x1b]0;PWNED\x07", "x=1")
    assert result.exit_code == 0
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout
    assert "\\x1b]0;PWNED\\x07" in result.stdout


def test_escape_sequences_in_formulas_and_answers_are_escaped(tmp_path):
    result = cli("check", "x^2", "x=1", "--expect-formula", "x=2*x\x1b[2J")
    assert "\x1b" not in result.stdout + result.stderr
    answers = tmp_path / "a.csv"
    answers.write_text("id,d/dx\n\x1b]0;evil\x07,2\n", encoding="utf-8")
    book = cli("check", "x^2", "x=1", "--answers", str(answers))
    assert "\x1b" not in book.stdout + book.stderr and "\x07" not in book.stdout + book.stderr
    assert "\\x1b]0;evil\\x07" in book.stdout


def test_escape_sequences_in_program_header_and_json():
    table = cli("eval", "x # \x1b[31m\x9b", "x=1")
    assert "\x1b" not in table.stdout and "\x9b" not in table.stdout
    doc = cli("eval", "x # \x9b\u202e", "x=1", "--json")
    assert "\x9b" not in doc.stdout and "\u202e" not in doc.stdout
    assert strict_json(doc.stdout)["program"] == "x # \x9b\u202e"  # the JSON still says what was given


def test_visible_helper():
    from gradcli.output.terminal import visible

    assert visible("a\x1b[2Jb\tc\nd\x7f") == "a\\x1b[2Jb\tc\nd\\x7f"
    assert visible("plain ∂ text") == "plain ∂ text"


# ---- smaller items -------------------------------------------------------------------------------------
def test_points_quoted_header_and_line_numbers(tmp_path):
    points = tmp_path / "p.csv"
    points.write_text('"x","y"\n1,2\n\n0,1\n', encoding="utf-8")
    result = cli("eval", "log(x)*y", "--points", str(points))
    assert result.exit_code == 3
    lines = result.stdout.splitlines()
    assert lines[0] == "x,y,value,d/dx,d/dy"
    assert lines[2] == "0.0,1.0,nan,nan,nan"
    assert "line 4 (row 2)" in result.stderr


def test_points_inf_and_nan_follow_one_rule(tmp_path):
    points = tmp_path / "p.csv"
    points.write_text("x\n0\n-1\n", encoding="utf-8")
    result = cli("eval", "log(x)", "--points", str(points))
    assert result.stdout.splitlines()[1:] == ["0.0,nan,nan", "-1.0,nan,nan"]  # log(0) = -inf fails as nan does
    assert "2 of 2 rows" in result.stderr


def test_points_print_no_negative_zero(tmp_path):
    points = tmp_path / "p.csv"
    points.write_text("x\n-0.0\n0\n", encoding="utf-8")
    result = cli("eval", "x*x", "--points", str(points))
    assert result.exit_code == 0
    assert "-0.0" not in result.stdout
    lines = cli("eval", "x*x", "--points", str(points), "--json").stdout
    assert "-0.0" not in lines


def test_mode_reverse_with_seed_is_refused():
    usage_error(cli("eval", "x*y", "x=1", "y=2", "--mode", "reverse", "--seed", "y"), "--seed", "--mode reverse")
    assert cli("eval", "x*y", "x=1", "y=2", "--seed", "y").exit_code == 0  # forward mode is implied


def test_csv_of_a_vector_output_says_why_there_is_no_gradient():
    result = cli("eval", "W@x", "W=[[1,2],[3,4]]", "x=[1,1]", "--format", "csv")
    assert result.exit_code == 0
    assert "Jacobian" in result.stderr and result.stderr.count("\n") == 1


def test_export_onto_its_program_is_refused(tmp_path):
    program = tmp_path / "p.grad"
    program.write_text("x^2", encoding="utf-8")
    usage_error(cli("export", "-f", str(program), "x=1", "-o", str(program)), "same file")
    assert program.read_text() == "x^2"

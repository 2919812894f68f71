"""Bug hunt on input, output and the environment: program text, bindings, files, output
paths, environment variables and broken streams, through every command and the API.

The standards under test: bad input is one clear line and an exit code, never a traceback;
exit 4 is a gradcli bug and nothing else; an output never overwrites an input and writes
are atomic; user text (file names included) is shown escaped.

Regressions found by this hunt are marked "regression:" with what was wrong.  Tests that
need a real process (encodings, environment read at start-up, closed streams) run gradcli
in a subprocess; the rest use click's CliRunner (`clitools.run_cli`).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from clitools import run_cli, usage_error

PYTHON = sys.executable
ROOT = Path(__file__).resolve().parent.parent


def cli(*argv: str, input=None, env=None):
    return run_cli(list(argv), input=input, env=env)


def process(*argv: str, env=None, stdin=None, stdout=subprocess.PIPE, timeout=120, input=None, cwd=None):
    """gradcli in its own process (the console-script entry point, fast path included)."""
    full_env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "GRADCLI_DEBUG", "NO_COLOR")}
    full_env.update({"PYTHONPATH": str(ROOT)})
    for key, value in (env or {}).items():
        if value is None:
            full_env.pop(key, None)
        else:
            full_env[key] = value
    return subprocess.run([PYTHON, "-c", "from gradcli.cli.main import run; run()", *argv],
                          env=full_env, stdin=stdin, stdout=stdout, stderr=subprocess.PIPE,
                          timeout=timeout, input=input, cwd=cwd)


def assert_clean(result: subprocess.CompletedProcess, statuses=(0, 1, 2, 3, 141)) -> str:
    """No traceback, no internal error, a documented status; the stderr text."""
    err = result.stderr.decode("utf-8", "replace")
    assert result.returncode in statuses, (result.returncode, err)
    assert "Traceback" not in err and "internal error" not in err, err
    return err


# ---- outputs never overwrite inputs ----------------------------------------------------------------

WRITERS = [
    ("graph", ["--format", "text"]),
    ("export", []),
    ("plot", ["--format", "csv"]),
]


@pytest.mark.parametrize("command, extra", WRITERS)
def test_out_through_a_symlink_written_as_a_folder_is_refused(tmp_path, command, extra):
    """regression: ``-o link/``, where link is a symlink to the program file, replaced the
    program: os.path.samefile failed on the trailing '/' (ENOTDIR), the fallback compared
    the paths unresolved, and the atomic write's realpath then followed the link."""
    program = tmp_path / "p.txt"
    program.write_text("x*y\n", encoding="utf-8")
    link = tmp_path / "link.txt"
    link.symlink_to(program)
    args = [command, "-f", str(program), "x=0:1" if command == "plot" else "x=1", "y=2", *extra]
    usage_error(cli(*args, "-o", f"{link}/"), "same file as -f")
    assert program.read_text(encoding="utf-8") == "x*y\n"


@pytest.mark.parametrize("command, extra", WRITERS)
def test_out_written_as_a_folder_is_refused(tmp_path, command, extra):
    """regression: ``-o notes.txt/`` replaced notes.txt (and ``-o new.txt/`` created new.txt),
    where a shell's ``> notes.txt/`` refuses: the name says a folder."""
    other = tmp_path / "notes.txt"
    other.write_text("keep\n", encoding="utf-8")
    point = "x=0:1" if command == "plot" else "x=1"
    for target in (other, tmp_path / "new.txt"):
        usage_error(cli(command, "x*2", point, *extra, "-o", f"{target}/"), "not a folder")
    assert other.read_text(encoding="utf-8") == "keep\n"
    assert not (tmp_path / "new.txt").exists()


def test_gradebook_through_a_symlink_written_as_a_folder_is_refused(tmp_path):
    answers = tmp_path / "answers.csv"
    answers.write_text("id,x\ns1,2\n", encoding="utf-8")
    link = tmp_path / "link.csv"
    link.symlink_to(answers)
    usage_error(cli("check", "x^2", "x=1", "--answers", str(answers), "--out", f"{link}/"), "same file")
    assert answers.read_text(encoding="utf-8") == "id,x\ns1,2\n"


# ---- file names are shown escaped ------------------------------------------------------------------

@pytest.mark.parametrize("command, extra", WRITERS)
def test_wrote_message_shows_a_newline_in_the_file_name_escaped(tmp_path, command, extra):
    """regression: "gradcli: wrote … to FILE" printed a newline in FILE as a line break (one
    message split over two lines; error messages already escaped it)."""
    target = tmp_path / "out\nx.txt"
    result = cli(command, "x*2", "x=0:1" if command == "plot" else "x=1", *extra, "-o", str(target))
    assert result.exit_code == 0, result.stderr
    assert result.stderr.count("\n") == 1 and "out\\nx.txt" in result.stderr
    assert target.exists()


def test_gradebook_summary_shows_a_newline_in_the_file_name_escaped(tmp_path):
    answers = tmp_path / "answers.csv"
    answers.write_text("id,x\ns1,2\n", encoding="utf-8")
    target = tmp_path / "grades\nx.csv"
    result = cli("check", "x^2", "x=1", "--answers", str(answers), "--out", str(target))
    assert result.exit_code == 0, result.stderr
    assert "grades\\nx.csv" in result.stdout + result.stderr
    assert target.exists()


# ---- --vars files ----------------------------------------------------------------------------------

def test_vars_file_with_a_name_given_twice_is_refused(tmp_path):
    """regression: ``{"a": 1, "a": 2}`` silently took the last value, where ``a=1 a=2`` on the
    command line is refused: two values for one name, and gradcli chose one."""
    values = tmp_path / "v.json"
    values.write_text('{"a": 1, "b": 2, "a": 5}', encoding="utf-8")
    usage_error(cli("eval", "a+b", "--vars", str(values)), "'a' is given twice")


@pytest.mark.parametrize("text, fragment", [
    ('{"a": 1,', "not valid JSON"),
    ("\ufeff{\"a\": 1, \"b\": 2}", None),  # a byte-order mark is skipped
    ('[1, 2]', "JSON object"),
    ('{"a": null, "b": 2}', "got null"),
    ('{"a": true, "b": 2}', "got bool"),
    ('{"a": {"x": 1}, "b": 2}', "got an object"),
    ('{"a": NaN, "b": 2}', "NaN"),
    ('{"a": 1e999, "b": 2}', "too large"),
    ('{"a": [1, [2]], "b": 2}', "not a number"),
    ('{"a": [], "b": 2}', "empty list"),
    ('{"a b": 1, "a": 1, "b": 2}', "not a valid name"),
    ('{"a": "__import__(\\"os\\")", "b": 2}', "strings are not supported"),
    ('{"a": 1' + "0" * 5000 + ', "b": 2}', "not valid JSON"),
    ("[" * 100_000 + "]" * 100_000, "not valid JSON"),
])
def test_vars_files_of_every_kind_are_one_line(tmp_path, text, fragment):
    values = tmp_path / "v.json"
    values.write_text(text, encoding="utf-8")
    result = cli("eval", "a+b", "--vars", str(values), "--json")
    if fragment is None:
        assert result.exit_code == 0, result.stderr
    else:
        usage_error(result, fragment)


# ---- the environment -------------------------------------------------------------------------------

@pytest.mark.parametrize("env, fragment", [
    ({"_GRADCLI_COMPLETE": "junk"}, "expected bash_source"),
    ({"_GRADCLI_COMPLETE": "bash_junk"}, "expected bash_source"),
    ({"_GRADCLI_COMPLETE": "bash_complete", "COMP_WORDS": None, "COMP_CWORD": None}, "completion script"),
    ({"_GRADCLI_COMPLETE": "zsh_complete", "COMP_WORDS": "gradcli ev", "COMP_CWORD": "x"}, "completion script"),
    ({"_GRADCLI_COMPLETE": "fish_complete", "COMP_WORDS": "gradcli ev", "COMP_CWORD": None}, "completion script"),
])
def test_a_completion_request_set_by_hand_is_one_line(env, fragment):
    """regression: ``_GRADCLI_COMPLETE=bash_complete`` without COMP_WORDS (the completion
    script sets it) was click's KeyError, exit 4; an unknown instruction exited 1 silently."""
    from clitools import invoke

    result = invoke(["functions"], env=env, prog_name="gradcli")
    assert result.exit_code == 2, (result.exit_code, result.stderr)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("gradcli: error: _GRADCLI_COMPLETE=") and fragment in lines[0]


def test_a_completion_request_from_the_script_still_completes():
    from clitools import invoke

    result = invoke([], env={"_GRADCLI_COMPLETE": "bash_complete", "COMP_WORDS": "gradcli ev", "COMP_CWORD": "1"},
                    prog_name="gradcli")
    assert result.exit_code == 0 and result.stdout.strip() == "plain,eval", result.stderr


@pytest.mark.slow
def test_an_unknown_matplotlib_backend_does_not_stop_a_picture(tmp_path):
    """regression: ``MPLBACKEND=junk gradcli plot … -o p.png`` was exit 4 (matplotlib validates
    the variable on import), though gradcli always draws with Agg."""
    picture = tmp_path / "p.png"
    result = process("plot", "x^2", "x=0:1", "-o", str(picture), env={"MPLBACKEND": "junk"})
    assert_clean(result, statuses=(0,))
    assert picture.read_bytes().startswith(b"\x89PNG")


# ---- standard streams the process was started without ----------------------------------------------

def started_without(fd: int, *argv: str) -> subprocess.CompletedProcess:
    """gradcli in a process started with descriptor `fd` closed (``gradcli … >&-``): Python
    then sets that sys stream to None.  The other streams are piped (stdin: /dev/null)."""
    streams = {"stdin": subprocess.DEVNULL, "stdout": subprocess.PIPE, "stderr": subprocess.PIPE}
    streams.pop(("stdin", "stdout", "stderr")[fd])
    env = {k: v for k, v in os.environ.items() if k != "GRADCLI_DEBUG"}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run([PYTHON, "-c", "from gradcli.cli.main import run; run()", *argv], env=env,
                          preexec_fn=lambda: os.close(fd), timeout=120, **streams)


@pytest.mark.parametrize("argv", [
    ["eval", "x^2", "x=1", "--json"],  # the fast path
    ["eval", "x^2", "x=1", "--check", "fd"],  # click and rich
    ["graph", "x^2", "x=1"],
    ["export", "x^2", "x=1"],
    ["--help"],
])
def test_closed_stdout_is_one_line_and_not_exit_4(argv):
    """regression: ``gradcli … >&-`` left sys.stdout None (Python's doing): an AttributeError,
    exit 4.  Now as a write to a closed descriptor: "cannot write the output", exit 2."""
    result = started_without(1, *argv)
    err = assert_clean(result, statuses=(2,))
    assert err.splitlines() == ["gradcli: error: cannot write the output: Bad file descriptor"]


def test_closed_stdout_does_not_stop_a_command_that_writes_a_file(tmp_path):
    target = tmp_path / "g.txt"
    result = started_without(1, "graph", "x^2", "x=1", "-o", str(target))
    assert_clean(result, statuses=(0,))
    assert "x^2" in target.read_text(encoding="utf-8")


@pytest.mark.parametrize("argv, status", [
    (["eval", "x +* 1"], 2),  # the fast path: a parse error
    (["eval", "log(x)", "x=-1", "--json"], 3),
    (["graph", "x +* 1"], 2),  # click
    (["eval", "x^2", "x=1", "--json"], 0),
])
def test_closed_stderr_keeps_the_exit_status(argv, status):
    """regression: with stderr closed, the error message's write raised AttributeError inside
    the failure handler: Python's exit 1 ("a check failed") for a parse error."""
    result = started_without(2, *argv)
    assert result.returncode == status


@pytest.mark.parametrize("argv", [["eval", "-f", "-", "x=1"], ["eval", "x", "--points", "-"]])
def test_closed_stdin_is_a_read_error(argv):
    """regression: ``gradcli eval -f - <&-`` was exit 4 (sys.stdin None)."""
    result = started_without(0, *argv)
    err = assert_clean(result, statuses=(2,))
    assert len(err.splitlines()) == 1 and "Bad file descriptor" in err


# ---- parse errors: the source line and its caret ---------------------------------------------------

def _rendered(source: str) -> list[str]:
    from gradcli.core.errors import ParseError
    from gradcli.language.parser import parse

    with pytest.raises(ParseError) as info:
        parse(source)
    return info.value.render().splitlines()


def test_a_crlf_line_is_shown_without_its_carriage_return():
    """regression: every parse error in a file with Windows line ends showed the line with a
    '?' at its end (the \\r, unprintable)."""
    assert _rendered("x = a\r\ny = x +* 2\r\n")[1:] == ["  y = x +* 2", "         ^"]


def test_a_combining_accent_is_named_and_the_caret_sits_under_its_letter():
    """regression: ``e\\u0301`` (é typed as e + a combining accent, as macOS may write it) was
    "unexpected character '́'", the accent drawn over the quote, and the caret one column
    right of the letter."""
    lines = _rendered("a = 1; e\u0301 + 2")
    assert "U+0301" in lines[0] and "combining accent" in lines[0]
    assert lines[2] == "  " + " " * 7 + "^"  # under the e, the 8th column


def test_the_caret_counts_wide_characters_twice():  # held already: the wide-character case
    assert _rendered("日本 = a; 日本 +* b")[2] == "  " + " " * 16 + "^"


def test_parse_error_in_a_crlf_file_through_the_command_line(tmp_path):
    program = tmp_path / "p.grad"
    program.write_bytes(b"x = a\r\ny = x +* 2\r\n")
    result = cli("eval", "-f", str(program), "a=1")
    assert result.exit_code == 2
    assert result.stderr.splitlines()[1:] == ["  y = x +* 2", "         ^"]


# ---- user-sized programs through every command ------------------------------------------------------

@pytest.mark.slow
def test_export_of_a_long_sum_grows_linearly():
    """regression: ``gradcli export`` of a 10^5-term sum took 72 s (a 10^5-term chain 2 s): each
    backward line looked its term up in ``dnames.values()``, a linear scan.  Four times the
    terms take about four times as long (quadratic: sixteen), both measured in this run."""
    import time

    def seconds(n: int) -> float:
        program = "+".join(["x"] * n)
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            result = cli("export", program, "x=1")
            best = min(best, time.perf_counter() - start)
            assert result.exit_code == 0
        return best

    small, large = seconds(5_000), seconds(20_000)
    print(f"[time] export of a sum: {small:.3f} s at 5000, {large:.3f} s at 20000: ratio {large / small:.1f}")
    assert large / small < 10, (small, large)


def test_one_long_answer_does_not_stop_the_class_gradebook(tmp_path):
    """regression: an answer over csv's 128 KiB field limit (a formula of 10^5 nested
    brackets) stopped the whole gradebook with exit 2; the docs promise the gradebook is
    written whatever the students' answers.  Now that row is graded, and the others."""
    import csv

    answers = tmp_path / "answers.csv"
    answers.write_text("id,formula:x\ns1," + "(" * 100_000 + "2" + ")" * 100_000 + "\ns2,3\n", encoding="utf-8")
    limit = csv.field_size_limit()
    result = cli("check", "2*x", "x=1", "--answers", str(answers))
    assert result.exit_code == 0, result.stderr
    rows = [line.split(",", 1)[0] + "," + line.rsplit(",", 3)[1] for line in result.stdout.splitlines()[1:]]
    assert rows == ["s1,right", "s2,wrong: differs from the derivative at the point"]
    assert csv.field_size_limit() == limit  # the module's setting is put back


def test_out_onto_a_loop_of_symlinks_is_refused(tmp_path):
    """regression: ``-o a`` where a -> b -> a replaced the link a with a regular file
    (realpath gives a loop back unresolved); a shell's ``> a`` refuses it."""
    a, b = tmp_path / "a", tmp_path / "b"
    a.symlink_to(b)
    b.symlink_to(a)
    usage_error(cli("graph", "x", "x=1", "--format", "text", "-o", str(a)), "loop of symbolic links")
    assert a.is_symlink() and b.is_symlink()


def test_out_through_a_dangling_symlink_creates_its_target(tmp_path):  # held: as a shell's > does
    link = tmp_path / "link.txt"
    link.symlink_to(tmp_path / "new.txt")
    result = cli("graph", "x", "x=1", "--format", "text", "-o", str(link))
    assert result.exit_code == 0 and link.is_symlink() and (tmp_path / "new.txt").read_text().startswith("program")


# ---- what held: every command, odd bindings and environments: one line, a documented status ----------

COMMANDS = {
    "eval": ["eval", "(a+b)*(b+1)"],
    "check": ["check", "(a+b)*(b+1)", "--expect", "a=3"],
    "jacobian": ["jacobian", "(a+b)*(b+1)"],
    "hessian": ["hessian", "(a+b)*(b+1)"],
    "graph": ["graph", "(a+b)*(b+1)"],
    "export": ["export", "(a+b)*(b+1)"],
    "descend": ["descend", "(a+b)*(b+1)", "--updates", "2"],
}
BAD_BINDINGS = ["a=", "=3", "a=1e999", "a=nan", "a=0x10", "a=[1,2", "a=[[1,2],[3]]", "a=\udcff", "a=1 a=2"]


@pytest.mark.parametrize("binding", BAD_BINDINGS)
@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_bad_binding_is_one_line_with_exit_2(command, binding):
    result = cli(*COMMANDS[command], "b=2", *binding.split(" "))
    usage_error(result)


@pytest.mark.parametrize("columns", ["0", "1", "-5", "abc", "1000000", ""])
@pytest.mark.parametrize("command", ["eval", "check", "graph", "descend"])
def test_odd_columns_never_fail(command, columns):
    result = run_cli([*COMMANDS[command], "a=1", "b=2"], env={"COLUMNS": columns})
    assert result.exit_code in (0, 1), result.stderr


@pytest.mark.parametrize("env", [{"PYTHONIOENCODING": "ascii"}, {"PYTHONIOENCODING": "utf-16"},
                                 {"LC_ALL": "C", "LANG": "C", "PYTHONUTF8": "0"}, {"HOME": None},
                                 {"TERM": "dumb", "FORCE_COLOR": "1"}, {"GRADCLI_MAX_PROGRAM_BYTES": "nan"}])
@pytest.mark.parametrize("argv", [["eval", "é*x # \udcff ∂", "é=1", "x=2", "--json"],  # the fast path
                                  ["eval", "x +* é", "x=1"],
                                  ["graph", "log(x)", "x=-1"],
                                  ["check", "x^2", "x=1", "--expect", "x=3"]])
def test_odd_environments_keep_one_line_and_the_status(argv, env):
    result = process(*argv, env=env)
    assert_clean(result)


@pytest.mark.parametrize("depth", [33, 65, 20_000])
def test_an_array_literal_nested_too_deep_is_one_line(depth):
    """regression: ``x=[[[…2…]]]`` 65 levels deep was NumPy's IndexError (exit 4), and 10^5
    levels built shape tuples of 10^10 entries (the process died); in a program as in a
    binding.  Now at most 32 dimensions (NumPy 1's limit), a shape error naming the node."""
    literal = "[" * depth + "2" + "]" * depth
    usage_error(cli("eval", "x", f"x={literal}"), "at most 32 dimensions")
    result = cli("eval", literal.replace("2", "x"), "x=1")
    assert result.exit_code == 2 and result.stderr.startswith("gradcli: shape error:")
    assert "at most 32 dimensions" in result.stderr


def test_an_array_literal_32_deep_still_evaluates():
    result = cli("eval", "sum(" + "[" * 32 + "x" + "]" * 32 + ")", "x=2", "--json")
    assert result.exit_code == 0, result.stderr

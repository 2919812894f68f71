"""What the commands do, without the command-line parsing: no click import here.

`gradcli.cli.commands` parses arguments with click and calls these functions; `gradcli.cli.main`
calls `run_eval` directly for the most common, simplest command lines (so a plain
``gradcli eval PROGRAM a=1 --json`` in a shell loop never pays for importing click).
Output goes through `echo`, and every error is a `GradcliError` for the caller to
report.
"""

from __future__ import annotations

import sys
from typing import Optional

from ..core.errors import ExitStatus, UsageError


class Terminated(BaseException):
    """SIGTERM or SIGHUP arrived: unwind (so a SymPy child is killed) and exit 128 + signal."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _on_signal(signum, frame):  # type: ignore[no-untyped-def]
    raise Terminated(signum)


def install_signal_handlers() -> None:
    """Turn SIGTERM and SIGHUP into `Terminated`, so ``finally`` blocks run before the exit.

    Only the program's entry points call this (`gradcli.cli.main.run`, `gradcli.cli.commands.run_cli`):
    importing gradcli, the API, or click's CliRunner in a test process leave the signals alone,
    so SIGTERM and Ctrl-C stop a test run as they stop any other.
    """
    import signal

    for name in ("SIGTERM", "SIGHUP"):
        if hasattr(signal, name):
            try:
                signal.signal(getattr(signal, name), _on_signal)
            except (ValueError, OSError):  # not the main thread (an embedding program): leave it
                pass


def running_as_program() -> bool:
    """Whether gradcli runs as the program (its handlers are installed), not inside another one.

    Inside another process (a test run, an embedding program) Ctrl-C is that process's to
    handle: gradcli passes KeyboardInterrupt on instead of turning it into exit 130.
    """
    import signal

    return signal.getsignal(signal.SIGTERM) is _on_signal


def prepare_streams() -> None:
    """Streams that can print our symbols in any encoding (ASCII words where they cannot)."""
    from ..output.terminal import fit_encoding

    fit_encoding(sys.stdout)
    fit_encoding(sys.stderr)


class PipeClosed(Exception):
    """stdout's reader went away (``gradcli ... | head``): not an OSError, so click passes it on."""


#: exit status after a broken pipe: what a shell reports for a process killed by SIGPIPE
#: (128 + 13), and silent, as `head` and `grep -q` expect (README, "Exit codes")
BROKEN_PIPE = 141


def report_failure(exc: BaseException) -> int:
    """One line on stderr for any failure, and its exit status (README, "Exit codes").

    A `GradcliError` says what was wrong with the input; so do the environment's own
    failures (a signal, a broken pipe, a full disk); anything else is a bug in gradcli and
    says so (``GRADCLI_DEBUG=1`` re-raises it for the traceback).
    """
    import os

    from ..core.errors import GradcliError

    if isinstance(exc, GradcliError):
        echo(exc.render(), err=True)
        return int(exc.exit_status)
    if isinstance(exc, Terminated):
        import signal

        name = signal.Signals(exc.signum).name
        echo(f"gradcli: stopped by {name}", err=True)
        return 128 + exc.signum
    if isinstance(exc, KeyboardInterrupt):
        echo("gradcli: interrupted", err=True)
        return 130
    if isinstance(exc, (BrokenPipeError, PipeClosed)):
        _detach_stdout()
        return BROKEN_PIPE
    if isinstance(exc, MemoryError):
        echo("gradcli: error: out of memory", err=True)
        return int(ExitStatus.BAD_INPUT)
    if isinstance(exc, OSError) and _is_output_error(exc):
        _detach_stdout()
        echo(f"gradcli: error: cannot write the output: {exc.strerror or exc}", err=True)
        return int(ExitStatus.BAD_INPUT)
    if os.environ.get("GRADCLI_DEBUG"):
        raise exc
    if isinstance(exc, RecursionError):
        echo("gradcli: internal error: recursion too deep (a bug: please report this program)", err=True)
    else:
        echo(f"gradcli: internal error: {type(exc).__name__}: {exc} "
             "(a bug: please report it; GRADCLI_DEBUG=1 shows the traceback)", err=True)
    return int(ExitStatus.INTERNAL_ERROR)


def _is_output_error(exc: OSError) -> bool:
    """A failure of the machine or the output stream (full disk, I/O error), not of gradcli."""
    import errno

    return exc.errno in {errno.ENOSPC, errno.EIO, errno.EFBIG, errno.EPIPE, errno.EBADF,
                         getattr(errno, "EDQUOT", errno.ENOSPC), errno.EROFS, errno.EACCES, errno.EPERM}


def _detach_stdout() -> None:
    """Point stdout at /dev/null, so Python's final flush cannot fail again and print a traceback."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # not a real file (a test runner's buffer)
        pass


def finish(status: int) -> int:
    """Flush stdout; a failure to do so (full disk, closed pipe) becomes its own status."""
    try:
        sys.stdout.flush()
    except BaseException as exc:  # noqa: B036 - mapped like every other failure
        return report_failure(exc)
    return status


def echo(text: str = "", err: bool = False, nl: bool = True, escape: bool = True) -> None:
    """Write `text` to stdout or stderr; control characters from user text are shown escaped.

    A message on stderr that cannot be written (stderr closed, disk full) is dropped: the
    exit status still tells.
    """
    from ..output.terminal import visible

    stream = sys.stderr if err else sys.stdout
    text = (visible(text) if escape else text) + ("\n" if nl else "")
    if not err:
        for start in range(0, len(text), 1 << 16):  # a short write into a closed pipe must not pass silently
            stream.write(text[start:start + (1 << 16)])
        stream.flush()
        return
    try:
        stream.write(text)
        stream.flush()
    except (OSError, ValueError):
        pass


def run_eval(args: tuple[str, ...], *, program_file: Optional[str] = None, vars_files: tuple[str, ...] = (),
             output: Optional[str] = None, wrt: Optional[str] = None, check: tuple[str, ...] = (),
             rtol: Optional[float] = None, atol: Optional[float] = None, sympy_timeout: float = 10.0,
             fmt: str = "table", full: bool = False, digits: Optional[int] = None, show_nodes: Optional[bool] = None,
             seed_output: Optional[str] = None, mode: Optional[str] = None, seed_input: Optional[str] = None,
             steps: bool = False, paths: bool = False, edges: bool = False, exact: bool = False,
             latex: bool = False, points_file: Optional[str] = None, jacobians: bool = False) -> int:
    """``gradcli eval``: the exit status."""
    from ..run.evaluate import run, run_forward

    edges = edges or jacobians  # the matrices come after the edge table
    if points_file is not None:
        if check or mode not in (None, "reverse") or seed_output is not None or seed_input is not None:
            raise UsageError("--points runs plain reverse mode: leave out --check, --mode, --seed and --seed-output")
        if steps or paths or edges or exact or latex:
            raise UsageError("--points prints values and gradients only: leave out --steps, --paths, --edges, "
                             "--exact and --latex")
        return _batch(args, program_file, vars_files, output, wrt, points_file, fmt)
    ev = _prepare(args, program_file, vars_files, output, wrt)
    if seed_input is not None and mode == "reverse":
        raise UsageError("--seed NAME starts a forward-mode tangent pass: it conflicts with --mode reverse "
                         "(for reverse mode with a chosen cotangent use --seed-output)")
    if mode is None:
        mode = "forward" if seed_input is not None else "reverse"  # --seed only makes sense for a tangent pass
    if mode == "forward":
        if seed_output is not None:
            raise UsageError("--seed-output is for reverse mode; forward mode seeds an input with --seed NAME")
        if seed_input is not None:
            from ..run.evaluate import parse_seed

            ev.wrt = [parse_seed(ev, seed_input)[0]]
        run_forward(ev, seed_input)
    else:
        seed = None
        if seed_output is not None:
            from ..run.bindings import constant_value

            seed = constant_value(seed_output, "--seed-output")
        run(ev, seed)
    _warn(ev.warnings)
    checks = []
    if ev.has_gradient:
        checks = _gradient_checks(ev, check, rtol, atol, sympy_timeout)
    elif check:
        raise UsageError("checks need a scalar output (or --seed-output); for a vector output use 'gradcli jacobian'")
    if steps and ev.mode == "forward" and not (paths or edges or jacobians):
        from ..teach.forward import forward_steps

        forward_steps(ev)  # refuses what it cannot explain, before anything is printed
        ev.extras["forward_steps"] = True
    elif steps or paths or edges:
        if not ev.adjoints:
            raise UsageError("--steps, --paths and --edges explain reverse mode: they need a scalar output "
                             "(or --seed-output) and --mode reverse (forward mode takes --steps alone)")
        for flag, key in ((steps, "steps"), (paths, "paths"), (edges, "edges"), (jacobians, "jacobians")):
            if flag:
                ev.extras[key] = True
    if exact or latex:
        if not ev.scalar_output:
            raise UsageError("--exact and --latex need a scalar output")
        from ..oracles.exact import run_exact, run_latex

        if exact:
            ev.extras["exact"] = run_exact(ev, sympy_timeout)
        if latex:
            ev.extras["latex"] = run_latex(ev, sympy_timeout)
            from ..teach.explain import paths_latex, steps_latex

            places = 10 if digits is None else digits
            if not ev.tape.scalar:  # arrays, either mode: the chains of local Jacobians
                ev.extras["latex"].update(paths_latex(ev))
            if not ev.adjoints:  # forward mode: the tangent passes, written out
                if "forward_steps" in ev.extras:
                    from ..teach.forward import forward_steps_latex

                    ev.extras["latex_steps"] = forward_steps_latex(ev, places)
            elif steps or not ev.tape.scalar:  # reverse mode: the sweep (on arrays, the matrix rules always)
                ev.extras["latex_steps"] = steps_latex(ev, places)
    _emit(ev, checks, fmt, show_nodes, full, digits)
    failed = any(c.failed for c in checks)
    return int(ExitStatus.CHECK_FAILED if failed else ExitStatus.OK)



def run_check(ev, expects: tuple[str, ...], expect_values: tuple[str, ...], formulas: tuple[str, ...],
              answers: Optional[str], out_file: Optional[str], reveal: bool, rules, sympy_timeout: float,
              as_json: bool, strict: bool = False, fmt: str = "text", data: tuple[str, ...] = (),
              prove: bool = False) -> int:
    """`gradcli check`: one student's answers (exit 1 when any is wrong), or a class's
    (exit 0 once the gradebook is written; with --strict, 1 when any answer is not right)."""
    from ..teach import homework

    if prove and answers is not None:
        raise UsageError("--prove asks SymPy about one student's formulas: leave it out with --answers")
    request = homework.Request(rules=rules, data=tuple(data), prove=sympy_timeout if prove else 0.0, reveal=reveal)
    if answers is not None:
        if expects or formulas or expect_values:
            raise UsageError("--answers grades a whole class: leave out --expect, --expect-value and --expect-formula")
        return _grade_class(ev, answers, out_file, request, as_json, strict, fmt)
    if out_file is not None or strict or fmt != "text":
        raise UsageError("--out, --strict and --format go with --answers (a class's gradebook)")
    if not (expects or formulas or expect_values):
        raise UsageError("nothing to check: give --expect NAME=VALUE, --expect-value, --expect-formula or --answers")
    _read_answers(ev, request, expects, expect_values, formulas)
    verdicts = homework.judge(ev, request)
    if as_json:
        from ..output.documents import dumps, verdicts_json

        from ..output.terminal import json_visible

        echo(json_visible(dumps(verdicts_json(ev, verdicts, reveal, rules))), escape=False)
    else:
        from ..output.tables import Style, verdict_view

        console = _console()
        console.print(verdict_view(ev, verdicts, Style(console.is_terminal), reveal, rules))
    return int(ExitStatus.OK if all(v.ok for v in verdicts) else ExitStatus.CHECK_FAILED)


def _read_answers(ev, request, expects: tuple[str, ...], expect_values: tuple[str, ...],
                  formulas: tuple[str, ...]) -> None:
    """The command line's answers into the request, with the text each was written as."""
    from ..run.bindings import constant_value
    from ..teach import homework

    for item in expects:
        name, eq, text = item.partition("=")
        if not eq or not name.strip():
            raise UsageError(f"--expect {item!r}: write NAME=VALUE, e.g. --expect b=8")
        if name.strip() in request.expect:
            raise UsageError(f"--expect {name.strip()} is given twice")
        request.expect[name.strip()] = homework.Answer(constant_value(text, f"--expect {name.strip()}"), text.strip())
    for item in expect_values:
        name, eq, text = item.partition("=")
        key = name.strip() if eq and homework._NAME.match(name.strip()) else None
        if key is None:
            text = item
        where = f"--expect-value {key}" if key else "--expect-value"
        if key == ev.output_name:
            key = None
        if key in request.values:
            raise UsageError(f"{where} is given twice")
        request.values[key] = homework.Answer(constant_value(text, where), text.strip())
    for item in formulas:
        name, eq, text = item.partition("=")
        if not eq or not name.strip() or not text.strip():
            raise UsageError(f"--expect-formula {item!r}: write NAME=EXPRESSION, e.g. x=2*x")
        if name.strip() in request.formulas:
            raise UsageError(f"--expect-formula {name.strip()} is given twice")
        request.formulas[name.strip()] = text.strip()


def _grade_class(ev, answers: str, out_file: Optional[str], request, as_json: bool, strict: bool,
                 fmt: str) -> int:
    from ..output import documents
    from ..teach import gradebook

    from .files import write_output

    reveal = request.reveal
    if fmt == "gradescope" and as_json:
        raise UsageError("--format gradescope writes Gradescope's JSON already: leave out --json")
    sheet = gradebook.read_answers(answers)
    book = gradebook.grade(ev, sheet, request)
    for problem in book.problems:
        echo(f"gradcli: warning: {answers}: {problem}", err=True)
    if fmt == "gradescope":
        if len(book.students) != 1:
            raise UsageError(f"--format gradescope writes one submission's results.json: {answers} has "
                             f"{len(book.students)} students (give one row)")
        text = documents.dumps(documents.gradescope_json(book))
    else:
        text = documents.gradebook_csv(book, reveal)
    if out_file and out_file != "-":
        write_output(out_file, text, "--out")
    if as_json:
        from ..output.terminal import json_visible

        echo(json_visible(documents.dumps(documents.gradebook_json(ev, book, reveal, request.rules))), escape=False)
    elif not out_file or out_file == "-":
        echo(text, nl=False)
    if not as_json:
        from ..output.tables import Style, gradebook_summary

        to_stdout = bool(out_file) and out_file != "-"
        console = _console(err=not to_stdout)
        console.print(gradebook_summary(book, Style(console.is_terminal), out_file if to_stdout else None))
    if strict and not book.all_right:
        return int(ExitStatus.CHECK_FAILED)
    return int(ExitStatus.OK)


def _batch(args, program_file, vars_files, output, wrt, points_file: str, fmt: str) -> int:
    from ..run import batch
    from ..run import bindings as binding_mod

    _one_stdin(args, program_file, vars_files, points=points_file)
    source, binding_args = _program_and_bindings(args, program_file)
    fixed = binding_mod.collect(binding_args, vars_files)
    names, data, lines = batch.read_points_lines(points_file)
    for name in names:
        if name in fixed:
            _warn([f"{name}={fixed[name].text} is ignored: the --points column {name} gives its values"])
    wrt_names = [w.strip() for w in wrt.split(",") if w.strip()] if wrt else None
    n = data.shape[0]
    progress = None
    bar = None
    if n > 5 * batch.CHUNK and sys.stderr.isatty():
        from rich.progress import Progress

        bar = Progress(transient=True, console=_console(err=True))
        task = bar.add_task("evaluating", total=n)
        bar.start()

        def progress(done: int) -> None:
            bar.advance(task, done)

    try:
        result = batch.evaluate_points(source, names, data, fixed, output, wrt_names, progress, lines)
    finally:
        if bar is not None:
            bar.stop()
    out = sys.stdout
    if fmt == "json":
        batch.write_json_lines(result, out)
    elif fmt in ("csv", "tsv"):
        batch.write_csv(result, out, fmt)
    else:
        batch.write_csv(result, out, "csv")
    failed = int(result.failed.sum())
    if failed:
        echo(f"gradcli: math error: {failed} of {n} rows are undefined or not finite (written as nan); "
             f"first: {result.first_error}",
                   err=True)
        return int(ExitStatus.MATH_ERROR)
    return int(ExitStatus.OK)


def _finish_matrix(ev, matrix, check, rtol, atol, sympy_timeout, fmt, full, digits) -> int:
    from ..oracles.matrix_checks import check_matrix

    kinds = _check_kinds(check)
    for kind in ("sympy", "fd"):
        if kind in kinds:
            matrix.checks.append(check_matrix(ev, matrix, kind, rtol, atol, sympy_timeout))
    _emit_matrix(ev, matrix, fmt, full, digits)
    failed = any(c.status == "fail" for c in matrix.checks)
    return int(ExitStatus.CHECK_FAILED if failed else ExitStatus.OK)


def _format(as_json: bool, fmt: Optional[str]) -> str:
    if as_json:
        if fmt not in (None, "json"):
            raise UsageError(f"--json and --format {fmt} disagree: choose one")
        return "json"
    return fmt or "table"


def _one_stdin(args, program_file, vars_files, **more: Optional[str]) -> None:
    """Refuse two inputs that both read stdin ('-'): the program, --vars files, --answers, --points."""
    readers = []
    if program_file == "-" or (program_file is None and args and args[0] == "-"):
        readers.append("the program" if program_file is None else "-f")
    readers += ["--vars" for v in vars_files if v == "-"]
    readers += [f"--{option}" for option, path in more.items() if path == "-"]
    if len(readers) > 1:
        raise UsageError(f"{' and '.join(readers)} cannot both read stdin ('-'): put one of them in a file")


def _prepare(args, program_file, vars_files, output, wrt):
    from ..run import bindings as binding_mod
    from ..run.evaluate import prepare

    _one_stdin(args, program_file, vars_files)
    source, binding_args = _program_and_bindings(args, program_file)
    for a in binding_args:
        if a.startswith("--"):
            raise UsageError(_unknown_option(a))
    point, default_output, problems = _program_point(source, program_file)
    bound = {**point, **binding_mod.collect(binding_args, vars_files)}  # the command line wins
    wrt_names = [w.strip() for w in wrt.split(",") if w.strip()] if wrt else None
    try:
        return prepare(source, bound, output or default_output, wrt_names)
    except UsageError as exc:
        if problems and exc.message.startswith("missing value"):  # why the program's point did not help
            raise UsageError(f"{exc.message}; {problems[0]}") from None
        raise


def _program_point(source: str, program_file: Optional[str]):
    """The point (and output) a program file states in its ``#:`` lines (README, "Programs
    that carry their point"); none for a program given on the command line."""
    import os

    from ..run import bindings as binding_mod

    if program_file is None or "#:" not in source:
        return {}, None, []
    folder = os.path.dirname(os.path.abspath(program_file)) if program_file != "-" else "."
    return binding_mod.program_point(source, folder)


def _warn(warnings: list[str]) -> None:
    from ..core.errors import one_line

    for warning in warnings:
        echo(f"gradcli: warning: {one_line(warning)}", err=True)


def _check_kinds(check: tuple[str, ...]) -> set[str]:
    return {"sympy", "fd"} if "all" in check else set(check)


def _gradient_checks(ev, check, rtol, atol, sympy_timeout) -> list:
    checks = []
    kinds = _check_kinds(check)
    if "sympy" in kinds:
        from ..oracles.sympy_check import sympy_check

        checks.append(sympy_check(ev, rtol, atol, sympy_timeout))
    if "fd" in kinds:
        from ..oracles.checks import finite_differences

        checks.append(finite_differences(ev, rtol, atol))
    return checks


def looks_like_long_option(arg: str) -> bool:
    """``--name`` or ``--name=value``: an option's spelling.  ``---x`` and ``--x^2`` are not (no
    option starts with three dashes or holds ``^``): they are programs, chains of negations."""
    import re

    return arg.startswith("--") and arg != "--" and re.fullmatch(r"--[A-Za-z][\w-]*(=.*)?", arg, re.S) is not None


def _unknown_option(arg: str) -> str:
    """'no such option' with a suggestion, or the reason an option was not read."""
    import difflib

    import click  # only on this error path, which only the click command line reaches

    ctx = click.get_current_context(silent=True)
    name = arg.split("=")[0]
    known = [o for p in ctx.command.params for o in getattr(p, "opts", []) if o.startswith("--")] if ctx else []
    if name in known:
        return f"{name} comes after '--', where options are no longer read: put it before '--'"
    close = difflib.get_close_matches(name, known, n=2, cutoff=0.6)
    hint = f"; did you mean {' or '.join(close)}?" if close else ""
    return f"no such option: {name}{hint}"


def _program_and_bindings(args: tuple[str, ...], program_file: Optional[str]) -> tuple[str, list[str]]:
    """The program text (from the first argument, a file, or stdin) and the bindings."""
    rest = list(args)
    if rest and rest[0].startswith("\x00"):  # written after '--': a program, whatever it looks like
        rest[0] = rest[0][1:]
    elif rest and looks_like_long_option(rest[0]) and not any(a.startswith(rest[0][2:] + "=") for a in rest[1:]):
        raise UsageError(_unknown_option(rest[0]))  # (but "--x" with a binding x=2 is x negated twice)
    if rest and rest[0] == "--":
        rest.pop(0)
    if program_file is not None:
        return _read_program(program_file), [a for a in rest if a != "--"]
    if not rest:
        raise UsageError("no program given: gradcli eval \"(a+b)*(b+1)\" a=3 b=2 (or -f FILE, or - for stdin)")
    first = rest.pop(0)
    rest = [a for a in rest if a != "--"]
    if first == "-":
        return _read_program("-"), rest
    return _program_text(first, "the program"), rest


#: programs larger than this are refused at once (GRADCLI_MAX_PROGRAM_BYTES overrides):
#: each node costs about a kilobyte, so 8 MB is already several gigabytes of graph
MAX_PROGRAM_BYTES = 8_000_000


def _size_limit() -> int:
    """The program size limit: GRADCLI_MAX_PROGRAM_BYTES if it is a positive whole number of
    bytes (``1e9`` is fine), else the default, with a warning saying the value was ignored."""
    import math
    import os

    raw = os.environ.get("GRADCLI_MAX_PROGRAM_BYTES")
    if raw is None or not raw.strip():
        return MAX_PROGRAM_BYTES
    try:
        number = float(raw)
    except ValueError:
        number = math.nan
    if not (math.isfinite(number) and number >= 1 and number == int(number)):
        _warn([f"GRADCLI_MAX_PROGRAM_BYTES={raw!r} is not a positive whole number of bytes; "
               f"using the default, {MAX_PROGRAM_BYTES}"])
        return MAX_PROGRAM_BYTES
    return int(number)


def _check_size(where: str, size: int, limit: int) -> None:
    """Refuse a program of `size` bytes over the limit, before any work is done on it."""
    if size > limit:
        raise UsageError(_too_large(where, f"{size / 1e6:.1f} MB", limit))


def _too_large(where: str, size: str, limit: int) -> str:
    return (f"{where} is {size}; gradcli takes programs up to {limit / 1e6:.1f} MB "
            "(set GRADCLI_MAX_PROGRAM_BYTES to allow more, and expect about 1 KB of memory per node)")


def _program_text(text: str, where: str, limit: Optional[int] = None) -> str:
    """`text`, unless it is over the size limit (UTF-8 bytes; at most 4 per character,
    so short texts are not encoded just to be measured)."""
    if len(text) * 4 > (limit := limit or _size_limit()):
        _check_size(where, len(text.encode("utf-8", "surrogatepass")), limit)
    if not text.isascii():
        import re

        bad = re.search("[\ud800-\udfff]", text)  # a byte that is not UTF-8, escaped by Python
        if bad is not None:
            from ..core.errors import ParseError

            byte = ord(bad.group()) - 0xDC00 if ord(bad.group()) >= 0xDC80 else None
            shown = f" (byte 0x{byte:02x})" if byte is not None and byte < 0x100 else ""
            raise ParseError(f"{where} is not UTF-8 text{shown}", text.replace(bad.group(), "?"), bad.start())
    return text


def _read_program(path: str) -> str:
    """The program in `path` ('-': stdin), read no further than one byte past the size limit."""
    from ..run.files import read_bytes

    where = "stdin" if path == "-" else path
    limit = _size_limit()
    try:
        data = read_bytes(path, limit, f"cannot read {path}" if path != "-" else "stdin")
    except UsageError as exc:
        if " is over " in exc.message:  # stopped at the limit: the same message as for an argument
            raise UsageError(_too_large(where, f"over {limit / 1e6:.1f} MB", limit)) from None
        raise
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{where} is not UTF-8 text (byte {exc.start})") from None
    return text.lstrip("\ufeff")


def _emit_matrix(ev, matrix, fmt: str, full: bool, digits: Optional[int]) -> None:
    if fmt == "json":
        from ..output.documents import dumps, matrix_json

        echo(dumps(matrix_json(ev, matrix)), escape=False)
    elif fmt in ("csv", "tsv"):
        _write_csv(_matrix_rows(matrix), fmt)
    else:
        from ..output.tables import Style, matrix_view

        console = _console()
        console.print(matrix_view(ev, matrix, Style(console.is_terminal, digits, full)))


def _matrix_rows(matrix) -> list[list[str]]:
    rows = [["", *matrix.columns]]
    for label, row in zip(matrix.rows, matrix.data):
        rows.append([label, *(repr(float(v)) for v in row)])
    return rows


def _write_csv(rows: list[list[str]], fmt: str) -> None:
    import csv
    import io

    buf = io.StringIO()
    writer = csv.writer(buf, delimiter="," if fmt == "csv" else "\t", lineterminator="\n")
    writer.writerows(rows)
    echo(buf.getvalue(), nl=False)


def _emit(ev, checks, fmt: str, show_nodes: Optional[bool], full: bool, digits: Optional[int]) -> None:
    if fmt == "json":
        from ..output.documents import dumps, to_json

        echo(dumps(to_json(ev, checks, with_nodes=show_nodes is not False)), escape=False)
    elif fmt in ("csv", "tsv"):
        from ..output.documents import csv_rows

        if not ev.has_gradient and ev.mode != "forward":
            shape = ev.graph.nodes[ev.graph.output].shape
            _warn([f"no gradient columns: the output has shape {shape}, so its derivative is a Jacobian; "
                   "use 'gradcli jacobian', or --seed-output for one vector-Jacobian product"])
        _write_csv(csv_rows(ev, checks), fmt)
    else:
        from ..output.tables import Style, evaluation

        console = _console()
        # uncropped: tables fit the width and text wraps, but LaTeX lines are printed whole
        console.print(evaluation(ev, checks, Style(console.is_terminal, digits), show_nodes, full), crop=False)


def function_rows() -> list[dict]:
    """The operations of the language (`gradcli.core.ops.catalogue`), then the prelude's
    definitions when the language has a prelude."""
    from ..core.ops import catalogue

    rows = catalogue()
    try:
        from ..language import prelude  # type: ignore[attr-defined]
    except ImportError:
        return rows
    rows.extend(prelude_rows(getattr(prelude, "PRELUDE", None)))
    return rows


def prelude_rows(prelude: object) -> list[dict]:
    """Rows for the prelude's defs, whatever their container (text, or name -> text)."""
    if not prelude:
        return []
    if isinstance(prelude, str):
        lines = [line.strip() for line in prelude.splitlines()]
        defs = [line[4:] for line in lines if line.startswith("def ")]
    else:
        items = prelude.items() if isinstance(prelude, dict) else prelude
        defs = [str(v if not str(v).startswith("def ") else str(v)[4:]) for _, v in items]  # type: ignore[attr-defined, misc]
    rows = []
    for text in defs:
        head, _, body = text.partition("=")
        name = head.split("(")[0].strip()
        arity = head.count(",") + 1 if "(" in head and head.split("(", 1)[1].strip(" )") else 0
        rows.append({"name": name, "usage": head.strip(), "arity": arity,
                     "meaning": f"prelude: {body.strip()}", "kink": ""})
    return rows


def _console(err: bool = False):
    import os

    from ..output.terminal import console

    out = sys.stderr if err else sys.stdout
    terminal = out.isatty()
    width = _columns(os.environ.get("COLUMNS")) or (None if terminal else 120)
    return console(out, width=width, no_color=bool(os.environ.get("NO_COLOR")) or None)


#: tables are drawn at least this wide, whatever COLUMNS says (narrower is unreadable)
MIN_COLUMNS = 20


def _columns(value: Optional[str]) -> Optional[int]:
    """The width COLUMNS asks for: None when unset or not a positive whole number (with a
    warning), and at least MIN_COLUMNS."""
    if value is None or not value.strip():
        return None
    try:
        columns = int(value)
    except ValueError:
        columns = 0
    if columns <= 0:
        _warn([f"COLUMNS={value!r} is not a positive whole number; it is ignored"])
        return None
    return max(columns, MIN_COLUMNS)



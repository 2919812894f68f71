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


def report_failure(exc: BaseException) -> int:
    """One line on stderr for any failure, and its exit status (README, "Exit codes").

    A `GradcliError` says what was wrong with the input; anything else is a bug in
    gradcli and says so (``GRADCLI_DEBUG=1`` re-raises it for the traceback).
    """
    import os

    from ..core.errors import GradcliError

    if isinstance(exc, GradcliError):
        echo(exc.render(), err=True)
        return int(exc.exit_status)
    if isinstance(exc, KeyboardInterrupt):
        echo("gradcli: interrupted", err=True)
        return 130
    if isinstance(exc, MemoryError):
        echo("gradcli: error: out of memory", err=True)
        return int(ExitStatus.BAD_INPUT)
    if os.environ.get("GRADCLI_DEBUG"):
        raise exc
    if isinstance(exc, RecursionError):
        echo("gradcli: internal error: recursion too deep (a bug: please report this program)", err=True)
    else:
        echo(f"gradcli: internal error: {type(exc).__name__}: {exc} "
             "(a bug: please report it; GRADCLI_DEBUG=1 shows the traceback)", err=True)
    return int(ExitStatus.INTERNAL_ERROR)


def echo(text: str = "", err: bool = False, nl: bool = True) -> None:
    stream = sys.stderr if err else sys.stdout
    stream.write(text + ("\n" if nl else ""))
    stream.flush()


def run_eval(args: tuple[str, ...], *, program_file: Optional[str] = None, vars_files: tuple[str, ...] = (),
             output: Optional[str] = None, wrt: Optional[str] = None, check: tuple[str, ...] = (),
             rtol: Optional[float] = None, atol: Optional[float] = None, sympy_timeout: float = 10.0,
             fmt: str = "table", full: bool = False, digits: int = 10, show_nodes: Optional[bool] = None,
             seed_output: Optional[str] = None, mode: str = "reverse", seed_input: Optional[str] = None,
             steps: bool = False, paths: bool = False, edges: bool = False, exact: bool = False,
             latex: bool = False, points_file: Optional[str] = None) -> int:
    """``gradcli eval``: the exit status."""
    from ..run.evaluate import run, run_forward

    if points_file is not None:
        if check or mode != "reverse" or seed_output is not None or seed_input is not None:
            raise UsageError("--points runs plain reverse mode: leave out --check, --mode, --seed and --seed-output")
        if steps or paths or edges or exact or latex:
            raise UsageError("--points prints values and gradients only: leave out --steps, --paths, --edges, "
                             "--exact and --latex")
        return _batch(args, program_file, vars_files, output, wrt, points_file, fmt)
    ev = _prepare(args, program_file, vars_files, output, wrt)
    if seed_input is not None and mode != "forward":
        mode = "forward"  # --seed only makes sense for a tangent pass
    if mode == "forward":
        if seed_output is not None:
            raise UsageError("--seed-output is for reverse mode; forward mode seeds an input with --seed NAME")
        if seed_input is not None:
            ev.wrt = [seed_input] if seed_input in ev.inputs else ev.wrt
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
    if steps or paths or edges:
        if not ev.adjoints:
            raise UsageError("--steps, --paths and --edges explain reverse mode: they need a scalar output "
                             "(or --seed-output) and --mode reverse")
        for flag, key in ((steps, "steps"), (paths, "paths"), (edges, "edges")):
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
            if steps:
                from ..teach.explain import steps_latex

                ev.extras["latex_steps"] = steps_latex(ev, digits)
    _emit(ev, checks, fmt, show_nodes, full, digits)
    failed = any(c.failed for c in checks)
    return int(ExitStatus.CHECK_FAILED if failed else ExitStatus.OK)



def _grade_class(ev, answers: str, out_file: Optional[str], rtol: float, atol: float, as_json: bool) -> int:
    import csv
    import io

    from ..teach import homework

    header, rows = homework.read_answers(answers)
    id_column, columns, book = homework.grade(ev, header, rows, rtol, atol)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([id_column, *[f"{c}{suffix}" for c in columns for suffix in ("", " verdict")], "score"])
    for student, verdicts in book:
        cells = []
        for v in verdicts:
            cells += [v.answer, "right" if v.ok else (v.how or "wrong")]
        right = sum(1 for v in verdicts if v.ok)
        writer.writerow([student, *cells, f"{right}/{len(verdicts)}"])
    if out_file:
        try:
            with open(out_file, "w", encoding="utf-8", newline="") as fh:
                fh.write(buf.getvalue())
        except OSError as exc:
            raise UsageError(f"--out {out_file}: {exc.strerror or exc}") from None
    if as_json:
        import json

        doc = {
            "program": ev.source,
            "students": [
                {"id": student, "score": sum(1 for v in vs if v.ok), "of": len(vs),
                 "answers": {v.question: {"answer": v.answer, "ok": bool(v.ok), "note": v.how} for v in vs}}
                for student, vs in book
            ],
        }
        echo(json.dumps(doc, indent=2, ensure_ascii=False))
    elif not out_file:
        echo(buf.getvalue(), nl=False)
    if not as_json:
        from ..output.tables import Style, gradebook_summary

        console = _console(err=bool(not out_file))
        console.print(gradebook_summary(columns, book, Style(console.is_terminal), out_file))
    return int(ExitStatus.OK)


def _batch(args, program_file, vars_files, output, wrt, points_file: str, fmt: str) -> int:
    from ..run import batch
    from ..run import bindings as binding_mod

    if points_file == "-" and (program_file == "-" or (program_file is None and args and args[0] == "-")):
        raise UsageError("the program and --points cannot both come from stdin")
    source, binding_args = _program_and_bindings(args, program_file)
    fixed = binding_mod.collect(binding_args, vars_files)
    names, data = batch.read_points(points_file)
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
        result = batch.evaluate_points(source, names, data, fixed, output, wrt_names, progress)
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
        echo(f"gradcli: math error: {failed} of {n} rows are undefined (nan); first: {result.first_error}",
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


def _prepare(args, program_file, vars_files, output, wrt):
    from ..run import bindings as binding_mod
    from ..run.evaluate import prepare

    source, binding_args = _program_and_bindings(args, program_file)
    for a in binding_args:
        if a.startswith("--"):
            raise UsageError(_unknown_option(a))
    bound = binding_mod.collect(binding_args, vars_files)
    wrt_names = [w.strip() for w in wrt.split(",") if w.strip()] if wrt else None
    return prepare(source, bound, output, wrt_names)


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
    elif rest and rest[0].startswith("--") and rest[0] != "--":
        raise UsageError(_unknown_option(rest[0]))
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
    import os

    return int(os.environ.get("GRADCLI_MAX_PROGRAM_BYTES") or MAX_PROGRAM_BYTES)


def _check_size(where: str, size: int) -> None:
    """Refuse a program of `size` bytes over the limit, before any work is done on it."""
    limit = _size_limit()
    if size > limit:
        raise UsageError(
            f"{where} is {size / 1e6:.1f} MB; gradcli takes programs up to {limit / 1e6:.1f} MB "
            "(set GRADCLI_MAX_PROGRAM_BYTES to allow more, and expect about 1 KB of memory per node)"
        )


def _program_text(text: str, where: str) -> str:
    """`text`, unless it is over the size limit (UTF-8 bytes; at most 4 per character,
    so short texts are not encoded just to be measured)."""
    if len(text) * 4 > _size_limit():
        _check_size(where, len(text.encode("utf-8", "surrogatepass")))
    return text


def _read_program(path: str) -> str:
    try:
        if path == "-":
            stdin = sys.stdin
            data = stdin.buffer.read() if hasattr(stdin, "buffer") else stdin.read().encode("utf-8")
        else:
            import os

            if os.path.isfile(path):  # a file over the limit is not even read
                _check_size(path, os.path.getsize(path))
            with open(path, "rb") as fh:
                data = fh.read()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{'stdin' if path == '-' else path} is not UTF-8 text (byte {exc.start})") from None
    return _program_text(text.lstrip("\ufeff"), "stdin" if path == "-" else path)


def _emit_matrix(ev, matrix, fmt: str, full: bool, digits: int) -> None:
    if fmt == "json":
        from ..output.documents import dumps, matrix_json

        echo(dumps(matrix_json(ev, matrix)))
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


def _emit(ev, checks, fmt: str, show_nodes: Optional[bool], full: bool, digits: int) -> None:
    if fmt == "json":
        from ..output.documents import dumps, to_json

        echo(dumps(to_json(ev, checks, with_nodes=show_nodes is not False)))
    elif fmt in ("csv", "tsv"):
        from ..output.documents import csv_rows

        _write_csv(csv_rows(ev, checks), fmt)
    else:
        from ..output.tables import Style, evaluation

        console = _console()
        console.print(evaluation(ev, checks, Style(console.is_terminal, digits), show_nodes, full))


def _console(err: bool = False):
    import os

    from rich.console import Console

    out = sys.stderr if err else sys.stdout
    terminal = out.isatty()
    width = None if terminal else int(os.environ.get("COLUMNS", "0") or 0) or 120
    return Console(file=out, width=width, highlight=False, soft_wrap=False,
                   no_color=bool(os.environ.get("NO_COLOR")) or None, emoji=False)



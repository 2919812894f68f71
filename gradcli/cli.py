"""The command line: ``gradcli eval PROGRAM NAME=VALUE ...``.

This is the only module that prints or exits.  Every `GradcliError` becomes its
one-line message on stderr and its exit status (README, "Exit codes"); click's own
usage errors are shortened to one line too.  Heavy imports (rich, SymPy) happen
inside the branches that need them, so ``gradcli eval ... --json`` starts fast.
"""

from __future__ import annotations

import sys
from typing import Any, Optional, Sequence

import click

from . import __version__
from .errors import ExitStatus, GradcliError, UsageError

_PROTECT = "\x00gradcli-arg-"


class ProgramCommand(click.Command):
    """A command whose first argument is a program that may start with '-'.

    ``gradcli eval "-x^2" x=1`` must not read ``-x^2`` as options.  Arguments that
    start with '-' but cannot be an option (``-x^2``, ``-2*x``, ``-exp(x)``) are
    set aside before click parses and put back afterwards.
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        protected: dict[str, str] = {}
        new_args = []
        after_dashdash = False
        for a in args:
            if a == "--":
                after_dashdash = True
            if not after_dashdash and _looks_like_program(a, self):
                key = f"{_PROTECT}{len(protected)}"
                protected[key] = a
                a = key
            new_args.append(a)
        rest = super().parse_args(ctx, new_args)
        if protected and "args" in ctx.params:
            ctx.params["args"] = tuple(protected.get(a, a) for a in ctx.params["args"])
        return rest


def _looks_like_program(arg: str, command: click.Command) -> bool:
    if not arg.startswith("-") or arg == "-" or arg.startswith("--"):
        return False
    if len(arg) == 2 and arg[1].isalpha():
        known = {opt for p in command.params for opt in getattr(p, "opts", [])}
        return arg not in known  # "-x" is a program unless it is an option
    return not (arg[1].isalpha() and arg[2:].replace("_", "").replace(".", "").replace("/", "").isalnum())


class GradcliGroup(click.Group):
    """Maps errors to one line on stderr and the documented exit status."""

    def main(self, args: Optional[Sequence[str]] = None, prog_name: Optional[str] = None,
             complete_var: Optional[str] = None, standalone_mode: bool = True, **extra: Any) -> Any:
        try:
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except GradcliError as exc:
            click.echo(exc.render(), err=True)
            sys.exit(int(exc.exit_status))
        except click.exceptions.NoSuchOption as exc:
            hint = f" Did you mean {', '.join(exc.possibilities)}?" if exc.possibilities else ""
            _usage_exit(f"no such option: {exc.option_name}.{hint}", exc.ctx)
        except click.ClickException as exc:
            _usage_exit(exc.format_message(), getattr(exc, "ctx", None))
        except click.exceptions.Abort:
            click.echo("gradcli: aborted", err=True)
            sys.exit(130)
        except KeyboardInterrupt:
            click.echo("gradcli: interrupted", err=True)
            sys.exit(130)
        except RecursionError:
            click.echo("gradcli: internal error: recursion too deep (please report this program)", err=True)
            sys.exit(int(ExitStatus.INTERNAL_ERROR))
        except MemoryError:
            click.echo("gradcli: error: out of memory", err=True)
            sys.exit(int(ExitStatus.BAD_INPUT))
        except Exception as exc:  # a bug: say so in one line, traceback only on request
            import os

            if os.environ.get("GRADCLI_DEBUG"):
                raise
            click.echo(
                f"gradcli: internal error: {type(exc).__name__}: {exc} "
                "(a bug: please report it; GRADCLI_DEBUG=1 shows the traceback)",
                err=True,
            )
            sys.exit(int(ExitStatus.INTERNAL_ERROR))
        sys.exit(rv if isinstance(rv, int) else 0)


def _usage_exit(message: str, ctx: Optional[click.Context]) -> None:
    where = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
    message = message[0].lower() + message[1:] if message else message
    click.echo(f"gradcli: error: {message}{where}", err=True)
    sys.exit(int(ExitStatus.BAD_INPUT))


@click.group(cls=GradcliGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="gradcli")
def main() -> None:
    """gradcli: gradients of small programs by reverse-mode automatic differentiation.

    \b
    gradcli eval "(a+b)*(b+1)" a=3 b=2
    gradcli eval "c = a + b; d = b + 1; e = c * d" a=3 b=2 --check all
    """


def program_options(f):
    """The program and its inputs: PROGRAM NAME=VALUE..., -f, --vars, --output, --wrt."""
    for decorator in reversed([
        click.argument("args", nargs=-1),
        click.option("-f", "--file", "program_file", metavar="FILE",
                     help="Read the program from FILE ('-' for stdin); all arguments are then bindings."),
        click.option("--vars", "vars_files", metavar="FILE.json", multiple=True,
                     help="Input values from a JSON object; NAME=VALUE arguments override them."),
        click.option("--output", "output", metavar="NAME",
                     help="Differentiate this named step instead of the last statement."),
        click.option("--wrt", metavar="A,B", help="Only these inputs (comma-separated)."),
    ]):
        f = decorator(f)
    return f


def check_options(f):
    for decorator in reversed([
        click.option("--check", "check", type=click.Choice(["sympy", "fd", "all"]), multiple=True,
                     help="Check against SymPy, finite differences, or both (exit 1 on disagreement)."),
        click.option("--rtol", type=float, help="Relative tolerance of checks (defaults: sympy 1e-9, fd 1e-6)."),
        click.option("--atol", type=float, help="Absolute tolerance of checks (defaults: sympy 1e-12, fd 1e-8)."),
        click.option("--sympy-timeout", type=click.FloatRange(min=0.1), default=10.0, show_default=True,
                     metavar="SECONDS", help="Time budget of the SymPy check."),
    ]):
        f = decorator(f)
    return f


def output_options(formats: tuple[str, ...]):
    def apply(f):
        for decorator in reversed([
            click.option("--json", "as_json", is_flag=True, help="Same as --format json."),
            click.option("--format", "fmt", type=click.Choice(list(formats)), default=None,
                         help="Output format (default: table)."),
            click.option("--full", is_flag=True, help="Show whole arrays and every row."),
            click.option("--digits", type=click.IntRange(1, 17), default=10, show_default=True,
                         help="Significant digits in tables."),
        ]):
            f = decorator(f)
        return f

    return apply


_PROGRAM_COMMAND = dict(cls=ProgramCommand, context_settings={"ignore_unknown_options": True})


@main.command("eval", **_PROGRAM_COMMAND)  # type: ignore[arg-type]
@program_options
@check_options
@output_options(("table", "json", "csv", "tsv"))
@click.option("--nodes/--no-nodes", "show_nodes", default=None,
              help="Show every node (default: all up to 60, else head and tail), or none.")
@click.option("--seed-output", metavar="VALUE",
              help="Cotangent of a non-scalar output, e.g. [1,0,0]: gives a vector-Jacobian product.")
@click.option("--mode", type=click.Choice(["reverse", "forward"]), default="reverse", show_default=True,
              help="Reverse: one backward pass; forward: one tangent pass per input.")
@click.option("--seed", "seed_input", metavar="NAME",
              help="Forward mode: a single tangent pass started with 1 at input NAME.")
@click.option("--steps", is_flag=True, help="Explain the backward pass step by step.")
@click.option("--paths", is_flag=True, help="Explain each gradient as a sum over paths (small graphs).")
@click.option("--edges", is_flag=True, help="Show the local derivative on every edge.")
@click.option("--exact", is_flag=True,
              help="Also compute with exact numbers (rationals, surds, π) via SymPy: a=1/3 stays 1/3.")
@click.option("--latex", is_flag=True, help="Also print the derivatives as LaTeX.")
@click.option("--points", "points_file", metavar="FILE.csv",
              help="Evaluate at every row of a CSV (header: input names; '-' for stdin) in one vectorized "
                   "pass; prints a CSV (or JSON lines) of values and gradients.")
def eval_command(args: tuple[str, ...], program_file: Optional[str], vars_files: tuple[str, ...],
                 output: Optional[str], wrt: Optional[str], check: tuple[str, ...],
                 rtol: Optional[float], atol: Optional[float], sympy_timeout: float, as_json: bool,
                 fmt: Optional[str], full: bool, digits: int, show_nodes: Optional[bool],
                 seed_output: Optional[str], mode: str, seed_input: Optional[str],
                 steps: bool, paths: bool, edges: bool, exact: bool, latex: bool,
                 points_file: Optional[str]) -> int:
    """Evaluate PROGRAM at NAME=VALUE and backpropagate.

    PROGRAM is an expression such as "(a+b)*(b+1)" or statements such as
    "c = a + b; d = b + 1; e = c * d" ('-' reads it from stdin).  Prints every
    node's value and adjoint and every input's gradient.
    """
    from .evaluate import run, run_forward

    fmt = _format(as_json, fmt)
    if points_file is not None:
        if check or mode != "reverse" or seed_output is not None:
            raise UsageError("--points runs plain reverse mode: leave out --check, --mode and --seed-output")
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
            from .bindings import constant_value

            seed = constant_value(seed_output, "--seed-output")
        run(ev, seed)
    _warn(ev.warnings)
    checks = []
    if ev.adjoints or ev.mode == "forward":
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
        from .exact import run_exact, run_latex

        if exact:
            ev.extras["exact"] = run_exact(ev, sympy_timeout)
        if latex:
            ev.extras["latex"] = run_latex(ev, sympy_timeout)
            if steps:
                from .explain import steps_latex

                ev.extras["latex"]["steps"] = steps_latex(ev, digits)  # type: ignore[index]
    _emit(ev, checks, fmt, show_nodes, full, digits)
    failed = any(c.failed for c in checks)
    return int(ExitStatus.CHECK_FAILED if failed else ExitStatus.OK)


@main.command("jacobian", **_PROGRAM_COMMAND)  # type: ignore[arg-type]
@program_options
@check_options
@output_options(("table", "json", "csv", "tsv"))
@click.option("--mode", type=click.Choice(["reverse", "forward", "both"]), default="reverse", show_default=True,
              help="Reverse: one backward pass per output element; forward: one tangent pass per input "
                   "element; both: compute both and compare.")
def jacobian_command(args: tuple[str, ...], program_file: Optional[str], vars_files: tuple[str, ...],
                     output: Optional[str], wrt: Optional[str], check: tuple[str, ...],
                     rtol: Optional[float], atol: Optional[float], sympy_timeout: float, as_json: bool,
                     fmt: Optional[str], full: bool, digits: int, mode: str) -> int:
    """The Jacobian of PROGRAM's output with respect to its inputs.

    Rows are output elements (y[0], y[1], ...), columns input elements (x[0], W[0,1],
    ...), inputs in --wrt order, each flattened row-major.
    """
    from .derivatives import jacobian
    from .evaluate import run

    fmt = _format(as_json, fmt)
    ev = _prepare(args, program_file, vars_files, output, wrt)
    run(ev)
    _warn(ev.warnings)
    matrix = jacobian(ev, "reverse" if mode == "both" else mode)
    if mode == "both":
        import numpy as np

        other = jacobian(ev, "forward")
        gap = float(np.max(np.abs(matrix.data - other.data))) if matrix.data.size else 0.0
        matrix.notes.append(
            f"reverse mode: {matrix.passes} backward pass(es); forward mode: {other.passes} tangent pass(es); "
            f"largest difference {gap:.3g}"
        )
        matrix.mode = "both"
        matrix.agreement = gap  # type: ignore[attr-defined]
    return _finish_matrix(ev, matrix, check, rtol, atol, sympy_timeout, fmt, full, digits)


@main.command("hessian", **_PROGRAM_COMMAND)  # type: ignore[arg-type]
@program_options
@check_options
@output_options(("table", "json", "csv", "tsv"))
def hessian_command(args: tuple[str, ...], program_file: Optional[str], vars_files: tuple[str, ...],
                    output: Optional[str], wrt: Optional[str], check: tuple[str, ...],
                    rtol: Optional[float], atol: Optional[float], sympy_timeout: float, as_json: bool,
                    fmt: Optional[str], full: bool, digits: int) -> int:
    """Second derivatives of PROGRAM's scalar output (forward-over-reverse).

    Computed by differentiating the gradient with dual numbers, not by finite
    differences; symmetric to rounding.
    """
    from .derivatives import hessian
    from .evaluate import run

    fmt = _format(as_json, fmt)
    ev = _prepare(args, program_file, vars_files, output, wrt)
    if ev.graph.nodes[ev.graph.output].shape != ():
        shape = ev.graph.nodes[ev.graph.output].shape
        raise UsageError(f"the Hessian needs a scalar output; {ev.output_name} has shape {shape}")
    run(ev)
    _warn(ev.warnings)
    matrix = hessian(ev)
    return _finish_matrix(ev, matrix, check, rtol, atol, sympy_timeout, fmt, full, digits)


@main.command("check", **_PROGRAM_COMMAND)  # type: ignore[arg-type]
@program_options
@click.option("--expect", "expects", metavar="NAME=VALUE", multiple=True,
              help="A student's ∂out/∂NAME (a number, a constant expression such as 1/3, or an array).")
@click.option("--expect-value", metavar="VALUE", help="A student's value of the output.")
@click.option("--expect-formula", "formulas", metavar="NAME=EXPR", multiple=True,
              help="A student's formula for ∂out/∂NAME, judged equivalent with SymPy.")
@click.option("--answers", metavar="FILE.csv",
              help="A class's answers: an id column, then columns NAME or d/dNAME (gradients) or value.")
@click.option("--out", "out_file", metavar="FILE.csv", help="With --answers: write the gradebook here.")
@click.option("--reveal", is_flag=True, help="Show the right answers.")
@click.option("--rtol", type=float, default=None, help="Relative tolerance for numbers (default 1e-4).")
@click.option("--atol", type=float, default=None, help="Absolute tolerance for numbers (default 1e-8).")
@click.option("--sympy-timeout", type=click.FloatRange(min=0.1), default=10.0, show_default=True,
              metavar="SECONDS", help="Time budget for judging formulas.")
@click.option("--json", "as_json", is_flag=True, help="Verdicts as JSON.")
def check_command(args: tuple[str, ...], program_file: Optional[str], vars_files: tuple[str, ...],
                  output: Optional[str], wrt: Optional[str], expects: tuple[str, ...],
                  expect_value: Optional[str], formulas: tuple[str, ...], answers: Optional[str],
                  out_file: Optional[str], reveal: bool, rtol: Optional[float], atol: Optional[float],
                  sympy_timeout: float, as_json: bool) -> int:
    """Check a student's answers for PROGRAM at NAME=VALUE.

    \b
    gradcli check "(a+b)*(b+1)" a=3 b=2 --expect a=3 --expect b=8
    gradcli check "x*exp(x^2)" x=0.5 --expect-formula "x=exp(x^2)*(1+2*x^2)"
    gradcli check -f hw3.grad x=1 --answers answers.csv --out grades.csv

    Exit 0 when every answer is right, 1 otherwise.
    """
    from . import homework
    from .bindings import constant_value
    from .evaluate import run

    ev = _prepare(args, program_file, vars_files, output, wrt)
    run(ev)
    _warn(ev.warnings)
    rtol = homework.DEFAULT_RTOL if rtol is None else rtol
    atol = homework.DEFAULT_ATOL if atol is None else atol
    if answers is not None:
        if expects or formulas or expect_value is not None:
            raise UsageError("--answers grades a whole class: leave out --expect, --expect-value and --expect-formula")
        return _grade_class(ev, answers, out_file, rtol, atol, as_json)
    if not (expects or formulas or expect_value is not None):
        raise UsageError("nothing to check: give --expect NAME=VALUE, --expect-value, --expect-formula or --answers")
    expected = {}
    for item in expects:
        name, eq, text = item.partition("=")
        if not eq or not name.strip():
            raise UsageError(f"--expect {item!r}: write NAME=VALUE, e.g. --expect b=8")
        expected[name.strip()] = constant_value(text, f"--expect {name.strip()}")
    value = None if expect_value is None else constant_value(expect_value, "--expect-value")
    parsed_formulas = {}
    for item in formulas:
        name, eq, text = item.partition("=")
        if not eq or not name.strip() or not text.strip():
            raise UsageError(f"--expect-formula {item!r}: write NAME=EXPRESSION, e.g. x=2*x")
        parsed_formulas[name.strip()] = text.strip()
    verdicts = homework.judge_numbers(ev, expected, value, rtol, atol)
    verdicts += homework.judge_formulas(ev, parsed_formulas, sympy_timeout)
    if as_json:
        from .report import dumps, verdicts_json

        click.echo(dumps(verdicts_json(ev, verdicts, reveal, rtol, atol)))
    else:
        from .render import Style, verdict_view

        console = _console()
        console.print(verdict_view(ev, verdicts, Style(console.is_terminal), reveal, rtol, atol))
    return int(ExitStatus.OK if all(v.ok for v in verdicts) else ExitStatus.CHECK_FAILED)


def _grade_class(ev, answers: str, out_file: Optional[str], rtol: float, atol: float, as_json: bool) -> int:
    import csv
    import io

    from . import homework

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
        click.echo(json.dumps(doc, indent=2, ensure_ascii=False))
    elif not out_file:
        click.echo(buf.getvalue(), nl=False)
    if not as_json:
        from .render import Style, gradebook_summary

        console = _console(err=bool(not out_file))
        console.print(gradebook_summary(columns, book, Style(console.is_terminal), out_file))
    return int(ExitStatus.OK)


def _batch(args, program_file, vars_files, output, wrt, points_file: str, fmt: str) -> int:
    from . import batch
    from . import bindings as binding_mod

    source, binding_args = _program_and_bindings(args, program_file)
    if program_file is None and source == "-" or (points_file == "-" and (program_file == "-" or source == "-")):
        raise UsageError("the program and --points cannot both come from stdin")
    fixed = binding_mod.collect(binding_args, vars_files)
    names, data = batch.read_points(points_file)
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
    out = click.get_text_stream("stdout") if False else sys.stdout
    if fmt == "json":
        batch.write_json_lines(result, out)
    elif fmt in ("csv", "tsv"):
        batch.write_csv(result, out, fmt)
    else:
        batch.write_csv(result, out, "csv")
    failed = int(result.failed.sum())
    if failed:
        click.echo(f"gradcli: math error: {failed} of {n} rows are undefined (nan); first: {result.first_error}",
                   err=True)
        return int(ExitStatus.MATH_ERROR)
    return int(ExitStatus.OK)


@main.command("graph", **_PROGRAM_COMMAND)  # type: ignore[arg-type]
@program_options
@click.option("--format", "fmt", type=click.Choice(["text", "dot", "mermaid", "svg", "png"]), default="text",
              show_default=True, help="text draws in the terminal; dot and mermaid are text for Graphviz and "
                                       "Markdown; svg and png need Graphviz's dot program.")
@click.option("-o", "--out", "out_file", metavar="FILE", help="Write the picture to FILE.")
@click.option("--seed-output", metavar="VALUE", help="Cotangent of a non-scalar output (for the adjoints).")
@click.option("--digits", type=click.IntRange(1, 17), default=6, show_default=True,
              help="Significant digits in the picture.")
def graph_command(args: tuple[str, ...], program_file: Optional[str], vars_files: tuple[str, ...],
                  output: Optional[str], wrt: Optional[str], fmt: str, out_file: Optional[str],
                  seed_output: Optional[str], digits: int) -> int:
    """Draw PROGRAM's DAG like the lecture slides: values, adjoints, local derivatives.

    \b
    gradcli graph "(a+b)*(b+1)" a=3 b=2
    gradcli graph "(a+b)*(b+1)" a=3 b=2 --format dot -o lecture.dot
    gradcli graph "(a+b)*(b+1)" a=3 b=2 --format svg -o lecture.svg
    """
    from .evaluate import run
    from .pictures import render

    ev = _prepare(args, program_file, vars_files, output, wrt)
    seed = None
    if seed_output is not None:
        from .bindings import constant_value

        seed = constant_value(seed_output, "--seed-output")
    run(ev, seed)
    _warn(ev.warnings)
    picture = render(ev, fmt, digits)
    if out_file is not None:
        try:
            if isinstance(picture, bytes):
                with open(out_file, "wb") as fh:
                    fh.write(picture)
            else:
                with open(out_file, "w", encoding="utf-8") as fh:
                    fh.write(picture if picture.endswith("\n") else picture + "\n")
        except OSError as exc:
            raise UsageError(f"-o {out_file}: {exc.strerror or exc}") from None
        click.echo(f"gradcli: wrote {fmt} picture to {out_file}", err=True)
    elif isinstance(picture, bytes):
        if sys.stdout.isatty():
            raise UsageError("a PNG is binary: write it to a file with -o FILE.png")
        sys.stdout.buffer.write(picture)
        sys.stdout.flush()
    else:
        click.echo(picture.rstrip("\n"))
    return int(ExitStatus.OK)


def _finish_matrix(ev, matrix, check, rtol, atol, sympy_timeout, fmt, full, digits) -> int:
    from .matrix_checks import check_matrix

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
    from . import bindings as binding_mod
    from .evaluate import prepare

    source, binding_args = _program_and_bindings(args, program_file)
    for a in binding_args:
        if a.startswith("--"):
            raise UsageError(_unknown_option(a))
    bound = binding_mod.collect(binding_args, vars_files)
    wrt_names = [w.strip() for w in wrt.split(",") if w.strip()] if wrt else None
    return prepare(source, bound, output, wrt_names)


def _warn(warnings: list[str]) -> None:
    for warning in warnings:
        click.echo(f"gradcli: warning: {warning}", err=True)


def _check_kinds(check: tuple[str, ...]) -> set[str]:
    return {"sympy", "fd"} if "all" in check else set(check)


def _gradient_checks(ev, check, rtol, atol, sympy_timeout) -> list:
    checks = []
    kinds = _check_kinds(check)
    if "sympy" in kinds:
        from .symbolic import sympy_check

        checks.append(sympy_check(ev, rtol, atol, sympy_timeout))
    if "fd" in kinds:
        from .checks import finite_differences

        checks.append(finite_differences(ev, rtol, atol))
    return checks


def _unknown_option(arg: str) -> str:
    """'no such option' with a suggestion, or the reason an option was not read."""
    import difflib

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
    if rest and rest[0].startswith("--") and rest[0] != "--":
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
    return first, rest


def _read_program(path: str) -> str:
    try:
        if path == "-":
            stdin = sys.stdin
            data = stdin.buffer.read() if hasattr(stdin, "buffer") else stdin.read().encode("utf-8")
        else:
            with open(path, "rb") as fh:
                data = fh.read()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{'stdin' if path == '-' else path} is not UTF-8 text (byte {exc.start})") from None
    return text.lstrip("\ufeff")


def _emit_matrix(ev, matrix, fmt: str, full: bool, digits: int) -> None:
    if fmt == "json":
        from .report import dumps, matrix_json

        click.echo(dumps(matrix_json(ev, matrix)))
    elif fmt in ("csv", "tsv"):
        _write_csv(_matrix_rows(matrix), fmt)
    else:
        from .render import Style, matrix_view

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
    click.echo(buf.getvalue(), nl=False)


def _emit(ev, checks, fmt: str, show_nodes: Optional[bool], full: bool, digits: int) -> None:
    if fmt == "json":
        from .report import dumps, to_json

        click.echo(dumps(to_json(ev, checks)))
    elif fmt in ("csv", "tsv"):
        from .report import csv_rows

        _write_csv(csv_rows(ev, checks), fmt)
    else:
        from .render import Style, evaluation

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


def run_cli() -> None:
    """Console-script entry point."""
    import gc

    gc.disable()  # a short-lived process building large acyclic graphs: GC only costs time
    main()
